// The learner's hyper-parameters: one object, every field documented, defaults from the paper
// (Table B.4 and Appendix B) scaled down so the bundled 2-D benchmarks train in minutes on a CPU.
// The same object feeds the CLI flags, the app's form defaults and the saved run config.

import type { Divergence } from './divergences';
import { samplerNfe } from '../samplers/cost';
import { EDM_STOCHASTIC_PRESETS } from '../samplers/types';

export const INTERVENTIONS = ['cfg', 'gamma', 'renoise'] as const;
export type Intervention = (typeof INTERVENTIONS)[number];

export const CONDITIONINGS = ['sigma', 'state', 'state+class'] as const;
/** What the policy sees: σ only; (x, σ); (x, σ, class). */
export type Conditioning = (typeof CONDITIONINGS)[number];

export interface LearnerConfig {
  /** What the policy controls: the guidance scale w, the churn γ, or jumps back to higher noise. */
  intervention: Intervention;
  /** The f-divergence D_f(ρ_E‖ρ_π) to minimise (KL: mode-covering; rKL: mode-seeking; …). */
  divergence: Divergence;
  conditioning: Conditioning;
  /** Give the policy the step index too (non-stationary policy). */
  stepInput: boolean;
  /** The discrete action values: guidance scales (cfg), churn γ (gamma), or how many levels to jump back (renoise, 0 = continue). */
  actions: number[];
  /** Index of the action the initial policy favours (the baseline's choice). */
  initAction: number;
  /** Logit bonus of initAction in the initial policy: 2 makes it e² ≈ 7.4× as likely as any other action (51% of 8); 4 → 89%. */
  initBias: number;
  /** Base sampler (euler/heun/edm) and its number of noise levels N. */
  sampler: 'euler' | 'heun' | 'edm';
  steps: number;
  /** renoise: most NFE a trajectory may spend; actions that could not finish within it are masked. */
  nfeBudget: number;
  /** Training iterations. */
  iterations: number;
  /** Trajectories (samples) per iteration; every sample in a batch is an agent (paper: 1,024–2,048). */
  trajectories: number;
  /** Samples per sampler batch during rollouts. */
  rolloutBatch: number;
  /** Discriminator steps before the first policy update ("DRE init"; paper: 100–200). */
  discriminatorInitSteps: number;
  /** Discriminator steps per iteration. */
  discriminatorSteps: number;
  /** Discriminator minibatch (expert and policy states each). */
  discriminatorBatch: number;
  /** Label smoothing at σ_max; grows linearly with σ/σ_max from 0 (states carry little information at high noise). */
  labelSmoothing: number;
  /** Discriminator logits are clamped to ±this before exp (r = e^logit). */
  logitClamp: number;
  /** PPO epochs over each iteration's transitions, minibatch size and clip ε. */
  ppoEpochs: number;
  ppoMinibatch: number;
  clip: number;
  /** Adam learning rates (paper: 1e-4 … 1e-5 for images; the 2-D benchmarks take larger). */
  lrPolicy: number;
  lrDiscriminator: number;
  /** EMA decay of both heads' weights, per iteration (warm-up: min(decay, t/(t+1))); the EMA heads are used for evaluation and export. */
  emaDecay: number;
  /** Hidden width and depth of the heads' MLPs. */
  hidden: number;
  layers: number;
  /** Fourier frequencies of the log-σ embedding. */
  sigmaFrequencies: number;
  /** Sampling temperature τ (logits/τ) used for rollouts; evaluation may use another. */
  temperature: number;
  /** Evaluate (FID/precision/recall, sample grid, profile) every this many iterations (0: only at the end). */
  evalEvery: number;
  /** Samples per evaluation. */
  evalSamples: number;
  seed: number;
}

/** Action-value presets per intervention. */
export const ACTION_PRESETS: Record<Intervention, number[]> = {
  // 8 guidance scales from 1 (none) to 4, as the reference prototype; the paper uses 20.
  cfg: [1, 1.25, 1.5, 2, 2.5, 3, 3.5, 4],
  // 10 churn levels in [0, √2−1] (EDM's γ range), as in the paper.
  gamma: Array.from({ length: 10 }, (_, i) => Number(((i / 9) * (Math.SQRT2 - 1)).toFixed(4))),
  // continue, or jump back 1, 2 or 4 levels (4 actions, as the paper's renoise policies).
  renoise: [0, 1, 2, 4],
};

