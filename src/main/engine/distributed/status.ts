// What the queue looks like from outside (the app's Workers panel, issue 19): the workers that are
// alive (their heartbeats, worker.ts) and the shard queue's depth.

import { Queue } from 'bullmq';
import { connect, PREFIX, redactedUrl, SHARD_QUEUE, workerKey } from './redis';
import { closeQuietly } from './worker';
import { WorkerInfoSchema, type QueueStatus, type WorkerInfo } from '../../../shared/protocol';

// The shapes are the protocol's (shared/protocol.ts), declared once: the Workers screen reads them.
export type { QueueStatus, WorkerInfo } from '../../../shared/protocol';

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
        // A heartbeat is checked like anything else that crosses a boundary: one that does not fit
        // (another version's worker, say) is left out rather than failing the whole reading.
        try {
          const r = WorkerInfoSchema.safeParse(v ? JSON.parse(v) : null);
          return r.success ? [r.data as WorkerInfo] : [];
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
