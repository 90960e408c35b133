// The discriminator D(s) (paper, Section 4.2 "Density ratio estimation" and Appendix B.2): a binary
// classifier of expert states (data noised to a level, label 1) against states the policy visited
// (label 0), conditioned on the noise level. Its logit estimates the log density ratio at that
// level, log ρ_E(x|σ)/ρ_π(x|σ) (Eq. 10), from which the learner forms the occupancy ratio (Eq. 11).
//
//   L_D = BCE(D(x_E, σ), 1 − ε(σ)) + BCE(D(x_π, σ), ε(σ)),   ε(σ) = labelSmoothing · σ/σ_max
//
// The level is drawn uniformly among those the policy visited, and both halves of a minibatch sit
// at the same levels, so D compares the two distributions level by level. Label smoothing grows
// with σ: at high noise the states carry little information and hard labels give unstable
// gradients (Appendix B.1). Its output layer is Xavier-initialised (Appendix B, "Density Head").

import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model';
import type { Stream } from '../samplers/random';
import type { LearnerConfig } from './config';
import type { StateEncoder } from './encoder';
import { featurize, inputDim, Mlp, type FeatureLayout } from './heads';
import type { Rollout } from './rollout';
import { checkCancelled } from '../cancel';

/** The expert's states: data samples, with their class labels when the data has them. */
export interface ExpertData {
  /** [m, dim] */
  x: Float32Array;
  /** [m], or null when the data has no labels. */
  labels: Int32Array | null;
}

export class Discriminator {
  /** Its inputs: φ(x, σ), the σ embedding, and the class only when the data has labels. */
  readonly layout: FeatureLayout;
  /** D: [n, inputDim(layout)] → [n, 1] logit. */
  readonly net: Mlp;
  /** EMA copy of the weights (warm-up as the policy's; see Learner.step). */
  ema: Float32Array[];
  opt: tf.AdamOptimizer;

  /**
   * `schedule`: the noise levels t_0 … t_{N−1} (level N is the clean state, σ = 0); `sigmaMax`
   * scales the label smoothing.
   */
  constructor(
    private readonly model: Model,
    private readonly config: LearnerConfig,
    private readonly encoder: StateEncoder,
    private readonly schedule: Float64Array,
    private readonly sigmaMax: number,
  ) {
    const c = config;
    // The class input only when the data has labels: otherwise the class alone would tell expert
    // states (no label) from policy states (their conditioning class).
    const classes = model.numClasses > 0 && model.manifest.dataLabels !== null ? model.numClasses + 1 : 0;
    this.layout = { xDim: encoder.dim, sigmaFrequencies: c.sigmaFrequencies, classes, steps: 0 };
    this.net = new Mlp(inputDim(this.layout), c.hidden, c.layers, 1, c.seed * 2 + 2, { outScale: 1, xavierOut: true });
    this.ema = this.net.getWeights();
    this.opt = tf.train.adam(c.lrDiscriminator);
  }

  /** [n, inputDim(layout)] input for n states: φ(x, σ), σ embedding, class. */
  async input(x: Float32Array, sigma: Float32Array, labels: Int32Array | null, n: number): Promise<Float32Array> {
    return featurize(
      this.layout,
      { n, x: await this.encoder.encode(x, sigma, n), sigma, labels, step: null },
      this.model.sigmaMin,
    );
  }

