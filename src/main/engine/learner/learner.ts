// Inverse-RL sampler learning ("Learning to Sample from Diffusion Models via Inverse RL",
// Algorithm 1, Appendix B.1): match the sampler's state occupancy ρ_π to the data's ρ_E under an
// f-divergence, the denoiser frozen.
//
//   for each iteration:
//     1. Roll out the policy π_θ: every sample of a batch is an agent; at each step the policy picks
//        an action (guidance w, churn γ, or a jump back) for its own state s = (x_t, σ_t).
//     2. Train the discriminator D(s) on expert states (data noised to the level, label 1) against
//        visited states (label 0), σ-level drawn uniformly, label smoothing growing with σ; every
//        state encoded by φ once per iteration (discriminator.ts, the note on the expert pool).
//     3. Occupancy ratio r(s) = [w_E(σ)/w_π(σ)]·exp(logit D(s))  (Eq. 11), reward −ψ(r(s)).
//     4. Learning signal G_t = Σ_{t'>t} reward(s_{t'}); advantages Â = (G − mean G)/std G over the batch.
//     5. PPO-clip epochs over minibatches of (s_t, a_t), the ratio r held fixed.
//     6. EMA of both heads.
//
// With objective "reward" (issue 17; the DDPO thesis), steps 2–3 give way to an explicit terminal
// reward R(x_0) of each final sample (engine/rewards/), G_t = R at every step of its trajectory,
// Â = clip((G − mean G)/std G, ±advantageClip), and PPO's loss gains β·KL(π_θ ‖ π_init) over the
// visited states ([Note: two objectives] in shared/learner-config.ts).
//
// What a run does around the iterations (its directory, evaluations, events) is apps/train.ts's.
//
// [Note: occupancy over H + 1 states]
// A trajectory visits s_0 … s_H (H = horizon); once at the terminal (clean) state it stays there,
// each remaining iteration counting as a visit. Expert weights: 1/(H+1) on each non-terminal level
// and the rest, (H+1−N)/(H+1), on the terminal one — so for cfg/gamma (H = N) every level weighs
// the same, and for renoise the terminal weight is the time the policy should spend finished.
//
// [Note: the per-step baseline]
// The per-state rewards −ψ(r) do not average to 0 under the policy (KL: E[r] ≈ 1; reverse KL:
// E[log r − 1] ≈ −1), so G_t = Σ_{t'>t} reward ≈ c·(H − t) plus the part the actions change. With
// one global mean the advantages are then mostly a function of t: on 18 steps that trend has a std of
// ≈ 5 against ≈ 0.4–1.3 for the action-dependent part, so PPO mostly learns "early actions good" (or
// bad) at random. A baseline may depend on the state but not on the action, so subtracting the batch
// mean of G at each step t keeps the gradient unbiased (up to the O(1/n) of a batch mean) and removes
// the trend. It also makes constants in the reward irrelevant (reverse KL's log r − 1 and log r train
// alike). For renoise, t is the loop iteration (the steps left, H − t), not the noise level.
// `advantageBaseline: 'global'` keeps the paper's single mean (runs saved before this setting use it).

import * as tf from '@tensorflow/tfjs';
import type { Model } from '../models/model';
import { loadData } from '../models/data';
import { gib, resolveSettings, samplesDrawn, scheduleFor, type ResolvedSettings } from '../samplers/generate';
import { deriveSeed, Stream } from '../samplers/random';
import { VERSION } from '../../../shared/version';
import type { Checkpoint } from '../../../shared/run-files';
import { checkConfig, type LearnerConfig } from './config';
import { decodeWeights, encodeWeights, optimizerState, restoreAdam } from './checkpoint';
import { Discriminator } from './discriminator';
import { rewardOf } from './divergences';
import { encoderForModel, preconditionedEncoder, type StateEncoder } from './encoder';
import { emaUpdate, featurize, inputDim, Mlp, type FeatureLayout, type StateBatch } from './heads';
import { horizonFor } from './interventions';
import { clonePolicy, cloneStatesPerLevel, initTargets, type CloneStates } from './init-policy';
import { normaliseAdvantages, ppoUpdate } from './ppo';
import { openRewards, type Rewards } from '../rewards';
import { parseRewardSpec } from '../../../shared/reward-spec';
import type { Phase } from '../../../shared/events';
import {
  rolloutPolicy,
  type LogitsFn,
  type PolicySpec,
  type PolicyStates,
  type Rollout,
  type RolloutOptions,
  type RolloutService,
  type SampleOptions,
  type SamplingPolicy,
} from './rollout';

/**
 * An update left a loss or a weight NaN/Inf: the iteration (1-based, as its metrics line would be
 * numbered) and what went wrong, in `detail`.
 *
 * [Note: stopping on NaN]
 * As Keras' TerminateOnNaN: step() checks both heads after their updates and throws this before
 * anything of the iteration is kept (apps/train.ts writes the metrics and the checkpoint only after
 * step returns), so the run's checkpoint stays the last one with finite weights. Going on would only
 * train NaN into every later checkpoint and export (`--lr-policy 1e30` once ran to the end with
 * NaN weights and null losses).
 */
