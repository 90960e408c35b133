#!/bin/bash
# The schedules table (issue 16): for each model, sampler and budget — Euler at NFE 5 and 10, Heun at
# NFE 9 and 19 (5 and 10 levels) — the five presets, the schedule optimize-schedule finds, and the RL
# step scheduler (training seeds 1, 2, 3: its deterministic policy and its mean schedule; with the
# paper's Pearson reward and with the occupancy reward, KL, chosen on seed 0 at Heun NFE 9), every row
# on the same 10,000 samples (seed 7; FID against the model's reference, precision, recall, NFE).
# The search uses seeds 0 (its rows) and 1 (its held-out FID); the scheduler evaluates on seed
# 1000003 while training; neither sees the table's seed. Resumable: what is done is kept, a run
# killed mid-way continues from its checkpoint, and the table continues from its cache.
#
#   bash tools/experiments/schedules-table.sh                 # both models, into runs/sched
#   MODELS=gmm-ring8-exact bash tools/experiments/schedules-table.sh
#   STAGES="optimize rl" …                                     # some stages only (optimize, rl, table)
#
# On a new machine, `bash tools/experiments/keep.sh restore sched` first brings back the runs, schedules
# and table evaluations kept in results/sched (keep.sh save sched, then commit, keeps them), so the
# script continues where the last machine stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=runs/sched
ITER=${ITER:-100}
mkdir -p "$OUT"
cli() { npx tsx src/cli/index.ts "$@"; }
has() { [[ " ${STAGES:-optimize rl table} " == *" $1 "* ]]; }
for m in ${MODELS:-gmm-ring8-exact fashion-mnist}; do
  for b in euler:5 euler:10 heun:9 heun:19; do
    s=${b%%:*} nfe=${b##*:} f="$OUT/$m-$s-nfe$nfe.json"
    if has optimize && [ ! -f "$f" ]; then
      cli optimize-schedule --model "$m" --sampler "$s" --nfe "$nfe" --out "$f" > "$f.log" 2>&1
    fi
    if has rl; then
      for reward in ${REWARDS:-pearson occupancy}; do
        for seed in 1 2 3; do
          d="$OUT/rl-$([ "$reward" = occupancy ] && echo occ- || true)$m-$s-nfe$nfe-s$seed"
          [ -e "$d.done" ] && continue
          if [ -f "$d/checkpoint.json" ]; then
            cli train --resume "$d" --iterations "$ITER" --json >> "$d.log" 2>&1
          else
            rm -rf "$d"
            cli train --intervention schedule --model "$m" --sampler "$s" --nfe-budget "$nfe" --seed "$seed" \
              --reward "$reward" --iterations "$ITER" --json --run-dir "$d" > "$d.log" 2>&1
          fi
          touch "$d.done"
        done
      done
    fi
  done
  if has table; then cli table --spec "tools/experiments/schedules-$m.json" --out "$OUT/table-$m" > "$OUT/table-$m.log" 2>&1; fi
done
