// What the queue looks like from outside (the app's Workers panel, issue 19): the workers that are
// alive (their heartbeats, worker.ts) and the shard queue's depth.

import { Queue } from 'bullmq';
import { connect, PREFIX, redactedUrl, SHARD_QUEUE, workerKey } from './redis';
import { closeQuietly } from './worker';

/** One worker's heartbeat (worker.ts writes it every 5 s; it expires 30 s after the last). */
export interface WorkerInfo {
  name: string;
  device: string;
  backend: string;
  concurrency: number;
  models: string[];
  shards: number;
  samples: number;
  seconds: number;
  duplicates: number;
  /** Trajectories per second over the shards it ran. */
  samplesPerSecond: number;
  /** Epoch milliseconds of the heartbeat. */
  at: number;
}

export interface QueueStatus {
  workers: WorkerInfo[];
  /** Shard jobs waiting, running and failed (kept for inspection). */
  waiting: number;
  active: number;
  failed: number;
}

/** Reads the workers and the queue's depth once (a short-lived connection; errors name the URL's problem). */
export async function queueStatus(url: string): Promise<QueueStatus> {
  const redis = connect(url, 'status', { failFast: true });
  const queue = new Queue(SHARD_QUEUE, { connection: redis as never, prefix: PREFIX });
  queue.on('error', () => undefined); // the reading below fails with the reason
  try {
    const keys = await redis.keys(workerKey('*'));
    const values = keys.length > 0 ? await redis.mget(...keys) : [];
    const workers = values
      .flatMap((v) => {
        try {
          return v ? [JSON.parse(v) as WorkerInfo] : [];
        } catch {
          return [];
        }
      })
      .sort((a, b) => a.name.localeCompare(b.name));
    const counts = await queue.getJobCounts('wait', 'active', 'failed');
    return { workers, waiting: counts['wait'] ?? 0, active: counts['active'] ?? 0, failed: counts['failed'] ?? 0 };
  } catch (e) {
    throw new RangeError(
      `cannot read the queue at ${redactedUrl(url)} (${(e as Error).message}); is Redis running there, and is the password right?`,
      { cause: e },
    );
  } finally {
    await Promise.race([queue.close().catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
    await closeQuietly(redis);
  }
}
