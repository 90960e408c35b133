// Samplers against plain float64 references written here (Karras et al. 2022, Alg. 1 and 2; DDIM),
// on the same model and the same noise, and the bundled exact model's samples against its data.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Model, type Denoiser } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { generate, resolveSettings, scheduleFor } from '../src/main/engine/samplers/generate';
import { Stream } from '../src/main/engine/samplers/random';
import { karrasSchedule } from '../src/main/engine/samplers/schedule';
import type { StepHook } from '../src/main/engine/samplers/types';
import { edmReference, guided64, maxAbsDiff, ScriptedNoise } from './helpers/edm-reference';

let ring: Model; // gmm-ring8 (imperfect: guidance matters)
let exact: Model; // gmm-ring8-exact

before(async () => {
  ring = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'));
  exact = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8-exact'));
});
after(async () => {
  await ring.dispose();
  await exact.dispose();
});

const N_REF = 24;

async function compareWithReference(sampler: 'euler' | 'heun' | 'edm', churn: number, w: number): Promise<number> {
  const dim = 2;
  const noise = new ScriptedNoise(N_REF, dim, 40);
  const z = new Float32Array(N_REF * dim);
  const zs = new Stream(11, 0);
  for (let i = 0; i < z.length; i++) z[i] = zs.normal();
  const labels = Int32Array.from({ length: N_REF }, (_, i) => i % 8);
  const opts = { steps: 18, churn, sTmin: 0.05, sTmax: 50, sNoise: 1.003 };
  const settings = resolveSettings(ring, { sampler, ...opts, guidance: w });
  const res = await generate(ring, settings, { n: N_REF, batch: 10, seed: 0, classes: labels, initNoise: z, noise });
  let worst = 0;
  for (let r = 0; r < N_REF; r++) {
    const ref = await edmReference(
      ring,
      Float64Array.from(z.subarray(r * dim, (r + 1) * dim)),
      labels[r]!,
      { ...opts, heun: sampler !== 'euler', w },
      (k) => noise.block(r, k),
    );
    const scale = Math.max(1, ...ref.map(Math.abs));
    worst = Math.max(worst, maxAbsDiff(res.samples.subarray(r * dim, (r + 1) * dim), ref) / scale);
  }
  return worst;
}

// Float32 states through 18–35 evaluations: a few ulps (6e-8) per step, amplified mildly by the
// ODE; 5e-6 relative is float32 round-off (measured: 2–6e-7), far below any algorithmic difference (~1e-2).
const F32_TOL = 5e-6;

test('Heun (Alg. 1) matches a float64 reference, with and without guidance', async (t) => {
  for (const w of [1, 2.5]) {
    const err = await compareWithReference('heun', 0, w);
    t.diagnostic(`heun w=${w}: max relative deviation from float64 ${err.toExponential(2)}`);
    assert.ok(err < F32_TOL, `heun w=${w}: max relative deviation ${err}`);
  }
});

test('Euler matches a float64 reference', async (t) => {
  const err = await compareWithReference('euler', 0, 1.5);
  t.diagnostic(`euler: max relative deviation from float64 ${err.toExponential(2)}`);
  assert.ok(err < F32_TOL, `euler: max relative deviation ${err}`);
});

test('EDM stochastic sampler (Alg. 2) matches a float64 reference with injected noise', async (t) => {
  const err = await compareWithReference('edm', 40, 1.5);
  t.diagnostic(`edm churn 40: max relative deviation from float64 ${err.toExponential(2)}`);
  assert.ok(err < F32_TOL, `edm churn 40: max relative deviation ${err}`);
});

test('a reference with a different update is detected (the comparison has teeth)', async () => {
  // Heun engine output against the Euler reference must differ by far more than the tolerance.
  const dim = 2;
  const z = Float32Array.from({ length: 4 * dim }, (_, i) => Math.sin(i + 1));
  const labels = new Int32Array([0, 1, 2, 3]);
  const res = await generate(ring, resolveSettings(ring, { sampler: 'heun' }), {
    n: 4,
    batch: 4,
    seed: 0,
    classes: labels,
    initNoise: z,
  });
  const ref = await edmReference(
    ring,
    Float64Array.from(z.subarray(0, dim)),
    0,
    { steps: 18, heun: false, churn: 0, sTmin: 0, sTmax: Infinity, sNoise: 1, w: 1 },
    () => new Float64Array(dim),
  );
  assert.ok(maxAbsDiff(res.samples.subarray(0, dim), ref) > 100 * F32_TOL);
});

