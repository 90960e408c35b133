// The learner's hyper-parameters: one table, every field documented, defaults from the paper
// (Table B.4 and Appendix B) scaled down so the bundled 2-D benchmarks train in minutes on a CPU.
// From this table come the `LearnerConfig` type, its checks, the `train` flags and `--help`, the
// saved run config and the Tune form (shared/schema.ts). Adding a field is one entry here.

import {
  bool,
  choice,
  defaultsOf,
  int,
  issueMessages,
  num,
  numList,
  objectSchema,
  textList,
  type ValuesOf,
} from './schema';
import { parseRewardSpec } from './reward-spec';
import { MAX_BATCH, MAX_EVAL_SAMPLES, MAX_SEED } from './limits';
import { MAX_GUIDANCE, MAX_STEPS, SIGMA_LIMIT } from './sampler-settings';

export const INTERVENTIONS = ['cfg', 'gamma', 'renoise'] as const;
export type Intervention = (typeof INTERVENTIONS)[number];

/** How the advantages are centred (learner.ts step 4). */
export const ADVANTAGE_BASELINES = ['level', 'global'] as const;
/** What the policy is trained for: the data (the f-divergence between occupancies) or explicit rewards (issue 17). */
export const OBJECTIVES = ['occupancy', 'reward'] as const;

/** How the initial policy is made (learner/init-policy.ts). */
export const INIT_PROFILES = ['window', 'bias'] as const;

export const CONDITIONINGS = ['sigma', 'state', 'state+class'] as const;
/** What the policy sees: σ only; (x, σ); (x, σ, class). */
export type Conditioning = (typeof CONDITIONINGS)[number];

/** The f-divergences D_f(ρ_E‖ρ_π) the learner can minimise (their rewards: learner/divergences.ts). */
export const DIVERGENCES = ['kl', 'rkl', 'tv', 'hellinger', 'js', 'chi2'] as const;
export type Divergence = (typeof DIVERGENCES)[number];

/** Base samplers the learner steers. */
export const LEARNER_SAMPLERS = ['euler', 'heun', 'edm'] as const;

/** Action-value presets per intervention. */
export const ACTION_PRESETS: Record<Intervention, number[]> = {
  // 8 guidance scales from 1 (none) to 4, as the reference prototype; the paper uses 20.
  cfg: [1, 1.25, 1.5, 2, 2.5, 3, 3.5, 4],
  // 10 churn levels in [0, √2−1] (EDM's γ range), as in the paper.
  gamma: Array.from({ length: 10 }, (_, i) => Number(((i / 9) * (Math.SQRT2 - 1)).toFixed(4))),
  // continue, or jump back 1, 2 or 4 levels (4 actions, as the paper's renoise policies).
  renoise: [0, 1, 2, 4],
};

/** EDM's largest churn γ (Alg. 2): t̂ = t(1+γ) ≤ √2·t, never more noise added than is there. */
export const GAMMA_MAX = Math.SQRT2 - 1;

// [Note: learner bounds]
// As the sampler's (shared/sampler-settings.ts, the note on bounds): every number is bounded above
// too, each bound with its reason. Sizes (trajectories, batches) stop at MAX_BATCH (shared/limits.ts);
// learner.ts checks what the states of a rollout take for the model at hand.

/**
 * Bounds of a policy's temperature τ (logits/τ), also for `sample --policy` and `eval --policy`: at
 * τ = 0.01 a logit gap of 0.1 is already a factor e¹⁰ (greedy); at τ = 100 gaps below 1 are within
 * 1% of uniform. Beyond either end nothing changes but float overflow.
 */
export const TEMPERATURE_BOUNDS = { min: 0.01, max: 100 };

