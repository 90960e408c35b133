// What an action does to the sampler, which actions are available, and for how long a trajectory
// runs — per intervention (paper, Section 2 and 5):
//   cfg      action a → guidance scale w = actions[a] for this step
//   gamma    action a → churn γ = actions[a] for this step (EDM Alg. 2: t̂ = t(1+γ))
//   renoise  action a → continue (0) or jump back actions[a] levels, adding √(t_j² − t_i²)·ε;
//            actions that could no longer reach the end within the NFE budget or the horizon are
//            masked, so every trajectory ends in budget.

import { fullStepCost, nfeToFinish, samplerNfe } from '../samplers/cost';
import type { StepControl } from '../samplers/types';
import type { LearnerConfig } from './config';

/**
 * Horizon H (loop iterations). cfg/gamma: N, one step per level. renoise: N plus room for the extra
 * steps the budget allows, and one iteration for each jump that starts them.
 */
export function horizonFor(c: Pick<LearnerConfig, 'intervention' | 'sampler' | 'steps' | 'nfeBudget'>): number {
  const N = c.steps;
  if (c.intervention !== 'renoise') return N;
  const spare = c.nfeBudget - samplerNfe(c.sampler, N);
  const extraSteps = Math.floor(spare / fullStepCost(c.sampler));
  return N + 2 * Math.max(0, extraSteps);
}

/** [n, K] availability (1 = allowed) for rows at `level` with `nfe` spent, before iteration `it`. */
export function actionMask(
  c: Pick<LearnerConfig, 'intervention' | 'actions' | 'sampler' | 'steps' | 'nfeBudget'>,
  level: Int32Array,
  nfe: Int32Array,
  it: number,
  H: number,
): Uint8Array {
  const K = c.actions.length;
  const n = level.length;
  const N = c.steps;
  const mask = new Uint8Array(n * K).fill(1);
  if (c.intervention !== 'renoise') return mask;
  for (let r = 0; r < n; r++) {
    for (let a = 0; a < K; a++) {
      const k = c.actions[a]!;
      if (k === 0) continue;
      const j = level[r]! - k;
      const ok =
        j >= 0 && level[r]! < N && nfe[r]! + nfeToFinish(c.sampler, j, N) <= c.nfeBudget && it + 1 + (N - j) <= H;
      if (!ok) mask[r * K + a] = 0;
    }
  }
  return mask;
}

/** The sampler control for chosen action indices ([n]). */
export function applyActions(
  c: Pick<LearnerConfig, 'intervention' | 'actions'>,
  actions: Int32Array,
  level: Int32Array,
): StepControl {
  const n = actions.length;
  switch (c.intervention) {
    case 'cfg':
      return { guidance: Float32Array.from(actions, (a) => c.actions[a]!) };
    case 'gamma':
      return { gamma: Float32Array.from(actions, (a) => c.actions[a]!) };
    case 'renoise': {
      const jumpTo = new Int32Array(n);
      for (let r = 0; r < n; r++) {
        const k = c.actions[actions[r]!]!;
        jumpTo[r] = k === 0 ? -1 : level[r]! - k;
      }
      return { jumpTo };
    }
  }
}
