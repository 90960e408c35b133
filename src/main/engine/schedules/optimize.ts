// An optimised static schedule for one checkpoint, sampler and NFE budget (issue 16): a
// derivative-free coordinate search over the log-σ knots, as Align Your Steps searches its knots
// (Sabour et al. 2024, Alg. 1: each t_i in turn, between its neighbours), with the objective of
// GITS-style schedule search (Chen et al. 2024): the distance of the N-step sampler's outputs to a
// high-NFE solution of the same ODE from the same noise.
//
//   Input: model D, deterministic sampler S (euler | heun | ddim η = 0), N levels (from the NFE budget),
//          B search rows, n_h held-out rows.
//   1  Draw the B rows' classes and noise z; x_T = σ_max·z.
//   2  Reference: x* = Heun with R steps (EDM ρ = 7) from x_T — the ODE's solution up to ~1e-4.
//   3  J(t) = mean over rows and dimensions of (S_t(x_T) − x*)², S_t: the sampler on levels t.
//   4  Start: the preset (edm, uniform, log-linear, cosine, kl-optimal) with the lowest J.
//   5  Repeat (a sweep):
//        for k = 1 … N−1 (t_0 = σ_max stays; t_{N−1} may rise above σ_min):
//          u = log t_k; try u + δ·(log t_{k−1} − u) and u − δ·(u − log t_{k+1})   (log σ_min for k = N−1)
//          keep the best of the three by J    (only steps k−1 … N are re-run: the states at levels
//                                              < k are cached from the current schedule)
//        no knot moved: δ ← δ/2 (and the held-out FID is the last one's)
//        else the FID of the schedule on the n_h held-out rows (another seed); the best so far is kept
//      until the held-out FID has not improved for `patience` sweeps, δ < δ_min, `sweeps` sweeps, or
//      the next sweep could pass the evaluation budget (default: what a 3-value ρ grid costs).
//   6  Output: the schedule with the best held-out FID (the start when no sweep beat it).
//
// Every denoiser evaluation is counted (rows × NFE) by phase, and set against what a 3-value grid
// over ρ at the same NFE costs at the grid's customary n = 2,000.
//
// [Note: why the distance to the ODE's solution]
// A deterministic sampler's samples are the ODE's flow of the noise plus discretisation error; with
// the error gone they are the model's own samples, whose FID is the model's. The search drives the
// error down on B rows, where every candidate sees the same noise, so J's differences are exact for
// those rows (no sampling noise); the held-out FID guards against a schedule that fits B rows and
// not the distribution, and says when to stop. FID itself would need thousands of samples per
// candidate; J needs tens.

import type { Model } from '../models/model';
import { evaluateSamples, referenceFor } from '../metrics/evaluate';
import { extractorForModel } from '../metrics/features';
import { checkCancelled } from '../cancel';
import { generate, makeStep, resolveSettings, scheduleFor, type ResolvedSettings } from '../samplers/generate';
import { guidanceScale } from '../samplers/guidance';
import type { StepFn, StepInput } from '../samplers/loop';
import { StackedRandom } from '../samplers/random';
import { namedSchedule } from '../samplers/schedule';
import { settingsNfe } from '../samplers/cost';
import { SAMPLER_FIELDS, SCHEDULES, type SamplerSettings, type ScheduleName } from '../../../shared/sampler-settings';
import { GRID_COMPARISON_N, type OptimizeSampler } from '../../../shared/schedule-search';

export { DEFAULT_OPTIMIZE, OPTIMIZE_SAMPLERS, type OptimizeSampler } from '../../../shared/schedule-search';

export interface OptimizeOptions {
  /** The sampler and any other settings (guidance, …); its steps, schedule, ρ and σ ends are the search's. */
  base: Partial<SamplerSettings> & { sampler: OptimizeSampler };
  /** Denoiser evaluations per sample: N = NFE (euler, ddim) or (NFE + 1)/2 (heun). */
  nfe: number;
  /** Search rows B. */
  rows: number;
  /** Held-out samples n_h scored by FID after every sweep. */
  holdout: number;
  /** Seed of the search rows; the held-out rows use seed + 1. */
  seed: number;
  /** Heun steps R of the reference solution. */
  referenceSteps: number;
  /** Most sweeps, and how many without a better held-out FID end the search. */
  sweeps: number;
  patience: number;
  batch: number;
  /** The most denoiser evaluations the search may spend; default: a 3-value ρ grid's at n = 2,000 (it stops before a sweep that could pass it). */
  maxEvaluations?: number;
  signal?: AbortSignal;
  onProgress?: (p: { phase: string; done: number; total: number }) => void;
}

