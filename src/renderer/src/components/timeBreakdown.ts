// Where an iteration's time went, from its metrics line: the parts of time/iteration_s in the order
// they happen, each under its catalogue label (shared/metrics.ts). In the engine's process: the
// rollout, the discriminator (or the rewards) and PPO. On workers (train --redis): the rollout splits
// into publishing the shard jobs, waiting for the workers, gathering their results, and what the
// learner still does itself (the encoder features of the states sent without them, the merge).

import { metricInfo } from '../../../shared/metrics';

export interface TimePart {
  /** The metric it comes from ('' for what the others do not account for). */
  key: string;
  label: string;
  seconds: number;
}

export interface TimeBreakdown {
  iteration: number;
  /** time/iteration_s: the parts sum to it. */
  total: number;
  onWorkers: boolean;
  parts: TimePart[];
  /** time/evaluation_s when the iteration ended with an evaluation (after it, not in `total`). */
  evaluation: number | null;
}

const label = (key: string): string => metricInfo(key).label.replace(/ \(s\)$/, '');
const finite = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? v : null);

/** The breakdown of one learner metrics line, or null when it has no iteration time. */
export function timeBreakdown(m: Record<string, number>): TimeBreakdown | null {
  const total = finite(m['time/iteration_s']);
  if (total === null) return null;
  const get = (k: string): number => Math.max(0, finite(m[k]) ?? 0);
  const onWorkers = finite(m['time/queue_wait_s']) !== null;
  const parts: TimePart[] = [];
  const add = (key: string, seconds: number, name = label(key)): void => {
    if (seconds > 0) parts.push({ key, label: name, seconds });
  };
  if (onWorkers) {
    const queue = ['time/queue_publish_s', 'time/queue_wait_s', 'time/queue_gather_s'];
    for (const k of queue) add(k, get(k));
    add(
      'time/rollout_s',
      get('time/rollout_s') - queue.reduce((s, k) => s + get(k), 0),
      'Rollout here (encoding, merge)',
    );
  } else add('time/rollout_s', get('time/rollout_s'));
  add('time/discriminator_s', get('time/discriminator_s'));
  add('time/reward_s', get('time/reward_s'));
  add('time/ppo_s', get('time/ppo_s'));
  const rest = total - parts.reduce((s, p) => s + p.seconds, 0);
  // Under a millisecond left over is rounding, not a part.
  if (rest > 1e-3) parts.push({ key: '', label: 'Other', seconds: rest });
  return { iteration: m['iteration'] ?? 0, total, onWorkers, parts, evaluation: finite(m['time/evaluation_s']) };
}
