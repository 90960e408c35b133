// Recipes (learner/recipe.ts): a policy's mean expected action per noise level as a static curve. On
// the bundled 2-D ring with tiny runs whose EMA policy is made strongly state-dependent: the recipe
// equals the mean of Σ_a π(a|s)·v_a computed here from the EMA logits on the same rollout, and the
// curve read at each level agrees with the run's sampled profile within its sampling error; `export
// --recipe` writes a curve file (with its source) that parseCurve reads and `sample --guidance-curve`
// samples, from a run or an exported policy file, for cfg (guidance) and gamma (churn); a renoise run
// is a clear error; the table evaluates a bare curve file as the run's base sampler with that curve;
// Compare has the recipe row, sampled from the recipe of seed + 2; --init-from-grid starts from the
// grid's best interval when it beats its best constant.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { runTraining } from '../src/main/engine/apps/train';
import { loadRun } from '../src/main/engine/runs/load';
import { runPaths, writeCheckpoint } from '../src/main/engine/runs/files';
import type { Learner } from '../src/main/engine/learner/learner';
import { policyRecipe, recipeParameter, recipeSettings, RecipeError } from '../src/main/engine/learner/recipe';
import type { PolicyStates } from '../src/main/engine/learner/rollout';
import { evaluatePolicy } from '../src/main/engine/apps/evaluate-policy';
import { comparePolicy, type CompareProgress } from '../src/main/engine/apps/compare';
import { evaluateSamples, referenceFor } from '../src/main/engine/metrics/evaluate';
import { extractorForModel } from '../src/main/engine/metrics/features';
import { generate, resolveSettings } from '../src/main/engine/samplers/generate';
import { Stream } from '../src/main/engine/samplers/random';
import { assembleResults, saveGridResults, type GridCell, type GridConfig } from '../src/main/engine/grid';
import { applyAxisValues, crossProduct, type GridAxis } from '../src/main/engine/grid/axes';
import { parseTrainArgs } from '../src/cli/train-cmd';
import { UsageError } from '../src/cli/common';
import { curveAt, parseCurve, parseCurveText, type SamplerCurve } from '../src/shared/curve';
import { DEFAULT_SAMPLER_SETTINGS } from '../src/shared/sampler-settings';
import { GAMMA_MAX } from '../src/shared/limits';
import { VERSION } from '../src/shared/version';
import { tableResult } from '../src/shared/results-table';
import { assertUsageError, cli, lastJson } from './helpers/cli';
import { tinyConfig } from './helpers/config';

const tmp = mkdtempSync(join(tmpdir(), 'ss-recipe-'));
process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
const runDir = join(tmp, 'runs', 'cfg');
const gammaDir = join(tmp, 'runs', 'gamma');
let ring: Model;

/** EMA weights far from the initial ones: logits that depend strongly on x, σ and the class. */
async function randomiseRunPolicy(dir: string, seed: number): Promise<void> {
  const learner = await loadRun(dir, ring);
  try {
    const rng = new Stream(seed, 7);
    learner.policyEma = learner.policyEma.map((w) => Float32Array.from(w, () => rng.normal() * 0.4));
    await writeCheckpoint(dir, await learner.checkpoint());
  } finally {
    await learner.dispose();
  }
}

