// The sampler flags that sample, eval and grid take: one per sampler setting, from its schema
// (shared/sampler-settings.ts), checked against the model.

import type { ParseArgsConfig } from 'node:util';
import type { Denoiser } from '../main/engine/models/model';
import { resolveSettings, type ClassChoice, type ResolvedSettings } from '../main/engine/samplers/generate';
import {
  DEFAULT_SAMPLER_SETTINGS,
  parseSamplerSettings,
  RESTART_FIELDS,
  SAMPLER_FIELDS,
  type SamplerSettings,
} from '../shared/sampler-settings';
import { flagOptions, valuesFromFlags } from '../shared/schema';
import { num, UsageError } from './common';

/** The sampler flags shared by sample, eval and grid: every sampler setting's flag (shared/sampler-settings.ts). */
export const SAMPLER_OPTIONS = {
  ...flagOptions(SAMPLER_FIELDS),
  ...flagOptions(RESTART_FIELDS),
} satisfies ParseArgsConfig['options'];

/** The flags of every command that samples a model: sample, eval, grid. */
export const SAMPLING_RUN_OPTIONS = {
  model: { type: 'string' },
  ...SAMPLER_OPTIONS,
  class: { type: 'string' },
  n: { type: 'string' },
  batch: { type: 'string' },
  seed: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

type SamplerFlagValues = Readonly<Record<string, unknown>>;

/** Sampler settings from flags on top of `base`, checked against the model (errors are UsageErrors naming the flag). */
export function samplerSettingsFromFlags(
  model: Denoiser,
  v: SamplerFlagValues,
  base: Partial<SamplerSettings> = {},
): ResolvedSettings {
  const top = valuesFromFlags(SAMPLER_FIELDS, v);
  const restart = valuesFromFlags(RESTART_FIELDS, v);
  const merged = {
    ...DEFAULT_SAMPLER_SETTINGS,
    ...base,
    ...top,
    restart: { ...DEFAULT_SAMPLER_SETTINGS.restart, ...base.restart, ...restart },
  };
  try {
    return resolveSettings(model, parseSamplerSettings(merged, 'sampler flags'));
  } catch (e) {
    throw new UsageError(
      (e as Error).message
        .replace(/^sampler flags: /, '')
        .replace(/(^|; )([a-z-]+) must be/g, '$1--$2 must be')
        .replace(/must be ([≤<]) ([a-z-]+)/g, 'must be $1 --$2'),
    );
  }
}

/** --class K|random|none */
export function classesFromFlag(v: string | undefined): ClassChoice {
  if (v === undefined || v === 'random' || v === 'none') return v ?? 'random';
  return num(v, 'class', { int: true, min: 0, max: 2 ** 31 - 1 })!; // an int32 label; the model checks its own range
}
