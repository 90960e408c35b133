// The Redis that carries the work queues (issue 19): its URL, connections, and the names of
// everything we keep in it. BullMQ (https://docs.bullmq.io) owns the queues; the keys below hold
// what is too big for a job's data: the policy weights of an iteration and each shard's result.
//
// [Note: keys and versions]
// A learner process picks an `epoch` (a random id) when it opens its queues. Everything it puts in
// Redis is named by (epoch, iteration[, shard]): the policy it published for iteration i is
// policyKey(epoch, i), the result of shard s of that iteration resultKey(epoch, i, s). A result is
// written with SET NX, so a shard run twice (at-least-once delivery) keeps its first result and the
// learner reads each shard once: nothing is counted twice. A learner that was killed and resumed
// has a new epoch, so the old epoch's leftovers are never read; they expire (KEY_TTL_S). A worker
// that finds no policy under a job's key refuses the job as stale: its learner moved on or stopped.

import { Redis } from 'ioredis';
import { checkRedisUrl } from '../../../shared/redis-url';

export { checkRedisUrl, redactedUrl, RedisUrlError } from '../../../shared/redis-url';

/** Prefix of every BullMQ key and of our own. */
export const PREFIX = 'sampler-studio';
/** The queue of shard jobs that every worker pulls from. */
export const SHARD_QUEUE = 'shards';
/** One learner's gather queue: the parents of its iterations' flows. */
export const gatherQueue = (epoch: string): string => `gather-${epoch}`;
export const policyKey = (epoch: string, iteration: number): string => `${PREFIX}:policy:${epoch}:${iteration}`;
/** Shard `shard` of a producer's unit of work: a learner's iteration, or a sampler's draw. */
export const resultKey = (epoch: string, unit: number | string, shard: number): string =>
  `${PREFIX}:result:${epoch}:${unit}:${shard}`;
/** A worker's heartbeat (what it runs on, what it did), refreshed while it lives. */
export const workerKey = (name: string): string => `${PREFIX}:worker:${name}`;
/** Seconds policies and results outlive their learner, at most (a crashed one leaves them behind). */
export const KEY_TTL_S = 6 * 3600;

/**
 * A connection that waits out a Redis restart: commands queue while it reconnects (every ≤ 2 s,
 * for ever) instead of failing, as BullMQ's workers require (maxRetriesPerRequest: null).
 * `failFast` instead: one attempt, and commands fail at once while it is not connected (a status
 * reading). Connection errors go to `onError` (ioredis would print each as an unhandled event).
 */
export function connect(
  url: string,
  role: string,
  o: { failFast?: boolean; onError?: (e: Error) => void } = {},
): Redis {
  checkRedisUrl(url);
  const r = new Redis(
    url,
    o.failFast
      ? {
          connectionName: `${PREFIX}-${role}`,
          maxRetriesPerRequest: 0,
          enableOfflineQueue: true,
          connectTimeout: 3000,
          retryStrategy: () => null,
        }
      : {
          maxRetriesPerRequest: null,
          connectionName: `${PREFIX}-${role}`,
          retryStrategy: (times) => Math.min(100 * times, 2000),
        },
  );
  r.on('error', (e: Error) => o.onError?.(e));
  return r;
}