export const LEARNER_FIELDS = {
  intervention: choice(INTERVENTIONS, {
    default: 'cfg',
    group: 'none', // the form's segmented control
    help: 'what the policy controls: the guidance scale w, the churn γ, or jumps back to higher noise',
    labels: { cfg: 'guidance (cfg)', gamma: 'stochasticity (γ)', renoise: 'renoise' },
  }),
  // [Note: two objectives]
  // occupancy: the inverse-RL objective, the divergence between the sampler's state occupancy and
  // the data's (a discriminator estimates their ratio). reward: PPO on an explicit terminal reward of
  // the final sample (the DDPO thesis): G_t = R(x_0) at every step of the trajectory, advantages
  // standardised over the batch and clipped to ±advantageClip, and an optional KL penalty β·KL(π_θ ‖
  // π_init) per visited state that keeps the policy near its initial one (against reward hacking).
  objective: choice(OBJECTIVES, {
    default: 'occupancy',
    group: 'basic',
    label: 'Objective',
    help: 'occupancy: match the data (the f-divergence below, with a discriminator); reward: maximise explicit rewards of the final sample (--reward), PPO as DDPO',
    labels: { occupancy: 'match the data (occupancy, f-divergence)', reward: 'explicit rewards (DDPO)' },
  }),
  rewards: textList({
    readWhen: { objective: ['reward'] },
    default: [],
    maxLength: 8,
    flag: 'reward',
    group: 'basic',
    label: 'Rewards',
    entry: 'a reward such as -jpeg-size, class-logit:7 or onnx:reward.onnx,weight=0.5',
    check: (t) => {
      try {
        parseRewardSpec(t);
        return null;
      } catch (e) {
        return (e as Error).message;
      }
    },
    help: 'objective reward: the rewards of the final sample, summed with their weights, one --reward each ([-]NAME[:ARG,key=value]; `train --help` lists them)',
  }),
  klCoef: num({
    readWhen: { objective: ['reward'] },
    default: 0,
    min: 0,
    max: 100,
    step: 0.01,
    label: 'KL penalty β',
    help: 'objective reward: β of the penalty β·KL(π_θ ‖ π_init) on the visited states, added to the PPO loss (0 = none, as DDPO)',
  }),
  // [Note: per-class reward statistics]
  // On a class-conditional model most of a terminal reward's spread is the class (fashion-mnist's JPEG
  // size: 1.04 kB for trousers, 1.26 kB for shirts at w = 1), which no action changes: standardised
  // over the batch, the advantages mostly say which class a trajectory drew. DDPO standardises per
  // prompt (its per-prompt stat tracking); the class is our prompt: each trajectory's reward less the
  // mean of its class's (the null class its own), over one std, leaves what the actions did.
  rewardStats: choice(['class', 'batch'] as const, {
    readWhen: { objective: ['reward'] },
    default: 'class',
    label: 'Reward baseline',
    help: "objective reward: advantages standardised per class (the reward less its class's batch mean, as DDPO's per-prompt statistics; an unconditional model has one class) or over the whole batch",
    labels: { class: 'per class (DDPO per-prompt)', batch: 'over the batch' },
  }),
  advantageClip: num({
    readWhen: { objective: ['reward'] },
    default: 5,
    gt: 0,
    max: 1e6,
    label: 'Advantage clip',
    help: "objective reward: the standardised advantages are clipped to ±this (DDPO's adv_clip_max, 5)",
  }),
  divergence: choice(DIVERGENCES, {
    readWhen: { objective: ['occupancy'] },
    default: 'kl',
    group: 'basic',
    label: 'Divergence',
    help: 'the f-divergence D_f(ρ_E‖ρ_π) to minimise',
    labels: {
      kl: 'KL — covers modes: favours recall (diversity)',
      rkl: 'reverse KL — seeks modes: favours precision (fidelity)',
      tv: 'total variation — bounded signal, robust to outliers',
      hellinger: 'squared Hellinger — between KL and reverse KL',
      js: 'Jensen–Shannon — symmetric, GAN-like',
      chi2: 'Pearson χ² — strongly penalises under-covered regions',
    },
  }),
  conditioning: choice(CONDITIONINGS, {
    default: 'state',
    group: 'basic',
    label: 'The policy sees',
    help: 'what the policy sees: σ only, the noisy sample and σ, or sample, σ and class',
    labels: { sigma: 'σ only', state: 'the noisy sample and σ', 'state+class': 'sample, σ and class' },
  }),
  stepInput: bool({
    default: false,
    label: 'Step input',
    help: 'give the policy the step index too (a non-stationary policy)',
  }),
  actions: numList({
    default: ACTION_PRESETS.cfg,
    minLength: 2,
    // One logit per action; the paper's largest policies choose among 20.
    maxLength: 64,
    // Two actions with one value split the policy's probability between identical choices.
    distinct: true,
    group: 'basic',
    label: 'Action values',
    help: 'the discrete action values: guidance scales (cfg), churn γ (gamma), or levels to jump back (renoise, 0 = continue)',
  }),
  initAction: int({
    default: 2,
    min: 0,
    max: 63, // an index into at most 64 actions
    group: 'basic',
    label: 'Initial action',
    help: 'index of the action the initial policy favours (the baseline’s choice)',
  }),
  initProfile: choice(INIT_PROFILES, {
    default: 'window',
    label: 'Initial policy',
    help: 'window: behaviour-clone the initial policy to a σ-dependent profile (initAction with probability initMass for σ in [initSigmaLo, initSigmaHi], the neutral action — w = 1, γ = 0, continue — with initMassOutside elsewhere); bias: one logit bonus initBias on initAction at every level',
    labels: { window: 'σ-dependent profile (cloned)', bias: 'one logit bonus at every level' },
  }),
  initSigmaLo: num({
    readWhen: { initProfile: ['window'] },
    default: 0,
    min: 0,
    max: SIGMA_LIMIT,
    label: 'Initial window σ_lo',
    help: 'window profile: lowest σ at which the initial policy favours initAction (0: down to the end)',
  }),
  initSigmaHi: num({
    readWhen: { initProfile: ['window'] },
    default: Infinity,
    min: 0,
    max: SIGMA_LIMIT,
    inf: true,
    label: 'Initial window σ_hi',
    help: 'window profile: highest σ at which the initial policy favours initAction (inf: from the start)',
  }),
  initMass: num({
    readWhen: { initProfile: ['window'] },
    default: 0.8,
    // Below 1/K the "favoured" action would be less likely than the others; at 1 the policy could never
    // leave it (log 0), and past 0.999 its gradient all but vanishes.
    gt: 0,
    max: 0.999,
    step: 0.05,
    label: 'Initial mass',
    help: 'window profile: probability of initAction inside the window (the other actions share the rest equally)',
  }),
  initMassOutside: num({
    readWhen: { initProfile: ['window'] },
    default: 0.8,
    gt: 0,
    max: 0.999,
    step: 0.05,
    label: 'Initial mass outside',
    help: 'window profile: probability of the neutral action outside the window (w = 1, γ = 0, continue)',
  }),
  initBias: num({
    readWhen: { initProfile: ['bias'] },
    default: 2,
    min: 0,
    // e^20 ≈ 5·10⁸: the other actions are then never drawn, and the policy cannot learn to leave it.
    max: 20,
    label: 'Initial bias',
    help: 'bias profile: logit bonus of the initial action: 2 makes it e² ≈ 7.4× as likely as any other action',
  }),
  sampler: choice(LEARNER_SAMPLERS, {
    default: 'heun',
    group: 'basic',
    label: 'Base sampler',
    help: 'the base sampler the policy steers (EDM Alg. 1 Euler/Heun, Alg. 2 with churn)',
  }),
  steps: int({
    default: 18,
    min: 1,
    max: MAX_STEPS,
    group: 'basic',
    label: 'Sampler steps',
    help: 'number of noise levels N of the base sampler',
  }),
  nfeBudget: int({
    readWhen: { intervention: ['renoise'] },
    default: Infinity,
    min: 1,
    // 5× the NFE of the longest plain sampler (Heun with MAX_STEPS levels: 1,999); the horizon grows with it.
    max: 10_000,
    inf: true,
    group: 'basic',
    label: 'NFE budget per sample',
    help: 'renoise: most NFE a trajectory may spend; actions that could not finish within it are masked',
  }),
  iterations: int({
    default: 150,
    min: 1,
    max: 1_000_000, // the default 150 takes minutes; a million would take years
    group: 'basic',
    label: 'Training iterations',
    help: 'training iterations',
  }),
  trajectories: int({
    default: 1024,
    min: 2,
    max: MAX_BATCH,
    group: 'basic',
    label: 'Trajectories per iteration',
    help: 'trajectories (samples) per iteration; every sample in a batch is an agent (paper: 1,024–2,048)',
  }),
  rolloutBatch: int({
    default: 1024,
    min: 1,
    max: MAX_BATCH,
    label: 'Rollout batch',
    help: 'samples per sampler batch during rollouts (at most the trajectories)',
  }),
  discriminatorInitSteps: int({
    readWhen: { objective: ['occupancy'] },
    default: 200,
    min: 0,
    max: 10_000, // 50× the paper's 100–200
    label: 'Discriminator warm-up steps',
    help: 'discriminator steps before the first policy update (paper: 100–200)',
  }),
  discriminatorSteps: int({
    readWhen: { objective: ['occupancy'] },
    default: 20,
    min: 0,
    max: 10_000,
    label: 'Discriminator steps',
    help: 'discriminator steps per iteration',
  }),
  discriminatorBatch: int({
    readWhen: { objective: ['occupancy'] },
    default: 512,
    min: 1,
    max: MAX_BATCH,
    label: 'Discriminator batch',
    help: 'discriminator minibatch (expert and policy states each)',
  }),
  discriminatorPool: int({
    readWhen: { objective: ['occupancy'] },
    default: 128,
    min: 1,
    max: MAX_BATCH,
    label: 'Discriminator expert pool',
    help: 'most expert states per noise level that an iteration draws and encodes for the discriminator’s minibatches (at most the states the rollout visited there)',
  }),
  labelSmoothing: num({
    readWhen: { objective: ['occupancy'] },
    default: 0.2,
    min: 0,
    lt: 0.5,
    step: 0.05,
    label: 'Label smoothing',
    help: 'discriminator label smoothing at σ_max, growing linearly with σ/σ_max from 0',
  }),
  logitClamp: num({
    readWhen: { objective: ['occupancy'] },
    default: 10,
    gt: 0,
    // r = e^clamp and χ²'s reward grows as r²: float64 overflows near a clamp of 354; 50 (r ≈ 5·10²¹)
    // keeps every divergence's rewards and their sums finite.
    max: 50,
    label: 'Logit clamp',
    help: 'discriminator logits are clamped to ± this before exp (r = e^logit)',
  }),
  ppoEpochs: int({
    default: 4,
    min: 1,
    max: 100, // PPO takes 3–10 epochs; more reuse of one batch only moves the policy out of its trust region
    label: 'PPO epochs',
    help: 'PPO epochs over each iteration’s transitions',
  }),
  ppoMinibatch: int({
    default: 512,
    min: 1,
    max: MAX_BATCH,
    label: 'PPO minibatch',
    help: 'PPO minibatch size (transitions)',
  }),
  clip: num({
    default: 0.2,
    gt: 0,
    max: 1, // ratios are clipped to [1−ε, 1+ε]: past 1 the lower end is negative and never binds
    step: 0.05,
    label: 'PPO clip ε',
    help: 'PPO clip range ε',
  }),
  // [Note: entropy bonus] Without one, a softmax policy whose advantages carry little signal drifts
  // like a martingale: each action's probability wanders and is absorbed at 0 or 1, at its start's
  // favoured action with about that action's initial probability (README, "Choosing the image
  // defaults": three CFG runs collapsed onto their initial action that way). CleanRL's ent_coef
  // subtracts c·H(π) from the loss; 0 is the paper's PPO.
  entropyCoef: num({
    default: 0,
    min: 0,
    max: 1, // the PPO loss is O(1) (normalised advantages); past 1 the bonus alone sets the policy
    step: 0.005,
    label: 'Entropy bonus',
    help: 'PPO entropy coefficient c: the loss is L_clip − c·H(π) (CleanRL ent_coef; 0 = none, as the paper)',
  }),
  advantageBaseline: choice(ADVANTAGE_BASELINES, {
    readWhen: { objective: ['occupancy'] },
    default: 'level',
    label: 'Advantage baseline',
    help: 'level: subtract the batch mean of the learning signal G at each step before normalising (the part of G that only counts the steps left); global: one mean over all transitions (the paper)',
    labels: { level: 'per step (mean of G at each step)', global: 'global (one mean, the paper)' },
  }),
  // Learning rates: Adam moves each weight by about lr per update whatever the gradient's scale, so
  // lr = 1 already moves every weight by ~1 a step, far past any rate that trains (Adam's default
  // is 1e-3, the paper's 1e-4 … 1e-5); at 1e30 the first update makes the weights NaN.
  lrPolicy: num({
    default: 3e-4,
    gt: 0,
    max: 1,
    step: 1e-4,
    label: 'Policy learning rate',
    help: 'Adam learning rate of the policy head (paper: 1e-4 … 1e-5 for images)',
  }),
  lrDiscriminator: num({
    readWhen: { objective: ['occupancy'] },
    default: 1e-3,
    gt: 0,
    max: 1,
    step: 1e-4,
    label: 'Discriminator learning rate',
    help: 'Adam learning rate of the discriminator',
  }),
  emaDecay: num({
    default: 0.95,
    min: 0,
    lt: 1,
    step: 0.01,
    label: 'EMA decay',
    help: 'EMA decay of both heads per iteration (warm-up min(decay, t/(t+1))); the EMA heads are evaluated and exported',
  }),
  hidden: int({
    default: 128,
    min: 1,
    max: 4096, // 32× the default: a head's weights, hidden² per layer, then take 64 MB each
    label: 'Hidden width',
    help: 'hidden width of the heads’ MLPs',
  }),
  layers: int({
    default: 2,
    min: 1,
    max: 16, // the paper's heads have 2; deeper ones only train slower
    label: 'Hidden layers',
    help: 'hidden layers of the heads’ MLPs',
  }),
  sigmaFrequencies: int({
    default: 8,
    min: 0,
    max: 64, // 8× the default; past it the embedding only widens the input
    label: 'σ frequencies',
    help: 'Fourier frequencies of the log-σ embedding',
  }),
  temperature: num({
    default: 1,
    ...TEMPERATURE_BOUNDS,
    step: 0.1,
    label: 'Rollout temperature',
    help: 'sampling temperature τ (logits/τ) of rollouts; evaluation may use another',
  }),
  evalEvery: int({
    default: 25,
    min: 0,
    max: 1_000_000, // the iterations' bound
    group: 'basic',
    label: 'Evaluate every (iterations)',
    help: 'evaluate on evalSamplesPeriodic samples (FID/precision/recall, sample grid, profile) every this many iterations (0: only the final evaluation)',
  }),
  // The periodic evaluations show the trend on few samples; the full count is spent once, at the end
  // (apps/train.ts, the note on periodic and final evaluations).
  evalSamplesPeriodic: int({
    default: 512,
    min: 2,
    max: MAX_EVAL_SAMPLES,
    group: 'basic',
    label: 'Samples per periodic evaluation',
    help: 'samples of each evaluation every evalEvery iterations (the periodic/… metrics; FID on few samples is biased upwards, so compare these only with each other)',
  }),
  evalSamples: int({
    default: 4000,
    min: 2,
    max: MAX_EVAL_SAMPLES,
    group: 'basic',
    label: 'Samples in the final evaluation',
    help: 'samples of the final evaluation, after the last iteration (FID / precision / recall and the sample grid; the eval/… metrics)',
  }),
  seed: int({
    default: 0,
    min: 0,
    max: MAX_SEED,
    group: 'basic',
    label: 'Seed',
    help: 'random seed of the run',
  }),
};

