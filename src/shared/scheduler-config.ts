// The RL step scheduler's settings (engine/scheduler/rl-scheduler.ts; the third paper in
// ../shared/papers, "self-supervised sampling with an RL scheduler"): one table, every field
// documented, defaults from the paper where it gives them. From it come the type, the checks, the
// `train --intervention schedule` flags and their help, and the saved run's scheduler.json.

import { z } from 'zod';
import { choice, defaultsOf, int, issueMessages, num, objectSchema, textList, type ValuesOf } from './schema';
import { MAX_BATCH, MAX_SEED, MAX_STEPS } from './limits';
import { DIVERGENCES, LEARNER_FIELDS } from './learner-config';

export const SCHEDULER_SAMPLERS = ['euler', 'heun'] as const;
export const SCHEDULER_REWARDS = ['pearson', 'nearest', 'occupancy', 'explicit'] as const;
export const SCHEDULER_STATES = ['pooled', 'encoder'] as const;

export const SCHEDULER_FIELDS = {
  sampler: choice(SCHEDULER_SAMPLERS, {
    label: 'Solver',
    group: 'basic',
    default: 'euler',
    help: 'the solver each step uses: euler (1st order, 1 evaluation a step) or heun (2nd order, 2; the step to σ = 0 takes 1)',
  }),
  nfeBudget: int({
    group: 'basic',
    default: 10,
    min: 2,
    max: 2 * MAX_STEPS,
    label: 'NFE budget',
    help: 'denoiser evaluations a sample may spend; the episode ends at σ_min or when the budget is spent, then a last step to σ = 0',
  }),
  reward: choice(SCHEDULER_REWARDS, {
    label: 'Reward',
    group: 'basic',
    default: 'pearson',
    help: "pearson: the paper's sparse terminal reward, the largest Pearson correlation between the final sample's features and those of a fresh batch of real samples; nearest: minus the squared distance to the nearest of them, over the features' variance (for low-dimensional features, where the Pearson correlation of a centred 2-vector is always ±1); occupancy: the learner's f-divergence reward −ψ(r) at the terminal state, r the density ratio of data to final samples that a discriminator on their features estimates (a reward on the whole distribution: coverage counts); explicit: the rewards listed below (JPEG size, a class logit, a class mix, your ONNX model)",
  }),
  // [Note: the scheduler's explicit rewards]
  // reward explicit: the final sample's explicit rewards (shared/reward-spec.ts, summed with their
  // weights), as the inverse-RL learner's objective reward takes them (issue 17). On the command line
  // every --reward that is not one of the scheduler's own (pearson, nearest, occupancy) is such a
  // specification and implies reward explicit (cli/scheduler-cmd.ts); the saved settings keep the list.
  rewards: textList({
    ...LEARNER_FIELDS.rewards,
    readWhen: { reward: ['explicit'] },
    flag: 'reward-spec',
    group: 'basic',
    help: 'reward explicit: the rewards of the final sample, summed with their weights ([-]NAME[:ARG,key=value]; on the command line --reward SPEC, one each: `train --help` lists them)',
  }),
  divergence: choice(DIVERGENCES, {
    readWhen: { reward: ['occupancy'] },
    label: 'Divergence (occupancy reward)',
    group: 'basic',
    default: 'kl',
    help: "reward occupancy: the f-divergence whose per-state reward −ψ(r) the terminal density ratio r is turned into (the inverse-RL learner's, learner/divergences.ts)",
  }),
  discriminatorSteps: int({
    readWhen: { reward: ['occupancy'] },
    label: 'Discriminator steps per iteration',
    default: 50,
    min: 1,
    max: 10_000,
    help: 'reward occupancy: Adam steps of the terminal discriminator (final samples against real ones, in feature space) per iteration',
  }),
  rewardSamples: int({
    readWhen: { reward: ['pearson', 'nearest', 'occupancy'] },
    label: 'Real samples per reward batch',
    default: 256,
    min: 1,
    max: MAX_BATCH,
    help: 'real samples drawn afresh for every episode batch to score against (paper: 256)',
  }),
  // [Note: the scheduler's state]
  // The learner's encoder φ (the model's ONNX classifier for images) costs about as much as a
  // denoiser pass, and the scheduler decides before every step: with it in the loop a rollout ran at
  // 0.67 of plain sampling's speed (npm run bench -- scheduler), short of the 70% goal. The pooled
  // state (c_in(σ)·x averaged over 4×4 blocks on 28×28) costs nothing next to a pass; the paper's own
  // policy reads x_t through a small conv block of its own, not a pretrained classifier.
  state: choice(SCHEDULER_STATES, {
    label: 'State (what the policy sees)',
    group: 'basic',
    default: 'pooled',
    help: "what the policy sees of x_t: pooled (c_in(σ)·x averaged over blocks to ≤ 64 values; no network pass) or encoder (the model's encoder, as the inverse-RL learner: one more network pass per decision)",
  }),
  iterations: int({
    label: 'Training iterations',
    default: 100,
    min: 1,
    max: 100_000,
    group: 'basic',
    help: 'training iterations (episode batches + PPO update)',
  }),
  trajectories: int({
    label: 'Episodes per iteration',
    default: 256,
    min: 2,
    max: MAX_BATCH,
    help: 'episodes per iteration',
  }),
  hidden: int({ label: 'Hidden width', default: 128, min: 1, max: 4096, help: 'width of the policy MLP' }),
  layers: int({ label: 'Hidden layers', default: 2, min: 1, max: 8, help: 'hidden layers of the policy MLP' }),
  lr: num({ default: 3e-4, gt: 0, max: 1, step: 1e-4, label: 'Learning rate', help: 'Adam learning rate' }),
  // The paper found a learned std unstable and decays a fixed one exponentially over training.
  stdStart: num({
    label: 'Policy std at the start',
    default: 0.5,
    gt: 0,
    max: 10,
    help: 'std of the Gaussian policy (in the pre-squash logit of Δ) at the first iteration',
  }),
  stdEnd: num({
    label: 'Policy std at the end',
    default: 0.05,
    gt: 0,
    max: 10,
    help: 'its std at the last iteration (exponential decay between)',
  }),
  ppoEpochs: int({
    label: 'PPO epochs',
    default: 4,
    min: 1,
    max: 100,
    help: 'PPO epochs over each iteration’s transitions',
  }),
  minibatch: int({
    label: 'PPO minibatch (transitions)',
    default: 256,
    min: 1,
    max: MAX_BATCH,
    help: 'PPO minibatch (transitions)',
  }),
  clip: num({ label: 'PPO clip ε', default: 0.2, gt: 0, max: 1, help: 'PPO clip ε' }),
  seed: int({
    label: 'Seed',
    default: 0,
    min: 0,
    max: MAX_SEED,
    group: 'basic',
    help: 'seed of the policy initialisation, the episodes and the reward batches',
  }),
  evalEvery: int({
    label: 'Evaluate every (iterations)',
    default: 10,
    min: 0,
    max: 100_000,
    help: 'evaluate the deterministic policy every N iterations (0: at the end only)',
  }),
  evalSamples: int({
    label: 'Samples per evaluation',
    default: 1000,
    min: 2,
    max: 100_000,
    help: 'samples of each evaluation (FID against the model’s data)',
  }),
};

