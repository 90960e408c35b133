// The sampler flags that sample, eval and grid take: one per sampler setting, from its schema
// (shared/sampler-settings.ts), checked against the model; and three that are not one setting each:
//   --guidance-interval W:σ_lo:σ_hi   sets guidance, guidance-sigma-lo and guidance-sigma-hi at once
//   --guidance-curve FILE             w(σ) from a curve file (shared/curve.ts)
//   --churn-curve FILE                γ(t_i) from a curve file
//   --sigmas FILE                     the noise levels from a schedule file (shared/sigmas.ts); sets steps

import { readFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import type { Denoiser } from '../main/engine/models/model';
import {
  resolveSettings,
  scheduleFor,
  type ClassChoice,
  type ResolvedSettings,
} from '../main/engine/samplers/generate';
import { idleIntervalNote } from '../main/engine/samplers/guidance';
import {
  DEFAULT_SAMPLER_SETTINGS,
  parseSamplerSettings,
  RESTART_FIELDS,
  SAMPLER_FIELDS,
  type SamplerSettings,
} from '../shared/sampler-settings';
import { fieldError, flagOf, flagOptions, kebab, parseFlagValue, valuesFromFlags } from '../shared/schema';
import { infReplacer } from '../shared/json';
import { parseCurveText, type CurveParameter, type SamplerCurve } from '../shared/curve';
import { parseSigmasText } from '../shared/sigmas';
import { num, UsageError } from './common';

/** The sampler flags shared by sample, eval and grid: every sampler setting's flag (shared/sampler-settings.ts). */
export const SAMPLER_OPTIONS = {
  ...flagOptions(SAMPLER_FIELDS),
  ...flagOptions(RESTART_FIELDS),
  'guidance-interval': { type: 'string' },
  'guidance-curve': { type: 'string' },
  'churn-curve': { type: 'string' },
  sigmas: { type: 'string' },
} satisfies ParseArgsConfig['options'];

/** The settings each flag that is not one setting stands in for (by their flags). */
const STANDS_FOR = {
  'guidance-interval': ['guidance', 'guidance-sigma-lo', 'guidance-sigma-hi'],
  'guidance-curve': ['guidance', 'guidance-sigma-lo', 'guidance-sigma-hi'],
  'churn-curve': ['churn', 's-tmin', 's-tmax'],
  sigmas: ['steps', 'schedule', 'rho', 'sigma-min', 'sigma-max'],
} as const;

const given = (v: SamplerFlagValues, flag: string): boolean => v[flag] !== undefined;
const showFlag = (v: SamplerFlagValues, flag: string): string => `--${flag} ${String(v[flag])}`;

/**
 * The flag on this command line that sets the setting `name` (a flag, as the grid names its axes):
 * "--guidance 2", or "--guidance-interval 2:0.28:5.4" / "--guidance-curve w.json" standing in for
 * it; null when none does.
 */
export function flagSetting(v: SamplerFlagValues, name: string): string | null {
  if (given(v, name)) return showFlag(v, name);
  for (const [flag, settings] of Object.entries(STANDS_FOR))
    if (given(v, flag) && (settings as readonly string[]).includes(name)) return showFlag(v, flag);
  return null;
}

/**
 * A warning when --churn-curve holds a recipe exported at another number of steps than the one
 * sampled: γ is per step, and the noise a step adds grows with γ, so the same γ(σ) over more steps
 * adds more noise in all (w(σ) has no such dependence). null when the file does not say its steps.
 * It reads the file's "source" again: the curve curveFromFlag keeps is its points alone (shared/curve.ts,
 * the note on the source), and a second read of one small file per command costs nothing.
 */
function churnCurveNote(v: SamplerFlagValues, steps: number): string | null {
  const path = v['churn-curve'];
  if (typeof path !== 'string') return null;
  let from: unknown;
  try {
    from = (JSON.parse(readFileSync(path, 'utf8').replace(/^\uFEFF/, '')) as { source?: { steps?: unknown } }).source
      ?.steps;
  } catch {
    return null; // read and checked by curveFromFlag
  }
  return typeof from === 'number' && from !== steps
    ? `--churn-curve ${path} was exported from a sampler of ${from} steps and is used at ${steps}: γ is per step, so the same γ(σ) over ${steps > from ? 'more' : 'fewer'} steps adds ${steps > from ? 'more' : 'less'} noise in all; give --steps ${from} to sample as the run did`
    : null;
}

/** Warnings on settings made from these flags that sample other than they look (sample, eval, grid's base). */
export function samplingNotes(model: Denoiser, v: SamplerFlagValues, settings: ResolvedSettings): string[] {
  return [idleIntervalNote(settings, scheduleFor(model, settings)), churnCurveNote(v, settings.steps)].filter(
    (n): n is string => n !== null,
  );
}

/** --guidance-interval W:σ_lo:σ_hi as the three settings, each within its field's bounds. */
function intervalFromFlag(text: string): Pick<SamplerSettings, 'guidance' | 'guidanceSigmaLo' | 'guidanceSigmaHi'> {
  const parts = text.split(':');
  if (parts.length !== 3)
    throw new UsageError(
      `--guidance-interval takes W:σ_lo:σ_hi (e.g. 2:0.28:5.4: w = 2 where 0.28 < σ ≤ 5.4, 1 elsewhere; σ_hi may be inf), got "${text}"`,
    );
  const keys = ['guidance', 'guidanceSigmaLo', 'guidanceSigmaHi'] as const;
  const names = ['W', 'σ_lo', 'σ_hi'];
  const values = keys.map((k, i) => {
    const x = parseFlagValue(SAMPLER_FIELDS[k], parts[i]!);
    const problem = fieldError(SAMPLER_FIELDS[k], x);
    if (problem) throw new UsageError(`--guidance-interval ${text}: ${names[i]} ${problem}, got "${parts[i]!.trim()}"`);
    return x as number;
  });
  const [guidance, lo, hi] = values as [number, number, number];
  if (!(lo < hi))
    throw new UsageError(`--guidance-interval ${text}: σ_lo must be < σ_hi (w applies where σ_lo < σ ≤ σ_hi)`);
  return { guidance, guidanceSigmaLo: lo, guidanceSigmaHi: hi };
}

/** The text of a file a flag names; a missing file, a folder or an unreadable one is a UsageError saying what to give (`what`). */
function readFlagFile(flag: string, path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT'
        ? `--${flag} ${path}: no such file; give ${what}`
        : code === 'EISDIR'
          ? `--${flag} ${path} is a directory; give ${what.replace(/ \(.*$/, '')}`
          : `--${flag} ${path}: cannot be read (${(e as Error).message})`,
    );
  }
}

