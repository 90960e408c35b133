// The drift policies' settings (engine/drift/; issue 18): a learned residual on the mean of a
// stochastic sampler's step, trained for explicit rewards by DDPO (the DDPO thesis in
// ../shared/papers), DPOK (Fan et al. 2023: the reward less β times the KL to the base sampler) or
// entropy-regularised continuous-time q-learning (Gao, Zha and Zhou 2024, Algorithm 1).
// One table, every field documented, defaults from the papers where they give them; from it come
// the type, the checks, the flags and the saved run's drift.json.

import { z } from 'zod';
import { choice, defaultsOf, int, issueMessages, num, objectSchema, textList, type ValuesOf } from './schema';
import { MAX_BATCH, MAX_SEED, MAX_STEPS } from './limits';
import { LEARNER_FIELDS } from './learner-config';

export const DRIFT_OBJECTIVES = ['ddpo', 'dpok', 'q-learning'] as const;
export const DRIFT_SCORES = ['data', 'model'] as const;
export const SCORE_FLOORS = ['bandwidth', 'spacing'] as const;
export const DRIFT_SAMPLERS = ['euler-maruyama', 'ddim', 'ode-euler'] as const;
export const DRIFT_LR_SCHEDULES = ['linear', 'constant'] as const;

export const DRIFT_FIELDS = {
  objective: choice(DRIFT_OBJECTIVES, {
    label: 'Objective',
    group: 'basic',
    default: 'dpok',
    help: 'ddpo: PPO on the terminal reward over the per-step log-probabilities (the DDPO thesis, no KL term); dpok: the same with β times the KL to the base sampler subtracted (Fan et al. 2023), which keeps the samples near the model; q-learning: an actor–critic on the reward and the deviation from the data’s score (Gao, Zha and Zhou 2024, Algorithm 1), which keeps the samples near the data even when the model is weak',
  }),
  sampler: choice(DRIFT_SAMPLERS, {
    label: 'Base sampler',
    group: 'basic',
    default: 'euler-maruyama',
    help: 'the sampler whose step the policy moves: euler-maruyama (the reverse SDE, as the q-learning paper simulates it) or ddim with η > 0 (as DDPO samples); q-learning also runs on the deterministic ddim (η = 0: Euler on the probability-flow ODE in σ) and ode-euler (Euler on the VP probability-flow ODE in its own time), its §7.1',
  }),
  eta: num({
    readWhen: { sampler: ['ddim'] },
    label: 'DDIM η',
    default: 1,
    min: 0,
    max: 1,
    help: 'sampler ddim: its η (1: DDPM-like noise, as DDPO trains with; ddpo and dpok need η > 0, noise to act through; q-learning’s DDIM simulator is η = 0)',
  }),
  steps: int({
    label: 'Steps',
    group: 'basic',
    default: 50,
    min: 2,
    max: MAX_STEPS,
    help: 'sampler steps on the EDM schedule, one denoiser evaluation each (the q-learning paper: 50 steps of 0.1 over its horizon 5)',
  }),
  rewards: textList({
    ...LEARNER_FIELDS.rewards,
    readWhen: {}, // every objective here is for explicit rewards
    flag: 'reward',
    group: 'basic',
    help: 'the rewards of the final sample, summed with their weights ([-]NAME[:ARG,key=value], one --reward each: `train --help` lists them)',
  }),
  klWeight: num({
    readWhen: { objective: ['dpok'] },
    label: 'KL weight β (DPOK)',
    group: 'basic',
    default: 0.1,
    min: 0,
    max: 1e6,
    help: 'objective dpok: DPOK’s β, the weight of the KL to the base sampler, Σ over the steps of |v|²/2 nats (0: DDPO with DPOK’s update)',
  }),
  // [Note: q-learning's time]
  // The paper's process runs over [0, T] in steps of Δt = T/N (its T = 5, N = 50). Our sampler steps
  // over σ instead; q-learning reads the k-th step as the time interval [kΔt, (k+1)Δt] with
  // g_k²·Δt = c_k², the step's own noise variance (engine/drift/q-learning.ts). T then only sets
  // how the temperature γ weighs exploration: the action's noise is √(γΔt) of the step's.
  rewardWeight: num({
    readWhen: { objective: ['q-learning'] },
    label: 'Reward weight β (q-learning)',
    group: 'basic',
    default: 1,
    min: 0,
    max: 1e6,
    help: 'objective q-learning: the paper’s β, the weight of the terminal reward against the deviation from the score (larger: more reward, further from the data; 0: the score alone, its Table 5)',
  }),
  temperature: num({
    readWhen: { objective: ['q-learning'] },
    label: 'Temperature γ (q-learning)',
    default: 5,
    gt: 0,
    max: 1e6,
    help: 'objective q-learning: the entropy temperature; the action’s exploration noise is √(γ·T/N) of each step’s own (paper: γ = 5)',
  }),
  horizon: num({
    readWhen: { objective: ['q-learning'] },
    label: 'Horizon T (q-learning)',
    default: 5,
    gt: 0,
    max: 1e6,
    help: 'objective q-learning: the process’s horizon T, split into the sampler’s N steps (paper: 5; see the note on time)',
  }),
  score: choice(DRIFT_SCORES, {
    readWhen: { objective: ['q-learning'] },
    label: 'Score the running reward measures from (q-learning)',
    default: 'data',
    help: 'objective q-learning: data — the paper’s ratio estimator of the true score from the model’s data (robust to a weak model); model — the frozen denoiser’s own score (a KL to the model, as DPOK)',
  }),
  scoreSamples: int({
    readWhen: { objective: ['q-learning'], score: ['data'] },
    label: 'Data points per score estimate (q-learning)',
    default: 512,
    min: 1,
    max: 1_000_000,
    help: 'objective q-learning, score data: data points drawn each iteration for the ratio estimator (all of them when the data has fewer)',
  }),
  scoreFloor: choice(SCORE_FLOORS, {
    readWhen: { objective: ['q-learning'], score: ['data'] },
    label: 'Below the estimator’s resolution (q-learning)',
    default: 'bandwidth',
    help: 'objective q-learning, score data: how the ratio estimator is used at noise levels finer than its data points can resolve — bandwidth: down to the points’ kernel bandwidth (Scott’s rule) and the model’s own score below it; spacing: smoothed by the points’ nearest-neighbour spacing at every level (runs before 2 December 2026)',
  }),
  lrCritic: num({
    readWhen: { objective: ['q-learning'] },
    label: 'Critic learning rate (q-learning)',
    default: 1e-3,
    gt: 0,
    max: 1,
    step: 1e-4,
    help: 'objective q-learning: Adam learning rate of the value function J_θ (paper: 0.001)',
  }),
  iterations: int({
    label: 'Training iterations',
    group: 'basic',
    default: 200,
    min: 1,
    max: 100_000,
    help: 'training iterations (a batch of trajectories, then the policy update)',
  }),
  trajectories: int({
    label: 'Trajectories per iteration',
    default: 256,
    min: 2,
    max: MAX_BATCH,
    help: 'trajectories sampled per iteration',
  }),
  hidden: int({
    label: 'Hidden width',
    default: 64,
    min: 1,
    max: 4096,
    help: 'width of the drift MLP (the q-learning paper: 64)',
  }),
  layers: int({
    label: 'Hidden layers',
    default: 2,
    min: 1,
    max: 8,
    help: 'hidden layers of the drift MLP (paper: 2)',
  }),
  lr: num({
    label: 'Learning rate',
    default: 1e-3,
    gt: 0,
    max: 1,
    step: 1e-4,
    help: 'Adam learning rate (the q-learning paper: 0.001)',
  }),
  // CleanRL's anneal_lr; the q-learning paper's schedule l(k). q-learning's actor descends the TD
  // error times the action's score, a policy gradient as noisy as REINFORCE's: on swissroll-a (β = 10,
  // one pass a batch) its mean reward swung between 0.47 and 0.86 from one evaluation to the next at a
  // constant 1e-3, and still between 0.52 and 0.91 annealed; four passes a batch (or 1,024
  // trajectories) settled it at 0.95–0.98, and drift-tables trains with four. Annealing keeps the
  // last updates small whatever the objective.
  lrSchedule: choice(DRIFT_LR_SCHEDULES, {
    label: 'Learning-rate schedule',
    default: 'linear',
    help: 'linear: both learning rates decay linearly to 0 over the iterations (CleanRL’s anneal_lr; the q-learning paper’s schedule l(k)), so the last iterate settles; constant: they stay at --lr and --lr-critic',
  }),
  ppoEpochs: int({
    label: 'PPO epochs',
    default: 1,
    min: 1,
    max: 100,
    help: 'passes over each iteration’s transitions (DDPO: 1)',
  }),
  minibatch: int({
    label: 'Minibatch (transitions)',
    default: 2048,
    min: 1,
    max: 1_000_000,
    help: 'transitions (one step of one trajectory) per gradient step',
  }),
  // DDPO clips at 1e-4 (its LoRA on Stable Diffusion, one epoch of large batches). On swissroll-a
  // with 20 steps, 1e-4 moved the mean reward from 0.48 to 0.50 in 20 iterations (clip fraction 0.6:
  // after the first minibatch nearly every ratio is past it), 0.2 — PPO's usual ε — to 0.9 in 5.
  clip: num({
    readWhen: { objective: ['ddpo', 'dpok'] },
    label: 'PPO clip ε',
    default: 0.2,
    gt: 0,
    max: 1,
    help: 'clip range of the per-step probability ratio (PPO: 0.2; DDPO: 1e-4, for a large pretrained network)',
  }),
  advClip: num({
    readWhen: { objective: ['ddpo', 'dpok'] },
    label: 'Advantage clip',
    default: 5,
    gt: 0,
    max: 1e6,
    help: 'standardised advantages are clipped to ± this (DDPO: 5)',
  }),
  seed: int({
    label: 'Seed',
    group: 'basic',
    default: 0,
    min: 0,
    max: MAX_SEED,
    help: 'seed of the policy initialisation and the trajectories',
  }),
  evalEvery: int({
    label: 'Evaluate every (iterations)',
    default: 10,
    min: 0,
    max: 100_000,
    help: 'evaluate the policy every N iterations (0: at the end only)',
  }),
  evalSamples: int({
    label: 'Samples per evaluation',
    default: 1000,
    min: 2,
    max: 100_000,
    help: 'samples of each evaluation: mean reward, KL to the base sampler, and the model’s metrics',
  }),
};

