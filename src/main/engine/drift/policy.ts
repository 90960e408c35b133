// The drift policy (issue 18) and its trajectories: a small network v_ψ(x, σ) whose output, times
// the step's noise c, moves the mean of every step of a stochastic sampler (kernels.ts, [Note: the
// drift step]):
//     x' ~ N(m + c·v, c²·I),   i.e. u = v/c in the kernel's x' ~ N(m + c²·u, c²·I).
//
// [Note: the drift's units]
// v is in units of the step's own noise, so a step's KL to the base sampler is |v|²/2 whatever σ:
// the policy's reach is the same at every level. The first try, a correction δ of the denoiser's
// estimate (u = δ/σ²), gave the last steps (σ = 0.002, c ≈ σ) a KL of |δ|²/(2σ²) — 10⁵ nats for a
// δ of 1 on swissroll-a — and the path KL of DDPO's first iterations reached thousands while the
// reward fell. Noise units are also where DDPO's own policy acts: a fine-tuned ε-network's change
// moves a DDIM step's mean by c_ε·Δε, a multiple of its noise.
//
//   input   vectors (2-D points, …): c_in(σ)·x and c_noise = ln(σ)/4 (EDM's preconditioning);
//           images: c_in(σ)·x pooled to ≤ 64 values (learner/encoder.ts pooledEncoder) and c_noise
//   network an MLP (hidden × layers, SiLU), its output layer zero: the initial policy is the base
//           sampler, bit for bit
//   output  v [dim], dimensionless
//
// A rollout runs the base sampler's noise streams exactly as `generate` does (per row: its class,
// its starting noise, then one draw per step), so with v = 0 its samples are the sampler's. Recorded
// rollouts keep every transition (the policy's input, the step's mean and noise, σ, the state
// reached and its log-probability), which is what the updates (ddpo.ts, dpok.ts) need.

import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model';
import { checkCancelled } from '../cancel';
import { pooledEncoder, preconditionedEncoder, type StateEncoder } from '../learner/encoder';
import { Mlp } from '../learner/heads';
import { namedSchedule } from '../samplers/schedule';
import { StackedRandom } from '../samplers/random';
import type { DriftConfig } from '../../../shared/drift-config';
import { baseStep, driftKl, driftLogProb, driftStep, isStochastic, odeStep, type OdeSampler } from './kernels';

/** Every transition of recorded trajectories, row-major over (step, row). */
export interface Transitions {
  /** Number of transitions T and the sizes of one. */
  count: number;
  inputDim: number;
  dim: number;
  /** [T, inputDim] policy inputs; [T, dim] the step's mean m and the state reached x'; [T] c, σ, log π_old(x'|x), its trajectory. */
  inputs: Float32Array;
  mean: Float32Array;
  xNext: Float32Array;
  c: Float32Array;
  sigma: Float32Array;
  logp: Float32Array;
  trajectory: Int32Array;
}

/** What a batch of trajectories leaves behind. */
export interface Trajectories {
  n: number;
  /** [n, dim] final samples and [n] their classes (null: unconditional model). */
  samples: Float32Array;
  labels: Int32Array | null;
  /** [n] Σ over the steps of ½|v|²: on a stochastic sampler the path KL to the base sampler (nats), on a deterministic one the action's cost. */
  kl: Float64Array;
  /** Recorded rollouts only. */
  transitions: Transitions | null;
}

export interface RolloutArgs {
  n: number;
  /** Seed of the trajectories: classes, starting noise and each step's noise, per row (as `generate`). */
  seed: number;
  batch: number;
  /** Keep the transitions (training). */
  record: boolean;
  signal?: AbortSignal;
  onProgress?: (samplesDone: number) => void;
}

/** ln(σ)/4, EDM's c_noise: the policy's view of the noise level. */
const cNoise = (sigma: number): number => Math.log(sigma) / 4;

export class DriftPolicy {
  readonly net: Mlp;
  /** σ_0 > … > σ_N = 0, the EDM schedule of `steps` steps over the model's range. */
  readonly schedule: Float64Array;

