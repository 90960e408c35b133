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
//
// [Note: encode once, the expert pool]
// D sees states through the frozen encoder φ(x, σ), which for images costs half a denoiser pass
// per state. Encoding each minibatch afresh (2 × discriminatorBatch states a step, 220 steps in the
// first iteration) made the warm-up cost more than the rollout (fashion-mnist: 298 of 300 s). So
// both sides are pools encoded once per iteration, and minibatches draw rows of the pools:
//   - visited: the rollout's n·(H+1) states, their φ mostly the policy's own from the rollout
//     (learner.ts, step 1);
//   - expert: at each visited level l, P_l = min(v_l, ⌈B·steps / L⌉, discriminatorPool) data points
//     noised to the level with fresh noise, drawn from (seed, iteration) (v_l: visits at l, L: levels
//     visited, B: discriminatorBatch).
// ⌈B·steps / L⌉ is how many expert rows the steps draw at a level on average, so a short iteration
// encodes no more than it uses; v_l keeps the expert sample no larger than the policy's at a level;
// discriminatorPool bounds the cost. Its default, 128, is half the visits of a 256-trajectory
// rollout: on fashion-mnist (19 levels, an encoding ~½ a denoiser pass) the pool is 2,432 states next
// to the rollout's 4,864, and a steady iteration spent 81.5% of its time in the denoiser, against
// 79.4% with a pool of 256 (one side-by-side run, 2-core CPU; goal ≥ 75%).
// What this changes in the estimator: the expert half of L_D becomes an average over a finite
// sample of ρ_E(x|σ) (P_l states per level, redrawn every iteration) where it used fresh draws each
// step, the same kind of estimate the policy half always was (the rollout's v_l states). Within an
// iteration its sampling noise is that of P_l states, not of B·steps / L; across iterations D still
// sees new expert states (its weights, and their EMA, carry over), so the noise averages out as
// the policy's does. Reuse grows with the steps: each expert state is drawn B·steps / (L·P_l)
// times, ~4 in a 20-step iteration and ~46 in the 220-step warm-up (the visited states ~2 and ~23);
// D can fit a pool that small over the warm-up, and the next iteration's pool corrects it.
// Memory: φ of both pools, at most 2·n·(H+1)·E floats (fashion-mnist: 4,864 and 2,432 states × 128,
// 3.7 MB), and the expert pool's states while they are encoded, at most n·(H+1)·dim (what a rollout
// holds).

import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model';
import type { Stream } from '../samplers/random';
import type { LearnerConfig } from './config';
import type { StateEncoder } from './encoder';
import { featurize, inputDim, Mlp, type FeatureLayout } from './heads';
import { checkCancelled } from '../cancel';

/** The expert's states: data samples, with their class labels when the data has them. */
export interface ExpertData {
  /** [m, dim] */
  x: Float32Array;
  /** [m], or null when the data has no labels. */
  labels: Int32Array | null;
}

/** States at known noise levels, as drawn (the expert pool before it is encoded). */
export interface LevelStates {
  n: number;
  /** [n, dim] */
  x: Float32Array;
  /** [n] σ of the level; 0 at the terminal (clean) level N. */
  sigma: Float32Array;
  /** [n] level index 0 … N. */
  level: Int32Array;
  /** [n] class (the null class for unlabelled data), or null for unconditional models. */
  labels: Int32Array | null;
}

/** One side's states for D, each encoded once: φ and what else D's input takes, grouped by level. */
export interface StatePool {
  n: number;
  /** [n, E] φ(x, σ) of each state. */
  phi: Float32Array;
  /** [n] */
  sigma: Float32Array;
  /** [n] */
  level: Int32Array;
  /** [n], or null */
  labels: Int32Array | null;
  /** Row indices by level [N + 1][…]. */
  byLevel: number[][];
}

/** A minibatch as drawn: B rows of each pool, pairwise at the same level, and the 2B targets. */
export interface Minibatch {
  /** [B] rows of the expert pool (D's input rows 0 … B−1). */
  expert: Int32Array;
  /** [B] rows of the visited pool (D's input rows B … 2B−1). */
  visited: Int32Array;
  /** [2B] targets: 1 − ε(σ) for expert rows, ε(σ) for visited ones. */
  y: Float32Array;
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

