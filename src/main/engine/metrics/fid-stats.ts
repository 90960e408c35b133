// FID statistics: the mean μ and covariance Σ of a feature set (metrics/fid.ts computes and compares
// them), and their files in pytorch-fid's .npz format: keys 'mu' [d] and 'sigma' [d, d] (float64),
// plus an optional integer scalar 'n' (the number of samples).
import { NpyError, type NpyArray, type NpyDtype } from '../io/npy';
import { openNpz, writeNpz } from '../io/npz';
import type { Mat } from './ortmath';

/** μ and Σ of the Gaussian fit to a feature set: what FID compares and what pytorch-fid caches. */
export interface FidStats {
  /** Mean feature vector [d]. */
  mu: Float64Array;
  /** [d, d] row-major covariance (unbiased, divided by n − 1). */
  sigma: Float64Array;
  d: number;
  /** Number of samples the statistics were computed from, when known. */
  n: number | null;
  /** X̃ᵀ/√(n−1) as a [d, n] matrix, kept only when n ≤ d (an exact factor of the singular Σ); never in files. */
  factor?: Mat | null;
}

/** Relative tolerance for sigma's symmetry, scaled by its largest absolute entry. */
const SYMMETRY_RTOL = 1e-6;
const RECOMPUTE_HINT = 'recompute the statistics';

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function checkFinite(data: Float64Array, name: string, d: number, source: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      const at = name === 'sigma' ? `[${Math.floor(i / d)}, ${i % d}]` : `[${i}]`;
      const count = data.reduce((c, x) => (Number.isFinite(x) ? c : c + 1), 0);
      throw new NpyError(
        `${source}: '${name}' contains non-finite values (${count} in all, the first is ${v} at ${at}); ` +
          `the statistics are unusable, ${RECOMPUTE_HINT}`,
      );
    }
  }
}

function checkSymmetric(sigma: Float64Array, d: number, source: string): void {
  let maxAbs = 0;
  for (let i = 0; i < sigma.length; i++) maxAbs = Math.max(maxAbs, Math.abs(sigma[i]));
  const tol = SYMMETRY_RTOL * maxAbs;
  let worst = -1;
  let worstDiff = tol;
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const diff = Math.abs(sigma[i * d + j] - sigma[j * d + i]);
      if (diff > worstDiff) {
        worstDiff = diff;
        worst = i * d + j;
      }
    }
  }
  if (worst >= 0) {
    const i = Math.floor(worst / d);
    const j = worst % d;
    throw new NpyError(
      `${source}: 'sigma' is not symmetric: sigma[${i}, ${j}] = ${sigma[i * d + j]} but sigma[${j}, ${i}] = ` +
        `${sigma[j * d + i]} (allowed difference ${SYMMETRY_RTOL} relative to the largest entry, ${maxAbs}); ` +
        `a covariance matrix must be symmetric, ${RECOMPUTE_HINT} (e.g. np.cov(features, rowvar=False))`,
    );
  }
}

/** Validate shapes and values; `source` prefixes error messages. */
function validateFidStats(stats: FidStats, source: string): void {
  const { mu, sigma, d, n } = stats;
  if (!Number.isSafeInteger(d) || d < 1) {
    throw new NpyError(`${source}: feature dimension d = ${d} must be a positive integer`);
  }
  if (!(mu instanceof Float64Array) || mu.length !== d) {
    throw new NpyError(`${source}: 'mu' must be a Float64Array of length d = ${d}`);
  }
  if (!(sigma instanceof Float64Array) || sigma.length !== d * d) {
    throw new NpyError(`${source}: 'sigma' must be a Float64Array of length d * d = ${d * d}`);
  }
  if (n !== null && (!Number.isSafeInteger(n) || n < 0)) {
    throw new NpyError(`${source}: sample count n = ${n} must be a non-negative integer or null`);
  }
  checkFinite(mu, 'mu', d, source);
  checkFinite(sigma, 'sigma', d, source);
  checkSymmetric(sigma, d, source);
}

