// Training a run: a Learner driven over its run directory (runs/) — started or resumed, one
// iteration after another until the target, its metrics appended and its checkpoint written after
// every iteration, evaluated every `evalEvery` iterations and at the end, with progress, metrics,
// profile and samples events for the UI and the CLI. The algorithm itself is learner/learner.ts.
//
// [Note: periodic and final evaluations]
// Every evalEvery iterations the EMA policy is evaluated on evalSamplesPeriodic samples (default
// 512): the `periodic/…` metrics, the Train charts' curves. After the last iteration it is evaluated
// once on evalSamples (default 4,000): the `eval/…` metrics, the run's result (the Runs table's last
// FID, an export's record, the CLI's summary). FID is biased upwards on few samples and precision and
// recall depend on the count too, so the two are different estimates and never share a name: a
// chart of periodic/fid compares like with like. A last iteration that is also a periodic one gets
// both, so the periodic curve reaches the end. Evaluating is sampling: on fashion-mnist (256
// trajectories) 512 samples every 25 iterations add ~8% to the iterations' time, 4,000 would add
// ~60% (`npm run bench -- iteration`).
//
// [Note: apps/]
// Training a run, evaluating a policy and comparing it with baselines are applications of the
// engine: they compose the learner with the samplers, the metrics, the pictures, the grid and the
// run directory. They live in apps/, beside learner/, so that learner/ holds the algorithm and
// needs none of those; nothing outside apps/ imports apps/ except the CLI and the host.

import { nanAsNull } from '../../../shared/json';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic';
import type { RemoteRollouts } from '../distributed/rollouts';
import { basename } from 'node:path';
import { portableModelRef } from '../models/registry';
import { absoluteRewardSpec } from '../rewards';
import type { Model } from '../models/model';
import type { LearnerConfig } from '../learner/config';
import { initTf } from '../learner/backend';
import { createLearner, TrainingDiverged, type Learner } from '../learner/learner';
import { referenceFor, type Reference } from '../metrics/evaluate';
import { extractorForModel, type FeatureExtractor } from '../metrics/features';
import { devSetPng, samplePng } from '../pictures';
import {
  appendMetrics,
  checkNewRunDir,
  isRun,
  makeRunDir,
  readCheckpoint,
  readMetrics,
  readRunConfig,
  runPaths,
  truncateMetrics,
  writeCheckpoint,
  writeDevSet,
  writeEvaluation,
  writeRunConfig,
} from '../runs/files';
import { restoreCheckpoint } from '../runs/load';
import { checkNewRunDirUnlocked, lockRun, replacedMessage } from '../runs/lock';
import { evaluatePolicy, type PolicyEvaluation } from './evaluate-policy';
import { generate, resolveSettings } from '../samplers/generate';
import { VERSION } from '../../../shared/version';
import type { EngineEvent, Phase, SamplesEvent } from '../../../shared/events';
import type { Checkpoint, DevSetFile } from '../../../shared/run-files';
import type { RemoteTarget } from '../../../shared/redis-url';

export interface RunOptions {
  model: Model;
  config: LearnerConfig;
  runDir: string;
  resume?: boolean;
  /** On resume of a run whose checkpoint.json is missing: train it again from iteration 0, dropping its metrics (see the note on a missing checkpoint). */
  restart?: boolean;
  /** On resume: train up to this many iterations instead of the saved count. */
  iterations?: number;
  signal?: AbortSignal;
  /** Progress, metrics (every iteration), profile and samples (every evaluation), logs. */
  onEvent?: (e: EngineEvent) => void;
  /** Called once the run directory is in place and the learner is built, before the first iteration: where it starts and its target. */
  onStart?: (s: { iteration: number; iterations: number }) => void;
  /** What trains it, as its training lock shows a refused second trainer (default: this process's command line). */
  command?: string;
  /** Roll out on workers through this Redis (distributed/rollouts.ts); in this process when absent. */
  redis?: RemoteTarget;
}

