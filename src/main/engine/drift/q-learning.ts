// Entropy-regularised continuous-time q-learning for reward-directed diffusion (Gao, Zha and Zhou
// 2024, "Reward-directed score-based diffusion models via q-learning", Algorithm 1; the q-learning
// paper in ../shared/papers), on a drift policy over a frozen denoiser.
//
// The paper's problem (its Eq. 9–10, 15): the action a_t stands in for the score in the reverse SDE
//     dX = [f·X + g²·a] dt + g dB,
// rewarded by −½g²|a − ∇log p(X)|² (the KL to the true reverse process, Girsanov) at every instant,
// β·h(X_T) at the end (h the reward), and −γ·log π(a) for exploration. Its optimal policy is
// Gaussian, mean the score plus a reward term, covariance γ/g² (Proposition 1); q is tied to the
// policy, q_ψ = γ·log π_ψ, and (J_θ, q_ψ) are learned from the martingale condition of Proposition 2
// through the TD error of each step,
//     δ_k = J_θ(t_{k+1}, X_{k+1}) − J_θ(t_k, X_k) + (r_k − q_ψ(t_k, X_k, a_k))·Δt,   J(T, x) = β·h(x),
// the critic and the actor both descending ½Σ_k δ_k² with the next value held fixed (its Eq. 29–31,
// with Adam as its Remark 3 does).
//
// [Note: q-learning on a frozen denoiser]
// Our sampler steps over σ (EDM), not over the paper's OU time. Step k of the Euler–Maruyama
// sampler reads as the interval [kΔt, (k+1)Δt], Δt = T/N, with g_k²·Δt = c_k² (the step's own noise
// variance, kernels.ts): f = 0 (variance exploding) and g_k²·Δt·a = c_k²·a, the step's drift when a
// is the score. The action is written around the frozen model's score, a = s_model + w, and in the
// step's noise units, ω = c_k·w:
//   policy      ω ~ N(v_ψ(x, σ), γΔt·I)       (the paper's N(μ_ψ, γ/g²·I); v_ψ the drift policy's
//                                               output, policy.ts: μ_ψ = s_model + v_ψ/c)
//   step        x' = m + c·(ω + z)             (m the base step's mean, z its noise)
//   reward      r_k·Δt = −½·|ω − c·e|²         e = ŝ − s_model, ŝ the score the reward measures from
//   q           q_ψ·Δt = γΔt·log π_ψ(a) = −½·|ω − v_ψ|² − ½γΔt·d·log(2πγΔt/c²)
// The log-density's constant depends on the step only, never on x, a or ψ: it adds a function of
// time to J and changes neither ψ's gradient nor the policy, so the TD error leaves it out (on our
// σ_min = 0.002 it reached 18 nats a step and the critic spent itself learning it).
//
// [Note: the ratio estimator at small σ]
// The score ŝ is the paper's ratio estimator over data points y_i (its Eq. 18): in σ,
// ŝ(x) = (Σ_i w_i·y_i − x)/σ² with w = softmax_i(−|x − y_i|²/(2σ²)), the exact denoiser of the
// points (in log space, so its lower bound δ on the denominator is not needed). Below the scale at
// which M points can tell a density from the points themselves it is the score of the points,
// which pulls every sample onto one of them, and with two halves of the points (the note on
// variance) their two estimates disagree wildly there. The paper never meets this: its last level is
// coarse (Δt = 0.25 on its OU process, a noise of about 0.6 of the data's scale). EDM's levels go
// down to σ = 0.002, so we bound it (scoreFloor):
//   'bandwidth' (default): the estimator is used at σ ≥ h_S, the points' kernel bandwidth by Scott's
//       rule, h_S = σ̄·M^(−1/(d+4)) (σ̄ the points' mean per-coordinate sd, M a half's points, d the
//       dimension); below it the model's own score stands (e = 0): what the points cannot resolve,
//       the model is trusted with.
//   'spacing' (runs before 2 December 2026): the estimator at σ_eff = √(σ² + h²) at every level, h
//       the median distance of the points to their nearest neighbour. On the Swiss roll (2-D) it
//       worked; on the 1-D mixture, whose 256 points lie 0.01 apart, h resolved nothing, and with
//       reward weight 0 (which should leave the model alone) the k-NN KL to the data rose from 0.08
//       to 0.34 on gmm1d-a and q-learning diverged on gmm1d-b (TD loss 3·10³⁰); on the Swiss roll at
//       coarse steps it drifted too (ODE-Euler, 5 steps: 2.574 → 3.240; 'bandwidth': → 2.569). It
//       also compares ŝ at σ_eff with the model's score at σ, which differ wherever h is not ≪ σ.
// With score 'model' the model's own score is used (e = 0: the running reward is then the KL to
// the model, as DPOK's). The paper starts from its pretrained network; we start from the frozen
// model (v = 0). At evaluation the policy acts with its mean (ω = v_ψ): the exploration noise is
// training's.
//
// [Note: the estimator's variance in the square]
// The running reward squares a noisy estimate: E|ω − c·ê|² = |ω − c·e|² + c²·Var(ê), and the variance
// of the ratio estimator depends on x — large where the drawn points are sparse, small where they are
// dense. The critic learns that term like any other, and the policy then moves samples to where the
// estimator is quiet: on swissroll-a at β = 0 (which should leave the data's distribution alone),
// DDIM's samples gathered on the roll's dense inner arc, the k-NN KL to the data rising from 0.07 to
// 0.77. So the points are split in two halves with their own estimates ê₁, ê₂, and the reward is
//     r_k·Δt = −½·(ω − c·ê₁)·(ω − c·ê₂),
// whose expectation over the two independent draws is −½|ω − c·e|² with no variance term (the
// double-sampling trick for an unbiased square). h (either floor) is a half's.
//
// [Note: q-learning on an ODE]
// On a deterministic sampler (its §7.1; kernels.ts, the note on deterministic steps) the step moves
// x by κ·a with no noise of its own: the paper's dX = [f·X + ½g²·a]dt, so g²Δt = 2κ. With c = √(2κ)
// in the place of the SDE's noise everything above holds as written — ω ~ N(v_ψ, γΔt·I), the same
// r·Δt and q·Δt — and the step is x' = m + (c/2)·ω: the action's noise is the only exploration.

