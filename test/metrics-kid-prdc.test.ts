// KID, PRDC and class-balance metrics against plain float64 references written here (naive
// O(n²d) loops), plus sanity properties: KID ≈ 0 for one distribution and > 0 for shifted ones,
// precision/recall = 1 for identical sets, real/fake asymmetry, named arguments.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kid, kidSubsetIndices } from '../src/main/engine/metrics/kid';
import type { Features } from '../src/main/engine/metrics/types';
import { prdc } from '../src/main/engine/metrics/prdc';
import { argmaxLabels, classHistogram, histogramDistance, nearestComponent } from '../src/main/engine/metrics/classes';
import { resourcesDir } from '../src/main/engine/models/registry';
import { Stream } from '../src/main/engine/samplers/random';

// ---------------------------------------------------------------------------------------------
// Helpers

/** n × d normals (float32 when f32), times `scale`, plus `shift` on every coordinate. */
function gaussian(
  seed: number,
  n: number,
  d: number,
  opts: { shift?: number; scale?: number; f32?: boolean } = {},
): Features {
  const s = new Stream(seed, 7);
  const data = opts.f32 ? new Float32Array(n * d) : new Float64Array(n * d);
  for (let i = 0; i < data.length; i++) data[i] = s.normal() * (opts.scale ?? 1) + (opts.shift ?? 0);
  return { data, n, d };
}

function row(x: Features, i: number): Float64Array {
  return Float64Array.from(x.data.subarray(i * x.d, (i + 1) * x.d));
}

function sq(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let c = 0; c < a.length; c++) s += (a[c]! - b[c]!) * (a[c]! - b[c]!);
  return s;
}

/** Reference PRDC: full distance matrices, sorted rows, the definitions read literally. */
function naivePrdc(real: Features, fake: Features, kPR: number, kDC: number, open: boolean) {
  const R = Array.from({ length: real.n }, (_, i) => row(real, i));
  const F = Array.from({ length: fake.n }, (_, i) => row(fake, i));
  const within = (X: Float64Array[], k: number): number[] =>
    X.map((x) => X.map((y) => sq(x, y)).sort((a, b) => a - b)[k]!); // (k+1)-th smallest, self (0) included
  const rPR = within(R, kPR);
  const rDC = within(R, kDC);
  const fPR = within(F, kPR);
  const D = R.map((r) => F.map((f) => sq(r, f))); // [real][fake]
  const inside = (d2: number, rad2: number) => (open ? d2 < rad2 : d2 <= rad2);
  let precise = 0;
  let inBalls = 0;
  for (let j = 0; j < fake.n; j++) {
    let any = false;
    for (let i = 0; i < real.n; i++) {
      if (inside(D[i]![j]!, rPR[i]!)) any = true;
      if (inside(D[i]![j]!, rDC[i]!)) inBalls++;
    }
    if (any) precise++;
  }
  let recalled = 0;
  let covered = 0;
  for (let i = 0; i < real.n; i++) {
    if (D[i]!.some((d2, j) => inside(d2, fPR[j]!))) recalled++;
    if (inside(Math.min(...D[i]!), rDC[i]!)) covered++;
  }
  return {
    precision: precise / fake.n,
    recall: recalled / real.n,
    density: inBalls / (kDC * fake.n),
    coverage: covered / real.n,
  };
}

/** Reference unbiased MMD² with k(x, y) = (xᵀy/d + 1)³ on given rows. */
function naiveMmd2(real: Features, ri: Int32Array, fake: Features, fi: Int32Array): number {
  const d = real.d;
  const X = Array.from(ri, (i) => row(real, i));
  const Y = Array.from(fi, (i) => row(fake, i));
  const k = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let c = 0; c < d; c++) s += a[c]! * b[c]!;
    return (s / d + 1) ** 3;
  };
  const m = X.length;
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (i !== j) {
        xx += k(X[i]!, X[j]!);
        yy += k(Y[i]!, Y[j]!);
      }
      xy += k(X[i]!, Y[j]!);
    }
  }
  return (xx + yy) / (m * (m - 1)) - (2 * xy) / (m * m);
}

