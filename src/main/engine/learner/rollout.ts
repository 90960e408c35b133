// Sampling with a policy (Algorithm 1, step 1): every sample of a batch is an agent; at each loop
// iteration the policy sees each row's state (x_t, σ_t, class, step) and picks an action from
// Categorical(softmax(logits/τ)) over the actions the intervention allows there; the sampler
// applies it. The learner's heads and an exported ONNX policy both go through here, so a file
// samples exactly as the run that made it.
//
// [Note: action draws per row]
// The uniform behind each row's action comes from that row's own stream (StackedRandom), so the
// samples depend on the seed and the logits, not on the batch size or on which policy
// implementation computed the logits.

import type { Model } from '../models/model';
import { generate, type ClassChoice, type GenerateOptions, type ResolvedSettings } from '../samplers/generate';
import { deriveSeed, StackedRandom } from '../samplers/random';
import type { StepHook } from '../samplers/types';
import type { TrajectoryStep } from '../samplers/loop';
import type { LearnerConfig } from './config';
import { actionMask, applyActions } from './interventions';

/** What sampling with a policy needs to know beyond its logits (a LearnerConfig, or an export's metadata). */
export type PolicySpec = Pick<
  LearnerConfig,
  | 'intervention'
  | 'divergence'
  | 'conditioning'
  | 'stepInput'
  | 'actions'
  | 'sampler'
  | 'steps'
  | 'nfeBudget'
  | 'temperature'
>;

/** The states a policy is asked about. */
export interface PolicyStates {
  n: number;
  /** [n, dim] */
  x: Float32Array;
  /** [n] σ; 0 marks the terminal state. */
  sigma: Float32Array;
  /** [n] conditioning class (the null class for unconditional rows), or null for unconditional models. */
  labels: Int32Array | null;
  /** [n] loop iteration t. */
  step: Int32Array;
  /** [n] each state's trajectory in the rollout (it records s_t at row·(H+1) + t), when asked during one. */
  rows?: Int32Array;
}

/** [n, K] logits of the policy for n states. */
export type LogitsFn = (s: PolicyStates) => Promise<Float32Array>;

/** Everything a rollout records. */
export interface Rollout {
  n: number;
  H: number;
  /** Visited states s_t (row-major by row, then t = 0..H): x, σ, level, label; empty unless recorded. */
  x: Float32Array; // [n*(H+1), dim]
  sigma: Float32Array;
  level: Int32Array;
  labels: Int32Array | null;
  /** Transitions (row, t) with an action (recorded rollouts only). */
  tRow: Int32Array;
  tStep: Int32Array;
  tAction: Int32Array;
  tLogp: Float32Array;
  tMask: Uint8Array; // [T, K]
  count: number;
  /** [n] guided denoiser evaluations and network passes per trajectory. */
  nfe: Int32Array;
  networkEvals: Int32Array;
  /** For the profile: chosen action counts per level [N, K]. */
  profile: Float64Array;
  /** The same per conditioning class [C, N, K] (C = classes + null), or null for unconditional models. */
  profileByClass: Float64Array | null;
  /**
   * [N] Σ over the states visited at each level of the expected action value E_π[v_a | s] =
   * Σ_a π(a|s)·actions[a] under Categorical(softmax(logits/τ)) over the allowed actions: divided by
   * the level's visits (the row sums of `profile`), the mean expected action per level that
   * learner/recipe.ts turns into a static curve.
   */
  expectedAction: Float64Array;
  /** [n, dim] final samples and [n] their classes. */
  samples: Float32Array;
  sampleLabels: Int32Array | null;
  /** Per sampler batch, the state and denoised estimate before every step (only when asked: `trajectory`). */
  trajectories: TrajectoryStep[][] | null;
}

export interface RolloutOptions {
  temperature: number;
  /** Samples per sampler batch. */
  batch: number;
  signal?: AbortSignal;
  /** Record every visited state and transition (training); false keeps only samples, NFE and profile. */
  record?: boolean;
  /** Conditioning classes (default: uniform over the classes). */
  classes?: ClassChoice;
  onProgress?: GenerateOptions['onProgress'];
  /** Keep every step's state and denoised estimate (apps/analyze-reward.ts). */
  trajectory?: boolean;
}

/** Options of sampling with a finished policy. */
export type SampleOptions = Omit<RolloutOptions, 'record' | 'batch'> & { batch?: number };

