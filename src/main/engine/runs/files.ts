// A run is a directory, inspectable without the app, and runs/ alone reads and writes it (this file;
// list.ts lists and deletes runs, load.ts builds a run's learner, lock.ts keeps it to one trainer):
//
//   config.json              the model, the learner's settings, the backend (written once, at the start)
//   metrics.jsonl            one line per finished iteration, append-only
//   checkpoint.json          the learner's state after the last finished iteration, written atomically
//   profile.json, profile.png          the latest evaluation's action profile (and as a heat map)
//   profiles/iter-NNNNN.json           the profile of every evaluation
//   samples/iter-NNNNN.png             the samples of every evaluation
//   dev/iter-NNNNN.png, .json          objective reward: the development set at every evaluation, the base
//                                      sampler's samples over the policy's, and their rewards (apps/train.ts)
//   train.lock               who trains it now, while a process does (lock.ts)
//
// Every file is read through its schema (shared/run-files.ts): a damaged one (or one that cannot be
// read: a folder in its place) is a RunFileError that names the file and the field, and nothing is
// written over it.
//
// [Note: resume truncation]
// An iteration appends its metrics line, then writes its checkpoint. A run killed between the two
// has a line for an iteration its checkpoint does not hold; resuming drops such lines
// (truncateMetrics), and only after the checkpoint has been read and restored, so a damaged
// checkpoint leaves metrics.jsonl as it was.

import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomic, writeFileAtomicSync } from '../io/atomic';
import { profileHeatmap } from '../pictures';
import { writePng } from '../io/png';
import { checkConfig, parseLearnerConfig, type LearnerConfig } from '../learner/config';
import { infReplacer, infReviver } from '../../../shared/json';
import {
  checkpointFile,
  devSetFile,
  type DevSetFile,
  metricsLine,
  narrowFile,
  parseFile,
  profileFile,
  runStatusFile,
  type RunStatusFile,
  RunFileError,
  runConfigFile,
  type Checkpoint,
  type MetricsLine,
  type ProfileFile,
  type RunConfigFile,
} from '../../../shared/run-files';

/** The paths of a run's files. */
export function runPaths(runDir: string): {
  config: string;
  metrics: string;
  checkpoint: string;
  profile: string;
  profilePng: string;
  lock: string;
  status: string;
  /** With train --redis: the learner process's id in the queues (distributed/redis.ts, keys and versions). */
  queue: string;
  profileAt: (iteration: number) => string;
  samplesAt: (iteration: number) => string;
  devAt: (iteration: number) => string;
  devPngAt: (iteration: number) => string;
} {
  const tag = (iteration: number): string => `iter-${String(iteration).padStart(5, '0')}`;
  return {
    config: join(runDir, 'config.json'),
    metrics: join(runDir, 'metrics.jsonl'),
    checkpoint: join(runDir, 'checkpoint.json'),
    profile: join(runDir, 'profile.json'),
    profilePng: join(runDir, 'profile.png'),
    lock: join(runDir, 'train.lock'),
    status: join(runDir, 'status.json'),
    queue: join(runDir, 'queue.json'),
    profileAt: (iteration) => join(runDir, 'profiles', `${tag(iteration)}.json`),
    samplesAt: (iteration) => join(runDir, 'samples', `${tag(iteration)}.png`),
    devAt: (iteration) => join(runDir, 'dev', `${tag(iteration)}.json`),
    devPngAt: (iteration) => join(runDir, 'dev', `${tag(iteration)}.png`),
  };
}

/**
 * A run file's text; a file that cannot be read (a folder in its place, no permission) is a
 * RunFileError naming it, like a damaged one.
 */
function readRunFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'EISDIR'
        ? 'it is a folder, not a file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : (e as Error).message;
    throw new RunFileError(file, '', `cannot be read: ${why}`);
  }
}

/** Whether `dir` holds a run (its config.json). */
export function isRun(dir: string): boolean {
  return existsSync(runPaths(dir).config);
}

// ---------------------------------------------------------------------------------------------
// config.json

/** A run's config.json with its learner settings checked. */
export interface RunConfig extends Omit<RunConfigFile, 'learner'> {
  learner: LearnerConfig;
}

