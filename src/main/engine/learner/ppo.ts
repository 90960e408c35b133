// PPO-clip (Schulman et al. 2017; paper Section 4.2) over a masked categorical policy: the loss,
// with the diagnostics CleanRL logs (approx KL, clip fraction, entropy), and the update — epochs of
// shuffled minibatches over one iteration's transitions (Algorithm 1, step 5; CleanRL ppo.py).
//
//   ρ = exp(log π_θ(a|s) − log π_old(a|s))
//   L = −mean( min(ρ·A, clip(ρ, 1−ε, 1+ε)·A) )          (minimised)
//   approxKl = mean((ρ − 1) − log ρ)                     (CleanRL's "k3" estimator, ≥ 0)
//   clipFrac = mean(|ρ − 1| > ε)
//   entropy  = mean over rows of −Σ_{a allowed} π(a) log π(a)
//   L_total  = L − c·entropy + β·KL(π_θ ‖ π_ref)           (c the entropy bonus, CleanRL's ent_coef; β the
//                                                         KL penalty of objective reward, against π_init; both 0 default)
//   KL(π_θ ‖ π_ref) = mean over rows of Σ_{a allowed} π_θ(a) (log π_θ(a) − log π_ref(a))
//
// [Note: masking]
// Disallowed actions (mask 0) get the logit MASKED_LOGIT = −1e9 before the log-softmax, so their
// probability is exactly 0 in float32 and they take no gradient (tf.where routes it to the allowed
// entries only). Logits are also floored at MASKED_LOGIT, so callers that already wrote −Infinity
// into masked entries do not produce −∞ − (−∞) = NaN. The entropy sums p·log p over allowed entries
// only (masked ones contribute exactly 0, not 0·(−1e9) or 0·(−∞)). A row with every action masked
// degrades to the uniform distribution rather than NaN (the learner never produces one).
//
// All intermediates live in a tf.tidy; only the four returned scalars survive. The loss is
// differentiable through `logits` (use it inside optimizer.minimize / tf.variableGrads / tf.grad).

import * as tf from '@tensorflow/tfjs';
import type { Stream } from '../samplers/random';
import type { LearnerConfig } from './config';
import type { Mlp } from './heads';
import { checkCancelled } from '../cancel';

/** The logit a masked action gets. */
export const MASKED_LOGIT = -1e9;

/** [B, K] log-probabilities of the categorical over allowed actions (mask 1 = allowed; no mask: all). */
export function logSoftmaxMasked(logits: tf.Tensor2D, mask?: tf.Tensor2D | null): tf.Tensor2D {
  return tf.tidy(() => {
    let z: tf.Tensor2D = tf.maximum(logits, MASKED_LOGIT);
    if (mask) z = tf.where(tf.greater(mask, 0.5), z, tf.fill(z.shape, MASKED_LOGIT)) as tf.Tensor2D;
    return tf.logSoftmax(z, -1) as tf.Tensor2D;
  });
}

export interface PpoLossArgs {
  /** [B, K] current logits (masked entries may already be −1e9 or −Infinity). */
  logits: tf.Tensor2D;
  /** [B] int32 actions taken. */
  actions: tf.Tensor1D;
  /** [B] log π_old(a|s) recorded at rollout time. */
  oldLogProbs: tf.Tensor1D;
  /** [B] advantages (already normalised). */
  advantages: tf.Tensor1D;
  /** Clip range ε. */
  clip: number;
  /** [B, K] 1 = allowed, 0 = masked. */
  mask?: tf.Tensor2D;
  /** Entropy bonus c ≥ 0: the loss is L − c·entropy ([Note: entropy bonus] in learner-config.ts). */
  entropyCoef?: number;
  /** [B, K] a reference policy's logits (at the same temperature) and β ≥ 0: the loss gains β·KL(π_θ ‖ π_ref). */
  reference?: { logits: tf.Tensor2D; coef: number };
}

export interface PpoLossOut {
  loss: tf.Scalar;
  approxKl: tf.Scalar;
  clipFrac: tf.Scalar;
  entropy: tf.Scalar;
  /** KL(π_θ ‖ π_ref), when a reference is given. */
  klReference?: tf.Scalar;
}