export const LearnerConfigSchema = objectSchema(LEARNER_FIELDS);
export type LearnerConfig = ValuesOf<typeof LEARNER_FIELDS>;
export type LearnerField = keyof LearnerConfig;

/**
 * What each intervention changes in the defaults. cfg: mild constant guidance 1.5 (action 2) at every
 * level; gamma: EDM's published churn (ImageNet-64: S_churn 40, so γ = min(40/18, √2−1), the last of
 * its 10 actions, inside its window [0.05, 50], γ = 0 outside; test/schema.test.ts checks it against
 * initActionFrom), on EDM's stochastic sampler; renoise: 6 levels, 17 NFE, "continue" almost surely
 * above σ = 1 and 70% of the time below.
 */
export const INTERVENTION_DEFAULTS: Record<Intervention, Partial<LearnerConfig>> = {
  cfg: {},
  // EDM's window [S_tmin, S_tmax] = [0.05, 50] (ImageNet-64): γ = √2 − 1 inside, 0 outside.
  gamma: { actions: ACTION_PRESETS.gamma, initAction: 9, sampler: 'edm', initSigmaLo: 0.05, initSigmaHi: 50 },
  // The paper's heuristic: continue at high noise (σ > 1, ~σ_data·2), allow jumps later.
  renoise: {
    actions: ACTION_PRESETS.renoise,
    initAction: 0,
    steps: 6,
    nfeBudget: 17,
    initSigmaHi: 1,
    initMass: 0.7,
    initMassOutside: 0.98,
  },
};