export class TrainingDiverged extends RangeError {
  override name = 'TrainingDiverged';
  constructor(
    readonly iteration: number,
    readonly detail: string,
  ) {
    super(`training diverged at iteration ${iteration}: ${detail}`);
  }
}

/** Number of NaN/Inf values in a head's weights. */
function nonFiniteCount(ws: Float32Array[]): number {
  let bad = 0;
  for (const w of ws) for (const v of w) if (!Number.isFinite(v)) bad++;
  return bad;
}

/**
 * Largest |logit| a usable policy gives. Softmax saturates at gaps of ~40 (e⁻⁴⁰ ≈ 4·10⁻¹⁸), so a
 * trained policy's logits stay within tens; past 1,000 the weights have blown up, and float32 no
 * longer resolves the logits to the 1e-4 an exported file is verified to.
 */
export const MAX_POLICY_LOGIT = 1000;

/** Whether every logit is finite and within ±MAX_POLICY_LOGIT; else the largest |logit| (NaN when some is NaN). */
export function logitsProblem(logits: Float32Array): number | null {
  let worst = 0;
  for (const v of logits) {
    if (Number.isNaN(v)) return NaN;
    worst = Math.max(worst, Math.abs(v));
  }
  return worst <= MAX_POLICY_LOGIT ? null : worst;
}

/**
 * Most float32 values of recorded states an iteration holds: 2²⁸ (1 GiB). A rollout records
 * trajectories × (H + 1) states of `dim` values, and an iteration holds them about three times over
 * (the rollout, the discriminator's expert pool while it is encoded, the PPO inputs), besides the
 * states' features φ (E values each, once per side; see the note on the expert pool in discriminator.ts).
 */
export const MAX_ROLLOUT_VALUES = 2 ** 28;

/** φ(s) of a rollout's visited states as the policy encoded them: [n·(H+1), E] in the rollout's order, and which rows hold one. */
export interface VisitedFeatures {
  phi: Float32Array;
  filled: Uint8Array;
}

export class Learner implements SamplingPolicy {
  /** The policy head's inputs. */
  readonly layout: FeatureLayout;
  /** π_θ: [n, inputDim(layout)] → [n, K] logits. */
  readonly policy: Mlp;
  policyEma: Float32Array[];
  optPolicy: tf.AdamOptimizer;
  /** D(s): expert vs policy states, for the occupancy ratio. */
  readonly discriminator: Discriminator;
  /** Horizon H: loop iterations of a trajectory. */
  readonly H: number;
  readonly settings: ResolvedSettings;
  /** [N + 1] noise levels t_0 … t_N = 0. */
  readonly schedule: Float64Array;
  /** Iterations finished. */
  iteration = 0;
  /** Where step 1's rollouts run: here (null), or on workers through a queue (distributed/rollouts.ts). */
  remote: RolloutService | null = null;
  private data: Float32Array | null = null;
  private dataLabels: Int32Array | null = null;
  readonly sigmaData: number;

  /** The frozen state encoder φ(x, σ) in front of both heads. */
  readonly encoder: StateEncoder;

  /** `encoder`: the model's ONNX encoder (see createLearner); c_in·x when the model names none. */
  constructor(
    readonly model: Model,
    readonly config: LearnerConfig,
    encoder?: StateEncoder,
  ) {
    checkConfig(config);
    if (!encoder && model.manifest.encoder)
      throw new RangeError(`${model.name} names an encoder ONNX; load it first (createLearner)`);
    this.encoder = encoder ?? preconditionedEncoder(model.dim, model.manifest.sigmaData);
    const c = config;
    const K = c.actions.length;
    const N0 = c.steps;
    this.settings = resolveSettings(model, { sampler: c.sampler, steps: c.steps, guidance: 1, churn: 0 });
    this.H = horizonFor(c);
    const recorded = c.trajectories * (this.H + 1) * model.dim;
    if (recorded > MAX_ROLLOUT_VALUES)
      throw new RangeError(
        `a rollout would record trajectories × (horizon + 1) × ${model.dim} = ${c.trajectories} × ${this.H + 1} × ${model.dim} = ${recorded} values (${gib(recorded)}), ` +
          `more than an iteration can hold (${gib(MAX_ROLLOUT_VALUES)}, and it holds them about three times); lower trajectories or steps${c.intervention === 'renoise' ? ' (or nfeBudget, which sets the horizon)' : ''}`,
      );
    this.schedule = scheduleFor(model, this.settings);
    const classes = model.numClasses > 0 ? model.numClasses + 1 : 0;
    this.layout = {
      xDim: c.conditioning === 'sigma' ? 0 : this.encoder.dim,
      sigmaFrequencies: c.sigmaFrequencies,
      classes: c.conditioning === 'state+class' ? classes : 0,
      steps: c.stepInput ? this.H + 1 : 0,
    };
    if (c.conditioning === 'state+class' && model.numClasses === 0) {
      throw new RangeError(
        `conditioning "state+class" needs a class-conditional model; ${model.name} is unconditional (use "state")`,
      );
    }
    if (c.intervention === 'cfg' && (model.numClasses === 0 || model.nullClass === null)) {
      throw new RangeError(
        `the cfg intervention needs a class-conditional model with a null class; ${model.name} has ${model.numClasses === 0 ? 'no classes' : 'no null class'}`,
      );
    }
    // The initial policy: 'bias' favours initAction (the baseline's choice) by a logit bonus at every
    // level; 'window' starts from the log of the profile's mean and is cloned to it in ready().
    const bias = new Float32Array(K); // [K]
    if (c.initProfile === 'bias') bias[c.initAction] = c.initBias;
    else {
      const q = initTargets(c, this.schedule); // [N, K]
      for (let a = 0; a < K; a++) {
        let m = 0;
        for (let l = 0; l < N0; l++) m += q[l * K + a]!;
        bias[a] = Math.log(m / N0);
      }
    }
    this.policy = new Mlp(inputDim(this.layout), c.hidden, c.layers, K, c.seed * 2 + 1, {
      outScale: 0.01,
      outBias: bias,
    });
    this.discriminator = new Discriminator(model, c, this.encoder, this.schedule, this.settings.sigmaMax);
    this.policyEma = this.policy.getWeights();
    this.optPolicy = tf.train.adam(c.lrPolicy);
    this.sigmaData = model.manifest.sigmaData;
  }

