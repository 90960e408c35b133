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
  /**
   * These n trajectories are rows first … first+n−1 of a larger rollout (a shard, distributed/):
   * each draws from its row's streams, so mergeRollouts of the shards is the rollout in one piece.
   * Everything returned (and `rows` as the policy sees them) is indexed from 0.
   */
  first?: number;
}

/** A learner's request for its iteration's rollout, run elsewhere (Learner.remote). */
export interface RolloutRequest {
  /** Iterations the learner has finished: the version of `weights`. */
  iteration: number;
  /** The policy head's current weights. */
  weights: Float32Array[];
  n: number;
  seed: number;
  temperature: number;
  /**
   * Return φ of the states as the policy saw them (policies that see the state); the rollout's x may
   * then hold zeros where φ is given (the learner reads x only to encode the other states).
   */
  features: boolean;
  signal?: AbortSignal;
  onProgress?: RolloutOptions['onProgress'];
}

/** Where a rollout run elsewhere spent its time (the Train screen's "where the time went"). */
export interface RolloutTiming {
  /** Publishing the policy and the jobs. */
  publishSeconds: number;
  /** From publishing until every part was done: queueing and the rollout itself. */
  waitSeconds: number;
  /** Reading and merging the results. */
  gatherSeconds: number;
  /** Bytes of results read back. */
  bytes: number;
}

