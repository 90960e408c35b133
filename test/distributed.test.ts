// Rollouts on workers through Redis + BullMQ (issue 19): shards merge into the one-piece rollout,
// a training run on two worker processes gives the same metrics and checkpoint as one process —
// with every shard job delivered twice — and the flags are checked before anything connects.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Queue, QueueEvents } from 'bullmq';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { defaultConfig, type LearnerConfig } from '../src/main/engine/learner/config';
import { Learner } from '../src/main/engine/learner/learner';
import { initTf } from '../src/main/engine/learner/backend';
import { mergeRollouts, type Rollout } from '../src/main/engine/learner/rollout';
import { PREFIX, SHARD_QUEUE } from '../src/main/engine/distributed/redis';
import { queueStatus } from '../src/main/engine/distributed/status';
import { assertUsageError, cli, lastJson, spawnCli, type ChildResult } from './helpers/cli';
import { redisMissing, startRedis, type RedisServer } from './helpers/redis';

const tmp = mkdtempSync(join(tmpdir(), 'ss-distributed-'));
process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
let ring: Model;

before(async () => {
  await initTf();
  ring = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'));
});
after(async () => {
  await ring.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

function tiny(extra: Partial<LearnerConfig> = {}): LearnerConfig {
  return {
    ...defaultConfig('cfg'),
    trajectories: 256,
    rolloutBatch: 64,
    discriminatorInitSteps: 5,
    discriminatorSteps: 2,
    discriminatorBatch: 64,
    ppoEpochs: 1,
    hidden: 32,
    evalEvery: 0,
    evalSamples: 256,
    conditioning: 'state',
    ...extra,
  };
}

/** A rollout's fields, transitions cut to their count; the expected-action sums apart (summed in another order). */
function comparable(r: Rollout): Omit<Rollout, 'trajectories' | 'expectedAction'> {
  const cut = <T extends Int32Array | Float32Array | Uint8Array>(a: T, k = 1): T => a.subarray(0, r.count * k) as T;
  const K = r.tRow.length > 0 ? r.tMask.length / r.tRow.length : 0;
  const { trajectories: _t, expectedAction: _e, ...rest } = r;
  void _t;
  void _e;
  return {
    ...rest,
    tRow: cut(r.tRow),
    tStep: cut(r.tStep),
    tAction: cut(r.tAction),
    tLogp: cut(r.tLogp),
    tMask: cut(r.tMask, K),
  };
}

test('shards of any size, merged, are the rollout drawn in one piece (states, transitions in order, φ)', async () => {
  const c = tiny();
  const a = new Learner(ring, c);
  const b = new Learner(ring, c); // a worker's learner: same config, the weights come with the job
  try {
    const S = a.H + 1;
    const E = a.encoder.dim;
    const seen = { phi: new Float32Array(256 * S * E), filled: new Uint8Array(256 * S) };
    const whole = await a.rollout(256, 11, { temperature: 1, features: seen });
    // Shards that cut through sampler batches (100 = 64 + 36) and one that spans two.
    for (const sizes of [
      [64, 64, 128],
      [100, 156],
    ]) {
      const parts: Rollout[] = [];
      const phi = new Float32Array(256 * S * E);
      const filled = new Uint8Array(256 * S);
      let first = 0;
      for (const n of sizes) {
        const f = { phi: new Float32Array(n * S * E), filled: new Uint8Array(n * S) };
        parts.push(await b.rolloutShard(a.policy.getWeights(), n, first, 11, { temperature: 1, features: f }));
        phi.set(f.phi, first * S * E);
        filled.set(f.filled, first * S);
        first += n;
      }
      const merged = mergeRollouts(parts, c.rolloutBatch);
      assert.ok(whole.count > 0);
      assert.deepEqual(comparable(merged), comparable(whole), `shards ${sizes.join('+')}`);
      // Σ of E_π[v_a | s] per level: the same terms, added shard by shard (float64 round-off).
      merged.expectedAction.forEach((v, l) => assert.ok(Math.abs(v - whole.expectedAction[l]!) < 1e-9 * Math.abs(v)));
      assert.deepEqual(filled, seen.filled);
      assert.deepEqual(phi, seen.phi);
    }
  } finally {
    await a.dispose();
    await b.dispose();
  }
});

test('flags: --redis is checked before anything connects; worker needs --redis; --shard-size goes with --redis', async () => {
  const run = join(tmp, 'flags');
  assertUsageError(
    await cli('train', '--model', 'gmm-ring8', '--run-dir', run, '--redis', 'http://localhost:6379'),
    /--redis "http:\/\/localhost:6379": the scheme must be redis:\/\/ or rediss:\/\//,
  );
  assertUsageError(
    await cli('train', '--model', 'gmm-ring8', '--run-dir', run, '--redis', 'localhost'),
    /is not a URL/,
  );
  assertUsageError(
    await cli('train', '--model', 'gmm-ring8', '--run-dir', run, '--shard-size', '64'),
    /--shard-size goes with --redis/,
  );
  for (const size of ['0', '2.5', '2000000'])
    assertUsageError(
      await cli(
        'train',
        '--model',
        'gmm-ring8',
        '--run-dir',
        run,
        '--redis',
        'redis://127.0.0.1:1',
        '--shard-size',
        size,
      ),
      new RegExp(`--shard-size must be a whole number in \\[1, 1000000\\], got "${size}"`),
    );
  assertUsageError(await cli('worker'), /worker needs --redis URL/);
  assertUsageError(
    await cli('worker', '--redis', 'redis://127.0.0.1:1', '--concurrency', '0'),
    /--concurrency must be a whole number ≥ 1/,
  );
});

/** Runs `fn` with a fresh redis-server; the processes it hands to `keep` are killed after it, and Redis stopped. */
async function withRedis(fn: (redis: RedisServer, keep: (c: ChildProcess) => void) => Promise<void>): Promise<void> {
  const redis = await startRedis();
  const kept: ChildProcess[] = [];
  try {
    await fn(redis, (c) => kept.push(c));
  } finally {
    for (const c of kept) if (c.exitCode === null) c.kill('SIGKILL');
    await redis.stop();
  }
}

const metricsOf = (dir: string): Record<string, number>[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const m = JSON.parse(l) as Record<string, number>;
      // Times differ from run to run; the queue's own figures exist only on workers.
      for (const k of Object.keys(m)) if (k.startsWith('time/') || k.startsWith('queue/')) delete m[k];
      return m;
    });

const FLAGS = [
  '--model', 'gmm-ring8', '--trajectories', '256', '--rollout-batch', '64', '--iterations', '2',
  '--eval-every', '0', '--eval-samples', '256', '--hidden', '32', '--ppo-epochs', '1',
  '--discriminator-init-steps', '5', '--discriminator-steps', '2', '--conditioning', 'state', '--json',
]; // prettier-ignore

/** The single-process run the distributed ones must equal (trained once, by the first test that asks). */
let localRun: Promise<string> | null = null;
function local(): Promise<string> {
  localRun ??= (async () => {
    const dir = join(tmp, 'local');
    const r = await spawnCli(['train', ...FLAGS, '--run-dir', dir], undefined, 120_000);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    return dir;
  })();
  return localRun;
}

/** Starts a worker process and waits until it listens; `onStderr` sees its log as it grows. */
async function startWorker(
  url: string,
  name: string,
  extra: string[] = [],
  onStderr?: (text: string, child: ChildProcess) => void,
): Promise<{ child: ChildProcess; done: Promise<ChildResult> }> {
  let child: ChildProcess | null = null;
  let ready: () => void;
  const up = new Promise<void>((r) => (ready = r));
  const done = spawnCli(
    ['worker', '--redis', url, '--name', name, '--json', ...extra],
    (err, c) => {
      if (err.includes(`worker ${name} on`)) ready();
      onStderr?.(err, c);
    },
    200_000,
    (c) => (child = c),
  );
  await Promise.race([up, done.then((r) => assert.fail(`worker ${name} exited early: ${r.stderr.slice(-1000)}`))]);
  return { child: child!, done };
}

test(
  'a run on 2 worker processes gives the metrics and checkpoint of one process, with every shard delivered twice',
  { skip: redisMissing() ?? false, timeout: 240_000 },
  async () => {
    const redis = await startRedis();
    const workers: ChildProcess[] = [];
    const stopped: Promise<ChildResult>[] = [];
    // Every shard job added is added once more under another id: a second delivery of the same shard.
    const events = new QueueEvents(SHARD_QUEUE, { connection: { url: redis.url }, prefix: PREFIX });
    const queue = new Queue(SHARD_QUEUE, { connection: { url: redis.url }, prefix: PREFIX });
    let duplicated = 0;
    events.on('added', ({ jobId }) => {
      if (jobId.endsWith('-again')) return;
      void queue.getJob(jobId).then(async (job) => {
        if (!job) return;
        duplicated++;
        await queue.add(job.name, job.data, { jobId: `${jobId}-again`, removeOnComplete: true });
      });
    });
    try {
      await events.waitUntilReady();
      // w2 runs two shards at once (each on its own learner: [Note: one learner per shard in flight]).
      for (const [name, extra] of [
        ['w1', []],
        ['w2', ['--concurrency', '2']],
      ] as const) {
        const w = await startWorker(redis.url, name, [...extra]);
        workers.push(w.child);
        stopped.push(w.done);
      }
      const one = await local();
      const remote = await spawnCli(
        ['train', ...FLAGS, '--run-dir', join(tmp, 'remote'), '--redis', redis.url, '--shard-size', '64'],
        undefined,
        120_000,
      );
      assert.equal(remote.code, 0, remote.stderr.slice(-2000));
      assert.deepEqual(metricsOf(join(tmp, 'remote')), metricsOf(one));
      assert.equal(
        readFileSync(join(tmp, 'remote', 'checkpoint.json'), 'utf8'),
        readFileSync(join(one, 'checkpoint.json'), 'utf8'),
        'the final policy (and every weight) is the one-process run’s',
      );
      const line = JSON.parse(readFileSync(join(tmp, 'remote', 'metrics.jsonl'), 'utf8').split('\n')[0]!) as Record<
        string,
        number
      >;
      assert.ok(
        line['time/queue_wait_s']! > 0 && line['queue/result_mb']! > 0,
        'the queue’s time and bytes are in the metrics',
      );
      // The Workers panel's reading: both workers, with what they did.
      const status = await queueStatus(redis.url);
      assert.deepEqual(
        status.workers.map((w) => w.name),
        ['w1', 'w2'],
      );
      assert.deepEqual(
        status.workers.map((w) => [w.device, w.concurrency]),
        [
          ['auto', 1],
          ['auto', 2],
        ],
      );
      assert.equal(status.waiting, 0);
      await assert.rejects(queueStatus('redis://127.0.0.1:1'), /cannot read the queue at redis:\/\/127\.0\.0\.1:1/);
      // Each second delivery was either dropped as a duplicate or refused as stale (its iteration was over).
      for (const w of workers) w.kill('SIGINT');
      const stats = (await Promise.all(stopped)).map((r) => {
        assert.equal(r.code, 0, r.stderr.slice(-2000));
        return lastJson(r.stdout) as { shards: number; duplicates: number };
      });
      const stale = (await queue.getJobs(['failed'])).filter((j) => /stale shard/.test(j.failedReason ?? '')).length;
      assert.equal(duplicated, 2 * 4, 'every shard of both iterations was delivered twice');
      assert.equal(
        stats.reduce((s, w) => s + w.shards, 0),
        2 * 4,
        'each shard ran to a result once',
      );
      assert.equal(stats.reduce((s, w) => s + w.duplicates, 0) + stale, duplicated);
      assert.ok(
        stats.every((w) => w.shards > 0),
        `both workers took shards: ${JSON.stringify(stats)}`,
      );
    } finally {
      for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
      await events.close();
      await queue.close();
      await redis.stop();
    }
  },
);

test(
  'a worker killed with SIGKILL mid-shard: after its lease the shard runs on another worker, and the run ends as in one process',
  { skip: redisMissing() ?? false, timeout: 240_000 },
  async () => {
    await withRedis(async (redis, keep) => {
      const one = await local();
      // A slow worker (every denoiser call waits 100 ms: a shard takes seconds) with a 2-second lease.
      let midShard: () => void;
      const started = new Promise<void>((r) => (midShard = r));
      const slow = await startWorker(redis.url, 'slow', ['--simulate-call-ms', '100', '--lease', '2'], (err) => {
        if (/shard \d+: 64 trajectories/.test(err)) midShard();
      });
      keep(slow.child);
      const train = spawnCli(
        ['train', ...FLAGS, '--run-dir', join(tmp, 'killed'), '--redis', redis.url, '--shard-size', '64'],
        undefined,
        200_000,
      );
      await started;
      slow.child.kill('SIGKILL');
      const killed = await slow.done;
      assert.equal(killed.signal, 'SIGKILL');
      const fresh = await startWorker(redis.url, 'fresh', ['--lease', '2']);
      keep(fresh.child);
      const r = await train;
      assert.equal(r.code, 0, r.stderr.slice(-2000));
      assert.match(r.stderr, /waiting for \d+ of 4 shards \(workers: /, 'the wait is visible, with the workers');
      assert.deepEqual(metricsOf(join(tmp, 'killed')), metricsOf(one));
      assert.equal(
        readFileSync(join(tmp, 'killed', 'checkpoint.json'), 'utf8'),
        readFileSync(join(one, 'checkpoint.json'), 'utf8'),
      );
      fresh.child.kill('SIGINT');
      const stats = lastJson((await fresh.done).stdout) as { shards: number };
      assert.equal(stats.shards, 8, 'the fresh worker ran every shard, the one the killed worker held included');
    });
  },
);

test(
  'Redis killed with SIGKILL mid-iteration: the learner says it waits for Redis, publishes the lost iteration again when it is back, and ends as in one process',
  { skip: redisMissing() ?? false, timeout: 240_000 },
  async () => {
    await withRedis(async (redis, keep) => {
      const one = await local();
      let midShard: () => void;
      const started = new Promise<void>((r) => (midShard = r));
      const w = await startWorker(redis.url, 'steady', ['--simulate-call-ms', '20', '--lease', '2'], (err) => {
        if (/iteration 1, shard \d+: 64 trajectories/.test(err)) midShard();
      });
      keep(w.child);
      const train = spawnCli(
        ['train', ...FLAGS, '--run-dir', join(tmp, 'redis-restart'), '--redis', redis.url, '--shard-size', '64'],
        undefined,
        200_000,
      );
      await started;
      await redis.stop(true); // everything in it is lost: no persistence
      await new Promise((r) => setTimeout(r, 3000));
      await redis.restart();
      const r = await train;
      assert.equal(r.code, 0, r.stderr.slice(-3000));
      assert.match(r.stderr, /waiting for Redis \(connection lost; reconnecting\)/);
      assert.match(r.stderr, /iteration \d+: Redis lost its jobs \(restarted\?\); publishing them again/);
      assert.deepEqual(metricsOf(join(tmp, 'redis-restart')), metricsOf(one));
      assert.equal(
        readFileSync(join(tmp, 'redis-restart', 'checkpoint.json'), 'utf8'),
        readFileSync(join(one, 'checkpoint.json'), 'utf8'),
      );
    });
  },
);

test(
  'a learner killed with SIGKILL mid-iteration: train --resume --redis discards its leftover shards and finishes the run',
  { skip: redisMissing() ?? false, timeout: 240_000 },
  async () => {
    const dir = join(tmp, 'learner-killed');
    await withRedis(async (redis, keep) => {
      const one = await local();
      // One slow worker: a shard takes seconds, so iteration 2's shards are still queued when the learner dies.
      let second: () => void;
      const inSecond = new Promise<void>((r) => (second = r));
      const w = await startWorker(redis.url, 'patient', ['--simulate-call-ms', '120', '--lease', '2'], (err) => {
        if (/iteration 2, shard \d+: 64 trajectories/.test(err)) second();
      });
      keep(w.child);
      const first = spawnCli(
        ['train', ...FLAGS, '--run-dir', dir, '--redis', redis.url, '--shard-size', '64'],
        undefined,
        200_000,
      );
      await inSecond;
      const killed = await new Promise<ChildResult>((resolve) => {
        void first.then(resolve);
        const pidFile = JSON.parse(readFileSync(join(dir, 'train.lock'), 'utf8')) as { pid: number };
        process.kill(pidFile.pid, 'SIGKILL');
      });
      assert.equal(killed.signal, 'SIGKILL');
      const r = await spawnCli(
        ['train', '--resume', dir, '--redis', redis.url, '--shard-size', '64', '--json'],
        undefined,
        200_000,
      );
      assert.equal(r.code, 0, r.stderr.slice(-3000));
      assert.match(r.stderr, /discarded [1-9]\d* shard jobs the stopped learner [0-9a-f]+ left in the queue/);
      assert.match(r.stderr, /waiting for \d of 4 shards \(workers: patient\)/, 'the wait names the workers');
      const resumed = metricsOf(dir);
      const whole = metricsOf(one);
      assert.equal(resumed.length, 2);
      // A resumed run repeats an uninterrupted one's draws (to float32 round-off: learner/checkpoint.ts).
      for (const [i, m] of resumed.entries())
        for (const [k, v] of Object.entries(whole[i]!))
          assert.ok(Math.abs(m[k]! - v) <= 1e-5 * Math.max(1, Math.abs(v)), `${k}: ${m[k]} vs ${v}`);
    });
  },
);

test(
  'eval --redis and grid --redis draw their batches on workers: the same samples, so the same numbers as in one process',
  { skip: redisMissing() ?? false, timeout: 240_000 },
  async () => {
    await withRedis(async (redis, keep) => {
      for (const name of ['s1', 's2']) keep((await startWorker(redis.url, name)).child);
      const evalArgs = [
        'eval',
        '--model',
        'gmm-ring8',
        '--n',
        '512',
        '--batch',
        '128',
        '--metrics',
        'fid,precision',
        '--json',
      ];
      const here = await cli(...evalArgs);
      assert.equal(here.code, 0, here.stderr);
      const there = await cli(...evalArgs, '--redis', redis.url, '--shard-size', '100');
      assert.equal(there.code, 0, there.stderr);
      const pick = (r: Record<string, unknown>) => ({
        ...r,
        seconds: undefined,
        settings: undefined,
        referenceSource: undefined,
      });
      assert.deepEqual(pick(lastJson(there.stdout)), pick(lastJson(here.stdout)));
      const gridArgs = (out: string) => [
        'grid',
        '--model',
        'gmm-ring8',
        '--axis',
        'guidance=1,2',
        '--n',
        '256',
        '--batch',
        '128',
        '--out',
        join(tmp, out),
        '--json',
      ];
      const g1 = await cli(...gridArgs('grid-here'));
      assert.equal(g1.code, 0, g1.stderr);
      const g2 = await cli(...gridArgs('grid-there'), '--redis', redis.url);
      assert.equal(g2.code, 0, g2.stderr);
      const cells = (dir: string) =>
        (
          JSON.parse(readFileSync(join(tmp, dir, 'results.json'), 'utf8')) as {
            cells: { summary: unknown; denoiserEvaluations: number }[];
          }
        ).cells.map((c) => ({ summary: c.summary, nfe: c.denoiserEvaluations }));
      assert.deepEqual(cells('grid-there'), cells('grid-here'));
      assertUsageError(await cli(...evalArgs, '--shard-size', '10'), /--shard-size goes with --redis/);
    });
  },
);
