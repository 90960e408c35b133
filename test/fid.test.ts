// FID against float64 references written here: a scipy-style sqrtm of Σ₁Σ₂ (Denman–Beavers), a
// Jacobi-eigenvalue nuclear norm for singular covariances, an analytic d = 2,048 case, and — when
// Debian's scipy is installed (CI installs it) — pytorch-fid's own formula with scipy.linalg.sqrtm.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fid, gaussianStats } from '../src/main/engine/metrics/fid';
import type { FidStats } from '../src/main/engine/metrics/fid-stats';
import { cholesky, eigvalsh } from '../src/main/engine/metrics/linalg';
import { encodeNpy } from '../src/main/engine/io/npy';
import { Stream } from '../src/main/engine/samplers/random';

const tol = (ref: number): number => 1e-3 + 1e-4 * Math.abs(ref);

// ---- plain float64 references ----

function matmulRef(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const c = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k]!;
      for (let j = 0; j < d; j++) c[i * d + j]! += aik * b[k * d + j]!;
    }
  return c;
}

function inverseRef(a: Float64Array, d: number): Float64Array {
  const m = a.slice();
  const inv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) inv[i * d + i] = 1;
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(m[r * d + c]!) > Math.abs(m[p * d + c]!)) p = r;
    for (const x of [m, inv]) for (let j = 0; j < d; j++) [x[c * d + j], x[p * d + j]] = [x[p * d + j]!, x[c * d + j]!];
    const piv = m[c * d + c]!;
    for (const x of [m, inv]) for (let j = 0; j < d; j++) x[c * d + j]! /= piv;
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = m[r * d + c]!;
      if (f === 0) continue;
      for (const x of [m, inv]) for (let j = 0; j < d; j++) x[r * d + j]! -= f * x[c * d + j]!;
    }
  }
  return inv;
}

/** scipy-style: sqrtm of the (non-symmetric) product Σ₁Σ₂ by the Denman–Beavers iteration. */
function sqrtmTraceRef(s1: Float64Array, s2: Float64Array, d: number): number {
  let Y = matmulRef(s1, s2, d);
  let Z = new Float64Array(d * d);
  for (let i = 0; i < d; i++) Z[i * d + i] = 1;
  for (let it = 0; it < 100; it++) {
    const Yi = inverseRef(Y, d);
    const Zi = inverseRef(Z, d);
    const Yn = Y.map((v, k) => 0.5 * (v + Zi[k]!));
    Z = Z.map((v, k) => 0.5 * (v + Yi[k]!));
    let diff = 0;
    let norm = 0;
    for (let k = 0; k < Yn.length; k++) {
      diff += (Yn[k]! - Y[k]!) ** 2;
      norm += Yn[k]! ** 2;
    }
    Y = Yn;
    if (diff <= 1e-28 * norm) break;
  }
  let t = 0;
  for (let i = 0; i < d; i++) t += Y[i * d + i]!;
  return t;
}

/** Cyclic Jacobi eigenvalues of a symmetric matrix (independent of linalg.ts). */
function jacobiEigvals(a: Float64Array, n: number): Float64Array {
  const A = a.slice();
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) off += A[i * n + j]! ** 2;
    if (off < 1e-26) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (A[q * n + q]! - A[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p]!;
          const akq = A[k * n + q]!;
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k]!;
          const aqk = A[q * n + k]!;
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  return Float64Array.from({ length: n }, (_, i) => A[i * n + i]!).sort();
}

function naiveStats(x: Float64Array, n: number, d: number): { mu: Float64Array; sigma: Float64Array } {
  const mu = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j]! += x[i * d + j]! / n;
  const sigma = new Float64Array(d * d);
  for (let i = 0; i < n; i++)
    for (let a = 0; a < d; a++)
      for (let b = 0; b < d; b++) sigma[a * d + b]! += ((x[i * d + a]! - mu[a]!) * (x[i * d + b]! - mu[b]!)) / (n - 1);
  return { mu, sigma };
}

function fidRef(x1: Float64Array, n1: number, x2: Float64Array, n2: number, d: number): number {
  const a = naiveStats(x1, n1, d);
  const b = naiveStats(x2, n2, d);
  let m = 0;
  let tr = 0;
  for (let j = 0; j < d; j++) {
    m += (a.mu[j]! - b.mu[j]!) ** 2;
    tr += a.sigma[j * d + j]! + b.sigma[j * d + j]!;
  }
  return m + tr - 2 * sqrtmTraceRef(a.sigma, b.sigma, d);
}

