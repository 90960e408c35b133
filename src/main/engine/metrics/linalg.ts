// Symmetric dense linear algebra in float64, for FID: Cholesky factorisation and the eigenvalues
// of a symmetric matrix (Householder tridiagonalisation, then implicit QL with Wilkinson shifts;
// Golub & Van Loan, "Matrix Computations", §8.3, and the EISPACK tred2/tql1 pair).
//
import { mat, matmulTB } from './ortmath';

// [Note: lower triangle, row-major]
// Matrices are row-major Float64Array(d·d). Both routines work on the lower triangle so that every
// inner loop runs over contiguous memory: the O(d³) parts are dot products and axpys along rows.

/**
 * Lower-triangular L with L·Lᵀ = A, or null when A is not (numerically) positive definite.
 * `semidefinite`: accept a positive semi-definite A (zero pivots give zero columns); null only
 * when A is clearly indefinite.
 */
export function cholesky(a: Float64Array, d: number, opts: { semidefinite?: boolean } = {}): Float64Array | null {
  const L = new Float64Array(d * d);
  let maxDiag = 0;
  for (let i = 0; i < d; i++) maxDiag = Math.max(maxDiag, Math.abs(a[i * d + i]!));
  const tiny = maxDiag * d * 1e-15;
  for (let j = 0; j < d; j++) {
    const rj = j * d;
    for (let i = j; i < d; i++) {
      const ri = i * d;
      let s = a[ri + j]!;
      for (let k = 0; k < j; k++) s -= L[ri + k]! * L[rj + k]!;
      if (i === j) {
        if (!(s > tiny)) {
          if (!opts.semidefinite || s < -100 * tiny) return null;
          // A (numerically) zero pivot of a PSD matrix: its column is zero too (|a_ij|² ≤ a_ii·a_jj),
          // so the direction is dropped; L·Lᵀ reproduces A to within ~tiny.
          break;
        }
        L[rj + j] = Math.sqrt(s);
      } else {
        L[ri + j] = s / L[rj + j]!;
      }
    }
  }
  return L;
}

/**
 * Eigenvalues of the symmetric matrix A (only its lower triangle is read; A is not modified),
 * in ascending order.
 */
export function eigvalsh(a: Float64Array, d: number): Float64Array {
  const diag = new Float64Array(d);
  const off = new Float64Array(d); // off[i] couples i and i+1
  tridiagonalize(a.slice(), d, diag, off);
  return tridiagEigvals(diag, off);
}

/**
 * The Householder reflector H = I − τ v vᵀ that maps column c below the diagonal, x = A[c+1:, c],
 * onto β e₁. Writes v into `v` (rows c+1…) and returns β and τ; τ = 0 when x is already zero.
 */
function reflector(A: Float64Array, d: number, c: number, v: Float64Array): { beta: number; tau: number } {
  const m = c + 1;
  let alpha = 0;
  for (let i = m; i < d; i++) alpha += A[i * d + c]! ** 2;
  alpha = Math.sqrt(alpha);
  if (alpha === 0) return { beta: 0, tau: 0 };
  const x0 = A[m * d + c]!;
  const beta = x0 > 0 ? -alpha : alpha;
  for (let i = m; i < d; i++) v[i] = A[i * d + c]!;
  v[m] = x0 - beta;
  return { beta, tau: 1 / (beta * beta - beta * x0) };
}

/** p[m:] = A[m:, m:]·v[m:] from the lower triangle: row i contributes to p[i] and, by symmetry, p[j]. */
function symvLower(A: Float64Array, d: number, m: number, v: Float64Array, p: Float64Array): void {
  p.fill(0, m, d);
  for (let i = m; i < d; i++) {
    const ri = i * d;
    const vi = v[i]!;
    let s = 0;
    for (let j = m; j < i; j++) {
      const aij = A[ri + j]!;
      s += aij * v[j]!;
      p[j]! += aij * vi;
    }
    p[i]! += s + A[ri + i]! * vi;
  }
}

/** Householder tridiagonalisation of A (lower triangle; A is overwritten) into (diag, off). */
function tridiagonalize(A: Float64Array, d: number, diag: Float64Array, off: Float64Array): void {
  const v = new Float64Array(d);
  const p = new Float64Array(d);

  // Householder tridiagonalisation: at step k, reflect the column below the diagonal onto e_{k+1}.
  for (let k = 0; k < d - 2; k++) {
    const m = k + 1; // the trailing block is A[m:, m:]
    diag[k] = A[k * d + k]!;
    // v = x − β e₁, τ = 1/(β² − β x₀), so that H = I − τ v vᵀ; β is the new off-diagonal entry.
    const { beta, tau } = reflector(A, d, k, v);
    off[k] = beta;
    if (tau === 0) continue;
    // p = τ · A22 · v
    symvLower(A, d, m, v, p);
    let pv = 0;
    for (let i = m; i < d; i++) {
      p[i]! *= tau;
      pv += p[i]! * v[i]!;
    }
    // w = p − (τ/2)(pᵀv) v;  A22 ← A22 − v wᵀ − w vᵀ  (lower triangle).
    const c = 0.5 * tau * pv;
    for (let i = m; i < d; i++) p[i]! -= c * v[i]!;
    for (let i = m; i < d; i++) {
      const ri = i * d;
      const vi = v[i]!;
      const wi = p[i]!;
      for (let j = m; j <= i; j++) A[ri + j]! -= vi * p[j]! + wi * v[j]!;
    }
  }
  if (d >= 2) {
    diag[d - 2] = A[(d - 2) * d + (d - 2)]!;
    off[d - 2] = A[(d - 1) * d + (d - 2)]!;
  }
  if (d >= 1) diag[d - 1] = A[(d - 1) * d + (d - 1)]!;
}

