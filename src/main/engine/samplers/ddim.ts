// DDIM (Song et al. 2021, Eq. 12) with η, written in EDM's σ-parameterisation.
//
// With ᾱ(σ) = 1/(1+σ²), the VP state is x_t = √ᾱ·x. From level σ to σ' with x̂_0 = D(x;σ) and
// ε̂ = (x − x̂_0)/σ:
//   σ_η = η·√((1−ᾱ')/(1−ᾱ))·√(1 − ᾱ/ᾱ')                          (DDIM's σ_t(η), VP scale)
//   x'_t = √ᾱ'·x̂_0 + √(1−ᾱ'−σ_η²)·ε̂ + σ_η·z
// and back in EDM scale (÷√ᾱ'):  x' = x̂_0 + √((1−ᾱ'−σ_η²)/ᾱ')·ε̂ + (σ_η/√ᾱ')·z.
// η = 0 is the deterministic DDIM sampler, identical to an Euler step of the probability-flow ODE
// in σ; η = 1 gives DDPM-like ancestral noise. The last step (σ' = 0) returns x̂_0.
// The update depends on the model only through D, so it runs on any model; ε-models get their
// discrete σ levels through the schedule's rounding.

import type { Denoiser } from '../models/model';
import { guidedDenoise, rowGuidance } from './guidance';
import type { StepFn, StepInput } from './loop';
import type { NoiseSource } from './random';

/** The step's coefficients from σ to σ' (see the note): x' = x̂_0 + c_ε·ε̂ + c_z·z. */
export function ddimCoefficients(sigma: number, sigmaNext: number, eta: number): { cEps: number; cZ: number } {
  const a = 1 / (1 + sigma * sigma);
  const an = 1 / (1 + sigmaNext * sigmaNext);
  const sigmaEta = eta * Math.sqrt((1 - an) / (1 - a)) * Math.sqrt(Math.max(0, 1 - a / an));
  return { cEps: Math.sqrt(Math.max(0, 1 - an - sigmaEta * sigmaEta) / an), cZ: sigmaEta / Math.sqrt(an) };
}

export function ddimStep(model: Denoiser, eta: number, noise: NoiseSource): StepFn {
  if (!(eta >= 0)) throw new RangeError(`eta must be ≥ 0, got ${eta}`);
  const dim = model.dim;
  return async (inp: StepInput): Promise<Float32Array> => {
    const m = inp.tCur.length;
    const x0 = await guidedDenoise(
      model,
      {
        x: inp.x,
        sigma: Float32Array.from(inp.tCur),
        labels: inp.labels,
        guidance: rowGuidance(inp.guidance, inp.guidanceAt, inp.tCur),
        signal: inp.signal,
      },
      inp.networkEvals,
    );
    if (inp.denoised) inp.denoised.set(x0);
    const z = eta > 0 ? new Float32Array(m * dim) : null;
    if (z) noise.normal(z, inp.rows, dim);
    const out = new Float32Array(m * dim);
    for (let j = 0; j < m; j++) {
      inp.nfe[j]!++;
      const s = inp.tCur[j]!;
      const { cEps, cZ } = ddimCoefficients(s, inp.tNext[j]!, eta);
      for (let k = j * dim, e = k + dim; k < e; k++) {
        const epsHat = (inp.x[k]! - x0[k]!) / s;
        out[k] = x0[k]! + cEps * epsHat + (z ? cZ * z[k]! : 0);
      }
    }
    return out;
  };
}