/** Rolls out `n` trajectories of the policy `logitsOf` on `model` with the base sampler `settings`. */
export async function rolloutPolicy(
  model: Model,
  settings: ResolvedSettings,
  c: PolicySpec,
  H: number,
  logitsOf: LogitsFn,
  n: number,
  seed: number,
  o: RolloutOptions,
): Promise<Rollout> {
  const K = c.actions.length;
  const dim = model.dim;
  const N = c.steps;
  const S = H + 1;
  const record = o.record ?? true;
  const nS = record ? n * S : 0;
  const x = new Float32Array(nS * dim);
  const sigma = new Float32Array(nS);
  const level = new Int32Array(nS).fill(-1);
  const labels = model.numClasses > 0 ? new Int32Array(nS) : null;
  const cap = record ? n * H : 0;
  const tRow = new Int32Array(cap);
  const tStep = new Int32Array(cap);
  const tAction = new Int32Array(cap);
  const tLogp = new Float32Array(cap);
  const tMask = new Uint8Array(cap * K);
  const profile = new Float64Array(N * K);
  const C = model.numClasses > 0 ? model.numClasses + 1 : 0;
  const profileByClass = C > 0 ? new Float64Array(C * N * K) : null;
  const expectedAction = new Float64Array(N);
  let count = 0;
  const actionRng = new StackedRandom(deriveSeed(seed, 0xac71));
  const hook: StepHook = async (ctx) => {
    const m = ctx.rows.length;
    const t = ctx.iteration;
    const labs = ctx.labels ? Int32Array.from(ctx.labels, Number) : null;
    if (record) {
      // Record s_t for every row (finished rows sit at the terminal state).
      for (let j = 0; j < m; j++) {
        const si = ctx.rows[j]! * S + t;
        x.set(ctx.x.subarray(j * dim, (j + 1) * dim), si * dim);
        sigma[si] = ctx.sigma[j]!;
        level[si] = ctx.level[j]!;
        if (labels && labs) labels[si] = labs[j]!;
      }
    }
    const logits = await logitsOf({
      n: m,
      x: ctx.x,
      sigma: ctx.sigma,
      labels: labs,
      step: new Int32Array(m).fill(t),
      rows: ctx.rows,
    });
    const mask = actionMask(c, ctx.level, ctx.nfe, t, H);
    const actions = new Int32Array(m);
    const p = new Float64Array(K);
    for (let j = 0; j < m; j++) {
      if (ctx.level[j]! >= N) continue;
      // Categorical(softmax(logits/τ)) over the allowed actions.
      let mx = -Infinity;
      for (let a = 0; a < K; a++) if (mask[j * K + a]) mx = Math.max(mx, logits[j * K + a]! / o.temperature);
      let z = 0;
      for (let a = 0; a < K; a++) {
        p[a] = mask[j * K + a] ? Math.exp(logits[j * K + a]! / o.temperature - mx) : 0;
        z += p[a]!;
      }
      let ev = 0;
      for (let a = 0; a < K; a++) ev += p[a]! * c.actions[a]!;
      expectedAction[ctx.level[j]!]! += ev / z;
      let u = actionRng.stream(ctx.rows[j]!).uniform() * z;
      let a = 0;
      for (; a < K - 1; a++) {
        u -= p[a]!;
        if (u <= 0 && p[a]! > 0) break;
      }
      while (p[a] === 0) a--;
      actions[j] = a;
      profile[ctx.level[j]! * K + a]!++;
      if (profileByClass && labs) profileByClass[(Math.min(labs[j]!, C - 1) * N + ctx.level[j]!) * K + a]!++;
      if (!record) continue;
      let allowed = 0;
      for (let q = 0; q < K; q++) allowed += mask[j * K + q]!;
      if (allowed <= 1) continue; // no choice, no gradient: not a learning transition
      const k = count++;
      tRow[k] = ctx.rows[j]!;
      tStep[k] = t;
      tAction[k] = a;
      tLogp[k] = Math.log(p[a]! / z);
      tMask.set(mask.subarray(j * K, (j + 1) * K), k * K);
    }
    return applyActions(c, actions, ctx.level);
  };
  const res = await generate(model, settings, {
    n,
    batch: o.batch,
    seed,
    classes: o.classes ?? 'random',
    hook,
    horizon: H,
    signal: o.signal,
    onProgress: o.onProgress,
    trajectory: o.trajectory,
  });
  if (record) {
    // Fill the terminal states: s_t for t after each row finished, up to s_H.
    for (let r = 0; r < n; r++) {
      for (let t = 0; t < S; t++) {
        const si = r * S + t;
        if (level[si]! >= 0 && level[si]! < N) continue;
        x.set(res.samples.subarray(r * dim, (r + 1) * dim), si * dim);
        sigma[si] = 0;
        level[si] = N;
        if (labels && res.labels) labels[si] = res.labels[r]!;
      }
    }
  }
  return {
    n,
    H,
    x,
    sigma,
    level,
    labels,
    tRow,
    tStep,
    tAction,
    tLogp,
    tMask,
    count,
    nfe: res.nfe,
    networkEvals: res.networkEvals,
    profile,
    profileByClass,
    expectedAction,
    samples: res.samples,
    sampleLabels: res.labels,
    trajectories: res.trajectories,
  };
}

/** A policy to sample with: a learner's EMA heads, or an exported ONNX file. */
export interface SamplingPolicy {
  readonly model: Model;
  readonly spec: PolicySpec;
  /** Training iteration its weights come from. */
  readonly iteration: number;
  /** Its base sampler's settings and noise levels t_0 > … > t_N. */
  readonly settings: ResolvedSettings;
  readonly schedule: Float64Array;
  /** Samples n trajectories (not recorded) with the weights that are evaluated and exported. */
  sample(n: number, seed: number, o: SampleOptions): Promise<Rollout>;
  dispose(): Promise<void>;
}
