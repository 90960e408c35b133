// The axes of a grid search (`--axis NAME=START:END:STEP` or `NAME=V1,V2,…`): their syntax and
// bounds, the cross product of their values (the cells) and each cell's sampler settings.

import type { Denoiser } from '../models/model';
import { resolveSettings, type ResolvedSettings } from '../samplers/generate';
import { SAMPLER_KNOBS, type SamplerSettings } from '../../../shared/sampler-settings';
import { GridError } from './error';

/** Every numeric sampler setting is an axis, named by its flag (shared/sampler-settings.ts): guidance, churn, steps, s-tmin, … */
export const AXIS_NAMES: readonly string[] = SAMPLER_KNOBS.map((k) => k.name);
export type AxisName = string;

/** Most cells a grid may have. */
export const MAX_GRID_CELLS = 10_000;

/** An axis's bounds and access, from its field: int, min / max (inclusive), above / below (exclusive), inf. */
interface AxisSpec {
  int?: boolean;
  min?: number;
  max?: number;
  above?: number;
  below?: number;
  inf?: boolean;
  get(s: SamplerSettings): number | null;
  set(s: SamplerSettings, v: number): void;
}

const AXES: Record<AxisName, AxisSpec> = Object.fromEntries(
  SAMPLER_KNOBS.map(({ name, field: f, get, set }) => [
    name,
    { int: f.int, min: f.min, max: f.max, above: f.gt, below: f.lt, inf: f.inf, get, set },
  ]),
);

export interface GridAxis {
  name: AxisName;
  values: number[];
}

/** A value as written in tables, CSV and JSON keys: shortest round-trip form, "inf" for ∞. */
export function formatAxisValue(v: number): string {
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return String(v);
}

/** Decimal places a number literal carries ("0.25" → 2, "1e-3" → 3, "2.5e1" → 0). */
function decimalsOf(text: string): number {
  const m = /^[+-]?\d*(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(text);
  if (!m) return 0;
  return Math.max(0, (m[1] ?? '').length - Number(m[2] ?? 0));
}

function parseNumber(text: string, axis: string, where: string): number {
  const t = text.trim();
  if (t === '') throw new GridError(`--axis ${axis}: empty value in ${where}`, 'axis');
  let x: number;
  if (/^\+?(inf|infinity)$/i.test(t)) x = Infinity;
  else if (/^-(inf|infinity)$/i.test(t)) x = -Infinity;
  else if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) x = Number(t);
  else throw new GridError(`--axis ${axis}: "${t}" is not a number (in ${where})`, 'axis');
  return x;
}

function checkValue(axis: AxisName, spec: AxisSpec, x: number, text: string): void {
  if (!Number.isFinite(x) && !(spec.inf && x === Infinity))
    throw new GridError(
      `--axis ${axis}: ${text} is not allowed; values must be finite${spec.inf ? ' (or inf)' : ''}`,
      'axis',
    );
  if (spec.int && Number.isFinite(x) && !Number.isInteger(x))
    throw new GridError(`--axis ${axis}: values must be integers, got ${text}`, 'axis');
  if (spec.min !== undefined && x < spec.min)
    throw new GridError(`--axis ${axis}: values must be ≥ ${spec.min}, got ${text}`, 'axis');
  if (spec.above !== undefined && !(x > spec.above))
    throw new GridError(`--axis ${axis}: values must be > ${spec.above}, got ${text}`, 'axis');
  // ∞ stands for "no bound" where a field allows it (S_tmax), so only finite values meet the upper bound.
  if (spec.max !== undefined && Number.isFinite(x) && x > spec.max)
    throw new GridError(`--axis ${axis}: values must be ≤ ${spec.max}, got ${text}`, 'axis');
  if (spec.below !== undefined && Number.isFinite(x) && !(x < spec.below))
    throw new GridError(`--axis ${axis}: values must be < ${spec.below}, got ${text}`, 'axis');
}