export function ppoClipLoss(args: PpoLossArgs): PpoLossOut {
  const { logits, actions, oldLogProbs, advantages, clip, mask, entropyCoef = 0 } = args;
  if (!(clip > 0)) throw new RangeError(`ppoClipLoss: clip must be positive, got ${clip}`);
  if (!(entropyCoef >= 0)) throw new RangeError(`ppoClipLoss: entropyCoef must be ≥ 0, got ${entropyCoef}`);
  const [B, K] = logits.shape;
  if (actions.shape[0] !== B || oldLogProbs.shape[0] !== B || advantages.shape[0] !== B) {
    throw new RangeError(
      `ppoClipLoss: batch sizes differ (logits ${B}, actions ${actions.shape[0]}, oldLogProbs ${oldLogProbs.shape[0]}, advantages ${advantages.shape[0]})`,
    );
  }
  if (mask && (mask.shape[0] !== B || mask.shape[1] !== K))
    throw new RangeError(`ppoClipLoss: mask shape [${mask.shape}] ≠ logits shape [${B}, ${K}]`);
  return tf.tidy(() => {
    const logp = logSoftmaxMasked(logits, mask ?? null);
    const onehot = tf.oneHot(tf.cast(actions, 'int32'), K).toFloat();
    // Σ_a onehot·logp: masked entries are finite (≈ −1e9), so 0·logp = 0 exactly.
    const newLogp = tf.sum(tf.mul(logp, onehot), 1);
    const logRatio = tf.sub(newLogp, oldLogProbs);
    const ratio = tf.exp(logRatio);
    const pg1 = tf.mul(tf.neg(advantages), ratio);
    const pg2 = tf.mul(tf.neg(advantages), tf.clipByValue(ratio, 1 - clip, 1 + clip));
    // max of the negated terms = −min(ρA, clip(ρ)A).
    const clipLoss = tf.mean(tf.maximum(pg1, pg2)) as tf.Scalar;

    const approxKl = tf.mean(tf.sub(tf.sub(ratio, 1), logRatio)) as tf.Scalar;
    const clipFrac = tf.mean(tf.cast(tf.greater(tf.abs(tf.sub(ratio, 1)), clip), 'float32')) as tf.Scalar;

    const p = tf.exp(logp);
    let plogp = tf.mul(p, logp);
    if (mask) plogp = tf.where(tf.greater(mask, 0.5), plogp, tf.zerosLike(plogp));
    const entropy = tf.neg(tf.mean(tf.sum(plogp, 1))) as tf.Scalar;
    let loss = entropyCoef > 0 ? (tf.sub(clipLoss, tf.mul(entropyCoef, entropy)) as tf.Scalar) : clipLoss;
    if (!args.reference) return { loss, approxKl, clipFrac, entropy };
    const { logits: refLogits, coef } = args.reference;
    if (!(coef >= 0)) throw new RangeError(`ppoClipLoss: the KL coefficient must be ≥ 0, got ${coef}`);
    // Σ over allowed actions of p (log p − log p_ref): masked entries are exactly 0 (see the note on masking).
    let terms = tf.mul(p, tf.sub(logp, logSoftmaxMasked(refLogits, mask ?? null)));
    if (mask) terms = tf.where(tf.greater(mask, 0.5), terms, tf.zerosLike(terms));
    const klReference = tf.mean(tf.sum(terms, 1)) as tf.Scalar;
    if (coef > 0) loss = tf.add(loss, tf.mul(coef, klReference)) as tf.Scalar;
    return { loss, approxKl, clipFrac, entropy, klReference };
  });
}

/**
 * Advantages from the learning signal g: (g − b) / (std(g − b) + 1e-8), std the population standard
 * deviation over the whole batch (divide by n, so a batch of one gives 0 rather than NaN), in float64.
 * The baseline b is mean(g) over the batch, or — given `groups` ([n] a group index per transition) —
 * the mean of g over the transitions of the same group (see the note on the per-step baseline in
 * learner.ts).
 */
export function normaliseAdvantages(g: Float64Array, groups?: Int32Array): Float64Array {
  const n = g.length;
  const out = new Float64Array(n);
  if (n === 0) return out;
  if (groups && groups.length !== n)
    throw new RangeError(`normaliseAdvantages: ${groups.length} group indices for ${n} values`);
  let G = 1;
  if (groups) for (const k of groups) G = Math.max(G, k + 1);
  const sum = new Float64Array(G);
  const count = new Float64Array(G);
  for (let i = 0; i < n; i++) {
    const k = groups ? groups[i]! : 0;
    sum[k]! += g[i]!;
    count[k]!++;
  }
  let v = 0;
  for (let i = 0; i < n; i++) {
    const k = groups ? groups[i]! : 0;
    out[i] = g[i]! - sum[k]! / count[k]!;
    v += out[i]! ** 2;
  }
  const std = Math.sqrt(v / n);
  for (let i = 0; i < n; i++) out[i] = out[i]! / (std + 1e-8);
  return out;
}

/** One iteration's transitions (s_t, a_t) as the update sees them; T transitions, K actions. */
export interface PpoBatch {
  /** [T, D] the policy head's input for each state s_t. */
  input: Float32Array;
  /** [T] the action a_t taken. */
  actions: Int32Array;
  /** [T] log π_old(a_t|s_t), recorded at rollout time. */
  oldLogProbs: Float32Array;
  /** [T, K] 1 = allowed in s_t. */
  mask: Uint8Array;
  /** [T] normalised advantages Â_t. */
  advantages: Float64Array;
  /** [T, K] the reference policy's raw logits (objective reward's π_init), for the KL penalty klCoef. */
  reference?: Float32Array;
}

