// Run directories (src/main/engine/runs/): files written before the discriminator had one name still
// load; a damaged config.json, checkpoint.json, metrics line or profile is an error naming the file
// and the field, through the CLI as well, and nothing in the run is written over.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { defaultConfig, type LearnerConfig } from '../src/main/engine/learner/config';
import { initTf } from '../src/main/engine/learner/backend';
import { runTraining } from '../src/main/engine/apps/train';
import { readMetrics, readProfile, readRunConfig, runPaths } from '../src/main/engine/runs/files';
import { loadRun } from '../src/main/engine/runs/load';
import { RunFileError } from '../src/shared/run-files';
import { assertUsageError, cli } from './helpers/cli';

const tmp = mkdtempSync(join(tmpdir(), 'ss-runs-'));
process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
let ring: Model;
/** A finished 2-iteration run with one evaluation; tests work on copies of it. */
const base = join(tmp, 'base');

function tiny(extra: Partial<LearnerConfig> = {}): LearnerConfig {
  return {
    ...defaultConfig('cfg'),
    trajectories: 64,
    rolloutBatch: 64,
    discriminatorInitSteps: 3,
    discriminatorSteps: 2,
    discriminatorBatch: 32,
    ppoEpochs: 1,
    ppoMinibatch: 256,
    hidden: 16,
    evalEvery: 0,
    evalSamples: 128,
    iterations: 2,
    ...extra,
  };
}

before(async () => {
  await initTf();
  ring = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'));
  const { learner } = await runTraining({ model: ring, config: tiny(), runDir: base });
  await learner.dispose();
});
after(async () => {
  await ring.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

let copies = 0;
/** A copy of the base run, with `edit` applied to the parsed JSON of `file`. */
function copyRun(file?: 'config.json' | 'checkpoint.json', edit?: (json: Record<string, unknown>) => void): string {
  const dir = join(tmp, `run-${copies++}`);
  cpSync(base, dir, { recursive: true });
  if (file && edit) {
    const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
    edit(json);
    writeFileSync(join(dir, file), JSON.stringify(json));
  }
  return dir;
}

/** Every file of a run directory and its bytes. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (f.isFile()) out.set(join(f.parentPath, f.name), readFileSync(join(f.parentPath, f.name)).toString('base64'));
  }
  return out;
}

test('a run written before the rename (checkpoint density*, config dre*/lrDensity) loads and resumes', async () => {
  const renames = (o: Record<string, unknown>, pairs: [string, string][]): void => {
    for (const [now, old] of pairs) {
      o[old] = o[now];
      delete o[now];
    }
  };
  const dir = copyRun('checkpoint.json', (cp) =>
    renames(cp, [
      ['discriminator', 'density'],
      ['discriminatorEma', 'densityEma'],
      ['optDiscriminator', 'optDensity'],
    ]),
  );
  const cfgPath = runPaths(dir).config;
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as { learner: Record<string, unknown> };
  renames(cfg.learner, [
    ['discriminatorInitSteps', 'dreInitSteps'],
    ['discriminatorSteps', 'dreSteps'],
    ['discriminatorBatch', 'dreBatch'],
    ['lrDiscriminator', 'lrDensity'],
  ]);
  writeFileSync(cfgPath, JSON.stringify(cfg));
  assert.ok('density' in JSON.parse(readFileSync(runPaths(dir).checkpoint, 'utf8')));

  const now = await loadRun(base, ring);
  const old = await loadRun(dir, ring);
  try {
    assert.equal(old.iteration, 2);
    assert.deepEqual(old.policyEma, now.policyEma);
    assert.deepEqual(old.discriminator.ema, now.discriminator.ema);
    assert.deepEqual(old.discriminator.net.getWeights(), now.discriminator.net.getWeights());
    assert.equal(old.config.discriminatorBatch, 32);
  } finally {
    await now.dispose();
    await old.dispose();
  }
  // It trains on, and its new checkpoint has the new keys.
  const { learner } = await runTraining({ model: ring, config: tiny(), runDir: dir, resume: true, iterations: 3 });
  await learner.dispose();
  const cp = JSON.parse(readFileSync(runPaths(dir).checkpoint, 'utf8')) as Record<string, unknown>;
  assert.equal(cp['iteration'], 3);
  assert.ok('discriminator' in cp && 'optDiscriminator' in cp && !('density' in cp));
});

