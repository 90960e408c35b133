// Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs"), computed the way
// clean-fid and torch-fidelity do: the unbiased MMD² estimate with the cubic polynomial kernel
// k(x, y) = (xᵀy/d + 1)³, averaged over `numSubsets` random subsets of `subsetSize` real and
// `subsetSize` generated feature rows (each subset drawn without replacement).
//
// Per subset with m rows X (real) and Y (generated):
//   MMD²_u = (Σ_{i≠j} k(x_i,x_j) + Σ_{i≠j} k(y_i,y_j)) / (m(m−1)) − 2 Σ_{i,j} k(x_i,y_j) / m²
// The result is the mean over subsets and the (population, ddof = 0, as torch-fidelity) standard
// deviation over subsets.
//
// This file also holds the feature-matrix type and the argument checks that prdc.ts and
// classes.ts share.

import { mat, matmulTB } from './ortmath';
import { checkFeatures, type Features } from './types';

import { Stream } from '../samplers/random';

// ---------------------------------------------------------------------------------------------
// Shared: features and argument checks

/** Row-major feature matrix: `n` rows of `d` values. */
export interface RealFake {
  real: Features;
  fake: Features;
}

/** Checks that `x` is a well-formed, all-finite feature matrix; `what` names it in messages. */
export function checkRealFake(args: unknown, fn: string): RealFake {
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw new RangeError(
      `${fn}: expected named features { real, fake }, got ${Array.isArray(args) ? 'an array' : String(args)}`,
    );
  }
  const a = args as Partial<RealFake> & { data?: unknown };
  if (a.data !== undefined && a.real === undefined && a.fake === undefined) {
    throw new RangeError(`${fn}: got a bare feature matrix; pass the two sets by name: ${fn}({ real, fake }, …)`);
  }
  const missing = (['real', 'fake'] as const).filter((k) => a[k] === undefined);
  if (missing.length > 0) {
    throw new RangeError(
      `${fn}: missing ${missing.map((k) => `"${k}"`).join(' and ')} features; call ${fn}({ real, fake }, …) with both sets named`,
    );
  }
  const real = checkFeatures(a.real, `${fn}: real`);
  const fake = checkFeatures(a.fake, `${fn}: fake`);
  if (real.d !== fake.d) {
    throw new RangeError(
      `${fn}: real features are ${real.d}-d but fake features are ${fake.d}-d; extract both with the same feature network`,
    );
  }
  return { real, fake };
}

/** A positive integer option, or the default. */
export function intOption(v: number | undefined, dflt: number, name: string, min: number): number {
  const x = v ?? dflt;
  if (!Number.isSafeInteger(x) || x < min)
    throw new RangeError(`${name} must be an integer ≥ ${min}, got ${String(v)}`);
  return x;
}

// ---------------------------------------------------------------------------------------------
// Subsets

export interface KidOptions {
  /** Number of subsets (default 100). */
  numSubsets?: number;
  /** Rows per subset from each set (default 1000; clipped to min(nReal, nFake)). */
  subsetSize?: number;
  /** Seed of the subset draws (default 0). */
  seed?: number;
}

/** Row indices of one subset: `real` into the real set, `fake` into the generated set. */
export interface KidSubset {
  real: Int32Array;
  fake: Int32Array;
}

/** Uniform integer in [0, k), k ≤ 2³², by rejection (no modulo bias). */
function below(s: Stream, k: number): number {
  const limit = 4294967296 - (4294967296 % k);
  for (;;) {
    const x = s.nextU32();
    if (x < limit) return x % k;
  }
}

/**
 * The subsets `kid` draws for these set sizes and options: `numSubsets` pairs of index arrays,
 * each of the effective subset size (min(subsetSize, nReal, nFake)). One stream `new Stream(seed, 0)`
 * draws, per subset, the real indices then the fake indices, each a partial Fisher–Yates shuffle
 * of a per-set permutation carried over from the previous subset (every subset is a uniform draw
 * without replacement; subsets are independent of each other).
 */
export function kidSubsetIndices(sizes: { nReal: number; nFake: number }, opts: KidOptions = {}): KidSubset[] {
  const { nReal, nFake } = sizes;
  const { numSubsets, m, seed } = resolveKid(nReal, nFake, opts);
  const s = new Stream(seed, 0);
  const permR = Int32Array.from({ length: nReal }, (_, i) => i);
  const permF = Int32Array.from({ length: nFake }, (_, i) => i);
  const draw = (perm: Int32Array): Int32Array => {
    const n = perm.length;
    for (let t = 0; t < m; t++) {
      const j = t + below(s, n - t);
      const tmp = perm[t]!;
      perm[t] = perm[j]!;
      perm[j] = tmp;
    }
    return perm.slice(0, m);
  };
  const out: KidSubset[] = [];
  for (let k = 0; k < numSubsets; k++) {
    const real = draw(permR);
    const fake = draw(permF);
    out.push({ real, fake });
  }
  return out;
}