  /** [n, inputDim(layout)] policy-head input for n states: φ(x, σ) (unless σ-only), σ embedding, class, step. */
  async policyInput(s: {
    x: Float32Array;
    sigma: Float32Array;
    labels: Int32Array | null;
    step: Int32Array | null;
    n: number;
  }): Promise<Float32Array> {
    return this.policyInputFrom(this.layout.xDim > 0 ? await this.encoder.encode(s.x, s.sigma, s.n) : null, s);
  }

  /** policyInput for n states already encoded: φ [n, E] (ignored, may be null, when the policy sees σ only). */
  policyInputFrom(
    phi: Float32Array | null,
    s: { sigma: Float32Array; labels: Int32Array | null; step: Int32Array | null; n: number },
  ): Float32Array {
    const b: StateBatch = {
      n: s.n,
      x: this.layout.xDim > 0 ? phi : null,
      sigma: s.sigma,
      labels: s.labels,
      step: s.step,
    };
    return featurize(this.layout, b, this.model.sigmaMin);
  }

  /** The expert's data samples (and labels), read once. */
  private async loadData(): Promise<void> {
    if (this.data) return;
    const d = await loadData(this.model);
    if (!d)
      throw new RangeError(
        `${this.model.name} has no data samples ("data" in model.json); the expert occupancy needs them`,
      );
    this.data = d.x;
    this.dataLabels = d.labels;
  }

  /** Objective reward: the rewards (opened by createLearner), and π_init's weights for the KL penalty (set at the first step, or restored). */
  rewards: Rewards | null = null;
  policyInit: Float32Array[] | null = null;
  private reference: Mlp | null = null;

  /** Made once, before the first rollout (see ready); a restored checkpoint replaces it. */
  private initialising: Promise<void> | null = null;
  /** How the initial policy was cloned to its profile ('window'), or null (not yet, 'bias', or restored). */
  initialClone: { steps: number; maxDistance: number; seconds: number } | null = null;

  /**
   * The initial policy, made before anything samples with it: for the 'window' profile, the policy
   * head behaviour-cloned to its σ-dependent profile (learner/init-policy.ts) on noised data states,
   * the EMA copy set to the result. Every entry point that samples or exports calls it; a restore()
   * skips it.
   */
  ready(): Promise<void> {
    this.initialising ??= (async () => {
      if (this.config.initProfile !== 'window') return;
      const t0 = performance.now();
      const states = await this.cloneStates();
      const q = initTargets(this.config, this.schedule);
      const r = clonePolicy(this.policy, states, q, this.config.steps, this.config.seed);
      this.policyEma = this.policy.getWeights();
      this.initialClone = { ...r, seconds: (performance.now() - t0) / 1000 };
    })();
    return this.initialising;
  }