// [Note: a missing checkpoint]
// Resuming continues from checkpoint.json and drops the metrics lines it does not hold (the note
// on resume truncation in runs/files.ts). Without a checkpoint that would be every line: a run
// whose checkpoint went missing would silently start again at iteration 0 with its history gone.
// So resuming without a checkpoint is refused when metrics.jsonl has a finished iteration, and
// done only when asked (`restart`, train --resume DIR --restart); a run stopped before its first
// iteration finished (no checkpoint, no metrics) has nothing to lose and simply starts.

/** The seed of a run's evaluations (never a training rollout's). */
export const TRAINING_EVAL_SEED = 1_000_003;

/** One evaluation of a run's EMA policy as training makes it: `n` samples at the run's temperature, a fixed seed, FID / precision / recall. */
export function trainingEvaluation(
  learner: Learner,
  o: {
    extractor: FeatureExtractor;
    reference: Reference;
    n: number;
    signal?: AbortSignal;
    onProgress?: (p: { samplesDone: number }) => void;
  },
): Promise<PolicyEvaluation> {
  return evaluatePolicy(learner, {
    extractor: o.extractor,
    reference: o.reference,
    n: o.n,
    seed: TRAINING_EVAL_SEED,
    temperature: learner.config.temperature,
    metrics: ['fid', 'precision', 'recall'],
    signal: o.signal,
    onProgress: o.onProgress,
  });
}

// [Note: rewards at evaluations]
// With objective reward an evaluation also scores its samples with the run's rewards — `…/reward`,
// the EMA policy's mean weighted reward — and, beside it, `…/reward_base`: the same rewards of the
// base sampler (the run's sampler and steps, no intervention: w = 1, no churn, no jump) on the same
// seed and sample count, so the gain is always read against what the model did before (the DDPO
// thesis compares against the pretrained model). The base is sampled once per sample count and run.

/** The base sampler's samples (the run's sampler and steps, no intervention) on `seed`: what the rewards are read against. */
function baseSamples(learner: Learner, n: number, seed: number): ReturnType<typeof generate> {
  const c = learner.config;
  return generate(learner.model, resolveSettings(learner.model, { sampler: c.sampler, steps: c.steps }), {
    n,
    batch: c.rolloutBatch,
    seed,
    classes: 'random',
  });
}

/** An evaluation's rewards: the policy's mean, and the base sampler's (see the note). */
async function rewardEvaluation(
  learner: Learner,
  ev: PolicyEvaluation,
  n: number,
  prefix: string,
  base: Map<number, number>,
): Promise<Record<string, number>> {
  const rewards = learner.rewards!;
  const mean = (a: Float64Array): number => a.reduce((x, y) => x + y, 0) / a.length;
  const policy = mean((await rewards.score(ev.samples, n, ev.labels)).total);
  let b = base.get(n);
  if (b === undefined) {
    const gen = await baseSamples(learner, n, TRAINING_EVAL_SEED);
    b = mean((await rewards.score(gen.samples, n, gen.labels)).total);
    base.set(n, b);
  }
  return { [`${prefix}/reward`]: policy, [`${prefix}/reward_base`]: b };
}

// [Note: the development set]
// With objective reward every evaluation that writes pictures also draws the development set (the
// DDPO thesis's): DEV_SET_SEED's first samples (16 images, or 256 points of a vector model), by the
// base sampler once per run and by the policy at each evaluation, from the same initial noise and
// class, so what changed in a sample is the policy's doing. dev/iter-NNNNN.png shows the base
// sampler's row over the policy's, dev/iter-NNNNN.json each sample's reward under both: a reward
// that climbs while the samples degrade (over-optimisation, reward hacking) is seen, not guessed.
// Its seed is neither a rollout's nor the evaluations', and the same for every run, so two runs'
// development sets show the same seeds.

/** The development set's seed (see the note). */
export const DEV_SET_SEED = 1_000_033;

/** The development set's size for a model (see the note). */
export function devSetSize(model: Model): number {
  return model.shape.length === 3 ? 16 : 256;
}