before(async () => {
  ring = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'));
  for (const [dir, config] of [
    [runDir, tinyConfig({ conditioning: 'state+class', hidden: 24 })],
    [gammaDir, tinyConfig({ intervention: 'gamma', iterations: 1, hidden: 24 })],
  ] as const) {
    const { learner } = await runTraining({ model: ring, config, runDir: dir });
    await learner.dispose();
  }
  await randomiseRunPolicy(runDir, 11);
  await randomiseRunPolicy(gammaDir, 12);
});
after(async () => {
  await ring.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * The reference: roll the EMA policy out recording every state (the learner's own rollout, same seed
 * and temperature), ask the EMA heads for the logits of all of them in one batch, and average
 * Σ_a softmax(logits/τ)_a·v_a per level in float64; with the per-state variance of the action value,
 * whose sum over a level's states bounds the sampled mean's error.
 */
async function referenceRecipe(
  learner: Learner,
  n: number,
  seed: number,
  tau: number,
): Promise<{ mean: number[]; sampledSd: number[] }> {
  const ro = await learner.rollout(n, seed, { temperature: tau, weights: 'ema' });
  const N = learner.config.steps;
  const S = ro.H + 1;
  const dim = ring.dim;
  const picks: number[] = [];
  for (let r = 0; r < ro.n; r++) for (let t = 0; t < S; t++) if (ro.level[r * S + t]! < N) picks.push(r * S + t);
  const m = picks.length;
  const states: PolicyStates = {
    n: m,
    x: new Float32Array(m * dim),
    sigma: Float32Array.from(picks, (i) => ro.sigma[i]!),
    labels: ro.labels ? Int32Array.from(picks, (i) => ro.labels![i]!) : null,
    step: Int32Array.from(picks, (i) => i % S),
  };
  picks.forEach((i, k) => states.x.set(ro.x.subarray(i * dim, (i + 1) * dim), k * dim));
  const logits = await learner.emaLogits(states);
  const v = learner.config.actions;
  const K = v.length;
  const sum = new Float64Array(N);
  const varSum = new Float64Array(N);
  const count = new Float64Array(N);
  picks.forEach((i, k) => {
    const l = ro.level[i]!;
    let mx = -Infinity;
    for (let a = 0; a < K; a++) mx = Math.max(mx, logits[k * K + a]! / tau);
    const p = Array.from({ length: K }, (_, a) => Math.exp(logits[k * K + a]! / tau - mx));
    const z = p.reduce((s, q) => s + q, 0);
    const e = p.reduce((s, q, a) => s + (q / z) * v[a]!, 0);
    const e2 = p.reduce((s, q, a) => s + (q / z) * v[a]! ** 2, 0);
    sum[l] += e;
    varSum[l] += e2 - e * e;
    count[l]++;
  });
  return {
    mean: Array.from(sum, (s, l) => s / count[l]!),
    sampledSd: Array.from(varSum, (s, l) => Math.sqrt(s) / count[l]!),
  };
}

test("the recipe is the mean expected action per level, computed independently from the run's EMA logits", async () => {
  const learner = await loadRun(runDir, ring);
  try {
    const N = learner.config.steps;
    for (const [n, seed, tau] of [
      [300, 5, 1],
      [200, 9, 0.6],
    ] as const) {
      const recipe = await policyRecipe(learner, { n, seed, temperature: tau, origin: { run: runDir } });
      const ref = await referenceRecipe(learner, n, seed, tau);
      assert.equal(recipe.parameter, 'guidance');
      assert.equal(recipe.points.length, N);
      assert.deepEqual(recipe.visits, new Array<number>(N).fill(n), 'every trajectory visits each level once');
      let worst = 0;
      recipe.points.forEach((p, l) => {
        assert.equal(p.sigma, learner.schedule[l]);
        worst = Math.max(worst, Math.abs(p.value - ref.mean[l]!));
      });
      assert.ok(worst <= 1e-6, `max |recipe − reference| = ${worst}`);
      // The policy depends on the state: the levels differ, so the curve is not a constant.
      const values = recipe.points.map((p) => p.value);
      assert.ok(
        Math.max(...values) - Math.min(...values) > 0.05,
        `values ${values.map((x) => x.toFixed(3)).join(' ')}`,
      );
      assert.deepEqual(recipe.source, {
        run: runDir,
        model: 'gmm-ring8',
        iteration: learner.iteration,
        sampler: 'heun',
        steps: N,
        n,
        seed,
        temperature: tau,
        version: VERSION,
      });
    }
  } finally {
    await learner.dispose();
  }
});

test('export --recipe writes a curve file that reproduces the run’s sampled profile, parses, and samples', async () => {
  const file = join(runDir, 'recipe.json');
  const r = await cli('export', '--run', runDir, '--recipe', '--n', '1024', '--seed', '4', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lastJson(r.stdout)['recipe'], file, 'the default path is RUN_DIR/recipe.json, where the table looks');
  const curve = parseCurveText(readFileSync(file, 'utf8'), file);
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { source: Record<string, unknown> };
  assert.deepEqual(
    [saved.source['run'], saved.source['n'], saved.source['seed'], saved.source['temperature']],
    [runDir, 1024, 4, 1],
  );
  // The human output: the σ → w table and the path.
  const human = await cli('export', '--run', runDir, '--recipe', '--n', '64', '--out', join(tmp, 'h.json'));
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /h\.json: the mean w per noise level of .* over 64 trajectories \(seed 0, τ = 1\)/);
  assert.match(human.stdout, /^\s+80\.00\s+\d\.\d{4}$/m);
  assert.match(
    human.stdout,
    /sample --model gmm-ring8 --sampler heun --steps \d+ --guidance-curve .*h\.json/,
    'a bundled model by its id',
  );

  // The curve at each level against the run's sampled profile (evaluate-policy, same seed and n): the
  // same rollout, so they differ by the action draws alone, whose standard error the reference gives.
  const learner = await loadRun(runDir, ring);
  const ex = await extractorForModel(ring);
  try {
    const reference = await referenceFor(ring, ex);
    const ev = await evaluatePolicy(learner, {
      extractor: ex,
      reference,
      n: 1024,
      seed: 4,
      temperature: 1,
      metrics: ['fid'],
    });
    const { sampledSd } = await referenceRecipe(learner, 1024, 4, 1);
    const v = learner.config.actions;
    let worstZ = 0;
    ev.profile.forEach((shares, l) => {
      const sampled = shares.reduce((s, p, a) => s + p * v[a]!, 0);
      const z = Math.abs(curveAt(curve, ev.sigmas[l]!) - sampled) / sampledSd[l]!;
      worstZ = Math.max(worstZ, z);
      assert.ok(z < 5, `level ${l}: curve ${curveAt(curve, ev.sigmas[l]!)} vs sampled ${sampled} (${z.toFixed(2)} sd)`);
    });
    process.stdout.write(
      `# recipe vs sampled profile: worst |Δ| ${worstZ.toFixed(2)} sd over ${ev.profile.length} levels\n`,
    );
  } finally {
    await ex.dispose();
    await learner.dispose();
  }

  // It is a --guidance-curve file.
  const s = await cli(
    'sample',
    '--model',
    'gmm-ring8',
    '--guidance-curve',
    file,
    '--n',
    '64',
    '--out',
    join(tmp, 's.npy'),
    '--json',
  );
  assert.equal(s.code, 0, s.stderr);
  const settings = lastJson(s.stdout)['settings'] as { guidanceCurve: SamplerCurve };
  assert.deepEqual(settings.guidanceCurve, curve);

  // An existing file is kept unless --force.
  const again = await cli('export', '--run', runDir, '--recipe', '--n', '64');
  assertUsageError(again, /recipe\.json already exists; choose another path or pass --force to replace it/);
  const forced = await cli('export', '--run', runDir, '--recipe', '--n', '64', '--force');
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { source: { n: number } }).source.n, 64);
  // Flags that belong to a recipe, and a recipe's name, are checked.
  assertUsageError(
    await cli('export', '--run', runDir, '--out', join(tmp, 'p.onnx'), '--n', '5'),
    /--n goes with --recipe/,
  );
  assertUsageError(
    await cli('export', '--run', runDir, '--recipe', '--out', join(tmp, 'r.onnx')),
    /a recipe is a JSON curve file; give a name ending in \.json/,
  );
  assertUsageError(await cli('export', '--recipe'), /needs one of --run RUN_DIR .* or --policy policy\.onnx/);
});

