// Grid search: axis parsing, the cross product, the best constant guidance on the bundled ring
// models (imperfect: w > 1 wins; exact: w = 1 wins), the cost in denoiser evaluations, resuming
// after a kill, refusing a different saved grid, and the `grid` command end to end.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  AXIS_NAMES,
  applyAxisValues,
  crossProduct,
  describeValues,
  identicalCells,
  resolveCells,
  GridError,
  loadGridResults,
  MAX_GRID_CELLS,
  parseAxes,
  parseAxis,
  runGrid,
  type GridCell,
  type GridConfig,
  type GridResults,
} from '../src/main/engine/grid';
import { Model } from '../src/main/engine/models/model';
import { resolveModelDir } from '../src/main/engine/models/registry';
import { resolveSettings } from '../src/main/engine/samplers/generate';
import { SamplingCancelled } from '../src/main/engine/samplers/loop';
import { DEFAULT_SAMPLER_SETTINGS } from '../src/main/engine/samplers/types';
import { assertUsageError, cli, lastJson, spawnCli } from './helpers/cli';
import { xyLayout } from '../src/main/engine/grid/xy';
import { pictureInfo } from '../src/shared/grid-layout';
import { pngText } from '../src/shared/png-text';

const tmp = mkdtempSync(join(tmpdir(), 'ss-grid-'));
process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
after(() => rmSync(tmp, { recursive: true, force: true }));

let dirCount = 0;
const newDir = (): string => join(tmp, `g${dirCount++}`);

/** Asserts `fn` throws a GridError whose message matches. */
function throwsGrid(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof GridError, `not a GridError: ${String(e)}`);
    assert.match(e.message, message);
    return true;
  });
}

