// Sampler settings (one object, every field documented, defaults from the papers) and the per-step
// hook through which a policy steers sampling, sample by sample.

export const SAMPLERS = ['euler', 'heun', 'edm', 'ddim', 'restart'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export interface RestartSettings {
  /** Lower end of the restart interval (Xu et al. 2023): restarts begin on reaching this level. */
  tMin: number;
  /** Upper end: each restart adds noise back up to this level. */
  tMax: number;
  /** Number of restarts K. */
  k: number;
  /** Heun steps from tMax back down to tMin in each restart. */
  steps: number;
}

export interface SamplerSettings {
  /** euler / heun: Karras et al. 2022 Alg. 1 (1st / 2nd order); edm: Alg. 2 (Heun + churn);
   *  ddim: Song et al. 2021 with η; restart: Xu et al. 2023 over Heun. */
  sampler: SamplerName;
  /** Number of noise levels N before t_N = 0 (Heun: 2N−1 NFE). EDM default 18. */
  steps: number;
  /** Lowest noise level t_{N−1}; defaults to the model's σ_min (EDM: 0.002). */
  sigmaMin: number | null;
  /** Highest noise level t_0; defaults to the model's σ_max (EDM: 80). */
  sigmaMax: number | null;
  /** Schedule exponent ρ (EDM: 7). */
  rho: number;
  /** S_churn: total stochasticity; γ_i = min(S_churn/N, √2−1) inside [S_tmin, S_tmax]. 0 = deterministic. */
  churn: number;
  /** S_tmin: churn only where t_i ≥ S_tmin. */
  sTmin: number;
  /** S_tmax: churn only where t_i ≤ S_tmax. */
  sTmax: number;
  /** S_noise: scale of the injected noise (EDM: 1.003 on ImageNet, 1 elsewhere). */
  sNoise: number;
  /** DDIM η: 0 deterministic (= Euler in σ), 1 DDPM-like ancestral noise. */
  eta: number;
  /** Restart sampling settings (sampler 'restart' only). */
  restart: RestartSettings;
  /** Classifier-free guidance scale w (1 = none). */
  guidance: number;
}

export const DEFAULT_SAMPLER_SETTINGS: SamplerSettings = {
  sampler: 'heun',
  steps: 18,
  sigmaMin: null,
  sigmaMax: null,
  rho: 7,
  churn: 0,
  sTmin: 0,
  sTmax: Infinity,
  sNoise: 1,
  eta: 0,
  // Xu et al. 2023 use [0.1, 2] style intervals on small images with a few restarts.
  restart: { tMin: 0.1, tMax: 2, k: 2, steps: 4 },
  guidance: 1,
};

/** EDM's published stochastic settings (Karras et al. 2022, Table 5), a baseline preset. */
export const EDM_STOCHASTIC_PRESETS = {
  'cifar10-vp': { churn: 30, sTmin: 0.01, sTmax: 1, sNoise: 1.007 },
  'cifar10-ve': { churn: 80, sTmin: 0.05, sTmax: 1, sNoise: 1.007 },
  'imagenet64': { churn: 40, sTmin: 0.05, sTmax: 50, sNoise: 1.003 },
} as const;

/** What a policy sees before each step. Arrays are indexed by row of the batch. */
export interface StepContext {
  /** Loop iteration (0-based), at most the horizon H. */
  iteration: number;
  /** The noise levels t_0 > … > t_N = 0. */
  schedule: Float64Array;
  /** [n] index of each row in the run (its random stream). */
  rows: Int32Array;
  /** [n, dim] current states x (read only). */
  x: Float32Array;
  /** [n] each row's current level index i (t_i); N means finished. */
  level: Int32Array;
  /** [n] σ of each row, t_{level}. */
  sigma: Float32Array;
  /** [n] class labels, or null. */
  labels: BigInt64Array | null;
  /** [n] NFE spent so far by each row. */
  nfe: Int32Array;
}

/** What a policy may decide for this step; any field left out keeps the sampler's setting. */
export interface StepControl {
  /** [n] guidance scale w of this step. */
  guidance?: Float32Array;
  /** [n] churn γ of this step (t̂ = t·(1+γ)); Euler/Heun/EDM only. */
  gamma?: Float32Array;
  /** [n] jump back to level j ≤ current (adds noise √(t_j² − t_i²)·ε, costs no NFE);
   *  −1 (or the current level) = continue to the next level. */
  jumpTo?: Int32Array;
}

export type StepHook = (ctx: StepContext) => StepControl | void | Promise<StepControl | void>;
