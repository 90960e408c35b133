// Drawing many samples: settings resolved against the model, per-sample random streams, class
// labels, batching, progress and cancellation. Every sampler goes through here (CLI, app, learner).

import type { Denoiser } from '../models/model';
import { ddimStep } from './ddim';
import { eulerMaruyamaStep } from './euler-maruyama';
import { edmStep } from './edm';
import { guidanceScale } from './guidance';
import { runLoop, type StepFn, type TrajectoryStep } from './loop';
import { StackedRandom, type NoiseSource } from './random';
import { restartStep } from './restart';
import { explicitSchedule, namedSchedule } from './schedule';
import { DEFAULT_SAMPLER_SETTINGS, parseSamplerSettings, type SamplerSettings } from '../../../shared/sampler-settings';
import type { StepHook } from './types';

export type ResolvedSettings = SamplerSettings & { sigmaMin: number; sigmaMax: number };

/** Fills defaults from the model and checks every field, with errors that say what to change. */
export function resolveSettings(model: Denoiser, partial: Partial<SamplerSettings> = {}): ResolvedSettings {
  // Each field's own bounds (shared/sampler-settings.ts), then what depends on the model.
  const s = parseSamplerSettings({
    ...DEFAULT_SAMPLER_SETTINGS,
    ...partial,
    restart: { ...DEFAULT_SAMPLER_SETTINGS.restart, ...partial.restart },
  });
  const list = s.sigmas;
  const sigmaMin = list ? list[list.length - 2]! : (s.sigmaMin ?? model.sigmaMin);
  const sigmaMax = list ? list[0]! : (s.sigmaMax ?? model.sigmaMax);
  if (list) {
    // A list's levels against the model's range, naming the entry (the ends are its extremes).
    const n = list.length - 2;
    if (sigmaMax > model.sigmaMax * (1 + 1e-6))
      throw new RangeError(
        `sigmas entry 0 is σ = ${sigmaMax}, above the model's σ_max ${model.sigmaMax}; start the list at or below it`,
      );
    if (sigmaMin < model.sigmaMin * (1 - 1e-6))
      throw new RangeError(
        `sigmas entry ${n} is σ = ${sigmaMin}, below the model's σ_min ${model.sigmaMin}; end the levels at or above it (then 0)`,
      );
  } else if (sigmaMin < model.sigmaMin * (1 - 1e-6) || sigmaMax > model.sigmaMax * (1 + 1e-6)) {
    throw new RangeError(
      `σ range [${sigmaMin}, ${sigmaMax}] is outside the model's [${model.sigmaMin}, ${model.sigmaMax}]; adjust --sigma-min/--sigma-max`,
    );
  }
  if (guidanceScale(s) !== null) {
    if (model.numClasses === 0)
      throw new RangeError(
        s.guidanceCurve
          ? 'a guidance curve needs a class-conditional model; this one is unconditional (drop --guidance-curve)'
          : 'guidance needs a class-conditional model; this one is unconditional (use --guidance 1)',
      );
    if (model.nullClass === null)
      throw new RangeError('guidance needs a model with a null class ("nullClass" in model.json)');
  }
  const noChurn = s.sampler === 'ddim' || s.sampler === 'restart' || s.sampler === 'euler-maruyama';
  if (s.churn > 0 && noChurn) {
    throw new RangeError(`churn applies to the euler, heun and edm samplers, not ${s.sampler}; use --eta for DDIM`);
  }
  if (s.churnCurve && noChurn) {
    throw new RangeError(
      `a churn curve applies to the euler, heun and edm samplers, not ${s.sampler}; drop --churn-curve (DDIM's noise is --eta)`,
    );
  }
  return { ...s, sigmaMin, sigmaMax };
}

/** The noise levels t_0 > … > t_N = 0 the settings sample: their σ list, else their named schedule. */
export function scheduleFor(model: Denoiser, s: ResolvedSettings): Float64Array {
  const round = (x: number): number => model.roundSigma(x);
  if (s.sigmas) return explicitSchedule(s.sigmas, round);
  return namedSchedule(
    s.schedule,
    { steps: s.steps, sigmaMin: s.sigmaMin, sigmaMax: s.sigmaMax, rho: s.rho },
    round,
    model.vp ?? null,
  );
}

export function makeStep(model: Denoiser, s: ResolvedSettings, schedule: Float64Array, noise: NoiseSource): StepFn {
  switch (s.sampler) {
    case 'euler':
    case 'heun':
    case 'edm':
      return edmStep(model, { secondOrder: s.sampler !== 'euler', settings: s, steps: s.steps, noise });
    case 'ddim':
      return ddimStep(model, s.eta, noise);
    case 'restart':
      return restartStep(model, schedule, s.restart, s.rho, noise);
    case 'euler-maruyama':
      return eulerMaruyamaStep(model, noise);
  }
}

