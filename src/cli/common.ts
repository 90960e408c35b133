// Shared pieces of the command line: errors, number flags, output (results to stdout, events to
// stderr), and the sampler flags that sample, eval and grid all take.

import { existsSync, statSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import type { Denoiser } from '../main/engine/models/model';
import { resolveSettings, type ClassChoice, type ResolvedSettings } from '../main/engine/samplers/generate';
import { DEFAULT_SAMPLER_SETTINGS, parseSamplerSettings, RESTART_FIELDS, SAMPLER_FIELDS, SAMPLER_KNOBS, type SamplerSettings } from '../shared/sampler-settings';
import { flagOptions, helpLines, valuesFromFlags } from '../shared/schema';
import type { EngineEvent } from '../shared/events';
import { VERSION } from '../shared/version';

/** An error the user can fix: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}

export const USAGE = `Sampler Studio ${VERSION} — tune diffusion samplers

Usage: sampler-studio <command> [flags]      (npm run cli -- <command> [flags])

Commands:
  models [--model DIR]...            list bundled models (and given directories) with their manifest facts
  sample --model ID|DIR --out F.npy  draw samples
    sampler flags (sample, eval, grid):
${[...helpLines(SAMPLER_FIELDS, '      '), ...helpLines(RESTART_FIELDS, '      ')].join('\n')}
      --class K|random|none (random)
      --n N (64)   --batch B (256)   --seed S (0)   --init-noise noise.npy
      --grid grid.png   --device auto|cpu|cuda
  sample --policy RUN_DIR|policy.onnx --out F.npy [--temperature T] [--model ID|DIR] [--class K] [--n N] [--seed S]
                                     sample with a learned policy: a run's EMA heads, or an exported file
                                     through ONNX Runtime (the policy fixes the sampler and its steps)
  eval --model ID|DIR [sample flags] --n N (2048)   sample and score against the model's data
      --metrics fid,kid,precision,recall,density,coverage,classes
      --baseline no-guidance|best-constant|edm-stochastic|equal-nfe  [--nfe N] [--grid-result DIR]
      --kid-subsets K (100) --kid-subset-size M (1000)
  eval --policy RUN_DIR|policy.onnx [--n N (4000)] [--seed S] [--temperature T] [--grid-result DIR] [--per-class]
      [--best-constant]              cfg/gamma: also search the best constant action (grid over the policy's
                                     action values, chosen by FID on seed S+1) and add it as a row
                                     sample with a learned policy and score it next to the baselines
  grid --model ID|DIR [sample flags] --axis NAME=A:B:STEP|V1,V2,... [--axis ...] --out DIR
                                     grid search (cross product of the axes, same seed in every cell);
                                     re-running continues it; prints every cell, the best, total NFE
      axes: every numeric sampler flag: ${SAMPLER_KNOBS.map((k) => k.name).join(' ')}
      --metric fid|kid|precision|recall|density|coverage|class_tv|class_accuracy (fid)
      --metrics LIST (the --metric's)   --n N (2048)   --restart (discard saved results in DIR)
  train --model ID|DIR --run-dir DIR [learner flags]   learn a sampling policy (inverse RL); a run directory
      every learner setting is a flag: --intervention cfg|gamma|renoise --divergence kl|rkl|tv|hellinger|js|chi2
      --conditioning sigma|state|state+class --actions v1,v2,… --steps N --iterations N --trajectories N …
      (train --help lists them all with their bounds and defaults)   --init-from-grid DIR
  train --resume DIR [--iterations N]  continue a run where its last checkpoint left it
  export --run RUN_DIR --out policy.onnx [--checkpoint FILE] [--force]
                                     the run's EMA policy as one self-contained ONNX file (+ policy.json),
                                     checked against the engine in a fresh ONNX Runtime session first
  fid --a A.npy|A.npz --b B.npy|B.npz [--save-a a.npz --save-b b.npz]   features [n,d] or pytorch-fid stats
  kid --real R.npy --fake F.npy [--subsets K --subset-size M --seed S]
  prdc --real R.npy --fake F.npy [--k 3] [--k-dc 5]
  features --model ID|DIR --in samples.npy --out features.npy [--logits logits.npy]
Global: --json (final stdout line is the result), --help`;

export function num(v: string | undefined, flag: string, opts: { int?: boolean; min?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const x = v === 'inf' || v === 'Infinity' ? Infinity : Number(v);
  if (Number.isNaN(x) || v.trim() === '') throw new UsageError(`--${flag} must be a number, got "${v}"`);
  if (opts.int && !Number.isInteger(x)) throw new UsageError(`--${flag} must be an integer, got "${v}"`);
  if (opts.min !== undefined && x < opts.min) throw new UsageError(`--${flag} must be ≥ ${opts.min}, got ${v}`);
  return x;
}

/** Where output goes: result objects to stdout, events to stderr. */
export class Reporter {
  private lastDraw = 0;
  constructor(readonly json: boolean) {}

  event(e: EngineEvent): void {
    if (process.stderr.isTTY && !this.json) {
      if (e.type === 'progress') {
        const now = performance.now();
        if (now - this.lastDraw < 100 && e.done < e.total) return;
        this.lastDraw = now;
        const w = 30;
        const f = e.total > 0 ? e.done / e.total : 0;
        const bar = '█'.repeat(Math.round(f * w)).padEnd(w, '·');
        const eta = e.etaSeconds === null ? '' : ` eta ${e.etaSeconds.toFixed(1)}s`;
        process.stderr.write(`\r${e.task} ${bar} ${(f * 100).toFixed(0).padStart(3)}% ${e.done}/${e.total} ${e.unit} ${e.elapsedSeconds.toFixed(1)}s${eta}  `);
        if (e.done >= e.total) process.stderr.write('\n');
      } else if (e.type === 'log') process.stderr.write(`${e.level}: ${e.message}\n`);
      // Metrics, profiles and sample pictures are for machines (and files): JSON lines only.
    } else {
      // A sample picture's bytes stay in its PNG file: the line names the path.
      const line = e.type === 'samples' ? { type: e.type, run: e.run, iteration: e.iteration, path: e.path } : e;
      process.stderr.write(JSON.stringify(line) + '\n');
    }
  }

  result(obj: Record<string, unknown>, human: string): void {
    if (this.json) process.stdout.write(JSON.stringify(obj) + '\n');
    else process.stdout.write(human + '\n');
  }
}

/** The sampler flags shared by sample, eval and grid: every sampler setting's flag (shared/sampler-settings.ts). */
export const SAMPLER_OPTIONS = { ...flagOptions(SAMPLER_FIELDS), ...flagOptions(RESTART_FIELDS) } satisfies ParseArgsConfig['options'];

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
export function samplerSettingsFromFlags(model: Denoiser, v: SamplerFlagValues, base: Partial<SamplerSettings> = {}): ResolvedSettings {
  const top = valuesFromFlags(SAMPLER_FIELDS, v);
  const restart = valuesFromFlags(RESTART_FIELDS, v);
  const merged = { ...DEFAULT_SAMPLER_SETTINGS, ...base, ...top, restart: { ...DEFAULT_SAMPLER_SETTINGS.restart, ...base.restart, ...restart } };
  try {
    return resolveSettings(model, parseSamplerSettings(merged, 'sampler flags'));
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^sampler flags: /, '').replace(/(^|; )([a-z-]+) must be/g, '$1--$2 must be'));
  }
}

