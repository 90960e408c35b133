#!/bin/bash
# The fashion-mnist results table (issue 14; the paper's Table 2 analogue), end to end and resumable:
# every step skips what is already done, so re-running after a kill continues it.
#
#   bash tools/experiments/fashion-mnist-table.sh [OUT=runs/fm]
#
# Selection (grids, settings) uses seed 8; training seeds 1, 2, 3; the table samples 10,000 images on
# seed 7 for every row (FID against the 10,000 test images through the bundled feature extractor).
# Cost on the project's 2-core CPU: a training run ≈ 2 h (ITER iterations × 256 trajectories), a
# table row ≈ 20 min; all of it ≈ 45 h — run it on a GPU machine or over several sessions.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/fm}
ITER=${ITER:-100}
mkdir -p "$OUT"
cli() { npx tsx src/cli/index.ts "$@"; }
M=(--model fashion-mnist)

# 1. Baselines chosen on seed 8 (n = 2,000): constant w (step 0.125), guidance interval, churn.
cli grid "${M[@]}" --axis guidance=1:2.5:0.125 --n 2000 --seed 8 --out "$OUT/grid-w"
cli grid "${M[@]}" --axis guidance=1.5,2,2.5,3 --axis guidance-sigma-lo=0,0.28,1 \
  --axis guidance-sigma-hi=2.9,5.4,inf --n 2000 --seed 8 --out "$OUT/grid-interval"
cli grid "${M[@]}" --sampler edm --axis churn=0,2,5,10,20,40,80 --n 2000 --seed 8 --out "$OUT/grid-churn"

# 2. Policies, three training seeds each. CFG over a fine action set around the best constant.
ACT=1,1.125,1.25,1.375,1.5,1.625,1.75,2,2.5
COMMON=(--trajectories 256 --rollout-batch 256 --iterations "$ITER" --eval-every 10 --json)
train() { # NAME SEED FLAGS...
  local d="$OUT/$1-s$2"; shift 2
  [ -f "$d/checkpoint.json" ] && return 0
  cli train "${M[@]}" "$@" "${COMMON[@]}" --run-dir "$d" 2> "$d.log"
}
for s in 1 2 3; do
  for div in kl rkl; do
    train cfg-$div-state $s --intervention cfg --divergence $div --conditioning state \
      --actions $ACT --init-from-grid "$OUT/grid-w" --seed $s
    train cfg-$div-sigma $s --intervention cfg --divergence $div --conditioning sigma \
      --actions $ACT --init-from-grid "$OUT/grid-w" --seed $s
  done
  train gamma-kl $s --intervention gamma --divergence kl --conditioning state --seed $s
  train renoise-kl $s --intervention renoise --divergence kl --conditioning state --seed $s
done

# 3. Recipes of the cfg and γ policies (RUN/recipe.json, read by the table's recipe rows).
for d in "$OUT"/cfg-*-s[123] "$OUT"/gamma-*-s[123]; do
  [ -f "$d/recipe.json" ] || cli export --run "$d" --recipe
done

# 4. The table.
cli table --spec tools/experiments/fashion-mnist-table.json --out "$OUT/table"
