// Classifier-free guidance (Ho & Salimans 2022), in EDM's denoiser form:
//   D_w(x;σ,c) = D(x;σ,∅) + w·(D(x;σ,c) − D(x;σ,∅)),   w = 1: no extra guidance.
//
// [Note: one batched call, NFE counting]
// For the rows with w ≠ 1 the conditional and unconditional evaluations go in one session.run
// (rows stacked [cond; uncond]); rows with w = 1 need only D(x;σ,c). One guided evaluation D_w
// counts as ONE function evaluation (NFE), the paper's and EDM's convention; the network passes
// it cost (1 or 2) are counted separately as `networkEvals`.
//
// [Note: the guidance interval, tested at each evaluation]
// Kynkäänniemi et al. 2024 ("Applying guidance in a limited interval improves sample and
// distribution quality in diffusion models", arXiv 2404.07724) define the guided denoiser with
// the interval built in: D_w(x;σ) as above when σ ∈ (σ_lo, σ_hi], the conditional D(x;σ,c) alone
// otherwise. Their reference code (github.com/kynkaat/guidance-interval, sampling/edm_sampler.py)
// decides per step instead: an interval of step indices [start, stop], and both of Heun's
// evaluations of step i (the Euler one at t̂_i, the correction at t_{i+1}) use the denoiser chosen
// for i. Here the interval is tested at each evaluation, on that evaluation's own σ — the paper's
// formulation — because then it is a property of the denoiser, not of one sampler: it means the
// same in Euler, Heun, DDIM and restart's inner steps (whose levels are not on the schedule), a
// guidance curve w(σ) (shared/curve.ts) is read the same way, and a tool that sees one σ per
// denoiser call can reproduce it. The two conventions differ only in the Heun corrections of the
// two steps that straddle an end of the interval: the step entering it from above has its
// correction at t_{i+1} ≤ σ_hi, guided here and not there; the step leaving it has its correction
// at t_{i+1} ≤ σ_lo, guided there and not here. A policy's per-step w (a hook) still holds for
// both evaluations of its step, as the learner chose it.

import { DivergedInput, type Denoiser } from '../models/model';
import { MAX_GUIDANCE, type SamplerSettings } from '../../../shared/sampler-settings';
import { curveAt } from '../../../shared/curve';
import { checkCancelled } from '../cancel';

/** w(σ): the guidance scale of a denoiser evaluation at noise level σ. */
export type GuidanceScale = (sigma: number) => number;

/**
 * The settings' w(σ) — the curve's, else w inside (σ_lo, σ_hi] and 1 outside (a constant w when
 * the interval is (0, ∞]) — or null when it is 1 at every σ.
 */
export function guidanceScale(
  s: Pick<SamplerSettings, 'guidance' | 'guidanceSigmaLo' | 'guidanceSigmaHi' | 'guidanceCurve'>,
): GuidanceScale | null {
  const curve = s.guidanceCurve;
  if (curve) return curve.points.every((p) => p.value === 1) ? null : (sigma) => curveAt(curve, sigma);
  const { guidance: w, guidanceSigmaLo: lo, guidanceSigmaHi: hi } = s;
  if (w === 1) return null;
  return (sigma) => (sigma > lo && sigma <= hi ? w : 1);
}

type IntervalSettings = Pick<
  SamplerSettings,
  'guidance' | 'guidanceSigmaLo' | 'guidanceSigmaHi' | 'guidanceCurve' | 'churn' | 'churnCurve' | 'sampler'
>;

/**
 * For a sampler whose denoiser calls all sit on its schedule's levels — no churn (t̂ > t), no churn
 * curve, not restart (whose inner steps leave the schedule) — which of the nonzero levels
 * t_0 … t_{N−1} its guidance interval guides (Heun's corrections at t_{i+1} are levels too); null
 * for the other samplers, for a curve and for w = 1. Two such settings that guide the same levels
 * sample identically, whatever their σ_lo and σ_hi (grid/run.ts identicalCells).
 */
export function guidedLevels(s: IntervalSettings, schedule: ArrayLike<number>): boolean[] | null {
  if (s.guidanceCurve || s.guidance === 1 || s.churn > 0 || s.churnCurve || s.sampler === 'restart') return null;
  return Array.from(schedule)
    .filter((t) => t > 0)
    .map((t) => t > s.guidanceSigmaLo && t <= s.guidanceSigmaHi);
}

/**
 * Why the settings' guidance interval guides no evaluation (it holds none of the schedule's levels,
 * for a sampler that evaluates on them only: guidedLevels), or null. `sample --guidance-interval
 * 2:100:200` on a model with σ_max 80 would otherwise sample w = 1 without a word.
 */
export function idleIntervalNote(s: IntervalSettings, schedule: ArrayLike<number>): string | null {
  const guided = guidedLevels(s, schedule);
  if (!guided || guided.some(Boolean)) return null;
  const levels = Array.from(schedule).filter((t) => t > 0);
  const hi = s.guidanceSigmaHi === Infinity ? 'inf' : s.guidanceSigmaHi;
  const show = (t: number): string => String(Number(t.toPrecision(4)));
  return `the guidance interval (${s.guidanceSigmaLo}, ${hi}] holds none of this sampler's ${levels.length} noise levels (${show(levels[0]!)} … ${show(levels[levels.length - 1]!)}): w = ${s.guidance} guides no evaluation, and these are w = 1 samples`;
}

/**
 * Each row's w for one evaluation at levels `sigma` (float64, [m]): the hook's w of the step when
 * it set one (`perRow`), else w(σ) at the row's own σ; null when no row is guided.
 */