  private constructor(
    readonly model: Model,
    readonly config: DriftConfig,
    readonly encoder: StateEncoder,
  ) {
    this.net = new Mlp(encoder.dim + 1, config.hidden, config.layers, model.dim, config.seed, { outScale: 0 });
    this.schedule = namedSchedule(
      'edm',
      { steps: config.steps, sigmaMin: model.sigmaMin, sigmaMax: model.sigmaMax, rho: 7 },
      (s) => model.roundSigma(s),
      model.vp ?? null,
    );
  }

  static create(model: Model, config: DriftConfig): DriftPolicy {
    const sd = model.manifest.sigmaData;
    const encoder =
      model.shape.length === 3
        ? pooledEncoder(model.shape, sd)
        : preconditionedEncoder(model.dim, model.manifest.sigmaData);
    return new DriftPolicy(model, config, encoder);
  }

  /** v from elsewhere (an exported file's session: export.ts openDriftFile) in the network's place; such a policy cannot record. */
  external: ((x: Float32Array, sigma: Float32Array) => Promise<Float32Array>) | null = null;

  /** v [m, dim] at states x [m, dim], levels sigma [m]: the network's, or the file's. */
  async drift(x: Float32Array, sigma: Float32Array): Promise<Float32Array> {
    return this.external ? this.external(x, sigma) : this.net.predict(await this.inputs(x, sigma), sigma.length);
  }

  get inputDim(): number {
    return this.encoder.dim + 1;
  }

  /** [m, inputDim] the policy's inputs for states x [m, dim] at levels sigma [m]. */
  async inputs(x: Float32Array, sigma: Float32Array): Promise<Float32Array> {
    const m = sigma.length;
    const fd = this.encoder.dim;
    const feat = await this.encoder.encode(x, sigma, m);
    const out = new Float32Array(m * (fd + 1));
    for (let j = 0; j < m; j++) {
      out.set(feat.subarray(j * fd, (j + 1) * fd), j * (fd + 1));
      out[j * (fd + 1) + fd] = cNoise(sigma[j]!);
    }
    return out;
  }

  /** u = v/c for m states whose steps have noise c [m], v [m, dim] the drift (default: the network's at `inputs`); 0 where c = 0. */
  scores(inputs: Float32Array | null, c: Float64Array, drift?: Float32Array): Float64Array {
    const m = c.length;
    const dim = this.model.dim;
    const v = drift ?? this.net.predict(inputs!, m);
    const u = new Float64Array(m * dim);
    for (let j = 0; j < m; j++) {
      if (c[j] === 0) continue;
      for (let k = j * dim, e = k + dim; k < e; k++) u[k] = v[k]! / c[j]!;
    }
    return u;
  }

  /** The mean shift c·v_ψ (= c²·u) of a tensor batch (training): inputs [B, inputDim], c [B] → [B, dim]. Call inside tf.tidy. */
  shiftTensor(inputs: tf.Tensor2D, c: tf.Tensor1D): tf.Tensor2D {
    return tf.mul(this.net.apply(inputs), tf.expandDims(c, 1)) as tf.Tensor2D;
  }