export type SchedulerConfig = ValuesOf<typeof SCHEDULER_FIELDS>;
export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = defaultsOf(SCHEDULER_FIELDS);
const SchedulerConfigSchema = objectSchema(SCHEDULER_FIELDS);

/** The smallest budget that allows one decision: heun needs 2 for a step and 1 for the step to 0. */
export const minBudget = (sampler: SchedulerConfig['sampler']): number => (sampler === 'euler' ? 2 : 3);

/**
 * What a run with these settings costs in denoiser evaluations, at most (an episode may reach σ_min
 * before its budget is spent): training episodes and evaluations, each up to the NFE budget; the
 * encoder state adds a network pass per decision.
 */
export function schedulerCost(c: SchedulerConfig): {
  trainingPasses: number;
  evaluationPasses: number;
  totalPasses: number;
} {
  const perEpisode = c.nfeBudget + (c.state === 'encoder' ? c.nfeBudget : 0);
  const evaluations =
    (c.evalEvery > 0 ? Math.floor(c.iterations / c.evalEvery) : 0) +
    (c.evalEvery > 0 && c.iterations % c.evalEvery === 0 ? 0 : 1);
  const trainingPasses = c.iterations * c.trajectories * perEpisode;
  const evaluationPasses = evaluations * c.evalSamples * perEpisode;
  return { trainingPasses, evaluationPasses, totalPasses: trainingPasses + evaluationPasses };
}

/** Whole settings, checked; a RangeError naming each field (`name`: how a field is shown, a key or a --flag). */
export function parseSchedulerConfig(v: unknown, name: (key: string) => string = (k) => k): SchedulerConfig {
  // Runs saved before `state` existed read the model's encoder: that is what they trained with; before
  // the occupancy reward, its two settings (unused by their rewards) read as their defaults.
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    if (!('state' in v)) v = { ...v, state: 'encoder' };
    const { divergence, discriminatorSteps } = SCHEDULER_FIELDS;
    // Before explicit rewards, no run had any.
    v = {
      divergence: divergence.default,
      discriminatorSteps: discriminatorSteps.default,
      rewards: [],
      ...(v as object),
    };
  }
  const r = SchedulerConfigSchema.safeParse(v);
  if (!r.success)
    throw new RangeError(
      issueMessages(SCHEDULER_FIELDS, r.error as z.ZodError, (p) => name(String(p[0])), v).join('; '),
    );
  const c = r.data;
  if (c.nfeBudget < minBudget(c.sampler))
    throw new RangeError(
      `${name('nfeBudget')} must be ≥ ${minBudget(c.sampler)} for ${c.sampler} (a step and the last step to σ = 0), got ${c.nfeBudget}`,
    );
  if (c.reward === 'explicit' && c.rewards.length === 0)
    throw new RangeError(
      `${name('reward')} explicit needs at least one reward: ${name('rewards')} (e.g. -jpeg-size, class-logit:7)`,
    );
  if (c.reward !== 'explicit' && c.rewards.length > 0)
    throw new RangeError(
      `${name('rewards')} are for ${name('reward')} explicit; this run's reward is ${c.reward}: drop them, or choose explicit`,
    );
  if (c.stdEnd > c.stdStart)
    throw new RangeError(
      `${name('stdEnd')} must be ≤ ${name('stdStart')} (the std decays), got ${c.stdEnd} > ${c.stdStart}`,
    );
  return c;
}
