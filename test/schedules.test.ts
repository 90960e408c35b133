// Step schedules (issue 16): the named schedules against their formulas written out here in float64,
// schedule files (shared/sigmas.ts) and their errors, a file equal to EDM's schedule sampling exactly
// as --schedule edm, and every sampler on every schedule.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Model } from '../src/main/engine/models/model';
import { VpTable } from '../src/main/engine/models/vp';
import { resourcesDir } from '../src/main/engine/models/registry';
import { generate, resolveSettings, scheduleFor } from '../src/main/engine/samplers/generate';
import { karrasSchedule, namedSchedule } from '../src/main/engine/samplers/schedule';
import { parseSamplerSettings, SAMPLERS, SCHEDULES, describeSampler } from '../src/shared/sampler-settings';
import { parseSigmas, parseSigmasText, sigmasProblems, sigmasText } from '../src/shared/sigmas';
import { samplerSettingsFromFlags } from '../src/cli/sampler-flags';

let ring: Model; // gmm-ring8: σ in [0.002, 80]

before(async () => {
  ring = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'));
});
after(async () => {
  await ring.dispose();
});

const R = { steps: 10, sigmaMin: 0.002, sigmaMax: 80, rho: 7 };
const close = (a: ArrayLike<number>, b: ArrayLike<number>, rel = 1e-12): void => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++)
    assert.ok(Math.abs(a[i]! - b[i]!) <= rel * Math.max(1, Math.abs(b[i]!)), `level ${i}: ${a[i]} vs ${b[i]}`);
};
/** The reference: N levels evenly spaced in u between u(σ_max) and u(σ_min), mapped back, then 0. */
const reference = (u: (s: number) => number, sigma: (u: number) => number, { steps: N, sigmaMin, sigmaMax } = R) => [
  ...Array.from({ length: N }, (_, i) => sigma(u(sigmaMax) + (i / (N - 1)) * (u(sigmaMin) - u(sigmaMax)))),
  0,
];

