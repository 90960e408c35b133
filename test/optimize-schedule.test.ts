// optimize-schedule (issue 16): on the exact 2-D model, the search's cached-prefix distance equals
// a plain run of the schedule it reports, the schedule is a valid file that samples, it is no
// worse than the best preset on its own objective, and it costs less than a 3-value ρ grid.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { generate, resolveSettings } from '../src/main/engine/samplers/generate';
import { optimizeSchedule, stepsForNfe } from '../src/main/engine/schedules/optimize';
import { parseSigmasText } from '../src/shared/sigmas';

const run = promisify(execFile);
let exact: Model; // gmm-ring8-exact: the exact denoiser of the mixture, so discretisation is the only error

before(async () => {
  exact = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8-exact'));
});
after(async () => {
  await exact.dispose();
});

const OPTS = { rows: 48, holdout: 400, seed: 5, referenceSteps: 40, sweeps: 4, patience: 2, batch: 256 };

test('the search: a valid schedule, its distance reproduced by plain sampling, no worse than the best preset, cheaper than a ρ grid', async () => {
  for (const [sampler, nfe] of [
    ['euler', 5],
    ['heun', 7],
  ] as const) {
    const r = await optimizeSchedule(exact, { base: { sampler }, nfe, ...OPTS });
    assert.equal(r.steps, stepsForNfe(sampler, nfe));
    assert.equal(r.nfe, nfe);
    // A schedule file: N levels from σ_max, strictly decreasing, within the model's range, then 0.
    const s = parseSigmasText(JSON.stringify(r.sigmas), 'report');
    assert.equal(s.length, r.steps + 1);
    assert.equal(s[0], exact.sigmaMax);
    assert.ok(s[r.steps - 1]! >= exact.sigmaMin);
    // Its distance, from cached prefixes in the search, equals sampling it plainly on the same rows.
    const settings = resolveSettings(exact, { sampler, steps: r.steps, sigmas: r.sigmas });
    const ref = resolveSettings(exact, { sampler: 'heun', steps: OPTS.referenceSteps });
    const a = await generate(exact, settings, { n: OPTS.rows, batch: 256, seed: OPTS.seed });
    const b = await generate(exact, ref, { n: OPTS.rows, batch: 256, seed: OPTS.seed });
    let d = 0;
    for (let k = 0; k < a.samples.length; k++) d += (a.samples[k]! - b.samples[k]!) ** 2;
    d /= a.samples.length;
    assert.ok(Math.abs(d - r.best.distance) <= 1e-6 * Math.max(1e-3, d), `${sampler}: ${d} vs ${r.best.distance}`);
    assert.deepEqual(a.nfe[0], nfe);
    // Never worse than where it started on its objective; the start is the best preset.
    const bestPreset = Math.min(...r.presets.map((p) => p.distance));
    assert.equal(r.start.distance, bestPreset);
    for (const sw of r.sweeps) assert.ok(sw.distance <= bestPreset + 1e-15, `${sampler} sweep ${sw.sweep}`);
    assert.ok(r.sweeps.length >= 1 && r.sweeps.length <= OPTS.sweeps);
    // The held-out FID kept is the lowest seen.
    assert.equal(r.best.holdoutFid, Math.min(r.start.holdoutFid, ...r.sweeps.map((sw) => sw.holdoutFid)));
    // What it cost, counted by phase, against 3 ρ values × 2,000 samples × NFE.
    const c = r.cost;
    assert.equal(c.reference, OPTS.rows * 79);
    assert.equal(c.presets, 5 * OPTS.rows * nfe);
    assert.equal(c.total, c.reference + c.presets + c.search + c.holdout);
    assert.equal(c.rhoGrid.evaluations, 3 * 2000 * nfe);
    assert.equal(c.budget, c.rhoGrid.evaluations, 'by default the search may spend what the ρ grid costs');
    assert.ok(c.total <= c.budget, `${sampler}: ${c.total} > ${c.budget}`);
  }
});

