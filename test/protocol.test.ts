// The engine protocol over a real child process: hundreds of malformed messages each get exactly
// one error reply and the engine keeps serving — also while it trains; the requests the app needs
// (list and open models, train, list runs, stop) work end to end.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRequest, parseServerMessage, type QueueStatus, type Response } from '../src/shared/protocol';
import type { EngineEvent } from '../src/shared/events';
import { Stream } from '../src/main/engine/samplers/random';
import { freePort, redisMissing, startRedis } from './helpers/redis';
import { spawnCli, type ChildResult } from './helpers/cli';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'ss-protocol-'));
let child: ChildProcess;
const events: EngineEvent[] = [];
let pending: ((m: Response) => void) | null = null;

before(() => {
  child = fork(join(ROOT, 'src/main/engine/worker.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, SAMPLER_STUDIO_CACHE: join(tmp, 'cache') },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  child.on('message', (raw) => {
    const m = parseServerMessage(raw);
    assert.ok(m, `the engine sent a message that fails the schema: ${JSON.stringify(raw).slice(0, 300)}`);
    if (m.kind === 'event') events.push(m.event);
    else {
      assert.ok(pending, `an unexpected response: ${JSON.stringify(m).slice(0, 300)}`);
      const p = pending;
      pending = null;
      p(m);
    }
  });
});
after(() => {
  child.kill();
  rmSync(tmp, { recursive: true, force: true });
});

/** Sends one message and waits for its one response. */
function call(msg: unknown, timeoutMs = 60_000): Promise<Response> {
  return new Promise((resolve, reject) => {
    assert.equal(pending, null, 'one request at a time');
    const timer = setTimeout(
      () => reject(new Error(`no response within ${timeoutMs} ms to ${JSON.stringify(msg).slice(0, 200)}`)),
      timeoutMs,
    );
    pending = (m) => {
      clearTimeout(timer);
      resolve(m);
    };
    child.send(msg as object);
  });
}

let nextId = 1;
const req = (method: string, params: unknown = {}): Promise<Response> =>
  call({ kind: 'request', id: nextId++, method, params });
function ok<T>(r: Response): T {
  assert.ok(r.ok, `request failed: ${JSON.stringify(r)}`);
  return (r as unknown as { result: T }).result;
}

/** Malformed messages of every kind, from a fixed seed. */
function junk(n: number): unknown[] {
  const s = new Stream(7, 0);
  const pick = <T>(xs: T[]): T => xs[Math.floor(s.uniform() * xs.length)]!;
  const scalar = (): unknown =>
    pick([0, -1, 1.5, 1e308, '', 'x'.repeat(5000), 'request', true, false, null, [], [1, 'a'], {}, { a: { b: [] } }]);
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const id = pick<unknown>([i + 1000, 'id', 1.25, null, undefined, -3, 2 ** 60]);
    const method = pick<unknown>([
      'engine.info',
      'models.open',
      'train.start',
      'train.resume',
      'train.stop',
      'runs.list',
      'models.delete',
      '',
      42,
      null,
      '__proto__',
      'constructor',
    ]);
    out.push(
      pick([
        scalar(),
        { kind: pick(['response', 'event', 'REQUEST', undefined, 3]), id, method, params: {} },
        { kind: 'request', id, method },
        { kind: 'request', id: i + 1000, method, params: scalar() },
        { kind: 'request', id: i + 1000, method: 'models.open', params: { dir: scalar() } },
        {
          kind: 'request',
          id: i + 1000,
          method: 'train.start',
          params: { model: scalar(), runDir: scalar(), config: scalar() },
        },
        // Settings of every type (a model that does not exist, so a valid one cannot start a run).
        {
          kind: 'request',
          id: i + 1000,
          method: 'train.start',
          params: {
            model: 'no-such-model',
            runDir: join(tmp, `never-${i}`),
            config: { [pick(['foo', 'lrPolicy', 'actions', 'intervention', 'iterations'])]: scalar() },
          },
        },
        {
          kind: 'request',
          id: i + 1000,
          method: 'scheduler.start',
          params: {
            model: pick(['no-such-model', scalar()]),
            runDir: join(tmp, `never-s-${i}`),
            config: { [pick(['foo', 'nfeBudget', 'sampler', 'reward', 'stdEnd'])]: scalar() },
          },
        },
        {
          kind: 'request',
          id: i + 1000,
          method: 'train.resume',
          params: { run: pick([join(tmp, 'nothing'), scalar()]), iterations: scalar() },
        },
        { kind: 'request', id: i + 1000, method: 'runs.list', params: { root: scalar() } },
        {
          kind: 'request',
          id: i + 1000,
          method: 'runs.delete',
          params: { run: pick([join(tmp, 'nothing'), tmp, scalar()]) },
        },
        {
          kind: 'request',
          id: i + 1000,
          method: 'policy.export',
          params: {
            run: pick([join(tmp, 'nothing'), scalar()]),
            out: pick([join(tmp, 'x.onnx'), join(tmp, 'x.txt'), scalar()]),
            force: scalar(),
          },
        },
      ]),
    );
  }
  return out;
}

