// One declaration per setting, many views (STYLE.md §11; CleanRL's `tyro.cli(Args)`): a field says
// its kind, default, bounds, description and CLI flag once, and from the table of fields come
//   - the zod schema (runtime checks) and with it the TypeScript type (`z.infer`),
//   - the error message, the same words in the engine, the CLI and the form ("must be a whole number ≥ 1"),
//   - the `parseArgs` options, the `--help` lines and the parsing of flag strings,
//   - the app's form fields (label, bounds, help, basic or advanced).
//
// [Note: why descriptors around zod, not zod metadata alone]
// zod checks values and infers types, but reading bounds back out of a zod schema needs its
// internals (`_zod.bag`), and JSON Schema export cannot express ±Infinity (an NFE budget, S_tmax).
// So each field is a small descriptor that *builds* its zod schema: the checks are zod's, the
// descriptions are plain data every view can read.

import { z } from 'zod';

interface FieldBase<T> {
  /** One sentence for --help and the form's help. */
  help: string;
  /** The form's label; the help's first words when absent. */
  label?: string;
  /** CLI flag (without --); the key in kebab-case when absent; false: not a flag. */
  flag?: string | false;
  /** Where the form shows it: the main section or "Advanced" (default); 'none': not in the form. */
  group?: 'basic' | 'advanced' | 'none';
  /**
   * Read only when each named choice field has one of these values (e.g. `{ objective: ['dpok'] }`):
   * the form hides it otherwise, a flag given for it then is an error (`unreadGiven`), and two
   * configurations that differ only in it are the same run.
   */
  readWhen?: Readonly<Record<string, readonly string[]>>;
  default: T;
}

export interface NumberField extends FieldBase<number> {
  kind: 'number';
  int?: boolean;
  /** Inclusive bounds … */
  min?: number;
  max?: number;
  /** … or exclusive ones. */
  gt?: number;
  lt?: number;
  /** ∞ is a meaningful value (written "inf" in flags and files). */
  inf?: boolean;
  /** Form step for the number input. */
  step?: number;
}

export interface NullableNumberField extends Omit<NumberField, 'kind' | 'default'> {
  kind: 'nullable-number';
  default: null;
  /** What null means, e.g. "the model's σ_min". */
  nullMeans: string;
}

export interface ChoiceField<T extends string = string> extends FieldBase<T> {
  kind: 'choice';
  values: readonly T[];
  /** A label per value for the form. */
  labels?: Partial<Record<T, string>>;
}

export interface BooleanField extends FieldBase<boolean> {
  kind: 'boolean';
}

export interface NumberListField extends FieldBase<number[]> {
  kind: 'number-list';
  minLength: number;
  maxLength: number;
  /** No value may appear twice. */
  distinct?: boolean;
}

/** A list of texts, each checked by `check` (e.g. the `--reward` specifications): a flag given once per entry. */
export interface TextListField extends FieldBase<string[]> {
  kind: 'text-list';
  maxLength: number;
  /** What one entry is, for help and errors ("a reward such as -jpeg-size"). */
  entry: string;
  /** The entry's problem, or null when valid. */
  check: (text: string) => string | null;
}

export type Field = NumberField | NullableNumberField | ChoiceField | BooleanField | NumberListField | TextListField;
export type Fields = Record<string, Field>;

// ---- field constructors ------------------------------------------------------------------------

export const num = (f: Omit<NumberField, 'kind'>): NumberField => ({ kind: 'number', ...f });
export const int = (f: Omit<NumberField, 'kind' | 'int'>): NumberField => ({ kind: 'number', int: true, ...f });
export const nullableNum = (f: Omit<NullableNumberField, 'kind' | 'default'>): NullableNumberField => ({
  kind: 'nullable-number',
  default: null,
  ...f,
});
export const choice = <T extends string>(
  values: readonly T[],
  f: Omit<ChoiceField<T>, 'kind' | 'values'>,
): ChoiceField<T> => ({ kind: 'choice', values, ...f });
export const bool = (f: Omit<BooleanField, 'kind'>): BooleanField => ({ kind: 'boolean', ...f });
export const numList = (f: Omit<NumberListField, 'kind'>): NumberListField => ({ kind: 'number-list', ...f });
export const textList = (f: Omit<TextListField, 'kind'>): TextListField => ({ kind: 'text-list', ...f });

// ---- descriptions and checks -------------------------------------------------------------------

