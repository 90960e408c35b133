// The Runs screen's pure parts (tested without a browser): a run's state as the list knows it, a
// run opened from disk, and the table's sort orders.

import type { Methods, RunSummary } from '../../../shared/protocol';
import { evalRunKey, HEADLINE_METRIC } from '../../../shared/metrics';
import type { OpenedRun, RunStatus } from '../hooks/useRunEvents';

/** The table's last-evaluation column: the headline metric as a run writes it. */
export const HEADLINE = evalRunKey(HEADLINE_METRIC);

/** What the list knows of a run's state: training here, or ended at its target (finished) or before it (stopped). */
export function listedStatus(r: RunSummary): RunStatus {
  // Its kept lifecycle when the app trained it (a 'started' with nothing training it: the engine
  // went away mid-run, so it stopped); else finished at its target, stopped before it.
  const kept = r.lastState === 'started' ? 'stopped' : r.lastState;
  return {
    state: r.active ? 'started' : (kept ?? (r.iteration >= r.iterations ? 'finished' : 'stopped')),
    iteration: r.iteration,
    iterations: r.iterations,
    ...(r.reason !== null && !r.active ? { reason: r.reason } : {}),
  };
}

/** A run opened from disk (runs.open): its history, where it stands, its evaluations and last profile. */
export function openedRunFrom(dir: string, r: Methods['runs.open']['result']): OpenedRun {
  return {
    dir,
    kind: r.summary.kind,
    history: r.metrics,
    status: listedStatus(r.summary),
    evaluations: r.evaluations,
    profile: r.profile ? { type: 'profile', run: dir, ...r.profile } : null,
    levels: r.levels ? { type: 'levels', run: dir, ...r.levels } : null,
  };
}

/** The columns the table sorts by, and how each compares two runs. */
const SORTS = {
  run: (r: RunSummary) => r.dir.split(/[\\/]/).pop()!,
  model: (r: RunSummary) => r.model,
  status: (r: RunSummary) => listedStatus(r).state,
  started: (r: RunSummary) => r.started,
  duration: (r: RunSummary) => r.seconds,
  iteration: (r: RunSummary) => r.iteration,
  fid: (r: RunSummary) => r.last?.[HEADLINE] ?? Infinity,
} as const;
export type RunSort = keyof typeof SORTS;

/** The runs ordered by a column (ties by name), descending when asked. */
export function sortRuns(runs: RunSummary[], by: RunSort, descending: boolean): RunSummary[] {
  const key = SORTS[by];
  const name = SORTS.run;
  return [...runs].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    const c = x < y ? -1 : x > y ? 1 : name(a).localeCompare(name(b));
    return descending ? -c : c;
  });
}
