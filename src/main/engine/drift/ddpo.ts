// DDPO (the DDPO thesis in ../shared/papers, "Training diffusion models with reinforcement
// learning", Black et al. 2024: DDPO_IS), on a drift policy (policy.ts). The denoising MDP:
//   state   (x_t, σ_t) (and the class);  action  the next state x_{t−1};
//   policy  π_ψ(x_{t−1} | x_t) = N(m + c²·u_ψ, c²·I), the base sampler's step moved by the drift
//           (kernels.ts);  reward  r(x_0) at the end only, none on the way.
// Per iteration:
//   1  Sample trajectories with π_ψ, keeping every transition (policy.ts rollout).
//   2  Reward each final sample; advantages: the rewards standardised over the batch (or per class,
//      as the thesis does per prompt), clipped to ± advClip (thesis: 5).
//   3  PPO: for each transition the ratio ρ = π_ψ(x_{t−1}|x_t)/π_old(x_{t−1}|x_t) and the clipped
//      surrogate min(ρ·A, clip(ρ, 1 ± ε)·A), A its trajectory's advantage (thesis: ε = 1e-4, one
//      epoch of minibatches; our default ε is PPO's 0.2, drift-config.ts says why); Adam on minus
//      its mean.
// There is no KL term: DDPO maximises the reward alone, which is why it drifts furthest from the
// model (the q-learning paper's Table 3). DPOK (dpok.ts) adds the term through `klCoef` below.
//
// [Note: the old log-probability]
// log π_old is computed in this update, by the same float32 graph as log π_ψ, before the first
// gradient step — not taken from the rollout's float64 value — so the ratio starts at exactly 1: the
// rollout's float64 and the graph's float32 differ by more than DDPO's ε = 1e-4 on images (784
// squared residuals summed).

import * as tf from '@tensorflow/tfjs';
import type { Stream } from '../samplers/random';
import { minibatches, takeRows } from './batches';
import type { DriftPolicy, Transitions } from './policy';

export interface PolicyUpdate {
  /** Minus the mean clipped surrogate (plus the KL term with klCoef > 0), over the update's minibatches. */
  loss: number;
  /** Mean of (ρ − 1) − log ρ: an estimate of KL(π_old ‖ π_ψ) per step. */
  approxKl: number;
  /** Share of transitions whose ratio left [1 − ε, 1 + ε]. */
  clipFrac: number;
  /** Mean per-step KL(π_ψ ‖ base) = c²|u|²/2 over the transitions, after the update. */
  stepKl: number;
}

/** Batch-standardised advantages clipped to ± `clip` (step 2); `groups` (per trajectory, e.g. its class): standardised within each. */
export function ddpoAdvantages(rewards: Float64Array, clip: number, groups?: Int32Array | null): Float64Array {
  const n = rewards.length;
  const out = new Float64Array(n);
  const keys = groups ? Array.from(new Set(groups)) : [0];
  for (const g of keys) {
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (!groups || groups[i] === g) idx.push(i);
    const mean = idx.reduce((a, i) => a + rewards[i]!, 0) / idx.length;
    const sd = Math.sqrt(idx.reduce((a, i) => a + (rewards[i]! - mean) ** 2, 0) / idx.length);
    for (const i of idx) out[i] = Math.max(-clip, Math.min(clip, (rewards[i]! - mean) / (sd + 1e-8)));
  }
  return out;
}

/** log π_ψ(x'|x) up to its constant (which cancels in ρ): −|x' − m − c·v_ψ|²/(2c²), [B]; and KL_t. Call inside tf.tidy. */
export function logProbTensor(
  p: DriftPolicy,
  b: { inputs: tf.Tensor2D; mean: tf.Tensor2D; xNext: tf.Tensor2D; c: tf.Tensor1D },
): { logp: tf.Tensor1D; kl: tf.Tensor1D } {
  const shift = p.shiftTensor(b.inputs, b.c);
  const r = tf.sub(tf.sub(b.xNext, b.mean), shift);
  const logp = tf.neg(tf.div(tf.sum(tf.square(r), 1), tf.mul(2, tf.square(b.c)))) as tf.Tensor1D;
  // KL(π_ψ ‖ base) = c²|u|²/2 = |shift|²/(2c²) per transition (kernels.ts): |v|²/2.
  const kl = tf.div(tf.sum(tf.square(shift), 1), tf.mul(2, tf.square(b.c))) as tf.Tensor1D;
  return { logp, kl };
}