/**
 * eigvalsh for large matrices: the same reduction in panels of `nb` columns (LAPACK's dsytrd /
 * dlatrd scheme). Within a panel the reflectors are accumulated as A ← A − V Wᵀ − W Vᵀ without
 * touching the trailing matrix; the symmetric mat-vecs run in JS, and the rank-2·nb trailing update
 * after each panel is one GEMM on ONNX Runtime. Same result as eigvalsh to round-off, ~3× faster
 * at d = 2,048.
 */
export async function eigvalshBlocked(a: Float64Array, d: number, nb = 64): Promise<Float64Array> {
  const diag = new Float64Array(d);
  const off = new Float64Array(d);
  const A = a.slice();
  const V = new Float64Array(d * nb); // [d, nb] row-major: the panel's reflectors v
  const W = new Float64Array(d * nb); // and their w
  const v = new Float64Array(d);
  const p = new Float64Array(d);
  const wv = new Float64Array(nb);
  const vv = new Float64Array(nb);
  let k0 = 0;
  while (d - k0 > 2 * nb + 2) {
    V.fill(0);
    W.fill(0);
    for (let j = 0; j < nb; j++) {
      const c = k0 + j;
      // Bring column c up to date with this panel's earlier reflectors.
      if (j > 0) {
        for (let i = c; i < d; i++) {
          let s = 0;
          const ri = i * nb;
          const rc = c * nb;
          for (let q = 0; q < j; q++) s += V[ri + q]! * W[rc + q]! + W[ri + q]! * V[rc + q]!;
          A[i * d + c]! -= s;
        }
      }
      const m = c + 1;
      diag[c] = A[c * d + c]!;
      const { beta, tau } = reflector(A, d, c, v);
      off[c] = beta;
      if (tau === 0) continue;
      // p = A22·v on the not-yet-updated trailing matrix …
      symvLower(A, d, m, v, p);
      // … corrected for the panel's pending update: p −= V(Wᵀv) + W(Vᵀv).
      if (j > 0) {
        wv.fill(0);
        vv.fill(0);
        for (let i = m; i < d; i++) {
          const ri = i * nb;
          const vi = v[i]!;
          for (let q = 0; q < j; q++) {
            wv[q]! += W[ri + q]! * vi;
            vv[q]! += V[ri + q]! * vi;
          }
        }
        for (let i = m; i < d; i++) {
          const ri = i * nb;
          let s = 0;
          for (let q = 0; q < j; q++) s += V[ri + q]! * wv[q]! + W[ri + q]! * vv[q]!;
          p[i]! -= s;
        }
      }
      let pv = 0;
      for (let i = m; i < d; i++) {
        p[i]! *= tau;
        pv += p[i]! * v[i]!;
      }
      const cc = 0.5 * tau * pv;
      for (let i = m; i < d; i++) {
        V[i * nb + j] = v[i]!;
        W[i * nb + j] = p[i]! - cc * v[i]!;
      }
    }
    // Trailing update A[k1:, k1:] −= V Wᵀ + W Vᵀ, as one GEMM C = V Wᵀ.
    const k1 = k0 + nb;
    const r = d - k1;
    const C = (await matmulTB(mat(r, nb, V.subarray(k1 * nb)), mat(r, nb, W.subarray(k1 * nb)))).data;
    for (let i = 0; i < r; i++) {
      const ri = (k1 + i) * d + k1;
      for (let jj = 0; jj <= i; jj++) A[ri + jj]! -= C[i * r + jj]! + C[jj * r + i]!;
    }
    k0 = k1;
  }
  // The last small block, unblocked.
  const r = d - k0;
  const sub = new Float64Array(r * r);
  for (let i = 0; i < r; i++) for (let jj = 0; jj <= i; jj++) sub[i * r + jj] = A[(k0 + i) * d + k0 + jj]!;
  tridiagonalize(sub, r, diag.subarray(k0), off.subarray(k0));
  return tridiagEigvals(diag, off);
}