  /** `steps` Adam steps on expert vs visited states of `ro`; returns their mean loss and accuracy. */
  async train(
    ro: Rollout,
    expert: ExpertData,
    steps: number,
    rng: Stream,
    signal?: AbortSignal,
  ): Promise<{ loss: number; accuracy: number }> {
    const c = this.config;
    const dim = this.model.dim;
    const N = c.steps;
    const nData = expert.x.length / dim;
    // Visited states by level (non-absorbing duplicates included once per visit).
    const byLevel: number[][] = Array.from({ length: N + 1 }, () => []);
    for (let i = 0; i < ro.level.length; i++) byLevel[ro.level[i]!]!.push(i);
    const levels = byLevel.map((v, l) => (v.length > 0 ? l : -1)).filter((l) => l >= 0);
    const B = c.discriminatorBatch;
    let lossSum = 0;
    let accSum = 0;
    for (let s = 0; s < steps; s++) {
      checkCancelled(signal); // the warm-up alone may be thousands of steps
      // Rows 0..B−1 expert, B..2B−1 policy, pairwise at the same level.
      const xs = new Float32Array(2 * B * dim); // [2B, dim]
      const sig = new Float32Array(2 * B); // [2B]
      const labs = this.model.numClasses > 0 ? new Int32Array(2 * B) : null; // [2B]
      const y = new Float32Array(2 * B); // [2B] targets
      for (let b = 0; b < B; b++) {
        const l = levels[Math.floor(rng.uniform() * levels.length)]!;
        const sl = l >= N ? 0 : this.schedule[l]!;
        const ls = (c.labelSmoothing * sl) / this.sigmaMax;
        // Expert: a data point noised to the level (label 1 − smoothing).
        const di = Math.floor(rng.uniform() * nData);
        for (let k = 0; k < dim; k++) xs[b * dim + k] = expert.x[di * dim + k]! + sl * rng.normal();
        sig[b] = sl;
        y[b] = 1 - ls;
        if (labs) labs[b] = expert.labels ? expert.labels[di]! : this.model.nullClass!;
        // Policy: a visited state at the same level (label smoothing).
        const pool = byLevel[l]!;
        const vi = pool[Math.floor(rng.uniform() * pool.length)]!;
        xs.set(ro.x.subarray(vi * dim, (vi + 1) * dim), (B + b) * dim);
        sig[B + b] = sl;
        y[B + b] = ls;
        if (labs) labs[B + b] = ro.labels ? ro.labels[vi]! : this.model.nullClass!;
      }
      const input = await this.input(xs, sig, labs, 2 * B);
      const [loss, acc] = tf.tidy(() => {
        const inp = tf.tensor2d(input, [2 * B, inputDim(this.layout)]);
        const target = tf.tensor1d(y);
        let logitsOut: tf.Tensor | null = null;
        const l = this.opt.minimize(
          () => {
            const logits = this.net.apply(inp).reshape([2 * B]);
            logitsOut = tf.keep(logits);
            return tf.losses.sigmoidCrossEntropy(target, logits) as tf.Scalar;
          },
          true,
          this.net.params,
        ) as tf.Scalar;
        const correct = tf.equal(tf.greater(logitsOut!, 0), tf.greater(target, 0.5));
        const accuracy = tf.mean(tf.cast(correct, 'float32'));
        (logitsOut as tf.Tensor | null)?.dispose();
        return [l.dataSync()[0]!, accuracy.dataSync()[0]!];
      });
      lossSum += loss;
      accSum += acc;
    }
    return { loss: steps > 0 ? lossSum / steps : NaN, accuracy: steps > 0 ? accSum / steps : NaN };
  }

  /** [n·(H+1)] logit D(s) of every state the rollout visited. */
  async logits(ro: Rollout): Promise<Float32Array> {
    const total = ro.n * (ro.H + 1);
    const dim = this.model.dim;
    const out = new Float32Array(total); // [n·(H+1)]
    const chunk = 4096;
    for (let s = 0; s < total; s += chunk) {
      const e = Math.min(total, s + chunk);
      const input = await this.input(
        ro.x.subarray(s * dim, e * dim),
        ro.sigma.subarray(s, e),
        ro.labels ? ro.labels.subarray(s, e) : null,
        e - s,
      );
      out.set(this.net.predict(input, e - s), s);
    }
    return out;
  }

  dispose(): void {
    this.net.dispose();
    this.opt.dispose();
  }
}