  /**
   * Noised data states at every level t_0 … t_{N−1}, as the policy head sees them (cloning's
   * inputs). A model without data samples (it can sample and export, not train) clones on the states
   * a rollout of the not yet cloned policy visits instead.
   */
  private async cloneStates(): Promise<CloneStates> {
    const c = this.config;
    const N = c.steps;
    const M = cloneStatesPerLevel(N, this.model.dim);
    const dim = this.model.dim;
    const hasData = this.model.manifest.data !== null && this.model.manifest.data !== undefined;
    if (hasData) await this.loadData();
    const data = this.data;
    const nData = data ? data.length / dim : 0;
    const rng = new Stream(deriveSeed(c.seed, 0x1217), 0);
    const visited = data
      ? null
      : await rolloutPolicy(this.model, this.settings, c, this.H, this.logits, M, deriveSeed(c.seed, 0x1218), {
          temperature: 1,
          batch: Math.min(M, c.rolloutBatch),
        });
    const rows = visited
      ? Array.from({ length: visited.n * (visited.H + 1) }, (_, i) => i).filter((i) => visited.level[i]! < N)
      : null;
    const n = rows ? rows.length : N * M;
    const x = new Float32Array(n * dim); // [n, dim]
    const sigma = new Float32Array(n); // [n]
    const level = new Int32Array(n); // [n]
    const C = this.model.numClasses;
    const labels = C > 0 ? new Int32Array(n) : null; // [n]
    if (visited && rows) {
      rows.forEach((si, i) => {
        x.set(visited.x.subarray(si * dim, (si + 1) * dim), i * dim);
        sigma[i] = visited.sigma[si]!;
        level[i] = visited.level[si]!;
        if (labels && visited.labels) labels[i] = visited.labels[si]!;
      });
    }
    for (let l = 0; data && l < N; l++) {
      const sl = this.schedule[l]!;
      for (let j = 0; j < M; j++) {
        const i = l * M + j;
        const di = Math.floor(rng.uniform() * nData);
        for (let k = 0; k < dim; k++) x[i * dim + k] = data[di * dim + k]! + sl * rng.normal();
        sigma[i] = sl;
        level[i] = l;
        if (labels) labels[i] = this.dataLabels ? this.dataLabels[di]! : Math.floor(rng.uniform() * C);
      }
    }
    const D = inputDim(this.layout);
    const input = new Float32Array(n * D); // [n, D]
    const chunk = 4096;
    for (let i0 = 0; i0 < n; i0 += chunk) {
      const e = Math.min(n, i0 + chunk);
      const part = await this.policyInput({
        x: x.subarray(i0 * dim, e * dim),
        sigma: sigma.subarray(i0, e),
        labels: labels ? labels.subarray(i0, e) : null,
        step: level.subarray(i0, e),
        n: e - i0,
      });
      input.set(part, i0 * D);
    }
    return { input, level, n };
  }

  /** What sampling with this learner's policy needs (its config). */
  get spec(): PolicySpec {
    return this.config;
  }

  /** [n, K] logits of the policy head as it is now (current or EMA weights, see rollout). */
  readonly logits: LogitsFn = async (s) => this.policy.predict(await this.policyInput(s), s.n);

  /** Runs `fn` with the EMA weights in the policy head, restoring the current ones after. */
  private async withEma<T>(fn: () => Promise<T>): Promise<T> {
    const saved = this.policy.getWeights();
    this.policy.setWeights(this.policyEma);
    try {
      return await fn();
    } finally {
      this.policy.setWeights(saved);
    }
  }

  /**
   * Step 1: roll out the current policy (temperature τ) for `n` trajectories. `features`, when given
   * (policies that see the state), receives φ of each non-terminal state the policy saw, as it
   * encoded it to choose its action.
   */
  async rollout(
    n: number,
    seed: number,
    opts: {
      temperature: number;
      weights?: 'current' | 'ema';
      signal?: AbortSignal;
      features?: VisitedFeatures;
      onProgress?: RolloutOptions['onProgress'];
    } = {
      temperature: 1,
    },
  ): Promise<Rollout> {
    await this.ready();
    if (this.remote && opts.weights !== 'ema') {
      // On workers (distributed/rollouts.ts): the same rows, streams and weights, run elsewhere.
      const f = opts.features;
      const r = await this.remote.rollout({
        iteration: this.iteration,
        weights: this.policy.getWeights(),
        n,
        seed,
        temperature: opts.temperature,
        features: f !== undefined && this.layout.xDim > 0,
        signal: opts.signal,
        onProgress: opts.onProgress,
      });
      if (f && r.features) {
        f.phi.set(r.features.phi);
        f.filled.set(r.features.filled);
      }
      return r.rollout;
    }
    const run = (): Promise<Rollout> => this.rolloutHere(n, 0, seed, opts);
    return opts.weights === 'ema' ? this.withEma(run) : run();
  }

  /**
   * A shard of a rollout, as a worker runs it (distributed/worker.ts): rows first … first+n−1 of a
   * rollout of `seed`, with these policy weights (the learner's current ones for its iteration).
   * `features` (indexed from 0, like the result) receives φ as the policy saw each state.
   */
  async rolloutShard(
    weights: Float32Array[],
    n: number,
    first: number,
    seed: number,
    o: { temperature: number; features?: VisitedFeatures; signal?: AbortSignal },
  ): Promise<Rollout> {
    this.policy.setWeights(weights);
    return this.rolloutHere(n, first, seed, o);
  }