// ---------------------------------------------------------------------------------------------
// PRDC

const prdcCases: { name: string; real: Features; fake: Features }[] = [
  { name: 'n=300 d=2', real: gaussian(1, 300, 2), fake: gaussian(2, 300, 2, { shift: 0.3, scale: 0.8 }) },
  {
    name: 'n=500 d=64 (float32)',
    real: gaussian(3, 500, 64, { f32: true }),
    fake: gaussian(4, 500, 64, { shift: 0.1, scale: 1.1, f32: true }),
  },
  { name: 'n=200 d=2048', real: gaussian(5, 200, 2048), fake: gaussian(6, 200, 2048, { shift: 0.05 }) },
  { name: 'nReal=250 < nFake=400, d=16', real: gaussian(7, 250, 16), fake: gaussian(8, 400, 16, { scale: 0.7 }) },
  {
    name: 'nReal=400 > nFake=150, d=8',
    real: gaussian(9, 400, 8, { scale: 1.3 }),
    fake: gaussian(10, 150, 8, { shift: 0.2 }),
  },
];

for (const c of prdcCases) {
  test(`prdc matches the naive reference exactly: ${c.name}`, async () => {
    for (const ball of ['closed', 'open'] as const) {
      for (const [kPR, kDC] of [
        [3, 5],
        [1, 2],
      ] as const) {
        const got = await prdc({ real: c.real, fake: c.fake }, { kPR, kDC, ball });
        const want = naivePrdc(c.real, c.fake, kPR, kDC, ball === 'open');
        assert.deepEqual(
          { precision: got.precision, recall: got.recall, density: got.density, coverage: got.coverage },
          want,
          `ball=${ball} kPR=${kPR} kDC=${kDC}`,
        );
        assert.equal(got.nReal, c.real.n);
        assert.equal(got.nFake, c.fake.n);
        assert.equal(got.kPR, kPR);
        assert.equal(got.kDC, kDC);
      }
    }
  });
}

test('prdc defaults to kPR = 3, kDC = 5', async () => {
  const { real, fake } = prdcCases[0]!;
  const got = await prdc({ real, fake });
  assert.equal(got.kPR, 3);
  assert.equal(got.kDC, 5);
  const want = naivePrdc(real, fake, 3, 5, false);
  assert.equal(got.precision, want.precision);
  assert.equal(got.density, want.density);
});

test('prdc of identical sets: precision = recall = coverage = 1, density (k+1)/k closed, 1 open', async () => {
  for (const x of [gaussian(11, 200, 32), gaussian(12, 150, 2048, { f32: true })]) {
    const closed = await prdc({ real: x, fake: x });
    assert.equal(closed.precision, 1);
    assert.equal(closed.recall, 1);
    assert.equal(closed.coverage, 1);
    assert.equal(closed.density, 6 / 5);
    const open = await prdc({ real: x, fake: x }, { ball: 'open' });
    assert.equal(open.precision, 1);
    assert.equal(open.recall, 1);
    assert.equal(open.coverage, 1);
    assert.equal(open.density, 1);
    const want = naivePrdc(x, x, 3, 5, false);
    assert.deepEqual(
      { precision: closed.precision, recall: closed.recall, density: closed.density, coverage: closed.coverage },
      want,
    );
  }
});

test('prdc is asymmetric: swapping real and fake swaps precision and recall', async () => {
  const broad = gaussian(13, 400, 8, { scale: 1.5 });
  const narrow = gaussian(14, 400, 8, { scale: 0.5 });
  const a = await prdc({ real: broad, fake: narrow });
  const b = await prdc({ real: narrow, fake: broad });
  // Narrow fakes sit inside the broad real support (high precision) but miss most of it (low recall).
  assert.ok(a.precision > 0.9 && a.recall < 0.5, JSON.stringify(a));
  assert.ok(b.precision < 0.5 && b.recall > 0.9, JSON.stringify(b));
  // Same k for both: precision(A vs B) and recall(B vs A) count the same memberships.
  assert.equal(a.precision, b.recall);
  assert.equal(a.recall, b.precision);
  assert.notEqual(a.density, b.density);
  assert.notEqual(a.coverage, b.coverage);
});