export interface SweepRecord {
  sweep: number;
  /** δ of the sweep, and how many knots moved. */
  delta: number;
  moved: number;
  /** J after the sweep, and the held-out FID of its schedule. */
  distance: number;
  holdoutFid: number;
  sigmas: number[];
}

export interface OptimizeReport {
  model: string;
  sampler: OptimizeSampler;
  nfe: number;
  steps: number;
  /** The schedule found (t_0 … t_{N−1}, 0): the one with the best held-out FID. */
  sigmas: number[];
  /** Its sweep (0: the starting preset) and held-out FID. */
  best: { sweep: number; holdoutFid: number; distance: number };
  start: { preset: ScheduleName; distance: number; holdoutFid: number };
  /** J of every preset on the search rows. */
  presets: { schedule: ScheduleName; distance: number; sigmas: number[] }[];
  sweeps: SweepRecord[];
  stopped: 'patience' | 'converged' | 'sweeps' | 'budget';
  /** Denoiser evaluations (rows × NFE) by phase, and the ρ grid's for comparison. */
  cost: {
    reference: number;
    presets: number;
    search: number;
    holdout: number;
    total: number;
    seconds: number;
    /** The most the search was allowed to spend (default: the ρ grid's cost). */
    budget: number;
    rhoGrid: { values: number; n: number; evaluations: number };
  };
  settings: { rows: number; holdout: number; seed: number; holdoutSeed: number; referenceSteps: number };
}

/** N for an NFE budget on a deterministic sampler; a RangeError saying which budgets exist. */
export function stepsForNfe(sampler: OptimizeSampler, nfe: number): number {
  if (!Number.isInteger(nfe) || nfe < 1) throw new RangeError(`nfe must be a whole number ≥ 1, got ${nfe}`);
  if (sampler !== 'heun') return nfe;
  if (nfe % 2 === 0 || nfe < 3)
    throw new RangeError(
      `heun takes 2N − 1 evaluations for N steps (3, 5, 7, 9, …): nfe ${nfe} is none of them; give nfe ${Math.max(3, nfe - 1)} or ${Math.max(3, nfe + 1)}`,
    );
  return (nfe + 1) / 2;
}

/** Runs the sampler's steps over `levels` (t_a > … > 0) from states x; the states at every level, and evaluations spent. */
async function solve(
  step: StepFn,
  x0: Float32Array,
  levels: readonly number[],
  rows: Int32Array,
  labels: BigInt64Array | null,
  settings: ResolvedSettings,
  signal: AbortSignal | undefined,
): Promise<{ states: Float32Array[]; evaluations: number }> {
  const m = rows.length;
  const states = [x0];
  let evaluations = 0;
  let x = x0;
  for (let i = 0; i + 1 < levels.length; i++) {
    checkCancelled(signal);
    const input: StepInput = {
      x,
      tCur: new Float64Array(m).fill(levels[i]!),
      tNext: new Float64Array(m).fill(levels[i + 1]!),
      level: new Int32Array(m).fill(i),
      labels,
      guidance: null,
      guidanceAt: guidanceScale(settings),
      gamma: null,
      rows,
      nfe: new Int32Array(m),
      networkEvals: new Int32Array(m),
      denoised: null,
      signal: signal ?? null,
      progress: null,
    };
    x = await step(input);
    states.push(x);
    for (let j = 0; j < m; j++) evaluations += input.nfe[j]!;
  }
  return { states, evaluations };
}

const mse = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += (a[k]! - b[k]!) ** 2;
  return s / a.length;
};

