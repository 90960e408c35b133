// The f-divergences the learner can minimise (paper, Sections 3–4 and Appendix A.1).
//
//   D_f(ρ_E‖ρ_π) = E_{ρ_π}[ f(r) ],   r(s) = ρ_E(s) / ρ_π(s),   f convex, f(1) = 0.
//
// [Note: why the reward is −ψ(r)]
// Write the objective over states as Σ_s ρ_π(s)·f(ρ_E(s)/ρ_π(s)). Differentiating one term in ρ_π(s)
// (ρ_E does not depend on the policy):
//
//   ∂/∂ρ_π [ρ_π f(ρ_E/ρ_π)] = f(r) + ρ_π f′(r)·(−ρ_E/ρ_π²) = f(r) − r f′(r) =: ψ(r),
//
// so ∇_θ D_f = Σ_s ∇_θ ρ_π(s)·ψ(r(s)) = E_{ρ_π}[∇_θ log ρ_π(s)·ψ(r(s))]: a score-function gradient
// with per-state cost ψ, i.e. per-state reward −ψ(r) for a policy-gradient method that ascends.
// Because Σ_s ∇_θ ρ_π(s) = ∇_θ 1 = 0, ψ only matters up to an additive constant: adding c to ψ adds
// c·Σ_s ∇ρ_π(s) = 0 to the gradient. (In the learner, where the signal is a sum of rewards over the
// remaining steps of a fixed-length trajectory, a constant becomes c·(steps left): an action-
// independent baseline, so the expected gradient is unchanged as well.)
//
// Derived −ψ(r) = r f′(r) − f(r) for each generator (these are what `reward` returns, exactly):
//
//   name       f(r)                              f′(r)                  −ψ(r)
//   kl         r log r                           log r + 1              r
//   rkl        −log r                            −1/r                   log r − 1   (table: log r; same up to the constant)
//   tv         ½|r − 1|                          ½ sign(r − 1)          ½ sign(r − 1)
//   hellinger  (√r − 1)²                         1 − 1/√r               √r − 1
//   js         r log r − (1+r) log((1+r)/2)      log(2r/(1+r))          log((1+r)/2)
//   chi2       (r − 1)²                          2(r − 1)               r² − 1
//
// Check of the less obvious rows: rkl: −ψ = r·(−1/r) − (−log r) = log r − 1. js: r·[log r −
// log((1+r)/2)] − r log r + (1+r) log((1+r)/2) = log((1+r)/2). chi2: 2r(r−1) − (r−1)² = (r−1)(r+1).
// tv: ½ r sign(r−1) − ½ |r−1| = ½ sign(r−1)·(r − (r−1)) = ½ sign(r−1).
//
// [Note: numerical conventions]
// * r is first clamped to [0, R_MAX] (R_MAX = 1e30): negative ratios (impossible for densities) count
//   as 0; +∞ and anything above 1e30 count as 1e30, so every divergence's f, f′ and reward are
//   finite (χ²'s r² ≤ 1e60) and batch statistics (mean/std of the learning signal) stay finite.
//   NaN is not repaired: a NaN ratio gives a NaN reward, so an upstream bug stays visible.
// * log and 1/√ arguments are clamped below at EPS = 1e-12: at r = 0, rkl's reward is
//   log(1e-12) − 1 ≈ −28.6 (not −∞), f′ of kl/rkl/hellinger/js is large but finite.
// * Limits that exist are used exactly: kl f(0) = 0·log 0 = 0, js f(0) = log 2, hellinger f(0) = 1.
// * At the kink of tv (r = 1), sign(0) = 0: f′(1) = 0 and the reward is 0 (a valid subgradient).

import { DIVERGENCES, type Divergence } from '../../../shared/learner-config';

export { DIVERGENCES, type Divergence };