/**
 * The drift settings a table leaves to the user (`drift-tables --lr-critic 1e-2 …`,
 * engine/apps/drift-tables.ts): the rest — the method, the simulator, the reward, the weights, the
 * iterations, the seed and the evaluation — are the tables' own.
 */
export const DRIFT_TABLE_SETTINGS = [
  'temperature',
  'horizon',
  'score',
  'scoreSamples',
  'scoreFloor',
  'lrCritic',
  'trajectories',
  'hidden',
  'layers',
  'lr',
  'lrSchedule',
  'ppoEpochs',
  'minibatch',
  'clip',
  'advClip',
] as const satisfies readonly (keyof DriftConfig)[];

export type DriftConfig = ValuesOf<typeof DRIFT_FIELDS>;
export const DEFAULT_DRIFT_CONFIG: DriftConfig = defaultsOf(DRIFT_FIELDS);
const DriftConfigSchema = objectSchema(DRIFT_FIELDS);

/**
 * Denoiser passes a run spends (as schedulerCost counts the scheduler's): one per step of every
 * training trajectory, and of every evaluation sample — evaluations at each multiple of evalEvery and
 * at the end, and the base sampler's once per run (train.ts). The policy's own network comes on top.
 */
export function driftCost(c: DriftConfig): { trainingPasses: number; evaluationPasses: number; totalPasses: number } {
  const evaluations = c.evalEvery > 0 ? Math.ceil(c.iterations / c.evalEvery) : 1;
  const trainingPasses = c.iterations * c.trajectories * c.steps;
  const evaluationPasses = (evaluations + 1) * c.evalSamples * c.steps;
  return { trainingPasses, evaluationPasses, totalPasses: trainingPasses + evaluationPasses };
}