test('the evaluation budget: the search stops before a sweep that could pass it, keeping the best so far', async () => {
  const opts = { ...OPTS, maxEvaluations: 48 * 79 + 5 * 48 * 5 + 400 * 5 + 100 };
  const r = await optimizeSchedule(exact, { base: { sampler: 'euler' }, nfe: 5, ...opts });
  assert.equal(r.stopped, 'budget');
  assert.deepEqual(r.sweeps, []);
  assert.deepEqual(r.sigmas, r.presets.find((p) => p.schedule === r.start.preset)!.sigmas, 'the best preset');
  assert.ok(r.cost.total <= opts.maxEvaluations);
});

test('budgets and samplers the search refuses, with what to give instead', async () => {
  assert.throws(() => stepsForNfe('heun', 10), /heun takes 2N − 1 evaluations .* give nfe 9 or 11/);
  assert.throws(() => stepsForNfe('euler', 0), /nfe must be a whole number ≥ 1/);
  await assert.rejects(optimizeSchedule(exact, { base: { sampler: 'euler' }, nfe: 1, ...OPTS }), /no knot to move/);
  await assert.rejects(
    optimizeSchedule(exact, { base: { sampler: 'ddim', eta: 0.5 }, nfe: 5, ...OPTS }),
    /deterministic sampler: ddim with eta 0/,
  );
});

test('optimize-schedule on the command line: the file and its report, refusals naming the flag', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optsched-'));
  const out = join(dir, 's.json');
  const cli = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'optimize-schedule', ...args], {
      cwd: process.cwd(),
    });
  const base = ['--model', 'gmm-ring8-exact', '--nfe', '5', '--sampler', 'euler', '--n', '32', '--holdout', '300'];
  const { stdout } = await cli([...base, '--sweeps', '2', '--out', out, '--json']);
  const res = JSON.parse(stdout.trim().split('\n').pop()!) as { sigmas: number[]; report: string };
  assert.deepEqual(parseSigmasText(readFileSync(out, 'utf8'), out), res.sigmas);
  assert.deepEqual((JSON.parse(readFileSync(res.report, 'utf8')) as { sigmas: number[] }).sigmas, res.sigmas);
  // The file samples as it is.
  const { stdout: s2 } = await run(process.execPath, [
    '--import',
    'tsx',
    'src/cli/index.ts',
    'sample',
    '--model',
    'gmm-ring8-exact',
    '--sampler',
    'euler',
    '--sigmas',
    out,
    '--out',
    join(dir, 'x.npy'),
    '--json',
  ]);
  assert.equal((JSON.parse(s2.trim().split('\n').pop()!) as { nfe: { mean: number } }).nfe.mean, 5);
  const refused = async (args: string[], re: RegExp) => {
    await assert.rejects(cli(args), (e: { stderr: string }) => {
      assert.match(e.stderr, re);
      return true;
    });
  };
  writeFileSync(join(dir, 'keep.json'), '[80, 0]');
  await refused([...base, '--out', join(dir, 'keep.json')], /keep\.json exists; give another --out, or --force/);
  await refused(
    [...base, '--out', join(dir, 'a.json'), '--steps', '4'],
    /--steps cannot be given to optimize-schedule/,
  );
  await refused([...base, '--out', join(dir, 'a.json'), '--schedule', 'cosine'], /--schedule cannot be given/);
  await refused(
    ['--model', 'gmm-ring8-exact', '--nfe', '5', '--sampler', 'edm', '--out', join(dir, 'a.json')],
    /--sampler edm: the search needs a deterministic sampler, one of euler, heun, ddim/,
  );
  await refused(
    ['--model', 'gmm-ring8-exact', '--nfe', '6', '--out', join(dir, 'a.json')],
    /heun takes 2N − 1 evaluations/,
  );
  await refused(['--model', 'gmm-ring8-exact', '--out', join(dir, 'a.json')], /needs --nfe N/);
  assert.equal(
    readFileSync(join(dir, 'keep.json'), 'utf8'),
    '[80, 0]',
    'a refused run leaves the file it would have replaced',
  );
});