import * as tf from '@tensorflow/tfjs';
import { checkCancelled } from '../cancel';
import { Mlp } from '../learner/heads';
import { deriveSeed, StackedRandom, type Stream } from '../samplers/random';
import type { DriftConfig } from '../../../shared/drift-config';
import { baseStep, odeStep, type OdeSampler } from './kernels';
import { minibatches, takeRows } from './batches';
import type { DriftPolicy } from './policy';

/** The transitions of a q-learning batch, row-major over (step, row), with what the TD error needs. */
export interface QTransitions {
  count: number;
  inputDim: number;
  dim: number;
  /** [T, inputDim] the policy's and the critic's input at (x_k, σ_k). */
  inputs: Float32Array;
  /** [T, dim] ω_k, the action in noise units; [T, dim] c_k·ê_k from each half of the points (see the note on variance). */
  omega: Float32Array;
  ce1: Float32Array;
  ce2: Float32Array;
  /** [T] the transition of the next step of the same trajectory, or −1 after the last step. */
  next: Int32Array;
  /** [T] β·h(x_N) of the trajectory where next = −1 (else 0). */
  terminal: Float32Array;
}

/**
 * The data's denoiser D(x; σ) = Σ_i w_i·y_i, w = softmax(−|x − y_i|²/(2σ²)), for m rows x [m, dim]
 * at σ [m] over points y [M, dim] (see the note): the ratio estimator's score is (D − x)/σ².
 */
