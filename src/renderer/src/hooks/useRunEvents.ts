// The events of the run on screen, collected in the app (so leaving Train loses nothing): its
// metrics lines (on top of the history read from disk), the latest profile (a step scheduler's: its
// σ by step), the sample pictures,
// its log lines and lifecycle, and where it stands. Batched by useEventBacklog (~10 Hz), so
// thousands of iterations never stall the page.
//
// [Note: a run's state comes from its run events]
// Whether a run is training, paused, finished, stopped or failed is the `state` of its last `run`
// event (shared/events.ts), never read from a log line. A run event can precede what opened the run
// here (train.start and train.resume answer after their `started` event is sent), so whoever opens a
// run says what it knew at that moment (`OpenedRun.status`: started after a start or resume; from
// the run summary when opened from disk), and the run's events take over from there.

import { useCallback, useMemo, useState } from 'react';
import {
  isTerminal,
  type EngineEvent,
  type LevelsEvent,
  type LogEvent,
  type MetricsEvent,
  type ProfileEvent,
  type ProgressEvent,
  type RunEvent,
  type SamplesEvent,
} from '../../../shared/events';
import type { EngineClient } from '../engine/client';
import type { RunKind } from '../../../shared/protocol';
import { useEventBacklog } from './useEventBacklog';

/** Where a run stands: a run event without its envelope. */
export type RunStatus = Omit<RunEvent, 'type' | 'run'>;

/** A run put on screen: its directory, the metrics lines it had on disk, and what was known of its state. */
export interface OpenedRun {
  dir: string;
  /** learner (the default): the inverse-RL learner's run; scheduler: the RL step scheduler's. */
  kind?: RunKind;
  history: Record<string, number>[];
  status: RunStatus;
  /** Iterations of the evaluations it had on disk (their pictures are fetched when shown). */
  evaluations?: number[];
  /** Its last evaluation's profile on disk. */
  profile?: ProfileEvent | null;
  /** Lines its journal starts with (how it was set up, e.g. its start from a grid). */
  journal?: LogEvent[];
  /** A scheduler run's last evaluation's levels on disk. */
  levels?: LevelsEvent | null;
}

export interface RunView {
  kind: RunKind;
  metrics: MetricsEvent[];
  /** The latest evaluation's profile. */
  profile: ProfileEvent | null;
  /** A scheduler run's latest σ by step (levels events). */
  levels: LevelsEvent | null;
  /** The sample pictures that arrived as events (those on disk are fetched by iteration). */
  samples: SamplesEvent[];
  /** Iterations of every evaluation, on disk or arrived, in order. */
  evaluations: number[];
  /** Its log lines and lifecycle changes, in arrival order. */
  journal: (LogEvent | RunEvent)[];
  status: RunStatus;
  /** Its latest progress (iteration, elapsed, ETA and the phase under way), while it trains here. */
  progress: ProgressEvent | null;
}

type RunScoped = MetricsEvent | ProfileEvent | SamplesEvent | LevelsEvent | LogEvent | RunEvent | ProgressEvent;

const NOTHING: RunView = {
  kind: 'learner',
  metrics: [],
  profile: null,
  levels: null,
  samples: [],
  evaluations: [],
  journal: [],
  status: { state: 'finished', iteration: 0, iterations: 0 },
  progress: null,
};

function opening(run: OpenedRun | null): RunView {
  if (!run) return NOTHING;
  const metrics: MetricsEvent[] = run.history
    .filter((m) => Number.isFinite(m['iteration']))
    .map((m) => ({ type: 'metrics', run: run.dir, iteration: m['iteration']!, metrics: m }));
  return {
    kind: run.kind ?? 'learner',
    metrics,
    profile: run.profile ?? null,
    levels: run.levels ?? null,
    samples: [],
    evaluations: run.evaluations ?? [],
    journal: run.journal ?? [],
    status: run.status,
    progress: null,
  };
}

/** The view after a batch of the run's events. */
export function applyRunEvents(v: RunView, batch: readonly RunScoped[]): RunView {
  let metrics = v.metrics;
  let copied = false;
  let { profile, levels, samples, evaluations, journal, status, progress } = v;
  for (const e of batch) {
    if (e.type === 'progress') {
      if (e.task === 'train') progress = e; // (a comparison of the run reports on its own screen)
    } else if (e.type === 'metrics') {
      const last = metrics[metrics.length - 1];
      if (last && last.iteration >= e.iteration) {
        // A resumed run redoes the iterations after its checkpoint: the new lines replace the old.
        metrics = metrics.filter((m) => m.iteration < e.iteration);
        copied = true;
      } else if (!copied) {
        metrics = metrics.slice();
        copied = true;
      }
      metrics.push(e);
    } else if (e.type === 'profile') profile = e;
    else if (e.type === 'levels') levels = e;
    else if (e.type === 'samples') {
      samples = samples.concat(e);
      // A resumed run may evaluate an iteration again: one entry per iteration, in order.
      if (!evaluations.includes(e.iteration)) evaluations = [...evaluations, e.iteration].sort((a, b) => a - b);
    } else {
      journal = journal.concat(e);
      if (e.type === 'run') {
        if (isTerminal(e.state)) progress = null; // nothing is under way any more
        status = {
          state: e.state,
          iteration: e.iteration,
          iterations: e.iterations,
          ...(e.reason !== undefined ? { reason: e.reason } : {}),
        };
      }
    }
  }
  return { kind: v.kind, metrics, profile, levels, samples, evaluations, journal, status, progress };
}

/** The events of `run` as they arrive, on top of what it was opened with; a new `run` object starts over. */
export function useRunEvents(engine: EngineClient, run: OpenedRun | null): RunView {
  const [state, setState] = useState(() => ({ run, view: opening(run) }));
  // A newly opened run replaces the view during this render (no frame shows the old run's curves).
  let current = state;
  if (state.run !== run) {
    current = { run, view: opening(run) };
    setState(current);
  }
  const accept = useMemo(() => (run === null ? null : (e: EngineEvent): e is RunScoped => e.run === run.dir), [run]);
  const flush = useCallback(
    (batch: RunScoped[]) => setState((s) => (s.run === run ? { run, view: applyRunEvents(s.view, batch) } : s)),
    [run],
  );
  useEventBacklog(engine, accept, flush);
  return current.view;
}