/** The search of the header: the schedule with the best held-out FID, and its report. */
export async function optimizeSchedule(model: Model, o: OptimizeOptions): Promise<OptimizeReport> {
  const t0 = performance.now();
  const N = stepsForNfe(o.base.sampler, o.nfe);
  if (N < 2)
    throw new RangeError(
      `a schedule of ${N} step has no knot to move; give nfe ≥ ${o.base.sampler === 'heun' ? 3 : 2}`,
    );
  if (o.base.sampler === 'ddim' && (o.base.eta ?? 0) !== 0)
    throw new RangeError('the search needs a deterministic sampler: ddim with eta 0 (eta > 0 adds noise)');
  const settings = resolveSettings(model, { ...o.base, steps: N });
  if (settings.churn > 0 || settings.churnCurve)
    throw new RangeError('the search needs a deterministic sampler: drop the churn (it adds noise at every step)');
  const dim = model.dim;
  const B = o.rows;
  const rows = Int32Array.from({ length: B }, (_, j) => j);
  const report = (phase: string, done: number, total: number): void => o.onProgress?.({ phase, done, total });

  // 1  The search rows: each row's class, then its noise, from its own stream (as generate draws them).
  const noise = new StackedRandom(o.seed);
  const classes = model.numClasses > 0 ? noise.integer(model.numClasses, rows) : null;
  const labels = classes ? BigInt64Array.from(classes, BigInt) : null;
  const z = new Float32Array(B * dim);
  noise.normal(z, rows, dim);
  const step = makeStep(model, settings, scheduleFor(model, settings), noise);

  // 2  The reference: Heun with R steps from the same x_T.
  report('reference', 0, 1);
  const refSettings = resolveSettings(model, { ...o.base, sampler: 'heun', steps: o.referenceSteps, eta: 0 });
  const refLevels = Array.from(scheduleFor(model, refSettings));
  const xT = Float32Array.from(z, (v) => v * refLevels[0]!); // x_T = σ_max·z, as generate starts
  const refStep = makeStep(model, refSettings, Float64Array.from(refLevels), noise);
  const ref = await solve(refStep, xT, refLevels, rows, labels, refSettings, o.signal);
  const xStar = ref.states[ref.states.length - 1]!;
  const cost = { reference: ref.evaluations, presets: 0, search: 0, holdout: 0 };
  const spent = (): number => cost.reference + cost.presets + cost.search + cost.holdout;
  const samplerNfeOf = (steps: number): number => settingsNfe({ ...settings, steps });
  const nfe = samplerNfeOf(N);
  // The search spends at most what the 3-value ρ grid it stands in for would (unless told otherwise).
  const rhoGrid = 3 * GRID_COMPARISON_N * nfe;
  const budget = o.maxEvaluations ?? rhoGrid;

  // 3  J of a schedule, from the cached states of the current one at level `from`.
  const round = (s: number): number => model.roundSigma(s);
  let states: Float32Array[] = [];
  const distance = async (levels: number[], from: number, phase: 'presets' | 'search') => {
    const run = await solve(
      step,
      from === 0 ? Float32Array.from(z, (v) => v * levels[0]!) : states[from]!,
      levels.slice(from),
      rows,
      labels,
      settings,
      o.signal,
    );
    cost[phase] += run.evaluations;
    return { J: mse(run.states[run.states.length - 1]!, xStar), tail: run.states };
  };

  // 4  Start from the best preset.
  const presets: OptimizeReport['presets'] = [];
  let current: number[] = [];
  let J = Infinity;
  let startPreset: ScheduleName = 'edm';
  for (const name of SCHEDULES) {
    report('presets', presets.length, SCHEDULES.length);
    const levels = Array.from(
      namedSchedule(
        name,
        { steps: N, sigmaMin: settings.sigmaMin, sigmaMax: settings.sigmaMax, rho: SAMPLER_FIELDS.rho.default },
        round,
        model.vp ?? null,
      ),
    );
    const r = await distance(levels, 0, 'presets');
    presets.push({ schedule: name, distance: r.J, sigmas: levels });
    if (r.J < J) [J, current, startPreset, states] = [r.J, levels, name, r.tail];
  }

  // The held-out FID of a schedule: n_h samples on seed + 1, through the model's feature extractor.
  const extractor = await extractorForModel(model);
  try {
    const reference = await referenceFor(model, extractor);
    const holdoutFid = async (levels: number[]): Promise<number> => {
      const s = resolveSettings(model, {
        ...o.base,
        steps: N,
        sigmas: levels,
        schedule: 'edm',
        rho: SAMPLER_FIELDS.rho.default,
        sigmaMin: null,
        sigmaMax: null,
      });
      const g = await generate(model, s, { n: o.holdout, batch: o.batch, seed: o.seed + 1, signal: o.signal });
      cost.holdout += g.nfe.reduce((a, v) => a + v, 0);
      const e = await evaluateSamples(
        { model, extractor, reference, samples: g.samples, n: o.holdout, conditioning: g.labels },
        ['fid'],
      );
      return e.summary['fid']!;
    };
    const startFid = await holdoutFid(current);
    let best = { sweep: 0, holdoutFid: startFid, distance: J, sigmas: current };
    const sweeps: SweepRecord[] = [];
    let delta = 0.5;
    let sinceBest = 0;
    let stopped: OptimizeReport['stopped'] = 'sweeps';
    // The most a sweep costs: two candidates per knot k, each running the N − k + 1 steps from t_{k−1}.
    let sweepBound = o.holdout * nfe;
    for (let k = 1; k < N; k++) sweepBound += 2 * B * samplerNfeOf(N - k + 1);

    // 5  Sweeps of coordinate moves in log σ.
    for (let sweep = 1; sweep <= o.sweeps; sweep++) {
      // A sweep runs only if its most (every candidate, then the held-out samples) fits the budget.
      if (spent() + sweepBound > budget) {
        stopped = 'budget';
        break;
      }
      let moved = 0;
      const sweepDelta = delta;
      for (let k = 1; k < N; k++) {
        report(`sweep ${sweep}`, k - 1, N - 1);
        const u = Math.log(current[k]!);
        const hi = Math.log(current[k - 1]!);
        const lo = k === N - 1 ? Math.log(settings.sigmaMin) : Math.log(current[k + 1]!);
        let bestMove: { J: number; levels: number[]; tail: Float32Array[] } | null = null;
        for (const target of [u + delta * (hi - u), u - delta * (u - lo)]) {
          const tk = round(Math.exp(target));
          // Still strictly between its neighbours once rounded to the model's levels, and a move at all.
          if (
            !(tk < current[k - 1]!) ||
            !(k === N - 1 ? tk >= settings.sigmaMin * (1 - 1e-12) : tk > current[k + 1]!) ||
            tk === current[k]
          )
            continue;
          const levels = current.slice();
          levels[k] = tk;
          const r = await distance(levels, k - 1, 'search');
          if (r.J < (bestMove?.J ?? J)) bestMove = { J: r.J, levels, tail: r.tail };
        }
        if (bestMove) {
          [J, current] = [bestMove.J, bestMove.levels];
          states = [...states.slice(0, k - 1), ...bestMove.tail];
          moved++;
        }
      }
      if (moved === 0) delta /= 2;
      report(`sweep ${sweep}: held-out FID`, N - 1, N - 1);
      // An unchanged schedule scores what it scored: no samples spent on it again.
      const fid = moved === 0 ? (sweeps.at(-1)?.holdoutFid ?? startFid) : await holdoutFid(current);
      sweeps.push({ sweep, delta: sweepDelta, moved, distance: J, holdoutFid: fid, sigmas: current.slice() });
      if (fid < best.holdoutFid)
        [best, sinceBest] = [{ sweep, holdoutFid: fid, distance: J, sigmas: current.slice() }, 0];
      else if (++sinceBest >= o.patience) {
        stopped = 'patience';
        break;
      }
      if (delta < 1 / 64) {
        stopped = 'converged';
        break;
      }
    }

    // 6  The schedule with the best held-out FID.
    const total = spent();
    return {
      model: model.name,
      sampler: o.base.sampler,
      nfe,
      steps: N,
      sigmas: best.sigmas,
      best: { sweep: best.sweep, holdoutFid: best.holdoutFid, distance: best.distance },
      start: {
        preset: startPreset,
        distance: presets.find((p) => p.schedule === startPreset)!.distance,
        holdoutFid: startFid,
      },
      presets,
      sweeps,
      stopped,
      cost: {
        ...cost,
        total,
        seconds: (performance.now() - t0) / 1000,
        budget,
        rhoGrid: { values: 3, n: GRID_COMPARISON_N, evaluations: rhoGrid },
      },
      settings: {
        rows: B,
        holdout: o.holdout,
        seed: o.seed,
        holdoutSeed: o.seed + 1,
        referenceSteps: o.referenceSteps,
      },
    };
  } finally {
    await extractor.dispose();
  }
}