export function dataDenoise(x: Float32Array, sigma: ArrayLike<number>, y: Float32Array, dim: number): Float64Array {
  if (y.length === 0 || y.length % dim !== 0)
    throw new RangeError(`dataDenoise: ${y.length} values are no points of ${dim}`);
  const m = sigma.length;
  const M = y.length / dim;
  const out = new Float64Array(m * dim);
  const logw = new Float64Array(M);
  for (let j = 0; j < m; j++) {
    const inv = 1 / (2 * sigma[j]! * sigma[j]!);
    let max = -Infinity;
    for (let i = 0; i < M; i++) {
      let d2 = 0;
      for (let k = 0; k < dim; k++) {
        const v = x[j * dim + k]! - y[i * dim + k]!;
        d2 += v * v;
      }
      logw[i] = -d2 * inv;
      if (logw[i]! > max) max = logw[i]!;
    }
    let z = 0;
    for (let i = 0; i < M; i++) {
      const w = Math.exp(logw[i]! - max);
      z += w;
      for (let k = 0; k < dim; k++) out[j * dim + k]! += w * y[i * dim + k]!;
    }
    for (let k = 0; k < dim; k++) out[j * dim + k]! /= z;
  }
  return out;
}

/**
 * h_S of the note on small σ: Scott's rule, σ̄·M^(−1/(d+4)) for M points [M, dim], σ̄ their mean
 * per-coordinate standard deviation (0 for one point).
 */
export function scottBandwidth(y: Float32Array, dim: number): number {
  const M = y.length / dim;
  if (M < 2) return 0;
  let sd = 0;
  for (let q = 0; q < dim; q++) {
    let mean = 0;
    for (let i = 0; i < M; i++) mean += y[i * dim + q]!;
    mean /= M;
    let v = 0;
    for (let i = 0; i < M; i++) v += (y[i * dim + q]! - mean) ** 2;
    sd += Math.sqrt(v / (M - 1)) / dim;
  }
  return sd * M ** (-1 / (dim + 4));
}

/** h of the note on small σ ('spacing'): the median distance of the points [M, dim] to their nearest neighbour (0 for one point). */
export function nearestSpacing(y: Float32Array, dim: number): number {
  const M = y.length / dim;
  if (M < 2) return 0;
  const nn = new Float64Array(M).fill(Infinity);
  for (let i = 0; i < M; i++)
    for (let j = i + 1; j < M; j++) {
      let d2 = 0;
      for (let k = 0; k < dim; k++) d2 += (y[i * dim + k]! - y[j * dim + k]!) ** 2;
      if (d2 < nn[i]!) nn[i] = d2;
      if (d2 < nn[j]!) nn[j] = d2;
    }
  nn.sort();
  return Math.sqrt(nn[M >> 1]!);
}

/** The critic J_θ(t, x): an MLP on the policy's input (c_in·x or its pooled form, and c_noise). */
export function createCritic(inputDim: number, c: DriftConfig): Mlp {
  return new Mlp(inputDim, c.hidden, c.layers, 1, deriveSeed(c.seed, 0xc417), { outScale: 0.1 });
}

/**
 * Steps 1–2 of an iteration: n trajectories with exploration, each step recorded (see the note),
 * and their terminal rewards β·h from `reward`. `points`: the data points of the ratio estimator.
 */
