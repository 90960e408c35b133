// --redis URL [--shard-size N] for the commands that sample (eval, grid): their batches go to
// workers (engine/distributed/sampler.ts). Checked before anything connects; the sampler (and
// BullMQ with it) loads only when asked for.

import type { Model } from '../main/engine/models/model';
import type { RemoteSampler } from '../main/engine/distributed/sampler';
import { portableModelRef } from '../main/engine/models/registry';
import { checkRedisUrl, shardSizeProblem, type RemoteTarget } from '../shared/redis-url';
import { UsageError, type Reporter } from './common';

export const REMOTE_OPTIONS = {
  redis: { type: 'string' },
  'shard-size': { type: 'string' },
} as const;

/** --redis and --shard-size checked (train, eval, grid), or undefined without --redis. */
export function redisFlags(v: { redis?: string; 'shard-size'?: string }): RemoteTarget | undefined {
  if (v['shard-size'] !== undefined && !v.redis) throw new UsageError('--shard-size goes with --redis');
  if (!v.redis) return undefined;
  try {
    checkRedisUrl(v.redis);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const size = v['shard-size'] === undefined ? undefined : Number(v['shard-size']);
  const problem = size === undefined ? null : shardSizeProblem(size);
  if (problem !== null) throw new UsageError(`--shard-size ${problem}, got "${v['shard-size']}"`);
  return { url: v.redis, ...(size !== undefined ? { shardSize: size } : {}) };
}

/** The flags' remote sampler, or null without --redis. */
export async function remoteSamplerFromFlags(
  v: { redis?: string; 'shard-size'?: string },
  model: Model,
  rep: Reporter,
): Promise<RemoteSampler | null> {
  const r = redisFlags(v);
  if (!r) return null;
  const { RemoteSampler } = await import('../main/engine/distributed/sampler');
  return new RemoteSampler(model, {
    ...r,
    modelRef: portableModelRef(model),
    onLog: (message) => rep.event({ type: 'log', level: 'warn', message }),
  });
}
