// Euler–Maruyama on the reverse-time SDE (Song et al. 2021, Eq. 6; Anderson 1982), written in EDM's
// σ-parameterisation, where the forward process adds noise of variance σ² (σ(t) = t, the VE SDE
// dx = √(dσ²/dt)·dw). Its reverse is
//     dx = −(dσ²/dt)·∇ₓlog p_σ(x)·dt + √(dσ²/dt)·dw̄,      ∇ₓlog p_σ(x) = (D(x; σ) − x)/σ²
// (Tweedie: the score from the denoiser). One Euler–Maruyama step from level σ to σ' < σ:
//     x' = x + (σ² − σ'²)·(D(x; σ) − x)/σ² + √(σ² − σ'²)·z,     z ~ N(0, I)
// i.e. a Gaussian step N(m, c²·I) with mean m = x + (1 − σ'²/σ²)·(x̂₀ − x) and c = √(σ² − σ'²). The
// last step (σ' = 0) lands on the mean x̂₀ plus noise of σ_N−1 (σ_min: 0.002 for EDM models).
// One denoiser evaluation per step. This is the sampler the q-learning paper simulates (its Eq. 33,
// for its OU forward process) and the base of the drift policies (drift/kernels.ts): they keep c and
// move m.

import type { Denoiser } from '../models/model';
import { guidedDenoise, rowGuidance } from './guidance';
import type { StepFn, StepInput } from './loop';
import type { NoiseSource } from './random';

/** The step's Gaussian from σ to σ' < σ: x' = x + a·(x̂₀ − x) + c·z, a = 1 − σ'²/σ², c = √(σ² − σ'²). */
export function eulerMaruyamaCoefficients(sigma: number, sigmaNext: number): { a: number; c: number } {
  const v = Math.max(0, sigma * sigma - sigmaNext * sigmaNext);
  return { a: v / (sigma * sigma), c: Math.sqrt(v) };
}

export function eulerMaruyamaStep(model: Denoiser, noise: NoiseSource): StepFn {
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
    const z = new Float32Array(m * dim);
    noise.normal(z, inp.rows, dim);
    const out = new Float32Array(m * dim);
    for (let j = 0; j < m; j++) {
      inp.nfe[j]!++;
      const { a, c } = eulerMaruyamaCoefficients(inp.tCur[j]!, inp.tNext[j]!);
      for (let k = j * dim, e = k + dim; k < e; k++) out[k] = inp.x[k]! + a * (x0[k]! - inp.x[k]!) + c * z[k]!;
    }
    return out;
  };
}
