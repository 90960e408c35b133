// The drift policies' settings (engine/drift/; issue 18): a learned residual on the mean of a
// stochastic sampler's step, trained for explicit rewards by DDPO (the DDPO thesis in
// ../shared/papers) or DPOK (Fan et al. 2023: the reward less β times the KL to the base sampler).
// One table, every field documented, defaults from the papers where they give them; from it come
// the type, the checks, the flags and the saved run's drift.json.

import { z } from 'zod';
import { choice, defaultsOf, int, issueMessages, num, objectSchema, textList, type ValuesOf } from './schema';
import { MAX_BATCH, MAX_SEED, MAX_STEPS } from './limits';
import { LEARNER_FIELDS } from './learner-config';

export const DRIFT_OBJECTIVES = ['ddpo', 'dpok'] as const;
export const DRIFT_SAMPLERS = ['euler-maruyama', 'ddim'] as const;

export const DRIFT_FIELDS = {
  objective: choice(DRIFT_OBJECTIVES, {
    label: 'Objective',
    group: 'basic',
    default: 'dpok',
    help: 'ddpo: PPO on the terminal reward over the per-step log-probabilities (the DDPO thesis, no KL term); dpok: the same with β times the KL to the base sampler subtracted (Fan et al. 2023), which keeps the samples near the model',
  }),
  sampler: choice(DRIFT_SAMPLERS, {
    label: 'Base sampler',
    group: 'basic',
    default: 'euler-maruyama',
    help: 'the stochastic sampler whose step mean the policy moves: euler-maruyama (the reverse SDE, as the q-learning paper simulates it) or ddim with η > 0 (as DDPO samples)',
  }),
  eta: num({
    label: 'DDIM η',
    default: 1,
    gt: 0,
    max: 1,
    help: 'sampler ddim: its η (1: DDPM-like noise, as DDPO trains with); a drift policy needs noise to act through',
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
    flag: 'reward',
    group: 'basic',
    help: 'the rewards of the final sample, summed with their weights ([-]NAME[:ARG,key=value], one --reward each: `train --help` lists them)',
  }),
  beta: num({
    label: 'KL weight β',
    group: 'basic',
    default: 0.1,
    min: 0,
    max: 1e6,
    help: 'objective dpok: the weight of the KL to the base sampler, Σ over the steps of c²|u|²/2 nats (0: DDPO with DPOK’s update)',
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
    label: 'PPO clip ε',
    default: 0.2,
    gt: 0,
    max: 1,
    help: 'clip range of the per-step probability ratio (PPO: 0.2; DDPO: 1e-4, for a large pretrained network)',
  }),
  advClip: num({
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

export type DriftConfig = ValuesOf<typeof DRIFT_FIELDS>;
export const DEFAULT_DRIFT_CONFIG: DriftConfig = defaultsOf(DRIFT_FIELDS);
const DriftConfigSchema = objectSchema(DRIFT_FIELDS);

/** Whole settings, checked; a RangeError naming each field (`name`: how a field is shown, a key or a --flag). */
export function parseDriftConfig(v: unknown, name: (key: string) => string = (k) => k): DriftConfig {
  const r = DriftConfigSchema.safeParse(v);
  if (!r.success)
    throw new RangeError(issueMessages(DRIFT_FIELDS, r.error as z.ZodError, (p) => name(String(p[0])), v).join('; '));
  const c = r.data;
  if (c.rewards.length === 0)
    throw new RangeError(
      `a drift policy learns for a reward: give at least one ${name('rewards')} (e.g. box:x0=0,x1=4)`,
    );
  return c;
}
