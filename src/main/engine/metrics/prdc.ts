// Improved precision & recall (Kynkäänniemi et al. 2019) and density & coverage (Naeem et al.
// 2020), defined as in the reference `prdc` package, with separate neighbourhood sizes:
//
//   radius_k(x) = Euclidean distance from x to its k-th nearest neighbour in its own set, the point
//                 itself excluded (= the (k+1)-th smallest entry of its distance row, self included)
//   precision   = fraction of fake points inside at least one real ball B(r_i, radius_kPR(r_i))
//   recall      = fraction of real points inside at least one fake ball B(f_j, radius_kPR(f_j))
//   density     = 1/(kDC·M) Σ_j Σ_i 1[f_j ∈ B(r_i, radius_kDC(r_i))]        (M = number of fakes)
//   coverage    = fraction of real points whose nearest fake lies in B(r_i, radius_kDC(r_i))
//
// [Note: ball boundary]
// Balls are closed by default (‖f − r‖ ≤ radius), as in the papers' definitions and NVlabs'
// precision/recall code; the `prdc` package compares with a strict `<`. The two differ only on
// exact ties (duplicated samples, or identical real and fake sets: there density is (k+1)/k with
// closed balls and 1 with open ones). `ball: 'open'` reproduces the `prdc` package exactly.
//
// [Note: distances]
// All comparisons are between squared distances ‖a‖² + ‖b‖² − 2a·b (clamped at 0), with the dot
// products from ortmath's float64 GEMM in chunks of real (or, for the fake radii, fake) rows and
// the rest in JS, one formula everywhere. The real-real rows (real radii) and the real-fake rows
// (memberships) come from GEMM calls on the same real chunks, of the same shapes when
// nReal = nFake, so a generated point that coincides with a real one compares exactly as that
// real point did (identical sets give exactly (k+1)/k density with closed balls). Both sets are
// first centred on their joint mean (distances are translation invariant; this keeps the norms
// small and the expansion's cancellation error low). ortmath's `sqdist` is not used: its
// elementwise ops on the [rows, n] block cost ~3× the GEMM itself at 10k × 2048.

import { mat, matmulTB, type Mat } from './ortmath';
import { checkRealFake, intOption, type RealFake } from './kid';

export interface PrdcOptions {
  /** Neighbourhood size of precision and recall (default 3). */
  kPR?: number;
  /** Neighbourhood size of density and coverage (default 5). */
  kDC?: number;
  /** Closed balls (≤, default) or open balls (<, as the `prdc` package). See [Note: ball boundary]. */
  ball?: 'closed' | 'open';
}

export interface PrdcResult {
  precision: number;
  recall: number;
  density: number;
  coverage: number;
  kPR: number;
  kDC: number;
  nReal: number;
  nFake: number;
}

/** Float64 copy of rows, centred on `mean`, with the rows' squared norms. */
function centred(
  data: Float32Array | Float64Array,
  n: number,
  d: number,
  mean: Float64Array,
): { m: Mat; norms: Float64Array } {
  const out = new Float64Array(n * d);
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    let s = 0;
    for (let c = 0; c < d; c++) {
      const v = data[o + c]! - mean[c]!;
      out[o + c] = v;
      s += v * v;
    }
    norms[i] = s;
  }
  return { m: mat(n, d, out), norms };
}

/** Rows of A per GEMM call against `cols` rows of B: about 4M outputs (32 MB) per call, at most 2048 rows (measured fastest here). */
function chunkRows(cols: number): number {
  return Math.max(1, Math.min(2048, Math.floor((1 << 22) / Math.max(1, cols))));
}

/** Calls `visit(i0, rows, g)` for consecutive chunks of A's rows, g = A[i0:i0+rows]·Bᵀ ([rows, B.rows]). */
async function forChunks(a: Mat, b: Mat, visit: (i0: number, rows: number, g: Float64Array) => void): Promise<void> {
  const step = chunkRows(b.rows);
  const d = a.cols;
  for (let i0 = 0; i0 < a.rows; i0 += step) {
    const rows = Math.min(step, a.rows - i0);
    const g = await matmulTB(mat(rows, d, a.data.subarray(i0 * d, (i0 + rows) * d)), b);
    visit(i0, rows, g.data);
  }
}

/**
 * Squared k-NN radii within one set, for each k in `ks`: the k-th smallest squared distance from
 * each row to the other rows (self excluded; equal to the (k+1)-th smallest with the zero
 * self-distance included, since all entries are ≥ 0).
 */