/** Inclusive range a:b:step; exact decimal steps give clean values (1:3:0.25 → 1, 1.25, …, 3). */
function rangeValues(axis: AxisName, spec: AxisSpec, body: string): number[] {
  const parts = body.split(':');
  if (parts.length !== 3)
    throw new GridError(`--axis ${axis}=${body}: a range is START:END:STEP (e.g. ${axis}=1:3:0.25)`, 'axis');
  const where = `range ${body}`;
  const [a, b, step] = parts.map((p) => parseNumber(p, axis, where)) as [number, number, number];
  if (![a, b, step].every(Number.isFinite))
    throw new GridError(`--axis ${axis}=${body}: range ends and step must be finite`, 'axis');
  if (!(step > 0)) throw new GridError(`--axis ${axis}=${body}: the step must be > 0, got ${parts[2]!.trim()}`, 'axis');
  if (b < a)
    throw new GridError(
      `--axis ${axis}=${body}: the end ${parts[1]!.trim()} is below the start ${parts[0]!.trim()}; ranges go upwards`,
      'axis',
    );
  // Count and values in integer units of the finest decimal written, when that is exact: then
  // a + i·step is the double nearest the decimal value, never 1.2500000000000002.
  const d = Math.max(...parts.map((p) => decimalsOf(p.trim())));
  const scale = 10 ** d;
  const [A, B, S] = [a, b, step].map((x) => Math.round(x * scale)) as [number, number, number];
  let values: number[];
  if (
    d <= 15 &&
    [A, B, S].every(Number.isSafeInteger) &&
    S > 0 &&
    Math.abs(A / scale - a) <= 1e-12 * Math.max(1, Math.abs(a)) &&
    Math.abs(S / scale - step) <= 1e-12 * step
  ) {
    const count = Math.floor((B - A) / S) + 1;
    if (count > MAX_GRID_CELLS)
      throw new GridError(
        `--axis ${axis}=${body}: ${count} values; a grid may have at most ${MAX_GRID_CELLS} cells`,
        'axis',
      );
    values = Array.from({ length: count }, (_, i) => (A + i * S) / scale);
  } else {
    const count = Math.floor((b - a) / step + 1e-9) + 1;
    if (count > MAX_GRID_CELLS)
      throw new GridError(
        `--axis ${axis}=${body}: ${count} values; a grid may have at most ${MAX_GRID_CELLS} cells`,
        'axis',
      );
    values = Array.from({ length: count }, (_, i) => Number((a + i * step).toPrecision(12)));
  }
  for (const v of values) checkValue(axis, spec, v, formatAxisValue(v));
  return values.map((v) => (Object.is(v, -0) ? 0 : v));
}

/** One `--axis` value: `name=a:b:step` (inclusive range) or `name=v1,v2,…`. */
export function parseAxis(text: string): GridAxis {
  const eq = text.indexOf('=');
  if (eq < 0)
    throw new GridError(
      `--axis "${text}": expected NAME=START:END:STEP or NAME=V1,V2,… (e.g. guidance=1:3:0.25)`,
      'axis',
    );
  const name = text.slice(0, eq).trim();
  const body = text.slice(eq + 1).trim();
  if (!(AXIS_NAMES as readonly string[]).includes(name)) {
    throw new GridError(`--axis ${name || '""'}: unknown axis; axes are ${AXIS_NAMES.join(', ')}`, 'axis');
  }
  const axis = name as AxisName;
  const spec = AXES[axis]!;
  if (body === '') throw new GridError(`--axis ${axis}: no values; give START:END:STEP or V1,V2,…`, 'axis');
  let values: number[];
  if (body.includes(':')) {
    if (body.includes(','))
      throw new GridError(
        `--axis ${axis}=${body}: give either a range START:END:STEP or a list V1,V2,…, not both`,
        'axis',
      );
    values = rangeValues(axis, spec, body);
  } else {
    const items = body.split(',');
    values = items.map((t) => {
      const x = parseNumber(t, axis, `list ${body}`);
      checkValue(axis, spec, x, t.trim());
      return Object.is(x, -0) ? 0 : x;
    });
    const seen = new Set<number>();
    for (const v of values) {
      if (seen.has(v)) throw new GridError(`--axis ${axis}: the value ${formatAxisValue(v)} is listed twice`, 'axis');
      seen.add(v);
    }
  }
  return { name: axis, values };
}

