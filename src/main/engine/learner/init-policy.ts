// The initial policy (paper, Section 5: policies start from the best hand-tuned sampler, and for
// renoise "continue at high noise, allow jumps later"): a σ-dependent profile the policy head is
// behaviour-cloned to before training.
//
//   target q(a | σ_l) = initMass on initAction            for σ_l in [initSigmaLo, initSigmaHi]
//                       initMassOutside on the neutral     elsewhere (w = 1, γ = 0, continue)
//                       the rest shared equally by the other actions
//   minimise  L = −(1/n) Σ_i Σ_a q(a | σ_i) log π_θ(a | s_i)   (cross-entropy to the profile)
//
// over expert states s_i = (x + σ_l·ε, σ_l, class, step l) at every level l of the schedule, until the
// policy's mean distribution at each level is within CLONE_TOLERANCE (total variation) of q.
//
// One profile covers the curves practitioners start from: a constant (window [0, ∞]), a guidance
// interval (Kynkäänniemi et al. 2024: w inside, 1 outside), EDM's churn window (γ inside [S_tmin,
// S_tmax], 0 outside) and "continue above σ_x" for renoise. The 'bias' profile is the first release's:
// one logit bonus on initAction at every level (no cloning).
//
// [Note: why clone rather than set the output bias]
// A bias cannot depend on σ; the weights of a policy that sees (x, σ) can. Cloning on noised data
// states is cheap (≤ 16,384 states — 64 per level for images — encoded once, a few hundred small Adam steps) and generalises to
// the states the sampler visits, which at every level lie close to the noised data (a test checks the
// profile on a rollout's states, not the training states). A separate Adam optimiser is used, so the
// run's optimiser starts fresh at iteration 0 as before.

import * as tf from '@tensorflow/tfjs';
import { deriveSeed, Stream } from '../samplers/random';
import { neutralAction, type LearnerConfig } from '../../../shared/learner-config';
import type { Mlp } from './heads';

/** Largest total variation between the cloned policy's mean distribution at a level and its target. */
export const CLONE_TOLERANCE = 0.01;

/** [N, K] the target distribution q(a | σ_l) at each level l of `schedule` (t_0 … t_{N−1}). */
export function initTargets(
  c: Pick<
    LearnerConfig,
    'intervention' | 'actions' | 'steps' | 'initAction' | 'initSigmaLo' | 'initSigmaHi' | 'initMass' | 'initMassOutside'
  >,
  schedule: Float64Array,
): Float64Array {
  const K = c.actions.length;
  const N = c.steps;
  const q = new Float64Array(N * K);
  const neutral = neutralAction(c);
  for (let l = 0; l < N; l++) {
    const sigma = schedule[l]!;
    const inside = sigma >= c.initSigmaLo && sigma <= c.initSigmaHi;
    // Outside the window without a neutral action cannot happen: parseLearnerConfig refuses it.
    const a = inside ? c.initAction : neutral;
    const mass = inside ? c.initMass : c.initMassOutside;
    for (let k = 0; k < K; k++) q[l * K + k] = k === a ? mass : (1 - mass) / (K - 1);
  }
  return q;
}

/** The states the profile is cloned on: noised data at every level, as the policy head sees them. */
export interface CloneStates {
  /** [n, D] the policy head's input. */
  input: Float32Array;
  /** [n] the level of each state. */
  level: Int32Array;
  n: number;
}

/**
 * States per level: enough to cover the data's modes, ≤ 16,384 in all; 64 for images (dim > 64),
 * whose states go through a conv encoder (fashion-mnist: ~150 states/s on 2 cores, so 18 × 64 take
 * ~8 s; the profile does not depend on x, so more states buy little).
 */
export function cloneStatesPerLevel(N: number, dim: number): number {
  return Math.max(8, Math.min(dim > 64 ? 64 : 256, Math.floor(16_384 / N)));
}

/** [N] total variation between the policy's mean distribution per level and the target. */
export function profileDistance(policy: Mlp, s: CloneStates, q: Float64Array, N: number): Float64Array {
  const K = policy.outDim;
  const mean = new Float64Array(N * K);
  const count = new Float64Array(N);
  const chunk = 4096;
  for (let i0 = 0; i0 < s.n; i0 += chunk) {
    const m = Math.min(s.n, i0 + chunk) - i0;
    const p = tf.tidy(() =>
      tf.softmax(
        policy.apply(tf.tensor2d(s.input.subarray(i0 * policy.inDim, (i0 + m) * policy.inDim), [m, policy.inDim])),
        -1,
      ),
    );
    const pv = p.dataSync();
    p.dispose();
    for (let r = 0; r < m; r++) {
      const l = s.level[i0 + r]!;
      count[l]!++;
      for (let a = 0; a < K; a++) mean[l * K + a]! += pv[r * K + a]!;
    }
  }
  const tv = new Float64Array(N);
  for (let l = 0; l < N; l++) {
    let d = 0;
    for (let a = 0; a < K; a++) d += Math.abs(mean[l * K + a]! / Math.max(1, count[l]!) - q[l * K + a]!);
    tv[l] = d / 2;
  }
  return tv;
}

/**
 * Behaviour-clones `policy` to the targets `q` ([N, K]) on `states`: Adam steps on minibatches of the
 * cross-entropy until every level is within CLONE_TOLERANCE or `maxSteps` pass. Returns the steps
 * taken and the largest total variation left.
 */
export function clonePolicy(
  policy: Mlp,
  states: CloneStates,
  q: Float64Array,
  N: number,
  seed: number,
  o: { maxSteps?: number; batch?: number; lr?: number } = {},
): { steps: number; maxDistance: number } {
  const maxSteps = o.maxSteps ?? 2000;
  const B = Math.min(o.batch ?? 1024, states.n);
  const D = policy.inDim;
  const K = policy.outDim;
  const rng = new Stream(deriveSeed(seed, 0xb0c1), 0);
  const opt = tf.train.adam(o.lr ?? 3e-3);
  let worst = Math.max(...profileDistance(policy, states, q, N));
  let step = 0;
  try {
    while (step < maxSteps && worst > CLONE_TOLERANCE) {
      // A random minibatch of states with their level's target.
      const inp = new Float32Array(B * D); // [B, D]
      const tgt = new Float32Array(B * K); // [B, K]
      for (let r = 0; r < B; r++) {
        const i = Math.floor(rng.uniform() * states.n);
        inp.set(states.input.subarray(i * D, (i + 1) * D), r * D);
        const l = states.level[i]!;
        for (let a = 0; a < K; a++) tgt[r * K + a] = q[l * K + a]!;
      }
      tf.tidy(() => {
        const x = tf.tensor2d(inp, [B, D]);
        const target = tf.tensor2d(tgt, [B, K]);
        opt.minimize(
          () => tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(policy.apply(x), -1)), 1))) as tf.Scalar,
          false,
          policy.params,
        );
      });
      step++;
      if (step % 25 === 0) worst = Math.max(...profileDistance(policy, states, q, N));
    }
  } finally {
    opt.dispose();
  }
  return { steps: step, maxDistance: worst };
}
