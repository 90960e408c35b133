// The results table (`table`, src/main/engine/apps/results-table.ts): on the bundled 2-D ring, with
// two tiny trained runs and a tiny grid, the command writes table.md, table.csv and table.json with
// the spec's rows; a runs row is the mean ± sd of its runs' own numbers (and a run's numbers are
// `eval --policy`'s); a second invocation evaluates nothing (every evaluation marked cached); a
// process killed mid-table loses only the evaluation in progress; bad specs are errors naming the
// row and the field, before anything is sampled.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { runTraining } from '../src/main/engine/apps/train';
import { sampleSd } from '../src/main/engine/apps/results-table';
import { samplerNfe, stepsWithin } from '../src/main/engine/samplers/cost';
import { generate, resolveSettings } from '../src/main/engine/samplers/generate';
import { evaluateSamples, referenceFor } from '../src/main/engine/metrics/evaluate';
import { extractorForModel } from '../src/main/engine/metrics/features';
import { formatMetric } from '../src/shared/metrics';
import { parseTableSpec, tableResult, type TableResult, type TableRowResult } from '../src/shared/results-table';
import { assertUsageError, cli, lastJson, spawnCli } from './helpers/cli';
import { tinyConfig } from './helpers/config';
import { decodePng } from './helpers/png';

const tmp = mkdtempSync(join(tmpdir(), 'ss-table-'));
process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
const SEED = 3;
const N = 64;

