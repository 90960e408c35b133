// `train`: learn a sampling policy with the inverse-RL learner, as a run directory. Every learner
// field is a flag, from its one declaration in shared/learner-config.ts.

import { rewardHelpLines } from '../shared/reward-spec';
import {
  dataKindOf,
  IMAGE_BUDGET,
  IMAGE_DEFAULTS,
  LEARNER_FIELDS,
  learnerConfigFrom,
  type LearnerConfig,
} from '../shared/learner-config';
import { flagNameOf, flagOptions, helpLines, valuesFromFlags } from '../shared/schema';
import { Model } from '../main/engine/models/model';
import { describeModel, resolveModelDir } from '../main/engine/models/registry';
import { startFromGrid } from '../main/engine/learner/config';
import { runModelDir } from '../main/engine/runs/files';
import { redisFlags, REMOTE_OPTIONS } from './remote-flags';
import type { RemoteTarget } from '../shared/redis-url';
import { deviceFromFlag, parseFlags, refuseUnread, Reporter, UsageError } from './common';

export const TRAIN_OPTIONS = {
  model: { type: 'string' },
  'init-from-grid': { type: 'string' },
  'run-dir': { type: 'string' },
  resume: { type: 'string' },
  restart: { type: 'boolean' },
  device: { type: 'string' },
  ...REMOTE_OPTIONS,
  json: { type: 'boolean' },
  help: { type: 'boolean' },
  ...flagOptions(LEARNER_FIELDS),
} as const;

export const TRAIN_USAGE = `Usage: sampler-studio train --model ID|DIR --run-dir DIR [learner flags]   learn a sampling policy (inverse RL)
       sampler-studio train --resume DIR [--iterations N] [--restart]      continue a run where its checkpoint left it
       sampler-studio train --intervention schedule …                      the RL step scheduler: its own flags
                                                                            (train --intervention schedule --help)

  --model ID|DIR                        a bundled model or a model directory
  --run-dir DIR                         where the run is written (a new directory)
  --resume DIR                          continue this run (its settings are fixed; --iterations raises the target)
  --restart                             with --resume, for a run whose checkpoint.json is missing: train it again
                                        from iteration 0, dropping its metrics (refused without --restart)
  --init-from-grid DIR                  start from a grid search's best: its best constant (instead of --init-action),
                                        or for cfg its best guidance interval when that beats every constant
                                        (a window profile: --init-sigma-lo/hi from the interval, w = 1 outside)
  --device auto|cpu|cuda                where the denoiser runs (default auto)
  --redis URL                           roll out on workers (sampler-studio worker) through this Redis:
                                        redis://[:PASSWORD@]HOST:PORT[/DB]; same numbers as without it
  --shard-size N                        with --redis: trajectories per shard job (default: the rollout batch)
  --json                                the final stdout line is the result object

Learner flags (defaults are cfg's on a points model; gamma and renoise change actions, initial action, sampler,
steps and NFE budget; image models — a sample shape [C, H, W] — default to ${IMAGE_BUDGET.trajectories} trajectories, rollout batch ${IMAGE_BUDGET.rolloutBatch} and
${IMAGE_BUDGET.iterations} iterations, cfg there to the actions ${IMAGE_DEFAULTS.cfg.actions!.join(',')} starting at w = ${IMAGE_DEFAULTS.cfg.actions![IMAGE_DEFAULTS.cfg.initAction!]} with entropy bonus ${IMAGE_DEFAULTS.cfg.entropyCoef},
and renoise to ${IMAGE_DEFAULTS.renoise.steps} levels, NFE budget ${IMAGE_DEFAULTS.renoise.nfeBudget}, continuing with probability ${IMAGE_DEFAULTS.renoise.initMass} below σ = 1 at the start):
${helpLines(LEARNER_FIELDS).join('\n')}

Rewards (--objective reward --reward SPEC, once per reward; SPEC is [-]NAME[:ARG,key=value,…], "-" negates,
weights sum them: e.g. --reward -jpeg-size --reward class-logit:7,weight=0.5):
${rewardHelpLines().join('\n')}`;

const flagName = flagNameOf(LEARNER_FIELDS);

