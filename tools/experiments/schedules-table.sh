#!/bin/bash
# The schedules table (issue 16): for each model, sampler and budget — Euler at NFE 5 and 10, Heun at
# NFE 9 and 19 (5 and 10 levels) — the five presets and the schedule optimize-schedule finds, every
# row on the same 10,000 samples (seed 7; FID against the model's reference, precision, recall, NFE).
# The search uses seeds 0 (its rows) and 1 (its held-out FID), never the table's. Resumable: a
# schedule already found is kept, and the table continues from its cache.
#
#   bash tools/experiments/schedules-table.sh                 # both models, into runs/sched
#   MODELS=gmm-ring8-exact bash tools/experiments/schedules-table.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=runs/sched
mkdir -p "$OUT"
cli() { npx tsx src/cli/index.ts "$@"; }
for m in ${MODELS:-gmm-ring8-exact fashion-mnist}; do
  for b in euler:5 euler:10 heun:9 heun:19; do
    s=${b%%:*} nfe=${b##*:} f="$OUT/$m-$s-nfe$nfe.json"
    [ -f "$f" ] || cli optimize-schedule --model "$m" --sampler "$s" --nfe "$nfe" --out "$f" > "$f.log" 2>&1
  done
  cli table --spec "tools/experiments/schedules-$m.json" --out "$OUT/table-$m" > "$OUT/table-$m.log" 2>&1
done