  /** Samples n trajectories (see the header); `zero`: v = 0, the base sampler itself. */
  async rollout(a: RolloutArgs, zero = false): Promise<Trajectories> {
    const { model, config: c, schedule } = this;
    const dim = model.dim;
    const N = schedule.length - 1;
    const D = this.inputDim;
    const out: Trajectories = {
      n: a.n,
      samples: new Float32Array(a.n * dim),
      labels: model.numClasses > 0 ? new Int32Array(a.n) : null,
      kl: new Float64Array(a.n),
      transitions: null,
    };
    const rec = a.record
      ? { inputs: [] as Float32Array[], mean: [] as Float32Array[], xNext: [] as Float32Array[], c: [] as number[] }
      : null;
    const recSigma: number[] = [];
    const recLogp: number[] = [];
    const recTraj: number[] = [];
    const noise = new StackedRandom(a.seed);
    for (let start = 0; start < a.n; start += a.batch) {
      const n = Math.min(a.batch, a.n - start);
      const rows = Int32Array.from({ length: n }, (_, j) => start + j);
      // Each row's class, then its starting noise, from its own stream (as generate draws them).
      const lab = model.numClasses > 0 ? noise.integer(model.numClasses, rows) : null;
      const labels = lab ? BigInt64Array.from(lab, BigInt) : null;
      const z0 = new Float32Array(n * dim);
      noise.normal(z0, rows, dim);
      let x: Float32Array = new Float32Array(n * dim);
      for (let k = 0; k < x.length; k++) x[k] = z0[k]! * schedule[0]!;
      for (let i = 0; i < N; i++) {
        checkCancelled(a.signal);
        const tCur = new Float64Array(n).fill(schedule[i]!);
        const tNext = new Float64Array(n).fill(schedule[i + 1]!);
        const sigma = Float32Array.from(tCur);
        const x0 = await model.denoise(x, sigma, labels, a.signal);
        if (!isStochastic(c.sampler, c.eta)) {
          // A deterministic sampler (q-learning's ODE simulators; kernels.ts, the note on
          // deterministic steps): x' = m + √(κ/2)·v, the mean action; kl adds ½|v|², the action's cost.
          if (a.record) throw new Error(`${c.sampler} is deterministic: there are no transitions to record`);
          const o = odeStep(c.sampler as OdeSampler, x, x0, tCur, tNext, dim);
          const v = zero ? null : await this.drift(x, sigma);
          const xn = new Float32Array(n * dim);
          for (let j = 0; j < n; j++) {
            const g = Math.sqrt(o.kappa[j]! / 2);
            let cost = 0;
            for (let k = j * dim, e = k + dim; k < e; k++) {
              xn[k] = v ? o.mean[k]! + g * v[k]! : o.mean[k]!;
              if (v) cost += 0.5 * v[k]! * v[k]!;
            }
            out.kl[start + j]! += cost;
          }
          x = xn;
          continue;
        }
        const z = new Float32Array(n * dim);
        noise.normal(z, rows, dim);
        const b = baseStep(c.sampler, c.eta, x, x0, tCur, tNext, dim);
        if (rec && this.external)
          throw new Error('a policy read from a file samples; it cannot record training transitions');
        const inputs = zero || this.external ? null : await this.inputs(x, sigma);
        const u = zero ? null : this.scores(inputs, b.c, this.external ? await this.external(x, sigma) : undefined);
        const xn = driftStep(b, u, z);
        if (u) {
          const kl = driftKl(b, u);
          for (let j = 0; j < n; j++) out.kl[start + j]! += kl[j]!;
        }
        if (rec && inputs) {
          const lp = driftLogProb(b, u, xn);
          for (let j = 0; j < n; j++) {
            if (b.c[j] === 0) continue; // a deterministic step: nothing to learn from (kernels.ts)
            rec.inputs.push(inputs.slice(j * D, (j + 1) * D));
            rec.mean.push(Float32Array.from(b.mean.subarray(j * dim, (j + 1) * dim)));
            rec.xNext.push(xn.slice(j * dim, (j + 1) * dim));
            rec.c.push(b.c[j]!);
            recSigma.push(tCur[j]!);
            recLogp.push(lp[j]!);
            recTraj.push(start + j);
          }
        }
        x = xn;
      }
      out.samples.set(x, start * dim);
      if (out.labels && lab) out.labels.set(lab, start);
      noise.release(rows);
      a.onProgress?.(start + n);
    }
    if (rec) {
      const T = rec.c.length;
      const cat = (parts: Float32Array[], w: number): Float32Array => {
        const o = new Float32Array(T * w);
        parts.forEach((p, k) => o.set(p, k * w));
        return o;
      };
      out.transitions = {
        count: T,
        inputDim: D,
        dim,
        inputs: cat(rec.inputs, D),
        mean: cat(rec.mean, dim),
        xNext: cat(rec.xNext, dim),
        c: Float32Array.from(rec.c),
        sigma: Float32Array.from(recSigma),
        logp: Float32Array.from(recLogp),
        trajectory: Int32Array.from(recTraj),
      };
    }
    return out;
  }

  dispose(): void {
    this.net.dispose();
  }
}