test('DDIM: η = 0 equals Euler; η = 1 matches a float64 reference', async () => {
  const dim = 2;
  const n = 16;
  const z = Float32Array.from({ length: n * dim }, (_, i) => Math.cos(3 * i + 1));
  const labels = Int32Array.from({ length: n }, (_, i) => i % 8);
  const euler = await generate(ring, resolveSettings(ring, { sampler: 'euler', guidance: 2 }), {
    n,
    batch: n,
    seed: 0,
    classes: labels,
    initNoise: z,
  });
  const ddim0 = await generate(ring, resolveSettings(ring, { sampler: 'ddim', eta: 0, guidance: 2 }), {
    n,
    batch: n,
    seed: 0,
    classes: labels,
    initNoise: z,
  });
  assert.ok(
    maxAbsDiff(euler.samples, ddim0.samples) < 1e-5,
    `ddim η=0 vs euler ${maxAbsDiff(euler.samples, ddim0.samples)}`,
  );

  const noise = new ScriptedNoise(n, dim, 20, 3);
  const s = resolveSettings(ring, { sampler: 'ddim', eta: 1, steps: 18 });
  const res = await generate(ring, s, { n, batch: 5, seed: 0, classes: labels, initNoise: z, noise });
  const t = scheduleFor(ring, s);
  for (let r = 0; r < n; r++) {
    let x = Float64Array.from(z.subarray(r * dim, (r + 1) * dim), (v) => v * t[0]!);
    for (let i = 0; i < 18; i++) {
      const sc = t[i]!;
      const sn = t[i + 1]!;
      const x0 = await guided64(ring, x, sc, labels[r]!, 1);
      const a = 1 / (1 + sc * sc);
      const an = 1 / (1 + sn * sn);
      // DDIM Eq. 12 in VP scale, then back to EDM scale.
      const sEta = Math.sqrt((1 - an) / (1 - a)) * Math.sqrt(1 - a / an);
      const xt = x.map((v) => v * Math.sqrt(a));
      const eps = xt.map((v, j) => (v - Math.sqrt(a) * x0[j]!) / Math.sqrt(1 - a));
      const zz = noise.block(r, i);
      const xtn = x0.map(
        (v, j) => Math.sqrt(an) * v + Math.sqrt(Math.max(0, 1 - an - sEta * sEta)) * eps[j]! + sEta * zz[j]!,
      );
      x = xtn.map((v) => v / Math.sqrt(an));
    }
    const scale = Math.max(1, ...x.map(Math.abs));
    const err = maxAbsDiff(res.samples.subarray(r * dim, (r + 1) * dim), x) / scale;
    assert.ok(err < F32_TOL, `ddim η=1 row ${r}: ${err}`);
  }
});

test('Euler–Maruyama: matches a float64 reference of the reverse-SDE step, and reaches the data on the exact model', async () => {
  const dim = 2;
  const n = 16;
  const z = Float32Array.from({ length: n * dim }, (_, i) => Math.cos(5 * i + 2));
  const labels = Int32Array.from({ length: n }, (_, i) => i % 8);
  const noise = new ScriptedNoise(n, dim, 20, 4);
  const s = resolveSettings(ring, { sampler: 'euler-maruyama', steps: 18 });
  const res = await generate(ring, s, { n, batch: 5, seed: 0, classes: labels, initNoise: z, noise });
  assert.equal(res.nfe[0], 18, 'one evaluation per step');
  const t = scheduleFor(ring, s);
  for (let r = 0; r < n; r++) {
    let x = Float64Array.from(z.subarray(r * dim, (r + 1) * dim), (v) => v * t[0]!);
    for (let i = 0; i < 18; i++) {
      const sc = t[i]!;
      const sn = t[i + 1]!;
      const x0 = await guided64(ring, x, sc, labels[r]!, 1);
      // dx = −d(σ²)·∇log p + √d(σ²)·z, ∇log p = (x̂₀ − x)/σ²; d(σ²) = σ'² − σ² < 0 going down.
      const dVar = sn * sn - sc * sc;
      const zz = noise.block(r, i);
      x = x.map((v, j) => v - dVar * ((x0[j]! - v) / (sc * sc)) + Math.sqrt(-dVar) * zz[j]!);
    }
    const scale = Math.max(1, ...x.map(Math.abs));
    const err = maxAbsDiff(res.samples.subarray(r * dim, (r + 1) * dim), x) / scale;
    assert.ok(err < F32_TOL, `euler-maruyama row ${r}: ${err}`);
  }
  // With many steps on the exact model, each class lands on its component: N(μ_c, 0.2²).
  const m = 2000;
  const many = await generate(exact, resolveSettings(exact, { sampler: 'euler-maruyama', steps: 256 }), {
    n: m,
    batch: 500,
    seed: 11,
    classes: Int32Array.from({ length: m }, () => 3),
  });
  const mu = [2 * Math.cos((2 * Math.PI * 3) / 8), 2 * Math.sin((2 * Math.PI * 3) / 8)];
  for (let j = 0; j < 2; j++) {
    let s1 = 0;
    let s2 = 0;
    for (let r = 0; r < m; r++) {
      const v = many.samples[r * 2 + j]!;
      s1 += v;
      s2 += v * v;
    }
    const mean = s1 / m;
    const sd = Math.sqrt(s2 / m - mean * mean);
    assert.ok(Math.abs(mean - mu[j]!) < 0.03, `coordinate ${j}: mean ${mean} vs ${mu[j]}`);
    assert.ok(Math.abs(sd - 0.2) < 0.02, `coordinate ${j}: sd ${sd} vs 0.2`);
  }
});