test('export --policy FILE --recipe: the recipe of an exported file, beside it', async () => {
  const onnx = join(tmp, 'files', 'policy.onnx');
  mkdirSync(join(tmp, 'files'), { recursive: true });
  const ex = await cli('export', '--run', runDir, '--out', onnx);
  assert.equal(ex.code, 0, ex.stderr);
  const r = await cli('export', '--policy', onnx, '--recipe', '--n', '256', '--json');
  assert.equal(r.code, 0, r.stderr);
  const file = join(tmp, 'files', 'policy.recipe.json');
  assert.equal(lastJson(r.stdout)['recipe'], file);
  const fromFile = parseCurveText(readFileSync(file, 'utf8'), file);
  assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { source: { policy: string } }).source.policy, onnx);
  // The file's logits are the run's within 1e-4, so its recipe is the run's.
  const learner = await loadRun(runDir, ring);
  try {
    const fromRun = await policyRecipe(learner, { n: 256, seed: 0, temperature: 1 });
    fromRun.points.forEach((p, l) => assert.ok(Math.abs(p.value - fromFile.points[l]!.value) < 1e-3, `level ${l}`));
  } finally {
    await learner.dispose();
  }
  assertUsageError(
    await cli('export', '--policy', onnx, '--out', join(tmp, 'x.onnx')),
    /export --policy FILE goes with --recipe/,
  );
});