/** The development set at this evaluation (see the note): its file's content and picture. */
async function devSetEvaluation(
  learner: Learner,
  base: { samples: Float32Array; labels: Int32Array | null; rewards: Float64Array },
): Promise<{ dev: DevSetFile; png: Uint8Array }> {
  const n = devSetSize(learner.model);
  const ro = await learner.sample(n, DEV_SET_SEED, { temperature: learner.config.temperature });
  const rewards = await learner.rewards!.score(ro.samples, n, ro.sampleLabels);
  return {
    dev: {
      iteration: learner.iteration,
      seed: DEV_SET_SEED,
      base: Array.from(base.rewards),
      policy: Array.from(rewards.total),
      labels: base.labels ? Array.from(base.labels) : null,
    },
    png: await devSetPng(learner.model, base.samples, ro.samples, n),
  };
}

/**
 * Trains a new run in `runDir`, or continues the run there (`resume`); see runs/files.ts for what
 * the directory holds. The run is locked while it trains (runs/lock.ts): a second trainer is refused.
 */
export async function runTraining(o: RunOptions): Promise<{ learner: Learner; backend: string }> {
  const { backend } = await initTf();
  const dir = o.runDir;
  if (o.resume) {
    if (!isRun(dir)) throw new RangeError(`${dir}: no config.json; not a run directory`);
  } else {
    checkNewRunDirUnlocked(dir);
    makeRunDir(dir);
  }
  const lock = lockRun(dir, o.command ?? [basename(process.argv[1] ?? 'node'), ...process.argv.slice(2)].join(' '));
  try {
    const replaced = replacedMessage(lock);
    if (replaced) o.onEvent?.({ type: 'log', run: dir, level: 'warn', message: replaced });
    return await train(o, backend);
  } finally {
    lock.release();
  }
}

