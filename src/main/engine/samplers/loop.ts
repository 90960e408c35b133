// The sampling loop shared by every sampler: per-sample noise levels, the policy hook, jumps back
// to higher noise (renoising), trajectories and cancellation. The algorithms themselves (one file
// each: edm.ts, ddim.ts, restart.ts) only say how one row moves from t_cur to t_next.
//
// [Note: per-sample levels]
// Each row carries its own level index i into the schedule t_0 > … > t_N = 0. Without a hook every
// row steps i → i+1 at each iteration, so the loop is the textbook one. A hook may jump a row back
// to a level j < i (x ← x + √(t_j² − t_i²)·ε, no NFE): that row sits out the step this iteration.
// Rows that reached t_N are finished (the absorbing state) and cost nothing.
//
// [Note: cancellation]
// The signal is checked before every denoiser evaluation, not only between iterations: one step
// may hold many (restart's K restarts of n Heun steps each, a batch the model splits into several
// session runs), and a cancel must not wait for them. What cannot be interrupted is one
// session.run in flight (its rows × the network's cost: milliseconds on the 2-D models). Each step
// function gets the signal in its input; Model.denoise checks it between its session runs.

import type { Denoiser } from '../models/model';
import { checkCancelled, SamplingCancelled } from '../cancel';

export { SamplingCancelled };
import type { GuidanceScale } from './guidance';
import type { NoiseSource } from './random';
import type { StepContext, StepControl, StepHook } from './types';

/** The rows that take a step this iteration (compacted), as a sampler's step function sees them. */
export interface StepInput {
  /** [m, dim] states. */
  x: Float32Array;
  /** [m] current and next noise level. */
  tCur: Float64Array;
  tNext: Float64Array;
  /** [m] level index of tCur in the schedule. */
  level: Int32Array;
  labels: BigInt64Array | null;
  /** [m] the hook's guidance scale per row, for every evaluation of this step; or null: `guidanceAt`. */
  guidance: Float32Array | null;
  /** The settings' w(σ), applied at each evaluation's own σ (guidance.ts, rowGuidance); null: w = 1. */
  guidanceAt: GuidanceScale | null;
  /** [m] churn γ per row chosen by a hook, or null (use the sampler's settings). */
  gamma: Float32Array | null;
  /** [m] the rows' indices in the run (their random streams). */
  rows: Int32Array;
  /** [m] counters the step adds its guided evaluations / network passes to. */
  nfe: Int32Array;
  networkEvals: Int32Array;
  /** When set, the step writes its first denoised estimate D(x̂; t̂) here ([m, dim]). */
  denoised: Float32Array | null;
  /** Checked before each denoiser evaluation (see the note on cancellation). */
  signal: AbortSignal | null;
  /** For a step that does much work (restart): how much of it is done, in (0, 1), reported as a fractional iteration. */
  progress: ((fraction: number) => void) | null;
}

export type StepFn = (input: StepInput) => Promise<Float32Array>;

export interface LoopOptions {
  noise: NoiseSource;
  hook?: StepHook;
  /** Horizon H (iterations); default N, enough when no row jumps back. */
  horizon?: number;
  /** The settings' w(σ) (constant, interval or curve) for rows the hook sets no guidance for; null: w = 1. */
  guidance: GuidanceScale | null;
  /** Record x and the denoised estimate at every iteration. */
  trajectory?: boolean;
  signal?: AbortSignal;
  /** Iterations done of the horizon; fractional while a long step reports its progress. */
  onIteration?: (iteration: number, horizon: number) => void;
}

export interface TrajectoryStep {
  /** [n] level of each row before the step. */
  level: Int32Array;
  /** [n, dim] states before the step. */
  x: Float32Array;
  /** [n, dim] denoised estimate of rows that stepped (NaN for rows that did not). */
  denoised: Float32Array;
}

export interface BatchResult {
  /** [n, dim] final states. */
  x: Float32Array;
  /** [n] guided denoiser evaluations per sample. */
  nfe: Int32Array;
  /** [n] network forward passes per sample (guided evaluations with w ≠ 1 cost two). */
  networkEvals: Int32Array;
  /** [n] final level (N when finished). */
  level: Int32Array;
  trajectory: TrajectoryStep[] | null;
}

/** Copies rows `idx` of an [n, dim] array into a compact [idx.length, dim] one. */
export function gatherRows(a: Float32Array, idx: ArrayLike<number>, dim: number): Float32Array {
  const out = new Float32Array(idx.length * dim);
  for (let j = 0; j < idx.length; j++) out.set(a.subarray(idx[j]! * dim, (idx[j]! + 1) * dim), j * dim);
  return out;
}

/** Writes the compact rows back to rows `idx` of `a`. */
export function scatterRows(a: Float32Array, idx: ArrayLike<number>, src: Float32Array, dim: number): void {
  for (let j = 0; j < idx.length; j++) a.set(src.subarray(j * dim, (j + 1) * dim), idx[j]! * dim);
}

function pick<T extends Float32Array | Float64Array | Int32Array | BigInt64Array>(
  a: T,
  idx: Int32Array,
  all: boolean,
): T {
  if (all) return a;
  const out = new (a.constructor as new (n: number) => T)(idx.length);
  for (let j = 0; j < idx.length; j++) out[j] = a[idx[j]!]!;
  return out;
}