/** Number of cells of the cross product. */
export function gridSize(axes: readonly GridAxis[]): number {
  return axes.reduce((p, a) => p * a.values.length, 1);
}

/** Every `--axis` of a command: at least one, each name once, at most MAX_GRID_CELLS cells. */
export function parseAxes(texts: readonly string[]): GridAxis[] {
  if (texts.length === 0)
    throw new GridError('a grid needs at least one --axis NAME=START:END:STEP or NAME=V1,V2,…', 'axis');
  const axes = texts.map(parseAxis);
  const seen = new Set<string>();
  for (const a of axes) {
    if (seen.has(a.name))
      throw new GridError(
        `--axis ${a.name} is given twice; give each axis once (a list may hold any values: ${a.name}=1,2,5)`,
        'axis',
      );
    seen.add(a.name);
  }
  const size = gridSize(axes);
  if (size > MAX_GRID_CELLS) {
    throw new GridError(
      `the grid has ${axes.map((a) => a.values.length).join(' × ')} = ${size} cells; at most ${MAX_GRID_CELLS} are allowed (use coarser axes)`,
      'axis',
    );
  }
  return axes;
}

export type CellValues = Record<string, number>;

/** The cells of the cross product in order: the first axis varies slowest, the last fastest. */
export function crossProduct(axes: readonly GridAxis[]): CellValues[] {
  const size = gridSize(axes);
  if (size > MAX_GRID_CELLS)
    throw new GridError(`the grid has ${size} cells; at most ${MAX_GRID_CELLS} are allowed`, 'axis');
  const out: CellValues[] = [];
  for (let index = 0; index < size; index++) {
    const values: CellValues = {};
    let rest = index;
    for (let k = axes.length - 1; k >= 0; k--) {
      const a = axes[k]!;
      values[a.name] = a.values[rest % a.values.length]!;
      rest = Math.floor(rest / a.values.length);
    }
    // Keys in axis order.
    out.push(Object.fromEntries(axes.map((a) => [a.name, values[a.name]!])));
  }
  return out;
}

/** The base settings with one cell's axis values applied. */
export function applyAxisValues<S extends SamplerSettings>(base: S, values: CellValues): S {
  const s = { ...base, restart: { ...base.restart } };
  for (const [name, v] of Object.entries(values)) {
    const spec = AXES[name as AxisName];
    if (!spec) throw new GridError(`unknown axis "${name}"`, 'axis');
    spec.set(s, v);
  }
  return s;
}

/** "guidance=1.5 churn=10" */
export function describeValues(values: CellValues): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${formatAxisValue(v)}`)
    .join(' ');
}

/** Resolves every cell's settings against the model, so a bad cell fails before any sampling. */
export function resolveCells(model: Denoiser, base: SamplerSettings, axes: readonly GridAxis[]): ResolvedSettings[] {
  return crossProduct(axes).map((values) => {
    try {
      return resolveSettings(model, applyAxisValues(base, values));
    } catch (e) {
      const lo = values['guidance-sigma-lo'];
      const hi = values['guidance-sigma-hi'];
      // A grid takes every pair of its axes' values: an empty interval is a choice of lists.
      const pairs =
        lo !== undefined && hi !== undefined && lo >= hi
          ? `; a grid samples every σ_lo with every σ_hi, so every guidance-sigma-lo value must lie below every guidance-sigma-hi value (e.g. guidance-sigma-lo=0,0.28,1 guidance-sigma-hi=2.9,5.4,inf), or run one grid per range`
          : '';
      throw new GridError(`grid cell ${describeValues(values)}: ${(e as Error).message}${pairs}`, 'invalid');
    }
  });
}

/** "guidance=1,2,3 churn=0,10" */
export function describeAxes(axes: readonly GridAxis[]): string {
  return axes.map((a) => `${a.name}=${a.values.map(formatAxisValue).join(',')}`).join(' ') || '(none)';
}
