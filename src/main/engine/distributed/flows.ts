// A producer's side of the queue (issue 19): one BullMQ flow per unit of work — children = shard
// jobs in the shared shard queue, parent = this process's gather job, which its own gather worker
// runs once every shard is done — and the wait for it, saying for what. Learners (rollouts.ts) and
// sampling commands (sampler.ts: eval, grid) send their work through one of these.

import { randomBytes } from 'node:crypto';
import { FlowProducer, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { connect, gatherQueue, PREFIX, SHARD_QUEUE } from './redis';
import { ShardDoneSchema, ShardFailed, type ShardDone } from './jobs';
import { closeQuietly, STALLS } from './worker';

/** Where a flow stands while its producer waits for it. */
export interface WaitState {
  /** The unit of work (an iteration, a grid cell) as the producer names it. */
  what: string;
  shards: number;
  done: number;
  /** Names of the workers connected to the shard queue. */
  workers: string[];
  /** The producer's connection: 'reconnecting' while Redis is away (commands wait for it). */
  redis: 'connected' | 'reconnecting';
}

/** A worker's name as it registered (runWorker's `name`), from BullMQ's client list entry. */
export function workerName(client: Record<string, string>): string {
  const raw = client['rawname'] ?? '';
  const i = raw.lastIndexOf(':w:');
  return i >= 0 ? raw.slice(i + 3) : (client['addr'] ?? '?');
}

/** A shard job as a flow's child. */
export interface ShardChild {
  name: string;
  queueName: string;
  data: unknown;
  opts: { jobId: string } & typeof SHARD_JOB_OPTIONS;
}

/** Options of every shard job: retried after a stall or an error, failing its flow when it cannot. */
export const SHARD_JOB_OPTIONS = {
  attempts: STALLS,
  backoff: { type: 'fixed' as const, delay: 1000 },
  failParentOnFailure: true,
  removeOnComplete: true,
  removeOnFail: 1000,
};

export class FlowClient {
  /** This producer process's id in Redis ([Note: keys and versions] in redis.ts). */
  readonly epoch = randomBytes(6).toString('hex');
  readonly redis: Redis;
  private readonly flows: FlowProducer;
  readonly shards: Queue;
  private readonly gather: Worker;
  /** The gather job of each flow in flight, resolved by the gather worker. */
  private readonly waiting = new Map<string, (done: ShardDone[]) => void>();

  constructor(url: string, role: string) {
    this.redis = connect(url, role);
    this.flows = new FlowProducer({ connection: this.redis as never, prefix: PREFIX });
    this.shards = new Queue(SHARD_QUEUE, { connection: this.redis as never, prefix: PREFIX });
    this.gather = new Worker(
      gatherQueue(this.epoch),
      async (job: Job) => {
        const values = Object.values(await job.getChildrenValues()).map((v) => ShardDoneSchema.parse(v));
        this.waiting.get(job.data.key as string)?.(values);
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

  /**
   * Runs one flow and returns its shards' results. `prepare` stores what the jobs refer to (the
   * policy weights) before they are added; if Redis loses the flow (restarted without persistence)
   * both are done again. Children's job ids must start with `${epoch}-${key}-`.
   */
  async run(
    key: string,
    children: ShardChild[],
    o: {
      what: string;
      prepare?: () => Promise<void>;
      /** Called once the flow is first in the queue. */
      onPublished?: () => void;
      onWait?: (w: WaitState) => void;
      onLog?: (message: string) => void;
      signal?: AbortSignal;
    },
  ): Promise<ShardDone[]> {
    let resolved = false;
    const done = new Promise<ShardDone[]>((resolve) =>
      this.waiting.set(key, (v) => {
        resolved = true;
        resolve(v);
      }),
    );
    const publish = async (): Promise<Job> => {
      await o.prepare?.();
      const flow = await this.flows.add({
        name: 'gather',
        queueName: gatherQueue(this.epoch),
        data: { key },
        opts: { jobId: `${this.epoch}-${key}`, removeOnComplete: true },
        children,
      });
      return flow.job;
    };
    let parent = await publish();
    o.onPublished?.();
    let stop = false;
    const watch = (async () => {
      while (!stop) {
        await new Promise((r) => setTimeout(r, 1000));
        if (stop) break;
        if (o.signal?.aborted) throw o.signal.reason;
        if (this.redis.status !== 'ready') {
          o.onWait?.({ what: o.what, shards: children.length, done: 0, workers: [], redis: 'reconnecting' });
          continue;
        }
        const state = await parent.getState();
        if (stop || resolved) break;
        if (state === 'failed') {
          const failed = await this.shards.getJobs(['failed']);
          const why = failed.find((j) => j.id?.startsWith(`${this.epoch}-${key}-`))?.failedReason;
          throw new ShardFailed(`${o.what}: a shard failed on its workers: ${why ?? parent.failedReason}`);
        }
        if (state === 'unknown') {
          // Redis lost the flow (restarted without persistence): publish it again. Results it kept
          // are kept (SET NX), and a shard that ran twice is read once.
          o.onLog?.(`${o.what}: Redis lost its jobs (restarted?); publishing them again`);
          parent = await publish();
          continue;
        }
        const deps = await parent.getDependenciesCount();
        o.onWait?.({
          what: o.what,
          shards: children.length,
          done: deps.processed ?? 0,
          workers: await this.workers(),
          redis: 'connected',
        });
      }
    })();
    try {
      return await Promise.race([done, watch.then(() => done)]);
    } finally {
      stop = true;
      this.waiting.delete(key);
      await watch.catch(() => undefined);
    }
  }

  /** The names of the workers connected to the shard queue. */
  async workers(): Promise<string[]> {
    return (await this.shards.getWorkers()).map((w) => workerName(w));
  }

  /**
   * Discards what an earlier producer process left in the queue (it was killed: `train --resume`
   * runs with a new epoch): its waiting shards are removed and its policies deleted, so a worker
   * still holding one of its shards finds it stale; its results expire (KEY_TTL_S).
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
