// The RL step scheduler (the third paper in ../shared/papers: a self-supervised RL agent that learns,
// per sample, how far to step next under an NFE budget), adapted to a frozen denoiser D in EDM's σ.
//
// MDP (paper, Sec. 4.1):
//   state   s_k = (φ(x_t, t), normalised noise level ℓ = (ln t − ln σ_min)/(ln σ_max − ln σ_min), step
//           k/K_max, remaining budget (B − spent)/B); φ c_in·x pooled to ≤ 64 values, or the model's
//           encoder (setting `state`; learner/encoder.ts, [Note: the scheduler's state])
//   action  Δ ∈ (0, 1), the fraction of the remaining log-σ range to step:
//             ln t' = ln t − Δ·(ln t − ln σ_min)
//           squashing: u ~ N(μ_θ(s), s_i²), Δ = sigmoid(u); PPO's ratio is taken on u (the squashing's
//           Jacobian is the same for the old and the new policy and cancels)
//   μ_θ     = logit(1/(K_left + 1)) + MLP_θ(s): a residual over a log-linear ladder (baseLogit), with
//           K_left decisions left (the output layer starts near 0)
//   std     s_i fixed, decaying exponentially from stdStart to stdEnd over the iterations (the paper
//           found a learned std unstable)
//   steps   the sampler's step (Euler, or Heun: Karras et al. 2022 Alg. 1) from t to t', every row its own
//   end     at σ_min, or when a further decision and the last step would pass the budget B: then a last
//           step to σ = 0 (1 evaluation), no decision. An episode may end under budget.
//   reward  sparse, at the end only (γ = 1): R = max_{d ∈ D} S(f(x_0), f(d)), S the Pearson correlation of
//           the two feature vectors (paper, Eq. 1–2), D a fresh batch of real samples each iteration;
//           or (reward 'nearest') R = −min_d ‖f(x_0) − f(d)‖² / Σ Var f; or (reward 'occupancy') the
//           inverse-RL learner's −ψ(r) of an f-divergence, r = exp D(f(x_0)), D a discriminator of real
//           features against final samples' (standardised by the data's), trained each iteration
//
// Algorithm (per iteration i):
//   1  Roll out `trajectories` episodes with the stochastic policy at std s_i, recording (s_k, u_k, log π(u_k)).
//   2  Reward each final sample against `rewardSamples` real samples drawn afresh.
//   3  Advantages: the episode's reward, standardised over the batch ((R − mean)/std), for each of its
//      decisions (batch-standardised advantages, no critic).
//   4  PPO: `ppoEpochs` epochs of minibatches of the clipped surrogate on the Gaussian log-probability.
//   5  Every `evalEvery` iterations (and at the end): the deterministic policy (u = μ) on `evalSamples`
//      samples of the evaluation seed, FID against the model's data.

import { openRewards, type Rewards } from '../rewards';
import { parseRewardSpec } from '../../../shared/reward-spec';
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model';
import { encoderForModel, pooledEncoder, type StateEncoder } from '../learner/encoder';
import { Mlp } from '../learner/heads';
import { checkCancelled } from '../cancel';
import { fullStepCost } from '../samplers/cost';
import { makeStep, resolveSettings, scheduleFor, type ResolvedSettings } from '../samplers/generate';
import type { StepFn, StepInput } from '../samplers/loop';
import { deriveSeed, StackedRandom, Stream } from '../samplers/random';
import { evaluateSamples, referenceFor, type Reference } from '../metrics/evaluate';
import { extractorForModel, type FeatureExtractor } from '../metrics/features';
import type { SchedulerConfig } from '../../../shared/scheduler-config';
import { rewardOf } from '../learner/divergences';

/** Inputs of the policy MLP beyond the state features: ℓ, k/K_max, remaining budget. */
const EXTRA_INPUTS = 3;

/**
 * logit Δ of the baseline step with K_left decisions left: Δ = 1/(K_left + 1), the log-linear ladder
 * that splits the range down to σ_min into K_left + 1 equal parts and leaves the last one to the
 * final step to 0. (Δ = 1/K_left would end every episode on σ_min itself, where the step to 0 is a
 * wasted evaluation: optimize-schedule moves that last level up, e.g. to 0.056 for Euler at NFE 5 on
 * gmm-ring8-exact.)
 */
export function baseLogit(kLeft: number): number {
  const d = 1 / (Math.max(1, kLeft) + 1);
  return Math.log(d / (1 - d));
}

