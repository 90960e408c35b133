// The one metric catalogue: every number the engine reports, with how to show and rank it. Train's
// charts, the Runs table and its comparison, Compare's table, the CLI tables and grid ranking all
// read it; a new metric is one entry here.
//
// Two namespaces share the entries:
//   - an evaluation's summary keys (`fid`, `precision`, …), as `eval`, `grid` and Compare report them;
//   - a run's metrics lines (`eval/fid`, `charts/entropy`, `losses/policy`, `time/iteration_s`, …),
//     CleanRL-style names; an evaluation summary key k appears in a run as `eval/k` (the final
//     evaluation, evalSamples samples) and `periodic/k` (every evalEvery iterations, on
//     evalSamplesPeriodic samples): different sample counts, so never one series (apps/train.ts).

export type MetricChart = 'train' | 'none';

export interface MetricInfo {
  /** The key in a metrics line or an evaluation summary. */
  key: string;
  /** A short human label, e.g. "FID". */
  label: string;
  /** Which way is better: 'lower' (distances, losses), 'higher' (scores), or null (neither: diagnostics). */
  better: 'lower' | 'higher' | null;
  /** Decimal places when shown in a table (significant digits after the point in exponent form). */
  digits: number;
  /** Shown in exponent form (values of very different magnitudes, e.g. KID). */
  exp?: boolean;
  /** A Train chart of its own ('train'), or not charted ('none'). */
  chart: MetricChart;
  /** Values span decades: chart it on a log axis. */
  log?: boolean;
  /** Another metric drawn as a ± band around this one (its standard deviation); that metric is then
   * shown only as this band (a chart's shading, "± x" in a table), not as a column of its own. */
  band?: string;
  /** How often a run writes it: every iteration (the default: a line without it is a gap in its
   * chart), or only at evaluations (its points are joined across the iterations between). */
  cadence?: 'iteration' | 'evaluation';
  /** What it measures, for hover help. */
  help: string;
}

/** An evaluation summary's metrics (`eval` tables, grid ranking, Compare), in table order. */
export const EVAL_METRICS = [
  {
    key: 'fid',
    label: 'FID',
    better: 'lower',
    digits: 4,
    chart: 'none',
    log: true,
    help: 'Fréchet distance of feature Gaussians (data vs samples)',
  },
  {
    key: 'kid',
    label: 'KID',
    better: 'lower',
    digits: 3,
    exp: true,
    chart: 'none',
    band: 'kid_std',
    help: 'kernel inception distance (unbiased MMD², polynomial kernel)',
  },
  {
    key: 'kid_std',
    label: 'KID std',
    better: null,
    digits: 1,
    exp: true,
    chart: 'none',
    help: 'standard deviation of KID over its subsets',
  },
  {
    key: 'precision',
    label: 'Precision',
    better: 'higher',
    digits: 4,
    chart: 'none',
    help: 'share of samples inside the data manifold (fidelity)',
  },
  {
    key: 'recall',
    label: 'Recall',
    better: 'higher',
    digits: 4,
    chart: 'none',
    help: 'share of data inside the samples manifold (diversity)',
  },
  {
    key: 'density',
    label: 'Density',
    better: 'higher',
    digits: 4,
    chart: 'none',
    help: 'how many data neighbourhoods contain each sample (PRDC)',
  },
  {
    key: 'coverage',
    label: 'Coverage',
    better: 'higher',
    digits: 4,
    chart: 'none',
    help: 'share of data points with a sample in their neighbourhood (PRDC)',
  },
  {
    key: 'class_tv',
    label: 'Class TV',
    better: 'lower',
    digits: 4,
    chart: 'none',
    help: 'total variation between the class histograms of data and samples',
  },
  {
    key: 'class_accuracy',
    label: 'Class accuracy',
    better: 'higher',
    digits: 4,
    chart: 'none',
    help: 'share of samples the classifier puts in their conditioning class',
  },
] as const satisfies readonly MetricInfo[];

export type EvalMetricKey = (typeof EVAL_METRICS)[number]['key'];