test('a gamma run’s recipe is a churn curve (γ per step) for --churn-curve', async () => {
  const r = await cli('export', '--run', gammaDir, '--recipe', '--n', '256', '--json');
  assert.equal(r.code, 0, r.stderr);
  const file = join(gammaDir, 'recipe.json');
  const curve = parseCurveText(readFileSync(file, 'utf8'), file);
  assert.equal(curve.parameter, 'churn');
  assert.ok(curve.points.every((p) => p.value >= 0 && p.value <= GAMMA_MAX));
  assert.match(r.stdout, /"parameter":"churn"/);
  const s = await cli(
    'sample',
    '--model',
    'gmm-ring8',
    '--sampler',
    'edm',
    '--churn-curve',
    file,
    '--n',
    '32',
    '--out',
    join(tmp, 'g.npy'),
  );
  assert.equal(s.code, 0, s.stderr);
});

test('a renoise policy has no recipe: a clear error saying what to use instead', async () => {
  assert.throws(
    () => recipeParameter('renoise'),
    (e: Error) => e instanceof RecipeError && /eval --policy/.test(e.message),
  );
  const dir = join(tmp, 'runs', 'renoise');
  const { learner } = await runTraining({
    model: ring,
    config: tinyConfig({ intervention: 'renoise', steps: 5, nfeBudget: 15, iterations: 1 }),
    runDir: dir,
  });
  await learner.dispose();
  assertUsageError(
    await cli('export', '--run', dir, '--recipe'),
    /a renoise policy has no static recipe: .* compare it with EDM at equal NFE instead \(`eval --policy`\)/,
  );
  assert.ok(!existsSync(join(dir, 'recipe.json')), 'nothing written');
});