/** The most decisions an episode can take: each costs a step, and the last step to 0 costs 1. */
export function maxDecisions(c: Pick<SchedulerConfig, 'sampler' | 'nfeBudget'>): number {
  return Math.floor((c.nfeBudget - 1) / fullStepCost(c.sampler));
}

/** Pearson correlation of two vectors (paper, Eq. 2: each centred by its own mean over the features). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let k = 0; k < n; k++) [ma, mb] = [ma + a[k]!, mb + b[k]!];
  [ma, mb] = [ma / n, mb / n];
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let k = 0; k < n; k++) {
    const [x, y] = [a[k]! - ma, b[k]! - mb];
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/**
 * The terminal rewards of n samples' features [n, d] against real features [m, d] (paper, Eq. 1):
 * pearson — the largest Pearson correlation with any of the m; nearest — minus the smallest squared
 * distance to them over `scale` (Σ of the features' variances).
 */
export function terminalRewards(
  kind: SchedulerConfig['reward'],
  fake: Float32Array,
  n: number,
  real: Float32Array,
  m: number,
  d: number,
  scale = 1,
): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const f = fake.subarray(i * d, (i + 1) * d);
    let best = -Infinity;
    for (let j = 0; j < m; j++) {
      const r = real.subarray(j * d, (j + 1) * d);
      let v: number;
      if (kind === 'pearson') v = pearson(f, r);
      else {
        let s = 0;
        for (let k = 0; k < d; k++) s += (f[k]! - r[k]!) ** 2;
        v = -s / scale;
      }
      if (v > best) best = v;
    }
    out[i] = best;
  }
  return out;
}

/** What one batch of episodes leaves behind. */
export interface Episodes {
  n: number;
  /** [n, dim] final samples, [n] their classes. */
  samples: Float32Array;
  labels: Int32Array | null;
  /** [n] evaluations spent, and decisions taken. */
  nfe: Int32Array;
  decisions: Int32Array;
  /** Each row's levels t_0 = σ_max > … > 0 as visited. */
  levels: number[][];
  /** Decisions (recorded episodes only): policy inputs [T, D], base logits, u, log π(u), episode. */
  inputs: Float32Array[];
  base: number[];
  u: number[];
  logp: number[];
  episode: number[];
}

export interface RolloutArgs {
  n: number;
  /** Seed of the episodes: classes, starting noise and the policy's draws, per row. */
  seed: number;
  /** The policy's std; null: deterministic (u = μ). */
  std: number | null;
  batch: number;
  record: boolean;
  signal?: AbortSignal;
  onProgress?: (samplesDone: number) => void;
}

/** The scheduler's policy and its rollouts on a model; training is `trainScheduler` below. */
export class SchedulerPolicy {
  readonly policy: Mlp;
  readonly settings: ResolvedSettings;
  private readonly step: StepFn;
  readonly kMax: number;
  /** μ from elsewhere (an exported file's session: export.ts openSchedulerFile) in place of the MLP; such a policy cannot record. */
  external: ((x: Float32Array, t: Float64Array, k: Int32Array, spent: Int32Array) => Promise<Float32Array>) | null =
    null;
  /** The run checkpoint's iteration its weights came from (train.ts loadSchedulerPolicy), else null. */
  iteration: number | null = null;

  private constructor(
    readonly model: Model,
    readonly config: SchedulerConfig,
    readonly encoder: StateEncoder,
  ) {
    this.kMax = maxDecisions(config);
    this.settings = resolveSettings(model, { sampler: config.sampler, steps: 2 });
    this.step = makeStep(model, this.settings, scheduleFor(model, this.settings), new StackedRandom(0));
    // A small output layer: the policy starts at the baseline ladder (μ ≈ baseLogit(K_left)).
    this.policy = new Mlp(encoder.dim + EXTRA_INPUTS, config.hidden, config.layers, 1, config.seed, {
      outScale: 0.01,
    });
  }

  static async create(model: Model, config: SchedulerConfig): Promise<SchedulerPolicy> {
    const encoder =
      config.state === 'encoder' ? await encoderForModel(model) : pooledEncoder(model.shape, model.manifest.sigmaData);
    return new SchedulerPolicy(model, config, encoder);
  }

  get inputDim(): number {
    return this.encoder.dim + EXTRA_INPUTS;
  }