before(async () => {
  const ring = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'));
  try {
    // Two training seeds of one configuration.
    for (const [name, seed] of [
      ['a', 1],
      ['b', 2],
    ] as const) {
      const { learner } = await runTraining({
        model: ring,
        config: tinyConfig({ seed }),
        runDir: join(tmp, 'runs', name),
      });
      await learner.dispose();
    }
  } finally {
    await ring.dispose();
  }
  const g = await cli(
    'grid',
    '--model',
    'gmm-ring8',
    '--axis',
    'guidance=1,2',
    '--steps',
    '5',
    '--n',
    String(N),
    '--out',
    join(tmp, 'grid'),
  );
  assert.equal(g.code, 0, g.stderr);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The spec every passing test uses (paths relative to the spec file, in tmp). */
const SPEC = {
  model: 'gmm-ring8',
  samples: N,
  seed: SEED,
  batch: 32,
  groups: [
    {
      title: 'CFG (Heun)',
      rows: [
        { label: 'no guidance', sampler: { sampler: 'heun', steps: 6, guidance: 1 } },
        { label: 'best constant', grid: 'grid' },
        { label: 'learned KL', runs: ['runs/a', 'runs/b'] },
      ],
    },
    { title: 'renoise', rows: [{ label: 'EDM at policy NFE', equalNfeOf: 'learned KL' }] },
  ],
};

let specs = 0;
/** Writes `spec` to a new file in tmp; returns its path. */
function specFile(spec: unknown): string {
  const f = join(tmp, `spec-${specs++}.json`);
  writeFileSync(f, typeof spec === 'string' ? spec : JSON.stringify(spec, null, 2));
  return f;
}

const rowsOf = (t: TableResult): TableRowResult[] => t.groups.flatMap((g) => g.rows);
const readTable = (out: string): TableResult =>
  tableResult.parse(JSON.parse(readFileSync(join(out, 'table.json'), 'utf8')) as unknown);
const COLUMNS = ['fid', 'precision', 'recall', 'nfe', 'networkEvals'] as const;
const column = (e: TableRowResult['evaluations'][number], k: (typeof COLUMNS)[number]): number =>
  k === 'nfe' ? e.nfe : k === 'networkEvals' ? e.networkEvals : e.summary[k]!;

const out = join(tmp, 'out');

test('table writes table.md, table.csv and table.json with the rows of the spec; a runs row is the mean ± sd of its runs', async () => {
  const spec = specFile(SPEC);
  const r = await cli('table', '--spec', spec, '--out', out, '--json');
  assert.equal(r.code, 0, r.stderr);
  const res = lastJson(r.stdout) as { computed: number; cached: number };
  assert.equal(res.computed, 5, 'sampler + grid + 2 runs + equal NFE');
  assert.equal(res.cached, 0);
  for (const f of ['table.md', 'table.csv', 'table.json']) assert.ok(existsSync(join(out, f)), f);

  const t = readTable(out);
  assert.equal(t.samples, N);
  assert.equal(t.seed, SEED);
  assert.deepEqual(
    t.groups.map((g) => [g.title, g.rows.map((x) => [x.label, x.kind])]),
    [
      [
        'CFG (Heun)',
        [
          ['no guidance', 'sampler'],
          ['best constant', 'grid'],
          ['learned KL', 'runs'],
        ],
      ],
      ['renoise', [['EDM at policy NFE', 'equal-nfe']]],
    ],
  );
  const [plain, grid, learned, equal] = rowsOf(t) as [TableRowResult, TableRowResult, TableRowResult, TableRowResult];
  for (const row of rowsOf(t)) {
    assert.ok(row.complete, row.label);
    for (const k of COLUMNS) assert.ok(Number.isFinite(row.mean[k]), `${row.label}: ${k}`);
    assert.ok(row.evaluations.every((e) => !e.cached));
  }
  // Heun with 6 steps: 2·6 − 1 evaluations, one network pass each (w = 1).
  assert.equal(plain.mean['nfe'], samplerNfe('heun', 6));
  assert.equal(plain.mean['networkEvals'], samplerNfe('heun', 6));
  assert.equal(plain.sd, null, 'one evaluation: no spread');
  // The grid row samples the grid's best settings again, at the table's seed and samples.
  const best = (
    JSON.parse(readFileSync(join(tmp, 'grid', 'results.json'), 'utf8')) as { best: { values: { guidance: number } } }
  ).best.values.guidance;
  const gridSource = grid.evaluations[0]!.source;
  assert.equal(gridSource.kind === 'settings' && gridSource.settings.guidance, best);
  assert.equal(grid.mean['networkEvals'], samplerNfe('heun', 5) * (best === 1 ? 1 : 2));

  // The learned row: each run's numbers, their mean and sample sd (n − 1).
  assert.deepEqual(
    learned.evaluations.map((e) => e.run),
    ['runs/a', 'runs/b'],
  );
  for (const k of COLUMNS) {
    const per = learned.evaluations.map((e) => column(e, k));
    assert.ok(Math.abs(learned.mean[k]! - (per[0]! + per[1]!) / 2) <= 1e-12 * Math.abs(learned.mean[k]!), k);
    const sd = Math.abs(per[0]! - per[1]!) / Math.SQRT2; // the sample sd of two numbers
    assert.ok(Math.abs(learned.sd![k]! - sd) <= 1e-9 * Math.max(1, sd), `${k}: sd ${learned.sd![k]} vs ${sd}`);
    assert.ok(Math.abs(sampleSd(per) - sd) <= 1e-9 * Math.max(1, sd));
  }
  assert.notEqual(
    learned.evaluations[0]!.summary['fid'],
    learned.evaluations[1]!.summary['fid'],
    'two runs, two policies',
  );
  // A run's numbers are `eval --policy`'s for the same seed and sample count.
  const ev = await cli(
    'eval',
    '--policy',
    join(tmp, 'runs', 'a'),
    '--n',
    String(N),
    '--seed',
    String(SEED),
    '--metrics',
    'fid,precision,recall',
    '--json',
  );
  assert.equal(ev.code, 0, ev.stderr);
  const policyRow = (
    lastJson(ev.stdout) as { rows: { kind: string; nfe: number; summary: Record<string, number> }[] }
  ).rows.find((x) => x.kind === 'policy')!;
  assert.deepEqual(learned.evaluations[0]!.summary, policyRow.summary);
  assert.equal(learned.evaluations[0]!.nfe, policyRow.nfe);

  // EDM at the learned row's NFE: the most Heun steps within its mean NFE.
  const steps = stepsWithin('heun', learned.mean['nfe']!);
  const eqSource = equal.evaluations[0]!.source;
  assert.equal(eqSource.kind === 'settings' && eqSource.settings.steps, steps);
  assert.ok(equal.mean['nfe']! <= learned.mean['nfe']!);
  assert.match(
    equal.note ?? '',
    new RegExp(`heun ${steps} steps: NFE ${samplerNfe('heun', steps)} [=≤] .*"learned KL"`),
  );

  // Profiles: the mean over the runs, then each run's, as PNG heat maps (one row per level, one column per action).
  assert.deepEqual(learned.profiles, [
    'profiles/learned-kl.png',
    'profiles/learned-kl-1.png',
    'profiles/learned-kl-2.png',
  ]);
  const profile = learned.evaluations[0]!.profile!;
  assert.equal(profile.profile.length, tinyConfig().steps);
  for (const f of learned.profiles) {
    const png = decodePng(readFileSync(join(out, f)));
    assert.equal(png.width, profile.actions.length * 24, f);
    assert.equal(png.height, profile.profile.length * 24, f);
  }

  // table.md: every row, learned cells as "mean ± sd" in the app's digits, the profile pictures.
  const md = readFileSync(join(out, 'table.md'), 'utf8');
  for (const row of rowsOf(t)) assert.match(md, new RegExp(`\\| ${row.label} \\|`));
  assert.ok(
    md.includes(`${formatMetric('fid', learned.mean['fid'])} ± ${formatMetric('fid', learned.sd!['fid'])}`),
    md,
  );
  assert.ok(md.includes(`| ${formatMetric('fid', plain.mean['fid'])} |`));
  assert.ok(md.includes('](profiles/learned-kl.png)'));
  // Each run's picture is captioned by its folder's name, not by the path the spec reached it by.
  const run1 = learned.evaluations[0]!.run!;
  assert.notEqual(basename(run1), run1);
  assert.ok(md.includes(`![${basename(run1)}](profiles/learned-kl-1.png)`), md);
  assert.equal(md.includes(`![${run1}]`), false);
  assert.equal(r.stdout.includes('| learned KL | 2 |'), false, 'with --json stdout is the result object');
  // table.csv: a header and one line per row, full-precision numbers.
  const csv = readFileSync(join(out, 'table.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 5);
  assert.equal(csv[0]!.split(',').slice(0, 7).join(','), 'group,label,kind,evaluations,complete,fid,fid_sd');
  assert.ok(
    csv[3]!.startsWith(`CFG (Heun),learned KL,runs,2,true,${learned.mean['fid']},${learned.sd!['fid']},`),
    csv[3],
  );
});

test('a second invocation evaluates nothing: every evaluation comes from the cache, marked cached', async () => {
  const spec = specFile(SPEC);
  const first = readTable(out);
  const r = await cli('table', '--spec', spec, '--out', out, '--json');
  assert.equal(r.code, 0, r.stderr);
  const res = lastJson(r.stdout) as { computed: number; cached: number };
  assert.deepEqual([res.computed, res.cached], [0, 5]);
  assert.match(r.stderr, /row \\"learned KL\\" \(groups\[0\]\.rows\[2\]\), 2\/2 \(runs\/b\): cached/);
  assert.doesNotMatch(r.stderr, /"type":"progress"/, 'nothing sampled');
  const again = readTable(out);
  for (const row of rowsOf(again))
    assert.ok(
      row.evaluations.every((e) => e.cached),
      row.label,
    );
  assert.deepEqual(
    rowsOf(again).map((x) => x.mean),
    rowsOf(first).map((x) => x.mean),
  );
  // The key is what determines the numbers, not a row's label: a renamed row keeps its evaluation, and a
  // sampler row with the grid's best settings is the grid row's evaluation (in a copy of the table).
  const copy = join(tmp, 'out-renamed');
  cpSync(out, copy, { recursive: true });
  const bestSettings = (
    JSON.parse(readFileSync(join(tmp, 'grid', 'results.json'), 'utf8')) as { best: { settings: unknown } }
  ).best.settings;
  const renamed = {
    ...SPEC,
    groups: [
      {
        title: 'renamed',
        rows: [
          { label: 'plain Heun', sampler: { sampler: 'heun', steps: 6, guidance: 1 } },
          { label: 'the grid best, written out', sampler: bestSettings },
        ],
      },
    ],
  };
  const r2 = await cli('table', '--spec', specFile(renamed), '--out', copy, '--json');
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual((lastJson(r2.stdout) as { computed: number; cached: number }).computed, 0);
  // Nor by a run's path: a run named otherwise (as a part of a table may name it) is the same
  // evaluation, shown under this spec's name.
  const moved = {
    ...SPEC,
    groups: [{ title: 'moved', rows: [{ label: 'learned KL', runs: [join(tmp, 'runs', 'a'), 'runs/../runs/b'] }] }],
  };
  const r3 = await cli('table', '--spec', specFile(moved), '--out', copy, '--json');
  assert.equal(r3.code, 0, r3.stderr);
  assert.deepEqual((lastJson(r3.stdout) as { computed: number; cached: number }).computed, 0);
  assert.deepEqual(
    rowsOf(readTable(copy))[0]!.evaluations.map((e) => e.run),
    [join(tmp, 'runs', 'a'), 'runs/../runs/b'],
  );
  // The dry run reads the cache: everything measured, nothing to do.
  const dry = await cli('table', '--spec', spec, '--out', out, '--dry-run', '--json');
  assert.equal(dry.code, 0, dry.stderr);
  const d = lastJson(dry.stdout) as {
    evaluationsToDo: number;
    rows: { cached: number; evaluations: number; estimate: { basis: string } }[];
  };
  assert.equal(d.evaluationsToDo, 0);
  assert.ok(d.rows.every((x) => x.cached === x.evaluations && x.estimate.basis === 'measured'));
});

test('--dry-run checks the spec and estimates the cost without sampling or writing', async () => {
  const fresh = join(tmp, 'dry-out');
  const r = await cli('table', '--spec', specFile(SPEC), '--out', fresh, '--dry-run', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!existsSync(fresh), 'a dry run writes nothing');
  const d = lastJson(r.stdout) as {
    evaluationsToDo: number;
    networkPassesToDo: number;
    rows: {
      label: string;
      estimate: { nfe: number; networkEvals: number; basis: string };
      networkPassesToDo: number;
    }[];
  };
  assert.equal(d.evaluationsToDo, 5);
  const plain = d.rows.find((x) => x.label === 'no guidance')!;
  assert.deepEqual(plain.estimate, { nfe: 11, networkEvals: 11, basis: 'settings' });
  assert.equal(plain.networkPassesToDo, 11 * N);
  // Measured NFE of the same rows (the first test's table) agree with the settings' estimates.
  const t = readTable(out);
  for (const row of rowsOf(t).filter((x) => x.kind === 'sampler' || x.kind === 'grid' || x.kind === 'equal-nfe')) {
    const est = d.rows.find((x) => x.label === row.label)!.estimate;
    assert.equal(est.nfe, row.mean['nfe'], row.label);
    assert.equal(est.networkEvals, row.mean['networkEvals'], row.label);
  }
  const human = await cli('table', '--spec', specFile(SPEC), '--dry-run');
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /dry run: nothing sampled/);
  assert.match(human.stdout, /learned KL\s+runs\s+0\/2/);
});

test('a table killed mid-run keeps every finished evaluation; the next run evaluates only the rest', async () => {
  const killed = join(tmp, 'killed');
  const spec = specFile(SPEC);
  let sent = false;
  const r = await spawnCli(['table', '--spec', spec, '--out', killed, '--json'], (stderr, child) => {
    // The first evaluation (a sampler row) is saved before the second one starts.
    if (sent || (stderr.match(/: evaluating \d+ samples/g) ?? []).length < 2) return;
    sent = true;
    child.kill('SIGKILL');
  });
  assert.ok(sent, r.stderr.slice(-500));
  assert.equal(r.signal, 'SIGKILL');
  const saved = readdirSync(join(killed, 'cache')).filter((f) => f.endsWith('.json')).length;
  assert.ok(saved >= 1 && saved < 5, `${saved} saved`);
  const again = await cli('table', '--spec', spec, '--out', killed, '--json');
  assert.equal(again.code, 0, again.stderr);
  const res = lastJson(again.stdout) as { computed: number; cached: number };
  assert.deepEqual([res.computed, res.cached], [5 - saved, saved]);
  // The same numbers as the table that was never interrupted.
  assert.deepEqual(
    rowsOf(readTable(killed)).map((x) => x.mean),
    rowsOf(readTable(out)).map((x) => x.mean),
  );
});

test('a "mixed" equal-NFE row draws the steps within and reaching the policy\'s mean NFE on one seed and mixes them to exactly it', async () => {
  const ring = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'));
  const extractor = await extractorForModel(ring);
  try {
    const { learner } = await runTraining({
      model: ring,
      config: tinyConfig({ intervention: 'renoise', steps: 5, nfeBudget: 15, iterations: 1, seed: 4 }),
      runDir: join(tmp, 'runs', 'renoise'),
    });
    await learner.dispose();
    const spec = specFile({
      model: 'gmm-ring8',
      samples: N,
      seed: SEED,
      batch: 32,
      groups: [
        {
          title: 'renoise',
          rows: [
            { label: 'learned', runs: ['runs/renoise'] },
            { label: 'within', equalNfeOf: 'learned' },
            { label: 'reaching', equalNfeOf: 'learned', match: 'reaching' },
            { label: 'mixed', equalNfeOf: 'learned', match: 'mixed' },
          ],
        },
      ],
    });
    const dir = join(tmp, 'mixed');
    const r = await cli('table', '--spec', spec, '--out', dir, '--json');
    assert.equal(r.code, 0, r.stderr);
    const [learned, within, reaching, mixed] = rowsOf(readTable(dir)) as TableRowResult[];
    const nfe = learned!.mean['nfe']!;
    assert.ok(!Number.isInteger(nfe), `the policy's mean NFE ${nfe} must fall between two step counts`);
    const src = mixed!.evaluations[0]!.source;
    assert.ok(src.kind === 'mixed', JSON.stringify(src));
    const stepsOf = (row: TableRowResult): number | null => {
      const s = row.evaluations[0]!.source;
      return s.kind === 'settings' ? s.settings.steps : null;
    };
    assert.equal(src.below.steps, stepsOf(within!));
    assert.equal(src.above.steps, stepsOf(reaching!));
    assert.equal(src.above.steps, src.below.steps + 1);
    // Mean NFE: the policy's, up to half a sample's share of one step (Heun: 2 evaluations).
    assert.ok(Math.abs(mixed!.mean['nfe']! - nfe) <= 1 / N, `${mixed!.mean['nfe']} vs ${nfe}`);
    assert.ok(src.fromAbove > 0 && src.fromAbove < N);
    assert.match(
      mixed!.note ?? '',
      new RegExp(`heun ${src.below.steps} steps .* and ${src.above.steps} .* on ${src.fromAbove} of ${N} samples`),
    );
    // The same numbers from the two samplers drawn here, on the table's seed, the first fromAbove
    // samples taken from the one with more steps.
    const opts = { n: N, batch: 32, seed: SEED, classes: 'random' as const };
    const draw = (s: typeof src.below): ReturnType<typeof generate> => generate(ring, resolveSettings(ring, s), opts);
    const [lo, hi] = [await draw(src.below), await draw(src.above)];
    const samples = Float32Array.from(lo.samples);
    samples.set(hi.samples.subarray(0, src.fromAbove * ring.dim));
    const labels = Int32Array.from(lo.labels!, (l, i) => (i < src.fromAbove ? hi.labels![i]! : l));
    assert.deepEqual(labels, lo.labels, 'one seed: sample i has one class either way');
    const reference = await referenceFor(ring, extractor);
    const res = await evaluateSamples({ model: ring, extractor, reference, samples, n: N, conditioning: labels }, [
      'fid',
      'precision',
      'recall',
    ]);
    assert.deepEqual(mixed!.evaluations[0]!.summary, res.summary);
    assert.notEqual(res.summary['fid'], within!.mean['fid']);
    assert.notEqual(res.summary['fid'], reaching!.mean['fid']);
  } finally {
    await extractor.dispose();
    await ring.dispose();
  }
});

test("a recipe row evaluates each run's recipe.json as sampler settings over the run's base sampler", async () => {
  const runs = ['ra', 'rb'].map((n, i) => {
    const dir = join(tmp, 'recipes', n);
    cpSync(join(tmp, 'runs', i === 0 ? 'a' : 'b'), dir, { recursive: true });
    writeFileSync(join(dir, 'recipe.json'), JSON.stringify({ guidance: 1.5 + i / 2 }));
    return `recipes/${n}`;
  });
  const spec = {
    ...SPEC,
    groups: [{ title: 'recipes', rows: [{ label: 'recipe of KL', runs, recipe: true }] }],
  };
  const r = await cli('table', '--spec', specFile(spec), '--out', join(tmp, 'recipe-out'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const [row] = rowsOf(readTable(join(tmp, 'recipe-out'))) as [TableRowResult];
  assert.equal(row.kind, 'recipe');
  assert.deepEqual(
    row.evaluations.map(
      (e) =>
        e.source.kind === 'settings' && [
          e.source.settings.sampler,
          e.source.settings.steps,
          e.source.settings.guidance,
        ],
    ),
    [
      ['heun', tinyConfig().steps, 1.5],
      ['heun', tinyConfig().steps, 2],
    ],
  );
  assert.deepEqual(
    row.evaluations.map((e) => e.run),
    runs,
  );
  assert.ok(row.sd !== null && row.sd['fid']! > 0);
  assert.deepEqual(row.profiles, [], 'a recipe is static: no learned profile');

  // A recipe's settings go through the sampler settings' schema, named by the file.
  writeFileSync(join(tmp, 'recipes', 'ra', 'recipe.json'), JSON.stringify({ guidanse: 2 }));
  assertUsageError(
    await cli('table', '--spec', specFile(spec), '--out', join(tmp, 'recipe-out-2')),
    /row "recipe of KL" \(groups\[0\]\.rows\[0\]\): .*ra[\\/]recipe\.json: unknown setting "guidanse"/,
  );
  // A bare curve file (the --guidance-curve format, what `export --recipe` writes) is checked as one,
  // named by the file (test/recipe.test.ts evaluates a good one).
  writeFileSync(
    join(tmp, 'recipes', 'ra', 'recipe.json'),
    JSON.stringify({ parameter: 'guidance', points: [{ sigma: 1, value: -2 }] }),
  );
  assertUsageError(
    await cli('table', '--spec', specFile(spec), '--out', join(tmp, 'recipe-out-2')),
    /row "recipe of KL" \(groups\[0\]\.rows\[0\]\): .*recipe\.json: points\[0\]\.value must be a guidance scale w in \[0, 100\], got -2/,
  );
});

test("a grid row takes the grid's best cell, an interval included, and names it; an unfinished grid is refused; a curve row's dry-run passes are an upper bound", async () => {
  // On this grid the interval w = 3 for σ ≤ 1 beats the constant w = 3 by far (FID 0.25 vs 0.83 at n 64).
  const dir = join(tmp, 'grid-interval');
  const made = await cli(
    'grid',
    '--model',
    'gmm-ring8',
    '--steps',
    '5',
    '--n',
    String(N),
    '--axis',
    'guidance=3',
    '--axis',
    'guidance-sigma-hi=1,inf',
    '--out',
    dir,
  );
  assert.equal(made.code, 0, made.stderr);
  const saved = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as {
    best: { values: Record<string, number> };
  };
  assert.deepEqual(saved.best.values, { guidance: 3, 'guidance-sigma-hi': 1 }, 'the interval is the best cell');
  const spec = {
    ...SPEC,
    groups: [{ title: 'CFG', rows: [{ label: 'best of the interval grid', grid: 'grid-interval' }] }],
  };
  const o = join(tmp, 'out-interval');
  const planned = await cli('table', '--spec', specFile(spec), '--dry-run');
  assert.match(
    planned.stdout,
    /best of the interval grid: the best of 2 cells of grid-interval: guidance=3 guidance-sigma-hi=1 /,
  );
  const r = await cli('table', '--spec', specFile(spec), '--out', o);
  assert.equal(r.code, 0, r.stderr);
  const [row] = rowsOf(readTable(o)) as [TableRowResult];
  const source = row.evaluations[0]!.source;
  assert.ok(source.kind === 'settings', JSON.stringify(source));
  assert.deepEqual([source.settings.guidance, source.settings.guidanceSigmaHi], [3, 1]);
  assert.match(
    readFileSync(join(o, 'table.md'), 'utf8'),
    /best of the interval grid: the best of 2 cells of grid-interval: guidance=3 guidance-sigma-hi=1 \(fid 0\.\d+ on 64 samples, seed 0\)/,
  );
  // The dry run's network passes are an upper bound for guided rows, a guidance curve's included.
  const curve = {
    parameter: 'guidance',
    points: [
      { sigma: 0.5, value: 1 },
      { sigma: 2, value: 3 },
    ],
  };
  const curveSpec = {
    ...SPEC,
    groups: [{ title: 'c', rows: [{ label: 'curve', sampler: { guidanceCurve: curve } }] }],
  };
  const dry = await cli('table', '--spec', specFile(curveSpec), '--dry-run', '--json');
  assert.equal(dry.code, 0, dry.stderr);
  const est = (lastJson(dry.stdout) as { rows: { estimate: { nfe: number; networkEvals: number } }[] }).rows[0]!;
  const co = join(tmp, 'out-curve');
  assert.equal((await cli('table', '--spec', specFile(curveSpec), '--out', co)).code, 0);
  const measured = (rowsOf(readTable(co)) as [TableRowResult])[0].mean['networkEvals']!;
  assert.deepEqual(est.estimate, { nfe: 35, networkEvals: 70, basis: 'settings' }); // Heun 18 steps
  assert.ok(measured > 35 && measured < 70, `measured ${measured}`);
  // A grid cut back to one cell (as a kill leaves it) is not finished: its best is not the table's.
  const cut = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { cells: unknown[] };
  cut.cells = cut.cells.slice(1);
  writeFileSync(join(dir, 'results.json'), JSON.stringify(cut));
  assertUsageError(
    await cli('table', '--spec', specFile(spec), '--out', join(tmp, 'out-interval-2')),
    /grid-interval[\\/]results\.json has 1 of 2 cells done; finish it \(the same `grid` command continues it\)/,
  );
  // A dry run plans it with its best so far, and says so.
  const early = await cli('table', '--spec', specFile(spec), '--dry-run');
  assert.equal(early.code, 0, early.stderr);
  assert.match(
    early.stdout,
    /the one cell of grid-interval: .* so far: 1 of 2 cells are done, and the table takes a grid once it is finished/,
  );
});

test('a run stopped short of its iterations, a recipe of another iteration and runs of two configurations are refused; a dry run names the unfinished run', async () => {
  const copyRun = (name: string, edit: (learner: Record<string, unknown>) => void): string => {
    const dir = join(tmp, 'runs', name);
    cpSync(join(tmp, 'runs', 'b'), dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { learner: Record<string, unknown> };
    edit(cfg.learner);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
    return `runs/${name}`;
  };
  const iterations = tinyConfig().iterations;
  // Its target raised past its checkpoint: what a run stopped early (or still training) looks like.
  const stopped = copyRun('stopped', (l) => (l['iterations'] = iterations + 5));
  const rkl = copyRun('rkl', (l) => (l['divergence'] = 'rkl'));
  const evalOnly = copyRun('eval-only', (l) => (l['evalSamples'] = 99));
  const row = (r: Record<string, unknown>): string => specFile({ ...SPEC, groups: [{ title: 'G', rows: [r] }] });
  const o = join(tmp, 'refused-out');
  const unfinished = new RegExp(
    `row "learned" .*: runs/stopped: stopped at iteration ${iterations} of its ${iterations + 5}; finish it \\(\`train --resume .*stopped\` continues it\\) before the table takes it`,
  );
  assertUsageError(
    await cli('table', '--spec', row({ label: 'learned', runs: ['runs/a', stopped] }), '--out', o),
    unfinished,
  );
  assertUsageError(
    await cli('table', '--spec', row({ label: 'learned', runs: [stopped], recipe: true }), '--out', o),
    unfinished,
  );
  assert.ok(!existsSync(o), 'nothing written');
  const dry = await cli('table', '--spec', row({ label: 'learned', runs: ['runs/a', stopped] }), '--dry-run');
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(
    dry.stdout,
    new RegExp(
      `not finished: runs/stopped at iteration ${iterations} of ${iterations + 5}; the table takes a run once it is finished`,
    ),
  );
  assertUsageError(
    await cli('table', '--spec', row({ label: 'learned', runs: ['runs/a', rkl] }), '--out', o),
    /row "learned" .*: runs\/rkl has divergence "rkl", but runs\/a has "kl"; the runs of one row are training seeds of one configuration \(they may differ in seed, evalEvery, evalSamplesPeriodic, evalSamples, rolloutBatch only\)/,
  );
  // Nor a run trained for longer (its target raised with --resume, and reached).
  const longer = copyRun('longer', (l) => (l['iterations'] = iterations + 5));
  const cp = JSON.parse(readFileSync(join(tmp, 'runs', 'longer', 'checkpoint.json'), 'utf8')) as { iteration: number };
  cp.iteration = iterations + 5;
  writeFileSync(join(tmp, 'runs', 'longer', 'checkpoint.json'), JSON.stringify(cp));
  assertUsageError(
    await cli('table', '--spec', row({ label: 'learned', runs: ['runs/a', longer] }), '--out', o),
    new RegExp(
      `row "learned" .*: runs/longer was trained for ${iterations + 5} iterations, but runs/a for ${iterations}; the runs of one row are training seeds`,
    ),
  );
  // How a run evaluated itself does not make it another configuration.
  const ok = await cli('table', '--spec', row({ label: 'learned', runs: ['runs/a', evalOnly] }), '--dry-run');
  assert.equal(ok.code, 0, ok.stderr);
  // A recipe exported before the run trained on pairs the policy's row with an older policy.
  const curve = (iteration: number): string =>
    JSON.stringify({ parameter: 'guidance', points: [{ sigma: 1, value: 1.5 }], source: { iteration } });
  writeFileSync(join(tmp, 'runs', 'eval-only', 'recipe.json'), curve(iterations - 1));
  assertUsageError(
    await cli('table', '--spec', row({ label: 'recipe', runs: [evalOnly], recipe: true }), '--out', o),
    new RegExp(
      `row "recipe" .*eval-only[\\\\/]recipe\\.json: was exported at iteration ${iterations - 1}, but the run's checkpoint is at iteration ${iterations}; export it again \\(\`export --run .*eval-only --recipe\`\\)`,
    ),
  );
  writeFileSync(join(tmp, 'runs', 'eval-only', 'recipe.json'), curve(iterations));
  const fine = await cli('table', '--spec', row({ label: 'recipe', runs: [evalOnly], recipe: true }), '--dry-run');
  assert.equal(fine.code, 0, fine.stderr);
  assert.ok(!existsSync(o), 'nothing written');
});

test('bad specs are clear errors naming the row and the field, and nothing is sampled or written', async () => {
  const other = join(tmp, 'runs', 'other-model');
  cpSync(join(tmp, 'runs', 'a'), other, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(other, 'config.json'), 'utf8')) as { model: { name: string } };
  cfg.model.name = 'gmm64';
  writeFileSync(join(other, 'config.json'), JSON.stringify(cfg));
  mkdirSync(join(tmp, 'empty-grid'), { recursive: true });
  const ring = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'));
  try {
    const { learner } = await runTraining({
      model: ring,
      config: tinyConfig({ intervention: 'renoise', steps: 5, nfeBudget: 15, iterations: 1 }),
      runDir: join(tmp, 'runs', 'renoise-no-recipe'),
    });
    await learner.dispose();
  } finally {
    await ring.dispose();
  }
  const row = (r: Record<string, unknown>, more: Record<string, unknown> = {}): unknown => ({
    ...SPEC,
    ...more,
    groups: [{ title: 'G', rows: [r] }],
  });
  const cases: [unknown, RegExp][] = [
    [
      row({ label: 'r', runs: ['runs/renoise-no-recipe'], recipe: true }),
      /row "r" .*runs\/renoise-no-recipe: is a renoise run, which has no recipe .*; drop "recipe" from this row/,
    ],
    [
      row({ label: 'best', grd: 'grid' }),
      /row "best" \(groups\[0\]\.rows\[0\]\): unknown key "grd"; a row takes "label" and one of/,
    ],
    [{ ...SPEC, sampels: 10 }, /unknown key "sampels"; a spec takes "model", "title", "samples"/],
    [
      row({ label: 'learned', runs: ['runs/a', 'runs/nope'] }),
      /row "learned" \(groups\[0\]\.rows\[0\]\): runs\/nope: no such run directory/,
    ],
    [
      row({ label: 'learned', runs: ['runs/a', 'runs/other-model'] }),
      /row "learned" \(groups\[0\]\.rows\[0\]\): runs\/other-model was trained on "gmm64", not on the table's model "gmm-ring8"/,
    ],
    [{ ...SPEC, groups: [{ title: 'G', rows: [] }] }, /group "G" \(groups\[0\]\): has no rows; give at least one/],
    [{ ...SPEC, groups: [] }, /groups must be a list of at least one group/],
    [
      row({ label: 'w', sampler: { guidance: 1000 } }),
      /row "w" \(groups\[0\]\.rows\[0\]\): sampler: guidance must be a number in \[-100, 100\], got 1000/,
    ],
    [
      row({ label: 'w', sampler: { steps: 6 }, grid: 'grid' }),
      /row "w" .*: gives both "grid", "sampler"; a row evaluates one thing/,
    ],
    [row({ label: 'x' }), /row "x" .*: says nothing to evaluate/],
    [row({ label: '', grid: 'grid' }), /groups\[0\]\.rows\[0\]: label must be a non-empty string/],
    [row({ label: 'b', grid: 'empty-grid' }), /row "b" .*empty-grid[\\/]results\.json: not found; run `grid` first/],
    [row({ label: 'e', equalNfeOf: 'missing' }), /row "e" .*: equalNfeOf: no row is labelled "missing"/],
    [
      {
        ...SPEC,
        groups: [
          {
            title: 'G',
            rows: [
              { label: 'a', sampler: {} },
              { label: 'e', equalNfeOf: 'a' },
            ],
          },
        ],
      },
      /row "e" .*: equalNfeOf: "a" is a sampler row; it must name a runs row/,
    ],
    [
      {
        ...SPEC,
        groups: [
          { title: 'G', rows: [{ label: 'a', sampler: {} }] },
          { title: 'H', rows: [{ label: 'a', grid: 'grid' }] },
        ],
      },
      /row "a" appears twice \(groups\[0\]\.rows\[0\] and groups\[1\]\.rows\[0\]\)/,
    ],
    [row({ label: 'r', runs: ['runs/a'], recipe: true }), /row "r" .*: runs\/a: has no recipe\.json/],
    [row({ label: 'g', grid: 'grid', recipe: true }), /row "g" .*: "recipe" does not apply to a grid row/],
    [
      row({ label: 't', runs: ['runs/a'], temperature: 0 }),
      /row "t" .*: temperature must be a number in \[0\.01, 100\], got 0/,
    ],
    [row({ label: 's', sampler: {} }, { samples: 1 }), /samples must be a whole number in \[2, 100000\], got 1/],
    [row({ label: 's', sampler: {} }, { model: 'no-such-model' }), /no model "no-such-model"/],
    [row({ label: 's', sampler: {} }, { reference: 'truth' }), /reference must be one of data, exact .* got "truth"/],
    ['{ "model": ', /not valid JSON/],
  ];
  for (const [spec, message] of cases) {
    const o = join(tmp, `bad-out-${specs}`);
    const r = await cli('table', '--spec', specFile(spec), '--out', o);
    assertUsageError(r, message);
    assert.ok(!existsSync(o), `${message}: nothing written`);
    assert.doesNotMatch(r.stderr, /"type":"progress"|evaluating/, 'nothing sampled');
  }
  assertUsageError(await cli('table', '--out', join(tmp, 'x')), /table needs --spec FILE/);
  assertUsageError(await cli('table', '--spec', specFile(SPEC)), /table needs --out DIR/);
  // The same checks without the command line: the file and the place in every message.
  assert.throws(
    () => parseTableSpec({ model: 'm', groups: [{ title: 'G', rows: [{ label: 'x', runs: [] }] }] }, 'f.json'),
    {
      name: 'TableSpecError',
      message: /^f\.json: row "x" \(groups\[0\]\.rows\[0\]\): runs must be a list of at least one run directory/,
    },
  );
});

test('table --help describes the spec', async () => {
  const r = await cli('table', '--help');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: sampler-studio table --spec SPEC\.json --out DIR/);
  assert.match(r.stdout, /"samples": a whole number in \[2, 100000\] \(default 10000\)/);
  assert.match(r.stdout, /"equalNfeOf": "LABEL"/);
  const all = await cli('--help');
  assert.match(all.stdout, /table --spec SPEC\.json --out DIR/);
});