/**
 * Step 3: `epochs` passes of shuffled minibatches of the clipped surrogate over the transitions, with
 * A = advantages[trajectory]; `klCoef` > 0 adds klCoef × the mean per-step KL to the base sampler to
 * the loss (DPOK, dpok.ts).
 */
export function ppoDriftUpdate(
  p: DriftPolicy,
  optimizer: tf.Optimizer,
  tr: Transitions,
  advantages: Float64Array,
  o: { clip: number; epochs: number; minibatch: number; klCoef: number; rng: Stream },
): PolicyUpdate {
  const T = tr.count;
  if (T === 0) return { loss: 0, approxKl: 0, clipFrac: 0, stepKl: 0 };
  const { inputDim: D, dim } = tr;
  const batchOf = (idx: ArrayLike<number>) => ({
    inputs: tf.tensor2d(takeRows(tr.inputs, D, idx), [idx.length, D]),
    mean: tf.tensor2d(takeRows(tr.mean, dim, idx), [idx.length, dim]),
    xNext: tf.tensor2d(takeRows(tr.xNext, dim, idx), [idx.length, dim]),
    c: tf.tensor1d(takeRows(tr.c, 1, idx)),
  });
  // log π_old: this graph, before any step (see the note).
  const old = new Float32Array(T);
  for (let s = 0; s < T; s += o.minibatch) {
    const idx = Int32Array.from({ length: Math.min(o.minibatch, T - s) }, (_, q) => s + q);
    const lp = tf.tidy(() => logProbTensor(p, batchOf(idx)).logp);
    old.set(lp.dataSync() as Float32Array, s);
    lp.dispose();
  }
  let [loss, kl, cf, batches] = [0, 0, 0, 0];
  for (const idx of minibatches(T, o.minibatch, o.epochs, o.rng)) {
    const oldB = Float32Array.from(idx, (k) => old[k]!);
    const advB = Float32Array.from(idx, (k) => advantages[tr.trajectory[k]!]!);
    let aux: { kl: tf.Scalar; cf: tf.Scalar } | null = null;
    const l = optimizer.minimize(
      () => {
        const { logp, kl: stepKl } = logProbTensor(p, batchOf(idx));
        const logRatio = tf.sub(logp, tf.tensor1d(oldB));
        const ratio = tf.exp(logRatio);
        const adv = tf.tensor1d(advB);
        const surrogate = tf.minimum(tf.mul(ratio, adv), tf.mul(tf.clipByValue(ratio, 1 - o.clip, 1 + o.clip), adv));
        aux = {
          kl: tf.keep(tf.mean(tf.sub(tf.sub(ratio, 1), logRatio)) as tf.Scalar),
          cf: tf.keep(tf.mean(tf.cast(tf.greater(tf.abs(tf.sub(ratio, 1)), o.clip), 'float32')) as tf.Scalar),
        };
        const pg = tf.neg(tf.mean(surrogate));
        return (o.klCoef > 0 ? tf.add(pg, tf.mul(o.klCoef, tf.mean(stepKl))) : pg) as tf.Scalar;
      },
      true,
      p.net.params,
    ) as tf.Scalar;
    loss += l.dataSync()[0]!;
    kl += aux!.kl.dataSync()[0]!;
    cf += aux!.cf.dataSync()[0]!;
    tf.dispose([l, aux!.kl, aux!.cf]);
    batches++;
  }
  // The per-step KL to the base sampler after the update, for the logs.
  let stepKl = 0;
  for (let s = 0; s < T; s += o.minibatch) {
    const idx = Int32Array.from({ length: Math.min(o.minibatch, T - s) }, (_, q) => s + q);
    const k = tf.tidy(() => tf.sum(logProbTensor(p, batchOf(idx)).kl));
    stepKl += k.dataSync()[0]!;
    k.dispose();
  }
  return { loss: loss / batches, approxKl: kl / batches, clipFrac: cf / batches, stepKl: stepKl / T };
}
