// Guidance intervals and sampler curves: the curve file's parser and interpolation, the settings
// that carry them, every sampler against a float64 reference of the same guided sampler (the
// interval and the curve tested at each evaluation's own σ), the network passes an interval saves,
// and the command line's flags and errors.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { generate, resolveSettings, scheduleFor } from '../src/main/engine/samplers/generate';
import { Stream } from '../src/main/engine/samplers/random';
import type { SamplerSettings, StepHook } from '../src/main/engine/samplers/types';
import { comparedIntervals, comparePolicy } from '../src/main/engine/apps/compare';
import { runTraining } from '../src/main/engine/apps/train';
import { parseAxes, runGrid } from '../src/main/engine/grid';
import { tinyConfig } from './helpers/config';
import { readNpy, writeNpy, npyFloat32 } from '../src/main/engine/io/npy';
import { curveAt, parseCurve, parseCurveText, type SamplerCurve } from '../src/shared/curve';
import { DEFAULT_SAMPLER_SETTINGS, describeSampler, parseSamplerSettings } from '../src/shared/sampler-settings';
import { infReplacer } from '../src/shared/json';
import { edmReference, maxAbsDiff, ScriptedNoise, type ReferenceOptions } from './helpers/edm-reference';
import { assertUsageError, cli, lastJson } from './helpers/cli';

const tmp = mkdtempSync(join(tmpdir(), 'ss-curves-'));
process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
after(() => rmSync(tmp, { recursive: true, force: true }));

let ring: Model; // gmm-ring8: imperfect, so guidance changes the samples
before(async () => {
  ring = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'));
});
after(async () => {
  await ring.dispose();
});

const GUIDANCE: SamplerCurve = {
  parameter: 'guidance',
  points: [
    { sigma: 80, value: 1 },
    { sigma: 5, value: 3 },
    { sigma: 0.3, value: 1.5 },
    { sigma: 0.01, value: 1 },
  ],
};
const CHURN: SamplerCurve = {
  parameter: 'churn',
  points: [
    { sigma: 50, value: 0 },
    { sigma: 10, value: 0.3 },
    { sigma: 0.05, value: 0.1 },
  ],
};

// ---- the curve file ----------------------------------------------------------------------------

test('an interval outside the σ range is named: w guides no evaluation', async () => {
  const sample = (interval: string) =>
    cli('sample', '--model', 'gmm-ring8', '--n', '4', '--guidance-interval', interval, '--out', join(tmp, 'idle.npy'));
  const r = await sample('2:100:200');
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /the guidance interval \(100, 200\] holds none of this sampler's 18 noise levels \(80 … 0\.002\): w = 2 guides no evaluation, and these are w = 1 samples/,
  );
  assert.doesNotMatch((await sample('2:1:200')).stderr, /holds none/);
});

test('a churn recipe used at another number of steps than it was exported from is named (γ is per step)', async () => {
  const file = join(tmp, 'gamma-recipe.json');
  writeFileSync(
    file,
    JSON.stringify({
      parameter: 'churn',
      points: [
        { sigma: 80, value: 0.2 },
        { sigma: 0.002, value: 0.1 },
      ],
      source: { steps: 18 },
    }),
  );
  const sample = (steps: string) =>
    cli(
      'sample',
      '--model',
      'gmm-ring8',
      '--n',
      '4',
      '--sampler',
      'edm',
      '--steps',
      steps,
      '--churn-curve',
      file,
      '--out',
      join(tmp, 'g.npy'),
    );
  const at10 = await sample('10');
  assert.equal(at10.code, 0, at10.stderr);
  assert.match(
    at10.stderr,
    /--churn-curve .*gamma-recipe\.json was exported from a sampler of 18 steps and is used at 10: .*give --steps 18/,
  );
  assert.doesNotMatch((await sample('18')).stderr, /was exported from/);
});

test('describeSampler names the guidance and the churn of a summary line', () => {
  const s = (o: Partial<SamplerSettings>): SamplerSettings => ({ ...DEFAULT_SAMPLER_SETTINGS, ...o });
  const curve = parseCurve(
    {
      parameter: 'churn',
      points: [
        { sigma: 1, value: 0.1 },
        { sigma: 2, value: 0.2 },
      ],
    },
    'c',
  );
  assert.equal(describeSampler(s({})), 'heun, 18 steps, w=1');
  assert.equal(
    describeSampler(
      s({ sampler: 'edm', churn: 40, sTmin: 0.05, sTmax: 50, sNoise: 1.003, guidance: 2, guidanceSigmaHi: 2.9 }),
    ),
    'edm, 18 steps, w=2 for σ in (0, 2.9], S_churn 40 for σ in [0.05, 50], S_noise 1.003',
  );
  assert.equal(
    describeSampler(s({ sampler: 'edm', churnCurve: curve })),
    'edm, 18 steps, w=1, γ(σ) from a curve of 2 points',
  );
});