  /** rolloutPolicy with the policy head as it is now; φ of what it sees into `features` (see rollout). */
  private rolloutHere(
    n: number,
    first: number,
    seed: number,
    opts: {
      temperature: number;
      signal?: AbortSignal;
      features?: VisitedFeatures;
      onProgress?: RolloutOptions['onProgress'];
    },
  ): Promise<Rollout> {
    const f = opts.features;
    const S = this.H + 1;
    const E = this.encoder.dim;
    const logits: LogitsFn =
      f && this.layout.xDim > 0
        ? async (s) => {
            const phi = await this.encoder.encode(s.x, s.sigma, s.n); // [m, E]
            for (let j = 0; s.rows && j < s.n; j++) {
              if (!(s.sigma[j]! > 0)) continue; // terminal states: encodeVisited, once per trajectory
              const si = s.rows[j]! * S + s.step[j]!;
              f.phi.set(phi.subarray(j * E, (j + 1) * E), si * E);
              f.filled[si] = 1;
            }
            return this.policy.predict(this.policyInputFrom(phi, s), s.n);
          }
        : this.logits;
    return rolloutPolicy(this.model, this.settings, this.config, this.H, logits, n, seed, {
      temperature: opts.temperature,
      batch: this.config.rolloutBatch,
      signal: opts.signal,
      onProgress: opts.onProgress,
      first,
    });
  }

  /**
   * φ [n·(H+1), E] of every state `ro` visited: the policy's own encodings from the rollout where
   * `f` holds them, the rest encoded here (all of them for a σ-only policy), each trajectory's
   * terminal state once (it stays there: its later visits are the same state).
   */
  async encodeVisited(ro: Rollout, f: VisitedFeatures | null): Promise<Float32Array> {
    const S = ro.H + 1;
    const total = ro.n * S;
    const E = this.encoder.dim;
    const dim = this.model.dim;
    const N = this.config.steps;
    const phi = f?.phi ?? new Float32Array(total * E); // [n·(H+1), E]
    const todo: number[] = []; // states to encode
    const firstTerminal = new Int32Array(ro.n).fill(-1); // [n] each trajectory's first terminal state
    for (let si = 0; si < total; si++) {
      if (f?.filled[si]) continue;
      if (ro.level[si]! < N) todo.push(si);
      else {
        const r = Math.floor(si / S);
        if (firstTerminal[r]! < 0) {
          firstTerminal[r] = si;
          todo.push(si);
        }
      }
    }
    const x = new Float32Array(todo.length * dim); // [m, dim]
    const sigma = new Float32Array(todo.length); // [m]
    todo.forEach((si, k) => {
      x.set(ro.x.subarray(si * dim, (si + 1) * dim), k * dim);
      sigma[k] = ro.sigma[si]!;
    });
    const enc = await this.encoder.encode(x, sigma, todo.length); // [m, E]
    todo.forEach((si, k) => phi.set(enc.subarray(k * E, (k + 1) * E), si * E));
    for (let si = 0; si < total; si++) {
      const first = firstTerminal[Math.floor(si / S)]!;
      if (ro.level[si]! >= N && first >= 0 && si !== first) phi.copyWithin(si * E, first * E, (first + 1) * E);
    }
    return phi;
  }

  /** [n, K] logits of the EMA policy head (what evaluation and export use). */
  async emaLogits(s: PolicyStates): Promise<Float32Array> {
    await this.ready();
    return this.withEma(() => this.logits(s));
  }

  /** SamplingPolicy: the EMA heads, states not recorded (evaluation, `sample --policy`). */
  async sample(n: number, seed: number, o: SampleOptions): Promise<Rollout> {
    await this.ready();
    return this.withEma(() =>
      rolloutPolicy(this.model, this.settings, this.config, this.H, this.logits, n, seed, {
        ...o,
        batch: o.batch ?? this.config.rolloutBatch,
        record: false,
      }),
    );
  }