/** --class K|random|none */
export function classesFromFlag(v: string | undefined): ClassChoice {
  if (v === undefined || v === 'random' || v === 'none') return v ?? 'random';
  return num(v, 'class', { int: true, min: 0 })!;
}

/** --device auto|cpu|cuda */
export function deviceFromFlag(v: string | undefined): 'auto' | 'cpu' | 'cuda' {
  if (v && !['auto', 'cpu', 'cuda'].includes(v)) throw new UsageError(`--device must be auto, cpu or cuda, got "${v}"`);
  return (v as 'auto' | 'cpu' | 'cuda' | undefined) ?? 'auto';
}

/** Refuses an output path that is an existing directory. */
export function checkOutputPath(flag: string, path: string | undefined): void {
  if (path && existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`--${flag} ${path} is a directory; give a file name`);
}

/** File-system errors while writing results are the user's to fix (a path, a permission): say so. */
export async function writeOutput(what: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new UsageError(`could not write ${what}: ${(e as Error).message}`);
    throw e;
  }
}

export function stats(a: Int32Array): { mean: number; min: number; max: number } {
  let s = 0;
  let mn = Infinity;
  let mx = -Infinity;
  for (const x of a) {
    s += x;
    mn = Math.min(mn, x);
    mx = Math.max(mx, x);
  }
  return { mean: s / a.length, min: mn, max: mx };
}