/** What a model samples: points (a flat vector, the 2-D benchmarks) or images ([C, H, W]). */
export type DataKind = 'points' | 'images';

/** A model's data kind from its sample shape (the manifest's "shape"): rank 1 points, else images. */
export function dataKindOf(shape: readonly unknown[]): DataKind {
  return shape.length >= 2 ? 'images' : 'points';
}

// [Note: image defaults]
// The defaults above are scaled to train the 2-D benchmarks in minutes (1,024 trajectories, 150
// iterations). On an image model each trajectory costs a U-Net pass per NFE, so images get their own,
// chosen on fashion-mnist with training seed 0 and evaluation seed 8 (2,000 samples; README): 256
// trajectories an iteration (20.2 s on a 2-core CPU, `npm run bench -- iteration`), about 100 iterations, and for CFG
// nine guidance scales packed where image models want them (1 … 1.75 in steps of 0.125, then 2 and
// 2.5), starting at w = 1.5 with probability 0.8. With lr 3e-4 that run learned in 90 iterations to
// switch guidance off above σ ≈ 2 and keep w = 1.5 below: FID 0.306 against 0.353 for constant
// w = 1.25 and 0.514 for w = 1.5 (the same seed and n). lr 1e-3 with probability 0.6 at the start: 0.430,
// its profile jumping between levels; lr 1e-4 changed the policy by an approximate KL of ~1e-4 an
// iteration (stopped after 8).
// That setting did not hold on other seeds: on training seeds 1 and 2 it collapsed onto w = 1.5
// (0.69–1.00 of the probability at every level; [Note: entropy bonus]). With the entropy bonus
// c = 0.01 neither selection seed (0, 4) collapsed and both learned the interval shape: FID 0.2745
// and 0.3227 on the same samples, below every constant (0.353) on both, below the best interval
// (0.278) on seed 0 only. So CFG on images trains with c = 0.01; γ and renoise, which did not
// collapse, keep the paper's 0.
// Renoise on images: 9 levels, an NFE budget of 21 and "continue" with probability 0.9 below σ = 1
// (0.98 above) at the start — the paper's CIFAR-10 setting of 9 levels. Same seeds, n = 2,000, against
// EDM at the policy's own mean NFE (its two step counts mixed per sample): with these the policy
// reached FID 1.071 at 17.87 NFE against 1.162 for EDM mixed, 1.280 for EDM 9 steps (17 NFE) and
// 1.039 for 10 steps (19 NFE). The 2-D defaults (6 levels, budget 17, continue 0.7 below σ = 1) lost
// on images by far: 4.068 at 15.54 NFE against 1.593 for EDM mixed and 1.730 for 8 steps — at 11
// NFE a 6-level Heun is so coarse that steps, not renoising, are what help. (Restart over Heun 18,
// a fixed renoise rule, scored 0.739 at 41 NFE and 0.556 at 51 against 0.662 and 0.658 for Heun 21
// and 26: renoising pays only at budgets this machine cannot train in an evening.)
export const IMAGE_DEFAULTS: Record<Intervention, Partial<LearnerConfig>> = {
  cfg: { actions: [1, 1.125, 1.25, 1.375, 1.5, 1.625, 1.75, 2, 2.5], initAction: 4, entropyCoef: 0.01 },
  gamma: {},
  renoise: { steps: 9, nfeBudget: 21, initMass: 0.9 },
};
export const IMAGE_BUDGET: Partial<LearnerConfig> = { trajectories: 256, rolloutBatch: 256, iterations: 100 };

