// The runs of a folder, as the Runs screen lists them, and deleting one (into `.trash/`).

import { nanAsNull } from '../../../shared/json';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { RunSummary } from '../../../shared/protocol';
import { isRun, readDevSet, readMetrics, readProfile, readRunConfig, readRunStatus, runPaths } from './files';
import type { ProfileFile } from '../../../shared/run-files';
import { runLockedBy } from './lock';
import { isSchedulerRun, readSchedulerRun, SCHEDULER_FILE } from '../scheduler/run-file';
import { DRIFT_FILE, isDriftRun, readDriftRun } from '../drift/run-file';

/** Whether `dir` holds a run of any kind: the learner's (config.json), the RL step scheduler's (scheduler.json) or a drift policy's (drift.json). */
export function isAnyRun(dir: string): boolean {
  return isRun(dir) || isSchedulerRun(dir) || isDriftRun(dir);
}

/** A clear error (readRunConfig's, naming the file) unless `dir` is a run of some kind. */
export function checkAnyRun(dir: string): void {
  if (!isSchedulerRun(dir) && !isDriftRun(dir)) readRunConfig(dir);
}

/** The runs directly inside `root` (by name), skipping folders that are not readable runs. `active`: whether this engine trains a run now (a run another process trains, by its lock, is active too). */
export function listRuns(root: string, active: (run: string) => boolean): RunSummary[] {
  if (!existsSync(root)) return [];
  const out: RunSummary[] = [];
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    try {
      // (statSync throws for a dangling link or a folder it may not enter: skipped like the rest)
      if (!statSync(dir).isDirectory() || !isAnyRun(dir)) continue;
      out.push(runSummary(dir, readMetrics(dir), active(dir)));
    } catch {
      // not a readable run; skip it
    }
  }
  return out;
}

/** One run as the list shows it, from its config and metrics lines; `active`: this engine trains it (another process's lock counts too). */
export function runSummary(dir: string, metrics: Record<string, number>[], active: boolean): RunSummary {
  if (isSchedulerRun(dir)) return schedulerSummary(dir, metrics, active);
  if (isDriftRun(dir)) return driftSummary(dir, metrics, active);
  const cfg = readRunConfig(dir);
  const last = metrics[metrics.length - 1] ?? null;
  const l = cfg.learner;
  const iteration = last?.['iteration'] ?? 0;
  let seconds = 0;
  for (const m of metrics) seconds += (m['time/iteration_s'] ?? 0) + (m['time/evaluation_s'] ?? 0);
  const status = readRunStatus(dir);
  const evalSamples =
    last?.['eval/fid'] !== undefined
      ? l.evalSamples
      : last?.['periodic/fid'] !== undefined
        ? l.evalSamplesPeriodic
        : null;
  // A resumed run may have gone past the target it was started with.
  return {
    dir,
    kind: 'learner',
    model: cfg.model.name,
    intervention: l.intervention,
    divergence: l.divergence,
    conditioning: l.conditioning,
    iteration,
    iterations: Math.max(status?.iterations ?? l.iterations, iteration),
    last,
    active: active || runLockedBy(dir) !== null,
    started: statSync(runPaths(dir).config).mtime.toISOString(),
    seconds,
    evalSamples,
    lastState: status?.state ?? null,
    reason: status?.reason ?? null,
  };
}

/**
 * A run of its own kind (scheduler/, drift/) as the list shows it. Such runs evaluate every evalEvery
 * iterations, so `last` is the last metrics line with the last evaluation's eval/… values (an
 * evaluation is a line with `evalKey`): the list's FID or reward column is the latest measured.
 */
function ownKindSummary(
  dir: string,
  metrics: Record<string, number>[],
  active: boolean,
  o: {
    kind: RunSummary['kind'];
    file: string;
    model: string;
    evalKey: string;
    config: { iterations: number; evalSamples: number };
  } & Pick<RunSummary, 'intervention' | 'divergence' | 'conditioning'>,
): RunSummary {
  const line = metrics[metrics.length - 1] ?? null;
  const evaluated = metrics.findLast((m) => m[o.evalKey] !== undefined);
  const last =
    line && evaluated
      ? { ...line, ...Object.fromEntries(Object.entries(evaluated).filter(([k]) => k.startsWith('eval/'))) }
      : line;
  const iteration = line?.['iteration'] ?? 0;
  let seconds = 0;
  for (const m of metrics) seconds += m['time/iteration_s'] ?? 0;
  const status = readRunStatus(dir);
  return {
    dir,
    kind: o.kind,
    model: o.model,
    intervention: o.intervention,
    divergence: o.divergence,
    conditioning: o.conditioning,
    iteration,
    iterations: Math.max(status?.iterations ?? o.config.iterations, iteration),
    last,
    active: active || runLockedBy(dir) !== null,
    started: statSync(join(dir, o.file)).mtime.toISOString(),
    seconds,
    evalSamples: evaluated ? o.config.evalSamples : null,
    lastState: status?.state ?? null,
    reason: status?.reason ?? null,
  };
}

