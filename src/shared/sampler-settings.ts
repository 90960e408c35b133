// Sampler settings: one table, every field documented, defaults from the papers. From it come the
// `SamplerSettings` type, its checks, the sampler flags of sample/eval/grid, their --help, and the
// grid search's axes (an axis is a numeric field, named by its flag).

import { z } from 'zod';
import {
  choice,
  defaultsOf,
  flagOf,
  mustBe,
  valueAt,
  int,
  issueMessages,
  nullableNum,
  num,
  objectSchema,
  type NullableNumberField,
  type NumberField,
  type ValuesOf,
} from './schema';

export const SAMPLERS = ['euler', 'heun', 'edm', 'ddim', 'restart'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export const SAMPLER_FIELDS = {
  sampler: choice(SAMPLERS, {
    default: 'heun',
    help: 'euler / heun: Karras et al. 2022 Alg. 1 (1st / 2nd order); edm: Alg. 2 (Heun + churn); ddim: Song et al. 2021 with η; restart: Xu et al. 2023 over Heun',
  }),
  guidance: num({ default: 1, help: 'classifier-free guidance scale w (1 = none)' }),
  churn: num({
    default: 0,
    min: 0,
    help: 'S_churn, total stochasticity: γ_i = min(S_churn/N, √2−1) inside [S_tmin, S_tmax]; 0 = deterministic',
  }),
  steps: int({ default: 18, min: 1, help: 'number of noise levels N before t_N = 0 (Heun: 2N−1 NFE; EDM: 18)' }),
  sTmin: num({ default: 0, min: 0, flag: 's-tmin', help: 'S_tmin: churn only where t_i ≥ S_tmin' }),
  sTmax: num({ default: Infinity, min: 0, inf: true, flag: 's-tmax', help: 'S_tmax: churn only where t_i ≤ S_tmax' }),
  sNoise: num({
    default: 1,
    gt: 0,
    flag: 's-noise',
    help: 'S_noise: scale of the injected noise (EDM: 1.003 on ImageNet, 1 elsewhere)',
  }),
  eta: num({ default: 0, min: 0, help: 'DDIM η: 0 deterministic (= Euler in σ), 1 DDPM-like ancestral noise' }),
  rho: num({ default: 7, gt: 0, help: 'schedule exponent ρ (EDM: 7)' }),
  sigmaMin: nullableNum({
    gt: 0,
    nullMeans: "the model's σ_min",
    help: "lowest noise level t_{N−1} (the model's σ_min when not given; EDM: 0.002)",
  }),
  sigmaMax: nullableNum({
    gt: 0,
    nullMeans: "the model's σ_max",
    help: "highest noise level t_0 (the model's σ_max when not given; EDM: 80)",
  }),
};

/** Restart sampling (Xu et al. 2023), sampler 'restart' only. */
export const RESTART_FIELDS = {
  // Xu et al. 2023 use [0.1, 2] style intervals on small images with a few restarts.
  tMin: num({
    default: 0.1,
    gt: 0,
    flag: 'restart-tmin',
    help: 'lower end of the restart interval: restarts begin on reaching this level',
  }),
  tMax: num({
    default: 2,
    gt: 0,
    flag: 'restart-tmax',
    help: 'upper end: each restart adds noise back up to this level',
  }),
  k: int({ default: 2, min: 0, flag: 'restart-k', help: 'number of restarts K' }),
  steps: int({
    default: 4,
    min: 1,
    flag: 'restart-steps',
    help: 'Heun steps from tMax back down to tMin in each restart',
  }),
};

export type RestartSettings = ValuesOf<typeof RESTART_FIELDS>;
export type SamplerSettings = ValuesOf<typeof SAMPLER_FIELDS> & { restart: RestartSettings };

export const RestartSettingsSchema = objectSchema(RESTART_FIELDS);
export const SamplerSettingsSchema: z.ZodType<SamplerSettings> = z.strictObject({
  ...(objectSchema(SAMPLER_FIELDS) as unknown as z.ZodObject).shape,
  restart: RestartSettingsSchema,
}) as unknown as z.ZodType<SamplerSettings>;

export const DEFAULT_SAMPLER_SETTINGS: SamplerSettings = {
  ...defaultsOf(SAMPLER_FIELDS),
  restart: defaultsOf(RESTART_FIELDS),
};

/** EDM's published stochastic settings (Karras et al. 2022, Table 5), a baseline preset. */
export const EDM_STOCHASTIC_PRESETS = {
  'cifar10-vp': { churn: 30, sTmin: 0.01, sTmax: 1, sNoise: 1.007 },
  'cifar10-ve': { churn: 80, sTmin: 0.05, sTmax: 1, sNoise: 1.007 },
  imagenet64: { churn: 40, sTmin: 0.05, sTmax: 50, sNoise: 1.003 },
} as const;

/** A numeric sampler setting addressed by its flag: the grid's axes and the sample/eval flags. */
export interface SamplerKnob {
  /** The flag and axis name, e.g. "s-tmax", "restart-k". */
  name: string;
  field: NumberField | NullableNumberField;
  get(s: SamplerSettings): number | null;
  set(s: SamplerSettings, v: number): void;
}

const top = Object.entries(SAMPLER_FIELDS).flatMap(([k, f]): SamplerKnob[] =>
  f.kind === 'number' || f.kind === 'nullable-number'
    ? [
        {
          name: flagOf(k, f)!,
          field: f,
          get: (s) => s[k as 'rho'],
          set: (s, v) => void ((s as unknown as Record<string, number>)[k] = v),
        },
      ]
    : [],
);
const nested = Object.entries(RESTART_FIELDS).map(([k, f]): SamplerKnob => ({
  name: flagOf(k, f)!,
  field: f,
  get: (s) => s.restart[k as 'k'],
  set: (s, v) => void ((s.restart as unknown as Record<string, number>)[k] = v),
}));

/** Every numeric sampler setting, by flag name. */
export const SAMPLER_KNOBS: readonly SamplerKnob[] = [...top, ...nested];

/** Checks whole settings (a saved file's, a request's); errors name the field by its flag. */
export function parseSamplerSettings(v: unknown, where = 'sampler settings'): SamplerSettings {
  const r = SamplerSettingsSchema.safeParse(v);
  if (r.success) return r.data;
  const fieldOf = (
    p: PropertyKey[],
  ): {
    name: string;
    f: (typeof SAMPLER_FIELDS)[keyof typeof SAMPLER_FIELDS] | (typeof RESTART_FIELDS)[keyof typeof RESTART_FIELDS];
  } | null => {
    if (p[0] === 'restart' && typeof p[1] === 'string' && p[1] in RESTART_FIELDS) {
      const f = RESTART_FIELDS[p[1] as keyof typeof RESTART_FIELDS];
      return { name: flagOf(p[1], f)!, f };
    }
    if (typeof p[0] === 'string' && p[0] in SAMPLER_FIELDS) {
      const f = SAMPLER_FIELDS[p[0] as keyof typeof SAMPLER_FIELDS];
      return { name: flagOf(p[0], f)!, f };
    }
    return null;
  };
  const messages = r.error.issues.map((i) => {
    const hit = fieldOf(i.path);
    if (!hit) return issueMessages(null, new z.ZodError([i]), (p) => p.map(String).join('.') || where, v)[0]!;
    return mustBe(hit.name, hit.f, valueAt(v, i.path.slice(0, i.path[0] === 'restart' ? 2 : 1)));
  });
  throw new RangeError(`${where}: ${messages.join('; ')}`);
}