  /** [n, inputDim(layout)] input for n states already encoded: φ [n, E], σ embedding, class. */
  inputFrom(phi: Float32Array, sigma: Float32Array, labels: Int32Array | null, n: number): Float32Array {
    return featurize(this.layout, { n, x: phi, sigma, labels, step: null }, this.model.sigmaMin);
  }

  /** [n, inputDim(layout)] input for n states, encoded here. */
  async input(x: Float32Array, sigma: Float32Array, labels: Int32Array | null, n: number): Promise<Float32Array> {
    return this.inputFrom(await this.encoder.encode(x, sigma, n), sigma, labels, n);
  }

  /** σ of a level (0 at the terminal level N). */
  private sigmaOf(level: number): number {
    return level >= this.config.steps ? 0 : this.schedule[level]!;
  }

  /** A pool of states with their features φ [n, E] (rows in the states' order). */
  pool(s: Omit<LevelStates, 'x'>, phi: Float32Array): StatePool {
    const byLevel: number[][] = Array.from({ length: this.config.steps + 1 }, () => []);
    for (let i = 0; i < s.n; i++) byLevel[s.level[i]!]!.push(i);
    return { n: s.n, phi, sigma: s.sigma, level: s.level, labels: s.labels, byLevel };
  }

  /**
   * [N + 1] expert states per level for `steps` training steps against `visited` (see the note on
   * the expert pool): min(v_l, ⌈B·steps / L⌉, discriminatorPool) at each visited level, 0 elsewhere.
   */
  expertPoolSizes(visited: StatePool, steps: number): Int32Array {
    const L = visited.byLevel.filter((v) => v.length > 0).length;
    const draws = L > 0 ? Math.ceil((this.config.discriminatorBatch * steps) / L) : 0;
    return Int32Array.from(visited.byLevel, (v) => Math.min(v.length, draws, this.config.discriminatorPool));
  }

  /** `sizes[l]` data points noised to each level l with fresh noise (label 1's states), by level. */
  drawExpert(expert: ExpertData, sizes: Int32Array, rng: Stream): LevelStates {
    const dim = this.model.dim;
    const nData = expert.x.length / dim;
    const n = sizes.reduce((a, b) => a + b, 0);
    const x = new Float32Array(n * dim); // [n, dim]
    const sigma = new Float32Array(n); // [n]
    const level = new Int32Array(n); // [n]
    const labels = this.model.numClasses > 0 ? new Int32Array(n) : null; // [n]
    let i = 0;
    sizes.forEach((size, l) => {
      const sl = this.sigmaOf(l);
      for (let k = 0; k < size; k++, i++) {
        // x = x_data + σ_l·ε
        const di = Math.floor(rng.uniform() * nData);
        for (let j = 0; j < dim; j++) x[i * dim + j] = expert.x[di * dim + j]! + sl * rng.normal();
        sigma[i] = sl;
        level[i] = l;
        if (labels) labels[i] = expert.labels ? expert.labels[di]! : this.model.nullClass!;
      }
    });
    return { n, x, sigma, level, labels };
  }

  /** Draws a minibatch: per pair a level uniformly among those both pools hold, then a row of each at it. */
  minibatch(visited: StatePool, expert: StatePool, rng: Stream): Minibatch {
    const c = this.config;
    const B = c.discriminatorBatch;
    const levels: number[] = [];
    visited.byLevel.forEach((v, l) => {
      if (v.length > 0 && expert.byLevel[l]!.length > 0) levels.push(l);
    });
    if (levels.length === 0) throw new RangeError('discriminator: no level holds both expert and visited states');
    const e = new Int32Array(B); // [B]
    const v = new Int32Array(B); // [B]
    const y = new Float32Array(2 * B); // [2B]
    for (let b = 0; b < B; b++) {
      const l = levels[Math.floor(rng.uniform() * levels.length)]!;
      const ls = (c.labelSmoothing * this.sigmaOf(l)) / this.sigmaMax;
      const ep = expert.byLevel[l]!;
      e[b] = ep[Math.floor(rng.uniform() * ep.length)]!;
      y[b] = 1 - ls;
      const vp = visited.byLevel[l]!;
      v[b] = vp[Math.floor(rng.uniform() * vp.length)]!;
      y[B + b] = ls;
    }
    return { expert: e, visited: v, y };
  }

