// Fréchet distance between Gaussian fits of two feature sets (Heusel et al. 2017, "FID"):
//   FID = ‖μ₁ − μ₂‖² + Tr Σ₁ + Tr Σ₂ − 2·Tr (Σ₁Σ₂)^½.
//
// [Note: the trace of the matrix square root without sqrtm]
// Σ₁Σ₂ has the same eigenvalues as the symmetric PSD matrix M = Fᵀ Σ₂ F for any factor F with
// F Fᵀ = Σ₁, so Tr (Σ₁Σ₂)^½ = Σ_i √λ_i(M). F is the Cholesky factor of Σ₁ when Σ₁ is positive
// definite, or the centred data itself, F = X̃ᵀ/√(n−1), when there are fewer samples than
// dimensions (then M is n×n and the result is exact for the singular Σ₁). Only when neither is
// available (precomputed singular statistics) do we fall back to pytorch-fid's regularisation
// Σ + εI, ε = 1e-6, and say so. The O(n·d²) and O(d³) products run on ONNX Runtime; the
// eigenvalues come from linalg.ts.

import type { FidStats } from './fid-stats';
import { cholesky, choleskyBlocked, eigvalshBlocked } from './linalg';
import { mat, matmul, matmulTA, type Mat } from './ortmath';
import { checkFeatures, type Features } from './types';

export interface FidResult {
  fid: number;
  /** ‖μ₁ − μ₂‖² */
  meanTerm: number;
  /** Tr Σ₁ + Tr Σ₂ − 2 Tr (Σ₁Σ₂)^½ */
  covTerm: number;
  nReal: number | null;
  nFake: number | null;
  d: number;
  method: 'cholesky' | 'data-factor' | 'regularised';
  /** Honesty: small samples, regularisation, numerical clamps. */
  flags: string[];
}

/** μ and the unbiased Σ of a feature set (the statistics pytorch-fid caches as .npz). */
export async function gaussianStats(f: Features, what = 'features'): Promise<FidStats> {
  checkFeatures(f, what);
  const { n, d } = f;
  if (n < 2) throw new RangeError(`${what}: a covariance needs at least 2 samples, got ${n}`);
  const mu = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j]! += f.data[i * d + j]!;
  for (let j = 0; j < d; j++) mu[j]! /= n;
  const xc = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) xc[i * d + j] = f.data[i * d + j]! - mu[j]!;
  const X = mat(n, d, xc);
  const gram = await matmulTA(X, X); // X̃ᵀX̃ [d, d]
  const sigma = gram.data;
  for (let k = 0; k < sigma.length; k++) sigma[k]! /= n - 1;
  symmetrise(sigma, d);
  let factor: Mat | null = null;
  if (n <= d) {
    // [d, n] = X̃ᵀ/√(n−1)
    const s = 1 / Math.sqrt(n - 1);
    const fd = new Float64Array(d * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) fd[j * n + i] = xc[i * d + j]! * s;
    factor = mat(d, n, fd);
  }
  return { mu, sigma, d, n, factor };
}

function symmetrise(a: Float64Array, d: number): void {
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < i; j++) {
      const m = 0.5 * (a[i * d + j]! + a[j * d + i]!);
      a[i * d + j] = m;
      a[j * d + i] = m;
    }
  }
}

function trace(a: Float64Array, d: number): number {
  let t = 0;
  for (let i = 0; i < d; i++) t += a[i * d + i]!;
  return t;
}

/** Tr (Σ₁Σ₂)^½ through a factor F of Σ₁ ([d, r]): Σ √λ(Fᵀ Σ₂ F). */
async function traceSqrtProduct(F: Mat, sigma2: Float64Array, d: number, flags: string[]): Promise<number> {
  const T = await matmul(mat(d, d, sigma2), F); // Σ₂F [d, r]
  const M = await matmulTA(F, T); // FᵀΣ₂F [r, r]
  symmetrise(M.data, M.rows);
  const ev = await eigvalshBlocked(M.data, M.rows);
  let s = 0;
  let mostNegative = 0;
  let largest = 0;
  for (const l of ev) largest = Math.max(largest, Math.abs(l));
  for (const l of ev) {
    if (l > 0) s += Math.sqrt(l);
    else mostNegative = Math.min(mostNegative, l);
  }
  // A PSD product has λ ≥ 0; round-off leaves tiny negatives, clamped to 0. Large ones mean the inputs were not covariances.
  if (mostNegative < -1e-8 * largest)
    flags.push(
      `Σ₁Σ₂ had a negative eigenvalue ${mostNegative.toExponential(2)} (largest ${largest.toExponential(2)}); clamped to 0 — are both Σ valid covariances?`,
    );
  return s;
}

