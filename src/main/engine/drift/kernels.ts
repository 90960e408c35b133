// Drift policies (issue 18): the Gaussian step of a stochastic base sampler, and a policy's residual
// on its mean. The DDPO thesis (its MDP over denoising steps), DPOK and the q-learning paper in
// ../shared/papers all act on this step; here the denoiser is a frozen ONNX graph, so the policy
// does not replace its score but adds to it.
//
// [Note: the drift step]
// A stochastic sampler moves a row from level σ to σ' < σ by a Gaussian step
//     x' ~ p(·|x) = N(m(x), c²·I),
// m the base sampler's mean (through the frozen denoiser's x̂₀ = D(x; σ)) and c its noise:
//   euler-maruyama  m = x + (1 − σ'²/σ²)·(x̂₀ − x),  c = √(σ² − σ'²)   (samplers/euler-maruyama.ts)
//   ddim (η > 0)    m = x̂₀ + c_ε·ε̂,                c = c_z            (samplers/ddim.ts)
// A drift policy keeps c and moves the mean by c²·u, u = u_ψ(x, σ) ∈ R^d:
//     x' ~ π_ψ(·|x) = N(m + c²·u, c²·I).
// Why c²·u: the base step tilted by exp(u·x') is exactly N(m + c²·u, c²·I), so u is the gradient of
// a log-tilt, in the units of a score. On the Euler–Maruyama step c² = σ² − σ'² = ∫ g² dt, and c²·u is
// the discretised g²·u·dt of the controlled reverse SDE whose action is the score (the q-learning
// paper's Eq. 10 with a = score + u); its optimal policy's mean is the score plus a reward term
// (Proposition 1), which is what u learns on top of the frozen model's score. Everything the
// objectives need is then in closed form, per row:
//     log π_ψ(x'|x) = −|x' − m − c²·u|²/(2c²) − d·log c − (d/2)·log 2π
//     KL(π_ψ(·|x) ‖ p(·|x)) = c²·|u|²/2            (two Gaussians of one covariance: |Δmean|²/(2c²))
// Summed over the steps, the KL is the path KL of Girsanov's theorem (the q-learning paper's Eq. 11)
// in its Euler–Maruyama discretisation, the quantity DPOK penalises. A step with c = 0 (DDIM's last
// step, to σ' = 0) is deterministic: no policy acts there (u is not applied), it has no
// log-probability and no KL. With u = 0 the step is the base sampler's, to the bit (its arithmetic is
// the sampler's own: mean first, then the noise).
//
//
// [Note: the deterministic steps]
// q-learning also runs on ODE samplers (the q-learning paper's §7.1), whose step has no noise: it
// moves x by κ times the score, x' = m + κ·w for an action a = s_model + w (m: the step with the model's
// own score). Two of them:
//   ddim (η = 0)  Euler on the probability-flow ODE in σ: m = x̂₀ + (σ'/σ)(x − x̂₀), κ = σ(σ − σ')
//   ode-euler     Euler on the VP probability-flow ODE dx/dt = −½(x + ∇log p) in its own time
//                 t = ln(1 + σ²) (β = 1), in the VP state αx, α = 1/√(1 + σ²), and back:
//                 x' = [αx + ½(t − t')(αx + a/α)]/α', so κ = ½(t − t')/(αα')
// In the VE σ of our models DDIM is Euler, so the paper's ODE-Euler, which integrates the VP ODE
// in its time, is the VP one here. The exploration noise of such a step is the action's alone
// (q-learning.ts).
//
// Arithmetic is float64 (JS numbers); states are stored as float32, as the samplers store them.

import { DRIFT_SAMPLERS } from '../../../shared/drift-config';
import { ddimCoefficients } from '../samplers/ddim';
import { eulerMaruyamaCoefficients } from '../samplers/euler-maruyama';

export { DRIFT_SAMPLERS };
/** The samplers a drift policy steers: stochastic ones (see the note on the drift step), and for q-learning deterministic ones. */
export type DriftSampler = (typeof DRIFT_SAMPLERS)[number];
/** The stochastic ones (ddim with η > 0). */
export type StochasticSampler = 'euler-maruyama' | 'ddim';

/** Whether `sampler` at `eta` draws noise at each step (euler-maruyama; ddim with η > 0). */
export function isStochastic(sampler: DriftSampler, eta: number): sampler is StochasticSampler {
  return sampler === 'euler-maruyama' || (sampler === 'ddim' && eta > 0);
}

/** The base step's Gaussian for m rows: mean [m, dim] and noise c [m] (see the note). */
export interface BaseStep {
  dim: number;
  /** [m, dim] m(x). */
  mean: Float64Array;
  /** [m] c ≥ 0 (0: a deterministic step). */
  c: Float64Array;
}