test("the table's recipe row samples a bare curve file as the run's base sampler with that curve", async () => {
  const file = join(runDir, 'recipe.json');
  const curve = parseCurve(JSON.parse(readFileSync(file, 'utf8')), file);
  // The same settings as a sampler row: they share one evaluation (the source is not part of them).
  const spec = {
    model: 'gmm-ring8',
    samples: 64,
    seed: 3,
    groups: [
      {
        title: 'cfg',
        rows: [
          { label: 'recipe', runs: [runDir], recipe: true },
          { label: 'the same curve', sampler: { sampler: 'heun', steps: 18, guidanceCurve: curve } },
        ],
      },
    ],
  };
  const specFile = join(tmp, 'spec.json');
  writeFileSync(specFile, JSON.stringify(spec));
  const out = join(tmp, 'table');
  const r = await cli('table', '--spec', specFile, '--out', out, '--json');
  assert.equal(r.code, 0, r.stderr);
  const t = tableResult.parse(JSON.parse(readFileSync(join(out, 'table.json'), 'utf8')) as unknown);
  const [recipeRow, samplerRow] = t.groups[0]!.rows;
  assert.equal(recipeRow!.kind, 'recipe');
  const e = recipeRow!.evaluations[0]!;
  assert.ok(e.source.kind === 'settings');
  const settings = e.source.settings;
  assert.deepEqual([settings.sampler, settings.steps, settings.guidance, settings.churn], ['heun', 18, 1, 0]);
  assert.deepEqual(settings.guidanceCurve, curve);
  assert.equal(e.run, runDir);
  assert.deepEqual(samplerRow!.evaluations[0]!.summary, e.summary, 'one evaluation for equal settings');
  assert.ok(Number.isFinite(e.summary['fid']));
});

test('Compare has the recipe row: the recipe of seed + 2, sampled with the same sampler, steps, seed and n', async () => {
  const n = 200;
  const seed = 3;
  const cmp = await comparePolicy(ring, runDir, { n, seed, metrics: ['fid'] });
  assert.deepEqual(
    cmp.rows.map((r) => r.kind),
    ['policy', 'recipe', 'plain'],
  );
  const row = cmp.rows[1]!;
  assert.equal(row.name, 'recipe (mean w per level)');
  assert.equal(row.nfe, 35);
  // Its numbers are those of the recipe measured on seed + 2 and sampled at the evaluation's seed.
  const learner = await loadRun(runDir, ring);
  const ex = await extractorForModel(ring);
  try {
    const recipe = await policyRecipe(learner, { n, seed: seed + 2, temperature: learner.config.temperature });
    const gen = await generate(ring, resolveSettings(ring, recipeSettings(learner.config, recipe)), {
      n,
      batch: 1024,
      seed,
      classes: 'random',
    });
    const reference = await referenceFor(ring, ex);
    const res = await evaluateSamples(
      { model: ring, extractor: ex, reference, samples: gen.samples, n, conditioning: gen.labels },
      ['fid'],
    );
    assert.equal(row.summary['fid'], res.summary['fid']);
    assert.equal(row.networkEvals, gen.networkEvals.reduce((a, b) => a + b, 0) / n);
  } finally {
    await ex.dispose();
    await learner.dispose();
  }
  // A gamma policy's recipe row is a churn curve.
  const g = await comparePolicy(ring, gammaDir, { n: 100, seed, metrics: ['fid'] });
  assert.deepEqual(
    g.rows.map((r) => [r.kind, r.name]),
    [
      ['policy', 'policy (gamma, kl, τ=1)'],
      ['recipe', 'recipe (mean γ per level)'],
      ['plain', 'no guidance / plain'],
      // EDM's S_churn window, with the policy's S_noise (1), not ImageNet-64's 1.003: like with like.
      ['edm-stochastic', 'EDM stochastic (ImageNet-64 S_churn, S_tmin, S_tmax; S_noise 1 as the policy)'],
    ],
  );
});

test('Compare of a policy with negative guidance: its mean curve is no curve file, so the recipe row is left out with a note', async () => {
  const dir = join(tmp, 'negative-w');
  const { learner } = await runTraining({
    model: ring,
    config: tinyConfig({ actions: [-2, 1], initAction: 0, initMass: 0.95, iterations: 1 }),
    runDir: dir,
  });
  await learner.dispose();
  const cmp = await comparePolicy(ring, dir, { n: 200, seed: 3, metrics: ['fid'] });
  assert.deepEqual(
    cmp.rows.map((r) => r.kind),
    ['policy', 'plain'],
  );
  assert.ok(
    cmp.flags.some((f) =>
      /^no recipe row: the recipe: points\[0\]\.value must be a guidance scale w in \[0, 100\], got -[\d.]+ \(.*a negative w is not allowed in a curve file\); a guidance curve file cannot hold this policy.s mean w per level$/.test(
        f,
      ),
    ),
    cmp.flags.join(' | '),
  );
});