/** An RL step scheduler's run: intervention "schedule", its reward where a learner run has its divergence (occupancy: with the divergence), its state where one has its conditioning. */
function schedulerSummary(dir: string, metrics: Record<string, number>[], active: boolean): RunSummary {
  const s = readSchedulerRun(dir);
  const c = s.config;
  return ownKindSummary(dir, metrics, active, {
    kind: 'scheduler',
    file: SCHEDULER_FILE,
    model: s.model.name,
    evalKey: 'eval/fid',
    config: c,
    intervention: 'schedule',
    divergence: c.reward === 'occupancy' ? `occupancy (${c.divergence})` : c.reward,
    conditioning: c.state,
  });
}

/** A drift policy's run: intervention "drift", its objective where a learner run has its divergence, its base sampler where one has its conditioning. */
function driftSummary(dir: string, metrics: Record<string, number>[], active: boolean): RunSummary {
  const d = readDriftRun(dir);
  const c = d.config;
  return ownKindSummary(dir, metrics, active, {
    kind: 'drift',
    file: DRIFT_FILE,
    model: d.model.name,
    evalKey: 'eval/reward_mean',
    config: c,
    intervention: 'drift',
    divergence: c.objective,
    conditioning: c.sampler === 'ddim' ? `ddim η ${c.eta}` : c.sampler,
  });
}

/** The iterations of a run's evaluations on disk (a profile or a samples picture of each, in profiles/ and samples/), in order. */
export function listEvaluations(dir: string): number[] {
  const found = new Set<number>();
  for (const sub of ['profiles', 'samples']) {
    const d = join(dir, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      const m = /^iter-(\d+)\.(json|png)$/.exec(f);
      if (m) found.add(Number(m[1]));
    }
  }
  return [...found].sort((a, b) => a - b);
}

/** One evaluation's profile and samples picture (base64 PNG), each null when its file is missing or unreadable. */
export function readEvaluation(
  dir: string,
  iteration: number,
): {
  iteration: number;
  profile: ProfileFile | null;
  pngBase64: string | null;
  dev: { pngBase64: string; base: (number | null)[]; policy: (number | null)[] } | null;
} {
  const p = runPaths(dir);
  let profile: ProfileFile | null = null;
  try {
    if (existsSync(p.profileAt(iteration))) profile = readProfile(p.profileAt(iteration));
  } catch {
    // a damaged profile: the picture may still be there
  }
  let pngBase64: string | null = null;
  try {
    if (existsSync(p.samplesAt(iteration))) pngBase64 = readFileSync(p.samplesAt(iteration)).toString('base64');
  } catch {
    // unreadable picture
  }
  // Objective reward: the development set (both files, or none).
  let dev = null;
  try {
    if (existsSync(p.devAt(iteration)) && existsSync(p.devPngAt(iteration))) {
      const d = readDevSet(p.devAt(iteration));
      dev = {
        pngBase64: readFileSync(p.devPngAt(iteration)).toString('base64'),
        base: nanAsNull(d.base),
        policy: nanAsNull(d.policy),
      };
    }
  } catch {
    // a damaged development set: the rest still shows
  }
  return { iteration, profile, pngBase64, dev };
}

/** Moves a run into `.trash/` beside it (a rename: nothing is lost, the user can move it back); not while it trains, here (`active`) or in another process. */
export function trashRun(run: string, active: boolean): { trashed: string } {
  checkAnyRun(run); // throws unless it is a run
  if (active) throw new RangeError(`${run} is training; stop it before deleting it`);
  const other = runLockedBy(run);
  if (other) {
    const who = other.holder ? `process ${other.holder.pid} on ${other.holder.host}` : 'another process';
    throw new RangeError(`${run} is training in ${who}; stop it there before deleting it`);
  }
  const trash = join(dirname(run), '.trash');
  mkdirSync(trash, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const to = join(trash, `${basename(run)}-${stamp}`);
  renameSync(run, to);
  return { trashed: to };
}

/**
 * Undoes trashRun: moves `trashed` (a run in a `.trash` folder) back to `run`, beside that folder,
 * unless something is there now.
 */
export function restoreRun(trashed: string, run: string): { run: string } {
  if (basename(dirname(trashed)) !== '.trash' || dirname(dirname(trashed)) !== dirname(run))
    throw new RangeError(`${trashed} is not ${basename(run)} in the .trash folder beside it; nothing was moved`);
  checkAnyRun(trashed); // throws unless it is a run
  if (existsSync(run)) throw new RangeError(`${run} exists again; move ${trashed} back by hand under another name`);
  renameSync(trashed, run);
  return { run };
}

/** What a folder typed as the Runs folder is: missing, a file, or a folder. */
export function folderState(root: string): 'missing' | 'file' | 'folder' {
  if (!existsSync(root)) return 'missing';
  return statSync(root).isDirectory() ? 'folder' : 'file';
}
