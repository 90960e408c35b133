// Inverse-RL sampler learning ("Learning to Sample from Diffusion Models via Inverse RL",
// Algorithm 1): match the sampler's state occupancy ρ_π to the data's ρ_E under an f-divergence.
//
//   for each iteration:
//     1. Roll out the policy: every sample of a batch is an agent; at each step the policy picks an
//        action (guidance w, churn γ, or a jump back) for its own state (x_t, σ_t).
//     2. Train the discriminator D(s) on expert states (data noised to the level, label 1) against
//        visited states (label 0), σ-level drawn uniformly, label smoothing growing with σ.
//     3. Occupancy ratio r(s) = [w_E(σ)/w_π(σ)]·exp(logit D(s))  (Eq. 11), reward −ψ(r(s)).
//     4. Learning signal G_t = Σ_{t'>t} reward(s_{t'}); advantages = (G − mean)/std over the batch.
//     5. PPO-clip epochs over minibatches of (s_t, a_t), the ratio r held fixed.
//     6. EMA of both heads; metrics, checkpoint, periodic evaluation.
//
// [Note: occupancy over H + 1 states]
// A trajectory visits s_0 … s_H (H = horizon); once at the terminal (clean) state it stays there,
// each remaining iteration counting as a visit. Expert weights: 1/(H+1) on each non-terminal level
// and the rest, (H+1−N)/(H+1), on the terminal one — so for cfg/gamma (H = N) every level weighs
// the same, and for renoise the terminal weight is the time the policy should spend finished.

import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Model } from '../models/model';
import { loadData } from '../models/data';
import { writeFileAtomic } from '../io/atomic';
import { resolveSettings, scheduleFor, type ResolvedSettings } from '../samplers/generate';
import { deriveSeed, Stream } from '../samplers/random';
import { checkConfig, type LearnerConfig } from './config';
import { rewardOf } from './divergences';
import { featurize, inputDim, Mlp, emaUpdate, type FeatureLayout, type StateBatch } from './heads';
import { horizonFor } from './interventions';
import { rolloutPolicy, type LogitsFn, type PolicySpec, type PolicyStates, type Rollout, type SampleOptions, type SamplingPolicy } from './rollout';
import { normaliseAdvantages, ppoClipLoss } from './ppo';
import { initTf } from './backend';
import { encoderForModel, preconditionedEncoder, type StateEncoder } from './encoder';
import { VERSION } from '../../../shared/version';
import { infReplacer, infReviver } from '../../../shared/json';
import { evaluateSamples, referenceFor, type EvalResult, type MetricName, type Reference } from '../metrics/evaluate';
import { extractorForModel, type FeatureExtractor } from '../metrics/features';
import { profileHeatmap, samplePng } from '../pictures';
import { writePng } from '../io/png';
import type { EngineEvent } from '../../../shared/events';


export class Learner implements SamplingPolicy {
  readonly layout: FeatureLayout;
  readonly densityLayout: FeatureLayout;
  readonly policy: Mlp;
  readonly density: Mlp;
  policyEma: Float32Array[];
  densityEma: Float32Array[];
  optPolicy: tf.AdamOptimizer;
  optDensity: tf.AdamOptimizer;
  readonly H: number;
  readonly settings: ResolvedSettings;
  readonly schedule: Float64Array;
  iteration = 0;
  private data: Float32Array | null = null;
  private dataLabels: Int32Array | null = null;
  readonly sigmaData: number;

  /** The frozen state encoder φ(x, σ) in front of both heads. */
  readonly encoder: StateEncoder;