test('Compare reports its progress row by row, and a second comparison at another τ reuses the rows that do not depend on the policy (issue 15)', async () => {
  const cache = new Map<string, unknown>();
  const seen: CompareProgress[] = [];
  const o = { n: 100, seed: 5, metrics: ['fid' as const], bestConstant: true, cache };
  const a = await comparePolicy(ring, runDir, { ...o, temperature: 1, onProgress: (p) => seen.push(p) });
  const labels = [...new Set(seen.map((p) => p.label))];
  assert.deepEqual(labels, [
    'policy (τ=1)',
    'recipe: the mean action per level',
    'search for the best constant and interval',
    ...a.rows.slice(1).map((r) => r.name),
  ]);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.done >= seen[i - 1]!.done, 'rows done never go back');
  for (const p of seen) assert.ok(p.done < p.total && p.step.done <= p.step.total, JSON.stringify(p));
  const search = seen.filter((p) => p.label.startsWith('search'));
  assert.equal(search[search.length - 1]!.step.unit, 'grid cells');
  // Another τ: the policy and its recipe are new, the rest is the same rows, and the search is not run again.
  const again: CompareProgress[] = [];
  const b = await comparePolicy(ring, runDir, { ...o, temperature: 0.8, onProgress: (p) => again.push(p) });
  assert.deepEqual(
    b.rows.map((r) => r.kind),
    a.rows.map((r) => r.kind),
  );
  assert.notDeepEqual(b.rows[0]!.summary, a.rows[0]!.summary, 'the policy at τ = 0.8 is another sampler');
  for (const kind of ['plain', 'best-constant', 'best-interval'])
    assert.deepEqual(
      b.rows.find((r) => r.kind === kind),
      a.rows.find((r) => r.kind === kind),
      kind,
    );
  assert.ok(
    !again.some((p) => p.label.startsWith('search') || p.label === 'no guidance / plain'),
    'nothing recomputed',
  );
  // The same rows computed afresh (no cache) are these numbers: a kept row is the row.
  const fresh = await comparePolicy(ring, runDir, { ...o, temperature: 0.8 });
  assert.deepEqual(fresh.rows, b.rows);
});

// ---- train --init-from-grid ----------------------------------------------------------------------

/** A finished grid over guidance × σ_lo × σ_hi whose cells score `fid(values)`, written to `dir`. */
async function fakeGrid(dir: string, fid: (v: Record<string, number>) => number): Promise<void> {
  const axes: GridAxis[] = [
    { name: 'guidance', values: [1.5, 2.5] },
    { name: 'guidance-sigma-lo', values: [0, 0.28] },
    { name: 'guidance-sigma-hi', values: [5.4, Infinity] },
  ];
  const config: GridConfig = {
    model: { name: ring.name, dir: ring.dir },
    base: { ...DEFAULT_SAMPLER_SETTINGS },
    axes,
    n: 100,
    seed: 0,
    classes: 'random',
    metrics: ['fid'],
    metric: 'fid',
  };
  const cells: GridCell[] = crossProduct(axes).map((values, index) => ({
    index,
    values,
    settings: applyAxisValues({ ...DEFAULT_SAMPLER_SETTINGS }, values),
    summary: { fid: fid(values) },
    nfePerSample: 35,
    networkEvalsPerSample: 70,
    denoiserEvaluations: 3500,
    networkEvals: 7000,
    seconds: 1,
    flags: [],
  }));
  await saveGridResults(dir, assembleResults(config, cells));
}

