// Sampler curves: one sampler parameter as a function of the noise level σ, from a small JSON file —
// the static schedules practitioners use (a guidance ramp, churn in a band of σ), and the way a
// learned policy's choices travel to other tools.
//
//   { "parameter": "guidance", "points": [ { "sigma": 80, "value": 1 }, { "sigma": 2.9, "value": 3 }, … ] }
//
// parameter  guidance: the guidance scale w(σ) of each denoiser evaluation D_w(x; σ)
//                      (samplers/guidance.ts); w ≥ 0 in a curve file
//            churn:    EDM's γ(t_i) per step (Karras et al. 2022, Alg. 2), in place of
//                      γ_i = min(S_churn/N, √2−1) inside [S_tmin, S_tmax]; γ in [0, √2−1]
// points     1 to MAX_CURVE_POINTS, σ > 0 and finite, strictly decreasing (the order a sampler
//            visits them) or strictly increasing; no other keys, here or in a point.
// source     optional: where the curve came from, for people (`export --recipe` writes it; sampling
//            ignores it): { "run" | "policy", "model", "iteration", "sampler", "steps", "n", "seed",
//            "temperature", "version" }, each optional, no other keys (see CurveSource).
//
// [Note: interpolation in log σ]
// Between two points the value is linear in log σ; below the smallest σ and above the largest the
// end point's value holds. Noise levels are spaced geometrically-ish (EDM's ρ-schedule, σ from 80
// down to 0.002): linear in σ would spend the whole segment from 80 to 2.9 on the first few steps,
// linear in log σ spreads a ramp evenly over the steps that cross it. A single point is a constant.
//
// [Note: the source is not part of the curve]
// parseCurve checks "source" and drops it: two files with the same points are the same sampler
// settings (the results table's cache key, a grid's cell), wherever they came from.

import { z } from 'zod';
import { GAMMA_MAX, MAX_GUIDANCE } from './limits';

export const CURVE_PARAMETERS = ['guidance', 'churn'] as const;
export type CurveParameter = (typeof CURVE_PARAMETERS)[number];
export interface SamplerCurve {
  parameter: CurveParameter;
  points: { sigma: number; value: number }[];
}

/** Where a curve file came from (a policy's recipe: learner/recipe.ts); informational, every key optional. */
export interface CurveSource {
  /** The run directory, or the exported policy file, it was computed from. */
  run?: string;
  policy?: string;
  /** The model and the training iteration of the policy's weights. */
  model?: string;
  iteration?: number;
  /** The base sampler and its steps: the noise levels the points sit on. */
  sampler?: string;
  steps?: number;
  /** Trajectories, seed and temperature τ of the rollout it was measured on. */
  n?: number;
  seed?: number;
  temperature?: number;
  /** The Sampler Studio version that wrote it. */
  version?: string;
}

/** A curve file as written: the curve and, optionally, where it came from. */
export type CurveFile = SamplerCurve & { source?: CurveSource };

/** The sampler setting that carries each parameter's curve (shared/sampler-settings.ts CurveSettings). */
export const CURVE_SETTING = { guidance: 'guidanceCurve', churn: 'churnCurve' } as const satisfies Record<
  CurveParameter,
  string
>;

/** Most points in a curve: 10× the most noise levels a sampler visits (MAX_STEPS = 1,000); a curve needs one per level at most. */
export const MAX_CURVE_POINTS = 10_000;

/** What each parameter's values may be, and why. */
export const CURVE_VALUES: Record<CurveParameter, { min: number; max: number; describe: string; why: string }> = {
  guidance: {
    min: 0,
    max: MAX_GUIDANCE,
    describe: `a guidance scale w in [0, ${MAX_GUIDANCE}]`,
    why: 'w = 1 is no guidance, w = 0 the unconditional model; a negative w is not allowed in a curve file',
  },
  churn: {
    min: 0,
    max: GAMMA_MAX,
    describe: 'a churn γ in [0, √2−1 ≈ 0.4142]',
    why: "EDM's range: t̂ = t(1+γ) ≤ √2·t; γ is per step, not S_churn",
  },
};

const EXAMPLE = '{"parameter": "guidance", "points": [{"sigma": 80, "value": 1}, {"sigma": 1, "value": 2}]}';

