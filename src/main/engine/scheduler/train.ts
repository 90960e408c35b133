// Training the RL step scheduler (rl-scheduler.ts) into a run directory, resumable:
//
//   RUN/scheduler.json   what was trained: model, settings, backend (written once)
//   RUN/metrics.jsonl    one line per iteration: reward, NFE, decisions, PPO statistics, evaluations
//   RUN/checkpoint.json  the policy's weights and Adam state after the last finished iteration (atomic)
//   RUN/levels.json      the last evaluation's levels by step: mean, 10% and 90% of σ, and rows reaching it
//   RUN/schedule.json    the learned policy's static summary, a schedule file (shared/sigmas.ts): the
//                        geometric mean of the levels of the evaluation's rows with the most common
//                        number of steps — for tools that cannot run the policy
//
// [Note: the scheduler's run is its own kind]
// A scheduler run has scheduler.json where a learner run has config.json, so the inverse-RL
// commands (and the app's run list) do not mistake one for the other; what both share is the
// layout of metrics.jsonl and the atomic writes.

import { absoluteRewardSpec } from '../rewards';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model';
import { initTf } from '../learner/backend';
import { decodeWeights, encodeWeights, optimizerState, restoreAdam } from '../learner/checkpoint';
import { writeFileAtomic } from '../io/atomic';
import { appendMetrics, truncateMetrics } from '../runs/files';
import { deriveSeed, Stream } from '../samplers/random';
import { sigmasText } from '../../../shared/sigmas';
import { basename } from 'node:path';
import { lockRun, type RunLock } from '../runs/lock';
import type { SchedulerConfig } from '../../../shared/scheduler-config';
import { readSchedulerRun, SCHEDULER_FILE, type SchedulerRunFile } from './run-file';

export { isSchedulerRun, readSchedulerRun, SCHEDULER_FILE, type SchedulerRunFile } from './run-file';
import type { SchedulerLevels } from './run-file';
import { VERSION } from '../../../shared/version';
import { ppoUpdate, RewardModel, SchedulerPolicy, standardise, stdAt, type Episodes } from './rl-scheduler';

/** The seed of every evaluation (the learner's final evaluation uses it too): never a training episode's. */
export const SCHEDULER_EVAL_SEED = 1000003;

interface SchedulerCheckpoint {
  iteration: number;
  weights: string[];
  adam: Awaited<ReturnType<typeof optimizerState>>;
}

/** Levels by step of an evaluation: per step index, the mean, 10% and 90% of σ over the rows that reach it. */
export function levelStats(
  levels: number[][],
): { step: number; rows: number; mean: number; p10: number; p90: number }[] {
  const longest = Math.max(...levels.map((l) => l.length));
  const out = [];
  for (let k = 0; k < longest; k++) {
    const v = levels
      .filter((l) => l.length > k)
      .map((l) => l[k]!)
      .sort((a, b) => a - b);
    const q = (p: number) => v[Math.min(v.length - 1, Math.floor(p * v.length))]!;
    out.push({ step: k, rows: v.length, mean: v.reduce((a, b) => a + b, 0) / v.length, p10: q(0.1), p90: q(0.9) });
  }
  return out;
}