/** The metrics a training run writes each iteration (metrics.jsonl), Train's charts in order. */
export const RUN_METRICS: readonly MetricInfo[] = [
  {
    key: 'charts/learning_signal_mean',
    label: 'Learning signal (mean ± std)',
    better: null,
    digits: 4,
    chart: 'train',
    band: 'charts/learning_signal_std',
    help: 'mean per-state reward −ψ(r) of the batch',
  },
  {
    key: 'charts/learning_signal_std',
    label: 'Learning signal std',
    better: null,
    digits: 4,
    chart: 'none',
    help: 'standard deviation of the per-state reward',
  },
  {
    key: 'charts/ratio_mean',
    label: 'Occupancy ratio (mean)',
    better: null,
    digits: 4,
    chart: 'none',
    help: 'mean of r(s) = ρ_E/ρ_π over visited states',
  },
  {
    key: 'losses/discriminator',
    label: 'Discriminator loss',
    better: null,
    digits: 4,
    chart: 'train',
    help: 'binary cross-entropy of expert vs policy states',
  },
  {
    key: 'charts/discriminator_accuracy',
    label: 'Discriminator accuracy',
    better: null,
    digits: 4,
    chart: 'train',
    help: '0.5 = cannot tell the policy from the data',
  },
  {
    key: 'losses/policy',
    label: 'Policy loss',
    better: null,
    digits: 4,
    chart: 'none',
    help: 'PPO clipped surrogate loss',
  },
  {
    key: 'charts/entropy',
    label: 'Policy entropy',
    better: null,
    digits: 4,
    chart: 'train',
    help: 'mean entropy of the action distribution (nats)',
  },
  {
    key: 'charts/approx_kl',
    label: 'Approx. KL',
    better: null,
    digits: 5,
    chart: 'train',
    log: true,
    help: 'KL between the policy before and after the PPO update',
  },
  {
    key: 'charts/clipfrac',
    label: 'Clip fraction',
    better: null,
    digits: 4,
    chart: 'train',
    help: 'share of transitions whose ratio was clipped',
  },
  // Objective reward (issue 17): not yet charted on Train (its reward view comes with the app's part).
  {
    key: 'charts/reward_mean',
    label: 'Reward (mean ± std)',
    better: 'higher',
    digits: 4,
    chart: 'none',
    band: 'charts/reward_std',
    help: "mean terminal reward of the iteration's trajectories: the weighted sum of the rewards (objective reward); the scheduler's: its terminal reward",
  },
  {
    key: 'charts/reward_std',
    label: 'Reward std',
    better: null,
    digits: 4,
    chart: 'none',
    help: "standard deviation of the trajectories' terminal rewards",
  },
  {
    key: 'periodic/reward',
    label: 'Reward (periodic)',
    better: 'higher',
    digits: 4,
    chart: 'none',
    cadence: 'evaluation',
    help: "objective reward: the EMA policy's mean weighted reward on the periodic evaluation's samples",
  },
  {
    key: 'periodic/reward_base',
    label: 'Reward of the base sampler (periodic)',
    better: 'higher',
    digits: 4,
    chart: 'none',
    cadence: 'evaluation',
    help: 'objective reward: the same rewards of the base sampler (no intervention) on the same seed and sample count',
  },
  {
    key: 'eval/reward',
    label: 'Reward (final)',
    better: 'higher',
    digits: 4,
    chart: 'none',
    cadence: 'evaluation',
    help: "objective reward: the EMA policy's mean weighted reward on the final evaluation's samples",
  },
  {
    key: 'eval/reward_base',
    label: 'Reward of the base sampler (final)',
    better: 'higher',
    digits: 4,
    chart: 'none',
    cadence: 'evaluation',
    help: 'objective reward: the same rewards of the base sampler (no intervention) on the same seed and sample count',
  },
  {
    key: 'charts/kl_init',
    label: 'KL to the initial policy',
    better: null,
    digits: 5,
    chart: 'none',
    log: true,
    help: 'objective reward: KL(π_θ ‖ π_init) over the visited states, averaged over the PPO minibatches (penalised by klCoef)',
  },
  {
    key: 'charts/nfe',
    label: 'NFE per sample',
    better: 'lower',
    digits: 2,
    chart: 'train',
    help: 'guided denoiser evaluations per trajectory',
  },
  {
    key: 'periodic/fid',
    label: 'FID (periodic evaluations)',
    better: 'lower',
    digits: 4,
    chart: 'train',
    log: true,
    cadence: 'evaluation',
    help: 'FID of the EMA policy every evalEvery iterations, on evalSamplesPeriodic samples (biased upwards on few samples: compare with other periodic values only)',
  },
  {
    key: 'periodic/precision',
    label: 'Precision (periodic)',
    better: 'higher',
    digits: 4,
    chart: 'train',
    cadence: 'evaluation',
    help: 'precision of the EMA policy every evalEvery iterations, on evalSamplesPeriodic samples',
  },
  {
    key: 'periodic/recall',
    label: 'Recall (periodic)',
    better: 'higher',
    digits: 4,
    chart: 'train',
    cadence: 'evaluation',
    help: 'recall of the EMA policy every evalEvery iterations, on evalSamplesPeriodic samples',
  },
  {
    key: 'periodic/nfe',
    label: 'NFE (periodic evaluation)',
    better: 'lower',
    digits: 2,
    chart: 'none',
    cadence: 'evaluation',
    help: 'guided denoiser evaluations per sample at the periodic evaluations',
  },
  {
    key: 'eval/fid',
    label: 'FID (final evaluation)',
    better: 'lower',
    digits: 4,
    chart: 'none',
    log: true,
    cadence: 'evaluation',
    help: 'FID of the EMA policy after the last iteration, on evalSamples samples',
  },
  {
    key: 'eval/kid',
    label: 'KID (final evaluation)',
    better: 'lower',
    digits: 3,
    exp: true,
    chart: 'none',
    cadence: 'evaluation',
    help: 'KID of the EMA policy after the last iteration, on evalSamples samples',
  },
  {
    key: 'eval/precision',
    label: 'Precision (final)',
    better: 'higher',
    digits: 4,
    chart: 'none',
    cadence: 'evaluation',
    help: 'precision of the EMA policy after the last iteration, on evalSamples samples',
  },
  {
    key: 'eval/recall',
    label: 'Recall (final)',
    better: 'higher',
    digits: 4,
    chart: 'none',
    cadence: 'evaluation',
    help: 'recall of the EMA policy after the last iteration, on evalSamples samples',
  },
  {
    key: 'eval/nfe',
    label: 'NFE (final evaluation)',
    better: 'lower',
    digits: 2,
    chart: 'none',
    cadence: 'evaluation',
    help: 'guided denoiser evaluations per sample at the final evaluation',
  },
  {
    key: 'time/iteration_s',
    label: 'Iteration time (s)',
    better: 'lower',
    digits: 2,
    chart: 'none',
    help: 'wall-clock seconds of the iteration',
  },
  {
    key: 'time/rollout_s',
    label: 'Rollout time (s)',
    better: 'lower',
    digits: 2,
    chart: 'none',
    help: 'seconds spent rolling out the policy, encoding the visited states included',
  },
  {
    key: 'time/denoiser_s',
    label: 'Denoiser time (s)',
    better: 'lower',
    digits: 2,
    chart: 'none',
    help: 'seconds inside the denoiser (in the rollout)',
  },
  {
    key: 'time/encoder_s',
    label: 'Encoder time (s)',
    better: 'lower',
    digits: 2,
    chart: 'none',
    help: 'seconds inside the state encoder φ (in the rollout and the discriminator phase)',
  },
  {
    key: 'time/discriminator_s',
    label: 'Discriminator time (s)',
    better: 'lower',
    digits: 2,
    chart: 'none',
    help: 'seconds training the discriminator, its expert pool encoded included',
  },
  {
    key: 'time/ppo_s',
    label: 'PPO time (s)',
    better: 'lower',
    digits: 2,
    chart: 'none',
    help: 'seconds in the PPO epochs',
  },
  {
    key: 'time/evaluation_s',
    label: 'Evaluation time (s)',
    better: 'lower',
    digits: 2,
    chart: 'none',
    cadence: 'evaluation',
    help: 'seconds evaluating after the iteration (periodic and final evaluations; not in time/iteration_s)',
  },
  // Rollouts on workers (train --redis; absent otherwise): where the rollout's time went.
  {
    key: 'time/queue_publish_s',
    label: 'Queue publish (s)',
    better: 'lower',
    digits: 3,
    chart: 'none',
    help: 'seconds publishing the policy weights and the shard jobs of the iteration (train --redis)',
  },
  {
    key: 'time/queue_wait_s',
    label: 'Queue wait (s)',
    better: 'lower',
    digits: 2,
    chart: 'none',
    help: 'seconds from publishing until every shard was done on the workers: queueing and the rollout itself (train --redis)',
  },
  {
    key: 'time/queue_gather_s',
    label: 'Queue gather (s)',
    better: 'lower',
    digits: 3,
    chart: 'none',
    help: "seconds reading and merging the shards' results (train --redis)",
  },
  {
    key: 'queue/result_mb',
    label: 'Shard results (MB)',
    better: 'lower',
    digits: 2,
    chart: 'none',
    help: 'megabytes of shard results read back from Redis in the iteration (train --redis)',
  },
];