/** The learner settings of a config.json: the learner schema's checks (shared/learner-config.ts), then the sampler's cost. */
function learnerSettings(raw: Record<string, unknown>, file: string): LearnerConfig {
  try {
    const learner = parseLearnerConfig(raw, (k) => `learner.${k}`);
    checkConfig(learner);
    return learner;
  } catch (e) {
    throw new RunFileError(file, '', (e as Error).message.replace(/^(nfeBudget|actions|initAction):/, 'learner.$1:'));
  }
}

/** A run directory's config.json (a RangeError when `runDir` is not a run, a RunFileError when the file is damaged). */
export function readRunConfig(runDir: string): RunConfig {
  const file = runPaths(runDir).config;
  if (!existsSync(file)) throw new RangeError(`${runDir}: not a run directory (no config.json)`);
  const cfg = parseFile(runConfigFile, readRunFile(file), file, infReviver);
  return { ...cfg, learner: learnerSettings(cfg.learner, file) };
}

/** The model directory a run was trained on. */
export function runModelDir(runDir: string): string {
  return readRunConfig(runDir).model.dir;
}

/** A run folder that is not this trainer's to write: it holds a run or the user's files (here), or another process trains it (lock.ts). */
export class RunRefusedError extends RangeError {
  override name = 'RunRefusedError';
}

/**
 * Refuses a folder that cannot take a new run: a run is written into a new or empty folder only,
 * never beside a user's own files (the training lock does not count: lock.ts).
 */
/**
 * `dir` when nothing is there (or an empty folder), else the first of `dir-2`, `dir-3`, … that is
 * free: the app's default run name never collides with an earlier run (a name the user typed is
 * checked by checkNewRunDir instead).
 */
export function uniqueRunDir(dir: string, taken: (d: string) => boolean = () => false): string {
  const free = (d: string): boolean =>
    !taken(d) && (!existsSync(d) || (statSync(d).isDirectory() && readdirSync(d).length === 0));
  if (free(dir)) return dir;
  for (let k = 2; ; k++) if (free(`${dir}-${k}`)) return `${dir}-${k}`;
}

export function checkNewRunDir(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory())
    throw new RunRefusedError(`${dir} is a file, not a folder; choose another --run-dir`);
  const lock = basename(runPaths(dir).lock);
  const names = readdirSync(dir)
    .filter((n) => n !== lock)
    .sort();
  if (names.length === 0) return;
  let why = '';
  if (names.includes('scheduler.json'))
    throw new RunRefusedError(
      `${dir} already holds a step scheduler run; resume it to continue it or choose a new --run-dir`,
    );
  if (names.includes('config.json')) {
    try {
      readRunConfig(dir);
      throw new RunRefusedError(`${dir} already holds a run; use --resume to continue it or choose a new --run-dir`);
    } catch (e) {
      if (!(e instanceof RunFileError)) throw e; // (RunRefusedError: it holds a run)
      why = `; its config.json is not a run's (${e.message})`;
    }
  }
  const shown = names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
  throw new RunRefusedError(
    `${dir} is not empty and holds no run (${shown}); a new run needs a new or empty folder: choose another --run-dir${why}`,
  );
}

/** Makes a run's folder (and its parents); a path that cannot be one is a RangeError naming it. */
export function makeRunDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new RangeError(`cannot make the run folder ${dir}: ${(e as Error).message}`, { cause: e });
  }
}

/** Creates the run directory with its config.json (atomically). */
export async function writeRunConfig(runDir: string, cfg: RunConfig): Promise<void> {
  makeRunDir(runDir);
  await writeFileAtomic(runPaths(runDir).config, JSON.stringify(cfg, infReplacer, 2) + '\n');
}

// ---------------------------------------------------------------------------------------------
// metrics.jsonl

/** The complete lines of a metrics file with their text; a line cut by a kill (not JSON) is skipped, a JSON line that is not a metrics line is a RunFileError. */
function metricsLines(file: string): { text: string; line: MetricsLine }[] {
  if (!existsSync(file)) return [];
  const out: { text: string; line: MetricsLine }[] = [];
  readRunFile(file)
    .split('\n')
    .forEach((text, i) => {
      if (text.trim() === '') return;
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        return; // a line cut by a kill
      }
      out.push({ text, line: narrowFile(metricsLine, raw, `${file}:${i + 1}`) });
    });
  return out;
}