async function knnRadii2(x: Mat, norms: Float64Array, ks: number[]): Promise<Float64Array[]> {
  const n = x.rows;
  const kmax = Math.max(...ks);
  const out = ks.map(() => new Float64Array(n));
  const buf = new Float64Array(kmax);
  await forChunks(x, x, (i0, rows, g) => {
    for (let r = 0; r < rows; r++) {
      const i = i0 + r;
      const ni = norms[i]!;
      buf.fill(Infinity);
      let worst = Infinity; // buf[kmax-1]
      const o = r * n;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        const v = ni + norms[j]! - 2 * g[o + j]!;
        const d2 = v > 0 ? v : 0;
        if (d2 < worst) {
          // Insert into the sorted buffer, dropping its largest entry.
          let p = kmax - 1;
          while (p > 0 && buf[p - 1]! > d2) {
            buf[p] = buf[p - 1]!;
            p--;
          }
          buf[p] = d2;
          worst = buf[kmax - 1]!;
        }
      }
      for (let t = 0; t < ks.length; t++) out[t]![i] = buf[ks[t]! - 1]!;
    }
  });
  return out;
}

/** Precision, recall, density and coverage of generated features against real ones. */
export async function prdc(args: RealFake, opts: PrdcOptions = {}): Promise<PrdcResult> {
  const { real, fake } = checkRealFake(args, 'prdc');
  const kPR = intOption(opts.kPR, 3, 'prdc: kPR', 1);
  const kDC = intOption(opts.kDC, 5, 'prdc: kDC', 1);
  const ball = opts.ball ?? 'closed';
  if (ball !== 'closed' && ball !== 'open')
    throw new RangeError(`prdc: ball must be 'closed' or 'open', got ${String(ball)}`);
  const nReal = real.n;
  const nFake = fake.n;
  const d = real.d;
  if (nReal < Math.max(kPR, kDC) + 1) {
    throw new RangeError(
      `prdc: needs more than max(kPR, kDC) = ${Math.max(kPR, kDC)} real samples for the k-NN radii, got nReal = ${nReal}; load more real features or lower k`,
    );
  }
  if (nFake < kPR + 1) {
    throw new RangeError(
      `prdc: needs more than kPR = ${kPR} generated samples for the recall radii, got nFake = ${nFake}; generate more samples or lower kPR`,
    );
  }

  // Joint mean, then centred float64 copies.
  const mean = new Float64Array(d);
  for (const x of [real, fake]) {
    for (let i = 0; i < x.n; i++) {
      const o = i * d;
      for (let c = 0; c < d; c++) mean[c] += x.data[o + c]!;
    }
  }
  for (let c = 0; c < d; c++) mean[c] /= nReal + nFake;
  const R = centred(real.data, nReal, d, mean);
  const F = centred(fake.data, nFake, d, mean);

  const [radPR, radDC] = (await knnRadii2(R.m, R.norms, [kPR, kDC])) as [Float64Array, Float64Array];
  const [fakeRad] = (await knnRadii2(F.m, F.norms, [kPR])) as [Float64Array];

  const inPrecision = new Uint8Array(nFake);
  let inBalls = 0; // Σ_j Σ_i 1[f_j ∈ B(r_i, radius_kDC)]
  let recalled = 0;
  let covered = 0;
  const open = ball === 'open';
  const nr = R.norms;
  const nf = F.norms;
  await forChunks(R.m, F.m, (i0, rows, g) => {
    for (let r = 0; r < rows; r++) {
      const i = i0 + r;
      const ni = nr[i]!;
      const rp = radPR[i]!;
      const rd = radDC[i]!;
      let nearest = Infinity;
      let inFake = false;
      let count = 0;
      const o = r * nFake;
      for (let j = 0; j < nFake; j++) {
        const v = ni + nf[j]! - 2 * g[o + j]!;
        const d2 = v > 0 ? v : 0;
        if (d2 < nearest) nearest = d2;
        if (open) {
          if (d2 < rp) inPrecision[j] = 1;
          if (d2 < rd) count++;
          if (d2 < fakeRad[j]!) inFake = true;
        } else {
          if (d2 <= rp) inPrecision[j] = 1;
          if (d2 <= rd) count++;
          if (d2 <= fakeRad[j]!) inFake = true;
        }
      }
      inBalls += count;
      if (inFake) recalled++;
      if (open ? nearest < rd : nearest <= rd) covered++;
    }
  });

  let precise = 0;
  for (let j = 0; j < nFake; j++) precise += inPrecision[j]!;
  return {
    precision: precise / nFake,
    recall: recalled / nReal,
    density: inBalls / (kDC * nFake),
    coverage: covered / nReal,
    kPR,
    kDC,
    nReal,
    nFake,
  };
}