export async function qRollout(
  p: DriftPolicy,
  a: {
    n: number;
    seed: number;
    points: Float32Array | null;
    reward: (samples: Float32Array, n: number, labels: Int32Array | null) => Promise<Float64Array>;
    signal?: AbortSignal;
  },
): Promise<{ transitions: QTransitions; samples: Float32Array; labels: Int32Array | null; rewards: Float64Array }> {
  const { model, config: c, schedule } = p;
  const dim = model.dim;
  const N = schedule.length - 1;
  const D = p.inputDim;
  const n = a.n;
  const dt = c.horizon / N;
  const explore = Math.sqrt(c.temperature * dt);
  const T = n * N;
  // The two halves of the points (see the note on variance; one point: both estimates from it).
  const M = a.points ? a.points.length / dim : 0;
  const half = Math.max(1, M >> 1);
  const halves = a.points
    ? [a.points.subarray(0, half * dim), M > 1 ? a.points.subarray(half * dim) : a.points.subarray(0, half * dim)]
    : null;
  // Below the estimator's resolution (see the note on small σ): 'spacing' smooths at every level by h,
  // 'bandwidth' estimates at σ ≥ hS and leaves the model's score below.
  const spacing = c.scoreFloor === 'spacing';
  const h2 = halves && spacing ? nearestSpacing(halves[0]!, dim) ** 2 : 0;
  const hS = halves && !spacing ? scottBandwidth(halves[0]!, dim) : 0;
  const tr: QTransitions = {
    count: T,
    inputDim: D,
    dim,
    inputs: new Float32Array(T * D),
    omega: new Float32Array(T * dim),
    ce1: new Float32Array(T * dim),
    ce2: new Float32Array(T * dim),
    next: new Int32Array(T),
    terminal: new Float32Array(T),
  };
  const noise = new StackedRandom(a.seed);
  const actions = new StackedRandom(deriveSeed(a.seed, 0xac7));
  const rows = Int32Array.from({ length: n }, (_, j) => j);
  const lab = model.numClasses > 0 ? noise.integer(model.numClasses, rows) : null;
  const labels = lab ? BigInt64Array.from(lab, BigInt) : null;
  const z0 = new Float32Array(n * dim);
  noise.normal(z0, rows, dim);
  let x: Float32Array = Float32Array.from(z0, (v) => v * schedule[0]!);
  for (let k = 0; k < N; k++) {
    checkCancelled(a.signal);
    const s = schedule[k]!;
    const tCur = new Float64Array(n).fill(s);
    const sigma = Float32Array.from(tCur);
    const x0 = await model.denoise(x, sigma, labels, a.signal);
    const tNext = new Float64Array(n).fill(schedule[k + 1]!);
    // The step: on the SDE, its mean and noise c; on an ODE, its mean and c = √(2κ) (see the note on ODEs).
    const sde = c.sampler === 'euler-maruyama';
    const b = sde
      ? baseStep('euler-maruyama', 1, x, x0, tCur, tNext, dim)
      : (() => {
          const o = odeStep(c.sampler as OdeSampler, x, x0, tCur, tNext, dim);
          return { dim, mean: o.mean, c: o.kappa.map((kappa) => Math.sqrt(2 * kappa)) };
        })();
    const inputs = await p.inputs(x, sigma);
    const v = p.net.predict(inputs, n);
    const xi = new Float32Array(n * dim);
    actions.normal(xi, rows, dim);
    const z = new Float32Array(n * dim);
    if (sde) noise.normal(z, rows, dim);
    // The ratio estimator at σ_eff = √(σ² + h²) (see the note on small σ): ŝ = (D_data − x)/σ_eff².
    const sEff2 = s * s + h2;
    const sig = new Float64Array(n).fill(Math.sqrt(sEff2));
    const dData = c.score === 'data' && halves && s >= hS ? halves.map((y) => dataDenoise(x, sig, y, dim)) : null;
    const xn = new Float32Array(n * dim);
    for (let j = 0; j < n; j++) {
      const t = k * n + j;
      const cj = b.c[j]!;
      tr.inputs.set(inputs.subarray(j * D, (j + 1) * D), t * D);
      tr.next[t] = k + 1 < N ? t + n : -1;
      for (let q = 0; q < dim; q++) {
        const i = j * dim + q;
        const omega = v[i]! + explore * xi[i]!;
        tr.omega[t * dim + q] = omega;
        // c·ê = c·(ŝ − s_model), ŝ = (D_data − x)/σ_eff², s_model = (D_model − x)/σ², from each half.
        if (dData) {
          const sModel = (x0[i]! - x[i]!) / (s * s);
          tr.ce1[t * dim + q] = cj * ((dData[0]![i]! - x[i]!) / sEff2 - sModel);
          tr.ce2[t * dim + q] = cj * ((dData[1]![i]! - x[i]!) / sEff2 - sModel);
        }
        xn[i] = sde ? b.mean[i]! + cj * (omega + z[i]!) : b.mean[i]! + 0.5 * cj * omega;
      }
    }
    x = xn;
  }
  const samples = x;
  const outLabels = lab ? Int32Array.from(lab) : null;
  const rewards = await a.reward(samples, n, outLabels);
  for (let j = 0; j < n; j++) tr.terminal[(N - 1) * n + j] = c.rewardWeight * rewards[j]!;
  noise.release(rows);
  actions.release(rows);
  return { transitions: tr, samples, labels: outLabels, rewards };
}

