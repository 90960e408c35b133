// Shared pieces of the command line: errors, number flags, output (results to stdout, events to
// stderr). The sampler flags are in sampler-flags.ts, the help text in usage.ts (each loaded by the
// commands that need them: `models` pays for neither).

import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { EngineEvent } from '../shared/events';
import { clock } from '../shared/clock';
import { unreadGiven, type Fields } from '../shared/schema';

/** An error the user can fix: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}

/**
 * Refuses the flags given for settings this run would not read (the schema's readWhen: --kl-weight
 * with q-learning, --divergence with --objective reward): a mistake to say, not to ignore.
 */
export function refuseUnread(
  fields: Fields,
  given: Readonly<Record<string, unknown>>,
  config: Readonly<Record<string, unknown>>,
  flag: (key: string) => string,
): void {
  const unread = unreadGiven(fields, Object.keys(given), config, flag);
  if (unread.length > 0)
    throw new UsageError(`${unread.join('; ')}: drop ${unread.length > 1 ? 'those flags' : 'that flag'}`);
}

/** A flag the command does not have, or one used the wrong way; the CLI adds where to find its flags. */
export class FlagError extends UsageError {}

// [Note: did you mean]
// The nearest name by optimal-string-alignment distance (Levenshtein plus swapping two neighbours:
// "--gudiance" is one edit from "--guidance"), offered when it is at most a third of the name's
// length away (and at most 3 edits), or when the name is the start of one ("--guid"). Twenty lines
// written here rather than a package: the CLI loads nothing it does not need
// ([Note: commands load lazily] in index.ts) and this runs once, on an error.
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

/** The known name nearest to `name`, or null when none is near ([Note: did you mean]). */
export function didYouMean(name: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const dist = k.startsWith(name) ? 0.5 : editDistance(name, k); // an abbreviation first
    if (dist < bestD) [best, bestD] = [k, dist];
  }
  return best !== null && bestD <= Math.min(3, Math.max(1, Math.floor(name.length / 3))) ? best : null;
}

/**
 * node:util parseArgs (strict), refusing a flag given twice that takes one value: parseArgs keeps
 * the last silently, so `--guidance-interval 2:0.28:2.9 … --guidance-interval 3:0:inf` would
 * sample the second without a word.
 */
export function parseFlags<O extends ParseArgsConfig['options']>(
  argv: string[],
  options: O,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true }>> {
  // A value that starts with one "-" (a negated reward, -jpeg-size; a negative number) after a flag
  // that takes one is that flag's value: every flag here is a long one (--name), so it cannot be a flag.
  const args = argv.map((a, i) => {
    const prev = argv[i - 1];
    const name = prev?.startsWith('--') && !prev.includes('=') ? prev.slice(2) : null;
    return name !== null && options?.[name]?.type === 'string' && /^-[^-]/.test(a) ? `\u0000${a}` : a;
  });
  const joined: string[] = [];
  for (const a of args) {
    if (a.startsWith('\u0000')) joined[joined.length - 1] += `=${a.slice(1)}`;
    else joined.push(a);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: joined, options, strict: true, tokens: true });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const flag = /'(-[^']*)'/.exec((e as Error).message)?.[1] ?? '?';
      const name = flag.replace(/^-+/, '').replace(/=.*$/, '');
      const near = didYouMean(name, Object.keys(options ?? {}));
      throw new FlagError(`unknown flag ${flag}${near ? `; did you mean --${near}?` : ''}`);
    }
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const arg = /'([^']*)'/.exec((e as Error).message)?.[1] ?? '?';
      throw new FlagError(`unexpected argument "${arg}": every value goes after its flag (--name value)`);
    }
    const msg = (e as Error).message;
    const missing = /^Option '(--[^ ']+) <value>' argument missing/.exec(msg);
    if (missing) throw new FlagError(`${missing[1]} needs a value`);
    const ambiguous = /^Option '(--[^ ']+)' argument is ambiguous/.exec(msg);
    if (ambiguous)
      throw new FlagError(
        `${ambiguous[1]} needs a value, and the next word is a flag (for a value starting with "-", write ${ambiguous[1]}=-1)`,
      );
    const noValue = /^Option '(--[^ ']+)' does not take an argument/.exec(msg);
    if (noValue) throw new FlagError(`${noValue[1]} takes no value`);
    if (code?.startsWith('ERR_PARSE_ARGS')) throw new FlagError(msg);
    throw e;
  }
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

