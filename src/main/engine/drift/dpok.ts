// DPOK (Fan et al. 2023, "Reinforcement learning for fine-tuning text-to-image diffusion models",
// Algorithm 1), on a drift policy (policy.ts). Its objective is the reward regularised by the KL of
// the policy's trajectories to the pretrained model's,
//     max_ψ  E[r(x_0)] − β·E[ Σ_t KL(π_ψ(·|x_t) ‖ p_pre(·|x_t)) ],
// the sum over the steps being an upper bound of the KL of the final samples' distributions. Here
// p_pre is the base sampler's step on the frozen denoiser and the drift policy moves only its mean,
// so each KL_t = c_t²·|u_ψ(x_t)|²/2 is exact and differentiable (kernels.ts). Per iteration:
//   1  Sample trajectories with π_ψ, keeping every transition.
//   2  Reward each final sample; advantages standardised over the batch and clipped (as DDPO).
//   3  Gradient step on the clipped policy-gradient surrogate plus β·∇KL_t at the visited states
//      (DPOK's "KL regularisation" term; like DPOK, the KL's effect through the states is not
//      differentiated).
// [Note: DPOK's β in standardised units]
// The surrogate's gradient is that of E[Σ_t log π·A] with A = (r − mean)/sd_r: the reward divided by
// its batch std. For β to weigh the KL against the reward itself, whatever the reward's scale, the
// KL term is divided by the same sd_r: klCoef = β/sd_r, and both terms are means over the
// transitions (each trajectory contributes its N steps to both). β = 0 is DDPO with DPOK's update.

import type * as tf from '@tensorflow/tfjs';
import type { Stream } from '../samplers/random';
import { ddpoAdvantages, ppoDriftUpdate, type PolicyUpdate } from './ddpo';
import type { DriftPolicy, Transitions } from './policy';

/** Steps 2–3 for one batch: advantages from `rewards` (per trajectory), then the regularised update. */
export function dpokUpdate(
  p: DriftPolicy,
  optimizer: tf.Optimizer,
  tr: Transitions,
  rewards: Float64Array,
  o: {
    klWeight: number;
    clip: number;
    advClip: number;
    epochs: number;
    minibatch: number;
    rng: Stream;
    groups?: Int32Array | null;
  },
): PolicyUpdate {
  const n = rewards.length;
  const mean = rewards.reduce((a, v) => a + v, 0) / n;
  const sd = Math.sqrt(rewards.reduce((a, v) => a + (v - mean) ** 2, 0) / n);
  return ppoDriftUpdate(p, optimizer, tr, ddpoAdvantages(rewards, o.advClip, o.groups), {
    clip: o.clip,
    epochs: o.epochs,
    minibatch: o.minibatch,
    // See the note: β in the reward's units; a batch of equal rewards has no reward gradient, only the KL's.
    klCoef: o.klWeight / (sd > 1e-12 ? sd : 1),
    rng: o.rng,
  });
}