  /** [m, D] policy inputs for rows at levels t with `spent` evaluations after k decisions. */
  private async inputsFor(x: Float32Array, t: Float64Array, k: Int32Array, spent: Int32Array): Promise<Float32Array> {
    const m = t.length;
    const feat = await this.encoder.encode(x, Float32Array.from(t), m);
    const D = this.inputDim;
    const fd = this.encoder.dim;
    const { sigmaMin, sigmaMax } = this.settings;
    const span = Math.log(sigmaMax) - Math.log(sigmaMin);
    const out = new Float32Array(m * D);
    for (let j = 0; j < m; j++) {
      out.set(feat.subarray(j * fd, (j + 1) * fd), j * D);
      out[j * D + fd] = (Math.log(t[j]!) - Math.log(sigmaMin)) / span;
      out[j * D + fd + 1] = k[j]! / Math.max(1, this.kMax);
      out[j * D + fd + 2] = (this.config.nfeBudget - spent[j]!) / this.config.nfeBudget;
    }
    return out;
  }

  /** K_left: the decisions still affordable with `spent` evaluations spent (each a step, then the last step to 0). */
  decisionsLeft(spent: number): number {
    return Math.floor((this.config.nfeBudget - spent - 1) / fullStepCost(this.config.sampler));
  }

  /** μ_θ(s) for m states: x [m, dim] at levels t after k decisions with `spent` evaluations (the exported file computes the same). */
  async means(x: Float32Array, t: Float64Array, k: Int32Array, spent: Int32Array): Promise<Float32Array> {
    const m = t.length;
    const mlp = this.policy.predict(await this.inputsFor(x, t, k, spent), m);
    return Float32Array.from(mlp, (v, j) => baseLogit(this.decisionsLeft(spent[j]!)) + v);
  }