export function defaultConfig(intervention: Intervention = 'cfg'): LearnerConfig {
  const steps = intervention === 'renoise' ? 6 : 18;
  const actions = ACTION_PRESETS[intervention];
  return {
    intervention,
    divergence: 'kl',
    conditioning: 'state',
    stepInput: false,
    actions,
    // cfg: mild constant guidance 1.5; gamma: EDM's published churn (ImageNet-64: S_churn 40, so
    // γ = min(40/N, √2−1)); renoise: continue.
    initAction: intervention === 'cfg' ? 2 : initActionFrom({ intervention, actions, steps }, { churn: EDM_STOCHASTIC_PRESETS.imagenet64.churn }),
    initBias: 2,
    sampler: intervention === 'gamma' ? 'edm' : 'heun',
    steps,
    nfeBudget: intervention === 'renoise' ? 17 : Infinity,
    iterations: 150,
    trajectories: 1024,
    rolloutBatch: 1024,
    discriminatorInitSteps: 200,
    discriminatorSteps: 20,
    discriminatorBatch: 512,
    labelSmoothing: 0.2,
    logitClamp: 10,
    ppoEpochs: 4,
    ppoMinibatch: 512,
    clip: 0.2,
    lrPolicy: 3e-4,
    lrDiscriminator: 1e-3,
    emaDecay: 0.95,
    hidden: 128,
    layers: 2,
    sigmaFrequencies: 8,
    temperature: 1,
    evalEvery: 25,
    evalSamples: 4000,
    seed: 0,
  };
}

/** Checks a config; errors say which field and what to do. */
export function checkConfig(c: LearnerConfig): void {
  const fail = (field: string, msg: string): never => {
    throw new RangeError(`${field}: ${msg}`);
  };
  if (!INTERVENTIONS.includes(c.intervention)) fail('intervention', `must be one of ${INTERVENTIONS.join(', ')}`);
  if (!CONDITIONINGS.includes(c.conditioning)) fail('conditioning', `must be one of ${CONDITIONINGS.join(', ')}`);
  if (c.actions.length < 2) fail('actions', 'need at least two action values');
  if (c.actions.some((a) => !Number.isFinite(a))) fail('actions', 'values must be finite numbers');
  if (c.intervention === 'gamma' && c.actions.some((a) => a < 0)) fail('actions', 'churn γ values must be ≥ 0');
  if (c.intervention === 'renoise' && c.actions.some((a) => !Number.isInteger(a) || a < 0)) fail('actions', 'renoise actions are whole numbers of levels to jump back (0 = continue)');
  if (c.intervention === 'renoise' && !c.actions.includes(0)) fail('actions', 'renoise needs the action 0 (continue)');
  if (!Number.isInteger(c.initAction) || c.initAction < 0 || c.initAction >= c.actions.length) fail('initAction', `must index the actions (0..${c.actions.length - 1})`);
  for (const k of ['steps', 'iterations', 'trajectories', 'rolloutBatch', 'discriminatorBatch', 'ppoEpochs', 'ppoMinibatch', 'hidden', 'layers', 'evalSamples'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) fail(k, `must be a positive integer, got ${c[k]}`);
  }
  for (const k of ['discriminatorInitSteps', 'discriminatorSteps', 'evalEvery', 'sigmaFrequencies', 'seed'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0) fail(k, `must be a non-negative integer, got ${c[k]}`);
  }
  if (!(Number.isFinite(c.initBias) && c.initBias >= 0)) fail('initBias', `must be a finite number ≥ 0, got ${c.initBias}`);
  for (const k of ['lrPolicy', 'lrDiscriminator', 'clip', 'temperature', 'logitClamp'] as const) if (!(c[k] > 0)) fail(k, `must be positive, got ${c[k]}`);
  if (!(c.emaDecay >= 0 && c.emaDecay < 1)) fail('emaDecay', `must lie in [0, 1), got ${c.emaDecay}`);
  if (!(c.labelSmoothing >= 0 && c.labelSmoothing < 0.5)) fail('labelSmoothing', `must lie in [0, 0.5), got ${c.labelSmoothing}`);
  if (c.intervention === 'renoise') {
    const plain = samplerNfe(c.sampler, c.steps);
    if (!Number.isFinite(c.nfeBudget)) fail('nfeBudget', 'renoise needs a finite NFE budget (it bounds the trajectory length)');
    if (!(c.nfeBudget >= plain)) fail('nfeBudget', `renoise needs at least the plain sampler's ${plain} NFE (${c.sampler}, ${c.steps} steps), got ${c.nfeBudget}`);
  }
}

/** Index of the action value nearest `value` (the initial policy favours it). */
export function nearestAction(actions: readonly number[], value: number): number {
  let best = 0;
  for (let a = 1; a < actions.length; a++) if (Math.abs(actions[a]! - value) < Math.abs(actions[best]! - value)) best = a;
  return best;
}

/**
 * The initial action from a baseline's settings (the paper's heuristic: start from the best hand-tuned
 * sampler): cfg → its guidance scale, gamma → its churn γ = min(S_churn/N, √2−1); renoise → continue.
 */
export function initActionFrom(c: Pick<LearnerConfig, 'intervention' | 'actions' | 'steps'>, s: { guidance?: number; churn?: number }): number {
  switch (c.intervention) {
    case 'cfg':
      return nearestAction(c.actions, s.guidance ?? 1);
    case 'gamma':
      return nearestAction(c.actions, Math.min((s.churn ?? 0) / c.steps, Math.SQRT2 - 1));
    case 'renoise':
      return Math.max(0, c.actions.indexOf(0));
  }
}