describe('axes', () => {
  test('an inclusive range gives clean values, robust to float round-off', () => {
    assert.deepEqual(parseAxis('guidance=1:3:0.25'), {
      name: 'guidance',
      values: [1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3],
    });
    assert.deepEqual(parseAxis('guidance=0.1:0.7:0.1').values, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
    assert.deepEqual(parseAxis('churn=0:40:10').values, [0, 10, 20, 30, 40]);
    assert.deepEqual(parseAxis('guidance=-0.3:0.3:0.15').values, [-0.3, -0.15, 0, 0.15, 0.3]);
    assert.deepEqual(parseAxis('s-noise=1:1.01:0.005').values, [1, 1.005, 1.01]);
    assert.deepEqual(parseAxis('s-tmin=1e-3:3e-3:1e-3').values, [0.001, 0.002, 0.003]);
    // The end need not be on the grid; a single value is a range too.
    assert.deepEqual(parseAxis('steps=8:20:5').values, [8, 13, 18]);
    assert.deepEqual(parseAxis('rho=7:7:1').values, [7]);
    for (const v of parseAxis('guidance=0:5:0.1').values)
      assert.equal(String(v).length <= 3, true, `unclean value ${v}`);
  });

  test('lists, inf for s-tmax, integer axes', () => {
    assert.deepEqual(parseAxis('churn=0,10,20,40'), { name: 'churn', values: [0, 10, 20, 40] });
    assert.deepEqual(parseAxis(' steps = 8, 12 ,18').values, [8, 12, 18]);
    assert.deepEqual(parseAxis('s-tmax=1,50,inf').values, [1, 50, Infinity]);
    assert.deepEqual(parseAxis('restart-k=0,1,2').values, [0, 1, 2]);
    assert.deepEqual(parseAxis('restart-steps=2:6:2').values, [2, 4, 6]);
    assert.equal(AXIS_NAMES.length, 16);
    for (const name of AXIS_NAMES) assert.equal(parseAxis(`${name}=1`).name, name);
  });

  test('bad axes are clear errors', () => {
    throwsGrid(() => parseAxis('guidance'), /expected NAME=START:END:STEP or NAME=V1,V2/);
    throwsGrid(
      () => parseAxis('cfg=1,2'),
      /cfg: unknown axis; axes are guidance, guidance-sigma-lo, guidance-sigma-hi, churn, steps/,
    );
    throwsGrid(() => parseAxis('guidance='), /guidance: no values/);
    throwsGrid(() => parseAxis('guidance=1,,2'), /empty value/);
    throwsGrid(() => parseAxis('guidance=1,two'), /"two" is not a number/);
    throwsGrid(() => parseAxis('guidance=1:3'), /a range is START:END:STEP/);
    throwsGrid(() => parseAxis('guidance=1:3:0'), /step must be > 0/);
    throwsGrid(() => parseAxis('guidance=1:3:-0.5'), /step must be > 0/);
    throwsGrid(() => parseAxis('guidance=3:1:0.5'), /end 1 is below the start 3/);
    throwsGrid(() => parseAxis('guidance=1:inf:1'), /must be finite/);
    throwsGrid(() => parseAxis('guidance=1:2:0.5,3'), /either a range .* or a list/);
    throwsGrid(() => parseAxis('guidance=1,2,1'), /1 is listed twice/);
    throwsGrid(() => parseAxis('guidance=1,inf'), /must be finite/);
    throwsGrid(() => parseAxis('steps=8,12.5'), /steps: values must be integers, got 12.5/);
    throwsGrid(() => parseAxis('steps=8:12:0.5'), /steps: values must be integers, got 8.5/);
    throwsGrid(() => parseAxis('restart-k=1.5'), /restart-k: values must be integers/);
    throwsGrid(() => parseAxis('restart-steps=0,1'), /restart-steps: values must be ≥ 1/);
    throwsGrid(() => parseAxis('churn=-1,0'), /churn: values must be ≥ 0/);
    throwsGrid(() => parseAxis('s-noise=0,1'), /s-noise: values must be > 0/);
    throwsGrid(() => parseAxis(`guidance=0:${MAX_GRID_CELLS}:1`), /at most 10000 cells/);
    throwsGrid(() => parseAxes([]), /at least one --axis/);
    throwsGrid(() => parseAxes(['guidance=1,2', 'churn=0', 'guidance=3']), /--axis guidance is given twice/);
    throwsGrid(() => parseAxes(['guidance=0:99:1', 'churn=0:100:1']), /100 × 101 = 10100 cells; at most 10000/);
    assert.equal(parseAxes(['guidance=0:99:1', 'churn=0:99:1']).length, 2, 'exactly 10,000 cells is allowed');
  });

  test('the cross product: first axis slowest; values land on the settings (restart nested)', () => {
    const cells = crossProduct(parseAxes(['guidance=1,2', 'churn=0,10,20']));
    assert.deepEqual(cells, [
      { guidance: 1, churn: 0 },
      { guidance: 1, churn: 10 },
      { guidance: 1, churn: 20 },
      { guidance: 2, churn: 0 },
      { guidance: 2, churn: 10 },
      { guidance: 2, churn: 20 },
    ]);
    assert.deepEqual(Object.keys(cells[0]!), ['guidance', 'churn']);
    const s = applyAxisValues(DEFAULT_SAMPLER_SETTINGS, {
      's-tmin': 0.05,
      's-tmax': 50,
      'restart-k': 3,
      'restart-tmax': 1,
      'sigma-min': 0.01,
      steps: 12,
    });
    assert.deepEqual(
      [s.sTmin, s.sTmax, s.restart.k, s.restart.tMax, s.restart.tMin, s.sigmaMin, s.steps],
      [0.05, 50, 3, 1, 0.1, 0.01, 12],
    );
    assert.equal(DEFAULT_SAMPLER_SETTINGS.restart.k, 2, 'the base is not modified');
  });
});

/** Metrics and costs of cells, without the timings. */
function comparable(cells: GridCell[]): unknown[] {
  return cells.map((c) => ({
    index: c.index,
    values: c.values,
    summary: c.summary,
    nfe: c.denoiserEvaluations,
    net: c.networkEvals,
  }));
}

describe('runGrid', () => {
  let ring: Model;
  let exact: Model;
  before(async () => {
    ring = await Model.load(resolveModelDir('gmm-ring8'));
    exact = await Model.load(resolveModelDir('gmm-ring8-exact'));
  });
  after(async () => {
    await ring?.dispose();
    await exact?.dispose();
  });

  const config = (model: Model, axes: string[], n: number, extra: Partial<GridConfig> = {}): GridConfig => ({
    model: { name: model.name, dir: model.dir },
    base: resolveSettings(model, {}),
    axes: parseAxes(axes),
    n,
    seed: 0,
    classes: 'random',
    metrics: ['fid'],
    metric: 'fid',
    ...extra,
  });

  test('gmm-ring8 (imperfect model): the best constant guidance is > 1; cost = cells × n × 35 NFE', async () => {
    const n = 2000;
    const r = await runGrid({ model: ring, config: config(ring, ['guidance=1,1.5,2,3,4'], n) });
    const fids = r.results.cells.map((c) => c.summary['fid']!);
    console.log(`gmm-ring8 FID by w (1,1.5,2,3,4; n=${n}): ${fids.map((f) => f.toFixed(4)).join(' ')}`);
    assert.equal(r.computed, 5);
    assert.ok(r.results.best, 'a best cell');
    assert.ok(r.results.best.values['guidance']! > 1, `best w = ${r.results.best.values['guidance']}`);
    assert.equal(r.results.best.settings.guidance, r.results.best.values['guidance']);
    assert.equal(r.results.best.value, Math.min(...fids));
    for (const f of fids) assert.ok(f > 0 && f < 1, `FID ${f} in the expected range for 64-d RFF features`);
    // Heun with 18 steps: 2·18 − 1 = 35 NFE per sample; guided cells cost two network passes each.
    for (const c of r.results.cells) {
      assert.equal(c.nfePerSample, 35);
      assert.equal(c.denoiserEvaluations, n * 35);
      assert.equal(c.networkEvals, c.values['guidance'] === 1 ? n * 35 : 2 * n * 35);
    }
    assert.equal(r.results.totals.denoiserEvaluations, 5 * n * 35);
    assert.equal(r.results.totals.networkEvals, n * 35 + 4 * 2 * n * 35);
    assert.deepEqual([r.results.totals.cells, r.results.totals.done], [5, 5]);
  });

  test('gmm-ring8-exact (exact model): the best constant guidance is w = 1', async () => {
    const r = await runGrid({ model: exact, config: config(exact, ['guidance=0.5,1,1.5,2'], 4000) });
    const fids = r.results.cells.map((c) => c.summary['fid']!);
    console.log(`gmm-ring8-exact FID by w (0.5,1,1.5,2; n=4000): ${fids.map((f) => f.toFixed(4)).join(' ')}`);
    assert.equal(r.results.best?.values['guidance'], 1);
    // Robust, not a coin flip: the runner-up is several times worse.
    const sorted = [...fids].sort((a, b) => a - b);
    assert.ok(sorted[1]! > 3 * sorted[0]!, `FIDs ${fids.join(', ')}`);
  });

  test('a cancelled grid resumes: only missing cells are computed, results equal an uninterrupted run', async () => {
    const axes = ['guidance=1,2', 'churn=0,10'];
    const cfg = config(ring, axes, 1000);
    const fresh = await runGrid({ model: ring, config: cfg, outDir: newDir() });
    assert.equal(fresh.computed, 4);

    const dir = newDir();
    const controller = new AbortController();
    const seen: number[] = [];
    await assert.rejects(
      runGrid({
        model: ring,
        config: cfg,
        outDir: dir,
        signal: controller.signal,
        onCell: (c) => {
          seen.push(c.index);
          if (seen.length === 2) controller.abort();
        },
      }),
      SamplingCancelled,
    );
    assert.deepEqual(seen, [0, 1]);
    const partial = (await loadGridResults(dir))!;
    assert.deepEqual([partial.totals.done, partial.totals.cells], [2, 4]);
    assert.equal(readFileSync(join(dir, 'results.csv'), 'utf8').trim().split('\n').length, 3, 'header + 2 rows');

    const again: number[] = [];
    let resumedAtStart = -1;
    const resumed = await runGrid({
      model: ring,
      config: cfg,
      outDir: dir,
      onStart: (i) => (resumedAtStart = i.resumed),
      onCell: (c) => again.push(c.index),
    });
    assert.deepEqual(again, [2, 3], 'only the missing cells');
    assert.equal(resumedAtStart, 2);
    assert.deepEqual([resumed.computed, resumed.resumed], [2, 2]);
    assert.deepEqual(comparable(resumed.results.cells), comparable(fresh.results.cells));
    assert.deepEqual(resumed.results.best, fresh.results.best);
    assert.equal(resumed.results.totals.denoiserEvaluations, fresh.results.totals.denoiserEvaluations);

    // A killed process: results.json cut back to its first cell (as a kill after cell 1 leaves it).
    const saved = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { cells: unknown[] };
    saved.cells = saved.cells.slice(0, 1);
    writeFileSync(join(dir, 'results.json'), JSON.stringify(saved));
    const third: number[] = [];
    const r3 = await runGrid({ model: ring, config: cfg, outDir: dir, onCell: (c) => third.push(c.index) });
    assert.deepEqual(third, [1, 2, 3]);
    assert.deepEqual(comparable(r3.results.cells), comparable(fresh.results.cells));

    // Nothing left: a re-run computes nothing.
    const r4 = await runGrid({
      model: ring,
      config: cfg,
      outDir: dir,
      onCell: () => assert.fail('no cell should be computed'),
    });
    assert.deepEqual([r4.computed, r4.resumed], [0, 4]);
  });

  test('a different saved grid is refused; restart discards it; a corrupted file is an error', async () => {
    const dir = newDir();
    const cfg = config(ring, ['guidance=1,2'], 500);
    await runGrid({ model: ring, config: cfg, outDir: dir });
    const before = readFileSync(join(dir, 'results.json'), 'utf8');
    const refused = async (other: GridConfig, message: RegExp): Promise<void> => {
      await assert.rejects(runGrid({ model: ring, config: other, outDir: dir }), (e: unknown) => {
        assert.ok(e instanceof GridError && e.kind === 'mismatch', String(e));
        assert.match(e.message, message);
        return true;
      });
      assert.equal(readFileSync(join(dir, 'results.json'), 'utf8'), before, 'the saved results are untouched');
    };
    await refused(config(ring, ['guidance=1,2'], 600), /holds another grid: n: 500 → 600/);
    await refused({ ...cfg, seed: 3 }, /seed: 0 → 3/);
    await refused(config(ring, ['guidance=1,3'], 500), /axes: guidance=1,2 → guidance=1,3/);
    await refused({ ...cfg, metrics: ['fid', 'kid'] }, /metrics: fid → fid,kid/);
    await refused({ ...cfg, base: { ...cfg.base, steps: 12 } }, /settings steps: 18 → 12/);
    await refused(config(exact, ['guidance=1,2'], 500), /model: gmm-ring8 → gmm-ring8-exact/);

    const counted: number[] = [];
    const r = await runGrid({
      model: ring,
      config: config(ring, ['guidance=1,3'], 500),
      outDir: dir,
      restart: true,
      onCell: (c) => counted.push(c.index),
    });
    assert.deepEqual(counted, [0, 1]);
    assert.deepEqual(r.results.config.axes[0]!.values, [1, 3]);

    writeFileSync(join(dir, 'results.json'), '{"version": 1, "config": {');
    await assert.rejects(
      runGrid({ model: ring, config: cfg, outDir: dir }),
      (e: unknown) =>
        e instanceof GridError && e.kind === 'corrupt' && /results\.json is corrupted \(not valid JSON/.test(e.message),
    );
    writeFileSync(join(dir, 'results.json'), JSON.stringify({ version: 1, config: {}, cells: [] }));
    await assert.rejects(
      runGrid({ model: ring, config: cfg, outDir: dir }),
      /results\.json is corrupted \(config\.model: missing \(expected an object\)/,
    );
    assert.equal(
      readFileSync(join(dir, 'results.json'), 'utf8'),
      JSON.stringify({ version: 1, config: {}, cells: [] }),
      'left as it is',
    );
  });

  test('values added to an axis extend a saved grid: saved cells kept and re-indexed, only new ones sampled', async () => {
    const dir = newDir();
    await runGrid({ model: ring, config: config(ring, ['guidance=1,2', 'churn=0,10'], 500), outDir: dir });
    const computed: string[] = [];
    const r = await runGrid({
      model: ring,
      config: config(ring, ['guidance=1,1.5,2', 'churn=0,10'], 500),
      outDir: dir,
      onCell: (c) => computed.push(describeValues(c.values)),
    });
    assert.deepEqual(computed, ['guidance=1.5 churn=0', 'guidance=1.5 churn=10'], 'only the new cells');
    assert.deepEqual([r.computed, r.resumed], [2, 4]);
    const fresh = await runGrid({ model: ring, config: config(ring, ['guidance=1,1.5,2', 'churn=0,10'], 500) });
    assert.deepEqual(comparable(r.results.cells), comparable(fresh.results.cells), 'as if sampled in one go');
    assert.deepEqual(
      (await loadGridResults(dir))!.cells.map((c) => c.index),
      [0, 1, 2, 3, 4, 5],
    );
    // A results.json whose cells list their values in another key order (hand-edited) is the same grid.
    const edited = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { cells: { values: object }[] };
    for (const c of edited.cells) c.values = Object.fromEntries(Object.entries(c.values).reverse());
    writeFileSync(join(dir, 'results.json'), JSON.stringify(edited));
    const reread = await runGrid({
      model: ring,
      config: config(ring, ['guidance=1,1.5,2', 'churn=0,10'], 500),
      outDir: dir,
    });
    assert.deepEqual([reread.computed, reread.resumed], [0, 6]);
    // Losing a saved value, or another axis, is refused with the file untouched.
    const before = readFileSync(join(dir, 'results.json'), 'utf8');
    for (const axes of [['guidance=1,2', 'churn=0,10'], ['guidance=1,1.5,2'], ['churn=0,10', 'guidance=1,1.5,2']])
      await assert.rejects(
        runGrid({ model: ring, config: config(ring, axes, 500), outDir: dir }),
        /holds another grid: axes: .* \(a saved grid can gain axis values, never lose any or change its axes\)/,
      );
    assert.equal(readFileSync(join(dir, 'results.json'), 'utf8'), before);
  });

  test('cells that sample identically are named, with why (churn cap, w = 1, intervals holding the same levels), and they do', async () => {
    const cap = 'churn is capped: γ_i = min(S_churn/N, √2−1), so churn above 7.46 changes nothing at 18 steps';
    const axes = ['churn=0,5,10,20', 'guidance=1,2'].map(parseAxis);
    for (const sampler of ['edm', 'heun', 'euler'] as const) {
      const settings = resolveCells(ring, { ...DEFAULT_SAMPLER_SETTINGS, sampler, steps: 18 }, axes);
      assert.deepEqual(identicalCells(ring, settings, crossProduct(axes)), [
        `cells churn=10 guidance=1, churn=20 guidance=1 sample identically: ${cap}`,
        `cells churn=10 guidance=2, churn=20 guidance=2 sample identically: ${cap}`,
      ]);
    }
    // An interval above σ_max guides nowhere: its w does not matter.
    const above = ['guidance=1,2,3'].map(parseAxis);
    const idle = resolveCells(ring, { ...DEFAULT_SAMPLER_SETTINGS, guidanceSigmaLo: 100 }, above);
    assert.deepEqual(identicalCells(ring, idle, crossProduct(above)), [
      "cells guidance=1, guidance=2, guidance=3 sample identically: an interval that holds none of the schedule's noise levels guides nowhere, as w = 1",
    ]);
    // Not identical, though an interval end passes σ_max: a churn curve raises t̂_0 above it, and at
    // ρ = 5 rounding puts t_0 a hair above 80 (found in review; the grid samples them apart below).
    const curve = { parameter: 'churn' as const, points: [{ sigma: 1, value: 0.4 }] };
    const hiAxes = ['guidance-sigma-hi=80,inf'].map(parseAxis);
    for (const base of [
      { ...DEFAULT_SAMPLER_SETTINGS, guidance: 2, steps: 10, churnCurve: curve },
      { ...DEFAULT_SAMPLER_SETTINGS, guidance: 2, steps: 10, rho: 5, sampler: 'euler' as const },
    ]) {
      assert.deepEqual(identicalCells(ring, resolveCells(ring, base, hiAxes), crossProduct(hiAxes)), []);
      const apart = await runGrid({
        model: ring,
        config: { ...config(ring, ['guidance-sigma-hi=80,inf'], 200), base: resolveSettings(ring, base) },
      });
      const [a, b] = apart.results.cells;
      assert.notEqual(a!.networkEvals, b!.networkEvals, 'the two cells guide different evaluations');
    }
    // 60 steps: the cap is 24.85, so churn 10 and 20 differ.
    const at60 = resolveCells(ring, { ...DEFAULT_SAMPLER_SETTINGS, sampler: 'edm', steps: 60 }, axes);
    assert.deepEqual(identicalCells(ring, at60, crossProduct(axes)), []);

    // Sampled: the cells named alike give the same numbers, the others do not.
    const g = await runGrid({
      model: ring,
      config: config(ring, ['guidance=1,2', 'guidance-sigma-lo=0,0.001', 'guidance-sigma-hi=1,100'], 200),
    });
    const lines = identicalCells(
      ring,
      g.results.cells.map((c) => resolveSettings(ring, c.settings)),
      g.results.cells.map((c) => c.values),
    );
    assert.deepEqual(lines, [
      'cells guidance=1 guidance-sigma-lo=0 guidance-sigma-hi=1, guidance=1 guidance-sigma-lo=0 guidance-sigma-hi=100, guidance=1 guidance-sigma-lo=0.001 guidance-sigma-hi=1, guidance=1 guidance-sigma-lo=0.001 guidance-sigma-hi=100 sample identically: w = 1 guides nowhere, so its interval does not matter',
      'cells guidance=2 guidance-sigma-lo=0 guidance-sigma-hi=1, guidance=2 guidance-sigma-lo=0.001 guidance-sigma-hi=1 sample identically: their intervals hold the same noise levels of the schedule, where every evaluation is',
      'cells guidance=2 guidance-sigma-lo=0 guidance-sigma-hi=100, guidance=2 guidance-sigma-lo=0.001 guidance-sigma-hi=100 sample identically: their intervals hold the same noise levels of the schedule, where every evaluation is',
    ]);
    const fid = (v: Record<string, number>): number =>
      g.results.cells.find((c) => JSON.stringify(c.values) === JSON.stringify(v))!.summary['fid']!;
    const w1 = g.results.cells.filter((c) => c.values['guidance'] === 1).map((c) => c.summary['fid']);
    assert.equal(new Set(w1).size, 1, 'w = 1: one sampler');
    const wide = { guidance: 2, 'guidance-sigma-lo': 0, 'guidance-sigma-hi': 100 };
    assert.equal(fid({ ...wide, 'guidance-sigma-lo': 0.001 }), fid(wide));
    assert.equal(
      fid({ ...wide, 'guidance-sigma-hi': 1 }),
      fid({ ...wide, 'guidance-sigma-lo': 0.001, 'guidance-sigma-hi': 1 }),
    );
    assert.notEqual(fid({ ...wide, 'guidance-sigma-hi': 1 }), fid(wide), 'σ ≤ 1 only: another sampler');
  });

  test('every cell is checked against the model before any sampling', async () => {
    const dir = newDir();
    await assert.rejects(
      runGrid({ model: ring, config: config(ring, ['sigma-max=10,100'], 500), outDir: dir }),
      /grid cell sigma-max=100: σ range \[0\.002, 100\] is outside/,
    );
    assert.ok(!existsSync(dir), 'nothing written');
  });
});

// ---------------------------------------------------------------------------------------------
// The command line

const usageError = assertUsageError;

/** `eval` with the best-constant baseline of the grid in `out` (n = 1,000, FID). */
const bestConstantEval = (out: string) =>
  cli(
    'eval',
    '--model',
    'gmm-ring8',
    '--baseline',
    'best-constant',
    '--grid-result',
    out,
    '--n',
    '1000',
    '--metrics',
    'fid',
    '--json',
  );

describe('the grid command', () => {
  test('--json: every cell, the best, the total cost; results.json + results.csv; best-constant picks it up', async () => {
    const out = newDir();
    const r = await cli(
      'grid',
      '--model',
      'gmm-ring8',
      '--axis',
      'guidance=1:2:0.5',
      '--n',
      '1000',
      '--metric',
      'fid',
      '--out',
      out,
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const res = lastJson(r.stdout) as unknown as GridResults & {
      command: string;
      computed: number;
      resumed: number;
      out: string;
    };
    assert.equal(res.command, 'grid');
    assert.deepEqual([res.computed, res.resumed, res.cells.length], [3, 0, 3]);
    assert.deepEqual(
      res.cells.map((c) => c.values['guidance']),
      [1, 1.5, 2],
    );
    assert.equal(res.totals.denoiserEvaluations, 3 * 1000 * 35);
    assert.equal(res.totals.networkEvals, 1000 * 35 + 2 * 2 * 1000 * 35);
    assert.equal(
      (res.cells[0]!.settings as unknown as Record<string, unknown>)['sTmax'],
      'inf',
      'Infinity is written as "inf"',
    );
    assert.ok(res.best && res.best.values['guidance']! > 1);
    // Progress events: cells done out of the grid's cells.
    const events = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; task: string; done: number; total: number; unit: string });
    assert.ok(
      events.some(
        (e) => e.type === 'progress' && e.task === 'grid' && e.unit === 'cells' && e.total === 3 && e.done === 3,
      ),
    );

    const saved = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(saved['best'], res.best);
    assert.deepEqual(Object.keys(saved), ['version', 'config', 'cells', 'best', 'totals']);
    const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'guidance,fid,nfePerSample,denoiserEvaluations,seconds');
    assert.equal(csv.length, 4);
    assert.match(csv[2]!, /^1\.5,0\.\d+,35,35000,[\d.]+$/);

    // The best-constant baseline reads the best settings; same n and seed ⇒ the same FID.
    const e = await bestConstantEval(out);
    assert.equal(e.code, 0, e.stderr);
    const ev = lastJson(e.stdout) as { settings: { guidance: number }; summary: { fid: number } };
    assert.equal(ev.settings.guidance, res.best.values['guidance']);
    assert.equal(ev.summary.fid, res.best.value);

    // Human output: a line per cell, the best line, the total cost.
    const h = await cli('grid', '--model', 'gmm-ring8', '--axis', 'guidance=1:2:0.5', '--n', '1000', '--out', out);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /best by fid \(lower is better\): guidance=1\.5 \(cell 1\) → fid 0\.\d{4}/);
    assert.match(h.stdout, /total denoiser evaluations: 105000 \(≈ 35000 per cell\); network passes: 175000/);
    assert.match(h.stdout, /3\/3 cells done \(0 computed now, 3 resumed\)/);
    assert.equal(h.stdout.split('\n').filter((l) => /^\s+\d+\s+(1|1\.5|2)\s+0\.\d{4}\s+35\.00/.test(l)).length, 3);
  });

  test('--images: the X/Y plot: every cell drawn with the same seed, xy.html across the first axis and down the others', async () => {
    const out = newDir();
    const args = ['grid', '--model', 'gmm-ring8', '--axis', 'guidance=1,2', '--axis', 'churn=0,1', '--sampler', 'edm'];
    const r = await cli(...args, '--steps', '6', '--n', '300', '--out', out, '--images', '--json');
    assert.equal(r.code, 0, r.stderr);
    const res = lastJson(r.stdout) as unknown as GridResults & { xyPlot: string };
    assert.equal(res.xyPlot, join(out, 'xy.html'));
    const saved = (await loadGridResults(out))!;
    assert.deepEqual(
      saved.cells.map((c) => c.picture),
      ['cells/cell-0000.png', 'cells/cell-0001.png', 'cells/cell-0002.png', 'cells/cell-0003.png'],
    );
    for (const c of saved.cells) {
      const info = pictureInfo(pngText(readFileSync(join(out, c.picture!))));
      assert.equal(info?.kind, 'scatter', 'a 2-D model draws a scatter plot, with its legend in the PNG');
    }
    // The layout: guidance across, churn down; each cell under its FID and NFE; the best outlined.
    const l = xyLayout(saved);
    assert.deepEqual(l.x, { name: 'guidance', values: [1, 2] });
    assert.deepEqual(l.y, { names: ['churn'], rows: ['churn=0', 'churn=1'] });
    assert.deepEqual(
      l.cells.map((row) => row.map((c) => c && describeValues(c.values))),
      [
        ['guidance=1 churn=0', 'guidance=2 churn=0'],
        ['guidance=1 churn=1', 'guidance=2 churn=1'],
      ],
    );
    const html = readFileSync(join(out, 'xy.html'), 'utf8');
    assert.match(html, /<th>guidance=1<\/th><th>guidance=2<\/th>/);
    assert.equal(html.match(/<img src="cells\/cell-\d{4}\.png"/g)?.length, 4);
    assert.equal(html.match(/FID \d+\.\d{4} · NFE 11/g)?.length, 4);
    assert.equal(html.match(/class="best"/g)?.length, 1);
    assert.match(html, new RegExp(`<td class="best"><img src="cells/cell-000${saved.best!.index}\\.png"`));
    // Resumed with --images, nothing is sampled again; a grid first run without pictures draws them.
    const again = await cli(...args, '--steps', '6', '--n', '300', '--out', out, '--images', '--json');
    assert.equal((lastJson(again.stdout) as unknown as { computed: number }).computed, 0);
    const bare = newDir();
    assert.equal((await cli(...args, '--steps', '6', '--n', '300', '--out', bare)).code, 0);
    const drawn = await cli(...args, '--steps', '6', '--n', '300', '--out', bare, '--images', '--json');
    assert.equal((lastJson(drawn.stdout) as unknown as { computed: number }).computed, 4);
    assert.ok(existsSync(join(bare, 'cells', 'cell-0003.png')));
    // A grid with one axis is one row.
    assert.deepEqual(xyLayout({ ...saved, config: { ...saved.config, axes: [saved.config.axes[0]!] } }).y.rows, ['']);
  });

  test('best-constant reproduces a best cell that uses churn (s-tmax = ∞ saved as "inf")', async () => {
    const out = newDir();
    const g = await cli(
      'grid',
      '--model',
      'gmm-ring8',
      '--axis',
      'guidance=2',
      '--axis',
      'churn=0,10',
      '--n',
      '1000',
      '--out',
      out,
      '--json',
    );
    assert.equal(g.code, 0, g.stderr);
    const best = (lastJson(g.stdout) as unknown as GridResults).best!;
    assert.equal(best.values['churn'], 10);
    const e = await bestConstantEval(out);
    assert.equal(e.code, 0, e.stderr);
    assert.equal((lastJson(e.stdout) as { summary: { fid: number } }).summary.fid, best.value);
  });

  test('usage errors: bad axes, missing flags, a flag that is also an axis, a different saved grid', async () => {
    const out = newDir();
    usageError(
      await cli('grid', '--model', 'gmm-ring8', '--axis', 'guidance=3:1:0.5', '--out', out),
      /end 1 is below the start 3/,
    );
    usageError(await cli('grid', '--model', 'gmm-ring8', '--axis', 'wat=1,2', '--out', out), /unknown axis/);
    usageError(await cli('grid', '--model', 'gmm-ring8', '--out', out), /at least one --axis/);
    usageError(await cli('grid', '--model', 'gmm-ring8', '--axis', 'guidance=1,2'), /needs --out DIR/);
    usageError(
      await cli('grid', '--model', 'gmm-ring8', '--axis', 'guidance=1,2', '--guidance', '2', '--out', out),
      /--guidance 2 and --axis guidance are both given/,
    );
    usageError(
      await cli('grid', '--model', 'gmm-ring8', '--axis', 'guidance=1,2', '--metric', 'fidd', '--out', out),
      /--metric must be one of fid, kid/,
    );
    usageError(
      await cli('grid', '--model', 'gmm-ring8', '--axis', 'churn=0,10', '--sampler', 'ddim', '--out', out),
      /grid cell churn=10: churn applies to the euler, heun and edm samplers/,
    );
    usageError(
      await cli(
        'grid',
        '--model',
        'gmm-ring8',
        '--guidance',
        '2',
        '--axis',
        'guidance-sigma-lo=0,1',
        '--axis',
        'guidance-sigma-hi=0.5,5',
        '--out',
        out,
      ),
      /grid cell guidance-sigma-lo=1 guidance-sigma-hi=0\.5: .*every guidance-sigma-lo value must lie below every guidance-sigma-hi value/,
    );
    assert.equal(
      (await cli('grid', '--model', 'gmm-ring8', '--axis', 'guidance=1,2', '--n', '500', '--out', out)).code,
      0,
    );
    const r = await cli('grid', '--model', 'gmm-ring8', '--axis', 'guidance=1,2', '--n', '600', '--out', out, '--json');
    usageError(r, /holds another grid: n: 500 → 600; give a new --out DIR, or --restart to discard the saved results/);
    assert.match(lastJson(r.stdout)['error'] as string, /n: 500 → 600/);
    const again = await cli(
      'grid',
      '--model',
      'gmm-ring8',
      '--axis',
      'guidance=1,2',
      '--n',
      '600',
      '--out',
      out,
      '--restart',
      '--json',
    );
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual([lastJson(again.stdout)['computed'], lastJson(again.stdout)['resumed']], [2, 0]);
    const good = readFileSync(join(out, 'results.json'), 'utf8');
    writeFileSync(join(out, 'results.json'), 'not json');
    usageError(
      await cli('grid', '--model', 'gmm-ring8', '--axis', 'guidance=1,2', '--n', '600', '--out', out),
      /results\.json is corrupted .*move it away, or pass --restart/,
    );
    // A damaged field: the grid and the best-constant baseline name the file and the field, and leave it as it is.
    const damaged = good.replace(/"fid": [-+.\de]+/, '"fid": "low"');
    assert.notEqual(damaged, good);
    writeFileSync(join(out, 'results.json'), damaged);
    const field =
      /results\.json is corrupted \(cells\[0\]\.summary\.fid: expected a number, got "low"\); it was left as it is/;
    usageError(await cli('grid', '--model', 'gmm-ring8', '--axis', 'guidance=1,2', '--n', '600', '--out', out), field);
    usageError(
      await cli('eval', '--model', 'gmm-ring8', '--baseline', 'best-constant', '--grid-result', out, '--n', '100'),
      field,
    );
    assert.equal(readFileSync(join(out, 'results.json'), 'utf8'), damaged);
  });

  test('Ctrl-C (SIGINT) stops the process with code 130, finished cells saved; the same command continues', async () => {
    const out = newDir();
    const args = [
      'grid',
      '--model',
      'gmm-ring8',
      '--axis',
      'guidance=1:3.5:0.5',
      '--n',
      '20000',
      '--batch',
      '500',
      '--out',
      out,
      '--json',
    ];
    let sent = false;
    const r = await spawnCli(
      args,
      (stderr, child) => {
        // Interrupt once two cells are done.
        if (!sent && /"done":2,/.test(stderr)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
      60_000,
    );
    assert.ok(sent, `never got to two cells: ${r.stderr.slice(-500)}`);
    assert.equal(r.code, 130, r.stderr.slice(-800));
    assert.match(
      r.stderr,
      /grid stopped: \d+ of 6 cells are saved in .*results\.json; run the same command again to continue/,
    );
    const saved = (await loadGridResults(out))!;
    const done = saved.totals.done;
    assert.ok(done >= 2 && done < 6, `${done} cells saved`);
    assert.match(r.stderr, new RegExp(`grid stopped: ${done} of 6`));

    const c = await cli(...args);
    assert.equal(c.code, 0, c.stderr);
    const res = lastJson(c.stdout) as { computed: number; resumed: number; totals: { done: number } };
    assert.deepEqual([res.resumed, res.computed, res.totals.done], [done, 6 - done, 6]);
  });
});

// ---------------------------------------------------------------------------------------------
// The guidance interval as axes, the best-interval baseline, curves in saved grids

describe('guidance intervals and curves in a grid', () => {
  const evalBaseline = (baseline: string, out: string) =>
    cli(
      'eval',
      '--model',
      'gmm-ring8',
      '--baseline',
      baseline,
      '--grid-result',
      out,
      '--n',
      '500',
      '--metrics',
      'fid',
      '--json',
    );

  test('axes guidance-sigma-lo × guidance-sigma-hi: passes saved outside the interval; best-interval and best-constant read one grid', async () => {
    const out = newDir();
    const axes = ['--axis', 'guidance-sigma-lo=0,0.3', '--axis', 'guidance-sigma-hi=5,inf'];
    const r = await cli(
      'grid',
      '--model',
      'gmm-ring8',
      '--guidance',
      '2',
      ...axes,
      '--n',
      '500',
      '--out',
      out,
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const res = lastJson(r.stdout) as unknown as GridResults;
    assert.deepEqual(
      res.cells.map((c) => [c.values['guidance-sigma-lo'], c.settings.guidanceSigmaHi]),
      [
        [0, 5],
        [0, Infinity],
        [0.3, 5],
        [0.3, Infinity],
      ].map(([lo, hi]) => [lo, hi === Infinity ? 'inf' : hi]),
    );
    // Heun 18 (σ 80 … 0.002): 35 evaluations, each guided one a second pass. Guided: (0, 5]: t_8 … t_17
    // (Euler) and t_8 … t_17 (corrections) = 20; everywhere: 35; (0.3, 5]: t_8 … t_11 twice = 8;
    // (0.3, ∞]: t_0 … t_11 and t_1 … t_11 = 23.
    assert.deepEqual(
      res.cells.map((c) => c.networkEvalsPerSample),
      [55, 70, 43, 58],
    );
    for (const c of res.cells) assert.equal(c.nfePerSample, 35);

    // best-interval: the best cell; same n and seed ⇒ the same FID.
    const bi = await evalBaseline('best-interval', out);
    assert.equal(bi.code, 0, bi.stderr);
    const ev = lastJson(bi.stdout) as { settings: Record<string, unknown>; summary: { fid: number } };
    assert.equal(ev.summary.fid, res.best!.value);
    assert.equal(ev.settings['guidanceSigmaLo'], res.best!.values['guidance-sigma-lo']);
    // best-constant: the best cell that guides at every σ, here the only one, (0, ∞].
    const bc = await evalBaseline('best-constant', out);
    assert.equal(bc.code, 0, bc.stderr);
    const constant = lastJson(bc.stdout) as { settings: Record<string, unknown>; summary: { fid: number } };
    assert.deepEqual([constant.settings['guidanceSigmaLo'], constant.settings['guidanceSigmaHi']], [0, 'inf']);
    assert.equal(constant.summary.fid, res.cells[1]!.summary['fid']);

    // A grid without interval axes has no best interval; one whose cells all have an interval no best constant.
    const plain = newDir();
    assert.equal(
      (await cli('grid', '--model', 'gmm-ring8', '--axis', 'guidance=1,2', '--n', '200', '--out', plain)).code,
      0,
    );
    usageError(
      await evalBaseline('best-interval', plain),
      /its grid has axes guidance, no guidance interval; run `grid` with --axis guidance-sigma-lo/,
    );
    const narrow = newDir();
    const n = await cli(
      'grid',
      '--model',
      'gmm-ring8',
      '--guidance',
      '2',
      '--axis',
      'guidance-sigma-lo=0.3,1',
      '--n',
      '200',
      '--out',
      narrow,
    );
    assert.equal(n.code, 0, n.stderr);
    usageError(
      await evalBaseline('best-constant', narrow),
      /no finished cell guides at every σ .* use --baseline best-interval/,
    );
  });

  test('a flag standing in for an axis is refused; a curve survives results.json and a resumed grid; old files read', async () => {
    const out = newDir();
    usageError(
      await cli(
        'grid',
        '--model',
        'gmm-ring8',
        '--guidance-interval',
        '2:0.3:5',
        '--axis',
        'guidance-sigma-lo=0,1',
        '--out',
        out,
      ),
      /--guidance-interval 2:0\.3:5 and --axis guidance-sigma-lo are both given; drop one/,
    );
    const curveFile = join(tmp, 'w.json');
    const curve = {
      parameter: 'guidance',
      points: [
        { sigma: 5, value: 2.5 },
        { sigma: 0.3, value: 1 },
      ],
    };
    writeFileSync(curveFile, JSON.stringify(curve));
    usageError(
      await cli('grid', '--model', 'gmm-ring8', '--guidance-curve', curveFile, '--axis', 'guidance=1,2', '--out', out),
      /--guidance-curve .*w\.json and --axis guidance are both given; drop one/,
    );
    const args = [
      'grid',
      '--model',
      'gmm-ring8',
      '--guidance-curve',
      curveFile,
      '--axis',
      'steps=8,12',
      '--n',
      '200',
      '--out',
      out,
      '--json',
    ];
    const first = await cli(...args);
    assert.equal(first.code, 0, first.stderr);
    const saved = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      config: { base: Record<string, unknown> };
      cells: { settings: Record<string, unknown> }[];
    };
    assert.deepEqual(saved.config.base['guidanceCurve'], curve);
    assert.deepEqual(saved.cells[1]!.settings['guidanceCurve'], curve);
    const again = await cli(...args);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual([lastJson(again.stdout)['computed'], lastJson(again.stdout)['resumed']], [0, 2]);
    // The report's header names the base settings the axes vary, the curve included.
    const human = await cli(...args.filter((a) => a !== '--json'));
    assert.match(
      human.stdout,
      /grid of 2 steps = 2 cells, .*; base settings heun, 18 steps, w\(σ\) from a curve of \d+ points?/,
    );
    // Another curve is another grid.
    writeFileSync(curveFile, JSON.stringify({ ...curve, points: [{ sigma: 5, value: 3 }] }));
    usageError(await cli(...args), /holds another grid: settings guidanceCurve: /);

    // results.json saved before the interval and the curves (no such keys) continues as the same grid.
    const old = newDir();
    const oldArgs = ['grid', '--model', 'gmm-ring8', '--axis', 'guidance=1,2', '--n', '200', '--out', old, '--json'];
    assert.equal((await cli(...oldArgs)).code, 0);
    const file = join(old, 'results.json');
    const json = JSON.parse(readFileSync(file, 'utf8')) as {
      config: { base: Record<string, unknown> };
      cells: { settings: Record<string, unknown> }[];
    };
    for (const s of [json.config.base, ...json.cells.map((c) => c.settings)])
      for (const k of ['guidanceSigmaLo', 'guidanceSigmaHi', 'guidanceCurve', 'churnCurve']) delete s[k];
    writeFileSync(file, JSON.stringify(json));
    const resumed = await cli(...oldArgs);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual([lastJson(resumed.stdout)['computed'], lastJson(resumed.stdout)['resumed']], [0, 2]);
  });
});
