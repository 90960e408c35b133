#!/bin/bash
# Issue 17's acceptance on fashion-mnist, end to end and resumable: CFG policies trained for explicit
# rewards — JPEG compressibility (-jpeg-size), incompressibility (jpeg-size) and a class mix
# (class-mix:tools/experiments/class-mix-target.json: five classes at 18%, five at 2%) — each on one
# core, then each compared with the plain sampler (Heun 18, w = 1: the same NFE) on 1,000 samples of
# seed 7: its reward, FID / precision / recall and, for the mix, the class histogram's TV to the target.
#
#   bash tools/experiments/reward-acceptance.sh            # writes runs/rewards
#   OUT=/elsewhere ITER=60 bash tools/experiments/reward-acceptance.sh
#   SEED=2 OUT=runs/rewards-s2 bash tools/experiments/reward-acceptance.sh   # another training seed
#
# The settings below were chosen on training seed 1; seeds 2 and 3 are the held-out training seeds the
# README reports (mean ± sd). The evaluation seed (7) is the same for every run and for the plain sampler.
#
# The policy sees the sample, σ and the class (state+class): the class decides how guidance moves a
# JPEG's size (fashion-mnist at w = 1 → 8: trousers, dresses, sandals and sneakers get smaller, the
# others larger) and which classes a mix needs more of. The initial policy puts half its mass on
# w = 1 (the plain sampler). JPEG: w ∈ {0, 0.5, 1, 2, 4, 6, 8}, w = 0 the unconditional model. The
# mix: w ∈ {−2, −1, 0, 1, 2, 4}: negative guidance steers a sample away from its label's class (at
# w = −1, 0.8% of 256 samples kept their label's class; at w = 0, 12.5%; at w = 1, 89%), the lever a
# mix needs to make fewer of a class than the labels ask for. Compressibility: lr 1e-3 and no
# entropy bonus (with the image defaults, 3e-4 and 0.01, 25 iterations moved nothing).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/rewards}
ITER=${ITER:-60}
SEED=${SEED:-1}
export SAMPLER_STUDIO_THREADS=${SAMPLER_STUDIO_THREADS:-1}
mkdir -p "$OUT"
cli() { npx tsx src/cli/index.ts "$@"; }
CFG=(--model fashion-mnist --intervention cfg --objective reward --conditioning state+class --init-mass 0.5
  --trajectories 256 --rollout-batch 256 --eval-every 10 --eval-samples-periodic 256 --eval-samples 1000 --seed "$SEED")
JPEG=(--actions 0,0.5,1,2,4,6,8 --init-action 2)
MIX=(--actions -2,-1,0,1,2,4 --init-action 3)
train() { # NAME REWARD FLAGS...
  local d="$OUT/$1" r=$2
  shift 2
  [ -e "$d.done" ] && return 0
  if [ -f "$d/checkpoint.json" ]; then cli train --resume "$d" --iterations "$ITER" --json >> "$d.log" 2>&1 || return 1
  else rm -rf "$d"; cli train "${CFG[@]}" "$@" --reward "$r" --iterations "$ITER" --run-dir "$d" --json > "$d.log" 2>&1 || return 1; fi
  touch "$d.done"
}
compare() { # NAME [EVAL FLAGS]
  local d="$OUT/$1"; shift
  [ -s "$d.eval.json" ] && return 0
  cli eval --policy "$d" --n 1000 --seed 7 "$@" --json > "$d.eval.tmp" 2> "$d.eval.log" && tail -1 "$d.eval.tmp" > "$d.eval.json"
  rm -f "$d.eval.tmp"
}
T=tools/experiments/class-mix-target.json
train jpeg-compress -jpeg-size "${JPEG[@]}" --lr-policy 1e-3 --entropy-coef 0 && compare jpeg-compress
train jpeg-incompress jpeg-size "${JPEG[@]}" && compare jpeg-incompress
train class-mix "class-mix:$T" "${MIX[@]}" && compare class-mix --metrics fid,precision,recall,classes --class-target "$T"
