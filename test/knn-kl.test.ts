// The k-nearest-neighbour KL estimate (src/main/engine/metrics/knn-kl.ts) against the closed-form KL
// of Gaussians, and its clear errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float32Resolution, knnKl, meanInterval95 } from '../src/main/engine/metrics/knn-kl';
import { Stream } from '../src/main/engine/samplers/random';

/** n draws of N(mu, diag(sd²)). */
function gaussian(n: number, mu: number[], sd: number[], seed: number): Float64Array {
  const rng = new Stream(seed, 0);
  const d = mu.length;
  return Float64Array.from({ length: n * d }, (_, i) => mu[i % d]! + sd[i % d]! * rng.normal());
}

/** KL(N(m1, diag s1²) ‖ N(m2, diag s2²)). */
function klGauss(m1: number[], s1: number[], m2: number[], s2: number[]): number {
  let kl = 0;
  for (let i = 0; i < m1.length; i++)
    kl += Math.log(s2[i]! / s1[i]!) + (s1[i]! ** 2 + (m1[i]! - m2[i]!) ** 2) / (2 * s2[i]! ** 2) - 0.5;
  return kl;
}

test('knn KL: close to the closed form for 1-D and 2-D Gaussians, and to 0 for one distribution', () => {
  const cases: [number[], number[], number[], number[]][] = [
    [[0.5], [1], [0], [1.5]],
    [
      [0, 1],
      [1, 0.5],
      [0.5, 0],
      [1.2, 1],
    ],
    [
      [0, 0],
      [1, 1],
      [0, 0],
      [1, 1],
    ],
  ];
  cases.forEach(([m1, s1, m2, s2], c) => {
    const d = m1.length;
    const p = gaussian(3000, m1, s1, 10 + c);
    const q = gaussian(c === 1 ? 1000 : 3000, m2, s2, 20 + c); // m ≠ n once: the log(m/(n − 1)) term counts
    const exact = klGauss(m1, s1, m2, s2);
    // The estimate's sd at n = 3000 is about 0.03·d (k = 1): 0.1 is over three of them.
    for (const k of [1, 5]) {
      const est = knnKl(p, q, d, k);
      assert.ok(Math.abs(est - exact) < 0.1, `case ${c}, k = ${k}: estimate ${est} vs exact ${exact}`);
    }
  });
});

test('knn KL: duplicates and sizes are clear errors; the 95% interval is 1.96·sd/√R', () => {
  const p = Float64Array.from([0, 0, 1, 1, 1, 1]);
  const q = Float64Array.from([0.5, 0.5, 2, 2]);
  assert.throws(() => knnKl(p, q, 2, 1), /sample 1 has 1 identical copies.*distinct points/);
  assert.throws(
    () => knnKl(Float64Array.from([0, 0, 3, 3]), Float64Array.from([3, 3]), 2),
    /coincides with a reference point/,
  );
  // With the numbers' resolution, ties count as that far apart: finite, and the same as at a tiny offset.
  const tied = knnKl(Float64Array.from([0, 0, 3, 3]), Float64Array.from([3, 3, 9, 9]), 2, 1, 1e-6);
  const near = knnKl(Float64Array.from([0, 0, 3, 3]), Float64Array.from([3, 3 + 1e-6, 9, 9]), 2, 1);
  assert.ok(Number.isFinite(tied) && Math.abs(tied - near) < 1e-6, `${tied} vs ${near}`);
  assert.equal(float32Resolution(Float32Array.from([-4, 2])), 4 * 2 ** -23);
  assert.throws(() => knnKl(p, q, 4), /not multiples of 4/);
  assert.throws(() => knnKl(p, q, 2, 3), /needs more than k = 3/);
  const r = meanInterval95([1, 2, 3, 4]);
  assert.equal(r.mean, 2.5);
  assert.ok(Math.abs(r.half - (1.96 * Math.sqrt(5 / 3)) / 2) < 1e-12);
});