/** Correlated, non-Gaussian features: x = A z + b with heavy-ish tails. */
function features(n: number, d: number, seed: number, shift = 0, mixSeed = seed): Float64Array {
  const m = new Stream(mixSeed, 1);
  const s = new Stream(seed, 0);
  const mix = Float64Array.from({ length: d * d }, () => m.normal() / Math.sqrt(d));
  const x = new Float64Array(n * d);
  const z = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < d; k++) z[k] = s.normal() * (1 + 0.5 * Math.abs(s.normal()));
    for (let j = 0; j < d; j++) {
      let v = shift * (j % 3);
      for (let k = 0; k < d; k++) v += mix[j * d + k]! * z[k]!;
      x[i * d + j] = v;
    }
  }
  return x;
}

test('linalg: Cholesky and eigvalsh against plain references', () => {
  const d = 40;
  const s = new Stream(1, 0);
  const B = Float64Array.from({ length: d * d }, () => s.normal());
  const A = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) A[i * d + j]! += B[i * d + k]! * B[j * d + k]!;
  const L = cholesky(A, d)!;
  let err = 0;
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      let v = 0;
      for (let k = 0; k < d; k++) v += L[i * d + k]! * L[j * d + k]!;
      err = Math.max(err, Math.abs(v - A[i * d + j]!));
    }
  assert.ok(err < 1e-10, `LLᵀ − A: ${err}`);
  const ev = eigvalsh(A, d);
  const ref = jacobiEigvals(A, d);
  for (let i = 0; i < d; i++)
    assert.ok(Math.abs(ev[i]! - ref[i]!) < 1e-9 * Math.max(1, Math.abs(ref[i]!)), `λ${i} ${ev[i]} vs ${ref[i]}`);
  // Not positive definite → null; indefinite eigenvalues come out right too.
  const C = A.slice();
  for (let i = 0; i < d; i++) C[i * d + i]! -= ref[d - 1]! / 2;
  assert.equal(cholesky(C, d), null);
  const evc = eigvalsh(C, d);
  assert.ok(evc[0]! < 0 && Math.abs(evc[d - 1]! - (ref[d - 1]! - ref[d - 1]! / 2)) < 1e-9 * ref[d - 1]!);
});

test('FID from features matches a scipy-style sqrtm reference (several sizes and dimensions)', async (t) => {
  for (const [n1, n2, d] of [
    [500, 400, 2],
    [800, 600, 16],
    [1000, 1000, 64],
    [700, 900, 128],
  ] as const) {
    const x1 = features(n1, d, d);
    const x2 = features(n2, d, d + 1, 0.3);
    const got = await fid({
      real: await gaussianStats({ data: x1, n: n1, d }),
      fake: await gaussianStats({ data: Float32Array.from(x2), n: n2, d }),
    });
    const ref = fidRef(x1, n1, Float64Array.from(Float32Array.from(x2)), n2, d);
    t.diagnostic(
      `n=${n1}/${n2} d=${d}: FID ${got.fid.toFixed(6)} vs reference ${ref.toFixed(6)} (Δ ${Math.abs(got.fid - ref).toExponential(1)}, ${got.method})`,
    );
    assert.ok(Math.abs(got.fid - ref) <= tol(ref), `d=${d}: ${got.fid} vs ${ref}`);
    assert.equal(got.nReal, n1);
    assert.equal(got.nFake, n2);
    assert.ok(
      got.flags.some((f) => /< 2,048/.test(f)),
      'small samples are flagged',
    );
  }
  // Same distribution, larger n: FID near 0, never negative beyond round-off.
  const d = 8;
  const same = await fid({
    real: await gaussianStats({ data: features(4000, d, 5, 0, 7), n: 4000, d }),
    fake: await gaussianStats({ data: features(4000, d, 6, 0, 7), n: 4000, d }),
  });
  assert.ok(same.fid > -1e-9 && same.fid < 0.5, `same distribution: ${same.fid}`);
});

