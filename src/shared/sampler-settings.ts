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
  kebab,
  nullableNum,
  num,
  objectSchema,
  type NullableNumberField,
  type NumberField,
  type ValuesOf,
} from './schema';
import { MAX_GUIDANCE, MAX_STEPS, SIGMA_LIMIT } from './limits';
import { curveSchema, type SamplerCurve } from './curve';
import { sigmasProblems } from './sigmas';

export const SAMPLERS = ['euler', 'heun', 'edm', 'ddim', 'restart', 'euler-maruyama'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export const SCHEDULES = ['edm', 'uniform', 'log-linear', 'cosine', 'kl-optimal'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

// [Note: bounds]
// Every number has an upper bound as well as a lower one: a value past it has no use, and some
// overflow float32 (guidance 1e30 made NaN samples that were blamed on the denoiser) or ask for
// work that cannot end (restart-k 10⁶). Each bound says why at its field; σ-valued ones share
// SIGMA_LIMIT. The grid's axes, the flags, the form and saved files all check the same bounds.

// Largest |w|, σ and N: in shared/limits.ts, where curve and schedule files (shared/curve.ts, shared/sigmas.ts) read them too.
export { MAX_GUIDANCE, MAX_STEPS, SIGMA_LIMIT };

export const SAMPLER_FIELDS = {
  sampler: choice(SAMPLERS, {
    default: 'heun',
    help: 'euler / heun: Karras et al. 2022 Alg. 1 (1st / 2nd order); edm: Alg. 2 (Heun + churn); ddim: Song et al. 2021 with η; restart: Xu et al. 2023 over Heun; euler-maruyama: the reverse SDE (Song et al. 2021), stochastic, one evaluation per step',
  }),
  guidance: num({
    default: 1,
    min: -MAX_GUIDANCE,
    max: MAX_GUIDANCE,
    help: 'classifier-free guidance scale w (1 = none), applied where guidance-sigma-lo < σ ≤ guidance-sigma-hi',
  }),
  // The guidance interval (Kynkäänniemi et al. 2024): w inside (σ_lo, σ_hi], 1 outside, tested at
  // each denoiser evaluation (samplers/guidance.ts, the note on the interval). The defaults guide everywhere.
  guidanceSigmaLo: num({
    default: 0,
    min: 0,
    max: SIGMA_LIMIT,
    flag: 'guidance-sigma-lo',
    help: 'σ_lo: no guidance at σ ≤ σ_lo (Kynkäänniemi et al. 2024: 0.28 on ImageNet-512 and SD-XL)',
  }),
  guidanceSigmaHi: num({
    default: Infinity,
    gt: 0,
    max: SIGMA_LIMIT,
    inf: true,
    flag: 'guidance-sigma-hi',
    help: 'σ_hi: no guidance at σ > σ_hi (Kynkäänniemi et al. 2024: 2.9 to 5.4)',
  }),
  churn: num({
    default: 0,
    min: 0,
    // γ = min(S_churn/N, √2−1) saturates once S_churn ≥ N(√2−1), at most 1000·0.414 = 414.
    max: MAX_STEPS,
    help: 'S_churn, total stochasticity: γ_i = min(S_churn/N, √2−1) inside [S_tmin, S_tmax]; 0 = deterministic',
  }),
  steps: int({
    default: 18,
    min: 1,
    max: MAX_STEPS,
    help: 'number of noise levels N before t_N = 0 (Heun: 2N−1 NFE; EDM: 18)',
  }),
  sTmin: num({
    default: 0,
    min: 0,
    max: SIGMA_LIMIT,
    flag: 's-tmin',
    help: 'S_tmin: churn only where t_i ≥ S_tmin',
  }),
  sTmax: num({
    default: Infinity,
    min: 0,
    max: SIGMA_LIMIT,
    inf: true,
    flag: 's-tmax',
    help: 'S_tmax: churn only where t_i ≤ S_tmax',
  }),
  sNoise: num({
    default: 1,
    gt: 0,
    // EDM uses 1–1.007, a slight excess offsetting the denoiser's loss of detail; at 2 the injected
    // noise is twice what the level calls for and the sampler no longer follows the marginals.
    max: 2,
    flag: 's-noise',
    help: 'S_noise: scale of the injected noise (EDM: 1.003 on ImageNet, 1 elsewhere)',
  }),
  eta: num({
    default: 0,
    min: 0,
    // η = 1 is DDPM's posterior noise; above it σ_η² can exceed 1 − ᾱ' and √(1 − ᾱ' − σ_η²) has no value.
    max: 1,
    help: 'DDIM η: 0 deterministic (= Euler in σ), 1 DDPM-like ancestral noise',
  }),
  // [Note: schedules]
  // The noise levels t_0 > … > t_{N−1} > t_N = 0 between sigma-max and sigma-min (samplers/schedule.ts):
  //   edm         Karras et al. 2022 Eq. 5, spaced evenly in σ^{1/ρ}
  //   uniform     evenly in the model's own time: σ itself for σ-parametrised (EDM, VE) models, where
  //               σ(t) = t; the DDPM timestep for discrete VP models (DDIM's uniform skip)
  //   log-linear  evenly in log σ (geometric; EDM's ρ → ∞; diffusers' use_exponential_sigmas)
  //   cosine      evenly in the time u of Nichol & Dhariwal's cosine schedule, ᾱ(u) = f(u)/f(0),
  //               f(u) = cos²(π/2·(u + s)/(1 + s)), s = 0.008, σ = √(1/ᾱ − 1)
  //   kl-optimal  evenly in arctan σ (Sabour et al. 2024, "Align Your Steps", App. B; ComfyUI's
  //               kl_optimal): the cosine schedule without its offset s
  // cosine and kl-optimal read σ in the units of a unit-variance VP model, as every tool that offers
  // them does; on a model with another σ_data they are still valid schedules, only not "the" cosine one.
  schedule: choice(SCHEDULES, {
    default: 'edm',
    help: 'noise levels: edm (Karras ρ-schedule), uniform (evenly in the model time), log-linear (evenly in log σ), cosine (Nichol & Dhariwal), kl-optimal (evenly in arctan σ); --sigmas FILE gives them explicitly',
    labels: {
      edm: 'EDM (ρ)',
      uniform: 'uniform (model time)',
      'log-linear': 'log-linear',
      cosine: 'cosine',
      'kl-optimal': 'KL-optimal',
    },
  }),
  rho: num({
    default: 7,
    gt: 0,
    // EDM finds 5–10 best; as ρ grows the levels tend to geometric spacing (log σ evenly spaced),
    // within ~15% of it by ρ = 100 for σ in [0.002, 80]: nothing past that is a new schedule.
    max: 100,
    help: 'schedule exponent ρ of the edm schedule (EDM: 7)',
  }),
  sigmaMin: nullableNum({
    gt: 0,
    max: SIGMA_LIMIT,
    nullMeans: "the model's σ_min",
    help: "lowest noise level t_{N−1} (the model's σ_min when not given; EDM: 0.002)",
  }),
  sigmaMax: nullableNum({
    gt: 0,
    max: SIGMA_LIMIT,
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
    max: SIGMA_LIMIT,
    flag: 'restart-tmin',
    help: 'lower end of the restart interval: restarts begin on reaching this level',
  }),
  tMax: num({
    default: 2,
    gt: 0,
    max: SIGMA_LIMIT,
    flag: 'restart-tmax',
    help: 'upper end: each restart adds noise back up to this level',
  }),
  // Xu et al. restart a handful of times (K ≤ 10 per interval in their tables); each restart costs
  // 2·restart-steps NFE per sample, all inside one step of the main loop, so 100 × 100 (20,000 NFE)
  // is already far past any use.
  k: int({ default: 2, min: 0, max: 100, flag: 'restart-k', help: 'number of restarts K' }),
  steps: int({
    default: 4,
    min: 1,
    max: 100,
    flag: 'restart-steps',
    help: 'Heun steps from tMax back down to tMin in each restart',
  }),
};

export type RestartSettings = ValuesOf<typeof RESTART_FIELDS>;
/** The curves a file gives (shared/curve.ts, flags --guidance-curve / --churn-curve); null: none. */
export interface CurveSettings {
  /** w(σ) at every denoiser evaluation, in place of guidance and its interval. */
  guidanceCurve: SamplerCurve | null;
  /** γ(t_i) per step of the euler / heun / edm samplers, in place of churn, s-tmin and s-tmax. */
  churnCurve: SamplerCurve | null;
}
/** An explicit schedule (shared/sigmas.ts, flag --sigmas): σ_0 > … > σ_{N−1} > 0, then 0; null: the named schedule. */
export interface SigmasSetting {
  sigmas: number[] | null;
}
export type SamplerSettings = ValuesOf<typeof SAMPLER_FIELDS> & {
  restart: RestartSettings;
} & CurveSettings &
  SigmasSetting;

// [Note: settings saved before the interval, the curves and the schedules]
// A saved file carries every field (shared/schema.ts), but grid results saved before the guidance
// interval, the curves and the schedules existed lack those keys. Their defaults mean exactly what
// such a file meant — guidance at every σ, no curve, EDM's ρ-schedule — so a missing one reads as
// its default; a present one is checked as usual.
const ADDED_LATER: Pick<
  SamplerSettings,
  'guidanceSigmaLo' | 'guidanceSigmaHi' | 'schedule' | keyof CurveSettings | keyof SigmasSetting
> = {
  guidanceSigmaLo: 0,
  guidanceSigmaHi: Infinity,
  guidanceCurve: null,
  churnCurve: null,
  schedule: 'edm',
  sigmas: null,
};

/** An explicit schedule inside saved settings (grid results, a request): the checks of a file. */
const sigmasSchema = z.unknown().transform((v, ctx) => {
  const problems = sigmasProblems(v);
  if (problems.length > 0) {
    ctx.addIssue({ code: 'custom', message: problems.join('; ') });
    return z.NEVER;
  }
  return [...(v as number[])];
}) as unknown as z.ZodType<number[]>;

export const RestartSettingsSchema = objectSchema(RESTART_FIELDS);
export const SamplerSettingsSchema: z.ZodType<SamplerSettings> = z.preprocess(
  (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...ADDED_LATER, ...v } : v),
  z.strictObject({
    ...(objectSchema(SAMPLER_FIELDS) as unknown as z.ZodObject).shape,
    restart: RestartSettingsSchema,
    guidanceCurve: curveSchema('guidance').nullable(),
    churnCurve: curveSchema('churn').nullable(),
    sigmas: sigmasSchema.nullable(),
  }),
) as unknown as z.ZodType<SamplerSettings>;

export const DEFAULT_SAMPLER_SETTINGS: SamplerSettings = {
  ...defaultsOf(SAMPLER_FIELDS),
  restart: defaultsOf(RESTART_FIELDS),
  guidanceCurve: null,
  churnCurve: null,
  sigmas: null,
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

/** Checks across fields (each field's own bounds are in its table), as messages naming the flags. */
function crossFieldProblems(s: SamplerSettings): string[] {
  const out: string[] = [];
  if (s.sTmin > s.sTmax)
    out.push(
      `s-tmin must be ≤ s-tmax, got ${s.sTmin} > ${s.sTmax} (churn applies where S_tmin ≤ t_i ≤ S_tmax; for none, set churn to 0)`,
    );
  if (s.sigmaMin !== null && s.sigmaMax !== null && !(s.sigmaMin < s.sigmaMax))
    out.push(`sigma-min must be < sigma-max, got ${s.sigmaMin} ≥ ${s.sigmaMax}`);
  if (!(s.guidanceSigmaLo < s.guidanceSigmaHi))
    out.push(
      `guidance-sigma-lo must be < guidance-sigma-hi, got ${s.guidanceSigmaLo} ≥ ${s.guidanceSigmaHi} (guidance applies where σ_lo < σ ≤ σ_hi)`,
    );
  // A curve gives its parameter at every σ: a setting it replaces must keep its default, or it would be silently ignored.
  const replaced = (
    curve: keyof CurveSettings,
    keys: readonly ('guidance' | 'guidanceSigmaLo' | 'guidanceSigmaHi' | 'churn' | 'sTmin' | 'sTmax')[],
    what: string,
  ) => {
    if (s[curve] === null) return;
    for (const k of keys) {
      const f = SAMPLER_FIELDS[k];
      if (s[k] !== f.default)
        out.push(
          `${kebab(curve)} cannot be combined with ${flagOf(k, f)} ${s[k] === Infinity ? 'inf' : s[k]}: the curve gives ${what}; leave ${flagOf(k, f)} at ${f.default === Infinity ? 'inf' : f.default}`,
        );
    }
  };
  replaced('guidanceCurve', ['guidance', 'guidanceSigmaLo', 'guidanceSigmaHi'], 'w at every σ');
  replaced(
    'churnCurve',
    ['churn', 'sTmin', 'sTmax'],
    "γ at every step, in place of S_churn's γ_i = min(S_churn/N, √2−1) on [S_tmin, S_tmax]",
  );
  if (s.schedule !== 'edm' && s.rho !== SAMPLER_FIELDS.rho.default)
    out.push(
      `rho must be ${SAMPLER_FIELDS.rho.default} with schedule ${s.schedule} (ρ shapes the edm schedule only), got ${s.rho}; or use schedule edm`,
    );
  if (s.sigmas !== null) {
    // The list gives the levels: the settings that would make them must say nothing else.
    const n = s.sigmas.length - 1;
    const clash = (flag: string, was: unknown, what: string): void =>
      void out.push(`sigmas cannot be combined with ${flag} ${String(was)}: the list gives ${what}; drop ${flag}`);
    if (s.schedule !== 'edm') clash('schedule', s.schedule, 'every level');
    if (s.rho !== SAMPLER_FIELDS.rho.default) clash('rho', s.rho, 'every level');
    if (s.steps !== n)
      out.push(
        `steps must be ${n} with this sigmas list (its ${n + 1} entries are ${n} levels and the final 0), got ${s.steps}`,
      );
    if (s.sigmaMax !== null && s.sigmaMax !== s.sigmas[0]) clash('sigma-max', s.sigmaMax, `σ_max = ${s.sigmas[0]}`);
    if (s.sigmaMin !== null && s.sigmaMin !== s.sigmas[n - 1])
      clash('sigma-min', s.sigmaMin, `σ_min = ${s.sigmas[n - 1]}`);
  }
  if (!(s.restart.tMin < s.restart.tMax))
    out.push(
      `restart-tmin must be < restart-tmax, got ${s.restart.tMin} ≥ ${s.restart.tMax} (a restart adds noise from t_min up to t_max)`,
    );
  return out;
}

/** Checks whole settings (a saved file's, a request's); errors name the field by its flag. */
export function parseSamplerSettings(v: unknown, where = 'sampler settings'): SamplerSettings {
  const r = SamplerSettingsSchema.safeParse(v);
  if (r.success) {
    const problems = crossFieldProblems(r.data);
    if (problems.length > 0) throw new RangeError(`${where}: ${problems.join('; ')}`);
    return r.data;
  }
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
    if (i.path[0] === 'guidanceCurve' || i.path[0] === 'churnCurve' || i.path[0] === 'sigmas')
      return `${kebab(i.path[0])}: ${i.message}`;
    const hit = fieldOf(i.path);
    if (!hit) return issueMessages(null, new z.ZodError([i]), (p) => p.map(String).join('.') || where, v)[0]!;
    return mustBe(hit.name, hit.f, valueAt(v, i.path.slice(0, i.path[0] === 'restart' ? 2 : 1)));
  });
  throw new RangeError(`${where}: ${messages.join('; ')}`);
}

