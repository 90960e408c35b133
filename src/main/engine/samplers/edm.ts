// Euler, Heun (Karras et al. 2022, Algorithm 1) and the EDM stochastic sampler (Algorithm 2),
// following NVlabs/edm `generate.py::edm_sampler`, batched, with per-row σ and per-row γ, w.
//
//   for i = 0..N−1:
//     γ_i = min(S_churn/N, √2−1) if t_i ∈ [S_tmin, S_tmax] else 0        (or the policy's γ, or a churn curve's γ(t_i))
//     t̂_i = t_i + γ_i·t_i;  x̂_i = x_i + √(t̂_i² − t_i²)·S_noise·ε_i          Increase noise temporarily
//     d_i = (x̂_i − D(x̂_i; t̂_i))/t̂_i;  x_{i+1} = x̂_i + (t_{i+1} − t̂_i)·d_i  Euler step
//     if 2nd order and t_{i+1} ≠ 0:                                           2nd order correction
//       d'_i = (x_{i+1} − D(x_{i+1}; t_{i+1}))/t_{i+1}
//       x_{i+1} = x̂_i + (t_{i+1} − t̂_i)·(½d_i + ½d'_i)
//
// Each D is the guided denoiser D_w with w at that evaluation's σ (guidance.ts: the hook's w of the
// step, else the settings' w(σ): constant, interval or curve). Arithmetic is done in float64 (JS
// numbers) and stored as float32 states.

import type { Denoiser } from '../models/model';
import { curveAt } from '../../../shared/curve';
import { GAMMA_MAX } from '../../../shared/limits';
import { guidedDenoise, rowGuidance } from './guidance';
import { gatherRows, type StepFn, type StepInput } from './loop';
import { checkCancelled } from '../cancel';
import type { NoiseSource } from './random';
import type { SamplerSettings } from './types';

/** γ_i of Algorithm 2 for level t_i with N steps; a churn curve's γ(t_i) in its place when given. */
export function churnGamma(
  s: Pick<SamplerSettings, 'churn' | 'sTmin' | 'sTmax' | 'churnCurve'>,
  tCur: number,
  N: number,
): number {
  if (s.churnCurve) return curveAt(s.churnCurve, tCur);
  return tCur >= s.sTmin && tCur <= s.sTmax ? Math.min(s.churn / N, GAMMA_MAX) : 0;
}

export interface EdmStepOptions {
  secondOrder: boolean;
  settings: Pick<SamplerSettings, 'churn' | 'sTmin' | 'sTmax' | 'sNoise' | 'churnCurve'>;
  /** N, for γ_i = S_churn/N. */
  steps: number;
  noise: NoiseSource;
}

/** One Euler/Heun step (with churn) for the rows of `input`. */
export function edmStep(model: Denoiser, o: EdmStepOptions): StepFn {
  const dim = model.dim;
  return async (inp: StepInput): Promise<Float32Array> => {
    const m = inp.tCur.length;
    const { x, tCur, tNext } = inp;

    // Increase noise temporarily: t̂ = t(1+γ), x̂ = x + √(t̂² − t²)·S_noise·ε.
    const tHat = new Float64Array(m);
    const churnRows: number[] = [];
    for (let j = 0; j < m; j++) {
      const gamma = inp.gamma ? inp.gamma[j]! : churnGamma(o.settings, tCur[j]!, o.steps);
      if (!(gamma >= 0)) throw new RangeError(`churn γ must be ≥ 0, got ${gamma}`);
      tHat[j] = gamma > 0 ? model.roundSigma(tCur[j]! + gamma * tCur[j]!) : tCur[j]!;
      if (tHat[j]! > tCur[j]!) churnRows.push(j);
    }
    let xHat = x;
    if (churnRows.length > 0) {
      xHat = x.slice();
      const eps = new Float32Array(churnRows.length * dim);
      o.noise.normal(
        eps,
        churnRows.map((j) => inp.rows[j]!),
        dim,
      );
      churnRows.forEach((j, r) => {
        const s = Math.sqrt(tHat[j]! ** 2 - tCur[j]! ** 2) * o.settings.sNoise;
        for (let k = 0; k < dim; k++) xHat[j * dim + k] = x[j * dim + k]! + s * eps[r * dim + k]!;
      });
    }

    // Euler step.
    const d0 = await guidedDenoise(
      model,
      {
        x: xHat,
        sigma: Float32Array.from(tHat),
        labels: inp.labels,
        guidance: rowGuidance(inp.guidance, inp.guidanceAt, tHat),
        signal: inp.signal,
      },
      inp.networkEvals,
    );
    if (inp.denoised) inp.denoised.set(d0);
    const xNext = new Float32Array(m * dim);
    const dCur = new Float64Array(m * dim);
    for (let j = 0; j < m; j++) {
      inp.nfe[j]!++;
      const th = tHat[j]!;
      const h = tNext[j]! - th;
      for (let k = j * dim, e = k + dim; k < e; k++) {
        const d = (xHat[k]! - d0[k]!) / th;
        dCur[k] = d;
        xNext[k] = xHat[k]! + h * d;
      }
    }
    if (!o.secondOrder) return xNext;

    // 2nd order correction, for rows not landing on t = 0.
    const corr: number[] = [];
    for (let j = 0; j < m; j++) if (tNext[j]! > 0) corr.push(j);
    if (corr.length === 0) return xNext;
    const all = corr.length === m;
    const xc = all ? xNext : gatherRows(xNext, corr, dim);
    const sub = <T extends Float32Array | BigInt64Array>(a: T | null): T | null => {
      if (!a || all) return a;
      const out = new (a.constructor as new (n: number) => T)(corr.length);
      corr.forEach((j, r) => (out[r] = a[j]!));
      return out;
    };
    const evals = new Int32Array(corr.length);
    checkCancelled(inp.signal);
    const tCorr = Float64Array.from(corr, (j) => tNext[j]!);
    const d1 = await guidedDenoise(
      model,
      {
        x: xc,
        sigma: Float32Array.from(tCorr),
        labels: sub(inp.labels),
        guidance: rowGuidance(sub(inp.guidance), inp.guidanceAt, tCorr),
        signal: inp.signal,
      },
      evals,
    );
    corr.forEach((j, r) => {
      inp.nfe[j]!++;
      inp.networkEvals[j]! += evals[r]!;
      const th = tHat[j]!;
      const tn = tNext[j]!;
      const h = tn - th;
      for (let k = 0; k < dim; k++) {
        const a = j * dim + k;
        const dPrime = (xc[r * dim + k]! - d1[r * dim + k]!) / tn;
        xNext[a] = xHat[a]! + h * (0.5 * dCur[a]! + 0.5 * dPrime);
      }
    });
    return xNext;
  };
}