test('a damaged config.json names the file and the field; export and train --resume refuse it and write nothing', async () => {
  const cases: [(c: Record<string, unknown>) => void, RegExp][] = [
    [
      (c) => ((c['learner'] as Record<string, unknown>)['steps'] = 'ten'),
      /config\.json: learner\.steps must be a whole number in \[1, 1000\], got "ten"/,
    ],
    [
      (c) => delete (c['learner'] as Record<string, unknown>)['actions'],
      /config\.json: learner\.actions must be 2 to 64 distinct numbers, separated by commas, got nothing/,
    ],
    [
      (c) => ((c['learner'] as Record<string, unknown>)['emaDecay'] = 2),
      /config\.json: learner\.emaDecay must be a number in \[0, 1\), got 2/,
    ],
    [(c) => ((c['model'] as Record<string, unknown>)['dir'] = 5), /config\.json: model\.dir: expected a string, got 5/],
  ];
  for (const [edit, message] of cases) {
    const dir = copyRun('config.json', edit);
    const before = snapshot(dir);
    assert.throws(
      () => readRunConfig(dir),
      (e: unknown) => e instanceof RunFileError && message.test(e.message) && e.file === runPaths(dir).config,
    );
    assertUsageError(await cli('export', '--run', dir, '--out', join(dir, 'policy.onnx')), message);
    assertUsageError(await cli('train', '--resume', dir), message);
    assert.deepEqual(snapshot(dir), before, 'nothing written');
  }
  const dir = copyRun();
  writeFileSync(runPaths(dir).config, '{"version": "1", "model": ');
  assertUsageError(await cli('train', '--resume', dir), /config\.json: not valid JSON/);
});

test('a damaged checkpoint names the file and the field; train --resume fails without touching metrics.jsonl', async () => {
  const cases: [(c: Record<string, unknown>) => void, RegExp][] = [
    [(c) => ((c['policyEma'] as unknown[])[0] = 123), /checkpoint\.json: policyEma\[0\]: expected a string, got 123/],
    [(c) => ((c['policy'] as unknown[])[1] = '%%% not base64'), /checkpoint\.json: policy\[1\]: expected base64 text/],
    [(c) => delete c['optDiscriminator'], /checkpoint\.json: optDiscriminator: missing \(expected a list\)/],
    [(c) => (c['iteration'] = -1), /checkpoint\.json: iteration: must be ≥ 0, got -1/],
    // Well formed, but not this run's network: the sizes do not fit.
    [
      (c) => ((c['policy'] as string[])[0] = Buffer.from(new Float32Array(3).buffer).toString('base64')),
      /checkpoint\.json: does not fit the run's config/,
    ],
  ];
  for (const [edit, message] of cases) {
    const dir = copyRun('checkpoint.json', edit);
    // A metrics line of an iteration the checkpoint would not hold: resuming would drop it.
    writeFileSync(
      runPaths(dir).metrics,
      readFileSync(runPaths(dir).metrics, 'utf8') + JSON.stringify({ iteration: 3, 'charts/nfe': 35 }) + '\n',
    );
    const before = snapshot(dir);
    await assert.rejects(runTraining({ model: ring, config: tiny(), runDir: dir, resume: true }), message);
    assertUsageError(await cli('train', '--resume', dir), message);
    assertUsageError(await cli('eval', '--policy', dir, '--n', '100'), message);
    assert.deepEqual(snapshot(dir), before, 'metrics.jsonl and the checkpoint are as they were');
  }
});

test('metrics.jsonl: a line cut by a kill is skipped and dropped on resume; a damaged line names its line and field', async () => {
  const dir = copyRun();
  const path = runPaths(dir).metrics;
  const lines = readFileSync(path, 'utf8');
  writeFileSync(path, lines + '{"iteration": 3, "charts/n');
  assert.deepEqual(
    readMetrics(dir).map((m) => m.iteration),
    [1, 2],
  );
  // A NaN metric (written as null) reads as not measured.
  writeFileSync(path, lines + JSON.stringify({ iteration: 3, 'losses/discriminator': NaN, 'charts/nfe': 35 }) + '\n');
  assert.deepEqual(readMetrics(dir)[2], { iteration: 3, 'charts/nfe': 35 });
  // Resume truncation: the checkpoint holds iteration 2, so line 3 goes.
  const { learner } = await runTraining({ model: ring, config: tiny(), runDir: dir, resume: true, iterations: 2 });
  await learner.dispose();
  assert.equal(readFileSync(path, 'utf8'), lines);

  writeFileSync(path, lines.replace('"iteration":2', '"iteration":"two"'));
  assert.throws(() => readMetrics(dir), /metrics\.jsonl:2: iteration: expected a number, got "two"/);
  const before = snapshot(dir);
  assertUsageError(await cli('train', '--resume', dir), /metrics\.jsonl:2: iteration: expected a number/);
  assert.deepEqual(snapshot(dir), before);
});

test('profile files follow their schema', async () => {
  const dir = copyRun();
  const p = readProfile(runPaths(dir).profileAt(2));
  assert.equal(p.iteration, 2);
  assert.equal(p.profile.length, 18);
  assert.deepEqual(readProfile(runPaths(dir).profile), p);
  writeFileSync(runPaths(dir).profile, JSON.stringify({ ...p, profile: [[0.5, 'half']] }));
  assert.throws(
    () => readProfile(runPaths(dir).profile),
    /profile\.json: profile\[0\]\[1\]: expected a number, got "half"/,
  );
});