  /** One iteration of Algorithm 1 (steps 1–6); returns its metrics (shared/metrics.ts RUN_METRICS). */
  async step(signal?: AbortSignal, onPhase?: (p: Phase) => void): Promise<Record<string, number>> {
    const c = this.config;
    const it = this.iteration;
    const N = c.steps;
    const t0 = performance.now();
    const rng = new Stream(deriveSeed(c.seed, 0x7a1e), it);
    const m0 = this.model.stats.modelMs;
    const e0 = this.encoder.stats.encoderMs;

    // 1. Roll out π_θ at temperature τ: n trajectories, each visiting s_0 … s_H. Every visited state
    //    is encoded once, φ(s): as the policy saw it, or here after the rollout (terminal states, a
    //    σ-only policy's); steps 2, 3 and 5 reuse φ.
    const nS = c.trajectories * (this.H + 1);
    const seen = { phi: new Float32Array(nS * this.encoder.dim), filled: new Uint8Array(nS) };
    onPhase?.({ iteration: it + 1, label: 'rollout', done: 0, total: c.trajectories, unit: 'trajectories' });
    const ro = await this.rollout(c.trajectories, c.seed * 100_003 + it, {
      temperature: c.temperature,
      signal,
      features: seen,
      onProgress: (p) =>
        onPhase?.({
          iteration: it + 1,
          label: 'rollout',
          done: samplesDrawn(p, c.rolloutBatch, c.trajectories),
          total: c.trajectories,
          unit: 'trajectories',
        }),
    });
    const S = ro.H + 1;
    const total = ro.n * S; // visited states, row-major by trajectory then t
    const phi = await this.encodeVisited(ro, seen); // [n·(H+1), E]
    const tRollout = performance.now();

    let learning: { advantage: Float64Array; metrics: Record<string, number>; tSignal: number };
    if (c.objective === 'reward') learning = await this.rewardSignal(ro, it);
    else {
      // 2. Train the discriminator: expert states vs visited ones (first iteration: its warm-up steps
      //    too, the paper's "DRE init"), minibatches drawn from two pools encoded once: the visited
      //    states' φ, and expert states drawn per level for this iteration (discriminator.ts, the note
      //    on the expert pool).
      await this.loadData();
      const d = this.discriminator;
      const discSteps = (it === 0 ? c.discriminatorInitSteps : 0) + c.discriminatorSteps;
      const visited = d.pool({ n: total, sigma: ro.sigma, level: ro.level, labels: ro.labels }, phi);
      const drawn = d.drawExpert(
        { x: this.data!, labels: this.dataLabels },
        d.expertPoolSizes(visited, discSteps),
        rng,
      );
      onPhase?.({ iteration: it + 1, label: 'encoding expert states', done: 0, total: drawn.n, unit: 'states' });
      const expert = d.pool(drawn, await this.encoder.encode(drawn.x, drawn.sigma, drawn.n));
      const discLabel = it === 0 && c.discriminatorInitSteps > 0 ? 'discriminator warm-up' : 'discriminator';
      onPhase?.({ iteration: it + 1, label: discLabel, done: 0, total: discSteps, unit: 'steps' });
      const disc = d.train(visited, expert, discSteps, rng, signal, (done) =>
        onPhase?.({ iteration: it + 1, label: discLabel, done, total: discSteps, unit: 'steps' }),
      );
      this.checkFinite('discriminator', discSteps > 0 ? disc.loss : 0, d.net, c.lrDiscriminator);
      const tDiscriminator = performance.now();

      // 3. Occupancy ratio r(s) = [w_E(σ)/w_π(σ)]·exp(logit D(s)) (Eq. 11) and reward −ψ(r(s)).
      //    w_π(level) from the visit counts; w_E by design (see the note on occupancy).
      const visits = new Float64Array(N + 1); // [N + 1] visits per level
      for (let i = 0; i < total; i++) visits[ro.level[i]!]!++;
      const wE = (l: number): number => (l >= N ? (S - N) / S : 1 / S);
      const logitD = d.logits(visited); // [n·(H+1)]
      if (!logitD.every(Number.isFinite))
        throw new TrainingDiverged(
          it + 1,
          `the discriminator's logits are NaN/Inf on the visited states after its update, at learning rate lrDiscriminator = ${c.lrDiscriminator}; a smaller one may train`,
        );
      const ratio = new Float64Array(total); // [n·(H+1)]
      let ratioSum = 0;
      for (let i = 0; i < total; i++) {
        const l = ro.level[i]!;
        const wPi = visits[l]! / total;
        const lg = Math.max(-c.logitClamp, Math.min(c.logitClamp, logitD[i]!));
        ratio[i] = (wE(l) / wPi) * Math.exp(lg);
        ratioSum += ratio[i]!;
      }
      const reward = rewardOf(c.divergence, ratio); // [n·(H+1)]

      // 4. Learning signal G_t = Σ_{t'>t} reward(s_{t'}) of every transition, from suffix sums per
      //    trajectory; advantages Â = (G − b)/std(G − b) over the whole batch, the baseline b the
      //    mean of G at the transition's step t ('level', see the note) or over the batch ('global').
      const suffix = new Float64Array(total + 1); // [n·(H+1) + 1]
      for (let r = 0; r < ro.n; r++) {
        let acc = 0;
        for (let t = S - 1; t >= 0; t--) {
          suffix[r * S + t] = acc; // sum over t' > t
          acc += reward[r * S + t]!;
        }
      }
      const T = ro.count;
      const G = new Float64Array(T); // [T]
      for (let k = 0; k < T; k++) G[k] = suffix[ro.tRow[k]! * S + ro.tStep[k]!]!;
      const advantage = normaliseAdvantages(G, c.advantageBaseline === 'level' ? ro.tStep.subarray(0, T) : undefined); // [T]
      learning = {
        advantage,
        tSignal: tDiscriminator,
        metrics: {
          'charts/learning_signal_mean': rSumOf(reward) / total,
          'charts/learning_signal_std': stdOf(reward),
          'charts/ratio_mean': ratioSum / total,
          'losses/discriminator': disc.loss,
          'charts/discriminator_accuracy': disc.accuracy,
          'time/discriminator_s': (tDiscriminator - tRollout) / 1000,
        },
      };
    }
    const { advantage } = learning;
    const T = ro.count;

    // 5. PPO-clip epochs over minibatches of the transitions (s_t, a_t), r held fixed; the policy's
    //    input from the states' φ of step 1.
    const E = this.encoder.dim;
    const phiT = this.layout.xDim > 0 ? new Float32Array(T * E) : null; // [T, E] φ of each s_t
    const sig = new Float32Array(T); // [T]
    const labs = ro.labels ? new Int32Array(T) : null; // [T]
    const steps = new Int32Array(T); // [T]
    for (let k = 0; k < T; k++) {
      const si = ro.tRow[k]! * S + ro.tStep[k]!;
      phiT?.set(phi.subarray(si * E, (si + 1) * E), k * E);
      sig[k] = ro.sigma[si]!;
      if (labs) labs[k] = ro.labels![si]!;
      steps[k] = ro.tStep[k]!;
    }
    const input = this.policyInputFrom(phiT, { sigma: sig, labels: labs, step: steps, n: T }); // [T, D]
    const K = c.actions.length;
    const transitions = {
      input,
      actions: ro.tAction.subarray(0, T),
      oldLogProbs: ro.tLogp.subarray(0, T),
      mask: ro.tMask.subarray(0, T * K),
      advantages: advantage,
    };
    onPhase?.({ iteration: it + 1, label: 'PPO update', done: 0, total: c.ppoEpochs, unit: 'epochs' });
    // Objective reward: π_init's logits, for the penalty (β = klCoef) and the KL it reports (also at β = 0).
    const reference = c.objective === 'reward' ? this.referenceLogits(input, T) : undefined;
    const ppo = ppoUpdate(this.policy, this.optPolicy, { ...transitions, reference }, c, rng, signal);
    this.checkFinite('policy', ppo.loss, this.policy, c.lrPolicy);
    const tPpo = performance.now();

    // 6. EMA of both heads, with warm-up: the plain mean of the iterates so far until that is as
    //    smooth as emaDecay, so the initial weights do not linger in early evaluations.
    const decay = Math.min(c.emaDecay, it / (it + 1));
    emaUpdate(this.policyEma, this.policy.getWeights(), decay);
    if (c.objective === 'occupancy') emaUpdate(this.discriminator.ema, this.discriminator.net.getWeights(), decay);
    // Weights can be finite and still useless: ~1e30 after an absurd step, their logits overflow.
    // What is checkpointed must sample: the current and EMA policy on some of this iteration's states.
    const probeN = Math.min(T, 256);
    if (probeN > 0) {
      const probe = input.subarray(0, probeN * inputDim(this.layout));
      const current = this.policy.predict(probe, probeN);
      const ema = await this.withEma(async () => this.policy.predict(probe, probeN));
      for (const [which, l] of [
        ['', current],
        ['EMA ', ema],
      ] as const) {
        const worst = logitsProblem(l);
        if (worst !== null)
          throw new TrainingDiverged(
            it + 1,
            `the ${which}policy's logits are ${Number.isNaN(worst) ? 'NaN/Inf' : `as large as ${worst.toPrecision(3)}`} on this iteration's states after its update (a trained policy's stay within tens), at learning rate lrPolicy = ${c.lrPolicy}; a smaller one may train`,
          );
      }
    }
    this.iteration++;

    let nfe = 0;
    for (const v of ro.nfe) nfe += v;
    return {
      iteration: this.iteration,
      ...learning.metrics,
      'losses/policy': ppo.loss,
      'charts/entropy': ppo.entropy,
      'charts/approx_kl': ppo.approxKl,
      'charts/clipfrac': ppo.clipFrac,
      ...(ppo.klReference !== undefined ? { 'charts/kl_init': ppo.klReference } : {}),
      'charts/nfe': nfe / ro.n,
      'time/iteration_s': (tPpo - t0) / 1000,
      'time/rollout_s': (tRollout - t0) / 1000,
      'time/denoiser_s': (this.model.stats.modelMs - m0) / 1000,
      'time/encoder_s': (this.encoder.stats.encoderMs - e0) / 1000,
      'time/ppo_s': (tPpo - learning.tSignal) / 1000,
    };
  }