test('prdc and kid require named { real, fake } and valid features', async () => {
  const x = gaussian(15, 50, 4);
  const y = gaussian(16, 50, 4);
  for (const fn of [(a: unknown) => prdc(a as never), (a: unknown) => kid(a as never)]) {
    await assert.rejects(
      fn({ real: x }),
      (e: Error) => e instanceof RangeError && /missing "fake"/.test(e.message) && /\{ real, fake \}/.test(e.message),
    );
    await assert.rejects(fn({ fake: y }), /missing "real"/);
    await assert.rejects(fn(x), /bare feature matrix/);
    await assert.rejects(fn([x, y]), /named features \{ real, fake \}/);
    await assert.rejects(fn({ real: x, fake: gaussian(17, 50, 5) }), /4-d but fake features are 5-d/);
    const bad = gaussian(18, 50, 4);
    bad.data[4 * 7 + 2] = NaN;
    await assert.rejects(fn({ real: x, fake: bad }), /fake: non-finite value NaN at row 7, column 2/);
    await assert.rejects(
      fn({ real: { data: new Float64Array(10), n: 3, d: 4 }, fake: y }),
      /real: data has 10 values but n×d = 3×4 = 12/,
    );
    await assert.rejects(fn({ real: { data: [1, 2], n: 1, d: 2 }, fake: y }), /Float32Array or Float64Array/);
  }
  await assert.rejects(prdc({ real: gaussian(19, 5, 4), fake: y }), /needs more than max\(kPR, kDC\) = 5 real samples/);
  await assert.rejects(prdc({ real: x, fake: gaussian(20, 3, 4) }), /needs more than kPR = 3 generated samples/);
  await assert.rejects(prdc({ real: x, fake: y }, { kPR: 0 }), /kPR must be an integer ≥ 1/);
  await assert.rejects(kid({ real: x, fake: gaussian(21, 1, 4) }), /at least 2 real and 2 fake samples/);
});

// ---------------------------------------------------------------------------------------------
// KID

test('kid matches a naive MMD² loop on the same subsets (1e-9 relative)', async () => {
  const cases = [
    // 2m = 600 stacked rows: several GEMM row blocks, the last one partial.
    {
      real: gaussian(31, 400, 32),
      fake: gaussian(32, 350, 32, { shift: 0.2 }),
      opts: { numSubsets: 3, subsetSize: 300, seed: 5 },
    },
    {
      real: gaussian(33, 120, 2048, { f32: true }),
      fake: gaussian(34, 90, 2048, { f32: true, scale: 1.1 }),
      opts: { numSubsets: 2, subsetSize: 60, seed: 1 },
    },
    // Same distribution (small MMD², so a cancellation test).
    { real: gaussian(35, 200, 64), fake: gaussian(36, 200, 64), opts: { numSubsets: 4, subsetSize: 150, seed: 9 } },
  ];
  for (const c of cases) {
    const got = await kid({ real: c.real, fake: c.fake }, c.opts);
    const subsets = kidSubsetIndices({ nReal: c.real.n, nFake: c.fake.n }, c.opts);
    assert.equal(subsets.length, c.opts.numSubsets);
    assert.equal(got.subsets, c.opts.numSubsets);
    assert.equal(got.subsetSize, c.opts.subsetSize);
    assert.deepEqual(got.flags, []);
    let mean = 0;
    for (let k = 0; k < subsets.length; k++) {
      const s = subsets[k]!;
      const want = naiveMmd2(c.real, s.real, c.fake, s.fake);
      // Relative to the kernel's scale (≈ 1 per entry), since same-distribution MMD² ≈ 0.
      assert.ok(
        Math.abs(got.values[k]! - want) <= 1e-9 * Math.max(Math.abs(want), 1e-3),
        `subset ${k}: ${got.values[k]} vs ${want}`,
      );
      mean += want / subsets.length;
    }
    assert.ok(Math.abs(got.kid - mean) <= 1e-9 * Math.max(Math.abs(mean), 1e-3));
    let ss = 0;
    for (const v of got.values) ss += (v - got.kid) ** 2;
    assert.ok(Math.abs(got.std - Math.sqrt(ss / got.subsets)) <= 1e-12);
  }
});