  /** Runs n episodes (see the header), in batches. */
  async rollout(a: RolloutArgs): Promise<Episodes> {
    const { model, config: c } = this;
    const dim = model.dim;
    const out: Episodes = {
      n: a.n,
      samples: new Float32Array(a.n * dim),
      labels: model.numClasses > 0 ? new Int32Array(a.n) : null,
      nfe: new Int32Array(a.n),
      decisions: new Int32Array(a.n),
      levels: [],
      inputs: [],
      base: [],
      u: [],
      logp: [],
      episode: [],
    };
    const noise = new StackedRandom(a.seed);
    const draws = new StackedRandom(deriveSeed(a.seed, 0x5c4ed));
    const { sigmaMin, sigmaMax } = this.settings;
    for (let start = 0; start < a.n; start += a.batch) {
      const n = Math.min(a.batch, a.n - start);
      const rows = Int32Array.from({ length: n }, (_, j) => start + j);
      // Each row's class, then its starting noise, from its own stream (as generate draws them).
      const lab = model.numClasses > 0 ? noise.integer(model.numClasses, rows) : null;
      const labels = lab ? BigInt64Array.from(lab, BigInt) : null;
      const x = new Float32Array(n * dim);
      noise.normal(x, rows, dim);
      for (let k = 0; k < x.length; k++) x[k]! *= sigmaMax;
      const t = new Float64Array(n).fill(sigmaMax);
      const spent = new Int32Array(n);
      const decided = new Int32Array(n);
      const levels = Array.from({ length: n }, () => [sigmaMax]);
      for (;;) {
        checkCancelled(a.signal);
        const active: number[] = [];
        for (let j = 0; j < n; j++) if (t[j]! > 0) active.push(j);
        if (active.length === 0) break;
        const m = active.length;
        const tNext = new Float64Array(m);
        // Which rows decide: those above σ_min with room for a step and the last step to 0.
        const deciding: number[] = [];
        active.forEach((j, r) => {
          const room = c.nfeBudget - spent[j]! - fullStepCost(c.sampler) - 1 >= 0;
          if (t[j]! > sigmaMin * (1 + 1e-9) && room) deciding.push(r);
          else tNext[r] = 0;
        });
        if (deciding.length > 0) {
          const idx = deciding.map((r) => active[r]!);
          const xs = new Float32Array(idx.length * dim);
          idx.forEach((j, q) => xs.set(x.subarray(j * dim, (j + 1) * dim), q * dim));
          const tk = Float64Array.from(idx, (j) => t[j]!);
          const kk = Int32Array.from(idx, (j) => decided[j]!);
          const sk = Int32Array.from(idx, (j) => spent[j]!);
          if (this.external && a.record)
            throw new Error('a policy read from a file samples; it cannot record training episodes');
          // MLP_θ(s) (μ = baseline + it), or an exported file's μ less its baseline.
          const inputs = this.external ? null : await this.inputsFor(xs, tk, kk, sk);
          const mlp = inputs
            ? this.policy.predict(inputs, idx.length)
            : Float32Array.from(
                await this.external!(xs, tk, kk, sk),
                (v, q) => v - baseLogit(this.decisionsLeft(sk[q]!)),
              );
          const eps = new Float32Array(idx.length);
          if (a.std !== null)
            draws.normal(
              eps,
              Int32Array.from(idx, (j) => rows[j]!),
              1,
            );
          deciding.forEach((r, q) => {
            const j = active[r]!;
            const base = baseLogit(this.decisionsLeft(spent[j]!));
            const mu = base + mlp[q]!;
            const u = a.std === null ? mu : mu + a.std * eps[q]!;
            const delta = 1 / (1 + Math.exp(-u));
            // ln t' = ln t − Δ·(ln t − ln σ_min), never below σ_min, always below t.
            let next = model.roundSigma(Math.exp(Math.log(t[j]!) - delta * (Math.log(t[j]!) - Math.log(sigmaMin))));
            next = Math.max(sigmaMin, next);
            if (!(next < t[j]!)) next = sigmaMin;
            tNext[r] = next;
            decided[j]!++;
            if (a.record && inputs) {
              out.inputs.push(inputs.slice(q * this.inputDim, (q + 1) * this.inputDim));
              out.base.push(base);
              out.u.push(u);
              // log N(u; μ, s²) up to its constant (which cancels in the ratio and the KL estimate).
              out.logp.push(a.std === null ? 0 : -((u - mu) ** 2) / (2 * a.std * a.std));
              out.episode.push(start + j);
            }
          });
        }
        // The sampler's step, every active row from its t to its t'.
        const xa = new Float32Array(m * dim);
        active.forEach((j, r) => xa.set(x.subarray(j * dim, (j + 1) * dim), r * dim));
        const input: StepInput = {
          x: xa,
          tCur: Float64Array.from(active, (j) => t[j]!),
          tNext,
          level: new Int32Array(m),
          labels: labels ? BigInt64Array.from(active, (j) => labels[j]!) : null,
          guidance: null,
          guidanceAt: null,
          gamma: null,
          rows: Int32Array.from(active, (j) => rows[j]!),
          nfe: new Int32Array(m),
          networkEvals: new Int32Array(m),
          denoised: null,
          signal: a.signal ?? null,
          progress: null,
        };
        const xn = await this.step(input);
        active.forEach((j, r) => {
          x.set(xn.subarray(r * dim, (r + 1) * dim), j * dim);
          spent[j]! += input.nfe[r]!;
          t[j] = tNext[r]!;
          levels[j]!.push(tNext[r]!);
        });
      }
      out.samples.set(x, start * dim);
      if (out.labels && lab) out.labels.set(lab, start);
      out.nfe.set(spent, start);
      out.decisions.set(decided, start);
      out.levels.push(...levels);
      noise.release(rows);
      draws.release(rows);
      a.onProgress?.(start + n);
    }
    return out;
  }

  async dispose(): Promise<void> {
    this.policy.dispose();
    await this.encoder.dispose();
  }
}

