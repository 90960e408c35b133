// The VP (DDPM) ↔ EDM bridge for ε-prediction models (Karras et al. 2022, Table 1 and App. C.3.4;
// EDM's VPPrecond / iDDPMPrecond).
//
// A DDPM with β_1..β_T has ᾱ_t = Π_{s≤t}(1 − β_s) and x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε. Dividing by √ᾱ_t
// gives EDM's variance-exploding state x = x_0 + σ·ε with σ_t = √((1−ᾱ_t)/ᾱ_t). So, for a sampler
// working in σ:
//   model input  x_t = c_in·x,  c_in = 1/√(σ²+1) = √ᾱ_t;   timestep input t (int64, 0-based)
//   D(x;σ) = x − σ·ε̂(c_in·x, t)
// The model only knows T discrete levels; σ is rounded to the nearest one (round_sigma).

import type { VpSchedule } from './manifest';

export class VpTable {
  /** σ_t for t = 0..T−1, increasing. */
  readonly sigmas: Float64Array;

  constructor(readonly schedule: VpSchedule) {
    const { betaStart, betaEnd, timesteps: T } = schedule;
    this.sigmas = new Float64Array(T);
    let alphaBar = 1;
    for (let t = 0; t < T; t++) {
      const frac = T === 1 ? 0 : t / (T - 1);
      const beta =
        schedule.schedule === 'linear'
          ? betaStart + frac * (betaEnd - betaStart)
          : (Math.sqrt(betaStart) + frac * (Math.sqrt(betaEnd) - Math.sqrt(betaStart))) ** 2;
      alphaBar *= 1 - beta;
      this.sigmas[t] = Math.sqrt((1 - alphaBar) / alphaBar);
    }
  }

  get sigmaMin(): number {
    return this.sigmas[0]!;
  }

  get sigmaMax(): number {
    return this.sigmas[this.sigmas.length - 1]!;
  }

  /** Index of the level nearest to σ (absolute distance, as EDM's round_sigma; binary search). */
  timestep(sigma: number): number {
    const s = this.sigmas;
    if (sigma <= s[0]!) return 0;
    if (sigma >= s[s.length - 1]!) return s.length - 1;
    let lo = 0;
    let hi = s.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (s[mid]! <= sigma) lo = mid;
      else hi = mid;
    }
    return sigma - s[lo]! <= s[hi]! - sigma ? lo : hi;
  }

  roundSigma(sigma: number): number {
    return this.sigmas[this.timestep(sigma)]!;
  }
}
