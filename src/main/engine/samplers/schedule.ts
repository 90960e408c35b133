// Noise-level discretisation of Karras et al. 2022 ("Elucidating the Design Space…", Eq. 5):
//   t_i = (σ_max^{1/ρ} + i/(N−1) · (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ,  i = 0..N−1,  t_N = 0.
// Discrete-time models (ε-prediction DDPM) round every level to the nearest σ they were trained
// on (EDM's `net.round_sigma`), so the sampler never asks for a σ the model does not know.

export interface ScheduleSettings {
  /** Number of noise levels N before the final t_N = 0 (EDM's num_steps). */
  steps: number;
  sigmaMin: number;
  sigmaMax: number;
  /** Time-step exponent ρ (EDM: 7). */
  rho: number;
}

/** The N+1 levels t_0 > … > t_{N−1} > t_N = 0, after `roundSigma`. */
export function karrasSchedule(s: ScheduleSettings, roundSigma: (sigma: number) => number = (x) => x): Float64Array {
  const { steps: N, sigmaMin, sigmaMax, rho } = s;
  if (!Number.isInteger(N) || N < 1) throw new RangeError(`steps must be a positive integer, got ${N}`);
  if (!(sigmaMin > 0) || !(sigmaMax > sigmaMin)) {
    throw new RangeError(`need 0 < sigma-min < sigma-max, got sigma-min ${sigmaMin}, sigma-max ${sigmaMax}`);
  }
  if (!(rho > 0)) throw new RangeError(`rho must be positive, got ${rho}`);
  const t = new Float64Array(N + 1);
  const a = sigmaMax ** (1 / rho);
  const b = sigmaMin ** (1 / rho);
  for (let i = 0; i < N; i++) {
    const frac = N === 1 ? 0 : i / (N - 1);
    t[i] = roundSigma((a + frac * (b - a)) ** rho);
  }
  t[N] = 0;
  return t;
}
