// A scheduler run's scheduler.json (train.ts): what was trained. No TensorFlow.js here, so the commands
// that only list or check runs (table, runs) can tell a scheduler run from a learner run cheaply.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSchedulerConfig, type SchedulerConfig } from '../../../shared/scheduler-config';

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