  /** `encoder`: the model's ONNX encoder (see createLearner); c_in·x when the model names none. */
  constructor(
    readonly model: Model,
    readonly config: LearnerConfig,
    encoder?: StateEncoder,
  ) {
    checkConfig(config);
    if (!encoder && model.manifest.encoder) throw new RangeError(`${model.name} names an encoder ONNX; load it first (createLearner)`);
    this.encoder = encoder ?? preconditionedEncoder(model.dim, model.manifest.sigmaData);
    const c = config;
    const K = c.actions.length;
    this.settings = resolveSettings(model, { sampler: c.sampler, steps: c.steps, guidance: 1, churn: 0 });
    this.H = horizonFor(c);
    this.schedule = scheduleFor(model, this.settings);
    const classes = model.numClasses > 0 ? model.numClasses + 1 : 0;
    this.layout = {
      xDim: c.conditioning === 'sigma' ? 0 : this.encoder.dim,
      sigmaFrequencies: c.sigmaFrequencies,
      classes: c.conditioning === 'state+class' ? classes : 0,
      steps: c.stepInput ? this.H + 1 : 0,
    };
    // The discriminator sees the class only when the data has labels: otherwise the class input
    // alone would tell expert states (no label) from policy states (their conditioning class).
    const dataLabels = model.manifest.dataLabels !== null;
    this.densityLayout = { xDim: this.encoder.dim, sigmaFrequencies: c.sigmaFrequencies, classes: dataLabels ? classes : 0, steps: 0 };
    if (c.conditioning === 'state+class' && model.numClasses === 0) {
      throw new RangeError(`conditioning "state+class" needs a class-conditional model; ${model.name} is unconditional (use "state")`);
    }
    if (c.intervention === 'cfg' && (model.numClasses === 0 || model.nullClass === null)) {
      throw new RangeError(`the cfg intervention needs a class-conditional model with a null class; ${model.name} has ${model.numClasses === 0 ? 'no classes' : 'no null class'}`);
    }
    const bias = new Float32Array(K);
    bias[c.initAction] = c.initBias;
    this.policy = new Mlp(inputDim(this.layout), c.hidden, c.layers, K, c.seed * 2 + 1, { outScale: 0.01, outBias: bias });
    this.density = new Mlp(inputDim(this.densityLayout), c.hidden, c.layers, 1, c.seed * 2 + 2, { outScale: 1, xavierOut: true });
    this.policyEma = this.policy.getWeights();
    this.densityEma = this.density.getWeights();
    this.optPolicy = tf.train.adam(c.lrPolicy);
    this.optDensity = tf.train.adam(c.lrDiscriminator);
    this.sigmaData = model.manifest.sigmaData;
  }

  /** The policy head's input for n states: φ(x, σ) (unless σ-only), σ embedding, class, step. */
  async policyInput(s: { x: Float32Array; sigma: Float32Array; labels: Int32Array | null; step: Int32Array | null; n: number }): Promise<Float32Array> {
    const b: StateBatch = { n: s.n, x: this.layout.xDim > 0 ? await this.encoder.encode(s.x, s.sigma, s.n) : null, sigma: s.sigma, labels: s.labels, step: s.step };
    return featurize(this.layout, b, this.model.sigmaMin);
  }

  /** The density head's input for n states: φ(x, σ), σ embedding, class. */
  async densityInput(x: Float32Array, sigma: Float32Array, labels: Int32Array | null, n: number): Promise<Float32Array> {
    return featurize(this.densityLayout, { n, x: await this.encoder.encode(x, sigma, n), sigma, labels, step: null }, this.model.sigmaMin);
  }

  private async loadData(): Promise<void> {
    if (this.data) return;
    const data = await loadData(this.model);
    if (!data) throw new RangeError(`${this.model.name} has no data samples ("data" in model.json); the expert occupancy needs them`);
    this.data = data.x;
    this.dataLabels = data.labels;
  }

  /** What sampling with this learner's policy needs (its config). */
  get spec(): PolicySpec {
    return this.config;
  }

  /** [n, K] logits of the policy head as it is now (current or EMA weights, see rollout). */
  readonly logits: LogitsFn = async (s) => this.policy.predict(await this.policyInput(s), s.n);

  /** Runs `fn` with the EMA weights in the policy head, restoring the current ones after. */
  private async withEma<T>(fn: () => Promise<T>): Promise<T> {
    const saved = this.policy.getWeights();
    this.policy.setWeights(this.policyEma);
    try {
      return await fn();
    } finally {
      this.policy.setWeights(saved);
    }
  }

  /** Step 1: roll out the current policy (temperature τ) for `n` trajectories. */
  async rollout(n: number, seed: number, opts: { temperature: number; weights?: 'current' | 'ema'; signal?: AbortSignal } = { temperature: 1 }): Promise<Rollout> {
    const run = (): Promise<Rollout> => rolloutPolicy(this.model, this.settings, this.config, this.H, this.logits, n, seed, { temperature: opts.temperature, batch: this.config.rolloutBatch, signal: opts.signal });
    return opts.weights === 'ema' ? this.withEma(run) : run();
  }

