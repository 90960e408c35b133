// Training a drift policy (policy.ts; DDPO ddpo.ts, DPOK dpok.ts, q-learning q-learning.ts) into a run
// directory, resumable:
//
//   RUN/drift.json       what was trained: model, settings, backend (written once)
//   RUN/metrics.jsonl    one line per iteration: reward, path KL, update statistics, evaluations
//   RUN/checkpoint.json  the policy's weights and Adam state (and q-learning's critic and its Adam)
//                        after the last finished iteration (atomic)
//
// A drift run is its own kind, as a scheduler run is (scheduler/train.ts, [Note: the scheduler's run
// is its own kind]): drift.json where a learner run has config.json.
//
// Evaluation (every evalEvery iterations and at the end): `evalSamples` trajectories of the
// evaluation seed, the same for every evaluation and every run, with the policy and — once per run —
// with the base sampler (v = 0) from the same noise: the mean reward of both, the policy's path KL
// to the base sampler (on a deterministic sampler, the action's cost Σ½|v|²), and for low-dimensional models (≤ 8 values a sample) the k-NN KL of the
// samples to the model's data (metrics/knn-kl.ts), the q-learning paper's measure.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model';
import { loadData } from '../models/data';
import { initTf } from '../learner/backend';
import { decodeWeights, encodeWeights, optimizerState, restoreAdam } from '../learner/checkpoint';
import { writeFileAtomic } from '../io/atomic';
import { appendMetrics, truncateMetrics } from '../runs/files';
import { lockRun, type RunLock } from '../runs/lock';
import { deriveSeed, Stream } from '../samplers/random';
import { absoluteRewardSpec, openRewards } from '../rewards';
import { float32Resolution, knnKl } from '../metrics/knn-kl';
import { parseRewardSpec } from '../../../shared/reward-spec';
import { parseDriftConfig, type DriftConfig } from '../../../shared/drift-config';
import { VERSION } from '../../../shared/version';
import { ppoDriftUpdate, ddpoAdvantages } from './ddpo';
import { dpokUpdate } from './dpok';
import { isStochastic } from './kernels';
import { DriftPolicy } from './policy';
import { DRIFT_FILE, readDriftRun, type DriftRunFile } from './run-file';

export { DRIFT_FILE, isDriftRun, readDriftRun, type DriftRunFile } from './run-file';
import { createCritic, qRollout, qUpdate } from './q-learning';

/** The seed of every evaluation: never a training iteration's. */
export const DRIFT_EVAL_SEED = 1000003;

/** The most values a sample may have for the k-NN KL to the data (see the header). */
export const KNN_MAX_DIM = 8;

interface DriftCheckpoint {
  iteration: number;
  weights: string[];
  adam: Awaited<ReturnType<typeof optimizerState>>;
  /** q-learning: the critic's weights and Adam state. */
  critic?: { weights: string[]; adam: Awaited<ReturnType<typeof optimizerState>> };
}

export interface TrainDriftOptions {
  /** Continue the run in `runDir` (its drift.json and checkpoint.json) up to `iterations` in all. */
  resume?: boolean;
  iterations?: number;
  signal?: AbortSignal;
  onIteration?: (e: { iteration: number; metrics: Record<string, number> }) => void;
  onProgress?: (p: { iteration: number; phase: string; done: number; total: number }) => void;
  /** At each evaluation, the policy's samples (the app draws them: engine/host.ts); awaited. */
  onEvaluation?: (e: { iteration: number; n: number; samples: Float32Array; labels: Int32Array | null }) => unknown;
  /** What trains it, as its training lock shows a refused second trainer (default: this process's command line). */
  command?: string;
}

const mean = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
};
const sd = (a: ArrayLike<number>): number => {
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - m) ** 2;
  return Math.sqrt(s / a.length);
};

/**
 * Sets an Adam optimizer's learning rate, read by every applyGradients. tfjs keeps it protected and
 * offers no schedule; the field is part of its serialised config (getConfig), so it is stable.
 */
function setLearningRate(opt: tf.Optimizer, lr: number): void {
  (opt as unknown as { learningRate: number }).learningRate = lr;
}