/** A run's metrics.jsonl, one object per complete line. */
export function readMetrics(runDir: string): MetricsLine[] {
  return metricsLines(runPaths(runDir).metrics).map((l) => l.line);
}

/** Appends one finished iteration's metrics. */
export function appendMetrics(runDir: string, metrics: Record<string, number>): void {
  appendFileSync(runPaths(runDir).metrics, JSON.stringify(metrics) + '\n');
}

/** Drops the lines of iterations after `iteration` (and lines cut by a kill): see the note on resume truncation. */
export async function truncateMetrics(runDir: string, iteration: number): Promise<void> {
  const file = runPaths(runDir).metrics;
  if (!existsSync(file)) return;
  const keep = metricsLines(file).filter((l) => l.line.iteration <= iteration);
  await writeFileAtomic(file, keep.map((l) => l.text + '\n').join(''));
}

// ---------------------------------------------------------------------------------------------
// checkpoint.json

/** A checkpoint file, validated (checkpoints of older versions migrated; see shared/run-files.ts). */
export function readCheckpoint(file: string): Checkpoint {
  return parseCheckpoint(readRunFile(file), file);
}

/** A checkpoint's text (already read, e.g. to hash it too), validated. */
export function parseCheckpoint(text: string, file: string): Checkpoint {
  return parseFile(checkpointFile, text, file);
}

export async function writeCheckpoint(runDir: string, cp: Checkpoint): Promise<void> {
  await writeFileAtomic(runPaths(runDir).checkpoint, JSON.stringify(cp));
}

// ---------------------------------------------------------------------------------------------
// Evaluations: profiles and samples

/** A profile file (profile.json or profiles/iter-NNNNN.json), validated. */
export function readProfile(file: string): ProfileFile {
  return parseFile(profileFile, readRunFile(file), file);
}

/**
 * An evaluation's files: profile.json, profiles/iter-NNNNN.json, profile.png and the samples'
 * picture samples/iter-NNNNN.png (returns its path).
 */
export async function writeEvaluation(runDir: string, profile: ProfileFile, samplesPng: Uint8Array): Promise<string> {
  const p = runPaths(runDir);
  const text = JSON.stringify(profile) + '\n';
  await writeFileAtomic(p.profile, text);
  await writeFileAtomic(p.profileAt(profile.iteration), text);
  const samples = p.samplesAt(profile.iteration);
  await writeFileAtomic(samples, samplesPng);
  await writePng(p.profilePng, profileHeatmap(profile.profile));
  return samples;
}

/** The development set at an evaluation (objective reward): dev/iter-NNNNN.json and its picture beside it; returns the picture's path. */
export async function writeDevSet(runDir: string, dev: DevSetFile, png: Uint8Array): Promise<string> {
  const p = runPaths(runDir);
  await writeFileAtomic(p.devAt(dev.iteration), JSON.stringify(dev, infReplacer) + '\n');
  await writeFileAtomic(p.devPngAt(dev.iteration), png);
  return p.devPngAt(dev.iteration);
}

/** A dev/iter-NNNNN.json, validated. */
export function readDevSet(file: string): DevSetFile {
  return parseFile(devSetFile, readRunFile(file), file, infReviver);
}

// ---------------------------------------------------------------------------------------------
// status.json

/** Keeps a run's last lifecycle change (shared/run-files.ts runStatusFile); synchronous, so it is on disk before the event goes out. */
export function writeRunStatus(runDir: string, status: RunStatusFile): void {
  writeFileAtomicSync(runPaths(runDir).status, JSON.stringify(status) + '\n');
}

/** A run's status.json, or null when it has none or it cannot be read (the list then infers). */
export function readRunStatus(runDir: string): RunStatusFile | null {
  const file = runPaths(runDir).status;
  if (!existsSync(file)) return null;
  try {
    return parseFile(runStatusFile, readRunFile(file), file);
  } catch {
    return null;
  }
}
