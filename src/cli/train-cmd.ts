// `train`: learn a sampling policy with the inverse-RL learner, as a run directory.

import { parseArgs } from 'node:util';
import { Model } from '../main/engine/models/model';
import { resolveModelDir } from '../main/engine/models/registry';
import { CONDITIONINGS, defaultConfig, initActionFrom, INTERVENTIONS, type Conditioning, type Intervention, type LearnerConfig } from '../main/engine/learner/config';
import { baselineSettings } from '../main/engine/samplers/baselines';
import { DIVERGENCES, type Divergence } from '../main/engine/learner/divergences';
import { runTraining } from '../main/engine/apps/train';
import { runModelDir } from '../main/engine/runs/files';
import { deviceFromFlag, num, Reporter, USAGE, UsageError } from './common';

export const TRAIN_OPTIONS = {
  model: { type: 'string' },
  intervention: { type: 'string' },
  divergence: { type: 'string' },
  conditioning: { type: 'string' },
  'step-input': { type: 'boolean' },
  actions: { type: 'string' },
  'init-action': { type: 'string' },
  'init-from-grid': { type: 'string' },
  'init-bias': { type: 'string' },
  sampler: { type: 'string' },
  steps: { type: 'string' },
  'nfe-budget': { type: 'string' },
  iterations: { type: 'string' },
  trajectories: { type: 'string' },
  'eval-every': { type: 'string' },
  'eval-samples': { type: 'string' },
  'lr-policy': { type: 'string' },
  'lr-discriminator': { type: 'string' },
  seed: { type: 'string' },
  'run-dir': { type: 'string' },
  resume: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

export async function cmdTrain(argv: string[], signal: AbortSignal): Promise<void> {
  const { values: v } = parseArgs({ args: argv, options: TRAIN_OPTIONS, strict: true });
  if (v.help) return void process.stdout.write(USAGE + '\n');
  const runDir = v.resume ?? v['run-dir'];
  if (!runDir) throw new UsageError('train needs --run-dir DIR (a new run) or --resume DIR');
  if (v.resume && v['run-dir'] && v.resume !== v['run-dir']) throw new UsageError('give either --run-dir or --resume, not both');
  let modelRef = v.model;
  if (!modelRef && v.resume) modelRef = runModelDir(v.resume);
  if (!modelRef) throw new UsageError('train needs --model');
  const intervention = (v.intervention ?? 'cfg') as Intervention;
  if (!INTERVENTIONS.includes(intervention)) throw new UsageError(`--intervention must be one of ${INTERVENTIONS.join(', ')}, got "${v.intervention}"`);
  const cfg: LearnerConfig = defaultConfig(intervention);
  if (v.divergence) {
    if (!DIVERGENCES.includes(v.divergence as Divergence)) throw new UsageError(`--divergence must be one of ${DIVERGENCES.join(', ')}, got "${v.divergence}"`);
    cfg.divergence = v.divergence as Divergence;
  }
  if (v.conditioning) {
    if (!CONDITIONINGS.includes(v.conditioning as Conditioning)) throw new UsageError(`--conditioning must be one of ${CONDITIONINGS.join(', ')}, got "${v.conditioning}"`);
    cfg.conditioning = v.conditioning as Conditioning;
  }
  if (v['step-input']) cfg.stepInput = true;
  if (v.actions) {
    cfg.actions = v.actions.split(',').map((a) => num(a.trim(), 'actions')!);
    cfg.initAction = 0;
  }
  if (v.sampler) {
    if (!['euler', 'heun', 'edm'].includes(v.sampler)) throw new UsageError(`--sampler must be euler, heun or edm for training, got "${v.sampler}"`);
    cfg.sampler = v.sampler as LearnerConfig['sampler'];
  }
  const set = <K extends keyof LearnerConfig>(k: K, x: LearnerConfig[K] | undefined): void => {
    if (x !== undefined) cfg[k] = x;
  };
  set('initAction', num(v['init-action'], 'init-action', { int: true, min: 0 }));
  if (v['init-from-grid']) {
    if (v['init-action'] !== undefined) throw new UsageError('give either --init-action or --init-from-grid, not both');
    try {
      cfg.initAction = initActionFrom(cfg, baselineSettings('best-constant', { grid: v['init-from-grid'] }));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  set('initBias', num(v['init-bias'], 'init-bias', { min: 0 }));
  set('steps', num(v.steps, 'steps', { int: true, min: 1 }));
  set('nfeBudget', num(v['nfe-budget'], 'nfe-budget', { int: true, min: 1 }));
  set('iterations', num(v.iterations, 'iterations', { int: true, min: 1 }));
  set('trajectories', num(v.trajectories, 'trajectories', { int: true, min: 2 }));
  set('evalEvery', num(v['eval-every'], 'eval-every', { int: true, min: 0 }));
  set('evalSamples', num(v['eval-samples'], 'eval-samples', { int: true, min: 2 }));
  set('lrPolicy', num(v['lr-policy'], 'lr-policy'));
  set('lrDiscriminator', num(v['lr-discriminator'], 'lr-discriminator'));
  set('seed', num(v.seed, 'seed', { int: true, min: 0 }));
  cfg.rolloutBatch = Math.min(cfg.rolloutBatch, cfg.trajectories);

  const rep = new Reporter(!!v.json);
  const model = await Model.load(resolveModelDir(modelRef), { device: deviceFromFlag(v.device) });
  try {
    let last: Record<string, number> = {};
    const { learner, backend } = await runTraining({
      model,
      config: cfg,
      runDir,
      resume: !!v.resume,
      iterations: v.resume ? num(v.iterations, 'iterations', { int: true, min: 1 }) : undefined,
      signal,
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
        (last['eval/fid'] !== undefined ? `\nFID ${last['eval/fid'].toFixed(4)}  precision ${last['eval/precision']?.toFixed(4)}  recall ${last['eval/recall']?.toFixed(4)}` : ''),
    );
  } finally {
    await model.dispose();
  }
}