test('restart: K = 0 is Heun; NFE = 2N−1 + K·2·n_restart', async () => {
  const n = 32;
  const z = Float32Array.from({ length: n * 2 }, (_, i) => Math.sin(7 * i));
  const heun = await generate(exact, resolveSettings(exact, { sampler: 'heun' }), {
    n,
    batch: n,
    seed: 1,
    initNoise: z,
  });
  const r0 = await generate(
    exact,
    resolveSettings(exact, { sampler: 'restart', restart: { tMin: 0.1, tMax: 2, k: 0, steps: 4 } }),
    { n, batch: n, seed: 1, initNoise: z },
  );
  assert.deepEqual(r0.samples, heun.samples);
  const r2 = await generate(
    exact,
    resolveSettings(exact, { sampler: 'restart', restart: { tMin: 0.1, tMax: 2, k: 2, steps: 4 } }),
    { n, batch: n, seed: 1, initNoise: z },
  );
  assert.ok(
    r2.nfe.every((v) => v === 35 + 2 * 2 * 4),
    `restart NFE ${r2.nfe[0]}`,
  );
  assert.ok(maxAbsDiff(r2.samples, heun.samples) > 1e-3, 'restarts inject fresh noise');
});

// ---- the bundled exact model against its data ----

interface Params {
  truth: { means: number[][]; stds: number[] };
}

/** Heun's factor on a 1-D Gaussian of variance v: the PF-ODE is linear, so x_N = c·z exactly (float64). */
function heunFactor(v: number, steps: number): number {
  const t = karrasSchedule({ steps, sigmaMin: 0.002, sigmaMax: 80, rho: 7 });
  let u = t[0]!;
  for (let i = 0; i < steps; i++) {
    const tc = t[i]!;
    const tn = t[i + 1]!;
    const f = (uu: number, s: number): number => (s * uu) / (v + s * s);
    const d = f(u, tc);
    let un = u + (tn - tc) * d;
    if (tn > 0) un = u + (tn - tc) * 0.5 * (d + f(un, tn));
    u = un;
  }
  return u;
}

