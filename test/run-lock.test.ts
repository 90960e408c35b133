// One trainer per run (src/main/engine/runs/lock.ts): two trainings of one run — in one process, from
// two command lines, from two engine processes (two app clients) — leave exactly one trainer and a
// metrics.jsonl without duplicate iterations; the refused one names the holder. The lock is released
// on every exit path, a lock left by a SIGKILLed process is taken over (saying so), and a run held
// by another process is listed as active and is not moved to .trash.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import type { LearnerConfig } from '../src/main/engine/learner/config';
import { infReplacer } from '../src/shared/json';
import { initTf } from '../src/main/engine/learner/backend';
import { runTraining } from '../src/main/engine/apps/train';
import { runPaths } from '../src/main/engine/runs/files';
import { EngineHost } from '../src/main/engine/host';
import { Stream } from '../src/main/engine/samplers/random';
import type { Response, ServerMessage } from '../src/shared/protocol';
import { cli, spawnCli } from './helpers/cli';
import { EngineProcess } from './helpers/engine';
import { tinyConfig } from './helpers/config';

const tmp = mkdtempSync(join(tmpdir(), 'ss-lock-'));
process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
let ring: Model;
/** A finished 1-iteration run; tests resume copies of it. */
const base = join(tmp, 'base');

function tiny(extra: Partial<LearnerConfig> = {}): LearnerConfig {
  return tinyConfig({ iterations: 1, ...extra });
}
/** The same settings as flags. */
const FLAGS = [
  ...['--trajectories', '64', '--rollout-batch', '64', '--discriminator-init-steps', '3'],
  ...['--discriminator-steps', '2', '--discriminator-batch', '32', '--ppo-epochs', '1', '--ppo-minibatch', '256'],
  ...['--hidden', '16', '--eval-every', '0', '--eval-samples', '128'],
];

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
function copyRun(): string {
  const dir = join(tmp, `run-${copies++}`);
  cpSync(base, dir, { recursive: true });
  return dir;
}

const lockFile = (dir: string): string => join(dir, 'train.lock');

/** The iterations of metrics.jsonl's lines, in order; they must count 1, 2, 3, … with none twice. */
function assertIterations(dir: string, what: string): number[] {
  const its = readFileSync(runPaths(dir).metrics, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (JSON.parse(l) as { iteration: number }).iteration);
  assert.deepEqual(
    its,
    its.map((_, i) => i + 1),
    `${what}: metrics.jsonl has each iteration once, in order`,
  );
  return its;
}

/** A pid that no live process has: a child that has exited. */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await once(c, 'exit');
  return c.pid!;
}

/** One request to an engine in this process. */
async function request(method: string, params: Record<string, unknown>): Promise<Response> {
  const sent: ServerMessage[] = [];
  const host = new EngineHost((m) => sent.push(m));
  try {
    await host.handle({ kind: 'request', id: 1, method, params });
  } finally {
    await host.dispose();
  }
  return sent.find((m): m is Response => m.kind === 'response')!;
}

const HELD =
  /is being trained by process (\d+) on [^ ]+ since \d{4}-\d\d-\d\dT[^ ]+ \(.+\); wait for it to finish or stop it there\. If no such process is running, delete .*train\.lock/;

test('two trainings of one new run in one process: one trains, the other is refused naming the holder', async () => {
  const dir = join(tmp, 'twice');
  const results = await Promise.allSettled(
    [0, 1].map(() => runTraining({ model: ring, config: tiny({ iterations: 3 }), runDir: dir })),
  );
  const refused = results.filter((r) => r.status === 'rejected');
  assert.equal(refused.length, 1, 'exactly one refused');
  const reason = (refused[0] as PromiseRejectedResult).reason as Error;
  assert.match(reason.message, HELD);
  assert.equal(Number(HELD.exec(reason.message)![1]), process.pid);
  for (const r of results) if (r.status === 'fulfilled') await r.value.learner.dispose();
  assert.deepEqual(assertIterations(dir, 'twice'), [1, 2, 3]);
  assert.ok(!existsSync(lockFile(dir)), 'released when it finished');
});

test('three processes racing for one lock 2,000 times each: every refusal names the holder (a lock is never seen half-written)', async () => {
  const dir = join(tmp, 'race');
  mkdirSync(dir);
  const racers = [0, 1, 2].map(async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'lock-race.ts'), dir, '2000'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0);
    return JSON.parse(out) as { took: number; named: number; unnamed: number };
  });
  const counts = await Promise.all(racers);
  const sum = (k: 'took' | 'named' | 'unnamed'): number => counts.reduce((a, c) => a + c[k], 0);
  assert.equal(sum('took') + sum('named') + sum('unnamed'), 6000);
  assert.equal(sum('unnamed'), 0, JSON.stringify(counts));
  assert.deepEqual(readdirSync(dir), [], 'no lock and no private lock file left behind');
});

