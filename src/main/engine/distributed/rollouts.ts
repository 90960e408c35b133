// The learner's side of distributed rollouts (issue 19): each iteration's rollout goes out as one
// BullMQ flow — children = shards in the shared shard queue, parent = this learner's gather job —
// and comes back as the same Rollout a single process would have drawn.
//
//   1. publish the policy weights of the iteration under policyKey(epoch, iteration) (by reference:
//      jobs carry the key's coordinates, not the weights)
//   2. add the flow: shard s = rows [s·size, min(n, (s+1)·size)); row streams derive from (seed,
//      row) as in one process, so which worker runs a shard does not change its numbers
//   3. wait for the gather job (this process's own gather worker runs it when every shard is done),
//      reporting progress and the workers while it waits
//   4. read each shard's stored result once, check it is this (epoch, iteration, shard), merge in
//      row order (mergeRollouts restores the one-process order of transitions), delete the keys
//
// [Note: same numbers as one process]
// A shard's rows draw from their own streams (generate's `first`), so a shard is the same samples
// whatever its size. A shard's sampler batches are its own rows (at most rolloutBatch), and the
// denoiser's, encoder's and policy head's output for a row does not depend on which other rows
// share its batch (row-wise networks on CPU), so shards reproduce the one-process rollout exactly;
// test/distributed.test.ts checks a run against a single-process one.

import { randomBytes } from 'node:crypto';
import { FlowProducer, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Model } from '../models/model';
import type { LearnerConfig } from '../learner/config';
import {
  mergeRollouts,
  type Rollout,
  type RolloutRequest,
  type RolloutService,
  type RolloutTiming,
} from '../learner/rollout';
import { connect, gatherQueue, KEY_TTL_S, PREFIX, SHARD_QUEUE, policyKey } from './redis';
import { wireReplacer } from '../../../shared/json';
import {
  modelFingerprint,
  pack,
  ShardDoneSchema,
  ShardFailed,
  unpackShard,
  type ShardDone,
  type ShardJob,
} from './jobs';
import { closeQuietly, STALLS } from './worker';

export interface RemoteOptions {
  url: string;
  /** The model as the workers should open it (bundled id or a directory they share). */
  modelRef: string;
  /** Trajectories per shard (default: the rollout batch). */
  shardSize?: number;
  /**
   * What comes back of the visited states when the policy sees them: 'features' (default) φ, and x
   * only of the states without one; 'states' every x as well (`npm run bench -- workers` weighs both).
   */
  send?: 'features' | 'states';
  /** Called while the learner waits (about once a second). */
  onWait?: (w: WaitState) => void;
  /** Things worth a line in the run's log. */
  onLog?: (message: string) => void;
}

/** Where a distributed rollout stands while the learner waits for it. */
export interface WaitState {
  iteration: number;
  shards: number;
  done: number;
  /** Names of the workers connected to the shard queue. */
  workers: string[];
  /** The learner's connection: 'reconnecting' while Redis is away (commands wait for it). */
  redis: 'connected' | 'reconnecting';
}

/** A worker's name as it registered (runWorker's `name`), from BullMQ's client list entry. */
export function workerName(client: Record<string, string>): string {
  const raw = client['rawname'] ?? '';
  const i = raw.lastIndexOf(':w:');
  return i >= 0 ? raw.slice(i + 3) : (client['addr'] ?? '?');
}

export class RemoteRollouts implements RolloutService {
  /** This learner process's id in Redis ([Note: keys and versions] in redis.ts). */
  readonly epoch = randomBytes(6).toString('hex');
  private readonly redis: Redis;
  private readonly flows: FlowProducer;
  private readonly shards: Queue;
  private readonly gather: Worker;
  private readonly modelHash: string;
  /** The gather job of each iteration in flight, resolved by the gather worker. */
  private readonly waiting = new Map<number, (done: ShardDone[]) => void>();
  last: RolloutTiming | null = null;

