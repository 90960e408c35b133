// The per-step hook through which a policy steers sampling, sample by sample.

// The settings are declared once, in src/shared/sampler-settings.ts.
export { DEFAULT_SAMPLER_SETTINGS, EDM_STOCHASTIC_PRESETS, SAMPLERS } from '../../../shared/sampler-settings';
export type { RestartSettings, SamplerName, SamplerSettings } from '../../../shared/sampler-settings';

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
