// The drift step (src/main/engine/drift/kernels.ts): with u = 0 it is the base sampler's step to the
// bit; its log-probability and KL are checked against float64 computations made differently
// (the exponential-tilt identity, numerical integration, a Monte-Carlo KL).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { ddimStep } from '../src/main/engine/samplers/ddim';
import { eulerMaruyamaStep } from '../src/main/engine/samplers/euler-maruyama';
import type { StepInput } from '../src/main/engine/samplers/loop';
import { Stream } from '../src/main/engine/samplers/random';
import { baseStep, driftKl, driftLogProb, driftStep } from '../src/main/engine/drift/kernels';
import { ScriptedNoise } from './helpers/edm-reference';

let ring: Model;
before(async () => {
  ring = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8-exact'));
});
after(async () => {
  await ring.dispose();
});

function stepInput(x: Float32Array, tCur: number[], tNext: number[], labels: bigint[]): StepInput {
  const m = tCur.length;
  return {
    x,
    tCur: Float64Array.from(tCur),
    tNext: Float64Array.from(tNext),
    level: new Int32Array(m),
    labels: BigInt64Array.from(labels),
    guidance: null,
    guidanceAt: null,
    gamma: null,
    rows: Int32Array.from({ length: m }, (_, j) => j),
    nfe: new Int32Array(m),
    networkEvals: new Int32Array(m),
    denoised: null,
    signal: null,
    progress: null,
  };
}

test('drift step: u = 0 (and u absent) is the base sampler’s step, bit for bit, for both samplers', async () => {
  const dim = 2;
  // Rows at several levels, the last ones landing on σ' = 0 (DDIM's deterministic last step).
  const tCur = [80, 14.6, 2.1, 0.5, 0.03, 0.002];
  const tNext = [57, 9.7, 1.3, 0.2, 0.002, 0];
  const m = tCur.length;
  const x = Float32Array.from({ length: m * dim }, (_, i) => (tCur[i >> 1]! + 1) * Math.sin(3 * i + 1));
  const labels = Array.from({ length: m }, (_, j) => BigInt(j % 8));
  const x0 = await ring.denoise(x, Float32Array.from(tCur), BigInt64Array.from(labels));
  for (const sampler of ['euler-maruyama', 'ddim'] as const) {
    const noise = new ScriptedNoise(m, dim, 1, 5);
    const step = sampler === 'ddim' ? ddimStep(ring, 0.7, noise) : eulerMaruyamaStep(ring, noise);
    const expected = await step(stepInput(x, tCur, tNext, labels));
    const z = new Float32Array(m * dim);
    for (let j = 0; j < m; j++) z.set(noise.block(j, 0), j * dim);
    const b = baseStep(sampler, 0.7, x, x0, tCur, tNext, dim);
    assert.deepEqual(driftStep(b, null, z), expected, `${sampler}: no residual`);
    assert.deepEqual(driftStep(b, new Float32Array(m * dim), z), expected, `${sampler}: u = 0`);
    if (sampler === 'ddim') assert.equal(b.c[m - 1], 0, 'DDIM’s last step is deterministic');
    else assert.ok(b.c[m - 1]! > 0, 'Euler–Maruyama’s last step keeps σ_min of noise');
  }
  assert.throws(() => baseStep('ddim', 0, x, x0, tCur, tNext, dim), /needs 0 < η ≤ 1/);
});

test('drift step: the log-probability and KL match float64 computations made another way', () => {
  const dim = 3;
  const rng = new Stream(9, 0);
  const m = 5;
  const b = {
    dim,
    mean: Float64Array.from({ length: m * dim }, () => 2 * rng.normal()),
    c: Float64Array.from([0.8, 0.05, 1.7, 0.3, 0]),
  };
  const u = Float64Array.from({ length: m * dim }, () => rng.normal());
  const z = Float64Array.from({ length: m * dim }, () => rng.normal());
  const xNext = driftStep(b, u, z);
  const lp = driftLogProb(b, u, xNext);
  const lp0 = driftLogProb(b, null, xNext);
  const kl = driftKl(b, u);
  for (let j = 0; j < m; j++) {
    const c = b.c[j]!;
    if (c === 0) {
      assert.equal(lp[j], 0);
      assert.equal(kl[j], 0);
      for (let k = 0; k < dim; k++) assert.equal(xNext[j * dim + k], Math.fround(b.mean[j * dim + k]!));
      continue;
    }
    // Exponential tilt: π(x')/p(x') = exp(u·(x' − m) − c²|u|²/2).
    let dot = 0;
    let uu = 0;
    for (let k = 0; k < dim; k++) {
      dot += u[j * dim + k]! * (xNext[j * dim + k]! - b.mean[j * dim + k]!);
      uu += u[j * dim + k]! ** 2;
    }
    const tilt = dot - (c * c * uu) / 2;
    assert.ok(Math.abs(lp[j]! - lp0[j]! - tilt) < 1e-9 * Math.max(1, Math.abs(tilt)), `row ${j}: tilt`);
    // The base density as a product of one-dimensional normal densities.
    let p0 = 1;
    for (let k = 0; k < dim; k++) {
      const r = xNext[j * dim + k]! - b.mean[j * dim + k]!;
      p0 *= Math.exp(-(r * r) / (2 * c * c)) / (c * Math.sqrt(2 * Math.PI));
    }
    assert.ok(Math.abs(lp0[j]! - Math.log(p0)) < 1e-9 * Math.max(1, Math.abs(lp0[j]!)), `row ${j}: base density`);
    assert.ok(Math.abs(kl[j]! - (c * c * uu) / 2) < 1e-12 * Math.max(1, kl[j]!), `row ${j}: KL`);
  }
});

test('drift step: π integrates to 1, and the KL is the mean log-ratio of its own draws (Monte Carlo)', () => {
  const b = { dim: 1, mean: Float64Array.from([0.4]), c: Float64Array.from([0.6]) };
  const u = Float64Array.from([1.3]);
  // ∫ π(x') dx' by the trapezoid rule over ±12 c around the shifted mean.
  const centre = 0.4 + 0.36 * 1.3;
  const h = 0.6 / 200;
  let integral = 0;
  for (let i = -2400; i <= 2400; i++) {
    const v = Math.exp(driftLogProb(b, u, [centre + i * h])[0]!);
    integral += (i === -2400 || i === 2400 ? 0.5 : 1) * v * h;
  }
  assert.ok(Math.abs(integral - 1) < 1e-9, `∫π = ${integral}`);
  // KL(π‖p) = E_π[log π − log p] over 200,000 draws of π.
  const rng = new Stream(3, 1);
  const n = 200_000;
  const bb = { dim: 1, mean: new Float64Array(n).fill(0.4), c: new Float64Array(n).fill(0.6) };
  const uu = new Float64Array(n).fill(1.3);
  const zz = Float64Array.from({ length: n }, () => rng.normal());
  const xs = driftStep(bb, uu, zz);
  const lp = driftLogProb(bb, uu, xs);
  const lp0 = driftLogProb(bb, null, xs);
  let mc = 0;
  for (let i = 0; i < n; i++) mc += (lp[i]! - lp0[i]!) / n;
  const kl = driftKl(b, u)[0]!;
  // The log-ratio's sd is c|u| = 0.78: the Monte-Carlo error is about 0.0017.
  assert.ok(Math.abs(mc - kl) < 0.01, `Monte Carlo ${mc} vs closed form ${kl}`);
});