/** Means over the minibatches of the update. */
export interface PpoStats {
  loss: number;
  approxKl: number;
  clipFrac: number;
  entropy: number;
  /** KL(π_θ ‖ π_ref) over the minibatches, when the batch has a reference. */
  klReference?: number;
}

/**
 * PPO-clip epochs: each epoch shuffles the T transitions (Fisher–Yates on `rng`) and takes one Adam
 * step of `opt` on `policy` per minibatch, the logits divided by the rollout temperature τ so the
 * ratio compares the distributions actions were drawn from.
 */
export function ppoUpdate(
  policy: Mlp,
  opt: tf.Optimizer,
  batch: PpoBatch,
  c: Pick<LearnerConfig, 'ppoEpochs' | 'ppoMinibatch' | 'clip' | 'temperature'> &
    Partial<Pick<LearnerConfig, 'entropyCoef' | 'klCoef'>>,
  rng: Stream,
  signal?: AbortSignal,
): PpoStats {
  const D = policy.inDim;
  const K = policy.outDim;
  const T = batch.actions.length;
  const order = Int32Array.from({ length: T }, (_, i) => i); // [T]
  const stats: PpoStats = { loss: 0, approxKl: 0, clipFrac: 0, entropy: 0 };
  let klSum = 0;
  let batches = 0;
  for (let e = 0; e < c.ppoEpochs; e++) {
    for (let i = T - 1; i > 0; i--) {
      const j = Math.floor(rng.uniform() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let s = 0; s < T; s += c.ppoMinibatch) {
      checkCancelled(signal);
      const idx = order.subarray(s, Math.min(T, s + c.ppoMinibatch));
      const m = idx.length;
      const inp = new Float32Array(m * D); // [m, D]
      const act = new Int32Array(m); // [m]
      const old = new Float32Array(m); // [m]
      const adv = new Float32Array(m); // [m]
      const mask = new Float32Array(m * K); // [m, K]
      const ref = batch.reference ? new Float32Array(m * K) : null; // [m, K]
      idx.forEach((k, r) => {
        ref?.set(batch.reference!.subarray(k * K, (k + 1) * K), r * K);
        inp.set(batch.input.subarray(k * D, (k + 1) * D), r * D);
        act[r] = batch.actions[k]!;
        old[r] = batch.oldLogProbs[k]!;
        adv[r] = batch.advantages[k]!;
        for (let a = 0; a < K; a++) mask[r * K + a] = batch.mask[k * K + a]!;
      });
      const out = tf.tidy(() => {
        const x = tf.tensor2d(inp, [m, D]);
        const maskT = tf.tensor2d(mask, [m, K]);
        const actT = tf.tensor1d(act, 'int32');
        const oldT = tf.tensor1d(old);
        const advT = tf.tensor1d(adv);
        const refT = ref ? (tf.div(tf.tensor2d(ref, [m, K]), c.temperature) as tf.Tensor2D) : null;
        let aux: { approxKl: tf.Scalar; clipFrac: tf.Scalar; entropy: tf.Scalar; kl: tf.Scalar | null } | null = null;
        const loss = opt.minimize(
          () => {
            const logits = tf.div(policy.apply(x), c.temperature) as tf.Tensor2D;
            const r = ppoClipLoss({
              logits,
              actions: actT,
              oldLogProbs: oldT,
              advantages: advT,
              clip: c.clip,
              mask: maskT,
              entropyCoef: c.entropyCoef ?? 0,
              ...(refT ? { reference: { logits: refT, coef: c.klCoef ?? 0 } } : {}),
            });
            aux = {
              approxKl: tf.keep(r.approxKl),
              clipFrac: tf.keep(r.clipFrac),
              entropy: tf.keep(r.entropy),
              kl: r.klReference ? tf.keep(r.klReference) : null,
            };
            return r.loss;
          },
          true,
          policy.params,
        ) as tf.Scalar;
        const a = aux!;
        const vals = [
          loss.dataSync()[0]!,
          a.approxKl.dataSync()[0]!,
          a.clipFrac.dataSync()[0]!,
          a.entropy.dataSync()[0]!,
          a.kl ? a.kl.dataSync()[0]! : 0,
        ];
        a.approxKl.dispose();
        a.clipFrac.dispose();
        a.entropy.dispose();
        a.kl?.dispose();
        return vals;
      });
      stats.loss += out[0]!;
      stats.approxKl += out[1]!;
      stats.clipFrac += out[2]!;
      stats.entropy += out[3]!;
      klSum += out[4]!;
      batches++;
    }
  }
  for (const k of ['loss', 'approxKl', 'clipFrac', 'entropy'] as const) stats[k] /= Math.max(1, batches);
  if (batch.reference) stats.klReference = klSum / Math.max(1, batches);
  return stats;
}