test('the lock names its holder while it trains and is released when training finishes, stops or fails', async () => {
  const dir = copyRun();
  let seen: Record<string, unknown> | null = null;
  const { learner } = await runTraining({
    model: ring,
    config: tiny(),
    runDir: dir,
    resume: true,
    iterations: 2,
    command: 'test: resume',
    onStart: () => (seen = JSON.parse(readFileSync(lockFile(dir), 'utf8')) as Record<string, unknown>),
  });
  await learner.dispose();
  assert.ok(seen, 'locked while training');
  const held = seen as Record<string, unknown>;
  assert.equal(held['pid'], process.pid);
  assert.equal(held['host'], hostname());
  assert.equal(held['command'], 'test: resume');
  assert.ok(Math.abs(Date.parse(held['started'] as string) - Date.now()) < 120_000);
  assert.ok(!existsSync(lockFile(dir)), 'finished: released');
  // Stopped (the app's Stop, the CLI's Ctrl-C).
  const abort = new AbortController();
  const stopped = await runTraining({
    model: ring,
    config: tiny(),
    runDir: dir,
    resume: true,
    iterations: 50,
    signal: abort.signal,
    onEvent: (e) => e.type === 'metrics' && abort.abort(),
  });
  await stopped.learner.dispose();
  assert.ok(stopped.learner.iteration < 50);
  assert.ok(!existsSync(lockFile(dir)), 'stopped: released');
  // Failed (a damaged checkpoint).
  writeFileSync(runPaths(dir).checkpoint, '{"version": ');
  await assert.rejects(runTraining({ model: ring, config: tiny(), runDir: dir, resume: true }), /not valid JSON/);
  assert.ok(!existsSync(lockFile(dir)), 'failed: released');
});

test('a stale lock (its process is gone) is taken over, saying so; a live one or another host’s is honoured', async () => {
  const dir = copyRun();
  const write = (holder: Record<string, unknown>): void =>
    writeFileSync(
      lockFile(dir),
      JSON.stringify({
        host: hostname(),
        started: '2020-01-02T03:04:05.000Z',
        command: 'sampler-studio train',
        ...holder,
      }),
    );
  const logs: string[] = [];
  const resume = (): Promise<unknown> =>
    runTraining({
      model: ring,
      config: tiny(),
      runDir: dir,
      resume: true,
      onEvent: (e) => e.type === 'log' && logs.push(e.message),
    }).then((r) => r.learner.dispose());
  const dead = await deadPid();
  write({ pid: dead });
  await resume();
  assert.ok(
    logs.some((m) =>
      m.includes(
        `took over ${lockFile(dir)} from process ${dead} (since 2020-01-02T03:04:05.000Z), which is no longer running`,
      ),
    ),
    logs.join('\n'),
  );
  assert.ok(!existsSync(lockFile(dir)));
  // A live process (the parent of this one) holds it: refused, the lock kept.
  write({ pid: process.ppid });
  await assert.rejects(resume(), (e: Error) => HELD.test(e.message) && e.message.includes(`process ${process.ppid} `));
  assert.ok(existsSync(lockFile(dir)), 'a live holder’s lock is kept');
  // Another host's lock cannot be checked: honoured.
  write({ pid: dead, host: 'elsewhere' });
  await assert.rejects(resume(), /is being trained by process \d+ on elsewhere since/);
  // A lock file that is not one: honoured for a moment (it may be being written), then replaced.
  writeFileSync(lockFile(dir), '');
  await assert.rejects(resume(), /train\.lock is being written by another process \(or is damaged\)/);
  const old = new Date(Date.now() - 60_000);
  utimesSync(lockFile(dir), old, old);
  logs.length = 0;
  await resume();
  assert.ok(
    logs.some((m) => m.includes(`replaced ${lockFile(dir)}, which was not a lock file`)),
    logs.join('\n'),
  );
  assert.ok(!existsSync(lockFile(dir)));
});

test('CLI: two `train --resume R` at once: one trains, the other is refused naming it; metrics.jsonl has no duplicates', async () => {
  const dir = copyRun();
  const [a, b] = await Promise.all(
    [0, 1].map(() => spawnCli(['train', '--resume', dir, '--iterations', '80', '--json'], undefined, 240_000)),
  );
  const codes = [a!.code, b!.code].sort();
  assert.deepEqual(codes, [0, 2], `exit codes: ${a!.stderr.slice(-300)}\n${b!.stderr.slice(-300)}`);
  const loser = a!.code === 2 ? a! : b!;
  assert.match(loser.stderr, HELD);
  assert.doesNotMatch(loser.stderr, /\n\s+at .*:\d+:\d+/);
  assert.deepEqual(assertIterations(dir, 'two resumes').at(-1), 80);
  assert.ok(!existsSync(lockFile(dir)));
});