test('hundreds of malformed messages: one error reply each, and the engine keeps serving', async () => {
  const msgs = junk(300);
  let errors = 0;
  for (const m of msgs) {
    const r = await call(m);
    // Messages that happen to be valid are answered normally; everything else with an error naming the problem.
    if (!r.ok) {
      errors++;
      assert.ok(r.error.message.length > 0);
      assert.ok(['bad-message', 'unknown-method', 'bad-params', 'failed'].includes(r.error.code));
    }
  }
  assert.ok(errors > 250, `${errors} of 300 were refused`);
  const info = ok<{ protocol: number; version: string }>(await req('engine.info'));
  assert.equal(info.protocol, 1);
  // Specific refusals say what is wrong.
  const unknown = await req('models.delete');
  assert.ok(
    !unknown.ok && unknown.error.code === 'unknown-method' && /engine knows engine\.info/.test(unknown.error.message),
  );
  const badParams = await req('models.open', { dir: 7 });
  assert.ok(!badParams.ok && badParams.error.code === 'bad-params' && /params\.dir/.test(badParams.error.message));
  const notObject = await call('hello');
  assert.ok(!notObject.ok && notObject.id === null && /JSON object/.test(notObject.error.message));
  const badSetting = await req('train.start', {
    model: 'gmm-ring8',
    runDir: join(tmp, 'r0'),
    config: { lrPolicy: 'fast' },
  });
  assert.ok(!badSetting.ok && /lrPolicy.*must be a number/.test(badSetting.error.message));
  // What a run would cost, before it starts: the config's passes and the model's measured speed.
  const est = ok<{ totalPasses: number; nfePerTrajectory: number; passesPerSecond: number; denoiserSeconds: number }>(
    await req('train.estimate', { model: 'gmm-ring8', config: { iterations: 3, trajectories: 64, evalEvery: 0 } }),
  );
  assert.equal(est.nfePerTrajectory, 35);
  assert.equal(est.totalPasses, (3 * 64 + 4000) * 35 * 2);
  assert.ok(est.passesPerSecond > 0 && Math.abs(est.denoiserSeconds - est.totalPasses / est.passesPerSecond) < 1e-9);
  const badEstimate = await req('train.estimate', { model: 'gmm-ring8', config: { trajectories: 1 } });
  assert.ok(!badEstimate.ok && /trajectories/.test(badEstimate.error.message));
  // The step scheduler's settings: checked over their defaults, across fields too, before anything starts.
  const badBudget = await req('scheduler.start', {
    model: 'gmm-ring8',
    runDir: join(tmp, 's0'),
    config: { sampler: 'heun', nfeBudget: 2 },
  });
  assert.ok(
    !badBudget.ok &&
      badBudget.error.code === 'bad-params' &&
      /nfeBudget must be ≥ 3 for heun/.test(badBudget.error.message),
  );
  const unknownSetting = await req('scheduler.start', {
    model: 'gmm-ring8',
    runDir: join(tmp, 's0'),
    config: { rho: 7 },
  });
  assert.ok(!unknownSetting.ok && /rho/.test(unknownSetting.error.message), JSON.stringify(unknownSetting));
  assert.ok(!existsSync(join(tmp, 's0')), 'a refused start writes nothing');
});

test('models: the bundled list, a good model opened with its facts, a broken one with what to fix', async () => {
  const list = ok<{ id: string }[]>(await req('models.list'));
  assert.ok(list.some((m) => m.id === 'gmm-ring8'));
  const good = ok<{ ok: boolean; facts: Record<string, unknown> }>(await req('models.open', { dir: 'gmm-ring8' }));
  assert.equal(good.ok, true);
  assert.equal(good.facts['classes'], 8);
  const broken = join(tmp, 'broken-model');
  mkdirSync(broken);
  writeFileSync(join(broken, 'model.json'), JSON.stringify({ name: 'broken', onnx: 'missing.onnx', shape: [2] }));
  const bad = ok<{ ok: boolean; problem: { message: string; key: string | null } }>(
    await req('models.open', { dir: broken }),
  );
  assert.equal(bad.ok, false);
  assert.match(bad.problem.message, /missing\.onnx/);
  // Previews: a model's preview.png as it is, else samples drawn once (a PNG either way); a broken model is an error.
  const png = (b64: string): boolean => Buffer.from(b64, 'base64').subarray(1, 4).toString() === 'PNG';
  const fm = ok<{ pngBase64: string; source: string }>(await req('models.preview', { dir: 'fashion-mnist' }));
  assert.equal(fm.source, 'file');
  assert.ok(png(fm.pngBase64));
  const ring = ok<{ pngBase64: string; source: string }>(await req('models.preview', { dir: 'gmm-ring8' }));
  assert.equal(ring.source, 'sampled');
  assert.ok(png(ring.pngBase64));
  const none = await req('models.preview', { dir: broken });
  assert.ok(!none.ok && /missing\.onnx/.test(none.error.message));
});

