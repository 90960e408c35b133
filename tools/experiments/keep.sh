#!/bin/bash
# Keeps an experiment's outputs in the repository, so that a table that takes longer than one machine's
# life (the schedules and fashion-mnist tables: many hours on 2 cores) is continued elsewhere instead
# of started again, and so that every number in the README can be re-derived from the runs behind it.
#
#   bash tools/experiments/keep.sh save sched       # runs/sched → results/sched (then git add results/sched)
#   bash tools/experiments/keep.sh restore sched    # results/sched → runs/sched (then run the script again)
#
# What is kept: the run directories (config or scheduler.json, checkpoint.json, metrics.jsonl, the levels,
# schedules and profiles), their .done markers, optimised schedules with their reports, grid results and
# the tables' evaluation caches (results-table.ts: one JSON per evaluation, keyed by what determines its
# numbers, so a restored table evaluates only what it lacks). What is not: logs, sample pictures and
# development sets (samples/, dev/), which a run writes again at its next evaluation, and locks.
# Stop the experiment first: a run saved while it trains may be caught between its metrics line and its
# checkpoint, which a resume mends (runs/files.ts, [Note: resume truncation]), but not in the middle of a
# line. So save refuses while a run's training lock (train.lock, runs/lock.ts) names a live process on
# this machine, and names the runs; a lock left by a process that is gone is stale and does not stop it.
# save copies over what results/NAME has and removes nothing from it.
set -euo pipefail
cd "$(dirname "$0")/../.."
usage() { echo "usage: bash tools/experiments/keep.sh save|restore NAME (a folder of runs/)" >&2; exit 2; }
[ $# -eq 2 ] || usage
name=$2
[[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "keep.sh: '$name' is not a folder name of runs/ (letters, digits, . _ -)" >&2; exit 2; }
case $1 in
  save) from=runs/$name to=results/$name ;;
  restore) from=results/$name to=runs/$name ;;
  *) usage ;;
esac
[ -d "$from" ] || { echo "keep.sh: $from does not exist: nothing to $1" >&2; exit 1; }
if [ "$1" = save ]; then
  busy=()
  while IFS= read -r -d '' lock; do
    pid=$(sed -n 's/.*"pid": *\([0-9][0-9]*\).*/\1/p' "$lock" | head -1)
    host=$(sed -n 's/.*"host": *"\([^"]*\)".*/\1/p' "$lock" | head -1)
    if [ -n "$pid" ] && [ "$host" = "$(hostname)" ] && kill -0 "$pid" 2>/dev/null; then
      busy+=("$(dirname "$lock") (process $pid)")
    fi
  done < <(find "$from" -name train.lock -print0)
  if [ ${#busy[@]} -gt 0 ]; then
    echo "keep.sh: these runs are training: ${busy[*]}; stop the experiment first (Ctrl-C, or kill -TERM -- -PGID of its script: each run stops after its current step and keeps its checkpoint) and save again" >&2
    exit 1
  fi
fi
mkdir -p "$to"
# tar keeps the tree and the excludes in one pass; files already there are overwritten, none removed.
tar -C "$from" -cf - --exclude='*.log' --exclude='samples' --exclude='dev' --exclude='train.lock' \
  --exclude='.lock' --exclude='.claims' --exclude='.failed' --exclude='*.tmp' . | tar -C "$to" -xf -
echo "$from → $to: $(find "$to" -type f | wc -l) files, $(du -sh "$to" | cut -f1)"