function checkFloat(dtype: NpyDtype, name: string, source: string): void {
  if (dtype !== 'float64' && dtype !== 'float32')
    throw new NpyError(
      `${source}: '${name}' has dtype ${dtype}; expected float64 (or float32), ` +
        `${RECOMPUTE_HINT} or convert it with .astype(np.float64)`,
    );
}

function asFloat64(arr: NpyArray, name: string, source: string): Float64Array {
  checkFloat(arr.dtype, name, source);
  return arr.data instanceof Float64Array ? arr.data : Float64Array.from(arr.data as Float32Array);
}

function readSampleCount(arr: NpyArray, source: string): number {
  const bad = (why: string): NpyError =>
    new NpyError(
      `${source}: 'n' ${why}; it must be the sample count as an integer scalar (e.g. np.int64(50000)), ` +
        `or be left out of the file`,
    );
  if (arr.data.length !== 1 || arr.shape.length > 1) {
    throw bad(`has shape ${shapeText(arr.shape)} (${arr.data.length} values)`);
  }
  const raw = arr.data[0];
  const value = typeof raw === 'bigint' ? raw : Number.isInteger(raw) ? BigInt(raw) : null;
  if (value === null) throw bad(`is ${raw}, not an integer`);
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`is ${value}, out of range`);
  return Number(value);
}

/**
 * Read precomputed FID statistics (pytorch-fid format: 'mu' [d] and 'sigma'
 * [d, d], float64; an optional integer scalar 'n' is the sample count).
 * Values must be finite and sigma symmetric within 1e-6 of its largest entry
 * (it is returned as stored, not symmetrized). The shapes and dtypes are
 * checked from the arrays' headers before sigma, the large one, is inflated
 * (io/npz.ts, the note on headers before data).
 */
export async function readFidStats(path: string): Promise<FidStats> {
  const npz = await openNpz(path);
  const found = npz.keys.length > 0 ? npz.keys.join(', ') : 'no arrays';
  for (const key of ['mu', 'sigma']) {
    if (!npz.has(key)) {
      throw new NpyError(
        `${path}: has no '${key}' array; pytorch-fid statistics need keys 'mu' and 'sigma' (found: ${found})`,
      );
    }
  }
  const muHeader = npz.header('mu');
  if (muHeader.shape.length !== 1 || muHeader.shape[0] === 0) {
    throw new NpyError(
      `${path}: 'mu' has shape ${shapeText(muHeader.shape)}; expected [d], a non-empty vector ` +
        `(the mean of the features), ${RECOMPUTE_HINT}`,
    );
  }
  const d = muHeader.shape[0];
  const sigmaHeader = npz.header('sigma');
  if (sigmaHeader.shape.length !== 2 || sigmaHeader.shape[0] !== d || sigmaHeader.shape[1] !== d) {
    throw new NpyError(
      `${path}: 'sigma' has shape ${shapeText(sigmaHeader.shape)}; expected [d, d] = [${d}, ${d}] ` +
        `(d from 'mu'); the file is inconsistent, ${RECOMPUTE_HINT}`,
    );
  }
  checkFloat(muHeader.dtype, 'mu', path);
  checkFloat(sigmaHeader.dtype, 'sigma', path);
  const stats: FidStats = {
    mu: asFloat64(npz.array('mu'), 'mu', path),
    sigma: asFloat64(npz.array('sigma'), 'sigma', path),
    d,
    n: npz.has('n') ? readSampleCount(npz.array('n'), path) : null,
  };
  validateFidStats(stats, path);
  return stats;
}

/**
 * Write FID statistics in pytorch-fid's format (stored, like numpy.savez):
 * 'mu' and 'sigma' as float64, plus 'n' as an int64 scalar when known.
 * The same checks as {@link readFidStats} apply, so what is written can be read.
 */
export async function writeFidStats(path: string, stats: FidStats): Promise<void> {
  validateFidStats(stats, path);
  const { mu, sigma, d, n } = stats;
  const arrays: Record<string, NpyArray> = {
    mu: { dtype: 'float64', shape: [d], data: mu },
    sigma: { dtype: 'float64', shape: [d, d], data: sigma },
  };
  if (n !== null) arrays.n = { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(n)) };
  await writeNpz(path, arrays);
}