  constructor(
    readonly model: Model,
    readonly config: LearnerConfig,
    readonly o: RemoteOptions,
  ) {
    this.redis = connect(o.url, 'learner');
    this.modelHash = modelFingerprint(model);
    this.flows = new FlowProducer({ connection: this.redis as never, prefix: PREFIX });
    this.shards = new Queue(SHARD_QUEUE, { connection: this.redis as never, prefix: PREFIX });
    this.gather = new Worker(
      gatherQueue(this.epoch),
      async (job: Job) => {
        const values = Object.values(await job.getChildrenValues()).map((v) => ShardDoneSchema.parse(v));
        this.waiting.get(job.data.iteration as number)?.(values);
        return values.length;
      },
      { connection: this.redis as never, prefix: PREFIX, concurrency: 1 },
    );
    // While Redis is away the wait says so (WaitState.redis); the connections' errors add nothing.
    const quiet = (): void => undefined;
    this.flows.on('error', quiet);
    this.shards.on('error', quiet);
    this.gather.on('error', quiet);
  }

  async rollout(
    req: RolloutRequest,
  ): Promise<{ rollout: Rollout; features: { phi: Float32Array; filled: Uint8Array } | null }> {
    const { iteration, n } = req;
    const size = this.o.shardSize ?? this.config.rolloutBatch;
    const count = Math.ceil(n / size);
    const t0 = performance.now();

    // 1. Publish the policy of this iteration; 2. one flow: the shards, and the gather job that
    //    waits for them. Done again if Redis loses them (restarted without persistence).
    const pkey = policyKey(this.epoch, iteration);
    let resolved = false;
    const done = new Promise<ShardDone[]>((resolve) =>
      this.waiting.set(iteration, (v) => {
        resolved = true;
        resolve(v);
      }),
    );
    const publish = async (): Promise<Job> => {
      await this.redis.set(pkey, pack(req.weights), 'EX', KEY_TTL_S);
      const flow = await this.flows.add({
        name: 'gather',
        queueName: gatherQueue(this.epoch),
        data: { iteration },
        opts: { jobId: `${this.epoch}-${iteration}`, removeOnComplete: true },
        children: this.shardJobs(req, size, count),
      });
      return flow.job;
    };
    let parent = await publish();
    const tPublished = performance.now();

    // 3. Wait, saying for what: the shards, the workers, or Redis itself.
    let stop = false;
    const watch = (async () => {
      while (!stop) {
        await new Promise((r) => setTimeout(r, 1000));
        if (stop) break;
        if (req.signal?.aborted) throw req.signal.reason;
        if (this.redis.status !== 'ready') {
          this.o.onWait?.({ iteration, shards: count, done: 0, workers: [], redis: 'reconnecting' });
          continue;
        }
        const state = await parent.getState();
        if (stop || resolved) break;
        if (state === 'failed') {
          const failed = await this.shards.getJobs(['failed']);
          const why = failed.find((j) => j.id?.startsWith(`${this.epoch}-${iteration}-`))?.failedReason;
          throw new ShardFailed(
            `iteration ${iteration + 1}: a shard failed on its workers: ${why ?? parent.failedReason}`,
          );
        }
        if (state === 'unknown') {
          // Redis lost the flow (restarted without persistence): publish it again. Results it kept
          // are kept (SET NX), and a shard that ran twice is read once.
          this.o.onLog?.(
            `iteration ${iteration + 1}: Redis lost this iteration's jobs (restarted?); publishing them again`,
          );
          parent = await publish();
          continue;
        }
        const deps = await parent.getDependenciesCount();
        const workers = (await this.shards.getWorkers()).map((w) => workerName(w));
        this.o.onWait?.({ iteration, shards: count, done: deps.processed ?? 0, workers, redis: 'connected' });
        req.onProgress?.({
          samplesDone: Math.min(n, (deps.processed ?? 0) * size),
          total: n,
          iteration: 0,
          horizon: 0,
        });
      }
    })();
    let results: ShardDone[];
    try {
      results = await Promise.race([done, watch.then(() => done)]);
    } finally {
      stop = true;
      this.waiting.delete(iteration);
    }
    await watch.catch(() => undefined);
    const tDone = performance.now();

    // 4. Read each shard once, in row order.
    const bySh = new Map(results.map((r) => [r.shard, r]));
    const parts: Rollout[] = [];
    let phi: Float32Array | null = null;
    let filled: Uint8Array | null = null;
    let bytes = 0;
    for (let s = 0; s < count; s++) {
      const r = bySh.get(s);
      if (!r) throw new Error(`iteration ${iteration + 1}: shard ${s} of ${count} has no result`);
      const buf = await this.redis.getBuffer(r.key);
      if (!buf)
        throw new Error(
          `iteration ${iteration + 1}: shard ${s}'s result is gone from Redis (expired or Redis restarted)`,
        );
      bytes += buf.length;
      const p = unpackShard(buf, { epoch: this.epoch, iteration, shard: s });
      if (p.first !== s * size)
        throw new Error(`iteration ${iteration + 1}: shard ${s} holds rows from ${p.first}, not ${s * size}`);
      parts.push({ ...p.rollout, trajectories: null });
      if (req.features && p.phi && p.filled) {
        const rows = p.rollout.n * (p.rollout.H + 1);
        const E = p.phi.length / rows;
        phi ??= new Float32Array(n * (p.rollout.H + 1) * E);
        filled ??= new Uint8Array(n * (p.rollout.H + 1));
        phi.set(p.phi, p.first * (p.rollout.H + 1) * E);
        filled.set(p.filled, p.first * (p.rollout.H + 1));
      }
    }
    await this.redis.del(pkey, ...results.map((r) => r.key));
    const rollout = mergeRollouts(parts, this.config.rolloutBatch);
    this.last = {
      publishSeconds: (tPublished - t0) / 1000,
      waitSeconds: (tDone - tPublished) / 1000,
      gatherSeconds: (performance.now() - tDone) / 1000,
      bytes,
    };
    return { rollout, features: phi && filled ? { phi, filled } : null };
  }