test('gmm-ring8-exact, Heun 18: per-class means and covariances match the data', async () => {
  const params = JSON.parse(readFileSync(join(exact.dir, 'params.json'), 'utf8')) as Params;
  const perClass = 1500;
  const n = 8 * perClass;
  const res = await generate(exact, resolveSettings(exact, { sampler: 'heun', steps: 18 }), {
    n,
    batch: 2000,
    seed: 3,
    classes: Int32Array.from({ length: n }, (_, i) => i % 8),
  });
  // Heun-18's discretisation error is a deterministic scale factor on each Gaussian class (the
  // ODE is linear); it is computed here in float64 so the test separates it from sampling error.
  const s = params.truth.stds[0]!;
  const c = heunFactor(s * s, 18) / s;
  assert.ok(Math.abs(c - 1) < 0.08, `Heun-18 std factor ${c}`);
  for (let k = 0; k < 8; k++) {
    const mu = params.truth.means[k]!;
    let mx = 0;
    let my = 0;
    for (let i = k; i < n; i += 8) {
      mx += res.samples[2 * i]!;
      my += res.samples[2 * i + 1]!;
    }
    mx /= perClass;
    my /= perClass;
    let cxx = 0;
    let cyy = 0;
    let cxy = 0;
    for (let i = k; i < n; i += 8) {
      const dx = res.samples[2 * i]! - mx;
      const dy = res.samples[2 * i + 1]! - my;
      cxx += dx * dx;
      cyy += dy * dy;
      cxy += dx * dy;
    }
    cxx /= perClass - 1;
    cyy /= perClass - 1;
    cxy /= perClass - 1;
    const sd = s * c; // predicted std after Heun-18
    const seMean = sd / Math.sqrt(perClass);
    const seVar = sd * sd * Math.sqrt(2 / (perClass - 1));
    // 4.5 standard errors: a false alarm in ~1e-5 of runs per statistic.
    assert.ok(
      Math.abs(mx - mu[0]!) < 4.5 * seMean && Math.abs(my - mu[1]!) < 4.5 * seMean,
      `class ${k} mean (${mx}, ${my}) vs (${mu})`,
    );
    assert.ok(
      Math.abs(cxx - sd * sd) < 4.5 * seVar && Math.abs(cyy - sd * sd) < 4.5 * seVar,
      `class ${k} variances ${cxx}, ${cyy} vs ${sd * sd}`,
    );
    assert.ok(Math.abs(cxy) < (4.5 * (sd * sd)) / Math.sqrt(perClass), `class ${k} covariance ${cxy}`);
  }
});

test('gmm-ring8-exact: with enough steps Heun matches the true variance; unconditional samples hit every class equally', async () => {
  const params = JSON.parse(readFileSync(join(exact.dir, 'params.json'), 'utf8')) as Params;
  const n = 4000;
  const res = await generate(exact, resolveSettings(exact, { sampler: 'heun', steps: 256 }), {
    n,
    batch: 2000,
    seed: 5,
    classes: 'none',
  });
  const counts = new Array(8).fill(0);
  let sq = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bd = Infinity;
    params.truth.means.forEach((m, k) => {
      const d = (res.samples[2 * i]! - m[0]!) ** 2 + (res.samples[2 * i + 1]! - m[1]!) ** 2;
      if (d < bd) {
        bd = d;
        best = k;
      }
    });
    counts[best]++;
    sq += bd;
  }
  const v = sq / (2 * n); // per-coordinate variance around the nearest mean
  const s2 = params.truth.stds[0]! ** 2;
  assert.ok(Math.abs(v - s2) < 4.5 * s2 * Math.sqrt(2 / (2 * n)) + 0.002 * s2, `variance ${v} vs ${s2}`);
  const p = 1 / 8;
  const se = Math.sqrt((p * (1 - p)) / n);
  for (const cnt of counts) assert.ok(Math.abs(cnt / n - p) < 4.5 * se, `class shares ${counts}`);
});

// ---- per-step hooks ----