/**
 * Most float32 values a draw holds (its samples, [n, dim]): 2³⁰, 4 GiB. A JavaScript typed array
 * stops at 2³² elements, and well before that the process runs out of memory; past this bound the
 * draw is refused with its size, before anything is allocated.
 */
export const MAX_DRAW_VALUES = 2 ** 30;

/** "4.0 GiB" */
export function gib(values: number, bytesPerValue = 4): string {
  return `${((values * bytesPerValue) / 2 ** 30).toPrecision(2)} GiB`;
}

export type ClassChoice = 'random' | 'none' | number | Int32Array;

/**
 * Samples drawn so far, counting the batch under way by its share of sampler steps (an onProgress
 * report of generate or a rollout; `batch`: the batch size, `n`: the samples asked for).
 */
export function samplesDrawn(
  p: { samplesDone: number; iteration: number; horizon: number },
  batch: number,
  n: number,
): number {
  return Math.min(
    n,
    p.samplesDone + (p.horizon > 0 ? (p.iteration / p.horizon) * Math.min(batch, n - p.samplesDone) : 0),
  );
}

export interface GenerateOptions {
  n: number;
  /** Samples per batch (the denoiser sees up to 2× with guidance). */
  batch: number;
  seed: number;
  /**
   * Index of the first sample in a larger draw (default 0): these n samples are rows first … first+n−1
   * of it, each with its own row's random stream, so a draw split into parts (distributed/ shards)
   * gives the same samples as in one piece. Results are indexed from 0.
   */
  first?: number;
  /** 'random': uniform over classes; 'none': the null class; a number: that class; or one per sample. */
  classes?: ClassChoice;
  /** Unit-variance starting noise [n, dim]; scaled by σ_max. Default: drawn from each sample's stream. */
  initNoise?: Float32Array;
  hook?: StepHook;
  horizon?: number;
  trajectory?: boolean;
  signal?: AbortSignal;
  /** Replaces the per-sample streams (tests inject noise through it). */
  noise?: NoiseSource;
  onProgress?: (p: { samplesDone: number; total: number; iteration: number; horizon: number }) => void;
}

export interface GenerateResult {
  /** [n, dim] */
  samples: Float32Array;
  /** [n] class label of each sample (the null class when unconditional), or null for unconditional models. */
  labels: Int32Array | null;
  nfe: Int32Array;
  networkEvals: Int32Array;
  schedule: Float64Array;
  settings: ResolvedSettings;
  /** Per batch, when requested. */
  trajectories: TrajectoryStep[][] | null;
  seconds: number;
}

/** Labels for the samples `rows` (a per-sample `choice` holds theirs, in order). */
function labelsFor(model: Denoiser, choice: ClassChoice, rows: Int32Array, noise: NoiseSource): Int32Array | null {
  if (model.numClasses === 0) {
    if (choice !== 'random' && choice !== 'none')
      throw new RangeError('this model is unconditional; it takes no --class');
    return null;
  }
  if (choice instanceof Int32Array) return choice.slice();
  if (choice === 'none') {
    if (model.nullClass === null)
      throw new RangeError(
        'this model has no null class, so it cannot sample unconditionally; give --class K or random',
      );
    return new Int32Array(rows.length).fill(model.nullClass);
  }
  if (choice === 'random') return noise.integer(model.numClasses, rows);
  if (!Number.isInteger(choice) || choice < 0 || choice >= model.numClasses) {
    throw new RangeError(`class ${choice} is out of range; this model has classes 0..${model.numClasses - 1}`);
  }
  return new Int32Array(rows.length).fill(choice);
}