/**
 * What an RL step scheduler run writes (engine/scheduler/train.ts), Train's charts for it in order.
 * Its evaluations are eval/… at every evalEvery iterations and the last, all on evalSamples samples
 * with one seed: one curve, where a learner run has periodic and final ones.
 */
const runMetric = (key: string): MetricInfo => RUN_METRICS.find((m) => m.key === key)!;
export const SCHEDULER_METRICS: readonly MetricInfo[] = [
  {
    key: 'charts/reward_mean',
    label: 'Terminal reward (mean ± std)',
    better: 'higher',
    digits: 4,
    chart: 'train',
    band: 'charts/reward_std',
    help: "mean terminal reward of the iteration's episodes (Pearson: the largest correlation with a fresh batch of real samples' features; occupancy: −ψ(r))",
  },
  {
    key: 'charts/reward_std',
    label: 'Terminal reward std',
    better: null,
    digits: 4,
    chart: 'none',
    help: "standard deviation of the episodes' terminal rewards",
  },
  {
    key: 'eval/fid',
    label: 'FID (evaluations)',
    better: 'lower',
    digits: 4,
    chart: 'train',
    log: true,
    cadence: 'evaluation',
    help: 'FID of the deterministic policy every evalEvery iterations and at the end, on evalSamples samples (one seed)',
  },
  {
    key: 'eval/nfe',
    label: 'NFE (evaluations)',
    better: 'lower',
    digits: 2,
    chart: 'train',
    cadence: 'evaluation',
    help: 'denoiser evaluations per sample of the deterministic policy (at most the NFE budget)',
  },
  {
    key: 'charts/nfe',
    label: 'NFE per episode',
    better: 'lower',
    digits: 2,
    chart: 'train',
    help: "denoiser evaluations per episode of the stochastic policy (its budget's last step to σ = 0 included)",
  },
  {
    key: 'charts/decisions',
    label: 'Steps decided',
    better: null,
    digits: 2,
    chart: 'train',
    help: 'decisions (steps before the last one to σ = 0) per episode',
  },
  {
    key: 'charts/std',
    label: 'Policy std',
    better: null,
    digits: 4,
    chart: 'train',
    log: true,
    help: "the Gaussian's fixed std in the pre-squash logit of Δ, decaying exponentially over training",
  },
  runMetric('charts/approx_kl'),
  runMetric('charts/clipfrac'),
  {
    key: 'time/reward_s',
    label: 'Reward time (s)',
    better: 'lower',
    digits: 2,
    chart: 'none',
    help: 'seconds computing the terminal rewards (features, and the discriminator for occupancy)',
  },
];