test('hooks: per-row guidance equals constant guidance; renoise jumps cost no NFE and every row finishes', async () => {
  const n = 40;
  const z = Float32Array.from({ length: n * 2 }, (_, i) => Math.sin(5 * i + 2));
  const labels = Int32Array.from({ length: n }, (_, i) => i % 8);
  const s = resolveSettings(ring, { sampler: 'heun', guidance: 1 });
  const constant = await generate(ring, resolveSettings(ring, { sampler: 'heun', guidance: 2 }), {
    n,
    batch: 16,
    seed: 0,
    classes: labels,
    initNoise: z,
  });
  const hook: StepHook = (ctx) => ({ guidance: new Float32Array(ctx.rows.length).fill(2) });
  const hooked = await generate(ring, s, { n, batch: 16, seed: 0, classes: labels, initNoise: z, hook });
  assert.deepEqual(hooked.samples, constant.samples);

  // Each even row jumps back to level 0 once, on reaching level 5.
  const N = s.steps;
  const jumped = new Set<number>();
  const renoise: StepHook = (ctx) => {
    const jumpTo = new Int32Array(ctx.rows.length).fill(-1);
    ctx.rows.forEach((r, i) => {
      if (r % 2 === 0 && ctx.level[i] === 5 && !jumped.has(r)) {
        jumpTo[i] = 0;
        jumped.add(r);
      }
    });
    return { jumpTo };
  };
  const res = await generate(ring, s, {
    n,
    batch: 16,
    seed: 0,
    classes: labels,
    initNoise: z,
    hook: renoise,
    horizon: N + 6,
  });
  assert.equal(jumped.size, n / 2);
  for (let r = 0; r < n; r++) {
    // Heun: 2 NFE per step but 1 for the last; a jump from level 5 to 0 repeats 5 steps.
    assert.equal(res.nfe[r], 2 * N - 1 + (r % 2 === 0 ? 10 : 0), `row ${r} NFE`);
  }
  // Rows that never jumped are untouched by the others' jumps.
  const plain = await generate(ring, s, { n, batch: 16, seed: 0, classes: labels, initNoise: z });
  for (let r = 1; r < n; r += 2)
    assert.deepEqual(res.samples.subarray(2 * r, 2 * r + 2), plain.samples.subarray(2 * r, 2 * r + 2));

  await assert.rejects(
    generate(ring, s, {
      n: 4,
      batch: 4,
      seed: 0,
      classes: 'random',
      hook: (ctx) => ({ jumpTo: new Int32Array(ctx.rows.length).fill(ctx.iteration + 3) }),
    }),
    /jumps go back/,
  );
});

test('hooks: per-row γ reproduces S_churn, and γ = 0 rows stay deterministic', async () => {
  const n = 12;
  const z = Float32Array.from({ length: n * 2 }, (_, i) => Math.cos(i));
  const s = resolveSettings(exact, { sampler: 'edm', churn: 20 });
  const viaChurn = await generate(exact, s, { n, batch: n, seed: 9, classes: 'none', initNoise: z });
  const gammaHook: StepHook = (ctx) => ({
    gamma: Float32Array.from(ctx.sigma, (t) => Math.min(20 / 18, Math.SQRT2 - 1) * (t > 0 ? 1 : 0)),
  });
  const viaHook = await generate(exact, resolveSettings(exact, { sampler: 'edm', churn: 0 }), {
    n,
    batch: n,
    seed: 9,
    classes: 'none',
    initNoise: z,
    hook: gammaHook,
  });
  // γ passes through a Float32Array in the hook, so t̂ agrees to float32 round-off only.
  assert.ok(
    maxAbsDiff(viaHook.samples, viaChurn.samples) < 1e-4,
    `γ hook vs churn ${maxAbsDiff(viaHook.samples, viaChurn.samples)}`,
  );
  const deterministic = await generate(exact, resolveSettings(exact, { sampler: 'heun' }), {
    n,
    batch: n,
    seed: 9,
    classes: 'none',
    initNoise: z,
  });
  assert.ok(maxAbsDiff(viaHook.samples, deterministic.samples) > 1e-2, 'churn changes the samples');
});

test('a draw too large to hold is refused naming n and the sample size, not "Invalid typed array length"', async () => {
  const s = resolveSettings(ring, {});
  await assert.rejects(generate(ring, s, { n: 2 ** 32, batch: 256, seed: 0 }), (e: Error) => {
    assert.ok(e instanceof RangeError);
    assert.match(e.message, /^n = 4294967296 samples of 2 values .*draw fewer/);
    return true;
  });
});