  /** [2B, inputDim(layout)] D's input for a minibatch, from the pools' φ (no encoding). */
  batchInput(visited: StatePool, expert: StatePool, mb: Minibatch): Float32Array {
    const B = mb.expert.length;
    const E = this.encoder.dim;
    const phi = new Float32Array(2 * B * E); // [2B, E]
    const sigma = new Float32Array(2 * B); // [2B]
    const labels = expert.labels && visited.labels ? new Int32Array(2 * B) : null; // [2B]
    const take = (p: StatePool, rows: Int32Array, offset: number): void =>
      rows.forEach((r, b) => {
        phi.set(p.phi.subarray(r * E, (r + 1) * E), (offset + b) * E);
        sigma[offset + b] = p.sigma[r]!;
        if (labels) labels[offset + b] = p.labels![r]!;
      });
    take(expert, mb.expert, 0);
    take(visited, mb.visited, B);
    return this.inputFrom(phi, sigma, labels, 2 * B);
  }

  /** One Adam step on a minibatch's input [2B, D] and targets [2B]; its loss and accuracy. */
  update(input: Float32Array, y: Float32Array): { loss: number; accuracy: number } {
    const n = y.length;
    const [loss, accuracy] = tf.tidy(() => {
      const inp = tf.tensor2d(input, [n, inputDim(this.layout)]);
      const target = tf.tensor1d(y);
      let logitsOut: tf.Tensor | null = null;
      const l = this.opt.minimize(
        () => {
          const logits = this.net.apply(inp).reshape([n]);
          logitsOut = tf.keep(logits);
          return tf.losses.sigmoidCrossEntropy(target, logits) as tf.Scalar;
        },
        true,
        this.net.params,
      ) as tf.Scalar;
      const correct = tf.equal(tf.greater(logitsOut!, 0), tf.greater(target, 0.5));
      const acc = tf.mean(tf.cast(correct, 'float32'));
      (logitsOut as tf.Tensor | null)?.dispose();
      return [l.dataSync()[0]!, acc.dataSync()[0]!];
    });
    return { loss, accuracy };
  }

  /** `steps` Adam steps on minibatches of the expert and visited pools; their mean loss and accuracy. */
  train(
    visited: StatePool,
    expert: StatePool,
    steps: number,
    rng: Stream,
    signal?: AbortSignal,
    /** Called after each step with the steps done (progress for a long warm-up). */
    onStep?: (done: number) => void,
  ): { loss: number; accuracy: number } {
    let lossSum = 0;
    let accSum = 0;
    for (let s = 0; s < steps; s++) {
      if (s > 0) onStep?.(s);
      checkCancelled(signal); // the warm-up alone may be thousands of steps
      const mb = this.minibatch(visited, expert, rng);
      const r = this.update(this.batchInput(visited, expert, mb), mb.y);
      lossSum += r.loss;
      accSum += r.accuracy;
    }
    return { loss: steps > 0 ? lossSum / steps : NaN, accuracy: steps > 0 ? accSum / steps : NaN };
  }

  /** [n] logit D(s) of every state of a pool. */
  logits(p: StatePool): Float32Array {
    const E = this.encoder.dim;
    const out = new Float32Array(p.n); // [n]
    const chunk = 4096;
    for (let s = 0; s < p.n; s += chunk) {
      const e = Math.min(p.n, s + chunk);
      const input = this.inputFrom(
        p.phi.subarray(s * E, e * E),
        p.sigma.subarray(s, e),
        p.labels ? p.labels.subarray(s, e) : null,
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
