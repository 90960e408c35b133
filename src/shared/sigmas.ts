// Schedule files: the noise levels a sampler visits, as a plain JSON list
//
//   [80, 41.2, 19.8, …, 0.011, 0.002, 0]
//
// σ_0 > σ_1 > … > σ_{N−1} > 0, then t_N = 0: N steps (Heun: 2N − 1 denoiser evaluations). It is the
// list ComfyUI's SIGMAS and diffusers' `sigmas=` take as they are: ComfyUI's samplers step from each
// entry to the next and end on the trailing 0; diffusers' schedulers (EulerDiscreteScheduler and the
// others with a `sigmas` argument) take N = len(sigmas) − 1 steps, their timesteps from sigmas[:-1].
// `export --schedule` and `optimize-schedule` write it; `--sigmas FILE` samples with it.
//
// [Note: one format, no envelope]
// A curve file (shared/curve.ts) is an object because it names its parameter; a schedule is only
// ever a σ list, and a bare list is what the other tools load without a line of glue
// (`torch.tensor(json.load(f))`), so the file is the list itself. Where a schedule came from goes in
// the report written beside it, not in the file.

import { MAX_STEPS, SIGMA_LIMIT } from './limits';

const EXAMPLE = '[80, 17.5, 2.9, 0.4, 0.002, 0]';

const show = (v: unknown): string =>
  v === undefined ? 'nothing' : typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v));

/** What is wrong with a schedule's contents, one sentence per problem (each naming the entry and what to do); empty when valid. */
export function sigmasProblems(json: unknown): string[] {
  if (!Array.isArray(json))
    return [
      `a schedule file is a JSON list of noise levels, σ_max … σ_min, then 0, such as ${EXAMPLE}; got ${json !== null && typeof json === 'object' ? 'an object' : show(json)}`,
    ];
  if (json.length === 0) return [`the list is empty; give the noise levels σ_max … σ_min, then 0, such as ${EXAMPLE}`];
  const out: string[] = [];
  const bad = json.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
  if (bad >= 0)
    return [`entry ${bad} must be a finite number (a noise level σ, or the final 0), got ${show(json[bad])}`];
  const s = json as number[];
  const n = s.length - 1;
  if (s.length < 2)
    return [`the list has one entry (${s[0]}); give at least one noise level and the final 0, such as [${s[0]}, 0]`];
  if (n > MAX_STEPS) out.push(`the list has ${n} steps; a schedule may have at most ${MAX_STEPS}`);
  if (s[n] !== 0)
    out.push(
      `the last entry must be 0 (the clean sample t_N = 0, as ComfyUI's SIGMAS and diffusers' sigmas end), got ${s[n]}; append 0 to the list`,
    );
  for (let i = 0; i < n; i++) {
    if (!(s[i]! > 0)) {
      out.push(`entry ${i} must be a noise level σ > 0 (only the last entry is 0), got ${s[i]}`);
      return out; // the order of a list with a non-positive level says nothing more
    }
    if (s[i]! > SIGMA_LIMIT) {
      out.push(`entry ${i} is σ = ${s[i]}, above any model's range (at most ${SIGMA_LIMIT})`);
      break;
    }
  }
  for (let i = 1; i <= n; i++)
    if (!(s[i]! < s[i - 1]!)) {
      out.push(
        `the levels must be strictly decreasing: entry ${i} (${s[i]}) ${s[i] === s[i - 1] ? 'repeats' : 'is above'} entry ${i - 1} (${s[i - 1]}); list them from σ_max down to σ_min, then 0`,
      );
      break;
    }
  return out;
}

/** A schedule's contents, checked: the list, or a RangeError naming `source`, the entry and what to do. */
export function parseSigmas(json: unknown, source: string): number[] {
  const problems = sigmasProblems(json);
  if (problems.length > 0) throw new RangeError(`${source}: ${problems.join('; ')}`);
  return [...(json as number[])];
}

/** A schedule file's text: JSON, then parseSigmas. */
export function parseSigmasText(text: string, source: string): number[] {
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, '')); // a byte-order mark (Windows editors) is not content
  } catch (e) {
    // Python's json.dump (and torch's tolist() through it) writes NaN and Infinity; JSON has neither.
    const nonFinite = /\b(NaN|-?Infinity)\b/.exec(text);
    throw new RangeError(
      nonFinite
        ? `${source}: holds ${nonFinite[1]}, which is not JSON; every level must be a finite number (in Python, json.dump(..., allow_nan=False) catches this)`
        : `${source}: is not JSON (${(e as Error).message}); a schedule file is a JSON list such as ${EXAMPLE}`,
      { cause: e },
    );
  }
  return parseSigmas(json, source);
}

/** A schedule file's text for a list of levels (t_N = 0 last): one line, every σ at full precision. */
export function sigmasText(schedule: ArrayLike<number>): string {
  return `[${Array.from(schedule, (v) => String(v)).join(', ')}]\n`;
}