test('train --init-from-grid: the best interval as a window when it beats the best constant, else the constant', async () => {
  const train = (...extra: string[]) => {
    const a = parseTrainArgs(['--model', 'gmm-ring8', '--run-dir', join(tmp, 'never'), ...extra]);
    assert.ok(!a.help);
    return a;
  };
  // The interval w = 2.5, σ ∈ (0.28, 5.4] is best; the best constant is w = 1.5.
  const intervalBest = join(tmp, 'grid-interval');
  await fakeGrid(intervalBest, (v) => {
    const constant = v['guidance-sigma-lo'] === 0 && v['guidance-sigma-hi'] === Infinity;
    if (constant) return v['guidance'] === 1.5 ? 2 : 3;
    return v['guidance'] === 2.5 && v['guidance-sigma-lo'] === 0.28 && v['guidance-sigma-hi'] === 5.4 ? 1 : 4;
  });
  const a = train('--init-from-grid', intervalBest);
  assert.deepEqual(
    [a.config.initProfile, a.config.actions[a.config.initAction], a.config.initSigmaLo, a.config.initSigmaHi],
    ['window', 2.5, 0.28, 5.4],
  );
  assert.match(
    a.initNote!,
    /its best, the guidance interval w = 2\.5, σ ∈ \(0\.28, 5\.4\] \(fid 1\) — w = 2\.5 inside, w = 1 outside/,
  );
  // Its window is for the grid to set; a constant start is --init-action's.
  assert.throws(
    () => train('--init-from-grid', intervalBest, '--init-sigma-lo', '0.5'),
    (e: Error) =>
      e instanceof UsageError &&
      /best is the guidance interval .* sets the initial window; drop --init-sigma-lo/.test(e.message),
  );
  // gamma: the grid's guidance intervals do not apply; its best constant does (here w, the nearest γ action).
  const g = train('--intervention', 'gamma', '--init-from-grid', intervalBest);
  assert.deepEqual([g.config.initSigmaLo, g.config.initSigmaHi], [0.05, 50], "gamma's own window stays");
  assert.match(
    g.initNote!,
    /its best constant, guidance=1\.5 guidance-sigma-lo=0 guidance-sigma-hi=inf \(fid 2\) — initial action γ = 0$/,
  );

  // The constant w = 2.5 beats every interval: the constant, the window left at its defaults.
  const constantBest = join(tmp, 'grid-constant');
  await fakeGrid(constantBest, (v) =>
    v['guidance-sigma-lo'] === 0 && v['guidance-sigma-hi'] === Infinity && v['guidance'] === 2.5 ? 1 : 2,
  );
  const c = train('--init-from-grid', constantBest);
  assert.deepEqual(
    [c.config.initProfile, c.config.actions[c.config.initAction], c.config.initSigmaLo, c.config.initSigmaHi],
    ['window', 2.5, 0, Infinity],
  );
  // A window needs w = 1 outside it: actions without it are refused naming the grid and the fix.
  assert.throws(
    () => train('--init-from-grid', intervalBest, '--actions', '1.5,2.5,3'),
    (e: Error) => e instanceof UsageError && /--init-from-grid .*grid-interval: .*neutral action 1/.test(e.message),
  );
});

test('the recipe file format keeps accepting files without a source, and checks one that is there', () => {
  const bare = { parameter: 'guidance', points: [{ sigma: 1, value: 2 }] };
  assert.deepEqual(parseCurve(bare, 'a.json'), bare);
  assert.deepEqual(parseCurve({ ...bare, source: { run: 'runs/x', iteration: 3 } }, 'b.json'), bare);
  assert.throws(
    () => parseCurve({ ...bare, source: { run: 'runs/x', iterations: 3 } }, 'c.json'),
    /c\.json: "source" has unknown key "iterations"; it may hold run, policy, model, iteration/,
  );
  assert.throws(
    () => parseCurve({ ...bare, source: { n: -1 } }, 'd.json'),
    /source\.n must be a whole number ≥ 0, got -1/,
  );
  assert.ok(existsSync(runPaths(runDir).checkpoint));
});