test('guidance that overflows is reported as overflow naming the guidance, not as a broken denoiser', async () => {
  // Past the schema's bound (|w| ≤ 100), as a caller of the engine could still ask: 1000 drives the
  // ring's samples to ~1e20 over a few steps (then the network returns NaN), 1e30 in one step, and
  // 1e38 overflows float32 in the guided combination itself.
  for (const w of [1000, 1e30, 1e38]) {
    const s = { ...resolveSettings(ring, { sampler: 'heun' }), guidance: w };
    await assert.rejects(generate(ring, s, { n: 64, batch: 64, seed: 0 }), (e: Error) => {
      assert.ok(e instanceof RangeError, `w = ${w}: ${e.name}: ${e.message}`);
      assert.match(e.message, new RegExp(`^guidance overflow: with guidance w = ${String(w).replace('+', '\\+')}`));
      assert.doesNotMatch(e.message, /check the export/, `w = ${w} blames the model: ${e.message}`);
      return true;
    });
  }
  // The same through a policy's per-row guidance (a hook), rows with w = 1 alongside.
  const s = resolveSettings(ring, { sampler: 'heun' });
  const hook: StepHook = (ctx) => ({ guidance: Float32Array.from(ctx.rows, (r) => (r % 2 ? 1e30 : 1)) });
  await assert.rejects(generate(ring, s, { n: 16, batch: 16, seed: 0, hook }), (e: Error) =>
    /^guidance overflow: with guidance w = 1e\+30 \(the largest in this batch\)/.test(e.message),
  );
  // The guided combination itself beyond float32: a denoiser whose classes differ by 1e3, at w = 1e36.
  const apart: Denoiser = {
    shape: [2],
    dim: 2,
    numClasses: 2,
    nullClass: 2,
    sigmaMin: 0.002,
    sigmaMax: 80,
    roundSigma: (v) => v,
    stats: { calls: 0, rows: 0, modelMs: 0 },
    denoise: async (x, sigma, labels) => Float32Array.from(x, (_, k) => (labels![Math.floor(k / 2)] === 2n ? 0 : 1e3)),
  };
  await assert.rejects(
    generate(apart, { ...resolveSettings(apart, {}), guidance: 1e36 }, { n: 4, batch: 4, seed: 0 }),
    (e: Error) =>
      /^guidance overflow: with guidance w = 1e\+36 the guided estimate .* is beyond float32/.test(e.message),
  );
  // Ordinary guidance still samples.
  const ok = await generate(ring, resolveSettings(ring, { guidance: 100 }), { n: 64, batch: 64, seed: 0 });
  assert.ok(ok.samples.every(Number.isFinite));
});

// Cancellation is counted, not timed: no denoiser evaluation may start once the signal is seen,
// however much work the settings ask for inside one step of the loop.
test('restart: a cancel inside its K restarts stops them; no denoiser call starts after the signal', async () => {
  const controller = new AbortController();
  let calls = 0;
  let afterAbort = 0;
  const counting: Denoiser = {
    shape: ring.shape,
    dim: ring.dim,
    numClasses: ring.numClasses,
    nullClass: ring.nullClass,
    sigmaMin: ring.sigmaMin,
    sigmaMax: ring.sigmaMax,
    roundSigma: (s) => ring.roundSigma(s),
    stats: ring.stats,
    denoise: async (x, sigma, labels, signal) => {
      if (controller.signal.aborted) afterAbort++;
      if (++calls === 100) controller.abort(); // well inside the restarts: the main ODE reaches t_min within ~30 calls
      return ring.denoise(x, sigma, labels, signal);
    },
  };
  // K = 100 restarts of 100 Heun steps: 20,000 evaluations inside a single step of the main loop.
  const s = resolveSettings(counting, { sampler: 'restart', restart: { tMin: 0.1, tMax: 2, k: 100, steps: 100 } });
  await assert.rejects(
    generate(counting, s, { n: 8, batch: 8, seed: 0, signal: controller.signal }),
    (e: Error) => e.name === 'SamplingCancelled',
  );
  assert.equal(calls, 100);
  assert.equal(afterAbort, 0, 'denoiser calls after the signal');
});

test('a cancel inside one large denoiser batch stops between its session runs', async () => {
  const small = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'), { maxBatch: 2 });
  try {
    const n = 64; // 32 session runs of 2 rows
    const after3 = {
      get aborted() {
        return small.stats.calls >= 3;
      },
    } as AbortSignal;
    await assert.rejects(
      small.denoise(new Float32Array(n * 2), new Float32Array(n).fill(1), new BigInt64Array(n), after3),
      (e: Error) => e.name === 'SamplingCancelled',
    );
    assert.equal(small.stats.calls, 3);
  } finally {
    await small.dispose();
  }
});

test('restart: progress moves during the K restarts, not only between the loop’s steps', async () => {
  const s = resolveSettings(ring, { sampler: 'restart', restart: { tMin: 0.1, tMax: 2, k: 10, steps: 10 } });
  const seen: number[] = [];
  await generate(ring, s, { n: 4, batch: 4, seed: 0, onProgress: (p) => p.horizon > 0 && seen.push(p.iteration) });
  const fractional = seen.filter((v) => !Number.isInteger(v));
  // 10 restarts × 10 Heun steps inside one step: reported in between, at most every 1% of that step.
  assert.ok(fractional.length >= 50 && fractional.length <= 100, `${fractional.length} reports inside the step`);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, 'progress never goes back');
});