  /** [n, K] logits of the EMA policy head (what evaluation and export use). */
  emaLogits(s: PolicyStates): Promise<Float32Array> {
    return this.withEma(() => this.logits(s));
  }

  /** SamplingPolicy: the EMA heads, states not recorded (evaluation, `sample --policy`). */
  sample(n: number, seed: number, o: SampleOptions): Promise<Rollout> {
    return this.withEma(() => rolloutPolicy(this.model, this.settings, this.config, this.H, this.logits, n, seed, { ...o, batch: o.batch ?? this.config.rolloutBatch, record: false }));
  }

  /** Step 2: discriminator steps on expert vs visited states; returns mean loss and accuracy. */
  async trainDensity(ro: Rollout, steps: number, rng: Stream): Promise<{ loss: number; accuracy: number }> {
    await this.loadData();
    const c = this.config;
    const dim = this.model.dim;
    const N = c.steps;
    const data = this.data!;
    const nData = data.length / dim;
    // Visited states by level (non-absorbing duplicates included once per visit).
    const byLevel: number[][] = Array.from({ length: N + 1 }, () => []);
    for (let i = 0; i < ro.level.length; i++) byLevel[ro.level[i]!]!.push(i);
    const levels = byLevel.map((v, l) => (v.length > 0 ? l : -1)).filter((l) => l >= 0);
    const B = c.discriminatorBatch;
    let lossSum = 0;
    let accSum = 0;
    for (let s = 0; s < steps; s++) {
      const xs = new Float32Array(2 * B * dim);
      const sig = new Float32Array(2 * B);
      const labs = this.model.numClasses > 0 ? new Int32Array(2 * B) : null;
      const y = new Float32Array(2 * B);
      for (let b = 0; b < B; b++) {
        const l = levels[Math.floor(rng.uniform() * levels.length)]!;
        const sl = l >= N ? 0 : this.schedule[l]!;
        const ls = (c.labelSmoothing * sl) / this.settings.sigmaMax;
        // Expert: a data point noised to the level (label 1 − smoothing).
        const di = Math.floor(rng.uniform() * nData);
        for (let k = 0; k < dim; k++) xs[b * dim + k] = data[di * dim + k]! + sl * rng.normal();
        sig[b] = sl;
        y[b] = 1 - ls;
        if (labs) labs[b] = this.dataLabels ? this.dataLabels[di]! : this.model.nullClass!;
        // Policy: a visited state at the same level (label smoothing).
        const pool = byLevel[l]!;
        const vi = pool[Math.floor(rng.uniform() * pool.length)]!;
        xs.set(ro.x.subarray(vi * dim, (vi + 1) * dim), (B + b) * dim);
        sig[B + b] = sl;
        y[B + b] = ls;
        if (labs) labs[B + b] = ro.labels ? ro.labels[vi]! : this.model.nullClass!;
      }
      const input = await this.densityInput(xs, sig, labs, 2 * B);
      const [loss, acc] = tf.tidy(() => {
        const inp = tf.tensor2d(input, [2 * B, inputDim(this.densityLayout)]);
        const target = tf.tensor1d(y);
        let logitsOut: tf.Tensor | null = null;
        const l = this.optDensity.minimize(() => {
          const logits = this.density.apply(inp).reshape([2 * B]);
          logitsOut = tf.keep(logits);
          return tf.losses.sigmoidCrossEntropy(target, logits) as tf.Scalar;
        }, true, this.density.params) as tf.Scalar;
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

  /** Steps 3–4: rewards of every visited state and advantages of every transition. */
  async signals(ro: Rollout): Promise<{ rewards: Float64Array; advantages: Float64Array; G: Float64Array; ratioMean: number }> {
    const c = this.config;
    const N = c.steps;
    const S = ro.H + 1;
    const total = ro.n * S;
    // Occupancy weights per level: policy from counts, expert by design.
    const visits = new Float64Array(N + 1);
    for (let i = 0; i < total; i++) visits[ro.level[i]!]!++;
    const wE = (l: number): number => (l >= N ? (S - N) / S : 1 / S);
    const logits = new Float32Array(total);
    const chunk = 4096;
    for (let s = 0; s < total; s += chunk) {
      const e = Math.min(total, s + chunk);
      const input = await this.densityInput(ro.x.subarray(s * this.model.dim, e * this.model.dim), ro.sigma.subarray(s, e), ro.labels ? ro.labels.subarray(s, e) : null, e - s);
      logits.set(this.density.predict(input, e - s), s);
    }
    const ratio = new Float64Array(total);
    let ratioSum = 0;
    for (let i = 0; i < total; i++) {
      const l = ro.level[i]!;
      const wPi = visits[l]! / total;
      const lg = Math.max(-c.logitClamp, Math.min(c.logitClamp, logits[i]!));
      ratio[i] = (wE(l) / wPi) * Math.exp(lg);
      ratioSum += ratio[i]!;
    }
    const rewards = rewardOf(c.divergence, ratio);
    // G_t = Σ_{t' > t} reward(s_{t'}) per row, from suffix sums.
    const suffix = new Float64Array(total + 1);
    for (let r = 0; r < ro.n; r++) {
      let acc = 0;
      for (let t = S - 1; t >= 0; t--) {
        suffix[r * S + t] = acc; // sum over t' > t
        acc += rewards[r * S + t]!;
      }
    }
    const G = new Float64Array(ro.count);
    for (let k = 0; k < ro.count; k++) G[k] = suffix[ro.tRow[k]! * S + ro.tStep[k]!]!;
    return { rewards, advantages: normaliseAdvantages(G), G, ratioMean: ratioSum / total };
  }

  /** Step 5: PPO-clip epochs. */
  async updatePolicy(ro: Rollout, advantages: Float64Array, rng: Stream): Promise<{ loss: number; approxKl: number; clipFrac: number; entropy: number }> {
    const c = this.config;
    const K = c.actions.length;
    const dim = this.model.dim;
    const S = ro.H + 1;
    const T = ro.count;
    // Inputs of every transition's state s_t.
    const xs = new Float32Array(T * dim);
    const sig = new Float32Array(T);
    const labs = ro.labels ? new Int32Array(T) : null;
    const steps = new Int32Array(T);
    for (let k = 0; k < T; k++) {
      const si = ro.tRow[k]! * S + ro.tStep[k]!;
      xs.set(ro.x.subarray(si * dim, (si + 1) * dim), k * dim);
      sig[k] = ro.sigma[si]!;
      if (labs) labs[k] = ro.labels![si]!;
      steps[k] = ro.tStep[k]!;
    }
    const input = await this.policyInput({ x: xs, sigma: sig, labels: labs, step: steps, n: T });
    const D = inputDim(this.layout);
    const order = Int32Array.from({ length: T }, (_, i) => i);
    const stats = { loss: 0, approxKl: 0, clipFrac: 0, entropy: 0 };
    let batches = 0;
    for (let e = 0; e < c.ppoEpochs; e++) {
      for (let i = T - 1; i > 0; i--) {
        const j = Math.floor(rng.uniform() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (let s = 0; s < T; s += c.ppoMinibatch) {
        const idx = order.subarray(s, Math.min(T, s + c.ppoMinibatch));
        const m = idx.length;
        const inp = new Float32Array(m * D);
        const act = new Int32Array(m);
        const old = new Float32Array(m);
        const adv = new Float32Array(m);
        const mask = new Float32Array(m * K);
        idx.forEach((k, r) => {
          inp.set(input.subarray(k * D, (k + 1) * D), r * D);
          act[r] = ro.tAction[k]!;
          old[r] = ro.tLogp[k]!;
          adv[r] = advantages[k]!;
          for (let a = 0; a < K; a++) mask[r * K + a] = ro.tMask[k * K + a]!;
        });
        const out = tf.tidy(() => {
          const x = tf.tensor2d(inp, [m, D]);
          const maskT = tf.tensor2d(mask, [m, K]);
          const actT = tf.tensor1d(act, 'int32');
          const oldT = tf.tensor1d(old);
          const advT = tf.tensor1d(adv);
          let aux: { approxKl: tf.Scalar; clipFrac: tf.Scalar; entropy: tf.Scalar } | null = null;
          const loss = this.optPolicy.minimize(
            () => {
              const logits = tf.div(this.policy.apply(x), c.temperature) as tf.Tensor2D;
              const r = ppoClipLoss({ logits, actions: actT, oldLogProbs: oldT, advantages: advT, clip: c.clip, mask: maskT });
              aux = { approxKl: tf.keep(r.approxKl), clipFrac: tf.keep(r.clipFrac), entropy: tf.keep(r.entropy) };
              return r.loss;
            },
            true,
            this.policy.params,
          ) as tf.Scalar;
          const a = aux!;
          const vals = [loss.dataSync()[0]!, a.approxKl.dataSync()[0]!, a.clipFrac.dataSync()[0]!, a.entropy.dataSync()[0]!];
          a.approxKl.dispose();
          a.clipFrac.dispose();
          a.entropy.dispose();
          return vals;
        });
        stats.loss += out[0]!;
        stats.approxKl += out[1]!;
        stats.clipFrac += out[2]!;
        stats.entropy += out[3]!;
        batches++;
      }
    }
    for (const k of Object.keys(stats) as (keyof typeof stats)[]) stats[k] /= Math.max(1, batches);
    return stats;
  }

  /** One whole iteration (steps 1–6); returns its metrics. */
  async step(signal?: AbortSignal): Promise<Record<string, number>> {
    const c = this.config;
    const it = this.iteration;
    const t0 = performance.now();
    const rng = new Stream(deriveSeed(c.seed, 0x7a1e), it);
    const m0 = this.model.stats.modelMs;
    const ro = await this.rollout(c.trajectories, c.seed * 100_003 + it, { temperature: c.temperature, signal });
    const tRollout = performance.now();
    const dre = await this.trainDensity(ro, (it === 0 ? c.discriminatorInitSteps : 0) + c.discriminatorSteps, rng);
    const tDre = performance.now();
    const sg = await this.signals(ro);
    const ppo = await this.updatePolicy(ro, sg.advantages, rng);
    const tPpo = performance.now();
    // EMA with warm-up: the plain mean of the iterates so far until that is as smooth as emaDecay,
    // so the initial weights do not linger in early evaluations.
    const decay = Math.min(c.emaDecay, it / (it + 1));
    emaUpdate(this.policyEma, this.policy.getWeights(), decay);
    emaUpdate(this.densityEma, this.density.getWeights(), decay);
    this.iteration++;
    let rSum = 0;
    let rSq = 0;
    for (const r of sg.rewards) {
      rSum += r;
      rSq += r * r;
    }
    const nr = sg.rewards.length;
    let nfe = 0;
    for (const v of ro.nfe) nfe += v;
    const total = (tPpo - t0) / 1000;
    return {
      iteration: this.iteration,
      'charts/learning_signal_mean': rSum / nr,
      'charts/learning_signal_std': Math.sqrt(Math.max(0, rSq / nr - (rSum / nr) ** 2)),
      'charts/ratio_mean': sg.ratioMean,
      'losses/discriminator': dre.loss,
      'charts/discriminator_accuracy': dre.accuracy,
      'losses/policy': ppo.loss,
      'charts/entropy': ppo.entropy,
      'charts/approx_kl': ppo.approxKl,
      'charts/clipfrac': ppo.clipFrac,
      'charts/nfe': nfe / ro.n,
      'time/iteration_s': total,
      'time/rollout_s': (tRollout - t0) / 1000,
      'time/denoiser_s': (this.model.stats.modelMs - m0) / 1000,
      'time/discriminator_s': (tDre - tRollout) / 1000,
      'time/ppo_s': (tPpo - tDre) / 1000,
    };
  }

  /**
   * Everything needed to continue: weights, EMA copies, Adam moments, iteration. Randomness is
   * derived from (seed, iteration), so a resumed run repeats the same draws; it matches an
   * uninterrupted one to float32 round-off (tfjs's Adam recomputes β^t on restore).
   */
  async checkpoint(): Promise<Checkpoint> {
    const enc = (ws: Float32Array[]): string[] => ws.map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('base64'));
    const opt = async (o: tf.Optimizer): Promise<{ name: string; data: string; shape: number[] }[]> => {
      const ws = await o.getWeights();
      const out = await Promise.all(ws.map(async (w) => ({ name: w.name, shape: w.tensor.shape, data: enc([Float32Array.from((await w.tensor.data()) as Float32Array)])[0]! })));
      // getWeights() makes a fresh 'iter' scalar each call; the other entries are live optimizer variables.
      for (const w of ws) if (w.name === 'iter') w.tensor.dispose();
      return out;
    };
    return {
      version: VERSION,
      iteration: this.iteration,
      policy: enc(this.policy.getWeights()),
      density: enc(this.density.getWeights()),
      policyEma: enc(this.policyEma),
      densityEma: enc(this.densityEma),
      optPolicy: await opt(this.optPolicy),
      optDensity: await opt(this.optDensity),
    };
  }

  async restore(cp: Checkpoint): Promise<void> {
    const dec = (s: string[]): Float32Array[] =>
      s.map((b) => {
        const buf = Buffer.from(b, 'base64');
        return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      });
    this.policy.setWeights(dec(cp.policy));
    this.density.setWeights(dec(cp.density));
    this.policyEma = dec(cp.policyEma);
    this.densityEma = dec(cp.densityEma);
    // A fresh optimizer per restore: tfjs's Adam.setWeights replaces its moment variables without
    // disposing the old ones.
    const opt = async (old: tf.AdamOptimizer, lr: number, ws: Checkpoint['optPolicy']): Promise<tf.AdamOptimizer> => {
      old.dispose();
      const o = tf.train.adam(lr);
      if (ws.length === 0) return o;
      const named = ws.map((w) => ({ name: w.name, tensor: tf.tensor(dec([w.data])[0]!, w.shape) }));
      await o.setWeights(named); // Adam copies them into its own variables
      for (const w of named) w.tensor.dispose();
      return o;
    };
    this.optPolicy = await opt(this.optPolicy, this.config.lrPolicy, cp.optPolicy);
    this.optDensity = await opt(this.optDensity, this.config.lrDiscriminator, cp.optDensity);
    this.iteration = cp.iteration;
  }

  async dispose(): Promise<void> {
    this.policy.dispose();
    this.density.dispose();
    this.optPolicy.dispose();
    this.optDensity.dispose();
    await this.encoder.dispose();
  }
}

export interface Checkpoint {
  version: string;
  iteration: number;
  policy: string[];
  density: string[];
  policyEma: string[];
  densityEma: string[];
  optPolicy: { name: string; data: string; shape: number[] }[];
  optDensity: { name: string; data: string; shape: number[] }[];
}

export interface PolicyEvaluation {
  result: EvalResult;
  /** [N][K] share of each action per noise level (the paper's Figure 2), from the evaluation rollout. */
  profile: number[][];
  /** The level's σ for each profile row. */
  sigmas: number[];
  /** [C][N][K] the profile per conditioning class (the last is the null class), or null. */
  profileByClass: number[][][] | null;
  /** Mean guided denoiser evaluations and network passes per sample. */
  nfe: number;
  networkEvals: number;
  samples: Float32Array;
  labels: Int32Array | null;
}

/** Samples with the policy (a learner's EMA heads, or an exported file) at temperature τ (fixed seed) and scores them against the data. */
export async function evaluatePolicy(
  policy: SamplingPolicy,
  ev: { extractor: FeatureExtractor; reference: Reference; n: number; seed: number; temperature: number; metrics: MetricName[] },
): Promise<PolicyEvaluation> {
  const ro = await policy.sample(ev.n, ev.seed, { temperature: ev.temperature });
  const N = policy.spec.steps;
  const K = policy.spec.actions.length;
  const shares = (counts: Float64Array, offset: number): number[][] =>
    Array.from({ length: N }, (_, l) => {
      let z = 0;
      for (let a = 0; a < K; a++) z += counts[offset + l * K + a]!;
      return Array.from({ length: K }, (_, a) => (z > 0 ? counts[offset + l * K + a]! / z : 0));
    });
  const profile = shares(ro.profile, 0);
  const pc = ro.profileByClass;
  const profileByClass = pc ? Array.from({ length: pc.length / (N * K) }, (_, c) => shares(pc, c * N * K)) : null;
  let nfe = 0;
  for (const v of ro.nfe) nfe += v;
  let net = 0;
  for (const v of ro.networkEvals) net += v;
  const labels = ro.sampleLabels;
  const result = await evaluateSamples({ model: policy.model, extractor: ev.extractor, reference: ev.reference, samples: ro.samples, n: ev.n, conditioning: labels }, ev.metrics);
  return { result, profile, profileByClass, sigmas: Array.from(policy.schedule.subarray(0, N)), nfe: nfe / ev.n, networkEvals: net / ev.n, samples: ro.samples, labels };
}

export interface RunOptions {
  model: Model;
  config: LearnerConfig;
  runDir: string;
  resume?: boolean;
  /** On resume: train up to this many iterations instead of the saved count. */
  iterations?: number;
  signal?: AbortSignal;
  /** Progress, metrics (every iteration), profile and samples (every evaluation), logs. */
  onEvent?: (e: EngineEvent) => void;
  /** Called once the run directory is in place and the learner is built, before the first iteration: where it starts and its target. */
  onStart?: (s: { iteration: number; iterations: number }) => void;
}

/**
 * A run is a directory: config.json, metrics.jsonl (append-only, one line per finished
 * iteration), checkpoint.json (written atomically after every iteration).
 */
export async function runTraining(o: RunOptions): Promise<{ learner: Learner; backend: string }> {
  const { backend } = await initTf();
  const dir = o.runDir;
  const cfgPath = join(dir, 'config.json');
  const metricsPath = join(dir, 'metrics.jsonl');
  const cpPath = join(dir, 'checkpoint.json');
  let config = o.config;
  if (o.resume) {
    if (!existsSync(cfgPath)) throw new RangeError(`${dir}: no config.json; not a run directory`);
    const saved = JSON.parse(readFileSync(cfgPath, 'utf8'), infReviver) as { learner: LearnerConfig; backend?: string };
    config = { ...saved.learner, iterations: o.iterations ?? saved.learner.iterations };
    if (saved.backend && saved.backend !== backend) {
      o.onEvent?.({ type: 'log', level: 'warn', message: `this run was trained on the TensorFlow.js ${saved.backend} backend and continues on ${backend}: it goes on correctly, but its numbers will not repeat an uninterrupted run's bit for bit` });
    }
  } else if (existsSync(cfgPath)) {
    throw new RangeError(`${dir} already holds a run; use --resume to continue it or choose a new --run-dir`);
  }
  const learner = await createLearner(o.model, config);
  if (!o.resume) {
    mkdirSync(dir, { recursive: true });
    const body = { version: VERSION, model: { name: o.model.name, dir: o.model.dir }, learner: config, backend, encoder: learner.encoder.name };
    await writeFileAtomic(cfgPath, JSON.stringify(body, infReplacer, 2) + '\n');
  }
  if (o.resume) {
    if (existsSync(cpPath)) await learner.restore(JSON.parse(readFileSync(cpPath, 'utf8')) as Checkpoint);
    // Drop metric lines of an iteration that did not reach its checkpoint.
    if (existsSync(metricsPath)) {
      const keep = readFileSync(metricsPath, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .filter((l) => {
          try {
            return (JSON.parse(l) as { iteration: number }).iteration <= learner.iteration;
          } catch {
            return false; // a line cut by a kill
          }
        });
      writeFileSync(metricsPath, keep.map((l) => l + '\n').join(''));
    }
    o.onEvent?.({ type: 'log', level: 'info', message: `resumed at iteration ${learner.iteration}` });
  }
  let extractor: FeatureExtractor | null = null;
  let reference: Reference | null = null;
  const evaluate = async (): Promise<Record<string, number>> => {
    extractor ??= await extractorForModel(o.model);
    reference ??= await referenceFor(o.model, extractor);
    const ev = await evaluatePolicy(learner, { extractor, reference, n: config.evalSamples, seed: 1_000_003, temperature: config.temperature, metrics: ['fid', 'precision', 'recall'] });
    const tag = String(learner.iteration).padStart(5, '0');
    await writeFileAtomic(join(dir, 'profile.json'), JSON.stringify({ iteration: learner.iteration, actions: config.actions, sigmas: ev.sigmas, profile: ev.profile }) + '\n');
    await writeFileAtomic(join(dir, 'profiles', `iter-${tag}.json`), JSON.stringify({ iteration: learner.iteration, actions: config.actions, sigmas: ev.sigmas, profile: ev.profile }) + '\n');
    const samplesPath = join(dir, 'samples', `iter-${tag}.png`);
    // Encoded once: the same bytes go to the file and to the event.
    const png = await samplePng(o.model, ev.samples, ev.labels, config.evalSamples);
    await writeFileAtomic(samplesPath, png);
    await writePng(join(dir, 'profile.png'), profileHeatmap(ev.profile));
    o.onEvent?.({ type: 'profile', run: dir, iteration: learner.iteration, actions: config.actions, sigmas: ev.sigmas, profile: ev.profile });
    o.onEvent?.({ type: 'samples', run: dir, iteration: learner.iteration, path: samplesPath, pngBase64: Buffer.from(png).toString('base64') });
    const out: Record<string, number> = { 'eval/nfe': ev.nfe };
    for (const [k, v] of Object.entries(ev.result.summary)) out[`eval/${k}`] = v;
    return out;
  };
  o.onStart?.({ iteration: learner.iteration, iterations: config.iterations });
  const t0 = performance.now();
  const startIteration = learner.iteration;
  try {
    while (learner.iteration < config.iterations) {
      if (o.signal?.aborted) break;
      const metrics = await learner.step(o.signal);
      const last = learner.iteration === config.iterations;
      if ((config.evalEvery > 0 && learner.iteration % config.evalEvery === 0) || last) Object.assign(metrics, await evaluate());
      appendFileSync(metricsPath, JSON.stringify(metrics) + '\n');
      await writeFileAtomic(cpPath, JSON.stringify(await learner.checkpoint()));
      const finite: Record<string, number> = {};
      for (const [k, v] of Object.entries(metrics)) if (!Number.isNaN(v)) finite[k] = v;
      o.onEvent?.({ type: 'metrics', run: dir, iteration: learner.iteration, metrics: finite });
      const elapsed = (performance.now() - t0) / 1000;
      const done = learner.iteration - startIteration;
      o.onEvent?.({
        type: 'progress',
        task: 'train',
        done: learner.iteration,
        total: config.iterations,
        unit: 'iterations',
        elapsedSeconds: elapsed,
        etaSeconds: done > 0 ? (elapsed / done) * (config.iterations - learner.iteration) : null,
      });
    }
  } finally {
    await (extractor as FeatureExtractor | null)?.dispose();
  }
  return { learner, backend };
}

/** A Learner with the model's frozen state encoder (its manifest's ONNX encoder, else c_in·x). */
export async function createLearner(model: Model, config: LearnerConfig): Promise<Learner> {
  checkConfig(config);
  const encoder = await encoderForModel(model);
  try {
    return new Learner(model, config, encoder);
  } catch (e) {
    await encoder.dispose();
    throw e;
  }
}

/** A run directory's config with its latest checkpoint (or `checkpoint`, a checkpoint file of that run) restored into a Learner. */
export async function loadRun(runDir: string, model: Model, checkpoint?: string): Promise<Learner> {
  const saved = readRunConfig(runDir);
  const cpPath = checkpoint ?? join(runDir, 'checkpoint.json');
  if (!existsSync(cpPath)) throw new RangeError(checkpoint ? `${checkpoint}: checkpoint file not found` : `${runDir}: has no checkpoint yet (no finished iteration)`);
  let cp: Checkpoint;
  try {
    cp = JSON.parse(readFileSync(cpPath, 'utf8')) as Checkpoint;
    if (!Array.isArray(cp.policyEma) || !Number.isInteger(cp.iteration)) throw new Error('missing policyEma/iteration');
  } catch (e) {
    throw new RangeError(`${cpPath}: not a readable checkpoint (${(e as Error).message})`, { cause: e });
  }
  await initTf();
  const learner = await createLearner(model, saved.learner);
  try {
    await learner.restore(cp);
  } catch (e) {
    await learner.dispose();
    throw new RangeError(`${cpPath}: does not fit the run's config (${(e as Error).message}); is it a checkpoint of ${runDir}?`, { cause: e });
  }
  return learner;
}

/** A run's config.json: the model it was trained on and the learner's settings. */
export interface RunConfig {
  version: string;
  model: { name: string; dir: string };
  learner: LearnerConfig;
  /** The TensorFlow.js backend it was trained on. */
  backend?: string;
  encoder?: string;
}

/** A run directory's config.json (a RangeError when `runDir` is not a run). */
export function readRunConfig(runDir: string): RunConfig {
  const cfgPath = join(runDir, 'config.json');
  if (!existsSync(cfgPath)) throw new RangeError(`${runDir}: not a run directory (no config.json)`);
  return JSON.parse(readFileSync(cfgPath, 'utf8'), infReviver) as RunConfig;
}

/** A run's metrics.jsonl, one object per complete line (a line cut by a kill is skipped). */
export function readMetrics(runDir: string): Record<string, number>[] {
  const path = join(runDir, 'metrics.jsonl');
  if (!existsSync(path)) return [];
  const out: Record<string, number>[] = [];
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    try {
      if (l.trim()) out.push(JSON.parse(l) as Record<string, number>);
    } catch {
      // a line cut by a kill
    }
  }
  return out;
}

/** The model directory a run was trained on. */
export function runModelDir(runDir: string): string {
  return readRunConfig(runDir).model.dir;
}