/**
 * The Train screen's charts of an objective-reward run (a run whose lines carry charts/reward_mean):
 * the reward with its spread, the policy's and the base sampler's reward at evaluations, the KL to
 * the initial policy, then PPO's diagnostics, NFE and the data metrics (reward hacking shows there).
 */
export const REWARD_CHARTS: readonly MetricInfo[] = [
  'charts/reward_mean',
  'periodic/reward',
  'periodic/reward_base',
  'charts/kl_init',
  'charts/entropy',
  'charts/approx_kl',
  'charts/clipfrac',
  'charts/nfe',
  'periodic/fid',
  'periodic/precision',
  'periodic/recall',
].map((k) => ({ ...RUN_METRICS.find((m) => m.key === k)!, chart: 'train' as const }));

/** The Train screen's charts of a step scheduler run, in order. */
export const SCHEDULER_CHARTS: readonly MetricInfo[] = SCHEDULER_METRICS.filter((m) => m.chart === 'train');

/**
 * What a drift policy run writes (engine/drift/train.ts), Train's charts for it in order; a run
 * charts those its lines carry (ddpo and dpok: the path KL and PPO's diagnostics; q-learning: its TD
 * loss; a deterministic base sampler: the action's cost where a stochastic one has its path KL).
 * Its evaluations are eval/… every evalEvery iterations and at the end, on evalSamples samples of
 * one seed, with the base sampler's reward on the same seed as the reference.
 */