/**
 * The settings in words, for reports' summary lines: "heun, 18 steps, w=2", with the churn where
 * there is one ("S_churn 10 for σ in [0.05, 50], S_noise 1.003", "γ(σ) from a curve of 18 points").
 */
export function describeSampler(s: SamplerSettings): string {
  const parts = [`${s.sampler}, ${s.steps} steps${describeSchedule(s)}`, describeGuidance(s)];
  const inf = (v: number): string => (v === Infinity ? 'inf' : String(v));
  if (s.churnCurve)
    parts.push(`γ(σ) from a curve of ${s.churnCurve.points.length} point${s.churnCurve.points.length > 1 ? 's' : ''}`);
  else if (s.churn > 0)
    parts.push(
      `S_churn ${s.churn}${s.sTmin > 0 || s.sTmax < Infinity ? ` for σ in [${s.sTmin}, ${inf(s.sTmax)}]` : ''}`,
    );
  if ((s.churn > 0 || s.churnCurve) && s.sNoise !== 1) parts.push(`S_noise ${s.sNoise}`);
  return parts.join(', ');
}

/** The schedule in words, after the steps: "" for EDM's ρ = 7, " (cosine)", " (edm ρ=3)", " (from a σ list)". */
export function describeSchedule(s: Pick<SamplerSettings, 'schedule' | 'rho' | 'sigmas'>): string {
  if (s.sigmas) return ' (from a σ list)';
  if (s.schedule !== 'edm') return ` (${s.schedule})`;
  return s.rho === SAMPLER_FIELDS.rho.default ? '' : ` (edm ρ=${s.rho})`;
}

/** The guidance in words, for reports: "w=2", "w=2 for σ in (0.28, 5.4]", "w(σ) from a curve of 4 points". */
export function describeGuidance(
  s: Pick<SamplerSettings, 'guidance' | 'guidanceSigmaLo' | 'guidanceSigmaHi' | 'guidanceCurve'>,
): string {
  if (s.guidanceCurve)
    return `w(σ) from a curve of ${s.guidanceCurve.points.length} point${s.guidanceCurve.points.length > 1 ? 's' : ''}`;
  if (s.guidance === 1 || (s.guidanceSigmaLo === 0 && s.guidanceSigmaHi === Infinity)) return `w=${s.guidance}`;
  return `w=${s.guidance} for σ in (${s.guidanceSigmaLo}, ${s.guidanceSigmaHi === Infinity ? 'inf' : s.guidanceSigmaHi}]`;
}