/** One PPO update (step 4) on the recorded decisions with standardised episode advantages. */
export function ppoUpdate(
  p: SchedulerPolicy,
  optimizer: tf.Optimizer,
  ep: Episodes,
  advantage: Float64Array,
  std: number,
  rng: Stream,
): { loss: number; approxKl: number; clipFrac: number } {
  const c = p.config;
  const T = ep.u.length;
  const D = p.inputDim;
  const X = new Float32Array(T * D);
  ep.inputs.forEach((v, i) => X.set(v, i * D));
  const A = Float32Array.from(ep.episode, (e) => advantage[e]!);
  let [loss, kl, cf, batches] = [0, 0, 0, 0];
  const order = Int32Array.from({ length: T }, (_, i) => i);
  for (let epoch = 0; epoch < c.ppoEpochs; epoch++) {
    for (let i = T - 1; i > 0; i--) {
      const j = Math.floor(rng.uniform() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let s = 0; s < T; s += c.minibatch) {
      const idx = order.subarray(s, Math.min(T, s + c.minibatch));
      const m = idx.length;
      const xb = new Float32Array(m * D);
      idx.forEach((k, q) => xb.set(X.subarray(k * D, (k + 1) * D), q * D));
      const pick = (a: ArrayLike<number>) => Float32Array.from(idx, (k) => a[k]!);
      const [baseB, uB, oldB, advB] = [pick(ep.base), pick(ep.u), pick(ep.logp), pick(A)];
      let aux: { kl: tf.Scalar; cf: tf.Scalar } | null = null;
      const l = optimizer.minimize(
        () => {
          const mu = tf.add(tf.squeeze(p.policy.apply(tf.tensor2d(xb, [m, D])), [1]), tf.tensor1d(baseB));
          const logp = tf.div(tf.neg(tf.square(tf.sub(tf.tensor1d(uB), mu))), 2 * std * std);
          const logRatio = tf.sub(logp, tf.tensor1d(oldB));
          const ratio = tf.exp(logRatio);
          const adv = tf.tensor1d(advB);
          const surrogate = tf.minimum(tf.mul(ratio, adv), tf.mul(tf.clipByValue(ratio, 1 - c.clip, 1 + c.clip), adv));
          aux = {
            kl: tf.keep(tf.mean(tf.sub(tf.sub(ratio, 1), logRatio)) as tf.Scalar),
            cf: tf.keep(tf.mean(tf.cast(tf.greater(tf.abs(tf.sub(ratio, 1)), c.clip), 'float32')) as tf.Scalar),
          };
          return tf.neg(tf.mean(surrogate)) as tf.Scalar;
        },
        true,
        p.policy.params,
      ) as tf.Scalar;
      loss += l.dataSync()[0]!;
      kl += aux!.kl.dataSync()[0]!;
      cf += aux!.cf.dataSync()[0]!;
      l.dispose();
      aux!.kl.dispose();
      aux!.cf.dispose();
      batches++;
    }
  }
  return { loss: loss / batches, approxKl: kl / batches, clipFrac: cf / batches };
}

/** (R − mean)/(std + 1e-8) over the batch, std the population one (step 3). */
export function standardise(r: Float64Array): Float64Array {
  const n = r.length;
  const mean = r.reduce((a, v) => a + v, 0) / n;
  const sd = Math.sqrt(r.reduce((a, v) => a + (v - mean) ** 2, 0) / n);
  return r.map((v) => (v - mean) / (sd + 1e-8));
}

/** s_i = s_0·(s_end/s_0)^{i/(I−1)} (i = 0 … I−1). */
export function stdAt(c: Pick<SchedulerConfig, 'stdStart' | 'stdEnd' | 'iterations'>, i: number): number {
  return c.iterations <= 1 ? c.stdStart : c.stdStart * (c.stdEnd / c.stdStart) ** (i / (c.iterations - 1));
}

/** The reward's side: the extractor, the data's features, and the reward of an episode batch (step 2). */
export class RewardModel {
  private constructor(
    readonly extractor: FeatureExtractor,
    readonly reference: Reference,
    readonly model: Model,
    /** Σ of the data features' variances (the 'nearest' reward's scale). */
    readonly scale: number,
    /** Each data feature's mean and std (1 where it is constant): the discriminator's standardisation. */
    private readonly mean: Float32Array,
    private readonly std: Float32Array,
    /** Reward explicit: the run's rewards, opened ([Note: the scheduler's explicit rewards]). */
    private readonly explicit: Rewards | null = null,
  ) {}

  /** The terminal discriminator of the occupancy reward, and the data features' mean and std it standardises by. */
  private disc: { net: Mlp; opt: tf.Optimizer; mean: Float32Array; std: Float32Array } | null = null;

  static async create(
    model: Model,
    kind: SchedulerConfig['reward'],
    specs: readonly string[] = [],
  ): Promise<RewardModel> {
    // Explicit rewards first: a specification the model cannot take is refused before anything loads.
    const explicit =
      kind === 'explicit'
        ? await openRewards(
            model,
            specs.map((t) => parseRewardSpec(t)),
          )
        : null;
    const extractor = await extractorForModel(model).catch(async (e: unknown) => {
      await explicit?.dispose();
      throw e;
    });
    const reference = await referenceFor(model, extractor);
    const { features: f, n, dim: d } = reference.features;
    if (kind === 'pearson' && d < 3) {
      await extractor.dispose();
      throw new RangeError(
        `${model.name}'s features have ${d} dimension${d > 1 ? 's' : ''}: the Pearson correlation of two centred ${d}-vectors is always ±1 (no reward signal); use reward nearest`,
      );
    }
    // One pass over the data's features: each one's mean and variance (the discriminator standardises
    // by them; their sum is the 'nearest' reward's scale).
    const mean = new Float32Array(d);
    const variance = new Float64Array(d);
    for (let k = 0; k < d; k++) {
      let [s, s2] = [0, 0];
      for (let i = 0; i < n; i++) [s, s2] = [s + f[i * d + k]!, s2 + f[i * d + k]! ** 2];
      mean[k] = s / n;
      variance[k] = s2 / n - (s / n) ** 2;
    }
    const scale = variance.reduce((a, v) => a + v, 0);
    const std = Float32Array.from(variance, (v) => Math.sqrt(Math.max(v, 0)) || 1);
    return new RewardModel(extractor, reference, model, scale > 0 ? scale : 1, mean, std, explicit);
  }

  /** Rewards of the episodes' final samples (classes `labels`): explicit ones, or against `m` real samples drawn with `rng`. */
  async rewards(
    c: SchedulerConfig,
    samples: Float32Array,
    n: number,
    rng: Stream,
    labels: Int32Array | null = null,
  ): Promise<Float64Array> {
    if (this.explicit) return (await this.explicit.score(samples, n, labels)).total;
    const m = c.rewardSamples;
    const fake = await this.extractor.extract(samples, n);
    const { features: f, n: nr, dim: d } = this.reference.features;
    const real = new Float32Array(m * d);
    for (let j = 0; j < m; j++) {
      const i = Math.floor(rng.uniform() * nr);
      real.set(f.subarray(i * d, (i + 1) * d), j * d);
    }
    if (c.reward !== 'occupancy') return terminalRewards(c.reward, fake.features, n, real, m, d, this.scale);
    // Occupancy: D(f) estimates log p_data(f)/p_π(f) at the terminal state (BCE, data 1, samples 0);
    // the reward is the divergence's −ψ(r), r = exp D, as the inverse-RL learner's per state.
    const disc = (this.disc ??= this.newDiscriminator(c));
    const z = (a: Float32Array, rows: number): Float32Array =>
      Float32Array.from(a, (v, i) => (v - disc.mean[i % d]!) / disc.std[i % d]!).subarray(0, rows * d);
    const [fz, rz] = [z(fake.features, n), z(real, m)];
    const b = Math.min(256, n, m);
    for (let step = 0; step < c.discriminatorSteps; step++) {
      const pick = (src: Float32Array, rows: number): Float32Array => {
        const out = new Float32Array(b * d);
        for (let j = 0; j < b; j++) {
          const i = Math.floor(rng.uniform() * rows);
          out.set(src.subarray(i * d, (i + 1) * d), j * d);
        }
        return out;
      };
      const [xr, xf] = [pick(rz, m), pick(fz, n)];
      const loss = disc.opt.minimize(
        () => {
          const logits = tf.squeeze(disc.net.apply(tf.tensor2d([...xr, ...xf], [2 * b, d])), [1]);
          const labels = tf.concat([tf.ones([b]), tf.zeros([b])]);
          return tf.losses.sigmoidCrossEntropy(labels, logits) as tf.Scalar;
        },
        true,
        disc.net.params,
      );
      loss?.dispose();
    }
    const logR = disc.net.predict(fz, n);
    return rewardOf(
      c.divergence,
      Float64Array.from(logR, (v) => Math.exp(v)),
    );
  }

  private newDiscriminator(c: SchedulerConfig): NonNullable<RewardModel['disc']> {
    const net = new Mlp(this.reference.features.dim, c.hidden, 2, 1, c.seed + 1, { outScale: 1, xavierOut: true });
    return { net, opt: tf.train.adam(1e-3), mean: this.mean, std: this.std };
  }

  /** FID (and precision, recall) of samples against the model's data (step 5). */
  async evaluate(ep: Episodes): Promise<Record<string, number>> {
    const e = await evaluateSamples(
      {
        model: this.model,
        extractor: this.extractor,
        reference: this.reference,
        samples: ep.samples,
        n: ep.n,
        conditioning: ep.labels,
      },
      ['fid', 'precision', 'recall'],
    );
    return e.summary;
  }

  async dispose(): Promise<void> {
    this.disc?.net.dispose();
    this.disc?.opt.dispose();
    await this.extractor.dispose();
    await this.explicit?.dispose();
  }
}
