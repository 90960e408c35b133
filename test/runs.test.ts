// Run directories (src/main/engine/runs/): files written before the discriminator had one name still
// load; a damaged config.json, checkpoint.json, metrics line or profile is an error naming the file
// and the field, through the CLI and the protocol as well (every reader: train --resume, export,
// eval --policy, sample --policy, runs.*), and nothing in the run is written over.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { initTf } from '../src/main/engine/learner/backend';
import { runTraining } from '../src/main/engine/apps/train';
import { readMetrics, readProfile, readRunConfig, runPaths } from '../src/main/engine/runs/files';
import { loadRun } from '../src/main/engine/runs/load';
import { RunFileError } from '../src/shared/run-files';
import { EngineHost } from '../src/main/engine/host';
import type { Response, ServerMessage } from '../src/shared/protocol';
import { assertUsageError, cli } from './helpers/cli';
import { tinyConfig } from './helpers/config';

const tmp = mkdtempSync(join(tmpdir(), 'ss-runs-'));
process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
let ring: Model;
/** A finished 2-iteration run with one evaluation; tests work on copies of it. */
const base = join(tmp, 'base');

const tiny = tinyConfig;

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

test('a run written before the rename (checkpoint density*, config dre*/lrDensity) and before discriminatorPool and evalSamplesPeriodic loads and resumes', async () => {
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
  delete cfg.learner['discriminatorPool'];
  delete cfg.learner['evalSamplesPeriodic'];
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
    assert.equal(old.config.discriminatorPool, 128, 'a setting added since takes its default');
    assert.equal(old.config.evalSamplesPeriodic, 512, 'a setting added since takes its default');
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

/** One request to an engine in this process (the protocol's handler, without a process around it). */
async function request(method: string, params: Record<string, unknown>): Promise<Response> {
  const sent: ServerMessage[] = [];
  const host = new EngineHost((m) => sent.push(m));
  try {
    await host.handle({ kind: 'request', id: 1, method, params });
  } finally {
    await host.dispose();
  }
  const r = sent.find((m): m is Response => m.kind === 'response');
  assert.ok(r, `no response to ${method}`);
  return r;
}

test('every reader of a run refuses a foreign, truncated, garbage or unreadable file by name: CLI and protocol, no stack trace, nothing written', async () => {
  const cfgText = readFileSync(runPaths(base).config, 'utf8');
  const cpText = readFileSync(runPaths(base).checkpoint, 'utf8');
  const asDir = (file: string): void => {
    rmSync(file);
    mkdirSync(file);
  };
  type Case = {
    name: string;
    damage: (dir: string) => void;
    message: RegExp;
    file: 'config' | 'checkpoint' | 'metrics';
  };
  const cases: Case[] = [
    {
      name: 'a foreign config.json',
      damage: (d) => writeFileSync(runPaths(d).config, '{"name": "my-project"}'),
      message: /config\.json: version: missing \(expected a string\); 2 more problems/,
      file: 'config',
    },
    {
      name: 'a garbage config.json',
      damage: (d) => writeFileSync(runPaths(d).config, Buffer.from([0, 1, 2, 0xff, 0xfe, 10])),
      message: /config\.json: not valid JSON/,
      file: 'config',
    },
    {
      name: 'a truncated config.json',
      damage: (d) => writeFileSync(runPaths(d).config, cfgText.slice(0, cfgText.length >> 1)),
      message: /config\.json: not valid JSON/,
      file: 'config',
    },
    {
      name: 'config.json a folder',
      damage: (d) => asDir(runPaths(d).config),
      message: /config\.json: cannot be read: it is a folder, not a file/,
      file: 'config',
    },
    {
      name: 'a truncated checkpoint.json',
      damage: (d) => writeFileSync(runPaths(d).checkpoint, cpText.slice(0, cpText.length >> 1)),
      message: /checkpoint\.json: not valid JSON/,
      file: 'checkpoint',
    },
    {
      name: 'checkpoint.json a folder',
      damage: (d) => asDir(runPaths(d).checkpoint),
      message: /checkpoint\.json: cannot be read: it is a folder, not a file/,
      file: 'checkpoint',
    },
    {
      name: 'metrics.jsonl a folder',
      damage: (d) => asDir(runPaths(d).metrics),
      message: /metrics\.jsonl: cannot be read: it is a folder, not a file/,
      file: 'metrics',
    },
  ];
  let refused = 0;
  for (const c of cases) {
    const root = join(tmp, `readers-${copies}`);
    mkdirSync(root);
    const dir = join(root, 'run');
    cpSync(base, dir, { recursive: true });
    c.damage(dir);
    const before = snapshot(dir);
    const out = join(tmp, `readers-${copies++}.onnx`);
    const why = (r: unknown): string => `${c.name}: ${JSON.stringify(r)}`;
    // The command line: an "error: …" naming the file, exit code 2.
    const commands: string[][] = [
      ['train', '--resume', dir],
      ['export', '--run', dir, '--out', out],
      ['eval', '--policy', dir, '--n', '100'],
      ['sample', '--policy', dir, '--n', '10', '--out', join(root, 'samples.npy')],
    ];
    for (const argv of commands) {
      // eval and sample do not read metrics.jsonl (they sample with the checkpoint).
      if (c.file === 'metrics' && (argv[0] === 'eval' || argv[0] === 'sample')) continue;
      assertUsageError(await cli(...argv), c.message);
      refused++;
    }
    // The protocol: an error response naming the file.
    const requests: [string, Record<string, unknown>][] = [
      ['train.resume', { run: dir }],
      ['policy.export', { run: dir, out }],
      ['eval.policy', { run: dir, n: 100 }],
      ['runs.metrics', { run: dir }],
      ['runs.delete', { run: dir }],
    ];
    for (const [method, params] of requests) {
      if (c.file === 'metrics' && method === 'eval.policy') continue;
      // A run whose config.json is sound is a run: runs.delete may move it (and runs.metrics needs no checkpoint).
      if (c.file !== 'config' && method === 'runs.delete') continue;
      if (c.file === 'checkpoint' && method === 'runs.metrics') continue;
      const r = await request(method, params);
      assert.ok(!r.ok && c.message.test(r.error.message), `${method}, ${why(r)}`);
      refused++;
    }
    // Listing the folder works: the run is skipped when its config or metrics cannot be read.
    const list = await request('runs.list', { root });
    assert.ok(list.ok, why(list));
    assert.deepEqual(
      (list.result as { dir: string }[]).map((r) => r.dir),
      c.file === 'checkpoint' ? [dir] : [],
      c.name,
    );
    assert.deepEqual(snapshot(dir), before, `${c.name}: nothing written`);
    assert.ok(!existsSync(out), `${c.name}: no policy file`);
  }
  assert.equal(refused, 55);
  // A dangling link beside the runs does not break the listing.
  const root = join(tmp, 'dangling');
  mkdirSync(root);
  cpSync(base, join(root, 'run'), { recursive: true });
  symlinkSync(join(tmp, 'nowhere'), join(root, 'gone'));
  const list = await request('runs.list', { root });
  assert.ok(list.ok && (list.result as unknown[]).length === 1, JSON.stringify(list));
});

test('a run is written only into a new or empty folder, and only a run is moved to .trash', async () => {
  // A user's project folder: a config.json that is not a run's, and files of their own.
  const project = join(tmp, 'my-project');
  mkdirSync(project);
  writeFileSync(join(project, 'config.json'), '{"name": "my-project"}');
  writeFileSync(join(project, 'notes.txt'), 'mine');
  const projectBefore = snapshot(project);
  const del = await request('runs.delete', { run: project });
  assert.ok(!del.ok && /config\.json: version: missing/.test(del.error.message), JSON.stringify(del));
  assert.ok(!existsSync(join(tmp, '.trash')), 'nothing moved');
  // A folder of the user's files (no config.json) is not a place for a new run: CLI, engine, protocol.
  const photos = join(tmp, 'photos');
  mkdirSync(photos);
  writeFileSync(join(photos, 'cat.jpg'), 'meow');
  const photosBefore = snapshot(photos);
  const notEmpty = /photos is not empty and holds no run \(cat\.jpg\); a new run needs a new or empty folder/;
  const flags = ['--iterations', '1', '--trajectories', '64', '--hidden', '16', '--eval-every', '0'];
  for (const dir of [project, photos]) {
    assertUsageError(
      await cli('train', '--model', 'gmm-ring8', '--run-dir', dir, ...flags),
      dir === project ? /my-project is not empty and holds no run \(config\.json, notes\.txt\)/ : notEmpty,
    );
  }
  await assert.rejects(runTraining({ model: ring, config: tiny(), runDir: photos }), notEmpty);
  const start = await request('train.start', { model: 'gmm-ring8', runDir: photos, config: { iterations: 1 } });
  assert.ok(!start.ok && notEmpty.test(start.error.message), JSON.stringify(start));
  assert.deepEqual(snapshot(photos), photosBefore, 'the photos are as they were, no config.json beside them');
  assert.deepEqual(snapshot(project), projectBefore);
  // A file where the folder should be: a clear error.
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'x');
  assertUsageError(
    await cli('train', '--model', 'gmm-ring8', '--run-dir', file, ...flags),
    /a-file is a file, not a folder/,
  );
  // An empty folder (made by the user for the run) is fine.
  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  const r = await cli('train', '--model', 'gmm-ring8', '--run-dir', empty, ...flags, '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readRunConfig(empty).learner.iterations, 1);
});

test('resuming a run whose checkpoint.json is missing is refused, naming it, unless --restart says to start again', async () => {
  const dir = copyRun();
  rmSync(runPaths(dir).checkpoint);
  const before = snapshot(dir);
  const missing = /checkpoint\.json is missing: the run cannot continue from iteration 2.*--restart/;
  assertUsageError(await cli('train', '--resume', dir), missing);
  await assert.rejects(runTraining({ model: ring, config: tiny(), runDir: dir, resume: true }), missing);
  const r = await request('train.resume', { run: dir });
  assert.ok(!r.ok && missing.test(r.error.message), JSON.stringify(r));
  assert.deepEqual(snapshot(dir), before, 'metrics.jsonl kept');
  // --restart belongs to --resume, and only where there is no checkpoint to continue from.
  assertUsageError(
    await cli('train', '--model', 'gmm-ring8', '--run-dir', join(tmp, 'never'), '--restart'),
    /--restart goes with --resume/,
  );
  assertUsageError(await cli('train', '--resume', copyRun(), '--restart'), /has a checkpoint \(iteration 2\)/);
  // Asked for: trained again from iteration 0, its old metrics dropped.
  const again = await cli('train', '--resume', dir, '--restart', '--iterations', '1', '--json');
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /restarted at iteration 0/);
  assert.deepEqual(
    readMetrics(dir).map((m) => m.iteration),
    [1],
  );
  // A run stopped before its first iteration finished has nothing to lose: it resumes at 0.
  const fresh = copyRun();
  rmSync(runPaths(fresh).checkpoint);
  writeFileSync(runPaths(fresh).metrics, '');
  const r0 = await cli('train', '--resume', fresh, '--iterations', '1', '--json');
  assert.equal(r0.code, 0, r0.stderr);
  assert.deepEqual(
    readMetrics(fresh).map((m) => m.iteration),
    [1],
  );
});