test('train over the protocol: events stream, junk during training is refused, runs are listed, stop works', async () => {
  const runDir = join(tmp, 'runs', 'cfg-rkl');
  const config = {
    intervention: 'cfg',
    divergence: 'rkl',
    iterations: 4,
    trajectories: 64,
    rolloutBatch: 64,
    discriminatorInitSteps: 5,
    discriminatorSteps: 2,
    discriminatorBatch: 64,
    ppoEpochs: 1,
    ppoMinibatch: 256,
    hidden: 32,
    evalEvery: 2,
    evalSamples: 200,
  };
  events.length = 0;
  const started = ok<{ run: string }>(await req('train.start', { model: 'gmm-ring8', runDir, config }));
  assert.equal(started.run, runDir);
  // While it trains: malformed messages are answered and training goes on.
  for (const m of junk(40)) await call(m);
  const dup = await req('train.start', { model: 'gmm-ring8', runDir, config });
  assert.ok(!dup.ok && /already (training|holds a run)/.test(dup.error.message));
  const deadline = Date.now() + 120_000;
  while (!events.some((e) => e.type === 'run' && e.state === 'finished') && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  // The lifecycle is data: started at 0 of 4, finished at 4 of 4.
  const lifecycle = events.filter((e) => e.type === 'run').map((e) => [e.run, e.state, e.iteration, e.iterations]);
  assert.deepEqual(lifecycle, [
    [runDir, 'started', 0, 4],
    [runDir, 'finished', 4, 4],
  ]);
  assert.ok(
    events.filter((e) => e.type === 'progress').every((e) => e.run === runDir),
    'progress events name their run',
  );
  const metrics = events.filter(
    (e): e is Extract<EngineEvent, { type: 'metrics' }> => e.type === 'metrics' && e.run === runDir,
  );
  assert.deepEqual(
    metrics.map((e) => e.iteration),
    [1, 2, 3, 4],
  );
  assert.equal(events.filter((e) => e.type === 'profile').length, 2);
  assert.equal(events.filter((e) => e.type === 'samples').length, 2);
  const runs = ok<{ dir: string; iteration: number; active: boolean; divergence: string }[]>(
    await req('runs.list', { root: join(tmp, 'runs') }),
  );
  assert.deepEqual(
    runs.map((r) => [r.dir, r.iteration, r.active, r.divergence]),
    [[runDir, 4, false, 'rkl']],
  );
  const history = ok<{ iterations: number; metrics: { iteration: number }[] }>(
    await req('runs.metrics', { run: runDir }),
  );
  assert.deepEqual(
    history.metrics.map((m) => m.iteration),
    [1, 2, 3, 4],
  );
  assert.equal(history.iterations, 4);
  const notRun = await req('runs.metrics', { run: tmp });
  assert.ok(!notRun.ok && /not a run directory/.test(notRun.error.message));
  // runs.open: everything the Train screen shows of a run on disk (issue 15: opening a run loaded only
  // its curves); runs.evaluation: one evaluation's profile and picture.
  const opened = ok<{
    summary: { dir: string; iteration: number; iterations: number; active: boolean };
    metrics: { iteration: number }[];
    evaluations: number[];
    profile: { iteration: number; actions: number[]; profile: number[][] } | null;
  }>(await req('runs.open', { run: runDir }));
  assert.deepEqual(
    [opened.summary.dir, opened.summary.iteration, opened.summary.iterations, opened.summary.active],
    [runDir, 4, 4, false],
  );
  assert.deepEqual(
    opened.metrics.map((m) => m.iteration),
    [1, 2, 3, 4],
  );
  assert.deepEqual(opened.evaluations, [2, 4], 'evaluations every 2 iterations');
  assert.equal(opened.profile?.iteration, 4, 'the last evaluation’s profile');
  const first = ok<{ iteration: number; profile: { iteration: number } | null; pngBase64: string | null }>(
    await req('runs.evaluation', { run: runDir, iteration: 2 }),
  );
  assert.equal(first.profile?.iteration, 2);
  assert.equal(Buffer.from(first.pngBase64!, 'base64').subarray(1, 4).toString(), 'PNG');
  assert.deepEqual(ok(await req('runs.evaluation', { run: runDir, iteration: 3 })), {
    iteration: 3,
    profile: null,
    pngBase64: null,
    dev: null,
  });
  const notRunOpen = await req('runs.evaluation', { run: tmp, iteration: 2 });
  assert.ok(!notRunOpen.ok && /not a run directory/.test(notRunOpen.error.message));
  // Resume for more, stop it mid-way: it keeps its last checkpoint.
  events.length = 0;
  ok(await req('train.resume', { run: runDir, iterations: 200 }));
  while (!events.some((e) => e.type === 'metrics') && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(ok(await req('train.stop', { run: runDir, pause: true })), { stopped: true });
  const paused = events.filter((e) => e.type === 'run');
  assert.deepEqual(
    paused.map((e) => e.state),
    ['started', 'paused'],
  );
  assert.ok(paused[1]!.iteration > 4 && paused[1]!.iterations === 200, JSON.stringify(paused[1]));
  const after = ok<{ iteration: number; active: boolean }[]>(await req('runs.list', { root: join(tmp, 'runs') }));
  assert.ok(after[0]!.iteration > 4 && after[0]!.iteration < 200 && !after[0]!.active, JSON.stringify(after[0]));
  assert.deepEqual(ok(await req('train.stop', { run: runDir })), { stopped: false });
});

test('export and delete over the protocol: the file is written and verified, an existing one is an `exists` error until forced, a run goes to .trash', async () => {
  const runDir = join(tmp, 'runs', 'cfg-rkl'); // trained by the test above
  const out = join(tmp, 'exports', 'policy.onnx');
  // A folder that does not exist is named, and not created (issue 15).
  const missing = await req('policy.export', { run: runDir, out });
  assert.equal(missing.ok, false);
  assert.match(String(missing.error?.message), /the folder .*exports does not exist; create it first/);
  assert.equal(existsSync(join(tmp, 'exports')), false);
  mkdirSync(join(tmp, 'exports'));
  const res = ok<{
    path: string;
    bytes: number;
    verification: { maxAbsDiff: number; states: number };
    inputs: { name: string }[];
    metadata: Record<string, string>;
  }>(await req('policy.export', { run: runDir, out }));
  assert.equal(res.path, out);
  assert.ok(existsSync(out) && existsSync(join(tmp, 'exports', 'policy.json')));
  // Its files for a download (web mode), and nothing but exported policies that way.
  const files = ok<{ name: string; onnxBase64: string; sidecar: string }>(await req('policy.files', { path: out }));
  assert.equal(files.name, 'policy.onnx');
  assert.ok(Buffer.from(files.onnxBase64, 'base64').equals(readFileSync(out)));
  assert.equal(files.sidecar, readFileSync(join(tmp, 'exports', 'policy.json'), 'utf8'));
  for (const [path, why] of [
    [join(runDir, 'config.json'), /not a policy file/],
    ['/etc/passwd', /not a policy file/],
    [join(tmp, 'exports', 'other.onnx'), /no exported policy there/],
  ] as const) {
    const refused = await req('policy.files', { path });
    assert.ok(!refused.ok && why.test(refused.error.message), JSON.stringify(refused));
  }
  assert.ok(res.verification.maxAbsDiff <= 1e-4 && res.verification.states >= 100);
  assert.deepEqual(
    res.inputs.map((i) => i.name),
    ['x', 'sigma', 'temperature'],
  );
  assert.equal(res.metadata['divergence'], 'rkl');
  const again = await req('policy.export', { run: runDir, out });
  assert.ok(
    !again.ok && again.error.code === 'exists' && /already exists/.test(again.error.message),
    JSON.stringify(again),
  );
  ok(await req('policy.export', { run: runDir, out, force: true }));
  const bad = await req('policy.export', { run: runDir, out: 5 });
  assert.ok(!bad.ok && bad.error.code === 'bad-params');
  // Delete: moved into .trash beside it, no longer listed, nothing removed.
  const { trashed } = ok<{ trashed: string }>(await req('runs.delete', { run: runDir }));
  assert.ok(existsSync(join(trashed, 'checkpoint.json')) && !existsSync(runDir));
  assert.ok(trashed.startsWith(join(tmp, 'runs', '.trash')));
  assert.deepEqual(ok(await req('runs.list', { root: join(tmp, 'runs') })), []);
  const gone = await req('runs.delete', { run: runDir });
  assert.ok(!gone.ok && /not a run directory/.test(gone.error.message));
  // Undo (issue 15): back where it was, listed again; only from the .trash beside it, never over something.
  const wrong = await req('runs.restore', { trashed, run: join(tmp, 'elsewhere', 'cfg-rkl') });
  assert.ok(!wrong.ok && /not cfg-rkl in the \.trash folder beside it/.test(wrong.error.message));
  assert.deepEqual(ok(await req('runs.restore', { trashed, run: runDir })), { run: runDir });
  const listed = ok<{ dir: string; started: string; seconds: number; evalSamples: number | null }[]>(
    await req('runs.list', { root: join(tmp, 'runs') }),
  );
  assert.deepEqual(
    listed.map((r) => r.dir),
    [runDir],
  );
  // The tracker's columns: when it started, how long it trained, how many samples its last FID had.
  assert.ok(Math.abs(Date.parse(listed[0]!.started) - Date.now()) < 10 * 60_000, listed[0]!.started);
  assert.ok(listed[0]!.seconds > 0);
  // (its last line, of the paused resume, has no evaluation: no FID, no n)
  assert.equal(listed[0]!.evalSamples, null);
  const trashedAgain = ok<{ trashed: string }>(await req('runs.delete', { run: runDir }));
  mkdirSync(runDir);
  const blocked = await req('runs.restore', { trashed: trashedAgain.trashed, run: runDir });
  assert.ok(!blocked.ok && /exists again/.test(blocked.error.message));
  // A Runs folder that is not there is told apart from an empty one.
  assert.deepEqual(ok(await req('runs.folder', { root: join(tmp, 'runz') })), {
    root: join(tmp, 'runz'),
    state: 'missing',
  });
  assert.equal(ok<{ state: string }>(await req('runs.folder', { root: join(tmp, 'runs') })).state, 'folder');
});

test('damaged run files over the protocol: the error names the file and the field, the run is not listed, nothing is written', async () => {
  const { defaultConfig } = await import('../src/main/engine/learner/config');
  const { resolveModelDir } = await import('../src/main/engine/models/registry');
  const { infReplacer } = await import('../src/shared/json');
  const root = join(tmp, 'damaged');
  const run = (name: string, learner: Record<string, unknown>, checkpoint?: unknown): string => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    const config = {
      version: '0',
      model: { name: 'gmm-ring8', dir: resolveModelDir('gmm-ring8') },
      learner: { ...defaultConfig('cfg'), iterations: 2, ...learner },
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config, infReplacer));
    writeFileSync(
      join(dir, 'metrics.jsonl'),
      JSON.stringify({ iteration: 1, 'charts/nfe': 35 }) +
        '\n' +
        JSON.stringify({ iteration: 2, 'charts/nfe': 35 }) +
        '\n',
    );
    if (checkpoint !== undefined) writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify(checkpoint));
    return dir;
  };
  const badConfig = run('bad-config', { steps: 'ten' });
  const m = await req('runs.metrics', { run: badConfig });
  assert.ok(
    !m.ok &&
      m.error.message ===
        `${join(badConfig, 'config.json')}: learner.steps must be a whole number in [1, 1000], got "ten"`,
    JSON.stringify(m),
  );
  const badCheckpoint = run('bad-checkpoint', {}, { version: '0', iteration: 1, policy: [1] });
  const metricsBefore = readFileSync(join(badCheckpoint, 'metrics.jsonl'), 'utf8');
  const resumed = await req('train.resume', { run: badCheckpoint });
  assert.ok(
    !resumed.ok &&
      resumed.error.message.startsWith(
        `${join(badCheckpoint, 'checkpoint.json')}: policy[0]: expected a string, got 1`,
      ),
    JSON.stringify(resumed),
  );
  assert.equal(readFileSync(join(badCheckpoint, 'metrics.jsonl'), 'utf8'), metricsBefore, 'metrics.jsonl untouched');
  // Listing: the readable run is there, the damaged one is skipped.
  const runs = ok<{ dir: string; iteration: number }[]>(await req('runs.list', { root }));
  assert.deepEqual(
    runs.map((r) => [r.dir, r.iteration]),
    [[badCheckpoint, 2]],
  );
});