/** Runs a learner's rollouts somewhere else (distributed/rollouts.ts: shards on workers). */
export interface RolloutService {
  /** The last rollout's timing. */
  readonly last: RolloutTiming | null;
  rollout(req: RolloutRequest): Promise<{
    rollout: Rollout;
    /** φ [n·(H+1), E] where `filled` [n·(H+1)] is 1, when asked. */
    features: { phi: Float32Array; filled: Uint8Array } | null;
  }>;
  close(): Promise<void>;
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
  const first = o.first ?? 0;
  const actionRng = new StackedRandom(deriveSeed(seed, 0xac71));
  const hook: StepHook = async (ctx) => {
    const m = ctx.rows.length;
    const t = ctx.iteration;
    const labs = ctx.labels ? Int32Array.from(ctx.labels, Number) : null;
    const local = first === 0 ? ctx.rows : Int32Array.from(ctx.rows, (r) => r - first); // [m] rows of this rollout
    if (record) {
      // Record s_t for every row (finished rows sit at the terminal state).
      for (let j = 0; j < m; j++) {
        const si = local[j]! * S + t;
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
      rows: local,
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
      tRow[k] = local[j]!;
      tStep[k] = t;
      tAction[k] = a;
      tLogp[k] = Math.log(p[a]! / z);
      tMask.set(mask.subarray(j * K, (j + 1) * K), k * K);
    }
    return applyActions(c, actions, ctx.level);
  };
  const res = await generate(model, settings, {
    n,
    first,
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

/**
 * The rollout of rows 0 … n−1 from its shards (rolloutPolicy with `first`), given in row order:
 * states and samples concatenated, transitions renumbered to their rows and put in the order one
 * rolloutPolicy call with sampler batches of `batch` records them — by batch, then step t, then
 * row — so a learner sees the same batch whether its rollout ran in one piece or in shards
 * (distributed/rollouts.ts). Per-step trajectories are not kept.
 */
export function mergeRollouts(parts: Rollout[], batch: number): Rollout {
  if (parts.length === 0) throw new RangeError('mergeRollouts: no shards');
  if (parts.length === 1) return parts[0]!;
  const p0 = parts[0]!;
  const H = p0.H;
  const withCapacity = parts.find((p) => p.tRow.length > 0); // tMask holds K flags per transition slot
  const K = withCapacity ? withCapacity.tMask.length / withCapacity.tRow.length : 0;
  const n = parts.reduce((s, p) => s + p.n, 0);
  const count = parts.reduce((s, p) => s + p.count, 0);
  const dim = p0.samples.length / p0.n;
  const recorded = p0.sigma.length > 0;
  const cat = <T extends Float32Array | Int32Array | Uint8Array>(
    make: (len: number) => T,
    get: (p: Rollout) => T,
  ): T => {
    const out = make(parts.reduce((s, p) => s + get(p).length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(get(p), o);
      o += get(p).length;
    }
    return out;
  };
  const sum = (get: (p: Rollout) => Float64Array): Float64Array => {
    const out = new Float64Array(get(p0).length);
    for (const p of parts) get(p).forEach((v, i) => (out[i]! += v));
    return out;
  };
  for (const p of parts) {
    if (p.H !== H) throw new RangeError(`mergeRollouts: shards of horizons ${H} and ${p.H}`);
    if (p.samples.length / p.n !== dim) throw new RangeError('mergeRollouts: shards of different sample sizes');
    if ((p.labels === null) !== (p0.labels === null)) throw new RangeError('mergeRollouts: shards differ in labels');
  }
  // Transitions: global rows, then the one-call order (batch, t, row).
  const row = new Int32Array(count);
  const src = new Int32Array(count); // [count] (part, index) flattened: index into the concatenation
  let k = 0;
  let offset = 0;
  for (const p of parts) {
    for (let i = 0; i < p.count; i++, k++) {
      row[k] = p.tRow[i]! + offset;
      src[k] = k;
    }
    offset += p.n;
  }
  const tStepAll = cat(
    (l) => new Int32Array(l),
    (p) => p.tStep.subarray(0, p.count),
  );
  const order = Array.from(src).sort((a, b) => {
    const ba = Math.floor(row[a]! / batch);
    const bb = Math.floor(row[b]! / batch);
    return ba - bb || tStepAll[a]! - tStepAll[b]! || row[a]! - row[b]!;
  });
  const tActionAll = cat(
    (l) => new Int32Array(l),
    (p) => p.tAction.subarray(0, p.count),
  );
  const tLogpAll = cat(
    (l) => new Float32Array(l),
    (p) => p.tLogp.subarray(0, p.count),
  );
  const tMaskAll = cat(
    (l) => new Uint8Array(l),
    (p) => p.tMask.subarray(0, p.count * K),
  );
  const tRow = new Int32Array(count);
  const tStep = new Int32Array(count);
  const tAction = new Int32Array(count);
  const tLogp = new Float32Array(count);
  const tMask = new Uint8Array(count * K);
  order.forEach((j, i) => {
    tRow[i] = row[j]!;
    tStep[i] = tStepAll[j]!;
    tAction[i] = tActionAll[j]!;
    tLogp[i] = tLogpAll[j]!;
    tMask.set(tMaskAll.subarray(j * K, (j + 1) * K), i * K);
  });
  const labels = p0.labels
    ? cat(
        (l) => new Int32Array(l),
        (p) => p.labels!,
      )
    : null;
  const sampleLabels = p0.sampleLabels
    ? cat(
        (l) => new Int32Array(l),
        (p) => p.sampleLabels!,
      )
    : null;
  return {
    n,
    H,
    x: recorded
      ? cat(
          (l) => new Float32Array(l),
          (p) => p.x,
        )
      : new Float32Array(0),
    sigma: cat(
      (l) => new Float32Array(l),
      (p) => p.sigma,
    ),
    level: cat(
      (l) => new Int32Array(l),
      (p) => p.level,
    ),
    labels,
    tRow,
    tStep,
    tAction,
    tLogp,
    tMask,
    count,
    nfe: cat(
      (l) => new Int32Array(l),
      (p) => p.nfe,
    ),
    networkEvals: cat(
      (l) => new Int32Array(l),
      (p) => p.networkEvals,
    ),
    profile: sum((p) => p.profile),
    profileByClass: p0.profileByClass ? sum((p) => p.profileByClass!) : null,
    expectedAction: sum((p) => p.expectedAction),
    samples: cat(
      (l) => new Float32Array(l),
      (p) => p.samples,
    ),
    sampleLabels,
    trajectories: null,
  };
}