export async function generate(
  model: Denoiser,
  settings: ResolvedSettings,
  o: GenerateOptions,
): Promise<GenerateResult> {
  const { n, batch } = o;
  const first = o.first ?? 0;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  if (!Number.isInteger(first) || first < 0) throw new RangeError(`first must be a whole number ≥ 0, got ${first}`);
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
  const dim = model.dim;
  if (n * dim > MAX_DRAW_VALUES)
    throw new RangeError(
      `n = ${n} samples of ${dim} values each (${gib(n * dim)} of float32) are more than one draw holds (${gib(MAX_DRAW_VALUES)}); draw fewer samples at a time`,
    );
  if (o.initNoise && o.initNoise.length !== n * dim) {
    throw new RangeError(
      `init noise has ${o.initNoise.length} values; expected ${n} × ${dim} (shape [${n}, ${model.shape.join(', ')}])`,
    );
  }
  if (o.classes instanceof Int32Array && o.classes.length !== n)
    throw new RangeError(`got ${o.classes.length} class labels for ${n} samples`);
  const stacked = o.noise ? null : new StackedRandom(o.seed);
  const noise: NoiseSource = o.noise ?? stacked!;
  const schedule = scheduleFor(model, settings);
  const step = makeStep(model, settings, schedule, noise);
  const samples = new Float32Array(n * dim);
  const labels = model.numClasses > 0 ? new Int32Array(n) : null;
  const nfe = new Int32Array(n);
  const networkEvals = new Int32Array(n);
  const trajectories: TrajectoryStep[][] | null = o.trajectory ? [] : null;
  const t0 = performance.now();

  for (let start = 0; start < n; start += batch) {
    const count = Math.min(batch, n - start);
    const rows = Int32Array.from({ length: count }, (_, j) => first + start + j);
    // Each sample's stream: first its class (when random), then its starting noise, then step noise.
    const choice = o.classes ?? 'random';
    const lab = labelsFor(
      model,
      choice instanceof Int32Array ? choice.subarray(start, start + count) : choice,
      rows,
      noise,
    );
    let z: Float32Array;
    if (o.initNoise) z = o.initNoise.subarray(start * dim, (start + count) * dim);
    else {
      z = new Float32Array(count * dim);
      noise.normal(z, rows, dim);
    }
    const res = await runLoop(model, step, schedule, z, rows, lab ? BigInt64Array.from(lab, BigInt) : null, {
      noise,
      hook: o.hook,
      horizon: o.horizon,
      guidance: guidanceScale(settings),
      trajectory: o.trajectory,
      signal: o.signal,
      onIteration: (it, H) => o.onProgress?.({ samplesDone: start, total: n, iteration: it, horizon: H }),
    });
    samples.set(res.x, start * dim);
    if (labels && lab) labels.set(lab, start);
    nfe.set(res.nfe, start);
    networkEvals.set(res.networkEvals, start);
    trajectories?.push(res.trajectory!);
    stacked?.release(rows);
    o.onProgress?.({ samplesDone: start + count, total: n, iteration: 0, horizon: 0 });
  }
  return {
    samples,
    labels,
    nfe,
    networkEvals,
    schedule,
    settings,
    trajectories,
    seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Plain sampling at a mean NFE between two step counts: two generations of the same n samples on
 * the same seed, `below` with fewer steps and `above` with more, mixed per sample — the first m from
 * `above`, the rest from `below` — with m = round(n·(nfe − NFE_below)/(NFE_above − NFE_below)), so
 * that the mean NFE is `nfe` up to 1/n of a step's. Same seed, so sample i is one starting noise
 * (and class) either way: the mix is one sampler whose step count depends on the sample's index.
 * Used to compare a policy whose NFE varies with plain sampling at exactly its mean NFE.
 */
export function mixAtNfe(
  below: GenerateResult,
  above: GenerateResult,
  nfe: number,
): { samples: Float32Array; labels: Int32Array | null; nfe: Int32Array; networkEvals: Int32Array; fromAbove: number } {
  const n = below.nfe.length;
  if (above.nfe.length !== n) throw new RangeError(`mixAtNfe: ${n} samples below, ${above.nfe.length} above`);
  const mean = (a: Int32Array): number => a.reduce((s, v) => s + v, 0) / n;
  const m = mixCount(n, nfe, mean(below.nfe), mean(above.nfe));
  const dim = below.samples.length / n;
  const samples = new Float32Array(n * dim);
  samples.set(above.samples.subarray(0, m * dim));
  samples.set(below.samples.subarray(m * dim), m * dim);
  const pick = (a: Int32Array, b: Int32Array): Int32Array =>
    Int32Array.from({ length: n }, (_, i) => (i < m ? a[i]! : b[i]!));
  return {
    samples,
    labels: below.labels && above.labels ? pick(above.labels, below.labels) : null,
    nfe: pick(above.nfe, below.nfe),
    networkEvals: pick(above.networkEvals, below.networkEvals),
    fromAbove: m,
  };
}

/** How many of n samples mixAtNfe draws with the more steps: mean NFE `nfe` from `lo` and `hi` per sample. */
export function mixCount(n: number, nfe: number, lo: number, hi: number): number {
  return hi > lo ? Math.min(n, Math.max(0, Math.round(((nfe - lo) / (hi - lo)) * n))) : 0;
}