/** What a `train` command line asks for: the run, its model, the checked learner config (of the files, only the model's manifest is read: its sample shape picks the defaults). */
export function parseTrainArgs(argv: string[]):
  | { help: true }
  | {
      help: false;
      runDir: string;
      resume: boolean;
      restart: boolean;
      modelRef: string;
      config: LearnerConfig;
      iterations: number | undefined;
      device: string | undefined;
      redis: RemoteTarget | undefined;
      json: boolean;
      /** What --init-from-grid started the policy from, for the log. */
      initNote: string | null;
    } {
  const { values: v } = parseFlags(argv, TRAIN_OPTIONS);
  if (v.help) return { help: true };
  const runDir = v.resume ?? v['run-dir'];
  if (!runDir) throw new UsageError('train needs --run-dir DIR (a new run) or --resume DIR');
  if (v.resume && v['run-dir'] && v.resume !== v['run-dir'])
    throw new UsageError('give either --run-dir or --resume, not both');
  if (v.restart && !v.resume)
    throw new UsageError('--restart goes with --resume (it trains a run whose checkpoint is missing again)');
  const given = valuesFromFlags(LEARNER_FIELDS, v);
  if (v.resume) {
    const fixed = Object.keys(given).filter((k) => k !== 'iterations');
    if (fixed.length > 0)
      throw new UsageError(
        `a resumed run keeps its settings; only --iterations may be given with --resume (got ${fixed.map(flagName).join(', ')})`,
      );
  }
  const redis = redisFlags(v);
  let modelRef = v.model;
  if (!modelRef && v.resume) modelRef = runModelDir(v.resume);
  if (!modelRef) throw new UsageError('train needs --model');
  const grid = v['init-from-grid'];
  if (grid && given['initAction'] !== undefined)
    throw new UsageError('give either --init-action or --init-from-grid, not both');
  let config: LearnerConfig;
  try {
    // Image models have their own defaults ([Note: image defaults]); an unreadable manifest is
    // reported when the model loads.
    const shape = v.resume ? [] : (describeModel(resolveModelDir(modelRef), false).manifest?.shape ?? []);
    config = learnerConfigFrom(given, flagName, dataKindOf(shape));
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
  let initNote: string | null = null;
  if (grid) {
    try {
      ({ config, note: initNote } = startFromGrid(config, given, grid, flagName));
    } catch (e) {
      if (e instanceof RangeError) throw new UsageError(`--init-from-grid ${grid}: ${e.message}`);
      throw e;
    }
  }
  refuseUnread(LEARNER_FIELDS, given, config, flagName);
  return {
    help: false,
    runDir,
    resume: !!v.resume,
    restart: !!v.restart,
    modelRef,
    config,
    iterations: v.resume && given['iterations'] !== undefined ? config.iterations : undefined,
    device: v.device,
    redis,
    json: !!v.json,
    initNote,
  };
}

export async function cmdTrain(argv: string[], signal: AbortSignal): Promise<void> {
  // The RL step scheduler has its own settings and run kind (scheduler-cmd.ts).
  const scheduler = await import('./scheduler-cmd');
  if (scheduler.isSchedulerCommand(argv)) return scheduler.cmdTrainScheduler(argv, signal);
  // Drift policies too (drift-cmd.ts).
  const drift = await import('./drift-cmd');
  if (drift.isDriftCommand(argv)) return drift.cmdTrainDrift(argv, signal);
  const a = parseTrainArgs(argv);
  if (a.help) return void process.stdout.write(TRAIN_USAGE + '\n');
  const { runDir, config: cfg } = a;
  // The learner (and TensorFlow.js with it) loads only when training starts: `train --help` stays light.
  const { runTraining } = await import('../main/engine/apps/train');
  const rep = new Reporter(a.json);
  const model = await Model.load(resolveModelDir(a.modelRef), { device: deviceFromFlag(a.device) });
  try {
    let last: Record<string, number> = {};
    if (a.initNote) rep.event({ type: 'log', level: 'info', message: a.initNote });
    const { learner, backend } = await runTraining({
      model,
      config: cfg,
      runDir,
      resume: a.resume,
      restart: a.restart,
      iterations: a.iterations,
      redis: a.redis,
      signal,
      command: ['sampler-studio train', ...argv].join(' '),
      onEvent: (e) => {
        if (e.type === 'metrics') last = e.metrics;
        rep.event(e);
      },
    });
    const iterations = learner.iteration;
    await learner.dispose();
    rep.result(
      { command: 'train', runDir, backend, iterations, stopped: signal.aborted, last },
      `${signal.aborted ? 'stopped' : 'finished'} at iteration ${iterations} (run in ${runDir}, TensorFlow.js backend ${backend})` +
        (last['eval/fid'] !== undefined
          ? `\nFID ${last['eval/fid'].toFixed(4)}  precision ${last['eval/precision']?.toFixed(4)}  recall ${last['eval/recall']?.toFixed(4)}`
          : ''),
    );
  } finally {
    await model.dispose();
  }
}