test('a CLI training SIGKILLed leaves a stale lock that the next resume takes over; Ctrl-C releases it; while it trains it is listed active and not deleted', async () => {
  const dir = join(tmp, 'killed');
  let killed = false;
  const first = await spawnCli(
    ['train', '--model', 'gmm-ring8', '--run-dir', dir, '--iterations', '200', ...FLAGS, '--json'],
    (stderr, child) => {
      if (!killed && /"done":2,/.test(stderr)) {
        killed = true;
        child.kill('SIGKILL');
      }
    },
    240_000,
  );
  assert.equal(first.signal, 'SIGKILL', first.stderr.slice(-400));
  const stale = JSON.parse(readFileSync(lockFile(dir), 'utf8')) as { pid: number; command: string };
  assert.match(stale.command, /train --model gmm-ring8 --run-dir/);
  const resumed = await cli('train', '--resume', dir, '--iterations', '4', '--json');
  assert.equal(resumed.code, 0, resumed.stderr.slice(-500));
  assert.match(resumed.stderr, new RegExp(`took over .*train\\.lock from process ${stale.pid} `));
  assert.deepEqual(assertIterations(dir, 'after the kill'), [1, 2, 3, 4]);
  assert.ok(!existsSync(lockFile(dir)));

  // Another process trains it: listed active, not moved to .trash, and stopped with Ctrl-C.
  let checks: Promise<[Response, Response]> | null = null;
  const second = await spawnCli(
    ['train', '--resume', dir, '--iterations', '400', '--json'],
    (stderr, child) => {
      if (checks || !/"type":"metrics"/.test(stderr)) return;
      checks = Promise.all([request('runs.list', { root: tmp }), request('runs.delete', { run: dir })]);
      void checks.finally(() => child.kill('SIGINT'));
    },
    240_000,
  );
  assert.ok(checks, `never trained: ${second.stderr.slice(-400)}`);
  const [list, del] = await (checks as unknown as Promise<[Response, Response]>);
  assert.ok(list.ok, JSON.stringify(list));
  const row = (list.result as { dir: string; active: boolean }[]).find((r) => r.dir === dir);
  assert.equal(row?.active, true, 'a run trained by another process is active');
  assert.ok(!del.ok && /is training.*process \d+/.test(del.error.message), JSON.stringify(del));
  assert.ok(existsSync(runPaths(dir).config), 'not moved');
  assert.equal(second.signal, null, second.stderr.slice(-400));
  assert.ok(!existsSync(lockFile(dir)), 'Ctrl-C: released');
  assertIterations(dir, 'after Ctrl-C');
});