export interface QUpdate {
  /** ½·mean δ² over the transitions, before the update's first step. */
  tdLoss: number;
  /** Mean of (r − q)·Δt over the first minibatch (without q's constant: see the note). */
  rMinusQ: number;
}

/**
 * Step 3: `epochs` passes of shuffled minibatches of transitions; on each, the TD errors with the
 * next values J_θ(x_{k+1}) held fixed (computed by the critic before the step) and one Adam step of
 * the actor (ψ, `actor`) and of the critic (θ, `criticOpt`) on ½·mean δ².
 */
export function qUpdate(
  p: DriftPolicy,
  critic: Mlp,
  actor: tf.Optimizer,
  criticOpt: tf.Optimizer,
  tr: QTransitions,
  o: { epochs: number; minibatch: number; rng: Stream },
): QUpdate {
  const { count: T, inputDim: D, dim } = tr;
  let first: QUpdate | null = null;
  for (const idx of minibatches(T, o.minibatch, o.epochs, o.rng)) {
    const m = idx.length;
    // The next values, held fixed: J_θ(x_{k+1}) or, after the last step, β·h(x_N).
    const nextIdx = Int32Array.from(idx, (t) => Math.max(0, tr.next[t]!));
    const jNextNet = critic.predict(takeRows(tr.inputs, D, nextIdx), m);
    const jNext = Float32Array.from(idx, (t, q) => (tr.next[t]! >= 0 ? jNextNet[q]! : tr.terminal[t]!));
    const inputs = takeRows(tr.inputs, D, idx);
    const omega = takeRows(tr.omega, dim, idx);
    const ce1 = takeRows(tr.ce1, dim, idx);
    const ce2 = takeRows(tr.ce2, dim, idx);
    const { value, grads } = tf.variableGrads(() => {
      const x = tf.tensor2d(inputs, [m, D]);
      const w = tf.tensor2d(omega, [m, dim]);
      const v = p.net.apply(x);
      const j = tf.squeeze(critic.apply(x), [1]);
      // (r − q)·Δt = −½(ω − c·ê₁)·(ω − c·ê₂) + ½|ω − v_ψ|² (the notes on variance and on q's constant).
      const rDt = tf.mul(
        -0.5,
        tf.sum(tf.mul(tf.sub(w, tf.tensor2d(ce1, [m, dim])), tf.sub(w, tf.tensor2d(ce2, [m, dim]))), 1),
      );
      const qDt = tf.mul(-0.5, tf.sum(tf.square(tf.sub(w, v)), 1));
      const delta = tf.add(tf.sub(tf.tensor1d(jNext), j), tf.sub(rDt, qDt));
      return tf.mul(0.5, tf.mean(tf.square(delta))) as tf.Scalar;
    }, [...p.net.params, ...critic.params]);
    if (!first) {
      const rq = rMinusQMean(p, tr, idx, omega, ce1, ce2, inputs);
      first = { tdLoss: value.dataSync()[0]!, rMinusQ: rq };
    }
    const names = (vs: tf.Variable[]) => Object.fromEntries(vs.map((v) => [v.name, grads[v.name]!]));
    actor.applyGradients(names(p.net.params));
    criticOpt.applyGradients(names(critic.params));
    tf.dispose([value, ...Object.values(grads)]);
  }
  return first ?? { tdLoss: 0, rMinusQ: 0 };
}

/** Mean (r − q)·Δt of a minibatch under the current ψ (for the logs). */
function rMinusQMean(
  p: DriftPolicy,
  tr: QTransitions,
  idx: ArrayLike<number>,
  omega: Float32Array,
  ce1: Float32Array,
  ce2: Float32Array,
  inputs: Float32Array,
): number {
  const m = idx.length;
  const dim = tr.dim;
  const v = p.net.predict(inputs, m);
  let sum = 0;
  for (let q = 0; q < m; q++) {
    let r = 0;
    let qq = 0;
    for (let k = 0; k < dim; k++) {
      const w = omega[q * dim + k]!;
      r += (w - ce1[q * dim + k]!) * (w - ce2[q * dim + k]!);
      qq += (w - v[q * dim + k]!) ** 2;
    }
    sum += -0.5 * r + 0.5 * qq;
  }
  return sum / m;
}