/** Every learner setting at its default for `intervention` on a model of data kind `kind`. */
export function defaultConfig(intervention: Intervention = 'cfg', kind: DataKind = 'points'): LearnerConfig {
  return {
    ...defaultsOf(LEARNER_FIELDS),
    ...structuredClone(INTERVENTION_DEFAULTS[intervention]),
    ...(kind === 'images' ? { ...IMAGE_BUDGET, ...structuredClone(IMAGE_DEFAULTS[intervention]) } : {}),
    intervention,
  };
}

/** The fields whose default depends on the intervention or the data kind (a form resets them when those change). */
export const CONTEXT_DEPENDENT_FIELDS: ReadonlySet<string> = new Set([
  ...Object.keys(IMAGE_BUDGET),
  ...INTERVENTIONS.flatMap((i) => [...Object.keys(INTERVENTION_DEFAULTS[i]), ...Object.keys(IMAGE_DEFAULTS[i])]),
]);

/** A config failed its checks; the message names each field and what it must be. */
export class ConfigError extends RangeError {
  override name = 'ConfigError';
}

/**
 * A whole config from a partial one: the intervention's defaults for the model's data kind (images:
 * [Note: image defaults]), then `partial`'s fields, checked.
 * Where `partial` sets the actions but not the initial action, the initial policy favours the
 * first (the defaults' index may not fit the new list); where it sets the trajectories below the
 * rollout batch, the batch follows. `name` says how a field is shown in errors (a key, a --flag).
 */