/**
 * The factor to use for Σ: the data factor (n ≤ d), else Cholesky when Σ is positive definite,
 * else — for d ≤ 256 — the semi-definite Cholesky (zero pivots dropped), exact for the singular
 * covariances of small per-class sets where Σ + εI would bias FID by −2·d·ε.
 */
async function factorOf(s: FidStats): Promise<{ F: Mat; method: 'cholesky' | 'data-factor' } | null> {
  if (s.factor) return { F: s.factor, method: 'data-factor' };
  const L =
    (await choleskyBlocked(s.sigma, s.d)) ?? (s.d <= 256 ? cholesky(s.sigma, s.d, { semidefinite: true }) : null);
  return L ? { F: mat(s.d, s.d, L), method: 'cholesky' } : null;
}

export const FID_EPS = 1e-6;

/** FID between real and generated statistics (named, so they cannot be swapped silently). */
export async function fid(args: { real: FidStats; fake: FidStats }): Promise<FidResult> {
  const { real, fake } = args;
  if (!real || !fake) throw new RangeError('fid needs { real, fake } statistics');
  if (real.d !== fake.d)
    throw new RangeError(
      `fid: real features are ${real.d}-dimensional, generated ones ${fake.d}-dimensional; use the same feature extractor for both`,
    );
  const d = real.d;
  const flags: string[] = [];
  for (const [name, s] of [
    ['real', real],
    ['generated', fake],
  ] as const) {
    if (s.n !== null && s.n < d)
      flags.push(
        `${name}: ${s.n} samples < ${d} feature dimensions: Σ is singular and FID is strongly biased; use more samples`,
      );
    else if (s.n !== null && s.n < 2048)
      flags.push(
        `${name}: ${s.n} samples < 2,048: FID is biased upwards at small sample counts; compare only at equal n (or use KID)`,
      );
  }
  let meanTerm = 0;
  for (let j = 0; j < d; j++) meanTerm += (real.mu[j]! - fake.mu[j]!) ** 2;
  const tr = trace(real.sigma, d) + trace(fake.sigma, d);

  // The trace is symmetric in Σ₁, Σ₂: use the smaller data factor if there is one, else the first
  // Cholesky factor that exists (each costs O(d³), so stop at the first).
  const order = (real.factor?.cols ?? Infinity) <= (fake.factor?.cols ?? Infinity) ? [real, fake] : [fake, real];
  let chosen: { F: Mat; method: 'cholesky' | 'data-factor'; other: FidStats } | null = null;
  for (const s of order) {
    const f = await factorOf(s);
    if (f) {
      chosen = { ...f, other: s === real ? fake : real };
      break;
    }
  }
  let method: FidResult['method'];
  let trSqrt: number;
  if (chosen) {
    method = chosen.method;
    trSqrt = await traceSqrtProduct(chosen.F, chosen.other.sigma, d, flags);
  } else {
    // pytorch-fid's fallback for a singular product: Σ + εI on both sides.
    method = 'regularised';
    flags.push(
      `both covariances are singular and no samples are at hand: added ${FID_EPS}·I to each (pytorch-fid's fallback)`,
    );
    const s1 = real.sigma.slice();
    const s2 = fake.sigma.slice();
    for (let i = 0; i < d; i++) {
      s1[i * d + i]! += FID_EPS;
      s2[i * d + i]! += FID_EPS;
    }
    const L = await choleskyBlocked(s1, d);
    if (!L)
      throw new RangeError(
        'fid: the real covariance is not positive semi-definite even after regularisation; are these covariance matrices?',
      );
    trSqrt = await traceSqrtProduct(mat(d, d, L), s2, d, flags);
  }
  const covTerm = tr - 2 * trSqrt;
  return { fid: meanTerm + covTerm, meanTerm, covTerm, nReal: real.n, nFake: fake.n, d, method, flags };
}