export const DRIFT_METRICS: readonly MetricInfo[] = [
  {
    key: 'charts/reward_mean',
    label: 'Reward of the trajectories (mean ± std)',
    better: 'higher',
    digits: 4,
    chart: 'train',
    band: 'charts/reward_std',
    help: "mean weighted reward of the iteration's training trajectories (their final samples), ± its standard deviation",
  },
  {
    key: 'eval/reward_mean',
    label: 'Reward at evaluations (policy, base sampler)',
    better: 'higher',
    digits: 4,
    chart: 'train',
    band: 'eval/reward_std',
    cadence: 'evaluation',
    help: "the policy's mean reward on the evaluation seed (± std), and the base sampler's from the same noise (the reference: what the policy adds is the gap)",
  },
  {
    key: 'eval/reward_std',
    label: 'Reward std (evaluations)',
    better: null,
    digits: 4,
    chart: 'none',
    cadence: 'evaluation',
    help: "standard deviation of the evaluation samples' rewards",
  },
  {
    key: 'charts/kl_path',
    label: 'KL to the base sampler (path, training)',
    better: 'lower',
    digits: 4,
    chart: 'train',
    help: 'mean over the training trajectories of Σ over the steps of ½|v|²: the KL of the policy’s path to the base sampler’s (nats)',
  },
  {
    key: 'eval/kl_path',
    label: 'KL to the base sampler (path, evaluations)',
    better: 'lower',
    digits: 4,
    chart: 'train',
    cadence: 'evaluation',
    help: 'the same path KL on the evaluation samples (nats)',
  },
  {
    key: 'eval/action_cost',
    label: 'Action cost (evaluations)',
    better: 'lower',
    digits: 4,
    chart: 'train',
    cadence: 'evaluation',
    help: 'a deterministic base sampler has no path KL: Σ over the steps of ½|v|², the action’s cost, on the evaluation samples',
  },
  {
    key: 'eval/knn_kl',
    label: 'k-NN KL to the data (evaluations)',
    better: 'lower',
    digits: 4,
    chart: 'train',
    cadence: 'evaluation',
    help: 'the k-NN estimate of KL(samples ‖ data) (models of ≤ 8 values a sample; the q-learning paper’s measure)',
  },
  {
    key: 'losses/td',
    label: 'TD loss (q-learning)',
    better: 'lower',
    digits: 5,
    chart: 'train',
    help: 'q-learning: the critic’s mean squared temporal-difference error over the iteration’s transitions',
  },
  {
    key: 'charts/r_minus_q',
    label: 'Running reward − q (q-learning)',
    better: null,
    digits: 4,
    chart: 'train',
    help: 'q-learning: the mean TD term that drives the actor',
  },
  runMetric('charts/approx_kl'),
  runMetric('charts/clipfrac'),
];

/** The Train screen's charts of a drift run, in order (those its lines carry are drawn). */
export const DRIFT_CHARTS: readonly MetricInfo[] = DRIFT_METRICS.filter((m) => m.chart === 'train');