test('FID with fewer samples than dimensions is exact (data factor) and flagged', async (t) => {
  const d = 48;
  const n1 = 30;
  const n2 = 200;
  const x1 = features(n1, d, 21);
  const x2 = features(n2, d, 22, 0.2);
  const res = await fid({
    real: await gaussianStats({ data: x1, n: n1, d }),
    fake: await gaussianStats({ data: x2, n: n2, d }),
  });
  // Reference: Tr(Σ₁Σ₂)^½ = ‖P₂P₁ᵀ‖_* (nuclear norm), P = X̃/√(n−1); singular values by Jacobi on BᵀB.
  const a = naiveStats(x1, n1, d);
  const b = naiveStats(x2, n2, d);
  const P = (x: Float64Array, n: number, mu: Float64Array): Float64Array =>
    x.map((v, k) => (v - mu[k % d]!) / Math.sqrt(n - 1));
  const P1 = P(x1, n1, a.mu);
  const BtB = new Float64Array(n1 * n1); // (P₂P₁ᵀ)ᵀ(P₂P₁ᵀ) = P₁ Σ₂ P₁ᵀ
  for (let i = 0; i < n1; i++)
    for (let j = 0; j < n1; j++) {
      let v = 0;
      for (let p = 0; p < d; p++)
        for (let q = 0; q < d; q++) v += P1[i * d + p]! * b.sigma[p * d + q]! * P1[j * d + q]!;
      BtB[i * n1 + j] = v;
    }
  const trSqrt = jacobiEigvals(BtB, n1).reduce((s, l) => s + Math.sqrt(Math.max(0, l)), 0);
  let m = 0;
  let tr = 0;
  for (let j = 0; j < d; j++) {
    m += (a.mu[j]! - b.mu[j]!) ** 2;
    tr += a.sigma[j * d + j]! + b.sigma[j * d + j]!;
  }
  const ref = m + tr - 2 * trSqrt;
  t.diagnostic(`n=${n1} < d=${d}: FID ${res.fid.toFixed(6)} vs ${ref.toFixed(6)} (${res.method})`);
  assert.equal(res.method, 'data-factor');
  assert.ok(Math.abs(res.fid - ref) <= tol(ref), `${res.fid} vs ${ref}`);
  assert.ok(res.flags.some((f) => /30 samples < 48 feature dimensions/.test(f)));
});

/** Σ = Q diag(λ) Qᵀ with Q a product of random Householder reflections. */
function rotatedDiag(d: number, lambdas: Float64Array, reflections: Float64Array[]): Float64Array {
  // Build Q column by column: Q = H_1 H_2 … H_r, applied to the identity.
  const Q = new Float64Array(d * d);
  for (let i = 0; i < d; i++) Q[i * d + i] = 1;
  for (const v of reflections) {
    // Q ← Q (I − 2 v vᵀ), v unit.
    const qv = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += Q[i * d + k]! * v[k]!;
      qv[i] = s;
    }
    for (let i = 0; i < d; i++) for (let k = 0; k < d; k++) Q[i * d + k]! -= 2 * qv[i]! * v[k]!;
  }
  const S = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += Q[i * d + k]! * lambdas[k]! * Q[j * d + k]!;
      S[i * d + j] = s;
      S[j * d + i] = s;
    }
  }
  return S;
}

