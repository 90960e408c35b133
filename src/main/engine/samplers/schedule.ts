// Noise-level discretisations: the schedules of shared/sampler-settings.ts ([Note: schedules]).
// EDM's is Karras et al. 2022 ("Elucidating the Design Space…", Eq. 5):
//   t_i = (σ_max^{1/ρ} + i/(N−1) · (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ,  i = 0..N−1,  t_N = 0.
// The others space the levels evenly in another variable u(σ) and map back: t_i = σ(u_i) with
//   u_i = u(σ_max) + i/(N−1) · (u(σ_min) − u(σ_max)).
// Discrete-time models (ε-prediction DDPM) round every level to the nearest σ they were trained
// on (EDM's `net.round_sigma`), so the sampler never asks for a σ the model does not know.

import type { ScheduleName } from '../../../shared/sampler-settings';

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
  if (!(s.rho > 0)) throw new RangeError(`rho must be positive, got ${s.rho}`);
  return evenlyIn(
    s,
    (x) => x ** (1 / s.rho),
    (u) => u ** s.rho,
    roundSigma,
    false,
  );
}

/** The levels evenly spaced in u = fwd(σ) between σ_max and σ_min (inv: σ = inv(u)), then t_N = 0. */
function evenlyIn(
  s: Pick<ScheduleSettings, 'steps' | 'sigmaMin' | 'sigmaMax'>,
  fwd: (sigma: number) => number,
  inv: (u: number) => number,
  roundSigma: (sigma: number) => number,
  /** σ_max and σ_min as given rather than through u and back (EDM's Eq. 5 keeps its round trip, as NVlabs/edm computes it). */
  exactEnds = true,
): Float64Array {
  const { steps: N, sigmaMin, sigmaMax } = s;
  if (!Number.isInteger(N) || N < 1) throw new RangeError(`steps must be a positive integer, got ${N}`);
  if (!(sigmaMin > 0) || !(sigmaMax > sigmaMin)) {
    throw new RangeError(`need 0 < sigma-min < sigma-max, got sigma-min ${sigmaMin}, sigma-max ${sigmaMax}`);
  }
  const t = new Float64Array(N + 1);
  const a = fwd(sigmaMax);
  const b = fwd(sigmaMin);
  for (let i = 0; i < N; i++) {
    const frac = N === 1 ? 0 : i / (N - 1);
    const end = i === 0 ? sigmaMax : i === N - 1 ? sigmaMin : null;
    t[i] = roundSigma(exactEnds && end !== null ? end : inv(a + frac * (b - a)));
  }
  t[N] = 0;
  return t;
}

/** Nichol & Dhariwal's offset s of the cosine schedule. */
const COSINE_S = 0.008;
const cosF = (u: number): number => Math.cos(((u + COSINE_S) / (1 + COSINE_S)) * (Math.PI / 2)) ** 2;

/** A discrete-time model's levels: σ_t for t = 0..T−1, increasing (models/vp.ts). */
export interface DiscreteLevels {
  readonly sigmas: Float64Array;
  timestep(sigma: number): number;
}

/**
 * The schedule `name` ([Note: schedules] in shared/sampler-settings.ts) with N = s.steps levels
 * between s.sigmaMin and s.sigmaMax, after `roundSigma`. `discrete`: the model's levels when it is a
 * discrete-time (VP) model, whose own time is the timestep index (uniform); null for σ-time models.
 */
export function namedSchedule(
  name: ScheduleName,
  s: ScheduleSettings,
  roundSigma: (sigma: number) => number = (x) => x,
  discrete: DiscreteLevels | null = null,
): Float64Array {
  switch (name) {
    case 'edm':
      return karrasSchedule(s, roundSigma);
    case 'uniform':
      if (discrete) {
        // DDIM's uniform skip: timesteps evenly from t(σ_max) down to t(σ_min), each rounded to the
        // nearest of the model's own (u is the timestep index; σ(u) its level).
        const T = discrete.sigmas.length;
        const level = (u: number): number => discrete.sigmas[Math.min(T - 1, Math.max(0, Math.round(u)))]!;
        return evenlyIn(
          s,
          (x) => discrete.timestep(x),
          level,
          (x) => x,
        );
      }
      return evenlyIn(
        s,
        (x) => x,
        (u) => u,
        roundSigma,
      );
    case 'log-linear':
      return evenlyIn(s, Math.log, Math.exp, roundSigma);
    case 'cosine': {
      // ᾱ = 1/(1+σ²) = f(u)/f(0)  ⇔  u = (2/π)·acos(√(f(0)/(1+σ²)))·(1+s) − s
      const f0 = cosF(0);
      return evenlyIn(
        s,
        (x) => (2 / Math.PI) * Math.acos(Math.sqrt(f0 / (1 + x * x))) * (1 + COSINE_S) - COSINE_S,
        (u) => Math.sqrt(f0 / cosF(u) - 1),
        roundSigma,
      );
    }
    case 'kl-optimal':
      return evenlyIn(s, Math.atan, Math.tan, roundSigma);
  }
}

/**
 * An explicit schedule (a --sigmas list: σ_0 > … > σ_{N−1} > 0, then 0; checked by shared/sigmas.ts)
 * after `roundSigma`; a RangeError when two of its levels round to the same level of a discrete-time model.
 */
export function explicitSchedule(
  sigmas: readonly number[],
  roundSigma: (sigma: number) => number = (x) => x,
): Float64Array {
  const t = Float64Array.from(sigmas, (v, i) => (i === sigmas.length - 1 ? 0 : roundSigma(v)));
  for (let i = 1; i < t.length - 1; i++)
    if (!(t[i]! < t[i - 1]!))
      throw new RangeError(
        `sigmas entries ${i - 1} (${sigmas[i - 1]}) and ${i} (${sigmas[i]}) round to the same level σ = ${t[i]} of this discrete-time model; drop one, or space them further apart`,
      );
  return t;
}