  /**
   * Objective reward, in place of steps 2–4: R(x_0) of every final sample, G_t = R for each of its
   * transitions, Â = clip(standardised G, ±advantageClip). The rewards are logged raw (each part's
   * mean) and as their weighted sum.
   */
  private async rewardSignal(
    ro: Rollout,
    it: number,
  ): Promise<{ advantage: Float64Array; metrics: Record<string, number>; tSignal: number }> {
    const c = this.config;
    const t0 = performance.now();
    // π_init: the policy before its first update (after its initial cloning), kept for the KL penalty.
    this.policyInit ??= this.policy.getWeights();
    const R = await this.rewards!.score(ro.samples, ro.n, ro.sampleLabels); // [n]
    if (!R.total.every(Number.isFinite)) throw new TrainingDiverged(it + 1, 'a reward was NaN/Inf');
    const T = ro.count;
    const labels = c.rewardStats === 'class' ? ro.sampleLabels : null;
    const advantage = rewardAdvantages(R.total, ro.tRow.subarray(0, T), labels, c.advantageClip);
    const metrics: Record<string, number> = {
      'charts/reward_mean': rSumOf(R.total) / ro.n,
      'charts/reward_std': stdOf(R.total),
    };
    R.parts.forEach((p, i) => (metrics[`rewards/${i}_${p.spec.name}`] = rSumOf(p.raw) / ro.n));
    const t1 = performance.now();
    metrics['time/reward_s'] = (t1 - t0) / 1000;
    return { advantage, metrics, tSignal: t1 };
  }