test('FID at d = 2,048 matches the analytic value for commuting covariances', async (t) => {
  const d = 2048;
  const s = new Stream(99, 0);
  const unit = (): Float64Array => {
    const v = Float64Array.from({ length: d }, () => s.normal());
    const nrm = Math.hypot(...v);
    return v.map((x) => x / nrm);
  };
  const refl = [unit(), unit(), unit()];
  const l1 = Float64Array.from({ length: d }, (_, i) => 0.01 + 2 * Math.exp(-i / 300));
  const l2 = Float64Array.from({ length: d }, (_, i) => 0.02 + 1.5 * Math.exp(-i / 200));
  const mu1 = Float64Array.from({ length: d }, () => 0.1 * s.normal());
  const mu2 = Float64Array.from({ length: d }, () => 0.1 * s.normal());
  const real: FidStats = { mu: mu1, sigma: rotatedDiag(d, l1, refl), d, n: null };
  const fake: FidStats = { mu: mu2, sigma: rotatedDiag(d, l2, refl), d, n: null };
  let ref = 0;
  for (let i = 0; i < d; i++) ref += (mu1[i]! - mu2[i]!) ** 2 + l1[i]! + l2[i]! - 2 * Math.sqrt(l1[i]! * l2[i]!);
  const t0 = performance.now();
  const got = await fid({ real, fake });
  t.diagnostic(
    `d=2048: FID ${got.fid.toFixed(6)} vs analytic ${ref.toFixed(6)} (Δ ${Math.abs(got.fid - ref).toExponential(1)}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  assert.ok(Math.abs(got.fid - ref) <= tol(ref), `${got.fid} vs ${ref}`);
});

test("FID agrees with pytorch-fid's formula on scipy.linalg.sqrtm (d = 2,048, when scipy is installed)", async (t) => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import numpy, scipy.linalg'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('Debian python3-scipy not installed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ss-fid-'));
  try {
    const d = 2048;
    const n = 2500;
    const x1 = features(n, d, 31);
    const x2 = features(n, d, 32, 0.05);
    const real = await gaussianStats({ data: x1, n, d });
    const fake = await gaussianStats({ data: x2, n, d });
    const t0 = performance.now();
    const got = await fid({ real, fake });
    const ours = (performance.now() - t0) / 1000;
    for (const [k, v, shape] of [
      ['mu1', real.mu, [d]],
      ['sigma1', real.sigma, [d, d]],
      ['mu2', fake.mu, [d]],
      ['sigma2', fake.sigma, [d, d]],
    ] as const)
      writeFileSync(join(dir, `${k}.npy`), encodeNpy({ dtype: 'float64', shape: [...shape], data: v }));
    // pytorch-fid's calculate_frechet_distance, verbatim in spirit: sqrtm of the product, real part.
    const py = `
import numpy as np, scipy.linalg, time, json, sys
d = sys.argv[1]
mu1, s1, mu2, s2 = (np.load(f"{d}/{k}.npy") for k in ("mu1", "sigma1", "mu2", "sigma2"))
t = time.time()
covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
if not np.isfinite(covmean).all():
    off = np.eye(s1.shape[0]) * 1e-6
    covmean = scipy.linalg.sqrtm((s1 + off).dot(s2 + off))
covmean = covmean.real
diff = mu1 - mu2
fid = diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
print(json.dumps({"fid": float(fid), "seconds": time.time() - t}))
`;
    writeFileSync(join(dir, 'fid.py'), py);
    const r = spawnSync('/usr/bin/python3', [join(dir, 'fid.py'), dir], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    const ref = JSON.parse(r.stdout.trim().split('\n').pop()!) as { fid: number; seconds: number };
    t.diagnostic(
      `d=2048, n=${n}: FID ${got.fid.toFixed(6)} vs scipy ${ref.fid.toFixed(6)} (Δ ${Math.abs(got.fid - ref.fid).toExponential(1)}); ours ${ours.toFixed(1)} s, scipy sqrtm ${ref.seconds.toFixed(1)} s`,
    );
    assert.ok(Math.abs(got.fid - ref.fid) <= tol(ref.fid), `${got.fid} vs scipy ${ref.fid}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('FID rejects mismatched or non-finite inputs with clear errors', async () => {
  const a = await gaussianStats({ data: features(50, 4, 1), n: 50, d: 4 });
  const b = await gaussianStats({ data: features(50, 5, 1), n: 50, d: 5 });
  await assert.rejects(fid({ real: a, fake: b }), /real features are 4-dimensional, generated ones 5-dimensional/);
  const bad = features(10, 3, 2);
  bad[7] = NaN;
  await assert.rejects(
    gaussianStats({ data: bad, n: 10, d: 3 }, 'fake.npy'),
    /fake\.npy: non-finite value NaN at row 2, column 1/,
  );
  await assert.rejects(gaussianStats({ data: new Float64Array(3), n: 1, d: 3 }), /at least 2 samples/);
});

test('FID between small sets of nearly rank-deficient features converges (per-class scores)', async () => {
  // 2-D points through a 64-d random Fourier map, 1,000 data points against 50 generated ones:
  // covariances whose spectra are mostly ~0 (rank ≤ 49 on one side) — the eigen-solver once
  // failed to converge on such clusters.
  const s = new Stream(3, 0);
  const D = 64;
  const W = Float64Array.from({ length: 2 * D }, () => s.normal() * 2);
  const B = Float64Array.from({ length: D }, () => s.uniform() * 2 * Math.PI);
  const feats = (n: number, scale: number): Float32Array => {
    const out = new Float32Array(n * D);
    for (let i = 0; i < n; i++) {
      const x0 = s.normal() * scale;
      const x1 = s.normal() * scale;
      for (let k = 0; k < D; k++) out[i * D + k] = Math.sqrt(2 / D) * Math.cos(W[k]! * x0 + W[D + k]! * x1 + B[k]!);
    }
    return out;
  };
  for (let trial = 0; trial < 30; trial++) {
    const a = await gaussianStats({ data: feats(1000, 0.2), n: 1000, d: D });
    const b = await gaussianStats({ data: feats(50, 0.2 + trial / 60), n: 50, d: D });
    const r = await fid({ real: a, fake: b });
    assert.ok(Number.isFinite(r.fid) && r.fid > -1e-6, `trial ${trial}: FID ${r.fid}`);
    assert.ok(Math.abs((await fid({ real: a, fake: a })).fid) < 1e-4, `trial ${trial}: FID of a set with itself`);
  }
});

test('eigvalsh converges on a nearly singular tridiagonal from a real per-class FID (scipy reference)', async () => {
  const { readFileSync } = await import('node:fs');
  const { tridiagEigvals } = await import('../src/main/engine/metrics/linalg');
  const t = JSON.parse(readFileSync(new URL('./fixtures/tridiag-singular.json', import.meta.url), 'utf8')) as {
    diag: number[];
    off: number[];
    scipyEigenvalues: number[];
  };
  const ev = tridiagEigvals(Float64Array.from(t.diag), Float64Array.from(t.off));
  const largest = t.scipyEigenvalues[t.scipyEigenvalues.length - 1]!;
  let err = 0;
  for (let i = 0; i < ev.length; i++) err = Math.max(err, Math.abs(ev[i]! - t.scipyEigenvalues[i]!));
  assert.ok(err < 1e-14 * largest * ev.length, `eigenvalues differ from scipy's by ${err}`);
});