export function rowGuidance(
  perRow: Float32Array | null,
  scale: GuidanceScale | null,
  sigma: ArrayLike<number>,
): Float32Array | null {
  if (perRow) return perRow;
  if (!scale) return null;
  const w = Float32Array.from(sigma, (t) => scale(t));
  return w.some((v) => v !== 1) ? w : null;
}

/**
 * The guidance scale made the samples overflow: the guided estimate D_u + w·(D_c − D_u) was not
 * finite in float32, or it drove the states so far that the denoiser returned NaN/Inf on them
 * (models/model.ts, the note on diverged inputs). Reported naming w, not the network.
 */
export class GuidanceOverflow extends RangeError {
  override name = 'GuidanceOverflow';
}

/** "w = 4", or "w = 1e+30 (the largest in this batch)" when rows differ. */
function describeW(w: Float32Array): string {
  let max = 1;
  let mixed = false;
  for (const v of w) {
    if (v !== 1 && Math.abs(v) > Math.abs(max)) max = v;
    if (v !== w[0]) mixed = true;
  }
  // float32 scales, shown as written (1e+30, not 1.0000000150474662e+30)
  return `w = ${Number(max.toPrecision(6))}${mixed ? ' (the largest in this batch)' : ''}`;
}

const FIX = `use a guidance scale within ±${MAX_GUIDANCE} (published scales are 1–10)`;

export interface GuidedBatch {
  /** [n, dim] states. */
  x: Float32Array;
  /** [n] noise levels. */
  sigma: Float32Array;
  /** [n] class labels (the null class for unconditional rows); null for unconditional models. */
  labels: BigInt64Array | null;
  /** [n] guidance scales, or null for w = 1 everywhere. */
  guidance: Float32Array | null;
  /** Cancels between the model's session runs (samplers/loop.ts, the note on cancellation). */
  signal?: AbortSignal | null;
}

/** Returns D_w for every row and adds the network passes spent per row to `networkEvals`. */
export async function guidedDenoise(model: Denoiser, b: GuidedBatch, networkEvals?: Int32Array): Promise<Float32Array> {
  const n = b.sigma.length;
  const dim = model.dim;
  const w = b.guidance;
  const guidedRows: number[] = [];
  if (w && b.labels) {
    const unconditional = BigInt(model.nullClass ?? -1);
    for (let i = 0; i < n; i++) if (w[i] !== 1 && b.labels[i] !== unconditional) guidedRows.push(i);
  }
  if (networkEvals) for (let i = 0; i < n; i++) networkEvals[i]! += 1;
  checkCancelled(b.signal);
  const signal = b.signal ?? undefined;
  if (guidedRows.length === 0 && !(w && w.some((v) => v !== 1))) return model.denoise(b.x, b.sigma, b.labels, signal);
  if (guidedRows.length === 0) return denoiseGuided(model, b.x, b.sigma, b.labels, w!, signal);
  if (model.nullClass === null) throw new Error('guidance needs a model with a null class ("nullClass" in model.json)');

  // Stack [all rows, conditional; guided rows, unconditional] into one call.
  const g = guidedRows.length;
  const x = new Float32Array((n + g) * dim);
  const sigma = new Float32Array(n + g);
  const labels = new BigInt64Array(n + g);
  x.set(b.x);
  sigma.set(b.sigma);
  labels.set(b.labels!);
  const nullLabel = BigInt(model.nullClass);
  for (let j = 0; j < g; j++) {
    const i = guidedRows[j]!;
    x.set(b.x.subarray(i * dim, (i + 1) * dim), (n + j) * dim);
    sigma[n + j] = b.sigma[i]!;
    labels[n + j] = nullLabel;
    if (networkEvals) networkEvals[i]! += 1;
  }
  const out = await denoiseGuided(model, x, sigma, labels, w!, signal);
  const d = out.subarray(0, n * dim);
  let overflow = -1;
  for (let j = 0; j < g; j++) {
    const i = guidedRows[j]!;
    const wi = w![i]!;
    const c = i * dim;
    const u = (n + j) * dim;
    for (let k = 0; k < dim; k++) {
      d[c + k] = out[u + k]! + wi * (out[c + k]! - out[u + k]!);
      if (!Number.isFinite(d[c + k]!)) overflow = i;
    }
  }
  if (overflow >= 0)
    throw new GuidanceOverflow(
      `guidance overflow: with guidance ${describeW(w!)} the guided estimate D_u + w·(D_c − D_u) is beyond float32 (row ${overflow}, σ = ${b.sigma[overflow]!.toPrecision(4)}); ${FIX}`,
    );
  return d;
}

/** The denoiser on a batch sampled with guidance: NaN/Inf on diverged states is the guidance's overflow. */
async function denoiseGuided(
  model: Denoiser,
  x: Float32Array,
  sigma: Float32Array,
  labels: BigInt64Array | null,
  w: Float32Array,
  signal: AbortSignal | undefined,
): Promise<Float32Array> {
  try {
    return await model.denoise(x, sigma, labels, signal);
  } catch (e) {
    if (!(e instanceof DivergedInput)) throw e;
    throw new GuidanceOverflow(
      `guidance overflow: with guidance ${describeW(w)} the samples grew to |x| = ${e.maxAbs.toPrecision(3)} by σ = ${e.sigma.toPrecision(4)} (samples at that level lie within a few σ of the data), and the denoiser returned NaN/Inf on them; ${FIX}`,
      { cause: e },
    );
  }
}