/** A curve file given to --guidance-curve / --churn-curve: read, checked, and of the flag's parameter. */
export function curveFromFlag(
  flag: 'guidance-curve' | 'churn-curve',
  path: string,
  parameter: CurveParameter,
): SamplerCurve {
  const text = readFlagFile(
    flag,
    path,
    `a curve file (JSON: {"parameter": "${parameter}", "points": [{"sigma": σ, "value": v}, …]})`,
  );
  let curve: SamplerCurve;
  try {
    curve = parseCurveText(text, path);
  } catch (e) {
    throw new UsageError(`--${flag} ${(e as Error).message}`);
  }
  if (curve.parameter !== parameter)
    throw new UsageError(
      `--${flag} ${path}: holds a ${curve.parameter} curve ("parameter": "${curve.parameter}"); --${flag} takes a ${parameter} curve (give it to --${curve.parameter}-curve)`,
    );
  return curve;
}

/** A schedule file given to --sigmas: read and checked (the model's range is checked with the other settings). */
export function sigmasFromFlag(path: string): number[] {
  const text = readFlagFile('sigmas', path, 'a schedule file (a JSON list of noise levels, σ_max … σ_min, then 0)');
  try {
    return parseSigmasText(text, path);
  } catch (e) {
    throw new UsageError(`--sigmas ${(e as Error).message}`);
  }
}

/** The settings the flags that are not one setting each stand for, refusing the flags they would silently override. */
function standInSettings(v: SamplerFlagValues): Partial<SamplerSettings> {
  const out: Partial<SamplerSettings> = {};
  for (const [flag, settings] of Object.entries(STANDS_FOR)) {
    if (!given(v, flag)) continue;
    const clash = settings.find((f) => given(v, f));
    if (clash)
      throw new UsageError(
        `--${flag} cannot be combined with --${clash}: ${
          flag === 'guidance-interval'
            ? 'it sets guidance, guidance-sigma-lo and guidance-sigma-hi at once'
            : flag === 'sigmas'
              ? 'the list gives every noise level, and so the steps'
              : `the curve gives ${flag === 'guidance-curve' ? 'w at every σ' : 'γ at every step'}`
        }; drop one`,
      );
  }
  if (given(v, 'guidance-curve') && given(v, 'guidance-interval'))
    throw new UsageError(
      '--guidance-curve cannot be combined with --guidance-interval: the curve gives w at every σ; drop one',
    );
  if (typeof v['guidance-interval'] === 'string') Object.assign(out, intervalFromFlag(v['guidance-interval']));
  if (typeof v['guidance-curve'] === 'string')
    out.guidanceCurve = curveFromFlag('guidance-curve', v['guidance-curve'], 'guidance');
  if (typeof v['churn-curve'] === 'string') out.churnCurve = curveFromFlag('churn-curve', v['churn-curve'], 'churn');
  if (typeof v['sigmas'] === 'string') {
    out.sigmas = sigmasFromFlag(v['sigmas']);
    out.steps = out.sigmas.length - 1;
  }
  return out;
}