/** runTraining under the run's lock: everything is (re)read and checked here. */
async function train(o: RunOptions, backend: string): Promise<{ learner: Learner; backend: string }> {
  const dir = o.runDir;
  let config = o.config;
  // Resume: everything read and checked before anything is written.
  let checkpoint: { cp: Checkpoint; file: string } | null = null;
  if (o.resume) {
    if (!isRun(dir)) throw new RangeError(`${dir}: no config.json; not a run directory`);
    const saved = readRunConfig(dir);
    config = { ...saved.learner, iterations: o.iterations ?? saved.learner.iterations };
    const file = runPaths(dir).checkpoint;
    if (existsSync(file)) {
      checkpoint = { cp: readCheckpoint(file), file };
      if (o.restart)
        throw new RangeError(
          `${dir} has a checkpoint (iteration ${checkpoint.cp.iteration}); --restart is only for a run whose checkpoint.json is missing: resume it without --restart, or train a new run`,
        );
    } else if (!o.restart) {
      const last = readMetrics(dir).at(-1);
      if (last)
        throw new RangeError(
          `${dir}: checkpoint.json is missing: the run cannot continue from iteration ${last.iteration}, where its metrics.jsonl ends. Put the checkpoint back, or train the run again from iteration 0 with --restart (its metrics are dropped)`,
        );
    }
    if (saved.backend && saved.backend !== backend) {
      o.onEvent?.({
        type: 'log',
        run: dir,
        level: 'warn',
        message: `this run was trained on the TensorFlow.js ${saved.backend} backend and continues on ${backend}: it goes on correctly, but its numbers will not repeat an uninterrupted run's bit for bit`,
      });
    }
  } else {
    checkNewRunDir(dir);
    // A reward's file is kept in config.json as an absolute path: resume, Compare and analyze-reward
    // find it from any working folder.
    config = { ...config, rewards: config.rewards.map(absoluteRewardSpec) };
  }
  const learner = await createLearner(o.model, config);
  let queue: RemoteRollouts | null = null;
  try {
    if (o.redis) {
      const { RemoteRollouts } = await import('../distributed/rollouts');
      const log = (message: string): void => o.onEvent?.({ type: 'log', run: dir, level: 'warn', message });
      const remote = new RemoteRollouts(o.model, config, {
        ...o.redis,
        modelRef: portableModelRef(o.model),
        onLog: log,
        onWait: (w) =>
          phaseOf?.({
            iteration: learner.iteration + 1,
            label:
              w.redis === 'reconnecting'
                ? `waiting for Redis (connection lost; reconnecting)`
                : `waiting for ${w.shards - w.done} of ${w.shards} shards (workers: ${w.workers.length > 0 ? w.workers.join(', ') : 'none connected'})`,
            done: w.done,
            total: w.shards,
            unit: 'shards',
          }),
      });
      learner.remote = remote;
      queue = remote;
    }
    if (!o.resume) {
      await writeRunConfig(dir, {
        version: VERSION,
        model: { name: o.model.name, dir: o.model.dir },
        learner: config,
        backend,
        encoder: learner.encoder.name,
      });
    } else {
      if (checkpoint) await restoreCheckpoint(learner, checkpoint.cp, checkpoint.file, dir);
      await truncateMetrics(dir, learner.iteration);
      const message = checkpoint
        ? `resumed at iteration ${learner.iteration}`
        : `restarted at iteration 0 (no checkpoint${o.restart ? '; its metrics were dropped, as --restart asked' : ' and no finished iteration'})`;
      o.onEvent?.({ type: 'log', run: dir, level: 'info', message });
    }
  } catch (e) {
    await learner.dispose();
    throw e;
  }
  if (queue) {
    try {
      // A learner killed earlier left its shards in the queue: discard them ([Note: keys and versions]).
      const queueFile = runPaths(dir).queue;
      if (o.resume && existsSync(queueFile)) {
        const before = (JSON.parse(readFileSync(queueFile, 'utf8')) as { epoch?: unknown }).epoch;
        if (typeof before === 'string') {
          const removed = await queue.discard(before);
          if (removed > 0)
            o.onEvent?.({
              type: 'log',
              run: dir,
              level: 'info',
              message: `discarded ${removed} shard jobs the stopped learner ${before} left in the queue`,
            });
        }
      }
      await writeFileAtomic(queueFile, JSON.stringify({ epoch: queue.epoch }) + '\n');
    } catch (e) {
      await learner.dispose();
      throw e;
    }
  }
  let extractor: FeatureExtractor | null = null;
  let reference: Reference | null = null;
  /** Objective reward: the base sampler's mean reward per sample count, measured once ([Note: rewards at evaluations]). */
  const baseRewards = new Map<number, number>();
  /** Objective reward: the development set's base samples and their rewards, drawn once ([Note: the development set]). */
  let devBase: { samples: Float32Array; labels: Int32Array | null; rewards: Float64Array } | null = null;
  /** Reports a phase of the iteration under way (set below, once the clock starts). */
  let phaseOf: ((p: Phase) => void) | null = null;
  /** A periodic or the final evaluation (see the note on them): its metrics; its profile and samples written unless `pictures` is false. */
  const evaluate = async (kind: 'periodic' | 'final', pictures: boolean): Promise<Record<string, number>> => {
    extractor ??= await extractorForModel(o.model);
    reference ??= await referenceFor(o.model, extractor);
    const n = kind === 'periodic' ? config.evalSamplesPeriodic : config.evalSamples;
    const label = kind === 'periodic' ? 'periodic evaluation' : 'final evaluation';
    phaseOf?.({ iteration: learner.iteration, label, done: 0, total: n, unit: 'samples' });
    const ev = await trainingEvaluation(learner, {
      extractor,
      reference,
      n,
      signal: o.signal,
      onProgress: (p) =>
        phaseOf?.({ iteration: learner.iteration, label, done: p.samplesDone, total: n, unit: 'samples' }),
    });
    const prefix = kind === 'periodic' ? 'periodic' : 'eval';
    const out: Record<string, number> = { [`${prefix}/nfe`]: ev.nfe };
    for (const [k, v] of Object.entries(ev.result.summary)) out[`${prefix}/${k}`] = v;
    if (learner.rewards) Object.assign(out, await rewardEvaluation(learner, ev, n, prefix, baseRewards));
    if (!pictures) return out;
    const profile = { iteration: learner.iteration, actions: config.actions, sigmas: ev.sigmas, profile: ev.profile };
    // Encoded once: the same bytes go to the file and to the event.
    const png = await samplePng(o.model, ev.samples, ev.labels, n);
    const samplesPath = await writeEvaluation(dir, profile, png);
    let dev: SamplesEvent['dev'];
    if (learner.rewards) {
      if (!devBase) {
        const gen = await baseSamples(learner, devSetSize(learner.model), DEV_SET_SEED);
        const r = await learner.rewards.score(gen.samples, devSetSize(learner.model), gen.labels);
        devBase = { samples: gen.samples, labels: gen.labels, rewards: r.total };
      }
      const d = await devSetEvaluation(learner, devBase);
      const path = await writeDevSet(dir, d.dev, d.png);
      dev = {
        path,
        pngBase64: Buffer.from(d.png).toString('base64'),
        base: nanAsNull(d.dev.base),
        policy: nanAsNull(d.dev.policy),
      };
    }
    o.onEvent?.({ type: 'profile', run: dir, ...profile });
    o.onEvent?.({
      type: 'samples',
      run: dir,
      iteration: learner.iteration,
      path: samplesPath,
      pngBase64: Buffer.from(png).toString('base64'),
      ...(dev ? { dev } : {}),
    });
    return out;
  };
  o.onStart?.({ iteration: learner.iteration, iterations: config.iterations });
  const t0 = performance.now();
  const startIteration = learner.iteration;
  // [Note: phases]
  // Inside an iteration the run reports its phase (rollout, encoding, discriminator or its warm-up,
  // PPO, evaluation) with its own progress, so a long first iteration (fashion-mnist's warm-up) is
  // never a silent "iteration 0". A phase's first and last report always go out; in between at most
  // four a second.
  let lastPhase = 0;
  const progress = (phase?: Phase): void => {
    const now = performance.now();
    if (phase && phase.done > 0 && phase.done < phase.total && now - lastPhase < 250) return;
    lastPhase = now;
    const elapsed = (now - t0) / 1000;
    const done = learner.iteration - startIteration;
    o.onEvent?.({
      type: 'progress',
      run: dir,
      task: 'train',
      done: learner.iteration,
      total: config.iterations,
      unit: 'iterations',
      elapsedSeconds: elapsed,
      etaSeconds: done > 0 ? (elapsed / done) * (config.iterations - learner.iteration) : null,
      ...(phase ? { phase } : {}),
    });
  };
  phaseOf = progress;
  try {
    while (learner.iteration < config.iterations) {
      if (o.signal?.aborted) break;
      let metrics: Record<string, number>;
      try {
        metrics = await learner.step(o.signal, progress);
      } catch (e) {
        // Nothing of the diverged iteration is written: the checkpoint keeps the last finite weights.
        if (e instanceof TrainingDiverged)
          throw new TrainingDiverged(
            e.iteration,
            `${e.detail}. The run stops: ${
              learner.iteration > 0
                ? `${runPaths(dir).checkpoint} keeps iteration ${learner.iteration}, the last good one (finite weights and logits)`
                : 'no iteration finished, so there is no checkpoint'
            }`,
          );
        throw e;
      }
      const q = learner.remote?.last;
      if (q) {
        metrics['time/queue_publish_s'] = q.publishSeconds;
        metrics['time/queue_wait_s'] = q.waitSeconds;
        metrics['time/queue_gather_s'] = q.gatherSeconds;
        metrics['queue/result_mb'] = q.bytes / 1e6;
      }
      const last = learner.iteration === config.iterations;
      const periodic = config.evalEvery > 0 && learner.iteration % config.evalEvery === 0;
      if (periodic || last) {
        const t = performance.now();
        if (periodic) Object.assign(metrics, await evaluate('periodic', !last));
        if (last) Object.assign(metrics, await evaluate('final', true));
        metrics['time/evaluation_s'] = (performance.now() - t) / 1000;
      }
      appendMetrics(dir, metrics);
      await writeCheckpoint(dir, await learner.checkpoint());
      const finite: Record<string, number> = {};
      for (const [k, v] of Object.entries(metrics)) if (!Number.isNaN(v)) finite[k] = v;
      o.onEvent?.({ type: 'metrics', run: dir, iteration: learner.iteration, metrics: finite });
      progress();
    }
  } catch (e) {
    // The caller gets no learner to dispose when the run fails (a divergence, a cancelled rollout).
    await learner.dispose();
    throw e;
  } finally {
    await (extractor as FeatureExtractor | null)?.dispose();
    await learner.remote?.close();
    learner.remote = null;
  }
  return { learner, backend };
}