test('two engine processes (two app clients): train.start and train.resume of one run leave one trainer; one engine refuses its own double start', async () => {
  const env = { ...process.env, SAMPLER_STUDIO_CACHE: join(tmp, 'cache') };
  const engines = [new EngineProcess(env), new EngineProcess(env)];
  try {
    const runDir = join(tmp, 'clients', 'run');
    // ∞ (nfeBudget, initSigmaHi) crosses IPC as JSON written "inf", as the app sends it.
    const config = JSON.parse(JSON.stringify(tiny({ iterations: 400 }), infReplacer)) as Record<string, unknown>;
    const isOk = (r: Response): boolean => r.ok;
    // Both ask at once to start the same new run.
    const starts = await Promise.all(
      engines.map((e) => e.request('train.start', { model: 'gmm-ring8', runDir, config })),
    );
    assert.equal(starts.filter(isOk).length, 1, JSON.stringify(starts));
    const winner = engines[starts.findIndex(isOk)]!;
    const other = engines[starts.findIndex((r) => !r.ok)]!;
    const refusal = starts.find((r) => !r.ok)!;
    assert.ok(
      // The winner's lock names it; caught while that lock is being written, the refusal says so.
      !refusal.ok &&
        (HELD.test(refusal.error.message) ||
          /already holds a run|is being written by another process/.test(refusal.error.message)),
      JSON.stringify(refusal),
    );
    assert.ok(
      !other.events.some((e) => e.type === 'run' && e.run === runDir),
      'no lifecycle event for a refused start',
    );
    await winner.until((e) => e.type === 'metrics' && e.run === runDir);
    // The other client sees it training, cannot resume or delete it.
    const list = await other.request('runs.list', { root: join(tmp, 'clients') });
    assert.ok(list.ok && (list.result as { active: boolean }[])[0]!.active, JSON.stringify(list));
    const resume = await other.request('train.resume', { run: runDir });
    assert.ok(!resume.ok && HELD.test(resume.error.message), JSON.stringify(resume));
    assert.equal(Number(HELD.exec((resume as { error: { message: string } }).error.message)![1]), winner.pid);
    assert.ok(!(await other.request('runs.delete', { run: runDir })).ok);
    assert.deepEqual(await winner.request('train.stop', { run: runDir, pause: true }).then((r) => r.ok && r.result), {
      stopped: true,
    });
    // One engine asked twice without waiting (a double click on "train more"): one trains, one is refused.
    const twice = await Promise.all([
      winner.request('train.resume', { run: runDir }),
      winner.request('train.resume', { run: runDir }),
    ]);
    assert.equal(twice.filter(isOk).length, 1, JSON.stringify(twice));
    assert.ok(
      twice.some((r) => !r.ok && r.error.message === `${runDir} is already training`),
      JSON.stringify(twice),
    );
    assert.ok((await winner.request('train.stop', { run: runDir, pause: true })).ok);
    // Both resume at once.
    const resumes = await Promise.all(engines.map((e) => e.request('train.resume', { run: runDir })));
    assert.equal(resumes.filter(isOk).length, 1, JSON.stringify(resumes));
    const again = engines[resumes.findIndex(isOk)]!;
    const second = engines.filter((e) => e !== again);
    assert.ok(
      resumes.some((r) => !r.ok && HELD.test(r.error.message)),
      JSON.stringify(resumes),
    );
    const before = again.events.filter((e) => e.type === 'metrics').length;
    await again.until(
      (e) => e.type === 'metrics' && again.events.filter((x) => x.type === 'metrics').length > before + 1,
    );
    assert.ok((await again.request('train.stop', { run: runDir })).ok);
    assert.ok(second.length === 1 && (await second[0]!.request('train.stop', { run: runDir })).ok);
    assertIterations(runDir, 'two clients');
    assert.ok(!existsSync(lockFile(runDir)));
  } finally {
    await Promise.all(engines.map((e) => e.close()));
  }
});

test('8 CLI trainings of one run SIGKILLed at random points: each next resume takes over the lock; no reported iteration lost, none twice', async () => {
  const dir = copyRun();
  const rng = new Stream(1313, 2);
  const counts = { kills: 0, resumed: 0, refused: 0, tookOver: 0, lostIterations: 0 };
  let reported = 1; // the last iteration whose metrics event was seen (the base run finished 1)
  for (let k = 0; k < 8; k++) {
    // Killed at a random point after it has resumed (holds the lock): 0–4 s into its training. Counted
    // from the resume, not from the spawn, so a busy machine that starts the CLI slowly kills no less.
    // The target is out of reach, so a fast machine cannot finish the run before its kill (with 400, a
    // CI machine finished it on the 6th resume and the last three were not killed).
    let armed = false;
    const r = await spawnCli(
      ['train', '--resume', dir, '--iterations', '1000000', '--json'],
      (text, child) => {
        if (armed || !/"resumed at iteration \d+"/.test(text)) return;
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), rng.uniform() * 4000);
      },
      240_000,
    );
    if (r.signal === 'SIGKILL') counts.kills++;
    if (HELD.test(r.stderr)) counts.refused++;
    const at = /"resumed at iteration (\d+)"/.exec(r.stderr);
    if (at) {
      counts.resumed++;
      counts.lostIterations += Math.max(0, reported - Number(at[1]));
    }
    if (/took over .*train\.lock from process \d+/.test(r.stderr)) counts.tookOver++;
    for (const m of r.stderr.matchAll(/"type":"metrics","run":"[^"]*","iteration":(\d+)/g))
      reported = Math.max(reported, Number(m[1]));
    assertIterations(dir, `kill ${k}`);
  }
  const last = await cli('train', '--resume', dir, '--iterations', String(reported + 2), '--json');
  assert.equal(last.code, 0, last.stderr.slice(-400));
  assert.deepEqual(assertIterations(dir, 'after the kills').at(-1), reported + 2);
  assert.ok(!existsSync(lockFile(dir)));
  console.log(`training kills: ${JSON.stringify(counts)}`);
  assert.equal(counts.refused, 0, 'a stale lock never blocks');
  assert.equal(counts.lostIterations, 0);
  // Every training was killed while it held the lock, so each of the next seven resumes took it over.
  assert.ok(counts.kills === 8 && counts.tookOver === 7, JSON.stringify(counts));
});