/** "a whole number ≥ 1", "a number in [0, 0.5)", "one of kl, rkl", … — what a valid value is. */
export function describeField(f: Field): string {
  switch (f.kind) {
    case 'choice':
      return `one of ${f.values.join(', ')}`;
    case 'boolean':
      return 'true or false';
    case 'number-list':
      return `${f.minLength} to ${f.maxLength}${f.distinct ? ' distinct' : ''} numbers, separated by commas`;
    case 'text-list':
      return `at most ${f.maxLength} of ${f.entry}`;
    case 'number':
    case 'nullable-number': {
      const what = f.int ? 'a whole number' : 'a number';
      const lo = f.min !== undefined ? { v: f.min, incl: true } : f.gt !== undefined ? { v: f.gt, incl: false } : null;
      const hi = f.max !== undefined ? { v: f.max, incl: true } : f.lt !== undefined ? { v: f.lt, incl: false } : null;
      const inf = f.inf ? ' (or inf)' : '';
      const nul = f.kind === 'nullable-number' ? ` (empty: ${f.nullMeans})` : '';
      if (lo && hi) return `${what} in ${lo.incl ? '[' : '('}${lo.v}, ${hi.v}${hi.incl ? ']' : ')'}${inf}${nul}`;
      if (lo) return `${what} ${lo.incl ? '≥' : '>'} ${lo.v}${inf}${nul}`;
      if (hi) return `${what} ${hi.incl ? '≤' : '<'} ${hi.v}${inf}${nul}`;
      return `${f.inf ? what : `a finite ${what.slice(2)}`}${inf}${nul}`;
    }
  }
}

function numberSchema(f: Omit<NumberField, 'kind' | 'default' | 'help'>): z.ZodType<number> {
  let s = z.number();
  if (f.int) s = s.int();
  if (f.min !== undefined) s = s.min(f.min);
  if (f.max !== undefined) s = s.max(f.max);
  if (f.gt !== undefined) s = s.gt(f.gt);
  if (f.lt !== undefined) s = s.lt(f.lt);
  // JSON has no Infinity: "inf" stands for it in files and messages (shared/json.ts).
  return f.inf ? z.union([z.literal(Infinity), z.literal('inf').transform(() => Infinity), s]) : s;
}

type ValueOf<F extends Field> = F extends { kind: 'choice'; values: readonly (infer T)[] }
  ? T
  : F extends NullableNumberField
    ? number | null
    : F['default'];

/** The zod schema of one field (no default applied: a saved file must carry every field). */
export function fieldSchema<F extends Field>(f: F): z.ZodType<ValueOf<F>> {
  const s = (() => {
    switch (f.kind) {
      case 'number':
        return numberSchema(f);
      case 'nullable-number':
        return numberSchema(f).nullable();
      case 'choice':
        return z.enum(f.values as [string, ...string[]]);
      case 'boolean':
        return z.boolean();
      case 'number-list': {
        const list = z.array(z.number()).min(f.minLength).max(f.maxLength);
        return f.distinct ? list.refine((a) => new Set(a).size === a.length) : list;
      }
      case 'text-list':
        return z
          .array(z.string())
          .max(f.maxLength)
          .superRefine((a, ctx) => {
            for (const t of a) {
              const problem = f.check(t);
              if (problem) ctx.addIssue({ code: 'custom', message: problem });
            }
          });
    }
  })();
  return s as unknown as z.ZodType<ValueOf<F>>;
}

export type ValuesOf<F extends Fields> = { -readonly [K in keyof F]: ValueOf<F[K]> };

/** The object schema of a table of fields: every field required, no unknown key. */
export function objectSchema<F extends Fields>(fields: F): z.ZodType<ValuesOf<F>> {
  const shape: Record<string, z.ZodType> = {};
  for (const [k, f] of Object.entries(fields)) shape[k] = fieldSchema(f);
  return z.strictObject(shape) as unknown as z.ZodType<ValuesOf<F>>;
}

export function defaultsOf<F extends Fields>(fields: F): ValuesOf<F> {
  return Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, structuredClone(f.default)])) as ValuesOf<F>;
}

const show = (v: unknown): string =>
  typeof v === 'number'
    ? String(v)
    : Array.isArray(v)
      ? `[${v.map(show).join(', ')}]`
      : (JSON.stringify(v) ?? String(v));

/** One readable sentence per zod issue, naming the field by `name(path)` and saying what is valid. */
export function issueMessages(
  fields: Fields | null,
  error: z.ZodError,
  name: (path: PropertyKey[]) => string,
  input: unknown,
): string[] {
  // One message per field: a list with a NaN and too few entries is one bad value, said once.
  const messages = error.issues.map((i) => {
    if (i.code === 'unrecognized_keys')
      return `unknown ${i.keys.length > 1 ? 'settings' : 'setting'} ${i.keys.map((k) => `"${k}"`).join(', ')}${fields ? `; known: ${Object.keys(fields).join(', ')}` : ''}`;
    const key = i.path[0];
    const f = fields && typeof key === 'string' && i.path.length <= 2 ? fields[key] : undefined;
    // A list entry's own problem says what is wrong with it better than "must be …".
    if (f && f.kind === 'text-list' && i.code === 'custom') return `${name([key])}: ${i.message}`;
    if (f) return mustBe(name([key]), f, valueAt(input, [key]));
    return `${name(i.path)}: ${i.message}`;
  });
  return [...new Set(messages)];
}

/** "NAME must be WHAT, got VALUE": the one shape of a bad value's message. */
export function mustBe(name: string, f: Field, got: unknown): string {
  return `${name} must be ${describeField(f)}, got ${got === undefined ? 'nothing' : show(got)}`;
}

export function valueAt(v: unknown, path: PropertyKey[]): unknown {
  let cur = v;
  for (const p of path)
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[p] : undefined;
  return cur;
}