const count = z.number().int().nonnegative();
const SOURCE_KEYS = {
  run: z.string(),
  policy: z.string(),
  model: z.string(),
  iteration: count,
  sampler: z.string(),
  steps: count,
  n: count,
  seed: count,
  temperature: z.number().positive(),
  version: z.string(),
} satisfies Record<keyof CurveSource, z.ZodType>;
const SOURCE_EXAMPLE = '{"run": "runs/cfg-kl", "iteration": 200}';

const CurveFileSchema = z.strictObject({
  parameter: z.enum(CURVE_PARAMETERS),
  points: z.array(z.strictObject({ sigma: z.number(), value: z.number() })),
  source: z.strictObject(Object.fromEntries(Object.entries(SOURCE_KEYS).map(([k, v]) => [k, v.optional()]))).optional(),
});

const show = (v: unknown): string =>
  v === undefined
    ? 'nothing'
    : typeof v === 'number'
      ? String(v)
      : Array.isArray(v)
        ? v.length === 0
          ? 'an empty list'
          : 'a list'
        : (JSON.stringify(v) ?? String(v));

const at = (v: unknown, path: readonly PropertyKey[]): unknown =>
  path.reduce<unknown>(
    (cur, p) => (cur !== null && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[p] : undefined),
    v,
  );

/** What is wrong with a curve file's contents, one sentence per problem (each says what to do); empty when valid. */
export function curveProblems(json: unknown): string[] {
  const out: string[] = [];
  const r = CurveFileSchema.safeParse(json);
  for (const i of r.success ? [] : r.error.issues) {
    const p = i.path;
    if (p.length === 0) {
      out.push(
        i.code === 'unrecognized_keys'
          ? `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}; a curve file has "parameter" and "points" only (and optionally "source")`
          : `a curve file is a JSON object such as ${EXAMPLE}, got ${Array.isArray(json) ? 'a list' : show(json)}`,
      );
    } else if (p[0] === 'source') {
      const key = p[1];
      out.push(
        key !== undefined
          ? `source.${String(key)} must be ${key === 'temperature' ? 'a number > 0' : SOURCE_KEYS[key as keyof CurveSource] === count ? 'a whole number ≥ 0' : 'a string'}, got ${show(at(json, p))}`
          : i.code === 'unrecognized_keys'
            ? `"source" has unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}; it may hold ${Object.keys(SOURCE_KEYS).join(', ')}`
            : `"source" must be an object saying where the curve came from, such as ${SOURCE_EXAMPLE}, got ${show(at(json, p))}`,
      );
    } else if (p[0] === 'parameter') {
      out.push(
        `"parameter" must be one of ${CURVE_PARAMETERS.join(', ')} (the setting the curve gives), got ${show(at(json, p))}`,
      );
    } else if (p.length === 1) {
      out.push(`"points" must be a list of points {"sigma": σ, "value": v}, got ${show(at(json, p))}`);
    } else if (p.length === 2) {
      out.push(
        i.code === 'unrecognized_keys'
          ? `points[${String(p[1])}] has unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}; a point has "sigma" and "value" only`
          : `points[${String(p[1])}] must be an object {"sigma": σ, "value": v}, got ${show(at(json, p))}`,
      );
    } else {
      // JSON.parse reads 1e400 as Infinity: say what the file needs, a finite number.
      const what = p[2] === 'sigma' ? 'a finite noise level σ > 0' : 'a finite number';
      out.push(`points[${String(p[1])}].${String(p[2])} must be ${what}, got ${show(at(json, p))}`);
    }
  }
  // The checks of values, on whatever is well formed (a file with a bad key still hears about its negative w).
  const points = at(json, ['points']);
  if (!Array.isArray(points)) return [...new Set(out)];
  if (points.length === 0) out.push(`"points" is an empty list; give at least one point {"sigma": σ, "value": v}`);
  if (points.length > MAX_CURVE_POINTS)
    out.push(
      `"points" has ${points.length} points; a curve may have at most ${MAX_CURVE_POINTS} (one per noise level)`,
    );
  const parameter = at(json, ['parameter']);
  const bounds = (CURVE_PARAMETERS as readonly unknown[]).includes(parameter)
    ? CURVE_VALUES[parameter as CurveParameter]
    : null;
  const sigmas = points.map((pt) => at(pt, ['sigma']));
  points.forEach((pt, k) => {
    const [sigma, value] = [at(pt, ['sigma']), at(pt, ['value'])];
    if (typeof sigma === 'number' && Number.isFinite(sigma) && !(sigma > 0))
      out.push(`points[${k}].sigma must be a noise level σ > 0, got ${sigma}`);
    if (bounds && typeof value === 'number' && Number.isFinite(value) && !(value >= bounds.min && value <= bounds.max))
      out.push(`points[${k}].value must be ${bounds.describe}, got ${value} (${bounds.why})`);
  });
  // σ strictly monotone, in the direction of the first two points; the first break is the problem.
  if (sigmas.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    const sg = sigmas as number[];
    const falling = sg[1]! < sg[0]!;
    for (let k = 1; k < sg.length; k++) {
      const [a, b] = [sg[k - 1]!, sg[k]!];
      if (a === b) {
        out.push(`points[${k}].sigma = ${b} repeats points[${k - 1}].sigma; give each σ once`);
        break;
      }
      if (falling !== b < a) {
        out.push(
          `the points are unsorted: points[${k}].sigma = ${b} follows points[${k - 1}].sigma = ${a} after σ ${falling ? 'fell' : 'rose'}; list them by σ, strictly decreasing (the order a sampler visits them) or strictly increasing`,
        );
        break;
      }
    }
  }
  return [...new Set(out)];
}