test('kid subsets: reproducible, without replacement, in range, seed-dependent', () => {
  const a = kidSubsetIndices({ nReal: 500, nFake: 300 }, { numSubsets: 10, subsetSize: 200, seed: 3 });
  const b = kidSubsetIndices({ nReal: 500, nFake: 300 }, { numSubsets: 10, subsetSize: 200, seed: 3 });
  const c = kidSubsetIndices({ nReal: 500, nFake: 300 }, { numSubsets: 10, subsetSize: 200, seed: 4 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  for (const s of a) {
    for (const [idx, n] of [
      [s.real, 500],
      [s.fake, 300],
    ] as const) {
      assert.equal(idx.length, 200);
      assert.equal(new Set(idx).size, 200);
      assert.ok(idx.every((i) => i >= 0 && i < n));
    }
  }
  assert.notDeepEqual(a[0]!.real, a[1]!.real);
  // Default size 1000 clips to the smaller set.
  const clipped = kidSubsetIndices({ nReal: 500, nFake: 300 }, { numSubsets: 2 });
  assert.equal(clipped[0]!.real.length, 300);
  assert.equal(clipped[0]!.fake.length, 300);
});

test('kid flags a clipped subset size', async () => {
  const r = await kid({ real: gaussian(41, 120, 8), fake: gaussian(42, 80, 8) }, { numSubsets: 5 });
  assert.equal(r.subsetSize, 80);
  assert.equal(r.nReal, 120);
  assert.equal(r.nFake, 80);
  assert.equal(r.flags.length, 1);
  assert.match(r.flags[0]!, /^subset-size-clipped: requested 1000 .* min\(nReal, nFake\) = 80/);
});

test('kid ≈ 0 for one distribution, clearly > 0 for a shifted one', async () => {
  const real = gaussian(51, 1500, 32, { f32: true });
  const same = await kid({ real, fake: gaussian(52, 1500, 32, { f32: true }) }, { numSubsets: 20, subsetSize: 500 });
  assert.ok(Math.abs(same.kid) < 3 * same.std, `same: ${same.kid} ± ${same.std}`);
  const shifted = await kid(
    { real, fake: gaussian(53, 1500, 32, { f32: true, shift: 0.3 }) },
    { numSubsets: 20, subsetSize: 500 },
  );
  assert.ok(
    shifted.kid > 10 * shifted.std && shifted.kid > 10 * Math.abs(same.kid),
    `shifted: ${shifted.kid} ± ${shifted.std}`,
  );
  const further = await kid(
    { real, fake: gaussian(54, 1500, 32, { f32: true, shift: 0.6 }) },
    { numSubsets: 20, subsetSize: 500 },
  );
  assert.ok(further.kid > shifted.kid);
});

// ---------------------------------------------------------------------------------------------
// Classes

test('classHistogram counts and frequencies', () => {
  const h = classHistogram(Int32Array.from([0, 2, 2, 1, 2, 0]), 4);
  assert.deepEqual(Array.from(h.counts), [2, 1, 3, 0]);
  assert.deepEqual(Array.from(h.freqs), [2 / 6, 1 / 6, 3 / 6, 0]);
  assert.equal(h.n, 6);
  assert.equal(h.numClasses, 4);
  assert.throws(() => classHistogram(Int32Array.from([0, 4]), 4), /label 4 at index 1 is outside \[0, 4\)/);
  assert.throws(() => classHistogram(Int32Array.from([-1]), 4), RangeError);
  const empty = classHistogram(new Int32Array(0), 3);
  assert.deepEqual(Array.from(empty.freqs), [0, 0, 0]);
});

test('histogramDistance: tv, l1, KL(target ‖ generated) with floored generated', () => {
  const gen = classHistogram(Int32Array.from([0, 0, 0, 1]), 2); // [0.75, 0.25]
  const same = histogramDistance({ generated: gen, target: [3, 1] });
  assert.equal(same.tv, 0);
  assert.equal(same.l1, 0);
  assert.equal(same.kl, 0);
  assert.equal(same.nFake, 4);
  assert.equal(same.nReal, null);

  const d = histogramDistance({ generated: gen, target: [0.5, 0.5] });
  assert.ok(Math.abs(d.tv - 0.25) < 1e-15);
  assert.ok(Math.abs(d.l1 - 0.5) < 1e-15);
  assert.ok(Math.abs(d.kl - (0.5 * Math.log(0.5 / 0.75) + 0.5 * Math.log(0.5 / 0.25))) < 1e-15);

  // A dropped target class: finite KL through the floor; disjoint supports: tv = 1.
  const dropped = classHistogram(Int32Array.from([0, 0]), 2);
  const t = classHistogram(Int32Array.from([1, 1, 1]), 2);
  const e = histogramDistance({ generated: dropped, target: t });
  assert.equal(e.tv, 1);
  assert.equal(e.l1, 2);
  assert.ok(Math.abs(e.kl - Math.log(1 / 1e-12)) < 1e-9);
  assert.equal(e.nReal, 3);
  assert.equal(e.nFake, 2);
  // Extra generated mass on a class the target lacks: q = 0 terms vanish.
  const extra = histogramDistance({ generated: classHistogram(Int32Array.from([0, 1]), 2), target: [1, 0] });
  assert.ok(Math.abs(extra.kl - Math.log(2)) < 1e-15);

  assert.throws(
    () => histogramDistance({ generated: gen, target: [1, 1, 1] }),
    /generated has 2 classes but target has 3/,
  );
  assert.throws(() => histogramDistance({ generated: gen } as never), /histogramDistance\(\{ generated, target \}\)/);
  assert.throws(() => histogramDistance({ generated: gen, target: [0, 0] }), /sum to 0/);
  assert.throws(
    () => histogramDistance({ generated: [1, 1] as never, target: [1, 1] }),
    /generated must be a ClassHistogram/,
  );
});

test('nearestComponent on a toy mixture and on gmm-ring8 means', () => {
  const means = [
    [0, 0],
    [10, 0],
    [0, 10],
  ];
  const pts: Features = { data: Float32Array.from([0.4, -0.3, 9, 1, -1, 8, 5.1, 0, 4.9, 0, 6, 6]), n: 6, d: 2 };
  // (6, 6) is equidistant from components 1 and 2: ties go to the lower index.
  assert.deepEqual(Array.from(nearestComponent(pts, means)), [0, 1, 2, 1, 0, 1]);
  assert.throws(() => nearestComponent(pts, [[0, 0, 0]]), /mean 0 has 3 coordinates but the points are 2-d/);

  const params = JSON.parse(readFileSync(join(resourcesDir(), 'models', 'gmm-ring8', 'params.json'), 'utf8')) as {
    means: number[][];
  };
  const ring = params.means;
  const k = ring.length;
  const data = new Float64Array(k * 2);
  ring.forEach((m, c) => {
    data[2 * c] = 1.2 * m[0]! + 0.05;
    data[2 * c + 1] = 0.9 * m[1]! - 0.05;
  });
  assert.deepEqual(
    Array.from(nearestComponent({ data, n: k, d: 2 }, ring)),
    Array.from({ length: k }, (_, c) => c),
  );
});

test('argmaxLabels over logits rows', () => {
  const logits: Features = { data: Float32Array.from([1, 3, 2, -5, -7, -6, 0, 0, 0, 2, 2, 9]), n: 4, d: 3 };
  assert.deepEqual(Array.from(argmaxLabels(logits)), [1, 0, 0, 2]);
  assert.throws(
    () => argmaxLabels({ data: Float32Array.from([1, NaN]), n: 1, d: 2 }),
    /non-finite value NaN at row 0, column 1/,
  );
});
