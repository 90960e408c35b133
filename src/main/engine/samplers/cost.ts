// The NFE arithmetic of the step samplers (Karras et al. 2022, Algorithms 1 and 2): what N steps
// cost in denoiser evaluations, and how many steps a budget buys. Euler evaluates the denoiser once
// per step; Heun and EDM twice (an Euler step and the 2nd-order correction), except on the last
// step, to t_N = 0, which skips the correction: N steps cost N (Euler) or 2N − 1 (Heun, EDM).
// The learner's budgets and horizons, the equal-NFE baselines and the comparison all count here.

import type { SamplerName, SamplerSettings } from './types';

/** The samplers whose cost is a fixed number of evaluations per step. */
export type StepSampler = Extract<SamplerName, 'euler' | 'heun' | 'edm'>;

/** NFE of a step that is not the last one: 1 (Euler) or 2 (Heun, EDM: Euler step + correction). */
export function fullStepCost(sampler: StepSampler): number {
  return sampler === 'euler' ? 1 : 2;
}

/** NFE of the step from level i of N: the last step (to t_N = 0) skips the correction. */
export function stepCost(sampler: StepSampler, level: number, N: number): number {
  return level === N - 1 ? 1 : fullStepCost(sampler);
}

/** NFE to finish from level j of N (0 from the terminal level N). */
export function nfeToFinish(sampler: StepSampler, j: number, N: number): number {
  let s = 0;
  for (let i = j; i < N; i++) s += stepCost(sampler, i, N);
  return s;
}

/** NFE of N steps from the start: N (Euler) or 2N − 1 (Heun, EDM). */
export function samplerNfe(sampler: StepSampler, N: number): number {
  return nfeToFinish(sampler, 0, N);
}

/** The most steps N whose NFE is at most `nfe` (may be 0 or less when `nfe` is below one step). */
export function stepsWithin(sampler: StepSampler, nfe: number): number {
  return sampler === 'euler' ? Math.floor(nfe) : Math.floor((nfe + 1) / 2);
}

/** The fewest steps N whose NFE is at least `nfe`. */
export function stepsReaching(sampler: StepSampler, nfe: number): number {
  return sampler === 'euler' ? Math.ceil(nfe) : Math.ceil((nfe + 1) / 2);
}

/**
 * NFE per sample of plain sampling (no policy) with `s`: N (Euler, DDIM, Euler–Maruyama: one evaluation per level,
 * DDIM's last step returns x̂_0), 2N − 1 (Heun, EDM), and for restart the Heun run plus, once at the
 * restart level, K restarts of n_restart Heun steps that all end above 0 (2 evaluations each).
 */
export function settingsNfe(s: Pick<SamplerSettings, 'sampler' | 'steps' | 'restart'>): number {
  switch (s.sampler) {
    case 'euler':
    case 'heun':
    case 'edm':
      return samplerNfe(s.sampler, s.steps);
    case 'ddim':
    case 'euler-maruyama':
      return s.steps;
    case 'restart':
      return samplerNfe('heun', s.steps) + 2 * s.restart.k * s.restart.steps;
  }
}
