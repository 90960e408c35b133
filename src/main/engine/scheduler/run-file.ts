// A scheduler run's scheduler.json (train.ts): what was trained, and its last evaluation's levels. No TensorFlow.js here, so the commands
// that only list or check runs (table, runs) can tell a scheduler run from a learner run cheaply.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSchedulerConfig, type SchedulerConfig } from '../../../shared/scheduler-config';
import { parseSigmasText } from '../../../shared/sigmas';

export const SCHEDULER_FILE = 'scheduler.json';

export interface SchedulerRunFile {
  format: 'sampler-studio-scheduler-run';
  version: string;
  model: { name: string; dir: string };
  config: SchedulerConfig;
  backend: string;
}

export function isSchedulerRun(dir: string): boolean {
  return existsSync(join(dir, SCHEDULER_FILE));
}

export function readSchedulerRun(dir: string): SchedulerRunFile {
  const file = join(dir, SCHEDULER_FILE);
  const raw = JSON.parse(readFileSync(file, 'utf8')) as SchedulerRunFile;
  if (raw.format !== 'sampler-studio-scheduler-run') throw new RangeError(`${file}: not a scheduler run`);
  return { ...raw, config: parseSchedulerConfig(raw.config, (k) => `${file}: config.${k}`) };
}

/** An evaluation's levels: RUN/levels.json with the mean schedule of RUN/schedule.json. */
export interface SchedulerLevels {
  iteration: number;
  n: number;
  steps: { step: number; rows: number; mean: number; p10: number; p90: number }[];
  schedule: number[];
}

/** The run's last evaluation's levels (levels.json, schedule.json), or null before its first evaluation or when unreadable. */
export function readLevels(runDir: string): SchedulerLevels | null {
  try {
    const l = JSON.parse(readFileSync(join(runDir, 'levels.json'), 'utf8')) as Omit<SchedulerLevels, 'schedule'>;
    const file = join(runDir, 'schedule.json');
    const schedule = parseSigmasText(readFileSync(file, 'utf8'), file);
    if (!Number.isFinite(l.iteration) || !Number.isFinite(l.n) || !Array.isArray(l.steps)) return null;
    return { iteration: l.iteration, n: l.n, steps: l.steps, schedule };
  } catch {
    return null; // no evaluation yet, or its files are damaged: nothing to show
  }
}