  /** The flow's children: shard s holds rows [s·size, min(n, (s+1)·size)). */
  private shardJobs(req: RolloutRequest, size: number, count: number) {
    return Array.from({ length: count }, (_, s) => {
      const first = s * size;
      const data: ShardJob = {
        v: 1,
        epoch: this.epoch,
        iteration: req.iteration,
        shard: s,
        model: this.o.modelRef,
        modelHash: this.modelHash,
        config: JSON.stringify(this.config, wireReplacer),
        first,
        n: Math.min(size, req.n - first),
        seed: req.seed,
        temperature: req.temperature,
        features: req.features,
        states: this.o.send === 'states' ? 'all' : 'unencoded',
      };
      return {
        name: 'rollout',
        queueName: SHARD_QUEUE,
        data,
        opts: {
          jobId: `${this.epoch}-${req.iteration}-${s}`,
          attempts: STALLS,
          backoff: { type: 'fixed' as const, delay: 1000 },
          failParentOnFailure: true,
          removeOnComplete: true,
          removeOnFail: 1000,
        },
      };
    });
  }

  /**
   * Discards what an earlier learner process of the run left in the queue (it was killed: `train
   * --resume` runs with a new epoch): its waiting shards are removed and its policies deleted, so a
   * worker still holding one of its shards finds it stale; its results expire.
   */
  async discard(epoch: string): Promise<number> {
    if (epoch === this.epoch) return 0;
    let removed = 0;
    for (const job of await this.shards.getJobs(['wait', 'delayed', 'prioritized', 'failed'])) {
      if (job.id?.startsWith(`${epoch}-`)) {
        await job.remove();
        removed++;
      }
    }
    const keys = await this.redis.keys(`${PREFIX}:policy:${epoch}:*`);
    if (keys.length > 0) await this.redis.del(...keys);
    const q = new Queue(gatherQueue(epoch), { connection: this.redis as never, prefix: PREFIX });
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close();
    return removed;
  }

  async close(): Promise<void> {
    await this.gather.close();
    await this.flows.close();
    const q = new Queue(gatherQueue(this.epoch), { connection: this.redis as never, prefix: PREFIX });
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close();
    await this.shards.close();
    await closeQuietly(this.redis);
  }
}