export function learnerConfigFrom(
  partial: Record<string, unknown>,
  name: (key: string) => string = (k) => k,
  kind: DataKind = 'points',
): LearnerConfig {
  const intervention = partial['intervention'] ?? 'cfg';
  if (!(INTERVENTIONS as readonly unknown[]).includes(intervention)) {
    throw new ConfigError(
      `${name('intervention')} must be one of ${INTERVENTIONS.join(', ')}, got ${JSON.stringify(intervention)}`,
    );
  }
  const merged: Record<string, unknown> = { ...defaultConfig(intervention as Intervention, kind), ...partial };
  if (partial['actions'] !== undefined && partial['initAction'] === undefined) merged['initAction'] = 0;
  if (partial['rolloutBatch'] === undefined && typeof merged['trajectories'] === 'number')
    merged['rolloutBatch'] = Math.min(merged['rolloutBatch'] as number, merged['trajectories']);
  return parseLearnerConfig(merged, name);
}

/**
 * What is wrong with a list of action values for its intervention, or null: guidance scales within
 * the sampler's guidance bounds, churn γ within EDM's [0, √2−1], renoise jumps whole numbers of
 * levels within the schedule and including 0 (continue). Exported policy files are checked the same way.
 */
export function actionsProblem(c: Pick<LearnerConfig, 'intervention' | 'actions' | 'steps'>): string | null {
  const a = c.actions;
  const bad = (ok: (v: number) => boolean): number | undefined => a.find((v) => !ok(v));
  if (a.some((v) => !Number.isFinite(v))) return 'values must be finite numbers';
  switch (c.intervention) {
    case 'cfg': {
      const v = bad((x) => Math.abs(x) <= MAX_GUIDANCE);
      return v === undefined ? null : `guidance scales must be in [-${MAX_GUIDANCE}, ${MAX_GUIDANCE}], got ${v}`;
    }
    case 'gamma': {
      const v = bad((x) => x >= 0 && x <= GAMMA_MAX);
      return v === undefined ? null : `churn γ values must be in [0, √2−1 ≈ 0.4142] (EDM's range: t̂ ≤ √2·t), got ${v}`;
    }
    case 'renoise': {
      const v = bad((x) => Number.isInteger(x) && x >= 0 && x <= c.steps);
      if (v !== undefined)
        return `renoise actions are whole numbers of levels to jump back, from 0 (continue) to at most the ${c.steps} steps, got ${v}`;
      return a.includes(0) ? null : 'renoise needs the action 0 (continue)';
    }
  }
}