/** Trains (or continues) a drift run; returns its last metrics. */
export async function trainDrift(
  model: Model,
  config: DriftConfig,
  runDir: string,
  o: TrainDriftOptions = {},
): Promise<{ iteration: number; last: Record<string, number>; stopped: boolean }> {
  const { backend } = await initTf();
  // A reward's file as an absolute path (what drift.json keeps): the run finds it from any folder.
  const c: DriftConfig = {
    ...parseDriftConfig(config),
    iterations: o.iterations ?? config.iterations,
    rewards: config.rewards.map(absoluteRewardSpec),
  };
  // The rewards first: a specification the model cannot take is refused before anything is written.
  const rewards = await openRewards(model, c.rewards.map(parseRewardSpec));
  const policy = DriftPolicy.create(model, c);
  let optimizer: tf.Optimizer = tf.train.adam(c.lr);
  // q-learning's critic J_θ and its optimizer.
  const critic = c.objective === 'q-learning' ? createCritic(policy.inputDim, c) : null;
  let criticOpt: tf.Optimizer | null = critic ? tf.train.adam(c.lrCritic) : null;
  const checkpointFile = join(runDir, 'checkpoint.json');
  let lock: RunLock | null = null;
  try {
    mkdirSync(runDir, { recursive: true });
    lock = lockRun(runDir, o.command ?? [basename(process.argv[1] ?? 'node'), ...process.argv.slice(2)].join(' '));
    let start = 0;
    if (o.resume && existsSync(checkpointFile)) {
      const cp = JSON.parse(readFileSync(checkpointFile, 'utf8')) as DriftCheckpoint;
      policy.net.setWeights(decodeWeights(cp.weights));
      optimizer.dispose();
      optimizer = await restoreAdam(cp.adam, c.lr);
      if (critic && cp.critic) {
        critic.setWeights(decodeWeights(cp.critic.weights));
        criticOpt!.dispose();
        criticOpt = await restoreAdam(cp.critic.adam, c.lrCritic);
      }
      start = cp.iteration;
      await truncateMetrics(runDir, start);
    } else {
      const file: DriftRunFile = {
        format: 'sampler-studio-drift-run',
        version: VERSION,
        model: { name: model.name, dir: model.dir },
        config: c,
        backend,
      };
      await writeFileAtomic(join(runDir, DRIFT_FILE), JSON.stringify(file, null, 1) + '\n');
    }
    const data = model.dim <= KNN_MAX_DIM || c.objective === 'q-learning' ? await loadData(model) : null;
    if (c.objective === 'q-learning' && c.score === 'data' && !data)
      throw new RangeError(
        `${model.name} has no data ("data" in model.json) for q-learning's score estimate; give the model its data, or use score model`,
      );
    let baseReward: number | null = null;
    const evaluate = async (iteration: number): Promise<Record<string, number>> => {
      const args = { n: c.evalSamples, seed: DRIFT_EVAL_SEED, batch: c.trajectories, record: false, signal: o.signal };
      const progress = (done: number) => o.onProgress?.({ iteration, phase: 'evaluation', done, total: c.evalSamples });
      if (baseReward === null) {
        const base = await policy.rollout({ ...args, onProgress: progress }, true);
        baseReward = mean((await rewards.score(base.samples, base.n, base.labels)).total);
      }
      const ep = await policy.rollout({ ...args, onProgress: progress });
      await o.onEvaluation?.({ iteration, n: ep.n, samples: ep.samples, labels: ep.labels });
      const r = (await rewards.score(ep.samples, ep.n, ep.labels)).total;
      return {
        'eval/reward_mean': mean(r),
        'eval/reward_std': sd(r),
        'eval/reward_base': baseReward,
        // A deterministic sampler has no path KL: Σ½|v|² is then the action's cost (policy.ts).
        [isStochastic(c.sampler, c.eta) ? 'eval/kl_path' : 'eval/action_cost']: mean(ep.kl),
        ...(data && model.dim <= KNN_MAX_DIM
          ? { 'eval/knn_kl': knnKl(ep.samples, data.x, model.dim, 1, float32Resolution(ep.samples, data.x)) }
          : {}),
      };
    };
    // 4  Evaluations, then the checkpoint and the metrics line.
    const finish = async (i: number, m: Record<string, number>, t0: number): Promise<Record<string, number>> => {
      const done = i + 1 === c.iterations;
      if (done || (c.evalEvery > 0 && (i + 1) % c.evalEvery === 0)) Object.assign(m, await evaluate(i + 1));
      m['time/iteration_s'] = (performance.now() - t0) / 1000;
      const cp: DriftCheckpoint = {
        iteration: i + 1,
        weights: encodeWeights(policy.net.getWeights()),
        adam: await optimizerState(optimizer),
        ...(critic
          ? { critic: { weights: encodeWeights(critic.getWeights()), adam: await optimizerState(criticOpt!) } }
          : {}),
      };
      await writeFileAtomic(checkpointFile, JSON.stringify(cp) + '\n');
      appendMetrics(runDir, m);
      o.onIteration?.({ iteration: i + 1, metrics: m });
      return m;
    };
    // q-learning (q-learning.ts): 1–2 trajectories with exploration and their TD terms, 3 the actor–critic update.
    const qIteration = async (i: number): Promise<Record<string, number>> => {
      const t0 = performance.now();
      const rng = new Stream(deriveSeed(c.seed, 0xd41f + i), 0);
      let points: Float32Array | null = null;
      if (c.score === 'data' && data) {
        const M = Math.min(c.scoreSamples, data.n);
        // M of the data points, drawn afresh each iteration (all of them when there are no more).
        const pick = Int32Array.from({ length: data.n }, (_, k) => k);
        for (let k = 0; k < M; k++) {
          const r = k + Math.floor(rng.uniform() * (data.n - k));
          [pick[k], pick[r]] = [pick[r]!, pick[k]!];
        }
        points = new Float32Array(M * model.dim);
        for (let k = 0; k < M; k++)
          points.set(data.x.subarray(pick[k]! * model.dim, (pick[k]! + 1) * model.dim), k * model.dim);
      }
      const ep = await qRollout(policy, {
        n: c.trajectories,
        seed: deriveSeed(c.seed, i + 1),
        points,
        reward: async (x, n, labels) => (await rewards.score(x, n, labels)).total,
        signal: o.signal,
      });
      const t1 = performance.now();
      const up = qUpdate(policy, critic!, optimizer, criticOpt!, ep.transitions, {
        epochs: c.ppoEpochs,
        minibatch: c.minibatch,
        rng,
      });
      const t2 = performance.now();
      const m: Record<string, number> = {
        iteration: i + 1,
        'charts/reward_mean': mean(ep.rewards),
        'charts/reward_std': sd(ep.rewards),
        'losses/td': up.tdLoss,
        'charts/r_minus_q': up.rMinusQ,
        'time/rollout_s': (t1 - t0) / 1000,
        'time/update_s': (t2 - t1) / 1000,
      };
      return finish(i, m, t0);
    };
    let last: Record<string, number> = {};
    for (let i = start; i < c.iterations; i++) {
      if (o.signal?.aborted) return { iteration: i, last, stopped: true };
      const t0 = performance.now();
      if (c.lrSchedule === 'linear') {
        // lr·(1 − i/I) for iteration i of I (CleanRL's anneal_lr: the last update still moves).
        const frac = 1 - i / c.iterations;
        setLearningRate(optimizer, frac * c.lr);
        if (criticOpt) setLearningRate(criticOpt, frac * c.lrCritic);
      }
      if (critic) {
        last = await qIteration(i);
        continue;
      }
      // 1  Trajectories with π_ψ, every transition kept.
      const ep = await policy.rollout({
        n: c.trajectories,
        seed: deriveSeed(c.seed, i + 1),
        batch: c.trajectories,
        record: true,
        signal: o.signal,
        onProgress: (d) => o.onProgress?.({ iteration: i + 1, phase: 'rollout', done: d, total: c.trajectories }),
      });
      const t1 = performance.now();
      // 2  Terminal rewards.
      const R = (await rewards.score(ep.samples, ep.n, ep.labels)).total;
      const t2 = performance.now();
      // 3  The update: DDPO's clipped surrogate, or DPOK's with β·KL.
      const rng = new Stream(deriveSeed(c.seed, 0xd41f + i), 0);
      const common = { clip: c.clip, epochs: c.ppoEpochs, minibatch: c.minibatch, rng };
      const up =
        c.objective === 'dpok'
          ? dpokUpdate(policy, optimizer, ep.transitions!, R, { ...common, klWeight: c.klWeight, advClip: c.advClip })
          : ppoDriftUpdate(policy, optimizer, ep.transitions!, ddpoAdvantages(R, c.advClip), { ...common, klCoef: 0 });
      const t3 = performance.now();
      const m: Record<string, number> = {
        iteration: i + 1,
        'charts/reward_mean': mean(R),
        'charts/reward_std': sd(R),
        'charts/kl_path': mean(ep.kl),
        'charts/step_kl': up.stepKl,
        'losses/policy': up.loss,
        'charts/approx_kl': up.approxKl,
        'charts/clipfrac': up.clipFrac,
        'time/rollout_s': (t1 - t0) / 1000,
        'time/reward_s': (t2 - t1) / 1000,
        'time/update_s': (t3 - t2) / 1000,
      };
      last = await finish(i, m, t0);
    }
    return { iteration: c.iterations, last, stopped: false };
  } finally {
    lock?.release();
    optimizer.dispose();
    criticOpt?.dispose();
    critic?.dispose();
    policy.dispose();
    await rewards.dispose();
  }
}

/** A trained drift policy, loaded from its run's checkpoint (for sampling, evaluation and export); `iteration` its checkpoint's. */
export async function loadDriftPolicy(
  model: Model,
  runDir: string,
): Promise<{ policy: DriftPolicy; iteration: number }> {
  await initTf();
  const run = readDriftRun(runDir);
  const file = join(runDir, 'checkpoint.json');
  if (!existsSync(file))
    throw new RangeError(`${runDir}: no checkpoint.json yet; train the run for an iteration first`);
  const cp = JSON.parse(readFileSync(file, 'utf8')) as DriftCheckpoint;
  const policy = DriftPolicy.create(model, run.config);
  policy.net.setWeights(decodeWeights(cp.weights));
  return { policy, iteration: cp.iteration };
}
