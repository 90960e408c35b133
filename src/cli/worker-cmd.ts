// `worker`: run shard jobs for learners started with `train --redis` (engine/distributed/worker.ts).

import { checkRedisUrl } from '../shared/redis-url';
import { deviceFromFlag, parseFlags, printUsage, Reporter, UsageError } from './common';

export async function cmdWorker(argv: string[], signal: AbortSignal): Promise<void> {
  const { values: v } = parseFlags(argv, {
    redis: { type: 'string' },
    concurrency: { type: 'string' },
    device: { type: 'string' },
    lease: { type: 'string' },
    name: { type: 'string' },
    'simulate-call-ms': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (v.help) return printUsage('worker');
  if (!v.redis)
    throw new UsageError('worker needs --redis URL (the Redis the learner was started with: train --redis URL)');
  try {
    checkRedisUrl(v.redis);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const whole = (flag: string, s: string | undefined, dflt: number, min: number): number => {
    if (s === undefined) return dflt;
    const x = Number(s);
    if (!Number.isInteger(x) || x < min) throw new UsageError(`--${flag} must be a whole number ≥ ${min}, got "${s}"`);
    return x;
  };
  const concurrency = whole('concurrency', v.concurrency, 1, 1);
  const lease = whole('lease', v.lease, 60, 2);
  const simulateCallMs = whole('simulate-call-ms', v['simulate-call-ms'], 0, 0);
  const rep = new Reporter(!!v.json);
  const { runWorker } = await import('../main/engine/distributed/worker');
  const stats = await runWorker(
    {
      url: v.redis,
      concurrency,
      device: deviceFromFlag(v.device),
      lease,
      ...(v.name ? { name: v.name } : {}),
      simulateCallMs,
      log: (message) => rep.event({ type: 'log', level: 'info', message }),
    },
    signal,
  );
  rep.result(
    { command: 'worker', ...stats },
    `stopped after ${stats.shards} shards (${stats.samples} trajectories in ${stats.seconds.toFixed(1)} s)` +
      (stats.duplicates > 0 ? `; ${stats.duplicates} duplicate deliveries dropped` : ''),
  );
}
