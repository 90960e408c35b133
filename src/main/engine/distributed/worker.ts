// A worker (issue 19): pulls shard jobs from the queue and runs them with the engine's own rollout
// code — a Learner built from the job's config, with the policy weights the learner published for
// that iteration — then stores the result under the shard's key. One per GPU, on any machine that
// reaches the Redis; `sampler-studio worker --redis URL`.
//
// [Note: leases]
// BullMQ locks a job for `lease` seconds and the worker renews the lock while the job runs (every
// lease/2). A worker killed mid-shard stops renewing; after the lease the job is stalled and goes
// back to the queue for another worker (up to STALLS times). A lease must therefore outlive the
// gaps in which a shard keeps the event loop busy — the policy head's forward pass, never the
// denoiser, which runs on ONNX Runtime's threads — which on our models are milliseconds.

import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { wireReviver } from '../../../shared/json';
import { Model } from '../models/model';
import { resolveModelDir } from '../models/registry';
import { checkConfig, type LearnerConfig } from '../learner/config';
import { encoderForModel } from '../learner/encoder';
import { Learner } from '../learner/learner';
import { initTf } from '../learner/backend';
import { connect, KEY_TTL_S, PREFIX, SHARD_QUEUE, policyKey, resultKey, workerKey, redactedUrl } from './redis';
import type { WorkerInfo } from '../../../shared/protocol';
import {
  modelFingerprint,
  pack,
  packShard,
  SampleJobSchema,
  ShardJobSchema,
  unpack,
  type SamplePayload,
  type ShardDone,
} from './jobs';
import { generate, resolveSettings, type ResolvedSettings } from '../samplers/generate';

/** How often a worker job may be found stalled (its worker gone) before it fails. */
export const STALLS = 5;

export interface WorkerOptions {
  url: string;
  /** Shards run at once. */
  concurrency: number;
  device: 'auto' | 'cpu' | 'cuda';
  /** Lease of a job in seconds ([Note: leases]). */
  lease: number;
  /** Name in the worker list (default host:pid). */
  name?: string;
  /** Milliseconds every denoiser call waits (LoadOptions.simulatedCallMs: a GPU-bound denoiser, for benchmarks). */
  simulateCallMs?: number;
  log: (line: string) => void;
}

interface Stats {
  shards: number;
  samples: number;
  seconds: number;
  duplicates: number;
}