function resolveKid(
  nReal: number,
  nFake: number,
  opts: KidOptions,
): { numSubsets: number; m: number; seed: number; clipped: boolean; requested: number } {
  const numSubsets = intOption(opts.numSubsets, 100, 'kid: numSubsets', 1);
  const requested = intOption(opts.subsetSize, 1000, 'kid: subsetSize', 2);
  const seed = opts.seed ?? 0;
  if (!Number.isFinite(seed)) throw new RangeError(`kid: seed must be a finite number, got ${String(opts.seed)}`);
  if (!Number.isSafeInteger(nReal) || !Number.isSafeInteger(nFake))
    throw new RangeError(`kid: nReal and nFake must be integers`);
  const avail = Math.min(nReal, nFake);
  if (avail < 2) {
    throw new RangeError(
      `kid: needs at least 2 real and 2 fake samples (got nReal = ${nReal}, nFake = ${nFake}); generate or load more samples`,
    );
  }
  const m = Math.min(requested, avail);
  return { numSubsets, m, seed, clipped: m < requested, requested };
}

// ---------------------------------------------------------------------------------------------
// KID

export interface KidResult {
  /** Mean of the per-subset unbiased MMD² estimates. */
  kid: number;
  /** Standard deviation (ddof = 0) of the per-subset estimates. */
  std: number;
  /** Number of subsets. */
  subsets: number;
  /** Effective subset size (rows from each set). */
  subsetSize: number;
  nReal: number;
  nFake: number;
  /** Caveats, e.g. the subset size was clipped to the smaller set. */
  flags: string[];
  /** The per-subset MMD² estimates. */
  values: Float64Array;
}

/** Rows of the stacked subset matrix per GEMM call in `mmd2`. */
const KID_BLOCK = 256;

/**
 * Unbiased MMD² with the cubic polynomial kernel between real rows `ri` of `real` and fake rows
 * `fi` of `fake` (m each).
 *
 * [Note: upper-triangle Gram]
 * The three kernel matrices are blocks of the Gram matrix of Z = [X; Y] (2m × d), which is
 * symmetric: only its upper triangle is needed. Z is cut into row blocks of KID_BLOCK rows and
 * block t is multiplied against the rows of Z from its own first row on, so about half of ZZᵀ
 * is computed (≈ 2m²d multiply-adds against 3m²d for XXᵀ, YYᵀ and XYᵀ separately). Row i of
 * the upper triangle holds k(x_i, x_j) for j > i (counted twice), k(x_i, y_j) for all j (once),
 * or k(y_i, y_j) for j > i (twice); the diagonal is left out as the unbiased estimate requires.
 */
async function mmd2(real: Features, ri: Int32Array, fake: Features, fi: Int32Array): Promise<number> {
  const m = ri.length;
  const d = real.d;
  const rows = 2 * m;
  const z = new Float64Array(rows * d);
  for (let r = 0; r < m; r++) {
    let o = ri[r]! * d;
    z.set(real.data.subarray(o, o + d), r * d);
    o = fi[r]! * d;
    z.set(fake.data.subarray(o, o + d), (m + r) * d);
  }
  const inv = 1 / d;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let a = 0; a < rows; a += KID_BLOCK) {
    const b = Math.min(rows, a + KID_BLOCK);
    const g = (await matmulTB(mat(b - a, d, z.subarray(a * d, b * d)), mat(rows - a, d, z.subarray(a * d)))).data;
    const cols = rows - a;
    for (let i = a; i < b; i++) {
      const o = (i - a) * cols - a; // g[o + j] = z_i · z_j
      if (i < m) {
        let s = 0;
        for (let j = i + 1; j < m; j++) {
          const t = g[o + j]! * inv + 1;
          s += t * t * t;
        }
        sxx += s;
        s = 0;
        for (let j = m; j < rows; j++) {
          const t = g[o + j]! * inv + 1;
          s += t * t * t;
        }
        sxy += s;
      } else {
        let s = 0;
        for (let j = i + 1; j < rows; j++) {
          const t = g[o + j]! * inv + 1;
          s += t * t * t;
        }
        syy += s;
      }
    }
  }
  return (2 * (sxx + syy)) / (m * (m - 1)) - (2 * sxy) / (m * m);
}

/**
 * Kernel Inception Distance between real and generated features.
 * Subsets are those of `kidSubsetIndices({ nReal, nFake }, opts)`.
 */
export async function kid(args: RealFake, opts: KidOptions = {}): Promise<KidResult> {
  const { real, fake } = checkRealFake(args, 'kid');
  const { numSubsets, m, clipped, requested } = resolveKid(real.n, fake.n, opts);
  const flags: string[] = [];
  if (clipped) {
    flags.push(
      `subset-size-clipped: requested ${requested} rows per subset but min(nReal, nFake) = ${m}; ` +
        `using ${m}; every subset of the smaller set is that whole set, so std reflects only the resampling of the other set`,
    );
  }
  const subsets = kidSubsetIndices({ nReal: real.n, nFake: fake.n }, opts);
  const values = new Float64Array(numSubsets);
  for (let k = 0; k < numSubsets; k++) {
    const sub = subsets[k]!;
    values[k] = await mmd2(real, sub.real, fake, sub.fake);
  }
  let mean = 0;
  for (const v of values) mean += v;
  mean /= numSubsets;
  let ss = 0;
  for (const v of values) ss += (v - mean) * (v - mean);
  const std = Math.sqrt(ss / numSubsets);
  return { kid: mean, std, subsets: numSubsets, subsetSize: m, nReal: real.n, nFake: fake.n, flags, values };
}