/** A curve file's contents, checked; a RangeError naming `source`, the point and what to do. */
export function parseCurve(json: unknown, source: string): SamplerCurve {
  const problems = curveProblems(json);
  if (problems.length > 0) throw new RangeError(`${source}: ${problems.join('; ')}`);
  const c = json as SamplerCurve;
  // A fresh object of the known keys: what is kept is what was checked (not the source: see its note).
  return { parameter: c.parameter, points: c.points.map(({ sigma, value }) => ({ sigma, value })) };
}

/** A curve file's text: JSON, then parseCurve. */
export function parseCurveText(text: string, source: string): SamplerCurve {
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, '')); // a byte-order mark (Windows editors) is not content
  } catch (e) {
    // Python's json.dump writes NaN and Infinity unless allow_nan=False; JSON has neither.
    const nonFinite = /\b(NaN|Infinity)\b/.exec(text);
    throw new RangeError(
      nonFinite
        ? `${source}: holds ${nonFinite[1]}, which is not JSON; every σ and value must be a finite number (in Python, json.dump(..., allow_nan=False) catches this)`
        : `${source}: is not JSON (${(e as Error).message}); a curve file is a JSON object such as ${EXAMPLE}`,
      { cause: e },
    );
  }
  return parseCurve(json, source);
}

/** A curve inside saved settings (grid results, a request): the checks of a file, for the given parameter. */
export function curveSchema(parameter: CurveParameter): z.ZodType<SamplerCurve> {
  return z.unknown().transform((v, ctx) => {
    const problems = curveProblems(v);
    if (problems.length === 0 && (v as SamplerCurve).parameter !== parameter)
      problems.push(`holds a ${(v as SamplerCurve).parameter} curve where a ${parameter} curve belongs`);
    if (problems.length > 0) {
      ctx.addIssue({ code: 'custom', message: problems.join('; ') });
      return z.NEVER;
    }
    return parseCurve(v, parameter);
  }) as unknown as z.ZodType<SamplerCurve>;
}

/** The curve's value at σ: linear in log σ between points, the end value beyond them (σ ≤ 0: the low end's). */
export function curveAt(curve: SamplerCurve, sigma: number): number {
  const pts = curve.points;
  const n = pts.length;
  // Points by rising σ, whichever way the file lists them.
  const rising = n < 2 || pts[0]!.sigma < pts[n - 1]!.sigma;
  const p = (k: number) => pts[rising ? k : n - 1 - k]!;
  if (Number.isNaN(sigma)) return NaN;
  if (sigma <= p(0).sigma) return p(0).value;
  if (sigma >= p(n - 1).sigma) return p(n - 1).value;
  // The segment p(lo).sigma < σ ≤ p(hi).sigma, by bisection.
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (p(mid).sigma < sigma) lo = mid;
    else hi = mid;
  }
  const a = p(lo);
  const b = p(hi);
  const t = (Math.log(sigma) - Math.log(a.sigma)) / (Math.log(b.sigma) - Math.log(a.sigma));
  return (1 - t) * a.value + t * b.value; // exact at the points (t = 0, 1)
}