/** Whole settings, checked; a RangeError naming each field (`name`: how a field is shown, a key or a --flag). */
export function parseDriftConfig(v: unknown, name: (key: string) => string = (k) => k): DriftConfig {
  const r = DriftConfigSchema.safeParse(v);
  if (!r.success)
    throw new RangeError(issueMessages(DRIFT_FIELDS, r.error as z.ZodError, (p) => name(String(p[0])), v).join('; '));
  const c = r.data;
  const stochastic = c.sampler === 'euler-maruyama' || (c.sampler === 'ddim' && c.eta > 0);
  if (c.objective !== 'q-learning' && !stochastic)
    throw new RangeError(
      `${name('objective')} ${c.objective} acts through the sampler's noise: use ${name('sampler')} euler-maruyama, or ddim with ${name('eta')} > 0 (got ${c.sampler}${c.sampler === 'ddim' ? ` with ${name('eta')} ${c.eta}` : ''})`,
    );
  if (c.objective === 'q-learning' && c.sampler === 'ddim' && c.eta !== 0)
    throw new RangeError(
      `${name('objective')} q-learning simulates DDIM as the paper does, deterministic: give ${name('eta')} 0 (its exploration is the action's noise), or use ${name('sampler')} euler-maruyama`,
    );
  if (c.rewards.length === 0)
    throw new RangeError(
      `a drift policy learns for a reward: give at least one ${name('rewards')} (e.g. box:x0=0,x1=4)`,
    );
  return c;
}