/** Whether a configuration reads a field (its `readWhen` holds for these values). */
export function reads(f: Field, values: Readonly<Record<string, unknown>>): boolean {
  return Object.entries(f.readWhen ?? {}).every(([k, allowed]) => allowed.includes(values[k] as string));
}

/**
 * Of the settings given (e.g. by flags), those the configuration does not read, each with why:
 * `--kl-weight is read only with --objective dpok (here: "q-learning")`. `name` writes a key as the
 * user wrote it (a flag, a form label).
 */
export function unreadGiven(
  fields: Fields,
  given: readonly string[],
  values: Readonly<Record<string, unknown>>,
  name: (key: string) => string,
): string[] {
  return given.flatMap((k) => {
    const f = fields[k];
    if (!f || reads(f, values)) return [];
    const why = Object.entries(f.readWhen ?? {})
      .filter(([c, allowed]) => !allowed.includes(values[c] as string))
      .map(([c, allowed]) => `${name(c)} ${allowed.join(' or ')} (here: ${show(values[c])})`);
    return [`${name(k)} is read only with ${why.join(' and ')}`];
  });
}

/** The error of a single value for a field, or null when valid: what a form shows under the input. */
export function fieldError(f: Field, value: unknown): string | null {
  const r = fieldSchema(f).safeParse(value);
  if (r.success) return null;
  const own = f.kind === 'text-list' ? r.error.issues.find((i) => i.code === 'custom') : undefined;
  return own ? own.message : `must be ${describeField(f)}`;
}

// ---- the command line --------------------------------------------------------------------------

export const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const flagOf = (key: string, f: Field): string | null => (f.flag === false ? null : (f.flag ?? kebab(key)));
/** A key of `fields` as the command line writes it ("--kl-weight"), for messages. */
export const flagNameOf =
  (fields: Fields) =>
  (key: string): string =>
    `--${(fields[key] && flagOf(key, fields[key])) ?? kebab(key)}`;

export type FlagOptions = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

/** `parseArgs` options for every field with a flag. */
export function flagOptions(fields: Fields): FlagOptions {
  const out: FlagOptions = {};
  for (const [k, f] of Object.entries(fields)) {
    const flag = flagOf(k, f);
    if (flag)
      out[flag] =
        f.kind === 'text-list'
          ? { type: 'string', multiple: true }
          : { type: f.kind === 'boolean' ? 'boolean' : 'string' };
  }
  return out;
}

/** A flag's text as the field's value (not yet range-checked): numbers, "inf", lists "1,1.5,2". */
export function parseFlagValue(f: Field, text: string | boolean | string[]): unknown {
  if (Array.isArray(text)) return f.kind === 'text-list' ? text : text[text.length - 1];
  if (typeof text === 'boolean') return text;
  const number = (t: string): number => {
    const s = t.trim();
    if (s === 'inf' || s === 'Infinity') return Infinity;
    return s === '' ? NaN : Number(s);
  };
  switch (f.kind) {
    case 'number':
      return number(text);
    case 'nullable-number':
      return text.trim() === '' || text === 'null' ? null : number(text);
    case 'number-list':
      return text.trim() === '' ? [] : text.split(',').map(number);
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'choice':
      return text;
    case 'text-list':
      return [text];
  }
}

/** The fields set by flags (`values` from parseArgs), as a partial object keyed by field; bad values are kept for the schema to name. */
export function valuesFromFlags(fields: Fields, values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(fields)) {
    const flag = flagOf(k, f);
    const v = flag ? values[flag] : undefined;
    if (typeof v === 'string' || typeof v === 'boolean' || Array.isArray(v))
      out[k] = parseFlagValue(f, v as string | boolean | string[]);
  }
  return out;
}

/** Aligned `--help` lines: flag, value kind, description, default. */
export function helpLines(fields: Fields, indent = '  ', defaults?: Record<string, unknown>): string[] {
  const rows = Object.entries(fields).flatMap(([k, f]) => {
    const flag = flagOf(k, f);
    if (!flag) return [];
    const arg =
      f.kind === 'boolean'
        ? ''
        : f.kind === 'choice'
          ? ` ${f.values.join('|')}`
          : f.kind === 'number-list'
            ? ' V1,V2,…'
            : f.kind === 'text-list'
              ? ` SPEC (repeat for several)`
              : f.int
                ? ' N'
                : ' X';
    const d = defaults ? defaults[k] : f.default;
    const dflt =
      f.kind === 'boolean' && !d
        ? ''
        : ` (default ${d === null ? 'model' : Array.isArray(d) ? d.join(',') : d === Infinity ? 'inf' : String(d)})`;
    const range = f.kind === 'number' || f.kind === 'nullable-number' ? ` [${describeField(f)}]` : '';
    return [[`--${flag}${arg}`, `${f.help}${range}${dflt}`]];
  });
  const w = 38; // one column for every table, so tables printed one after another line up
  return rows.map(([a, b]) => `${indent}${a!.length + 2 > w ? `${a}  ` : a!.padEnd(w)}${b}`);
}