/** The static summary of a policy's levels: geometric means over the rows with the most common length, then 0. */
export function meanSchedule(levels: number[][]): number[] {
  const count = new Map<number, number>();
  for (const l of levels) count.set(l.length, (count.get(l.length) ?? 0) + 1);
  const mode = [...count.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
  const rows = levels.filter((l) => l.length === mode);
  const out: number[] = [];
  for (let k = 0; k + 1 < mode; k++)
    out.push(
      rows.every((l) => l[k] === rows[0]![k]) // σ_max, shared by every row: as it is, not through exp(log)
        ? rows[0]![k]!
        : Math.exp(rows.reduce((a, l) => a + Math.log(l[k]!), 0) / rows.length),
    );
  out.push(0);
  // Geometric means of decreasing sequences decrease; equal neighbours (rounded levels) are merged.
  return out.filter((v, i) => i === 0 || v < out[i - 1]!);
}

export interface SchedulerEvent {
  iteration: number;
  metrics: Record<string, number>;
}

export interface TrainSchedulerOptions {
  /** Continue the run in `runDir` (its scheduler.json and checkpoint.json) up to `iterations` in all. */
  resume?: boolean;
  iterations?: number;
  signal?: AbortSignal;
  onIteration?: (e: SchedulerEvent) => void;
  onProgress?: (p: { iteration: number; phase: string; done: number; total: number }) => void;
  /** Each evaluation's levels by step and mean schedule, as written to levels.json and schedule.json. */
  onLevels?: (l: SchedulerLevels) => void;
  /** What trains it, as its training lock shows a refused second trainer (default: this process's command line). */
  command?: string;
}

/** Trains (or continues) a scheduler run; returns its last metrics and the learned mean schedule. */
export async function trainScheduler(
  model: Model,
  config: SchedulerConfig,
  runDir: string,
  o: TrainSchedulerOptions = {},
): Promise<{ iteration: number; last: Record<string, number>; schedule: number[] | null; stopped: boolean }> {
  const { backend } = await initTf();
  // A reward's file as an absolute path (what scheduler.json keeps): the run finds it from any folder.
  const c: SchedulerConfig = {
    ...config,
    iterations: o.iterations ?? config.iterations,
    rewards: config.rewards.map(absoluteRewardSpec),
  };
  let start = 0;
  // The reward first: it refuses a reward the model's features cannot give, before anything is written.
  const reward = await RewardModel.create(model, c.reward, c.rewards);
  const policy = await SchedulerPolicy.create(model, c);
  let optimizer: tf.Optimizer = tf.train.adam(c.lr);
  const checkpointFile = join(runDir, 'checkpoint.json');
  let lock: RunLock | null = null;
  try {
    // One trainer per run, across processes (runs/lock.ts), as for a learner run.
    mkdirSync(runDir, { recursive: true });
    lock = lockRun(runDir, o.command ?? [basename(process.argv[1] ?? 'node'), ...process.argv.slice(2)].join(' '));
    if (o.resume && existsSync(checkpointFile)) {
      const cp = JSON.parse(readFileSync(checkpointFile, 'utf8')) as SchedulerCheckpoint;
      policy.policy.setWeights(decodeWeights(cp.weights));
      optimizer.dispose();
      optimizer = await restoreAdam(cp.adam, c.lr);
      start = cp.iteration;
      await truncateMetrics(runDir, start);
    } else {
      const file: SchedulerRunFile = {
        format: 'sampler-studio-scheduler-run',
        version: VERSION,
        model: { name: model.name, dir: model.dir },
        config: c,
        backend,
      };
      await writeFileAtomic(join(runDir, SCHEDULER_FILE), JSON.stringify(file, null, 1) + '\n');
    }
    let last: Record<string, number> = {};
    let schedule: number[] | null = null;
    const evaluate = async (iteration: number): Promise<Record<string, number>> => {
      const ep = await policy.rollout({
        n: c.evalSamples,
        seed: SCHEDULER_EVAL_SEED,
        std: null,
        batch: c.trajectories,
        record: false,
        signal: o.signal,
        onProgress: (d) => o.onProgress?.({ iteration, phase: 'evaluation', done: d, total: c.evalSamples }),
      });
      const s = await reward.evaluate(ep);
      schedule = meanSchedule(ep.levels);
      const levels = { iteration, n: ep.n, steps: levelStats(ep.levels) };
      await writeFileAtomic(join(runDir, 'schedule.json'), sigmasText(schedule));
      await writeFileAtomic(join(runDir, 'levels.json'), JSON.stringify(levels, null, 1) + '\n');
      o.onLevels?.({ ...levels, schedule });
      return {
        'eval/fid': s['fid']!,
        'eval/precision': s['precision']!,
        'eval/recall': s['recall']!,
        'eval/nfe': mean(ep.nfe),
        'eval/decisions': mean(ep.decisions),
      };
    };
    for (let i = start; i < c.iterations; i++) {
      if (o.signal?.aborted) return { iteration: i, last, schedule, stopped: true };
      const t0 = performance.now();
      const std = stdAt(c, i);
      // 1  Episodes with the stochastic policy.
      const ep: Episodes = await policy.rollout({
        n: c.trajectories,
        seed: deriveSeed(c.seed, i + 1),
        std,
        batch: c.trajectories,
        record: true,
        signal: o.signal,
        onProgress: (d) => o.onProgress?.({ iteration: i + 1, phase: 'rollout', done: d, total: c.trajectories }),
      });
      const t1 = performance.now();
      // 2  Terminal rewards against a fresh batch of real samples.
      const rng = new Stream(deriveSeed(c.seed, 0x7e3a + i), 0);
      const R = await reward.rewards(c, ep.samples, ep.n, rng, ep.labels);
      // 3  Batch-standardised advantages, 4  PPO.
      const t2 = performance.now();
      const up = ep.u.length > 0 ? ppoUpdate(policy, optimizer, ep, standardise(R), std, rng) : null;
      const t3 = performance.now();
      const m: Record<string, number> = {
        iteration: i + 1,
        'charts/reward_mean': mean(R),
        'charts/reward_std': Math.sqrt(mean(R.map((v) => v * v)) - mean(R) ** 2),
        'charts/nfe': mean(ep.nfe),
        'charts/decisions': mean(ep.decisions),
        'charts/std': std,
        ...(up ? { 'losses/policy': up.loss, 'charts/approx_kl': up.approxKl, 'charts/clipfrac': up.clipFrac } : {}),
        'time/rollout_s': (t1 - t0) / 1000,
        'time/reward_s': (t2 - t1) / 1000,
        'time/ppo_s': (t3 - t2) / 1000,
      };
      // 5  Evaluations of the deterministic policy.
      const done = i + 1 === c.iterations;
      if (done || (c.evalEvery > 0 && (i + 1) % c.evalEvery === 0)) Object.assign(m, await evaluate(i + 1));
      m['time/iteration_s'] = (performance.now() - t0) / 1000;
      const cp: SchedulerCheckpoint = {
        iteration: i + 1,
        weights: encodeWeights(policy.policy.getWeights()),
        adam: await optimizerState(optimizer),
      };
      await writeFileAtomic(checkpointFile, JSON.stringify(cp) + '\n');
      appendMetrics(runDir, m);
      last = m;
      o.onIteration?.({ iteration: i + 1, metrics: m });
    }
    return { iteration: c.iterations, last, schedule, stopped: false };
  } finally {
    lock?.release();
    optimizer.dispose();
    await policy.dispose();
    await reward.dispose();
  }
}

/** A trained scheduler's policy, loaded from its run's checkpoint (for sampling and evaluation). */
export async function loadSchedulerPolicy(model: Model, runDir: string): Promise<SchedulerPolicy> {
  const run = readSchedulerRun(runDir);
  const file = join(runDir, 'checkpoint.json');
  if (!existsSync(file)) throw new RangeError(`${runDir}: has no checkpoint.json yet (no iteration has finished)`);
  const cp = JSON.parse(readFileSync(file, 'utf8')) as SchedulerCheckpoint;
  await initTf();
  const p = await SchedulerPolicy.create(model, run.config);
  p.policy.setWeights(decodeWeights(cp.weights));
  p.iteration = cp.iteration;
  return p;
}

const mean = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return a.length > 0 ? s / a.length : NaN;
};