describe('curve files', () => {
  test('parse: σ falling or rising, one point; the result holds the checked keys only', () => {
    assert.deepEqual(parseCurve(GUIDANCE, 'g.json'), GUIDANCE);
    const rising = { parameter: 'churn', points: [...CHURN.points].reverse() };
    assert.deepEqual(parseCurve(rising, 'c.json'), rising);
    assert.deepEqual(parseCurve({ parameter: 'guidance', points: [{ sigma: 1, value: 2 }] }, 'one.json').points, [
      { sigma: 1, value: 2 },
    ]);
    assert.deepEqual(parseCurveText(JSON.stringify(GUIDANCE), 'g.json'), GUIDANCE);
    // A byte-order mark (as Windows editors save) is not content; 1e400 (read as ∞) is not finite.
    assert.deepEqual(parseCurveText('\uFEFF' + JSON.stringify(GUIDANCE), 'g.json'), GUIDANCE);
    assert.throws(
      () => parseCurveText('{"parameter": "guidance", "points": [{"sigma": 1e400, "value": 2}]}', 'g.json'),
      {
        message: /g\.json: points\[0\]\.sigma must be a finite noise level σ > 0, got Infinity/,
      },
    );
  });

  test('interpolation: linear in log σ, exact at the points, constant beyond the ends, either order', () => {
    for (const p of GUIDANCE.points) assert.equal(curveAt(GUIDANCE, p.sigma), p.value);
    // The geometric mean of two neighbouring σ is halfway in log σ.
    assert.ok(Math.abs(curveAt(GUIDANCE, Math.sqrt(80 * 5)) - 2) < 1e-12);
    assert.ok(Math.abs(curveAt(GUIDANCE, Math.sqrt(5 * 0.3)) - 2.25) < 1e-12);
    // A quarter of the way from σ = 5 down to 0.3 in log σ.
    assert.ok(Math.abs(curveAt(GUIDANCE, 5 * (0.3 / 5) ** 0.25) - (3 - 0.25 * 1.5)) < 1e-12);
    assert.equal(curveAt(GUIDANCE, 1e4), 1);
    assert.equal(curveAt(GUIDANCE, 0.002), 1);
    assert.equal(curveAt(GUIDANCE, 0), 1);
    const reversed: SamplerCurve = { ...GUIDANCE, points: [...GUIDANCE.points].reverse() };
    for (const s of [100, 80, 33, 5, 1.2, 0.3, 0.05, 0.01, 0.001])
      assert.equal(curveAt(reversed, s), curveAt(GUIDANCE, s), `σ = ${s}`);
    assert.equal(curveAt({ parameter: 'guidance', points: [{ sigma: 2, value: 4 }] }, 0.1), 4);
  });

  const bad = (json: unknown, message: RegExp): void =>
    assert.throws(
      () => parseCurve(json, 'w.json'),
      (e: Error) => {
        assert.ok(e instanceof RangeError, String(e));
        assert.match(e.message, /^w\.json: /);
        assert.match(e.message, message);
        return true;
      },
    );
  const pts = (...p: [number, number][]) => p.map(([sigma, value]) => ({ sigma, value }));

  test('errors name the file, the point and what to do', () => {
    bad(
      { parameter: 'guidance', points: pts([80, 1], [1, 2], [5, 3]) },
      /the points are unsorted: points\[2\]\.sigma = 5 follows points\[1\]\.sigma = 1 after σ fell; list them by σ, strictly decreasing/,
    );
    bad({ parameter: 'guidance', points: pts([1, 1], [1, 2]) }, /points\[1\]\.sigma = 1 repeats points\[0\]\.sigma/);
    bad(
      { parameter: 'guidance', points: pts([80, 1], [1, -0.5]) },
      /points\[1\]\.value must be a guidance scale w in \[0, 100\], got -0\.5 \(.*a negative w is not allowed in a curve file\)/,
    );
    bad({ parameter: 'guidance', points: pts([80, 1], [1, 101]) }, /points\[1\]\.value must be .* got 101/);
    bad(
      { parameter: 'churn', points: pts([80, 0.5]) },
      /points\[0\]\.value must be a churn γ in \[0, √2−1 ≈ 0\.4142\]/,
    );
    bad(
      { parameter: 'guidance', points: [{ sigma: NaN, value: 1 }] },
      /points\[0\]\.sigma must be a finite noise level σ > 0, got NaN/,
    );
    bad(
      { parameter: 'guidance', points: [{ sigma: 1, value: null }] },
      /points\[0\]\.value must be a finite number, got null/,
    );
    bad({ parameter: 'guidance', points: pts([0, 1]) }, /points\[0\]\.sigma must be a noise level σ > 0, got 0/);
    bad({ parameter: 'guidance', points: pts([-1, 1]) }, /points\[0\]\.sigma must be a noise level σ > 0, got -1/);
    bad({ parameter: 'guidance', points: [] }, /"points" is an empty list; give at least one point/);
    bad({ parameter: 'guidance' }, /"points" must be a list of points .*, got nothing/);
    bad({ parameter: 'cfg', points: pts([1, 1]) }, /"parameter" must be one of guidance, churn .*, got "cfg"/);
    bad({ points: pts([1, 1]) }, /"parameter" must be one of guidance, churn .*, got nothing/);
    bad(
      { parameter: 'guidance', points: pts([1, 1]), sigmaMax: 80 },
      /unknown key "sigmaMax"; a curve file has "parameter" and "points" only/,
    );
    bad(
      { parameter: 'guidance', points: [{ sigma: 1, value: 1, w: 2 }] },
      /points\[0\] has unknown key "w"; a point has "sigma" and "value" only/,
    );
    bad([1, 2], /a curve file is a JSON object such as \{"parameter": "guidance"/);
    // Several problems at once are all said, the negative w beside a bad key.
    bad(
      { parameter: 'guidance', points: pts([80, -1]), x: 1 },
      /unknown key "x".*; points\[0\]\.value must be .* got -1/,
    );
    assert.throws(() => parseCurveText('{"parameter": "guidance", "points": [{"sigma": NaN, "value": 1}]}', 'w.json'), {
      message: /^w\.json: holds NaN, which is not JSON; every σ and value must be a finite number/,
    });
    assert.throws(() => parseCurveText('{"parameter": "guidance",', 'w.json'), {
      message: /^w\.json: is not JSON \(.*\); a curve file is a JSON object such as/,
    });
  });
});

// ---- the settings ------------------------------------------------------------------------------

describe('settings', () => {
  test('curves and the interval survive parseSamplerSettings; files saved before them read as their defaults', () => {
    const s: SamplerSettings = {
      ...structuredClone(DEFAULT_SAMPLER_SETTINGS),
      sampler: 'edm',
      guidanceCurve: GUIDANCE,
      churnCurve: CHURN,
    };
    assert.deepEqual(parseSamplerSettings(JSON.parse(JSON.stringify(s, infReplacer))), s);
    const interval = {
      ...structuredClone(DEFAULT_SAMPLER_SETTINGS),
      guidance: 2,
      guidanceSigmaLo: 0.28,
      guidanceSigmaHi: 5.4,
    };
    assert.deepEqual(parseSamplerSettings(interval), interval);
    const old = structuredClone(DEFAULT_SAMPLER_SETTINGS) as unknown as Record<string, unknown>;
    for (const k of ['guidanceSigmaLo', 'guidanceSigmaHi', 'guidanceCurve', 'churnCurve']) delete old[k];
    assert.deepEqual(parseSamplerSettings(old), DEFAULT_SAMPLER_SETTINGS);
  });

  test('cross-field checks name both settings by their flags', () => {
    const d = DEFAULT_SAMPLER_SETTINGS;
    assert.throws(() => parseSamplerSettings({ ...d, guidanceSigmaLo: 5, guidanceSigmaHi: 5 }), {
      message: /guidance-sigma-lo must be < guidance-sigma-hi, got 5 ≥ 5/,
    });
    assert.throws(() => parseSamplerSettings({ ...d, guidanceCurve: GUIDANCE, guidanceSigmaLo: 0.28 }), {
      message:
        /guidance-curve cannot be combined with guidance-sigma-lo 0\.28: the curve gives w at every σ; leave guidance-sigma-lo at 0/,
    });
    assert.throws(() => parseSamplerSettings({ ...d, guidanceCurve: GUIDANCE, guidance: 2 }), {
      message: /guidance-curve cannot be combined with guidance 2/,
    });
    assert.throws(() => parseSamplerSettings({ ...d, churnCurve: CHURN, churn: 40 }), {
      message: /churn-curve cannot be combined with churn 40/,
    });
    assert.throws(() => parseSamplerSettings({ ...d, guidanceCurve: CHURN }), {
      message: /guidance-curve: holds a churn curve where a guidance curve belongs/,
    });
    assert.throws(
      () => parseSamplerSettings({ ...d, guidanceCurve: { parameter: 'guidance', points: [{ sigma: 1, value: -2 }] } }),
      { message: /guidance-curve: points\[0\]\.value must be a guidance scale w in \[0, 100\], got -2/ },
    );
    assert.throws(() => resolveSettings(ring, { sampler: 'ddim', churnCurve: CHURN }), {
      message: /a churn curve applies to the euler, heun and edm samplers, not ddim/,
    });
  });

  test('the compared interval grid: the paper’s levels scaled by σ_data/0.5, less those that cannot matter', () => {
    assert.deepEqual(comparedIntervals({ sigmaMin: 0.002, sigmaMax: 80, sigmaData: 0.5 }), {
      lo: [0, 0.28, 1],
      hi: [2.9, 5.4, Infinity],
    });
    assert.deepEqual(comparedIntervals({ sigmaMin: 0.002, sigmaMax: 80, sigmaData: 1.43 }), {
      lo: [0, 0.801, 2.86],
      hi: [8.29, 15.4, Infinity],
    });
    assert.deepEqual(comparedIntervals({ sigmaMin: 0.5, sigmaMax: 10, sigmaData: 1.43 }), {
      lo: [0, 0.801, 2.86],
      hi: [8.29, Infinity],
    });
  });
});

// ---- the samplers against a float64 reference ----------------------------------------------------

const N_REF = 24;
// As in samplers.test.ts: float32 states through ~35 evaluations, against float64.
const F32_TOL = 5e-6;

/** The engine with `settings` against edmReference with `ref`, on the same noise: the worst relative deviation. */
async function deviation(settings: Partial<SamplerSettings>, ref: Partial<ReferenceOptions>): Promise<number> {
  const dim = 2;
  const noise = new ScriptedNoise(N_REF, dim, 40);
  const zs = new Stream(11, 0);
  const z = Float32Array.from({ length: N_REF * dim }, () => zs.normal());
  const labels = Int32Array.from({ length: N_REF }, (_, i) => i % 8);
  const s = resolveSettings(ring, { steps: 18, ...settings });
  const res = await generate(ring, s, { n: N_REF, batch: 10, seed: 0, classes: labels, initNoise: z, noise });
  const o: ReferenceOptions = {
    steps: 18,
    heun: s.sampler !== 'euler',
    churn: s.churn,
    sTmin: s.sTmin,
    sTmax: s.sTmax,
    sNoise: s.sNoise,
    w: 1,
    ...ref,
  };
  let worst = 0;
  for (let r = 0; r < N_REF; r++) {
    const x = await edmReference(ring, Float64Array.from(z.subarray(r * dim, (r + 1) * dim)), labels[r]!, o, (k) =>
      noise.block(r, k),
    );
    const scale = Math.max(1, ...x.map(Math.abs));
    worst = Math.max(worst, maxAbsDiff(res.samples.subarray(r * dim, (r + 1) * dim), x) / scale);
  }
  return worst;
}

const inInterval = (w: number, lo: number, hi: number) => (sigma: number) => (sigma > lo && sigma <= hi ? w : 1);

describe('samplers', () => {
  test('Heun with a guidance interval matches a float64 reference testing σ at each evaluation', async (t) => {
    const err = await deviation(
      { sampler: 'heun', guidance: 2.5, guidanceSigmaLo: 0.3, guidanceSigmaHi: 5 },
      { w: inInterval(2.5, 0.3, 5) },
    );
    t.diagnostic(`heun, w = 2.5 on (0.3, 5]: max relative deviation from float64 ${err.toExponential(2)}`);
    assert.ok(err < F32_TOL, `deviation ${err}`);
    // The comparison has teeth: the reference with the interval tested once per step, at t_i, for
    // both of Heun's evaluations (the authors' code's convention) is far away. With σ_hi = 5 between
    // t_8 = 3.26 and t_7 = 5.32 and σ_lo = 0.3 between t_12 = 0.296 and t_11 = 0.585, the two differ
    // at the corrections of steps 7 (at t_8: guided here) and 11 (at t_12: guided there).
    const perStep = await deviation(
      { sampler: 'heun', guidance: 2.5, guidanceSigmaLo: 0.3, guidanceSigmaHi: 5 },
      { w: (_sigma, tCur) => inInterval(2.5, 0.3, 5)(tCur) },
    );
    t.diagnostic(`against the per-step convention: ${perStep.toExponential(2)}`);
    assert.ok(perStep > 100 * F32_TOL, `${perStep}`);
  });

  test('Heun with a guidance curve and EDM with a churn curve match float64 references', async (t) => {
    const g = await deviation({ sampler: 'heun', guidanceCurve: GUIDANCE }, { w: (s) => curveAt(GUIDANCE, s) });
    t.diagnostic(`heun, guidance curve: ${g.toExponential(2)}`);
    assert.ok(g < F32_TOL, `guidance curve: deviation ${g}`);
    const c = await deviation(
      { sampler: 'edm', churnCurve: CHURN, sNoise: 1.003, guidance: 1.5 },
      { gammaAt: (s) => curveAt(CHURN, s), w: 1.5 },
    );
    t.diagnostic(`edm, churn curve, w = 1.5: ${c.toExponential(2)}`);
    assert.ok(c < F32_TOL, `churn curve: deviation ${c}`);
    const e = await deviation({ sampler: 'euler', guidanceCurve: GUIDANCE }, { w: (s) => curveAt(GUIDANCE, s) });
    assert.ok(e < F32_TOL, `euler, guidance curve: deviation ${e}`);
  });

  test('networkEvals: one pass per evaluation outside (σ_lo, σ_hi], two inside; NFE unchanged', async () => {
    const t = scheduleFor(ring, resolveSettings(ring, {}));
    // σ_hi = t_4 exactly (inside: the interval is closed above), σ_lo = t_12 exactly (outside).
    const s = resolveSettings(ring, { sampler: 'heun', guidance: 2, guidanceSigmaLo: t[12]!, guidanceSigmaHi: t[4]! });
    const res = await generate(ring, s, { n: 16, batch: 16, seed: 0, classes: 'random' });
    // Guided: the Euler evaluations at t_4 … t_11 (8) and the corrections at t_4 … t_11 (8): 35 + 16 passes.
    assert.ok(res.nfe.every((v) => v === 35));
    assert.deepEqual([...new Set(res.networkEvals)], [51]);
    // The null class is never guided; a curve at 1 everywhere guides nothing.
    const none = await generate(ring, s, { n: 4, batch: 4, seed: 0, classes: 'none' });
    assert.deepEqual([...new Set(none.networkEvals)], [35]);
    const flat: SamplerCurve = { parameter: 'guidance', points: [{ sigma: 1, value: 1 }] };
    const ones = await generate(ring, resolveSettings(ring, { guidanceCurve: flat }), { n: 4, batch: 4, seed: 0 });
    assert.deepEqual([...new Set(ones.networkEvals)], [35]);
  });

  test('DDIM η = 0 with an interval equals Euler with it; a hook’s w overrides the interval for its whole step', async () => {
    const n = 16;
    const z = Float32Array.from({ length: n * 2 }, (_, i) => Math.cos(3 * i + 1));
    const o = { n, batch: n, seed: 0, classes: Int32Array.from({ length: n }, (_, i) => i % 8), initNoise: z };
    const interval = { guidance: 2, guidanceSigmaLo: 0.3, guidanceSigmaHi: 5 };
    const euler = await generate(ring, resolveSettings(ring, { sampler: 'euler', ...interval }), o);
    const ddim = await generate(ring, resolveSettings(ring, { sampler: 'ddim', ...interval }), o);
    assert.ok(maxAbsDiff(euler.samples, ddim.samples) < 1e-5, `${maxAbsDiff(euler.samples, ddim.samples)}`);
    assert.deepEqual(euler.networkEvals, ddim.networkEvals);
    const plain = await generate(ring, resolveSettings(ring, { sampler: 'euler' }), o);
    assert.ok(maxAbsDiff(euler.samples, plain.samples) > 1e-2, 'the interval guides');

    const hook: StepHook = (ctx) => ({ guidance: new Float32Array(ctx.rows.length).fill(3) });
    const hooked = await generate(ring, resolveSettings(ring, { sampler: 'heun', ...interval }), { ...o, hook });
    const constant = await generate(ring, resolveSettings(ring, { sampler: 'heun', guidance: 3 }), o);
    assert.deepEqual(hooked.samples, constant.samples);
  });

  test('restart: the interval reaches the restarts’ inner Heun steps', async () => {
    const base = { sampler: 'restart' as const, restart: { tMin: 0.1, tMax: 2, k: 2, steps: 4 } };
    const o = { n: 4, batch: 4, seed: 0, classes: 3 };
    // Guidance only below σ = 2.5: the main ODE guides its levels there, and so does every restart.
    const inside = await generate(ring, resolveSettings(ring, { ...base, guidance: 2, guidanceSigmaHi: 2.5 }), o);
    const everywhere = await generate(ring, resolveSettings(ring, { ...base, guidance: 2 }), o);
    const nfe = inside.nfe[0]!;
    assert.equal(nfe, 35 + 2 * 2 * 4);
    // Evaluations above σ = 2.5: the main ODE's t_0 … t_8 (Euler) and t_1 … t_8 (corrections); restarts start at t_max = 2.
    assert.deepEqual([...new Set(inside.networkEvals)], [2 * nfe - 17]);
    assert.deepEqual([...new Set(everywhere.networkEvals)], [2 * nfe]);
  });
});

// ---- the command line --------------------------------------------------------------------------

describe('the command line', () => {
  const n = 16;
  const dim = 2;
  const z = Float32Array.from({ length: n * dim }, (_, i) => Math.sin(3 * i + 0.5));
  const noisePath = join(tmp, 'z.npy');
  const file = (name: string, text: string): string => {
    const p = join(tmp, name);
    writeFileSync(p, text);
    return p;
  };
  before(async () => {
    await writeNpy(noisePath, npyFloat32([n, dim], z));
  });

  /** `sample` with `flags` on class 3 from the fixed noise, against the float64 reference with `w`. */
  const sampleVsReference = async (
    flags: string[],
    w: ReferenceOptions['w'],
  ): Promise<{ err: number; net: number }> => {
    const out = join(tmp, `s${flags.join('').replace(/\W/g, '')}.npy`);
    const r = await cli(
      'sample',
      '--model',
      'gmm-ring8',
      '--init-noise',
      noisePath,
      '--class',
      '3',
      '--out',
      out,
      '--json',
      ...flags,
    );
    assert.equal(r.code, 0, r.stderr);
    const x = (await readNpy(out)).data as Float32Array;
    const o: ReferenceOptions = { steps: 18, heun: true, churn: 0, sTmin: 0, sTmax: Infinity, sNoise: 1, w };
    let err = 0;
    for (let i = 0; i < n; i++) {
      const ref = await edmReference(ring, Float64Array.from(z.subarray(i * dim, (i + 1) * dim)), 3, o, () => {
        throw new Error('no noise in Heun');
      });
      err = Math.max(err, maxAbsDiff(x.subarray(i * dim, (i + 1) * dim), ref) / Math.max(1, ...ref.map(Math.abs)));
    }
    return { err, net: (lastJson(r.stdout)['networkEvals'] as { mean: number }).mean };
  };

  test('sample --guidance-interval and --guidance-curve match the float64 guided Heun; the interval saves passes', async () => {
    const a = await sampleVsReference(['--guidance-interval', '2.5:0.3:5'], inInterval(2.5, 0.3, 5));
    assert.ok(a.err < F32_TOL, `--guidance-interval: ${a.err}`);
    // Guided: t_8 … t_11, Euler and correction each (8 of 35 evaluations).
    assert.equal(a.net, 43);
    const same = await sampleVsReference(
      ['--guidance', '2.5', '--guidance-sigma-lo', '0.3', '--guidance-sigma-hi', '5'],
      inInterval(2.5, 0.3, 5),
    );
    assert.equal(same.err, a.err, 'the sugar sets the three settings');
    const curve = file('g.json', JSON.stringify(GUIDANCE, null, 2));
    const c = await sampleVsReference(['--guidance-curve', curve], (s) => curveAt(GUIDANCE, s));
    assert.ok(c.err < F32_TOL, `--guidance-curve: ${c.err}`);
    // w = 1 at σ ≥ 80 and σ ≤ 0.01 only: the Euler evaluations at t_0, t_16, t_17 and the
    // corrections at t_16, t_17 run one pass, the other 30 evaluations two.
    assert.equal(c.net, 35 + 30);
  });

  test('eval --guidance-interval and --guidance-curve score the guided sampler they name, at its passes', async () => {
    const evalJson = async (...flags: string[]): Promise<Record<string, unknown>> => {
      const r = await cli(
        'eval',
        '--model',
        'gmm-ring8',
        '--n',
        '256',
        '--seed',
        '5',
        '--metrics',
        'fid',
        '--json',
        ...flags,
      );
      assert.equal(r.code, 0, r.stderr);
      return lastJson(r.stdout);
    };
    const fid = (j: Record<string, unknown>): number => (j['summary'] as { fid: number }).fid;
    const interval = await evalJson('--guidance-interval', '2.5:0.3:5');
    assert.deepEqual(
      [interval['networkEvalsPerSample'], (interval['settings'] as Record<string, unknown>)['guidanceSigmaLo']],
      [43, 0.3],
    );
    // The same score as the three settings it stands for (equal FIDs to the bit: the same samples), and
    // not that of w = 2.5 everywhere.
    const same = await evalJson('--guidance', '2.5', '--guidance-sigma-lo', '0.3', '--guidance-sigma-hi', '5');
    assert.equal(fid(same), fid(interval));
    const everywhere = await evalJson('--guidance', '2.5');
    assert.equal(everywhere['networkEvalsPerSample'], 70);
    assert.notEqual(fid(everywhere), fid(interval));
    const curve = await evalJson('--guidance-curve', file('eval-g.json', JSON.stringify(GUIDANCE)));
    assert.equal(curve['networkEvalsPerSample'], 35 + 30);
    assert.ok(Number.isFinite(fid(curve)) && fid(curve) !== fid(interval));
  });

  test('bad curve files and bad interval values are usage errors naming the flag, the file and the point', async () => {
    const sample = (...flags: string[]) =>
      cli('sample', '--model', 'gmm-ring8', '--n', '4', '--out', join(tmp, 'x.npy'), ...flags);
    const curve = (name: string, json: unknown): string =>
      file(name, typeof json === 'string' ? json : JSON.stringify(json));
    const cases: [string, unknown, RegExp][] = [
      [
        'unsorted.json',
        {
          parameter: 'guidance',
          points: [
            { sigma: 1, value: 1 },
            { sigma: 2, value: 1 },
            { sigma: 0.5, value: 1 },
          ],
        },
        /unsorted\.json: the points are unsorted: points\[2\]\.sigma = 0\.5 follows points\[1\]\.sigma = 2 after σ rose/,
      ],
      [
        'nan.json',
        '{"parameter": "guidance", "points": [{"sigma": NaN, "value": 1}]}',
        /nan\.json: holds NaN, which is not JSON/,
      ],
      [
        'null.json',
        { parameter: 'guidance', points: [{ sigma: 1, value: null }] },
        /null\.json: points\[0\]\.value must be a finite number, got null/,
      ],
      [
        'negative.json',
        { parameter: 'guidance', points: [{ sigma: 1, value: -1 }] },
        /negative\.json: points\[0\]\.value must be a guidance scale w in \[0, 100\], got -1 .*negative w is not allowed/,
      ],
      ['empty.json', { parameter: 'guidance', points: [] }, /empty\.json: "points" is an empty list/],
      [
        'key.json',
        { parameter: 'guidance', points: [{ sigma: 1, value: 1 }], extra: true },
        /key\.json: unknown key "extra"/,
      ],
      ['text.json', 'w = 2 below sigma 5', /text\.json: is not JSON/],
      ['churn.json', CHURN, /--guidance-curve .*churn\.json: holds a churn curve .*give it to --churn-curve/],
    ];
    for (const [name, json, message] of cases) {
      const r = await sample('--guidance-curve', curve(name, json));
      assertUsageError(r, message);
      assert.match(r.stderr, /--guidance-curve /);
    }
    assertUsageError(
      await sample('--guidance-curve', join(tmp, 'nowhere.json')),
      /--guidance-curve .*nowhere\.json: no such file/,
    );
    assertUsageError(await sample('--churn-curve', tmp), /--churn-curve .* is a directory/);
    const g = curve('ok.json', GUIDANCE);
    assertUsageError(
      await sample('--guidance-curve', g, '--guidance-interval', '2:0.3:5'),
      /--guidance-curve cannot be combined with --guidance-interval/,
    );
    assertUsageError(
      await sample('--guidance-curve', g, '--guidance', '2'),
      /--guidance-curve cannot be combined with --guidance:/,
    );
    assertUsageError(
      await sample('--churn-curve', curve('c.json', CHURN), '--churn', '10'),
      /--churn-curve cannot be combined with --churn:/,
    );
    assertUsageError(
      await sample('--churn-curve', curve('c.json', CHURN), '--sampler', 'ddim'),
      /a churn curve applies to the euler, heun and edm samplers, not ddim/,
    );
    assertUsageError(
      await sample('--guidance-interval', '2:0.3'),
      /--guidance-interval takes W:σ_lo:σ_hi .* got "2:0\.3"/,
    );
    assertUsageError(
      await sample('--guidance-interval', '2:x:5'),
      /--guidance-interval 2:x:5: σ_lo must be a number in \[0, 10000\], got "x"/,
    );
    assertUsageError(await sample('--guidance-interval', '2:5:1'), /--guidance-interval 2:5:1: σ_lo must be < σ_hi/);
    assertUsageError(
      await sample('--guidance-interval', '2:0.3:5', '--guidance-sigma-hi', '3'),
      /--guidance-interval cannot be combined with --guidance-sigma-hi/,
    );
    assertUsageError(
      await sample('--guidance-sigma-lo', '3', '--guidance-sigma-hi', '1'),
      /--guidance-sigma-lo must be < --guidance-sigma-hi, got 3 ≥ 1/,
    );
    assertUsageError(
      await cli('sample', '--model', 'swissroll', '--n', '4', '--out', join(tmp, 'x.npy'), '--guidance-curve', g),
      /a guidance curve needs a class-conditional model/,
    );
  });
});

// ---- the comparison ----------------------------------------------------------------------------

test('Compare with a grid result over the interval: its best constant and its best interval as rows', async () => {
  const runDir = join(tmp, 'run');
  const { learner } = await runTraining({ model: ring, config: tinyConfig({ iterations: 1 }), runDir });
  await learner.dispose();
  const gridDir = join(tmp, 'grid');
  const { results } = await runGrid({
    model: ring,
    outDir: gridDir,
    config: {
      model: { name: ring.name, dir: ring.dir },
      base: resolveSettings(ring, {}),
      axes: parseAxes(['guidance=1.5,2', 'guidance-sigma-lo=0,0.3', 'guidance-sigma-hi=5,inf']),
      n: 200,
      seed: 0,
      classes: 'random',
      metrics: ['fid'],
      metric: 'fid',
    },
  });
  const cmp = await comparePolicy(ring, runDir, { n: 200, seed: 3, metrics: ['fid'], gridResult: gridDir });
  const row = (kind: string) => cmp.rows.find((r) => r.kind === kind);
  const constant = results.cells.filter(
    (c) => c.settings.guidanceSigmaLo === 0 && c.settings.guidanceSigmaHi === Infinity,
  );
  const bestConstant = constant.reduce((a, b) => (b.summary['fid']! < a.summary['fid']! ? b : a));
  assert.match(row('grid-best')?.name ?? '', /^best constant \(grid\) guidance=[\d.]+$/);
  const best = results.best!.settings;
  assert.equal(
    row('grid-best-interval')?.name,
    `best interval (grid) w = ${best.guidance}, σ ∈ (${best.guidanceSigmaLo}, ${best.guidanceSigmaHi === Infinity ? 'inf' : best.guidanceSigmaHi}]`,
  );
  // Each row samples its cell's settings: the passes tell the interval from the constant.
  const passes = (s: SamplerSettings) => {
    const t = scheduleFor(ring, resolveSettings(ring, {}));
    let guided = 0;
    for (let i = 0; i < 18; i++) {
      const inside = (sigma: number) => sigma > s.guidanceSigmaLo && sigma <= s.guidanceSigmaHi;
      guided += Number(inside(t[i]!)) + Number(i < 17 && inside(t[i + 1]!));
    }
    return 35 + guided;
  };
  assert.equal(row('grid-best')!.networkEvals, passes(bestConstant.settings));
  assert.equal(row('grid-best-interval')!.networkEvals, passes(best));
});