/** The flags of every command that samples a model: sample, eval, grid. */
export const SAMPLING_RUN_OPTIONS = {
  model: { type: 'string' },
  ...SAMPLER_OPTIONS,
  class: { type: 'string' },
  n: { type: 'string' },
  batch: { type: 'string' },
  seed: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

type SamplerFlagValues = Readonly<Record<string, unknown>>;

/** Sampler settings from flags on top of `base`, checked against the model (errors are UsageErrors naming the flag). */
export function samplerSettingsFromFlags(
  model: Denoiser,
  v: SamplerFlagValues,
  base: Partial<SamplerSettings> = {},
  /** What `base` is ("--baseline no-guidance"): a flag changing one of its settings is refused, naming both. */
  baseName?: string,
): ResolvedSettings {
  const top = valuesFromFlags(SAMPLER_FIELDS, v);
  const restart = valuesFromFlags(RESTART_FIELDS, v);
  if (baseName) {
    const same = (a: unknown, b: unknown): boolean => JSON.stringify(a, infReplacer) === JSON.stringify(b, infReplacer);
    const mine: Record<string, unknown> = { ...top, ...standInSettings(v) };
    const clashes = [
      ...Object.keys(mine)
        .filter((k) => k in base && !same(mine[k], base[k as keyof SamplerSettings]))
        .map((k) => [k, base[k as keyof SamplerSettings], flagSetting(v, kebab(k))] as const), // stand-ins (guidance-curve) included
      ...Object.keys(restart)
        .filter((k) => base.restart && !same(restart[k], base.restart[k as keyof SamplerSettings['restart']]))
        .map(
          (k) =>
            [
              `restart.${k}`,
              base.restart![k as keyof SamplerSettings['restart']],
              showFlag(v, flagOf(k, RESTART_FIELDS[k as keyof typeof RESTART_FIELDS]) ?? k),
            ] as const,
        ),
    ];
    if (clashes.length > 0)
      throw new UsageError(
        clashes
          .map(
            ([k, was, flag]) =>
              `${baseName} sets ${kebab(k)} ${was === null ? 'to none' : typeof was === 'object' ? 'to its own curve' : `= ${was === Infinity ? 'inf' : String(was)}`}, and ${flag ?? 'a flag'} changes it`,
          )
          .join('; ') +
          `: drop the flag to sample the baseline as it is, or drop ${baseName} to sample your own settings`,
      );
  }
  const merged = {
    ...DEFAULT_SAMPLER_SETTINGS,
    ...base,
    ...top,
    ...standInSettings(v),
    restart: { ...DEFAULT_SAMPLER_SETTINGS.restart, ...base.restart, ...restart },
  };
  try {
    return resolveSettings(model, parseSamplerSettings(merged, 'sampler flags'));
  } catch (e) {
    throw new UsageError(
      (e as Error).message
        .replace(/^sampler flags: /, '')
        .replace(/(^|; )([a-z-]+) must be/g, '$1--$2 must be')
        .replace(/must be ([≤<]) ([a-z-]+)/g, 'must be $1 --$2')
        .replace(/(^|; )([a-z-]+) cannot be combined with ([a-z-]+)/g, '$1--$2 cannot be combined with --$3')
        .replace(/; leave ([a-z-]+) at/g, '; leave --$1 at'),
    );
  }
}

/** --class K|random|none */
export function classesFromFlag(v: string | undefined): ClassChoice {
  if (v === undefined || v === 'random' || v === 'none') return v ?? 'random';
  return num(v, 'class', { int: true, min: 0, max: 2 ** 31 - 1 })!; // an int32 label; the model checks its own range
}
