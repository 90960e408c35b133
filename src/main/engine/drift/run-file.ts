// A drift run's drift.json (train.ts): what was trained. No TensorFlow.js here, so the commands that
// only list or check runs (sample, export) can tell a drift run from the other kinds cheaply.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDriftConfig, type DriftConfig } from '../../../shared/drift-config';

export const DRIFT_FILE = 'drift.json';

export interface DriftRunFile {
  format: 'sampler-studio-drift-run';
  version: string;
  model: { name: string; dir: string };
  config: DriftConfig;
  backend: string;
}

export function isDriftRun(dir: string): boolean {
  return existsSync(join(dir, DRIFT_FILE));
}

// [Note: older drift.json files]
// Runs written before the learning-rate schedule existed trained at a constant rate: a config without
// lrSchedule reads as 'constant', so resuming one continues as it began. For a few days the setting
// was a boolean, annealLr (true: 'linear'). Runs written before scoreFloor existed smoothed the
// ratio estimator by the points' spacing: without it a config reads as 'spacing'.
function migrate(config: Record<string, unknown>): Record<string, unknown> {
  let c = config;
  if (!('lrSchedule' in c)) {
    const { annealLr, ...rest } = c;
    c = { ...rest, lrSchedule: annealLr === true ? 'linear' : 'constant' };
  }
  if (!('scoreFloor' in c)) c = { ...c, scoreFloor: 'spacing' };
  return c;
}

export function readDriftRun(dir: string): DriftRunFile {
  const file = join(dir, DRIFT_FILE);
  const raw = JSON.parse(readFileSync(file, 'utf8')) as DriftRunFile;
  if (raw.format !== 'sampler-studio-drift-run') throw new RangeError(`${file}: not a drift run`);
  const config = migrate(raw.config as unknown as Record<string, unknown>);
  return { ...raw, config: parseDriftConfig(config, (k) => `${file}: config.${k}`) };
}