  /** [T, K] π_init's logits (at the rollout temperature) on the transitions' inputs. */
  private referenceLogits(input: Float32Array, T: number): Float32Array {
    if (!this.reference) {
      this.reference = new Mlp(this.policy.inDim, this.config.hidden, this.config.layers, this.policy.outDim, 0, {
        outScale: 0,
      });
      this.reference.setWeights(this.policyInit!);
    }
    return this.reference.predict(input, T);
  }

  /** After a head's update: its loss and weights finite, or TrainingDiverged (see the note on stopping on NaN). */
  private checkFinite(head: 'policy' | 'discriminator', loss: number, net: Mlp, lr: number): void {
    const bad = nonFiniteCount(net.getWeights());
    if (Number.isFinite(loss) && bad === 0) return;
    const what = [
      ...(Number.isFinite(loss) ? [] : [`loss is ${loss}`]),
      ...(bad > 0 ? [`weights hold ${bad} NaN/Inf values`] : []),
    ].join(' and its ');
    const flag = head === 'policy' ? 'lrPolicy' : 'lrDiscriminator';
    throw new TrainingDiverged(
      this.iteration + 1,
      `the ${head}'s ${what} after its update, at learning rate ${flag} = ${lr}; a smaller one may train`,
    );
  }

  /**
   * Everything needed to continue: weights, EMA copies, Adam moments, iteration. Randomness is
   * derived from (seed, iteration), so a resumed run repeats the same draws; it matches an
   * uninterrupted one to float32 round-off (see learner/checkpoint.ts).
   */
  async checkpoint(): Promise<Checkpoint> {
    const d = this.discriminator;
    return {
      version: VERSION,
      iteration: this.iteration,
      policy: encodeWeights(this.policy.getWeights()),
      discriminator: encodeWeights(d.net.getWeights()),
      policyEma: encodeWeights(this.policyEma),
      discriminatorEma: encodeWeights(d.ema),
      optPolicy: await optimizerState(this.optPolicy),
      optDiscriminator: await optimizerState(d.opt),
      ...(this.policyInit ? { policyInit: encodeWeights(this.policyInit) } : {}),
    };
  }

  async restore(cp: Checkpoint): Promise<void> {
    const d = this.discriminator;
    this.policy.setWeights(decodeWeights(cp.policy));
    d.net.setWeights(decodeWeights(cp.discriminator));
    this.policyEma = decodeWeights(cp.policyEma);
    d.ema = decodeWeights(cp.discriminatorEma);
    this.optPolicy.dispose();
    this.optPolicy = await restoreAdam(cp.optPolicy, this.config.lrPolicy);
    d.opt.dispose();
    d.opt = await restoreAdam(cp.optDiscriminator, this.config.lrDiscriminator);
    this.iteration = cp.iteration;
    if (cp.policyInit) this.policyInit = decodeWeights(cp.policyInit);
    this.initialising = Promise.resolve(); // the checkpoint's weights replace the initial policy
  }

  async dispose(): Promise<void> {
    await this.remote?.close();
    this.remote = null;
    this.policy.dispose();
    this.reference?.dispose();
    await this.rewards?.dispose();
    this.discriminator.dispose();
    this.optPolicy.dispose();
    await this.encoder.dispose();
  }
}

/** A Learner with the model's frozen state encoder (its manifest's ONNX encoder, else c_in·x). */
export async function createLearner(model: Model, config: LearnerConfig): Promise<Learner> {
  checkConfig(config);
  // The rewards first: a specification the model cannot take is refused before anything loads.
  const rewards = config.objective === 'reward' ? await openRewards(model, config.rewards.map(parseRewardSpec)) : null;
  let encoder: StateEncoder | null = null;
  try {
    encoder = await encoderForModel(model);
    const l = new Learner(model, config, encoder);
    l.rewards = rewards;
    return l;
  } catch (e) {
    await encoder?.dispose();
    await rewards?.dispose();
    throw e;
  }
}

const rSumOf = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
};
/** Population standard deviation. */
const stdOf = (a: ArrayLike<number>): number => {
  const m = rSumOf(a) / Math.max(1, a.length);
  let v = 0;
  for (let i = 0; i < a.length; i++) v += (a[i]! - m) ** 2;
  return Math.sqrt(v / Math.max(1, a.length));
};

/**
 * Objective reward's advantages: each transition k of trajectory tRow[k] gets G = R(x_0) of its
 * trajectory, less the mean over the transitions of its class (`labels`: [n] each trajectory's class;
 * null: one mean for the batch — [Note: per-class reward statistics]), over the std of the result,
 * clipped to ±clip (DDPO's adv_clip_max).
 */
export function rewardAdvantages(
  R: Float64Array,
  tRow: Int32Array,
  labels: Int32Array | null,
  clip: number,
): Float64Array {
  const G = Float64Array.from(tRow, (r) => R[r]!);
  const groups = labels ? Int32Array.from(tRow, (r) => labels[r]!) : undefined;
  return normaliseAdvantages(G, groups).map((a) => Math.max(-clip, Math.min(clip, a)));
}