/** The action value that leaves the sampler as it is: no guidance, no churn, continue. */
export const NEUTRAL_VALUE: Record<Intervention, number> = { cfg: 1, gamma: 0, renoise: 0 };

/** Index of the neutral action in the config's actions, or −1. */
export function neutralAction(c: Pick<LearnerConfig, 'intervention' | 'actions'>): number {
  return c.actions.indexOf(NEUTRAL_VALUE[c.intervention]);
}

/** Checks a whole config (a saved one, a request's); errors name the fields. */
export function parseLearnerConfig(v: unknown, name: (key: string) => string = (k) => k): LearnerConfig {
  const r = LearnerConfigSchema.safeParse(v);
  if (!r.success)
    throw new ConfigError(
      issueMessages(
        LEARNER_FIELDS,
        r.error,
        (p) =>
          name(String(p[0])) +
          p
            .slice(1)
            .map((i) => `[${String(i)}]`)
            .join(''),
        v,
      ).join('; '),
    );
  const c = r.data;
  const fail = (field: LearnerField, msg: string): never => {
    throw new ConfigError(`${name(field)}: ${msg}`);
  };
  // Checks across fields (each field's own bounds are in the table).
  const actions = actionsProblem(c);
  if (actions) fail('actions', actions);
  if (c.initAction >= c.actions.length)
    fail('initAction', `must index the actions (0..${c.actions.length - 1}), got ${c.initAction}`);
  if (!(c.initSigmaLo < c.initSigmaHi))
    fail(
      'initSigmaLo',
      `must be below initSigmaHi, got ${c.initSigmaLo} ≥ ${c.initSigmaHi} (the window where the initial policy favours initAction)`,
    );
  if (c.initProfile === 'window' && (c.initSigmaLo > 0 || c.initSigmaHi < Infinity) && neutralAction(c) < 0)
    fail(
      'actions',
      `a window initial profile (initSigmaLo ${c.initSigmaLo}, initSigmaHi ${c.initSigmaHi}) needs the neutral action ${NEUTRAL_VALUE[c.intervention]} outside it; add it to the actions or widen the window to [0, inf]`,
    );
  if (c.objective === 'reward' && c.rewards.length === 0)
    fail('rewards', 'objective reward needs at least one reward (--reward -jpeg-size, say)');
  if (c.objective === 'occupancy' && c.rewards.length > 0)
    fail('rewards', `are for objective reward; add --objective reward, or drop them (${c.rewards.join(', ')})`);
  if (c.intervention === 'renoise' && !Number.isFinite(c.nfeBudget))
    fail('nfeBudget', 'renoise needs a finite NFE budget (it bounds the trajectory length)');
  return c;
}