/** The base step of `sampler` for rows x [m, dim] with denoised x̂₀ [m, dim], from σ = tCur to σ' = tNext. */
export function baseStep(
  sampler: StochasticSampler,
  eta: number,
  x: Float32Array,
  x0: Float32Array,
  tCur: ArrayLike<number>,
  tNext: ArrayLike<number>,
  dim: number,
): BaseStep {
  if (sampler === 'ddim' && !(eta > 0 && eta <= 1))
    throw new RangeError(`a drift policy on DDIM needs 0 < η ≤ 1 (a stochastic step), got η = ${eta}`);
  const m = tCur.length;
  const mean = new Float64Array(m * dim);
  const c = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    const s = tCur[j]!;
    if (sampler === 'euler-maruyama') {
      const k = eulerMaruyamaCoefficients(s, tNext[j]!);
      c[j] = k.c;
      for (let i = j * dim, e = i + dim; i < e; i++) mean[i] = x[i]! + k.a * (x0[i]! - x[i]!);
    } else {
      const k = ddimCoefficients(s, tNext[j]!, eta);
      c[j] = k.cZ;
      for (let i = j * dim, e = i + dim; i < e; i++) mean[i] = x0[i]! + k.cEps * ((x[i]! - x0[i]!) / s);
    }
  }
  return { dim, mean, c };
}

/** x' = m + c²·u + c·z per row (u null: the base step; rows with c = 0 land on m). */
export function driftStep(b: BaseStep, u: ArrayLike<number> | null, z: ArrayLike<number>): Float32Array {
  const { dim, mean, c } = b;
  const out = new Float32Array(mean.length);
  for (let j = 0; j < c.length; j++) {
    const cj = c[j]!;
    const c2 = cj * cj;
    for (let i = j * dim, e = i + dim; i < e; i++)
      out[i] = cj === 0 ? mean[i]! : u ? mean[i]! + c2 * u[i]! + cj * z[i]! : mean[i]! + cj * z[i]!;
  }
  return out;
}

/** log π(x'|x) per row under N(m + c²·u, c²·I) (u null: the base step's); 0 for a row with c = 0. */
export function driftLogProb(b: BaseStep, u: ArrayLike<number> | null, xNext: ArrayLike<number>): Float64Array {
  const { dim, mean, c } = b;
  const out = new Float64Array(c.length);
  const half = 0.5 * Math.log(2 * Math.PI);
  for (let j = 0; j < c.length; j++) {
    const cj = c[j]!;
    if (cj === 0) continue;
    const c2 = cj * cj;
    let sq = 0;
    for (let i = j * dim, e = i + dim; i < e; i++) {
      const r = xNext[i]! - mean[i]! - (u ? c2 * u[i]! : 0);
      sq += r * r;
    }
    out[j] = -sq / (2 * c2) - dim * (Math.log(cj) + half);
  }
  return out;
}

/** KL(π ‖ p) per row = c²·|u|²/2 (see the note); 0 for a row with c = 0. */
export function driftKl(b: BaseStep, u: ArrayLike<number>): Float64Array {
  const { dim, c } = b;
  const out = new Float64Array(c.length);
  for (let j = 0; j < c.length; j++) {
    let sq = 0;
    for (let i = j * dim, e = i + dim; i < e; i++) sq += u[i]! * u[i]!;
    out[j] = (c[j]! * c[j]! * sq) / 2;
  }
  return out;
}

/** The deterministic samplers q-learning also simulates (see the note on deterministic steps). */
export const ODE_SAMPLERS = ['ddim', 'ode-euler'] as const;
export type OdeSampler = (typeof ODE_SAMPLERS)[number];

/** A deterministic step for m rows: mean [m, dim] (the step with the model's score) and κ [m], the score's coefficient. */
export interface OdeStep {
  dim: number;
  mean: Float64Array;
  kappa: Float64Array;
}

/** The deterministic step of `sampler` for rows x [m, dim] with denoised x̂₀, from σ = tCur to σ' = tNext (see the note). */
export function odeStep(
  sampler: OdeSampler,
  x: Float32Array,
  x0: Float32Array,
  tCur: ArrayLike<number>,
  tNext: ArrayLike<number>,
  dim: number,
): OdeStep {
  const m = tCur.length;
  const mean = new Float64Array(m * dim);
  const kappa = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    const s = tCur[j]!;
    const sn = tNext[j]!;
    if (sampler === 'ddim') {
      // DDIM's own arithmetic (samplers/ddim.ts), so that v = 0 is its step to the bit: c_ε = σ'.
      const { cEps } = ddimCoefficients(s, sn, 0);
      kappa[j] = s * (s - sn);
      for (let i = j * dim, e = i + dim; i < e; i++) mean[i] = x0[i]! + cEps * ((x[i]! - x0[i]!) / s);
    } else {
      const a = 1 / Math.sqrt(1 + s * s);
      const an = 1 / Math.sqrt(1 + sn * sn);
      const dt = Math.log1p(s * s) - Math.log1p(sn * sn);
      kappa[j] = (0.5 * dt) / (a * an);
      for (let i = j * dim, e = i + dim; i < e; i++) {
        const score = (x0[i]! - x[i]!) / (s * s);
        mean[i] = (a * x[i]! + 0.5 * dt * (a * x[i]! + score / a)) / an;
      }
    }
  }
  return { dim, mean, kappa };
}