export interface DivergenceInfo {
  name: Divergence;
  /** Short human-readable name. */
  label: string;
  /** The generator f (convex, f(1) = 0). */
  f(r: number): number;
  /** Its derivative (a subgradient at kinks). */
  fPrime(r: number): number;
  /** The per-state learning signal −ψ(r) = r f′(r) − f(r). */
  reward(r: number): number;
  /** One line for the UI. */
  summary: string;
}

/** Lower clamp for arguments of log and 1/√. */
export const RATIO_EPS = 1e-12;
/** Upper clamp for the ratio r. */
export const RATIO_MAX = 1e30;

/** r clamped to [0, RATIO_MAX]; NaN passes through. */
function clampRatio(r: number): number {
  if (r < 0) return 0;
  if (r > RATIO_MAX) return RATIO_MAX;
  return r; // also NaN
}

const safeLog = (r: number): number => Math.log(Math.max(r, RATIO_EPS));

const sign = (x: number): number => (x > 0 ? 1 : x < 0 ? -1 : x); // sign(0) = 0, NaN stays NaN

function info(
  name: Divergence,
  label: string,
  summary: string,
  f: (r: number) => number,
  fPrime: (r: number) => number,
  reward: (r: number) => number,
): DivergenceInfo {
  return {
    name,
    label,
    summary,
    f: (r) => f(clampRatio(r)),
    fPrime: (r) => fPrime(clampRatio(r)),
    reward: (r) => reward(clampRatio(r)),
  };
}

export const DIVERGENCE_INFO: Record<Divergence, DivergenceInfo> = {
  kl: info(
    'kl',
    'KL',
    'KL (ρ_E‖ρ_π): mode-covering → favours recall (diversity)',
    (r) => (r > 0 ? r * Math.log(r) : 0 * r), // 0·log 0 = 0; 0·r keeps NaN
    (r) => safeLog(r) + 1,
    (r) => r,
  ),
  rkl: info(
    'rkl',
    'Reverse KL',
    'Reverse KL (ρ_π‖ρ_E): mode-seeking → favours precision (fidelity)',
    (r) => -safeLog(r),
    (r) => -1 / Math.max(r, RATIO_EPS),
    (r) => safeLog(r) - 1,
  ),
  tv: info(
    'tv',
    'Total variation',
    'Total variation: symmetric and bounded → ±½ signal, no strong precision/recall bias',
    (r) => 0.5 * Math.abs(r - 1),
    (r) => 0.5 * sign(r - 1),
    (r) => 0.5 * sign(r - 1),
  ),
  hellinger: info(
    'hellinger',
    'Squared Hellinger',
    'Squared Hellinger: symmetric and bounded → between KL and reverse KL',
    (r) => (Math.sqrt(r) - 1) ** 2,
    (r) => 1 - 1 / Math.sqrt(Math.max(r, RATIO_EPS)),
    (r) => Math.sqrt(r) - 1,
  ),
  js: info(
    'js',
    'Jensen–Shannon',
    'Jensen–Shannon: symmetric and bounded (GAN-like) → balanced precision and recall',
    (r) => (r > 0 ? r * Math.log(r) : 0 * r) - (1 + r) * Math.log((1 + r) / 2),
    (r) => safeLog(r) - Math.log((1 + r) / 2),
    (r) => Math.log((1 + r) / 2),
  ),
  chi2: info(
    'chi2',
    'Pearson χ²',
    'Pearson χ² (ρ_E‖ρ_π): strongly mode-covering, reward grows as r² → favours recall, high variance',
    (r) => (r - 1) ** 2,
    (r) => 2 * (r - 1),
    (r) => r * r - 1,
  ),
};

/** Vectorised learning signal −ψ(r) of `div` for every ratio (conventions in the notes above). */
export function rewardOf(div: Divergence, r: Float32Array | Float64Array): Float64Array {
  const d = DIVERGENCE_INFO[div];
  if (!d) throw new RangeError(`unknown divergence "${String(div)}"; expected one of ${DIVERGENCES.join(', ')}`);
  const out = new Float64Array(r.length);
  for (let i = 0; i < r.length; i++) out[i] = d.reward(r[i]!);
  return out;
}