/** A drift comparison's summary keys (Compare: the policy and its base sampler; apps/compare-drift.ts). */
export const DRIFT_EVAL_METRICS: readonly MetricInfo[] = [
  {
    key: 'kl_path',
    label: 'KL to the base sampler (path)',
    better: null,
    digits: 4,
    chart: 'none',
    help: 'mean over the samples of Σ over the steps of ½|v|²: the KL of the row’s path to the base sampler’s (nats; the base sampler’s own is 0)',
  },
  {
    key: 'action_cost',
    label: 'Action cost',
    better: null,
    digits: 4,
    chart: 'none',
    help: 'a deterministic base sampler has no path KL: Σ over the steps of ½|v|², the action’s cost (0 for the base sampler)',
  },
  {
    key: 'knn_kl',
    label: 'k-NN KL to the data',
    better: 'lower',
    digits: 4,
    chart: 'none',
    help: 'the k-NN estimate of KL(samples ‖ data) (models of ≤ 8 values a sample)',
  },
];

/** The metric a run or a table row is summed up by (Runs' last-evaluation column, the default comparison). */
export const HEADLINE_METRIC: EvalMetricKey = 'fid';

/** An evaluation summary key as a run's metrics lines name it (`fid` → `eval/fid`). */
export function evalRunKey(key: string): string {
  return `eval/${key}`;
}

// A scheduler metric with a learner one's key (eval/fid, charts/nfe) is that one in tables; its own entry labels its chart.
const BY_KEY = new Map<string, MetricInfo>(
  [...DRIFT_METRICS, ...DRIFT_EVAL_METRICS, ...SCHEDULER_METRICS, ...EVAL_METRICS, ...RUN_METRICS].map((m) => [
    m.key,
    m,
  ]),
);

/** The catalogue entry of a metric key (summary or run namespace); unknown keys get a neutral entry. */
export function metricInfo(key: string): MetricInfo {
  return BY_KEY.get(key) ?? { key, label: key, better: null, digits: 4, chart: 'none', help: '' };
}

/** Whether `a` is better than `b` under the metric (NaN and undefined are never better). */
export function isBetter(key: string, a: number | undefined, b: number | undefined): boolean {
  if (a === undefined || Number.isNaN(a)) return false;
  if (b === undefined || Number.isNaN(b)) return true;
  return metricInfo(key).better === 'higher' ? a > b : a < b;
}

/** The value as a table shows it ("—" when missing, "nan" when not a number). */
export function formatMetric(key: string, v: number | undefined): string {
  if (v === undefined) return '—';
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  const m = metricInfo(key);
  return m.exp ? v.toExponential(m.digits) : v.toFixed(m.digits);
}

/**
 * A reward as the app shows it (a reward's scale is the user's: kB, logits, their model's units):
 * `digits` significant digits, a sign on a difference, "—" for none or NaN.
 */
export function formatReward(v: number | null | undefined, o: { signed?: boolean; digits?: number } = {}): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  const t = Math.abs(v) >= 10 ** (o.digits ?? 4) ? v.toFixed(0) : v.toPrecision(o.digits ?? 4);
  return o.signed && v > 0 ? `+${t}` : t;
}

/** Metrics shown only as another's ± band (e.g. `kid_std` beside `kid`), never on their own. */
export const BAND_METRICS: ReadonlySet<string> = new Set(
  [...EVAL_METRICS, ...RUN_METRICS, ...SCHEDULER_METRICS, ...DRIFT_METRICS].flatMap((m: MetricInfo) =>
    m.band ? [m.band] : [],
  ),
);

/** The Train screen's charts, in order. */
export const TRAIN_CHARTS: readonly MetricInfo[] = RUN_METRICS.filter((m) => m.chart === 'train');

/** Metrics a user can compare across runs: every charted run metric and every evaluation one. */
export const COMPARABLE_RUN_METRICS: readonly MetricInfo[] = RUN_METRICS.filter(
  (m) => m.chart === 'train' || m.key.startsWith('eval/'),
);