function checkControl(c: StepControl, n: number): void {
  for (const [k, v] of Object.entries(c)) {
    if (v !== undefined && (v as ArrayLike<number>).length !== n) {
      throw new RangeError(`step hook returned ${k} with ${(v as ArrayLike<number>).length} values for ${n} rows`);
    }
  }
}

/**
 * Runs a batch from x = t_0·z (z: unit noise [n, dim]) until every row reaches t_N or the horizon ends.
 */
export async function runLoop(
  model: Denoiser,
  step: StepFn,
  schedule: Float64Array,
  z: Float32Array,
  rows: Int32Array,
  labels: BigInt64Array | null,
  o: LoopOptions,
): Promise<BatchResult> {
  const dim = model.dim;
  const n = rows.length;
  const N = schedule.length - 1;
  const H = o.horizon ?? N;
  // Step 0: x_0 = t_0 · z.
  const x = new Float32Array(n * dim);
  for (let k = 0; k < x.length; k++) x[k] = z[k]! * schedule[0]!;
  const level = new Int32Array(n);
  const nfe = new Int32Array(n);
  const networkEvals = new Int32Array(n);
  const trajectory: TrajectoryStep[] | null = o.trajectory ? [] : null;
  const sigma = new Float32Array(n);

  for (let it = 0; it < H; it++) {
    checkCancelled(o.signal);
    let active = 0;
    for (let i = 0; i < n; i++) if (level[i]! < N) active++;
    if (active === 0) break;
    for (let i = 0; i < n; i++) sigma[i] = schedule[level[i]!]!;

    let control: StepControl = {};
    if (o.hook) {
      const ctx: StepContext = { iteration: it, schedule, rows, x, level, sigma, labels, nfe };
      control = (await o.hook(ctx)) ?? {};
      checkControl(control, n);
    }

    // Renoise: jump back to a higher level j (no NFE).
    const jumped = new Uint8Array(n);
    if (control.jumpTo) {
      const jumpRows: number[] = [];
      for (let i = 0; i < n; i++) {
        const j = control.jumpTo[i]!;
        if (j < 0 || j === level[i] || level[i]! >= N) continue;
        if (!Number.isInteger(j) || j > level[i]!) {
          throw new RangeError(
            `step hook: row ${i} asked to jump to level ${j}, but it is at level ${level[i]} (jumps go back, to 0..${level[i]})`,
          );
        }
        jumpRows.push(i);
      }
      if (jumpRows.length > 0) {
        const eps = new Float32Array(jumpRows.length * dim);
        o.noise.normal(
          eps,
          jumpRows.map((i) => rows[i]!),
          dim,
        );
        jumpRows.forEach((i, r) => {
          const tj = schedule[control.jumpTo![i]!]!;
          const ti = schedule[level[i]!]!;
          const s = Math.sqrt(tj * tj - ti * ti);
          for (let k = 0; k < dim; k++) x[i * dim + k] = x[i * dim + k]! + s * eps[r * dim + k]!;
          level[i] = control.jumpTo![i]!;
          jumped[i] = 1;
        });
      }
    }

    // The rows that step t_i → t_{i+1}.
    const stepIdx: number[] = [];
    for (let i = 0; i < n; i++) if (level[i]! < N && !jumped[i]) stepIdx.push(i);
    const rec: TrajectoryStep | null = trajectory
      ? { level: level.slice(), x: x.slice(), denoised: new Float32Array(n * dim).fill(NaN) }
      : null;
    if (stepIdx.length > 0) {
      const idx = Int32Array.from(stepIdx);
      const all = idx.length === n;
      const lv = pick(level, idx, all);
      const tCur = Float64Array.from(lv, (l) => schedule[l]!);
      const tNext = Float64Array.from(lv, (l) => schedule[l + 1]!);
      const guidance = control.guidance ? pick(control.guidance, idx, all) : null;
      const input: StepInput = {
        x: all ? x : gatherRows(x, idx, dim),
        tCur,
        tNext,
        level: all ? lv.slice() : lv,
        labels: labels ? pick(labels, idx, all) : null,
        guidance,
        guidanceAt: guidance ? null : o.guidance,
        gamma: control.gamma ? pick(control.gamma, idx, all) : null,
        rows: pick(rows, idx, all),
        nfe: new Int32Array(idx.length),
        networkEvals: new Int32Array(idx.length),
        denoised: rec ? new Float32Array(idx.length * dim) : null,
        signal: o.signal ?? null,
        progress: o.onIteration ? (f) => o.onIteration!(it + f, H) : null,
      };
      const xNext = await step(input);
      scatterRows(x, idx, xNext, dim);
      for (let j = 0; j < idx.length; j++) {
        const i = idx[j]!;
        level[i]!++;
        nfe[i]! += input.nfe[j]!;
        networkEvals[i]! += input.networkEvals[j]!;
      }
      if (rec && input.denoised) scatterRows(rec.denoised, idx, input.denoised, dim);
    }
    if (rec) trajectory!.push(rec);
    o.onIteration?.(it + 1, H);
  }
  return { x, nfe, networkEvals, level, trajectory };
}