test("the app's suggested run name never collides (issue 15): unique takes the first free -2, -3; a typed name is refused", async () => {
  const dir = join(tmp, 'suggested', 'gmm-ring8-cfg-kl-s0');
  const config = { iterations: 1, trajectories: 16, rolloutBatch: 16, evalEvery: 0, evalSamples: 64, hidden: 16 };
  const finished = async (run: string): Promise<void> => {
    const deadline = Date.now() + 120_000;
    while (!events.some((e) => e.type === 'run' && e.run === run && e.state === 'finished') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
  };
  const first = ok<{ run: string }>(
    await req('train.start', { model: 'gmm-ring8', runDir: dir, config, unique: true }),
  );
  assert.equal(first.run, dir);
  // While the first trains (its folder may not exist yet), a second suggestion takes the next name.
  const second = ok<{ run: string }>(
    await req('train.start', { model: 'gmm-ring8', runDir: dir, config, unique: true }),
  );
  assert.equal(second.run, `${dir}-2`);
  await finished(first.run);
  await finished(second.run);
  const third = ok<{ run: string }>(
    await req('train.start', { model: 'gmm-ring8', runDir: dir, config, unique: true }),
  );
  assert.equal(third.run, `${dir}-3`);
  await finished(third.run);
  const typed = await req('train.start', { model: 'gmm-ring8', runDir: dir, config });
  assert.ok(!typed.ok && /already holds a run/.test(typed.error.message), JSON.stringify(typed));
});

test('a drift policy over the protocol (issue 18): settings checked, events per iteration with samples, listed as kind drift, resumed, compared with its base sampler, exported', async () => {
  const root = join(tmp, 'drift-runs');
  const runDir = join(root, 'dpok-box');
  const reward = 'box:x0=0,x1=4,y0=-1,y1=4';
  // parseDriftConfig's own checks, before anything starts: ddpo needs the sampler's noise, a reward is needed.
  const noNoise = await req('drift.start', {
    model: 'swissroll-a',
    runDir,
    config: { objective: 'ddpo', sampler: 'ddim', eta: 0, rewards: [reward] },
  });
  assert.ok(
    !noNoise.ok &&
      noNoise.error.code === 'bad-params' &&
      /acts through the sampler's noise/.test(noNoise.error.message),
    JSON.stringify(noNoise),
  );
  const noReward = await req('drift.start', { model: 'swissroll-a', runDir, config: { steps: 5 } });
  assert.ok(!noReward.ok && /at least one rewards/.test(noReward.error.message), JSON.stringify(noReward));
  const unknown = await req('drift.start', { model: 'swissroll-a', runDir, config: { rho: 7, rewards: [reward] } });
  assert.ok(!unknown.ok && /rho/.test(unknown.error.message), JSON.stringify(unknown));
  assert.ok(!existsSync(runDir), 'a refused start writes nothing');

  const config = { objective: 'dpok', steps: 5, iterations: 2, trajectories: 16, evalSamples: 32, evalEvery: 1 };
  events.length = 0;
  const started = ok<{ run: string }>(
    await req('drift.start', { model: 'swissroll-a', runDir, config: { ...config, rewards: [reward] } }),
  );
  assert.equal(started.run, runDir);
  const until = async (pred: () => boolean): Promise<void> => {
    const deadline = Date.now() + 180_000;
    while (!pred() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(pred(), `timed out; events: ${JSON.stringify(events.filter((e) => e.type === 'run'))}`);
  };
  await until(() => events.some((e) => e.type === 'run' && (e.state === 'finished' || e.state === 'failed')));
  assert.deepEqual(
    events.filter((e) => e.type === 'run').map((e) => [e.run, e.state, e.iteration, e.iterations]),
    [
      [runDir, 'started', 0, 2],
      [runDir, 'finished', 2, 2],
    ],
  );
  const metrics = events.filter(
    (e): e is Extract<EngineEvent, { type: 'metrics' }> => e.type === 'metrics' && e.run === runDir,
  );
  assert.deepEqual(
    metrics.map((e) => e.iteration),
    [1, 2],
  );
  for (const k of ['charts/reward_mean', 'charts/kl_path', 'eval/reward_mean', 'eval/reward_base', 'eval/kl_path'])
    assert.ok(Number.isFinite(metrics[1]!.metrics[k]), `${k} in ${JSON.stringify(metrics[1]!.metrics)}`);
  // The samples picture of each evaluation: an event, and the file where runs.evaluation finds it.
  const samples = events.filter(
    (e): e is Extract<EngineEvent, { type: 'samples' }> => e.type === 'samples' && e.run === runDir,
  );
  assert.deepEqual(
    samples.map((e) => e.iteration),
    [1, 2],
  );
  assert.equal(Buffer.from(samples[1]!.pngBase64, 'base64').subarray(1, 4).toString(), 'PNG');
  assert.ok(existsSync(samples[1]!.path));

  const runs = ok<{ dir: string; kind: string; intervention: string; divergence: string; iteration: number }[]>(
    await req('runs.list', { root }),
  );
  assert.deepEqual(
    runs.map((r) => [r.dir, r.kind, r.intervention, r.divergence, r.iteration]),
    [[runDir, 'drift', 'drift', 'dpok', 2]],
  );
  const opened = ok<{ summary: { kind: string }; evaluations: number[]; levels: unknown }>(
    await req('runs.open', { run: runDir }),
  );
  assert.deepEqual([opened.summary.kind, opened.evaluations, opened.levels], ['drift', [1, 2], null]);
  const evaluation = ok<{ pngBase64: string | null }>(await req('runs.evaluation', { run: runDir, iteration: 2 }));
  assert.equal(evaluation.pngBase64, samples[1]!.pngBase64);
  assert.equal(ok<{ iterations: number }>(await req('runs.metrics', { run: runDir })).iterations, 2);

  // Resumed for one more iteration: its events, from where it stood.
  events.length = 0;
  ok(await req('train.resume', { run: runDir, iterations: 3 }));
  await until(() => events.some((e) => e.type === 'run' && (e.state === 'finished' || e.state === 'failed')));
  assert.deepEqual(
    events.filter((e) => e.type === 'run').map((e) => [e.state, e.iteration, e.iterations]),
    [
      ['started', 2, 3],
      ['finished', 3, 3],
    ],
  );
  assert.deepEqual(
    events.filter((e) => e.type === 'metrics').map((e) => (e as { iteration: number }).iteration),
    [3],
  );

  // Compare: the policy and its base sampler on the same seeds — mean reward, path KL, both pictures.
  const wrong = await req('eval.policy', { run: runDir, n: 100, bestConstant: true });
  assert.ok(!wrong.ok && /bestConstant: not for a drift policy run/.test(wrong.error.message), JSON.stringify(wrong));
  const cmp = ok<{
    iteration: number;
    n: number;
    rewards: string[];
    rows: { kind: string; reward: number; summary: Record<string, number>; pngBase64?: string }[];
  }>(await req('eval.policy', { run: runDir, n: 100 }));
  assert.deepEqual([cmp.iteration, cmp.n, cmp.rows.map((r) => r.kind)], [3, 100, ['policy', 'plain']]);
  assert.equal(cmp.rewards.length, 1);
  assert.match(cmp.rewards[0]!, /^box:/);
  const [policy, base] = cmp.rows;
  assert.ok(policy!.reward >= 0 && policy!.reward <= 1 && base!.reward >= 0 && base!.reward <= 1);
  assert.ok(policy!.summary['kl_path']! > 0, 'the trained drift moves the path');
  assert.equal(base!.summary['kl_path'], 0, 'the base sampler is the policy with v = 0');
  assert.ok(Number.isFinite(policy!.summary['knn_kl']) && Number.isFinite(base!.summary['knn_kl']));
  for (const r of cmp.rows) assert.equal(Buffer.from(r.pngBase64!, 'base64').subarray(1, 4).toString(), 'PNG');
  // The same seed, the same noise: comparing again gives the same numbers.
  const again = ok<typeof cmp>(await req('eval.policy', { run: runDir, n: 100 }));
  assert.deepEqual(
    again.rows.map((r) => [r.reward, r.summary]),
    cmp.rows.map((r) => [r.reward, r.summary]),
  );
  const trajectory = await req('reward.trajectory', { run: runDir });
  assert.ok(!trajectory.ok && /drift policy run/.test(trajectory.error.message));

  // Export: the drift exporter, as `export --run` writes it.
  const out = join(runDir, 'policy.onnx');
  const exported = ok<{ path: string; outputs: { name: string }[]; metadata: Record<string, string> }>(
    await req('policy.export', { run: runDir, out }),
  );
  assert.deepEqual(
    [exported.path, exported.outputs.map((o) => o.name), exported.metadata['intervention']],
    [out, ['drift'], 'drift'],
  );
  const exists = await req('policy.export', { run: runDir, out });
  assert.ok(!exists.ok && exists.error.code === 'exists');
});

test('workers over the protocol (issue 19): the Redis URL is checked before anything connects; only the learner takes workers', () => {
  const problem = (method: string, params: unknown): string | null => {
    const r = parseRequest({ kind: 'request', id: 1, method, params });
    return r.ok ? null : `${r.reply.ok ? '' : r.reply.error.code}: ${r.reply.ok ? '' : r.reply.error.message}`;
  };
  assert.equal(problem('workers.status', { redis: 'redis://:secret@10.0.0.5:6379/2' }), null);
  assert.match(problem('workers.status', {})!, /^bad-params: workers\.status: params\.redis must be a Redis URL/);
  assert.match(
    problem('workers.status', { redis: 'http://h:1' })!,
    /params\.redis: .*scheme must be redis:\/\/ or rediss:\/\//,
  );
  assert.match(problem('workers.status', { redis: 'not a url' })!, /params\.redis: .*is not a URL/);
  assert.match(problem('workers.status', { redis: 'redis://h:1/db' })!, /the database "db" must be a number/);
  const model = 'gmm-ring8';
  const runDir = '/tmp/x';
  assert.equal(problem('train.start', { model, runDir, config: {}, workers: { url: 'redis://h:1' } }), null);
  assert.equal(
    problem('train.start', { model, runDir, config: {}, workers: { url: 'redis://h:1', shardSize: 64 } }),
    null,
  );
  assert.match(
    problem('train.start', { model, runDir, config: {}, workers: { url: 'redis://h:1', shardSize: 0 } })!,
    /params\.workers\.shardSize/,
  );
  assert.match(
    problem('train.start', { model, runDir, config: {}, workers: { url: 'redis://h:1', size: 3 } })!,
    /unknown param "size"/,
  );
  assert.equal(problem('train.resume', { run: runDir, workers: { url: 'redis://h:1' } }), null);
  // The step scheduler and the drift policy roll out in the engine only.
  for (const m of ['scheduler.start', 'drift.start'])
    assert.match(
      problem(m, { model, runDir, config: {}, workers: { url: 'redis://h:1' } })!,
      /unknown param "workers"/,
      m,
    );
});

test('workers.status: a Redis that cannot be reached is an error naming its URL, password hidden', async () => {
  const port = await freePort(); // nothing listens there
  const r = await req('workers.status', { redis: `redis://:hunter2@127.0.0.1:${port}` });
  assert.ok(!r.ok, JSON.stringify(r));
  assert.equal(r.error.code, 'failed');
  assert.match(r.error.message, new RegExp(`cannot read the queue at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}`));
  assert.doesNotMatch(r.error.message, /hunter2/);
});

test(
  'workers over the protocol: workers.status lists a real worker; train.start with workers trains on it and writes the queue times',
  { skip: redisMissing() ?? false },
  async () => {
    const redis = await startRedis();
    let worker: import('node:child_process').ChildProcess | null = null;
    let workerDone: Promise<ChildResult> | null = null;
    try {
      const empty = ok<QueueStatus & { at: number }>(await req('workers.status', { redis: redis.url }));
      assert.deepEqual([empty.workers, empty.waiting, empty.active, empty.failed], [[], 0, 0, 0]);
      assert.ok(Math.abs(empty.at - Date.now()) < 60_000);
      let up!: () => void;
      const listening = new Promise<void>((r) => (up = r));
      workerDone = spawnCli(
        ['worker', '--redis', redis.url, '--name', 'w1'],
        (err) => err.includes('worker w1 on') && up(),
        300_000,
        (c) => (worker = c),
      );
      await Promise.race([
        listening,
        workerDone.then((r) => assert.fail(`the worker exited early: ${r.stderr.slice(-1000)}`)),
      ]);
      const seen = ok<QueueStatus>(await req('workers.status', { redis: redis.url }));
      assert.deepEqual(
        seen.workers.map((w) => [w.name, w.concurrency, w.shards]),
        [['w1', 1, 0]],
      );
      const runDir = join(tmp, 'runs', 'on-workers');
      const config = { iterations: 2, trajectories: 32, rolloutBatch: 16, evalEvery: 0, evalSamples: 64, hidden: 16 };
      events.length = 0;
      ok(await req('train.start', { model: 'gmm-ring8', runDir, config, workers: { url: redis.url, shardSize: 16 } }));
      const deadline = Date.now() + 240_000;
      while (
        !events.some((e) => e.type === 'run' && e.run === runDir && e.state !== 'started') &&
        Date.now() < deadline
      )
        await new Promise((r) => setTimeout(r, 200));
      const end = events.find((e) => e.type === 'run' && e.run === runDir && e.state !== 'started');
      assert.equal(end?.type === 'run' ? `${end.state} ${end.reason ?? ''}` : 'none', 'finished ');
      const metrics = ok<{ metrics: Record<string, number>[] }>(await req('runs.metrics', { run: runDir })).metrics;
      assert.equal(metrics.length, 2);
      for (const m of metrics)
        for (const k of ['time/queue_publish_s', 'time/queue_wait_s', 'time/queue_gather_s', 'queue/result_mb'])
          assert.ok(Number.isFinite(m[k]) && m[k]! >= 0, `${k} in ${JSON.stringify(m)}`);
      const after = ok<QueueStatus>(await req('workers.status', { redis: redis.url }));
      // Its heartbeat comes every 5 s: the shards it ran show once it has beaten since.
      assert.deepEqual(
        after.workers.map((w) => w.name),
        ['w1'],
      );
    } finally {
      (worker as import('node:child_process').ChildProcess | null)?.kill('SIGINT');
      await workerDone;
      await redis.stop();
    }
  },
);