test('the named schedules are their formulas: EDM ρ, uniform in σ, log-linear, cosine (s = 0.008), KL-optimal (arctan)', () => {
  // EDM Eq. 5 as NVlabs/edm writes it: (σ_max^{1/ρ} + i/(N−1)(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ.
  close(
    namedSchedule('edm', R),
    reference(
      (s) => s ** (1 / 7),
      (u) => u ** 7,
    ),
  );
  close(namedSchedule('edm', R), karrasSchedule(R));
  close(namedSchedule('uniform', R), [
    80,
    ...Array.from({ length: 8 }, (_, i) => 80 - ((i + 1) * (80 - 0.002)) / 9),
    0.002,
    0,
  ]);
  // Geometric: a constant ratio between neighbours.
  const ll = namedSchedule('log-linear', R);
  for (let i = 1; i < 10; i++) assert.ok(Math.abs(ll[i]! / ll[i - 1]! - (0.002 / 80) ** (1 / 9)) < 1e-12);
  // Cosine (Nichol & Dhariwal 2021): ᾱ(u) = f(u)/f(0), f(u) = cos²(π/2 (u+s)/(1+s)); σ = √(1/ᾱ − 1),
  // so u(σ) solves f(u) = f(0)/(1+σ²). Written here by bisection, not by the closed form the code uses.
  const f = (u: number) => Math.cos(((u + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  const sigmaOfU = (u: number) => Math.sqrt(f(0) / f(u) - 1);
  const uOfSigma = (s: number) => {
    let [lo, hi] = [0, 1];
    for (let k = 0; k < 200; k++) {
      const mid = (lo + hi) / 2;
      if (sigmaOfU(mid) < s) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  };
  close(namedSchedule('cosine', R), reference(uOfSigma, sigmaOfU), 1e-9);
  // KL-optimal (Sabour et al. 2024; ComfyUI's kl_optimal_scheduler): tan of evenly spaced arctan σ.
  const kl = Array.from({ length: 10 }, (_, i) => Math.tan((i / 9) * Math.atan(0.002) + (1 - i / 9) * Math.atan(80)));
  close(namedSchedule('kl-optimal', R), [...kl, 0]);
  // Every schedule: N + 1 levels, from σ_max down to σ_min, strictly decreasing, then 0.
  for (const name of SCHEDULES) {
    const t = namedSchedule(name, R);
    assert.equal(t.length, 11, name);
    close([t[0]!, t[9]!, t[10]!], [80, 0.002, 0], 1e-12);
    for (let i = 1; i < 11; i++) assert.ok(t[i]! < t[i - 1]!, `${name} level ${i}`);
  }
});

test("uniform on a discrete-time (VP) model is DDIM's uniform skip over its own timesteps", () => {
  const vp = new VpTable({ schedule: 'linear', betaStart: 1e-4, betaEnd: 0.02, timesteps: 1000 });
  const s = { steps: 10, sigmaMin: vp.sigmaMin, sigmaMax: vp.sigmaMax, rho: 7 };
  const t = namedSchedule('uniform', s, (x) => vp.roundSigma(x), vp);
  const expected = Array.from({ length: 10 }, (_, i) => vp.sigmas[Math.round(999 - (i * 999) / 9)]!);
  assert.deepEqual(Array.from(t), [...expected, 0]);
  // Without the model's levels, uniform is evenly in σ (σ-time models, EDM's σ(t) = t).
  assert.ok(Math.abs(namedSchedule('uniform', s)[1]! - (s.sigmaMax - (s.sigmaMax - s.sigmaMin) / 9)) < 1e-9);
});

test('schedule files: a plain list ending in 0; every bad file is an error naming the entry', () => {
  assert.deepEqual(parseSigmasText('\uFEFF[80, 2.5, 0.002, 0]', 'f.json'), [80, 2.5, 0.002, 0]);
  assert.deepEqual(parseSigmasText(sigmasText([80, 1 / 3, 0]), 'f.json'), [80, 1 / 3, 0]);
  const cases: [string, RegExp][] = [
    ['[]', /the list is empty/],
    ['[80]', /one entry \(80\); give at least one noise level and the final 0/],
    ['[80, 10, 10, 0]', /strictly decreasing: entry 2 \(10\) repeats entry 1 \(10\)/],
    ['[80, 2, 10, 0]', /strictly decreasing: entry 2 \(10\) is above entry 1 \(2\)/],
    ['[80, -1, 0]', /entry 1 must be a noise level σ > 0 \(only the last entry is 0\), got -1$/],
    ['[80, 2, 0.5]', /the last entry must be 0 .* got 0\.5; append 0/],
    ['[80, "2", 0]', /entry 1 must be a finite number .* got "2"/],
    ['[80, null, 0]', /entry 1 must be a finite number .* got null/],
    ['[80, NaN, 0]', /holds NaN, which is not JSON/],
    ['[Infinity, 1, 0]', /holds Infinity, which is not JSON/],
    ['[1e400, 1, 0]', /entry 0 must be a finite number/],
    ['[20000, 1, 0]', /entry 0 is σ = 20000, above any model's range/],
    ['{"sigmas": [80, 0]}', /a schedule file is a JSON list .* got an object/],
    ['80, 0', /is not JSON/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseSigmasText(text, 'f.json'), re, text);
  assert.throws(() => parseSigmasText('[80, 2, 10, 0]', 'mine.json'), /^RangeError: mine\.json: /);
  assert.deepEqual(sigmasProblems(Array.from({ length: 1002 }, (_, i) => 1001 - i)).length, 1);
  assert.equal(parseSigmas([1, 0], 'x').length, 2);
});

test("a schedule file equal to EDM's schedule samples exactly as --schedule edm, on every sampler", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigmas-'));
  for (const sampler of SAMPLERS) {
    const churn = sampler === 'edm' ? { churn: 5, sTmin: 0.05, sTmax: 50 } : {};
    const named = resolveSettings(ring, { sampler, steps: 7, ...churn });
    const file = join(dir, `${sampler}.json`);
    writeFileSync(file, sigmasText(scheduleFor(ring, named)));
    const fromFile = samplerSettingsFromFlags(ring, {
      sampler,
      sigmas: file,
      ...(sampler === 'edm' ? { churn: '5', 's-tmin': '0.05', 's-tmax': '50' } : {}),
    });
    assert.equal(fromFile.steps, 7, 'the file sets the steps');
    assert.match(describeSampler(fromFile), /7 steps \(from a σ list\)/);
    const opts = { n: 40, batch: 16, seed: 3, classes: 'random' as const };
    const a = await generate(ring, named, opts);
    const b = await generate(ring, fromFile, opts);
    assert.deepEqual(b.schedule, a.schedule, sampler);
    assert.deepEqual(b.samples, a.samples, `${sampler}: same samples, bit for bit`);
    assert.deepEqual(b.nfe, a.nfe);
  }
});

test('every sampler runs on every schedule, with the NFE of its step count', async () => {
  for (const schedule of SCHEDULES)
    for (const sampler of SAMPLERS) {
      const s = resolveSettings(ring, { sampler, schedule, steps: 5, ...(sampler === 'ddim' ? { eta: 0.5 } : {}) });
      const r = await generate(ring, s, { n: 8, batch: 8, seed: 1 });
      assert.ok(r.samples.every(Number.isFinite), `${schedule} × ${sampler}`);
      const expected = { euler: 5, heun: 9, edm: 9, ddim: 5, restart: 9 + 2 * 2 * 4, 'euler-maruyama': 5 }[sampler];
      assert.equal(r.nfe[0], expected, `${schedule} × ${sampler} NFE`);
      assert.deepEqual(Array.from(r.schedule), Array.from(namedSchedule(schedule, { ...R, steps: 5 })));
    }
});

test('schedule settings: checked across fields, named by flag, and missing from older saved files', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [
      { schedule: 'cosine', rho: '3' },
      /--rho must be 7 with schedule cosine \(ρ shapes the edm schedule only\), got 3/,
    ],
    [{ schedule: 'karras' }, /--schedule must be one of edm, uniform, log-linear, cosine, kl-optimal, got "karras"/],
  ];
  for (const [flags, re] of bad) assert.throws(() => samplerSettingsFromFlags(ring, flags), re);
  const dir = mkdtempSync(join(tmpdir(), 'sigmas-'));
  const file = join(dir, 's.json');
  writeFileSync(file, '[80, 1, 0.002, 0]');
  for (const [flag, value] of [
    ['steps', '3'],
    ['schedule', 'cosine'],
    ['rho', '5'],
    ['sigma-min', '0.01'],
    ['sigma-max', '20'],
  ])
    assert.throws(
      () => samplerSettingsFromFlags(ring, { sigmas: file, [flag]: value }),
      new RegExp(`--sigmas cannot be combined with --${flag}: the list gives every noise level`),
    );
  writeFileSync(file, '[100, 1, 0]');
  assert.throws(
    () => samplerSettingsFromFlags(ring, { sigmas: file }),
    /sigmas entry 0 is σ = 100, above the model's σ_max 80/,
  );
  writeFileSync(file, '[80, 1, 0.001, 0]');
  assert.throws(
    () => samplerSettingsFromFlags(ring, { sigmas: file }),
    /sigmas entry 2 is σ = 0.001, below the model's σ_min 0.002/,
  );
  assert.throws(
    () => samplerSettingsFromFlags(ring, { sigmas: join(dir, 'none.json') }),
    /--sigmas .*none\.json: no such file/,
  );
  // Saved settings: the list must agree with the steps and ends it would otherwise set.
  const base = resolveSettings(ring, {});
  const saved = (o: Record<string, unknown>) => parseSamplerSettings({ ...base, ...o });
  assert.throws(() => saved({ sigmas: [80, 1, 0.002, 0] }), /steps must be 3 with this sigmas list .* got 18/);
  assert.equal(saved({ sigmas: [80, 1, 0.002, 0], steps: 3, sigmaMin: 0.002, sigmaMax: 80 }).sigmas!.length, 4);
  assert.throws(
    () => saved({ sigmas: [80, 1, 0.01, 0], steps: 3, sigmaMin: 0.002 }),
    /sigmas cannot be combined with sigma-min 0.002/,
  );
  assert.throws(() => saved({ sigmas: [80, 1, 1, 0], steps: 3 }), /sigmas: the levels must be strictly decreasing/);
  // Saved before schedules existed: no schedule, no sigmas — EDM's ρ-schedule, as it sampled then.
  const { schedule: _s, sigmas: _l, ...old } = base;
  const read = parseSamplerSettings(old);
  assert.deepEqual([read.schedule, read.sigmas], ['edm', null]);
});

test('the exact-law reference: FID statistics of 100,000 draws from the benchmark mixture; the data is a sample of that law', async () => {
  const { exactReferenceFor, referenceFor } = await import('../src/main/engine/metrics/evaluate');
  const { extractorForModel } = await import('../src/main/engine/metrics/features');
  const { fid } = await import('../src/main/engine/metrics/fid');
  const exact = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8-exact'));
  const extractor = await extractorForModel(exact);
  try {
    const law = await exactReferenceFor(exact, extractor);
    const data = await referenceFor(exact, extractor);
    assert.deepEqual(law.features.features, data.features.features, 'precision and recall stay against the data');
    // 8,000 data points drawn from the law itself: a small FID to it, set by their sampling noise alone.
    const d = (await fid({ real: law.stats, fake: data.stats })).fid;
    assert.ok(d < 0.01, `FID(data, law) = ${d}`);
    // A law shifted off the ring is far: the statistics are the law's, not a copy of the data's.
    assert.notDeepEqual(law.stats.mu, data.stats.mu);
  } finally {
    await extractor.dispose();
    await exact.dispose();
  }
  const fm = await Model.load(join(resourcesDir(), 'models', 'fashion-mnist'));
  const fx = await extractorForModel(fm);
  try {
    await assert.rejects(exactReferenceFor(fm, fx), /does not give its exact law .* use "reference": "data"/);
  } finally {
    await fx.dispose();
    await fm.dispose();
  }
});