/** Eigenvalues of the symmetric tridiagonal matrix (diag, off), ascending. Implicit QL. */
export function tridiagEigvals(diagIn: Float64Array, offIn: Float64Array): Float64Array {
  const n = diagIn.length;
  const dd = diagIn.slice();
  const e = new Float64Array(n);
  e.set(offIn.subarray(0, Math.max(0, n - 1)));
  // An off-diagonal entry is negligible relative to its neighbours or to the whole matrix: the
  // absolute test matters for (nearly) singular matrices, whose clusters of ~0 eigenvalues would
  // otherwise be resolved to relative precision far below anything the result can carry.
  let norm = 0;
  for (let i = 0; i < n; i++)
    norm = Math.max(norm, Math.abs(dd[i]!) + Math.abs(e[i]!) + (i > 0 ? Math.abs(e[i - 1]!) : 0));
  const floor = Number.EPSILON * norm;
  for (let l = 0; l < n; l++) {
    let iter = 0;
    while (true) {
      let m = l;
      for (; m < n - 1; m++) {
        const s = Math.abs(dd[m]!) + Math.abs(dd[m + 1]!);
        if (Math.abs(e[m]!) <= Number.EPSILON * s || Math.abs(e[m]!) <= floor) break;
      }
      if (m === l) break;
      if (++iter > 60) throw new Error(`eigvalsh: QL iteration did not converge at eigenvalue ${l} of ${n}`);
      // Wilkinson shift from the leading 2×2 block.
      let g = (dd[l + 1]! - dd[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = dd[m]! - dd[l]! + e[l]! / (g + (g >= 0 ? Math.abs(r) : -Math.abs(r)));
      let s = 1;
      let c = 1;
      let pp = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          dd[i + 1]! -= pp;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = dd[i + 1]! - pp;
        r = (dd[i]! - g) * s + 2 * c * b;
        pp = s * r;
        dd[i + 1] = g + pp;
        g = c * r - b;
      }
      if (r === 0 && i >= l) continue;
      dd[l]! -= pp;
      e[l] = g;
      e[m] = 0;
    }
  }
  return dd.sort();
}

/**
 * Cholesky for large matrices, right-looking in panels of `nb` columns: each diagonal block and
 * its panel are factored in JS (O(d·nb²)), and the trailing update A₂₂ ← A₂₂ − L₂₁L₂₁ᵀ (the
 * O(d³) part) is one GEMM on ONNX Runtime. Returns null when A is not positive definite.
 */
export async function choleskyBlocked(a: Float64Array, d: number, nb = 128): Promise<Float64Array | null> {
  if (d <= 2 * nb) return cholesky(a, d);
  let maxDiag = 0;
  for (let i = 0; i < d; i++) maxDiag = Math.max(maxDiag, Math.abs(a[i * d + i]!));
  const tiny = maxDiag * d * 1e-15;
  const L = new Float64Array(d * d);
  // T: the current trailing matrix A[k:, k:] (full, contiguous), r × r.
  let T = a.slice();
  let r = d;
  for (let k = 0; k < d; k += nb) {
    const b = Math.min(nb, d - k);
    // Diagonal block: L11 L11ᵀ = T[0:b, 0:b].
    for (let j = 0; j < b; j++) {
      for (let i = j; i < b; i++) {
        let s = T[i * r + j]!;
        for (let q = 0; q < j; q++) s -= L[(k + i) * d + k + q]! * L[(k + j) * d + k + q]!;
        if (i === j) {
          if (!(s > tiny)) return null;
          L[(k + j) * d + k + j] = Math.sqrt(s);
        } else L[(k + i) * d + k + j] = s / L[(k + j) * d + k + j]!;
      }
    }
    if (k + b >= d) break;
    // Panel: L21 = T[b:, 0:b] L11⁻ᵀ, row by row (forward substitution).
    const rest = r - b;
    const L21 = new Float64Array(rest * b);
    for (let i = 0; i < rest; i++) {
      const ti = (b + i) * r;
      const li = i * b;
      for (let j = 0; j < b; j++) {
        let s = T[ti + j]!;
        const lj = (k + j) * d + k;
        for (let q = 0; q < j; q++) s -= L21[li + q]! * L[lj + q]!;
        L21[li + j] = s / L[lj + j]!;
      }
      L.set(L21.subarray(li, li + b), (k + b + i) * d + k);
    }
    // Trailing update on ONNX Runtime: T' = T[b:, b:] − L21 L21ᵀ.
    const G = (await matmulTB(mat(rest, b, L21), mat(rest, b, L21))).data;
    const next = new Float64Array(rest * rest);
    for (let i = 0; i < rest; i++) {
      const src = (b + i) * r + b;
      const dst = i * rest;
      for (let j = 0; j < rest; j++) next[dst + j] = T[src + j]! - G[dst + j]!;
    }
    T = next;
    r = rest;
  }
  return L;
}
