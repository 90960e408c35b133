// Shared pieces of the command line: errors, number flags, output (results to stdout, events to
// stderr). The sampler flags are in sampler-flags.ts, the help text in usage.ts (each loaded by the
// commands that need them: `models` pays for neither).

import { existsSync, statSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { EngineEvent } from '../shared/events';

/** An error the user can fix: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}

/**
 * node:util parseArgs (strict), refusing a flag given twice that takes one value: parseArgs keeps
 * the last silently, so `--guidance-interval 2:0.28:2.9 … --guidance-interval 3:0:inf` would
 * sample the second without a word.
 */
export function parseFlags<O extends ParseArgsConfig['options']>(
  argv: string[],
  options: O,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true }>> {
  const parsed = parseArgs({ args: argv, options, strict: true, tokens: true });
  const seen = new Map<string, string[]>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option' || options?.[t.name]?.multiple) continue;
    seen.set(t.name, [...(seen.get(t.name) ?? []), t.value ?? '']);
  }
  for (const [name, values] of seen)
    if (values.length > 1)
      throw new UsageError(
        `--${name} is given ${values.length} times${values.every((x) => x === '') ? '' : ` (${values.join(', then ')})`}; give it once`,
      );
  return parsed as unknown as ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true }>>;
}

/** Prints the whole --help text (built on demand: it reads the schemas). */
export async function printUsage(): Promise<void> {
  process.stdout.write((await import('./usage')).usage() + '\n');
}

/**
 * A number flag that is not a setting (--n, --batch, --seed, …; the settings' flags come from their
 * schemas). Every one has both bounds (shared/limits.ts says why each is where it is), and a value
 * outside them is refused in the schemas' words: "--n must be a whole number in [1, 1000000], got 1e12".
 */
export function num(
  v: string | undefined,
  flag: string,
  opts: { int?: boolean; min: number; max: number },
): number | undefined {
  if (v === undefined) return undefined;
  const x = v === 'inf' || v === 'Infinity' ? Infinity : Number(v);
  if (Number.isNaN(x) || v.trim() === '') throw new UsageError(`--${flag} must be a number, got "${v}"`);
  if ((opts.int && !Number.isInteger(x)) || !(x >= opts.min && x <= opts.max))
    throw new UsageError(
      `--${flag} must be ${opts.int ? 'a whole number' : 'a number'} in [${opts.min}, ${opts.max}], got ${v.trim()}`,
    );
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
        process.stderr.write(
          `\r${e.task} ${bar} ${(f * 100).toFixed(0).padStart(3)}% ${e.done}/${e.total} ${e.unit} ${e.elapsedSeconds.toFixed(1)}s${eta}  `,
        );
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

/** --device auto|cpu|cuda */
export function deviceFromFlag(v: string | undefined): 'auto' | 'cpu' | 'cuda' {
  if (v && !['auto', 'cpu', 'cuda'].includes(v)) throw new UsageError(`--device must be auto, cpu or cuda, got "${v}"`);
  return (v as 'auto' | 'cpu' | 'cuda' | undefined) ?? 'auto';
}

/** Refuses an output path that is an existing directory. */
export function checkOutputPath(flag: string, path: string | undefined): void {
  if (path && existsSync(path) && statSync(path).isDirectory())
    throw new UsageError(`--${flag} ${path} is a directory; give a file name`);
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