/** Prints a command's --help, or every command's in short (built on demand: it reads the schemas). */
export async function printUsage(command?: string): Promise<void> {
  const u = await import('./usage');
  process.stdout.write((command ? u.commandUsage(command) : null) ?? u.usage());
  process.stdout.write('\n');
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
  private lastPhaseLine = 0;
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
        const eta = e.etaSeconds === null ? '' : ` eta ${clock(e.etaSeconds)}`;
        const p = e.phase;
        const phase = p ? ` · ${p.label} ${Math.floor(p.done)}/${p.total} ${p.unit}` : '';
        process.stderr.write(
          `\r${e.task} ${bar} ${(f * 100).toFixed(0).padStart(3)}% ${e.done}/${e.total} ${e.unit} ${clock(e.elapsedSeconds)}${eta}${phase}\x1b[K`,
        );
        if (e.done >= e.total) process.stderr.write('\n');
      } else if (e.type === 'log') process.stderr.write(`${e.level}: ${e.message}\n`);
      // Metrics, profiles and sample pictures are for machines (and files): JSON lines only.
    } else {
      // A phase's progress inside an iteration: one line a second is plenty in a log file.
      if (e.type === 'progress' && e.phase && e.phase.done > 0 && e.phase.done < e.phase.total) {
        const now = performance.now();
        if (now - this.lastPhaseLine < 1000) return;
        this.lastPhaseLine = now;
      }
      // A sample picture's bytes stay in its PNG file: the line names the path.
      const line = e.type === 'samples' ? { type: e.type, run: e.run, iteration: e.iteration, path: e.path } : e;
      process.stderr.write(JSON.stringify(line) + '\n');
    }
  }

  result(obj: Record<string, unknown>, human: string): void {
    // Typed arrays (a class histogram's counts) as JSON lists, not as {"0": …} objects.
    const lists = (_k: string, v: unknown): unknown =>
      ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v;
    if (this.json) process.stdout.write(JSON.stringify(obj, lists) + '\n');
    else process.stdout.write(human + '\n');
  }
}

/** --device auto|cpu|cuda */
export function deviceFromFlag(v: string | undefined): 'auto' | 'cpu' | 'cuda' {
  if (v && !['auto', 'cpu', 'cuda'].includes(v)) throw new UsageError(`--device must be auto, cpu or cuda, got "${v}"`);
  return (v as 'auto' | 'cpu' | 'cuda' | undefined) ?? 'auto';
}

/**
 * Refuses an output file the command would write wrongly: an existing directory, a folder that does
 * not exist (a typo would otherwise create it silently: we create no folders for a file), or a name
 * whose extension says another format than the one written (`sample --out x.png` wrote a NumPy
 * array into x.png). `ext`: the extensions the file may have, e.g. ['.npy'].
 */
export function checkOutputPath(flag: string, path: string | undefined, ext?: readonly string[], hint = ''): void {
  if (!path) return;
  if (existsSync(path) && statSync(path).isDirectory())
    throw new UsageError(`--${flag} ${path} is a directory; give a file name`);
  const dir = dirname(resolve(path));
  if (!existsSync(dir))
    throw new UsageError(`--${flag} ${path}: the folder ${dir} does not exist; create it first or give another path`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`--${flag} ${path}: ${dir} is a file, not a folder`);
  if (ext && !ext.some((e) => path.toLowerCase().endsWith(e)))
    throw new UsageError(
      `--${flag} ${path}: this file is written as ${ext.join(' or ')}; give a name ending in ${ext.join(' or ')}${hint}`,
    );
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
