// The learner's hyper-parameters are declared once, in src/shared/learner-config.ts (the type, the
// defaults, the checks, the flags and the form all come from there). This module adds what needs
// the engine: the check against the sampler's cost, and the initial action from a baseline.

import { ConfigError, parseLearnerConfig, type LearnerConfig } from '../../../shared/learner-config';
import { samplerNfe } from '../samplers/cost';

export {
  ACTION_PRESETS,
  CONDITIONINGS,
  ConfigError,
  defaultConfig,
  DIVERGENCES,
  INTERVENTIONS,
  learnerConfigFrom,
  parseLearnerConfig,
} from '../../../shared/learner-config';
export type { Conditioning, Divergence, Intervention, LearnerConfig } from '../../../shared/learner-config';

/** Checks a config: the schema's checks, then the NFE budget against the sampler (errors name the field). */
export function checkConfig(c: LearnerConfig): void {
  parseLearnerConfig(c);
  if (c.intervention === 'renoise') {
    const plain = samplerNfe(c.sampler, c.steps);
    if (!(c.nfeBudget >= plain))
      throw new ConfigError(
        `nfeBudget: renoise needs at least the plain sampler's ${plain} NFE (${c.sampler}, ${c.steps} steps), got ${c.nfeBudget}`,
      );
  }
}

/** Index of the action value nearest `value` (the initial policy favours it). */
export function nearestAction(actions: readonly number[], value: number): number {
  let best = 0;
  for (let a = 1; a < actions.length; a++)
    if (Math.abs(actions[a]! - value) < Math.abs(actions[best]! - value)) best = a;
  return best;
}

/**
 * The initial action from a baseline's settings (the paper's heuristic: start from the best hand-tuned
 * sampler): cfg → its guidance scale, gamma → its churn γ = min(S_churn/N, √2−1); renoise → continue.
 */
export function initActionFrom(
  c: Pick<LearnerConfig, 'intervention' | 'actions' | 'steps'>,
  s: { guidance?: number; churn?: number },
): number {
  switch (c.intervention) {
    case 'cfg':
      return nearestAction(c.actions, s.guidance ?? 1);
    case 'gamma':
      return nearestAction(c.actions, Math.min((s.churn ?? 0) / c.steps, Math.SQRT2 - 1));
    case 'renoise':
      return Math.max(0, c.actions.indexOf(0));
  }
}