/** Runs until `signal` aborts; then finishes the shards it holds and closes. */
export async function runWorker(o: WorkerOptions, signal: AbortSignal): Promise<Stats> {
  const name = o.name ?? `${hostname()}:${process.pid}`;
  const backend = await initTf();
  const redis = connect(o.url, 'worker');
  const models = new Map<string, { model: Model; hash: string }>();
  // [Note: one learner per shard in flight]
  // A shard sets its iteration's policy weights into the Learner it runs on, so two shards at once
  // (--concurrency K) must not share one: each takes a free Learner of its config from the pool, or
  // makes one (at most K per config), and puts it back when done.
  const learners = new Map<string, Learner[]>();
  const all: Learner[] = [];
  const stats: Stats = { shards: 0, samples: 0, seconds: 0, duplicates: 0 };

  const modelFor = async (ref: string): Promise<{ model: Model; hash: string }> => {
    let m = models.get(ref);
    if (!m) {
      const model = await Model.load(resolveModelDir(ref), {
        device: o.device,
        simulatedCallMs: o.simulateCallMs ?? 0,
      });
      m = { model, hash: modelFingerprint(model) };
      models.set(ref, m);
    }
    return m;
  };
  const withLearner = async <T>(
    model: Model,
    ref: string,
    config: LearnerConfig,
    fn: (l: Learner) => Promise<T>,
  ): Promise<T> => {
    const key = `${ref}\n${JSON.stringify(config)}`;
    const free = learners.get(key) ?? [];
    learners.set(key, free);
    let l = free.pop();
    if (!l) {
      l = new Learner(model, config, await encoderForModel(model, o.device));
      all.push(l);
    }
    try {
      return await fn(l);
    } finally {
      free.push(l);
    }
  };

  /** At-least-once delivery: a shard whose result is stored already is not run again. */
  const alreadyDone = async (key: string): Promise<boolean> => {
    const done = (await redis.exists(key)) === 1;
    if (done) stats.duplicates++;
    return done;
  };

  /** Stores a shard's result once (SET NX: a second delivery's is dropped) and counts it. */
  const store = async (key: string, buf: Buffer, shard: number, n: number, t0: number): Promise<ShardDone> => {
    const stored = await redis.set(key, buf, 'EX', KEY_TTL_S, 'NX');
    const seconds = (performance.now() - t0) / 1000;
    const duplicate = stored === null;
    if (duplicate) stats.duplicates++;
    else {
      stats.shards++;
      stats.samples += n;
      stats.seconds += seconds;
    }
    return { key, shard, bytes: buf.length, seconds, worker: name, duplicate };
  };

  /** The model a job names, refused (for good) when it cannot open or differs from the producer's. */
  const jobModel = async (ref: string, hash: string): Promise<Model> => {
    let m: { model: Model; hash: string };
    try {
      m = await modelFor(ref);
    } catch (e) {
      throw new UnrecoverableError(`worker ${name} cannot open model "${ref}": ${(e as Error).message}`);
    }
    if (m.hash !== hash)
      throw new UnrecoverableError(
        `worker ${name}'s copy of model "${ref}" differs from the producer's (fingerprint ${m.hash}, producer ${hash}); give every machine the same model files`,
      );
    return m.model;
  };

  /** A sampling shard (eval, grid): generate with its settings, stored under its key once. */
  const sampleShard = async (job: Job): Promise<ShardDone> => {
    const parsed = SampleJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`not a sampling job: ${parsed.error.issues[0]?.message}`);
    const s = parsed.data;
    const t0 = performance.now();
    const key = resultKey(s.epoch, s.draw, s.shard);
    if (await alreadyDone(key)) return { key, shard: s.shard, bytes: 0, seconds: 0, worker: name, duplicate: true };
    const model = await jobModel(s.model, s.modelHash);
    let settings: ResolvedSettings;
    try {
      settings = resolveSettings(model, JSON.parse(s.settings, wireReviver) as ResolvedSettings);
    } catch (e) {
      throw new UnrecoverableError(`sampling shard ${s.shard}: ${(e as Error).message}`);
    }
    o.log(`draw ${s.draw}, shard ${s.shard}: ${s.n} samples from ${s.first} (producer ${s.epoch})`);
    const gen = await generate(model, settings, {
      n: s.n,
      first: s.first,
      batch: s.batch,
      seed: s.seed,
      classes: s.classes,
    });
    const payload: SamplePayload = {
      epoch: s.epoch,
      draw: s.draw,
      shard: s.shard,
      first: s.first,
      samples: gen.samples,
      labels: gen.labels,
      nfe: gen.nfe,
      networkEvals: gen.networkEvals,
    };
    const buf = pack(payload);
    return store(key, buf, s.shard, s.n, t0);
  };

  const process_ = async (job: Job): Promise<ShardDone> => {
    if (job.name === 'sample') return sampleShard(job);
    const parsed = ShardJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`not a shard job: ${parsed.error.issues[0]?.message}`);
    const s = parsed.data;
    const t0 = performance.now();
    const key = resultKey(s.epoch, s.iteration, s.shard);
    if (await alreadyDone(key)) return { key, shard: s.shard, bytes: 0, seconds: 0, worker: name, duplicate: true };
    const weights = await redis.getBuffer(policyKey(s.epoch, s.iteration));
    if (!weights)
      throw new UnrecoverableError(
        `stale shard: no policy for iteration ${s.iteration} of learner ${s.epoch} (it moved on or stopped)`,
      );
    const model = await jobModel(s.model, s.modelHash);
    let config: LearnerConfig;
    try {
      config = JSON.parse(s.config, wireReviver) as LearnerConfig;
      checkConfig(config);
    } catch (e) {
      throw new UnrecoverableError(`shard ${s.shard}: ${(e as Error).message}`);
    }
    o.log(
      `iteration ${s.iteration + 1}, shard ${s.shard}: ${s.n} trajectories from row ${s.first} (learner ${s.epoch})`,
    );
    const { rollout, features } = await withLearner(model, s.model, config, async (learner) => {
      const S = learner.H + 1;
      const E = learner.encoder.dim;
      const f = s.features ? { phi: new Float32Array(s.n * S * E), filled: new Uint8Array(s.n * S) } : undefined;
      const r = await learner.rolloutShard(unpack(weights) as Float32Array[], s.n, s.first, s.seed, {
        temperature: s.temperature,
        features: f,
      });
      return { rollout: r, features: f };
    });
    const buf = packShard(
      {
        epoch: s.epoch,
        iteration: s.iteration,
        shard: s.shard,
        first: s.first,
        rollout,
        phi: features?.phi ?? null,
        filled: features?.filled ?? null,
      },
      s.features && s.states === 'unencoded',
    );
    return store(key, buf, s.shard, s.n, t0);
  };

  const worker = new Worker(SHARD_QUEUE, process_, {
    connection: redis as never,
    prefix: PREFIX,
    concurrency: o.concurrency,
    name,
    lockDuration: o.lease * 1000,
    stalledInterval: Math.max(1000, (o.lease * 1000) / 2),
    maxStalledCount: STALLS,
    autorun: false,
  });
  worker.on('failed', (job, err) => o.log(`shard ${job?.data?.shard ?? '?'} failed: ${err.message}`));
  worker.on('error', (err) => o.log(`queue: ${err.message}`));
  const beat = async (): Promise<void> => {
    const info: WorkerInfo = {
      name,
      device: o.device,
      backend: backend.backend,
      concurrency: o.concurrency,
      models: [...models.keys()],
      ...stats,
      samplesPerSecond: stats.seconds > 0 ? stats.samples / stats.seconds : 0,
      at: Date.now(),
    };
    await redis.set(workerKey(name), JSON.stringify(info), 'EX', 30).catch(() => undefined);
  };
  const timer = setInterval(() => void beat(), 5000);
  await beat();
  o.log(
    `worker ${name} on ${redactedUrl(o.url)}: ${o.concurrency} at a time, device ${o.device}, learner backend ${backend.backend}`,
  );
  const running = worker.run();
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(timer);
  await worker.close();
  await running;
  await redis.del(workerKey(name)).catch(() => undefined);
  await closeQuietly(redis);
  for (const l of all) await l.dispose();
  for (const m of models.values()) await m.model.dispose();
  return stats;
}

/** Quits a connection, or drops it when Redis is gone. */
export async function closeQuietly(redis: Redis): Promise<void> {
  try {
    await Promise.race([redis.quit(), new Promise((r) => setTimeout(r, 1000))]);
  } catch {
    // already closed
  }
  redis.disconnect();
}
