// Grid search over sampler settings (X/Y-plot style): the cross product of a few axes
// (guidance × churn × steps …), every cell sampled with the same seed and scored, the best cell by
// one metric, and the total denoiser evaluations the search cost.
//
// [Note: common random numbers]
// Every cell draws its samples with the same seed, so sample i starts from the same noise (and the
// same class) in every cell: differences between cells are differences between settings, not
// between noise draws, and a cell recomputed after a resume gives exactly the same numbers.
//
// [Note: results on disk]
// `results.json` (and `results.csv`, a flat view of it) is rewritten atomically after every
// finished cell, so a killed search loses at most the cell in progress. Running the same grid
// again with the same directory continues it: cells already saved are not recomputed. A saved
// grid with a different configuration is refused, never silently mixed in or thrown away.
// JSON has no Infinity: it is written as the string "inf" (settings and axis values).

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './io/atomic';
import { evaluateSamples, METRICS, referenceFor, type MetricName, type Reference } from './metrics/evaluate';
import { extractorForModel, type FeatureExtractor } from './metrics/features';
import type { Denoiser, Model } from './models/model';
import { generate, resolveSettings, type ResolvedSettings } from './samplers/generate';
import { SamplingCancelled } from './samplers/loop';
import { SAMPLERS, type SamplerSettings } from './samplers/types';
import { infReplacer } from '../../shared/json';

/** A grid the user can fix: a bad axis, a saved grid that does not match, a damaged results file. */
export class GridError extends RangeError {
  constructor(
    message: string,
    /** 'axis': bad axes; 'mismatch': the directory holds another grid; 'corrupt': results.json is damaged. */
    readonly kind: 'axis' | 'mismatch' | 'corrupt' | 'invalid' = 'invalid',
  ) {
    super(message);
    this.name = 'GridError';
  }
}

// ---------------------------------------------------------------------------------------------
// Axes

export const AXIS_NAMES = [
  'guidance',
  'churn',
  'steps',
  's-tmin',
  's-tmax',
  's-noise',
  'eta',
  'rho',
  'sigma-min',
  'sigma-max',
  'restart-k',
  'restart-tmin',
  'restart-tmax',
  'restart-steps',
] as const;
export type AxisName = (typeof AXIS_NAMES)[number];

/** Most cells a grid may have. */
export const MAX_GRID_CELLS = 10_000;

interface AxisSpec {
  /** Values must be integers. */
  int?: boolean;
  /** Smallest allowed value (inclusive) … */
  min?: number;
  /** … or exclusive. */
  above?: number;
  /** "inf" is a meaningful value (s-tmax). */
  inf?: boolean;
  get(s: SamplerSettings): number | null;
  set(s: SamplerSettings, v: number): void;
}

const AXES: Record<AxisName, AxisSpec> = {
  guidance: { get: (s) => s.guidance, set: (s, v) => void (s.guidance = v) },
  churn: { min: 0, get: (s) => s.churn, set: (s, v) => void (s.churn = v) },
  steps: { int: true, min: 1, get: (s) => s.steps, set: (s, v) => void (s.steps = v) },
  's-tmin': { min: 0, get: (s) => s.sTmin, set: (s, v) => void (s.sTmin = v) },
  's-tmax': { min: 0, inf: true, get: (s) => s.sTmax, set: (s, v) => void (s.sTmax = v) },
  's-noise': { above: 0, get: (s) => s.sNoise, set: (s, v) => void (s.sNoise = v) },
  eta: { min: 0, get: (s) => s.eta, set: (s, v) => void (s.eta = v) },
  rho: { above: 0, get: (s) => s.rho, set: (s, v) => void (s.rho = v) },
  'sigma-min': { above: 0, get: (s) => s.sigmaMin, set: (s, v) => void (s.sigmaMin = v) },
  'sigma-max': { above: 0, get: (s) => s.sigmaMax, set: (s, v) => void (s.sigmaMax = v) },
  'restart-k': { int: true, min: 0, get: (s) => s.restart.k, set: (s, v) => void (s.restart.k = v) },
  'restart-tmin': { above: 0, get: (s) => s.restart.tMin, set: (s, v) => void (s.restart.tMin = v) },
  'restart-tmax': { above: 0, get: (s) => s.restart.tMax, set: (s, v) => void (s.restart.tMax = v) },
  'restart-steps': { int: true, min: 1, get: (s) => s.restart.steps, set: (s, v) => void (s.restart.steps = v) },
};

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
  if (!Number.isFinite(x) && !(spec.inf && x === Infinity)) throw new GridError(`--axis ${axis}: ${text} is not allowed; values must be finite${spec.inf ? ' (or inf)' : ''}`, 'axis');
  if (spec.int && Number.isFinite(x) && !Number.isInteger(x)) throw new GridError(`--axis ${axis}: values must be integers, got ${text}`, 'axis');
  if (spec.min !== undefined && x < spec.min) throw new GridError(`--axis ${axis}: values must be ≥ ${spec.min}, got ${text}`, 'axis');
  if (spec.above !== undefined && !(x > spec.above)) throw new GridError(`--axis ${axis}: values must be > ${spec.above}, got ${text}`, 'axis');
}

/** Inclusive range a:b:step; exact decimal steps give clean values (1:3:0.25 → 1, 1.25, …, 3). */
function rangeValues(axis: AxisName, spec: AxisSpec, body: string): number[] {
  const parts = body.split(':');
  if (parts.length !== 3) throw new GridError(`--axis ${axis}=${body}: a range is START:END:STEP (e.g. ${axis}=1:3:0.25)`, 'axis');
  const where = `range ${body}`;
  const [a, b, step] = parts.map((p) => parseNumber(p, axis, where)) as [number, number, number];
  if (![a, b, step].every(Number.isFinite)) throw new GridError(`--axis ${axis}=${body}: range ends and step must be finite`, 'axis');
  if (!(step > 0)) throw new GridError(`--axis ${axis}=${body}: the step must be > 0, got ${parts[2]!.trim()}`, 'axis');
  if (b < a) throw new GridError(`--axis ${axis}=${body}: the end ${parts[1]!.trim()} is below the start ${parts[0]!.trim()}; ranges go upwards`, 'axis');
  // Count and values in integer units of the finest decimal written, when that is exact: then
  // a + i·step is the double nearest the decimal value, never 1.2500000000000002.
  const d = Math.max(...parts.map((p) => decimalsOf(p.trim())));
  const scale = 10 ** d;
  const [A, B, S] = [a, b, step].map((x) => Math.round(x * scale)) as [number, number, number];
  let values: number[];
  if (d <= 15 && [A, B, S].every(Number.isSafeInteger) && S > 0 && Math.abs(A / scale - a) <= 1e-12 * Math.max(1, Math.abs(a)) && Math.abs(S / scale - step) <= 1e-12 * step) {
    const count = Math.floor((B - A) / S) + 1;
    if (count > MAX_GRID_CELLS) throw new GridError(`--axis ${axis}=${body}: ${count} values; a grid may have at most ${MAX_GRID_CELLS} cells`, 'axis');
    values = Array.from({ length: count }, (_, i) => (A + i * S) / scale);
  } else {
    const count = Math.floor((b - a) / step + 1e-9) + 1;
    if (count > MAX_GRID_CELLS) throw new GridError(`--axis ${axis}=${body}: ${count} values; a grid may have at most ${MAX_GRID_CELLS} cells`, 'axis');
    values = Array.from({ length: count }, (_, i) => Number((a + i * step).toPrecision(12)));
  }
  for (const v of values) checkValue(axis, spec, v, formatAxisValue(v));
  return values.map((v) => (Object.is(v, -0) ? 0 : v));
}

/** One `--axis` value: `name=a:b:step` (inclusive range) or `name=v1,v2,…`. */
export function parseAxis(text: string): GridAxis {
  const eq = text.indexOf('=');
  if (eq < 0) throw new GridError(`--axis "${text}": expected NAME=START:END:STEP or NAME=V1,V2,… (e.g. guidance=1:3:0.25)`, 'axis');
  const name = text.slice(0, eq).trim();
  const body = text.slice(eq + 1).trim();
  if (!(AXIS_NAMES as readonly string[]).includes(name)) {
    throw new GridError(`--axis ${name || '""'}: unknown axis; axes are ${AXIS_NAMES.join(', ')}`, 'axis');
  }
  const axis = name as AxisName;
  const spec = AXES[axis];
  if (body === '') throw new GridError(`--axis ${axis}: no values; give START:END:STEP or V1,V2,…`, 'axis');
  let values: number[];
  if (body.includes(':')) {
    if (body.includes(',')) throw new GridError(`--axis ${axis}=${body}: give either a range START:END:STEP or a list V1,V2,…, not both`, 'axis');
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
  if (texts.length === 0) throw new GridError('a grid needs at least one --axis NAME=START:END:STEP or NAME=V1,V2,…', 'axis');
  const axes = texts.map(parseAxis);
  const seen = new Set<string>();
  for (const a of axes) {
    if (seen.has(a.name)) throw new GridError(`--axis ${a.name} is given twice; give each axis once (a list may hold any values: ${a.name}=1,2,5)`, 'axis');
    seen.add(a.name);
  }
  const size = gridSize(axes);
  if (size > MAX_GRID_CELLS) {
    throw new GridError(`the grid has ${axes.map((a) => a.values.length).join(' × ')} = ${size} cells; at most ${MAX_GRID_CELLS} are allowed (use coarser axes)`, 'axis');
  }
  return axes;
}

export type CellValues = Record<string, number>;

/** The cells of the cross product in order: the first axis varies slowest, the last fastest. */
export function crossProduct(axes: readonly GridAxis[]): CellValues[] {
  const size = gridSize(axes);
  if (size > MAX_GRID_CELLS) throw new GridError(`the grid has ${size} cells; at most ${MAX_GRID_CELLS} are allowed`, 'axis');
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
      throw new GridError(`grid cell ${describeValues(values)}: ${(e as Error).message}`, 'invalid');
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Metrics

/** Numbers a grid can be ranked by (keys of an evaluation's summary). */
export const SELECTION_METRICS = ['fid', 'kid', 'precision', 'recall', 'density', 'coverage', 'class_tv', 'class_accuracy'] as const;
export type SelectionMetric = (typeof SELECTION_METRICS)[number];

export function isSelectionMetric(m: string): m is SelectionMetric {
  return (SELECTION_METRICS as readonly string[]).includes(m);
}

/** fid, kid and class_tv are distances (lower is better); the rest are scores. */
export function lowerIsBetter(m: SelectionMetric): boolean {
  return m === 'fid' || m === 'kid' || m === 'class_tv';
}

/** The metric computation that yields a selection metric. */
export function metricSource(m: SelectionMetric): MetricName {
  return m === 'class_tv' || m === 'class_accuracy' ? 'classes' : m;
}

// ---------------------------------------------------------------------------------------------
// Results

export const GRID_RESULTS_VERSION = 1;

export interface GridConfig {
  model: { name: string; dir: string };
  /** Settings of every cell before its axis values are applied (resolved against the model). */
  base: SamplerSettings;
  axes: GridAxis[];
  /** Samples per cell. */
  n: number;
  /** The one seed of every cell (common random numbers). */
  seed: number;
  /** Class of the samples: 'random' (uniform), 'none' (the null class) or one class. */
  classes: 'random' | 'none' | number;
  metrics: MetricName[];
  /** What `best` ranks by. */
  metric: SelectionMetric;
}

export interface GridCell {
  index: number;
  values: CellValues;
  settings: SamplerSettings;
  summary: Record<string, number>;
  nfePerSample: number;
  networkEvalsPerSample: number;
  /** NFE summed over the cell's samples. */
  denoiserEvaluations: number;
  /** Network forward passes summed over the cell's samples (a guided evaluation costs two). */
  networkEvals: number;
  seconds: number;
  /** The evaluation's notes (e.g. small-sample bias). */
  flags: string[];
}

export interface GridBest {
  index: number;
  values: CellValues;
  settings: SamplerSettings;
  value: number;
}

export interface GridTotals {
  cells: number;
  done: number;
  denoiserEvaluations: number;
  networkEvals: number;
  seconds: number;
}

export interface GridResults {
  version: number;
  config: GridConfig;
  cells: GridCell[];
  best: GridBest | null;
  totals: GridTotals;
}

/** The best finished cell by the config's metric (ties: the earlier cell), or null. */
export function pickBest(cells: readonly GridCell[], metric: SelectionMetric): GridBest | null {
  const lower = lowerIsBetter(metric);
  let best: GridCell | null = null;
  for (const c of cells) {
    const v = c.summary[metric];
    if (v === undefined || !Number.isFinite(v)) continue;
    if (best === null || (lower ? v < best.summary[metric]! : v > best.summary[metric]!)) best = c;
  }
  return best ? { index: best.index, values: { ...best.values }, settings: best.settings, value: best.summary[metric]! } : null;
}

/** Results with `cells` sorted, best and totals recomputed. */
export function assembleResults(config: GridConfig, cells: GridCell[]): GridResults {
  const sorted = [...cells].sort((a, b) => a.index - b.index);
  const totals: GridTotals = { cells: gridSize(config.axes), done: sorted.length, denoiserEvaluations: 0, networkEvals: 0, seconds: 0 };
  for (const c of sorted) {
    totals.denoiserEvaluations += c.denoiserEvaluations;
    totals.networkEvals += c.networkEvals;
    totals.seconds += c.seconds;
  }
  return { version: GRID_RESULTS_VERSION, config, cells: sorted, best: pickBest(sorted, config.metric), totals };
}


/** The results as a JSON-safe object (∞ → "inf"; NaN → null). */
export function gridResultsJson(r: GridResults): Record<string, unknown> {
  return JSON.parse(JSON.stringify(r, infReplacer)) as Record<string, unknown>;
}

export function serializeGridResults(r: GridResults): string {
  return JSON.stringify(r, infReplacer, 2) + '\n';
}

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function csvNumber(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '';
  return formatAxisValue(v);
}

/** Summary keys of the cells, in first-seen order. */
export function summaryKeys(cells: readonly GridCell[]): string[] {
  const keys: string[] = [];
  for (const c of cells) for (const k of Object.keys(c.summary)) if (!keys.includes(k)) keys.push(k);
  return keys;
}

/** One row per finished cell: the axis values, the metrics, nfePerSample, denoiserEvaluations, seconds. */
export function gridCsv(r: GridResults): string {
  const axes = r.config.axes.map((a) => a.name);
  const metrics = summaryKeys(r.cells);
  const header = [...axes, ...metrics, 'nfePerSample', 'denoiserEvaluations', 'seconds'];
  const rows = r.cells.map((c) => [...axes.map((a) => csvNumber(c.values[a])), ...metrics.map((m) => csvNumber(c.summary[m])), csvNumber(c.nfePerSample), csvNumber(c.denoiserEvaluations), csvNumber(c.seconds)]);
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\n') + '\n';
}

export function resultsPath(dir: string): string {
  return join(dir, 'results.json');
}

/** Writes results.csv then results.json, each atomically. */
export async function saveGridResults(dir: string, r: GridResults): Promise<void> {
  await writeFileAtomic(join(dir, 'results.csv'), gridCsv(r));
  await writeFileAtomic(resultsPath(dir), serializeGridResults(r));
}

// Reading back: every field checked, "inf" turned back into Infinity.

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function reviveNum(v: unknown, what: string): number {
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  if (v === null) return NaN;
  if (typeof v !== 'number') throw new Error(`${what} is not a number`);
  return v;
}

function reviveSettings(v: unknown, what: string): SamplerSettings {
  if (!isObj(v)) throw new Error(`${what} is missing`);
  const num = (k: string): number => reviveNum(v[k], `${what}.${k}`);
  const numOrNull = (k: string): number | null => (v[k] === null ? null : num(k));
  if (!SAMPLERS.includes(v['sampler'] as SamplerSettings['sampler'])) throw new Error(`${what}.sampler is not a sampler`);
  const r = v['restart'];
  if (!isObj(r)) throw new Error(`${what}.restart is missing`);
  const rn = (k: string): number => reviveNum(r[k], `${what}.restart.${k}`);
  return {
    sampler: v['sampler'] as SamplerSettings['sampler'],
    steps: num('steps'),
    sigmaMin: numOrNull('sigmaMin'),
    sigmaMax: numOrNull('sigmaMax'),
    rho: num('rho'),
    churn: num('churn'),
    sTmin: num('sTmin'),
    sTmax: num('sTmax'),
    sNoise: num('sNoise'),
    eta: num('eta'),
    restart: { tMin: rn('tMin'), tMax: rn('tMax'), k: rn('k'), steps: rn('steps') },
    guidance: num('guidance'),
  };
}

function reviveValues(v: unknown, what: string): CellValues {
  if (!isObj(v)) throw new Error(`${what} is missing`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reviveNum(x, `${what}.${k}`)]));
}

function reviveConfig(v: unknown): GridConfig {
  if (!isObj(v)) throw new Error('config is missing');
  const model = v['model'];
  if (!isObj(model) || typeof model['name'] !== 'string' || typeof model['dir'] !== 'string') throw new Error('config.model is missing');
  const axes = v['axes'];
  if (!Array.isArray(axes)) throw new Error('config.axes is missing');
  const metrics = v['metrics'];
  if (!Array.isArray(metrics) || !metrics.every((m) => (METRICS as readonly unknown[]).includes(m))) throw new Error('config.metrics is not a list of metrics');
  const metric = v['metric'];
  if (typeof metric !== 'string' || !isSelectionMetric(metric)) throw new Error('config.metric is not a metric');
  const classes = v['classes'];
  if (classes !== 'random' && classes !== 'none' && typeof classes !== 'number') throw new Error('config.classes is invalid');
  return {
    model: { name: model['name'], dir: model['dir'] },
    base: reviveSettings(v['base'], 'config.base'),
    axes: axes.map((a, i) => {
      if (!isObj(a) || typeof a['name'] !== 'string' || !(AXIS_NAMES as readonly string[]).includes(a['name']) || !Array.isArray(a['values'])) throw new Error(`config.axes[${i}] is invalid`);
      return { name: a['name'] as AxisName, values: a['values'].map((x, j) => reviveNum(x, `config.axes[${i}].values[${j}]`)) };
    }),
    n: reviveNum(v['n'], 'config.n'),
    seed: reviveNum(v['seed'], 'config.seed'),
    classes,
    metrics: metrics as MetricName[],
    metric,
  };
}

function reviveCell(v: unknown, i: number): GridCell {
  const what = `cells[${i}]`;
  if (!isObj(v)) throw new Error(`${what} is not an object`);
  const summary = v['summary'];
  if (!isObj(summary)) throw new Error(`${what}.summary is missing`);
  const flags = Array.isArray(v['flags']) ? v['flags'].filter((f): f is string => typeof f === 'string') : [];
  return {
    index: reviveNum(v['index'], `${what}.index`),
    values: reviveValues(v['values'], `${what}.values`),
    settings: reviveSettings(v['settings'], `${what}.settings`),
    summary: Object.fromEntries(Object.entries(summary).map(([k, x]) => [k, reviveNum(x, `${what}.summary.${k}`)])),
    nfePerSample: reviveNum(v['nfePerSample'], `${what}.nfePerSample`),
    networkEvalsPerSample: reviveNum(v['networkEvalsPerSample'], `${what}.networkEvalsPerSample`),
    denoiserEvaluations: reviveNum(v['denoiserEvaluations'], `${what}.denoiserEvaluations`),
    networkEvals: reviveNum(v['networkEvals'], `${what}.networkEvals`),
    seconds: reviveNum(v['seconds'], `${what}.seconds`),
    flags,
  };
}

/** The saved results of `dir`, null when there are none; a damaged file is a GridError ('corrupt'). */
export async function loadGridResults(dir: string): Promise<GridResults | null> {
  const file = resultsPath(dir);
  if (!existsSync(file)) return null;
  const text = await readFile(file, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new GridError(`${file} is corrupted (not valid JSON: ${(e as Error).message}); it was left as it is`, 'corrupt');
  }
  try {
    if (!isObj(raw)) throw new Error('it is not an object');
    if (raw['version'] !== GRID_RESULTS_VERSION) throw new Error(`version is ${JSON.stringify(raw['version'])}, this program reads version ${GRID_RESULTS_VERSION}`);
    const config = reviveConfig(raw['config']);
    if (!Array.isArray(raw['cells'])) throw new Error('cells is missing');
    const cells = raw['cells'].map(reviveCell);
    return assembleResults(config, cells);
  } catch (e) {
    if (e instanceof GridError) throw e;
    throw new GridError(`${file} is corrupted (${(e as Error).message}); it was left as it is`, 'corrupt');
  }
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a, infReplacer) === JSON.stringify(b, infReplacer);
}

function show(v: unknown): string {
  return typeof v === 'number' ? formatAxisValue(v) : JSON.stringify(v, infReplacer);
}

function describeAxes(axes: readonly GridAxis[]): string {
  return axes.map((a) => `${a.name}=${a.values.map(formatAxisValue).join(',')}`).join(' ') || '(none)';
}

/**
 * What differs between a saved grid's configuration and this one, as "what: saved → now" lines
 * (empty when they describe the same grid). The ranking metric is not compared: cells do not
 * depend on it.
 */
export function diffGridConfig(saved: GridConfig, now: GridConfig): string[] {
  const out: string[] = [];
  if (saved.model.name !== now.model.name) out.push(`model: ${saved.model.name} → ${now.model.name}`);
  if (saved.model.dir !== now.model.dir) out.push(`model directory: ${saved.model.dir} → ${now.model.dir}`);
  if (!same(saved.axes, now.axes)) out.push(`axes: ${describeAxes(saved.axes)} → ${describeAxes(now.axes)}`);
  const flat = (s: SamplerSettings): Record<string, unknown> => {
    const { restart, ...rest } = s;
    return { ...rest, ...Object.fromEntries(Object.entries(restart).map(([k, v]) => [`restart.${k}`, v])) };
  };
  const a = flat(saved.base);
  const b = flat(now.base);
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!same(a[k], b[k])) out.push(`settings ${k}: ${show(a[k])} → ${show(b[k])}`);
  }
  if (saved.n !== now.n) out.push(`n: ${saved.n} → ${now.n}`);
  if (saved.seed !== now.seed) out.push(`seed: ${saved.seed} → ${now.seed}`);
  if (saved.classes !== now.classes) out.push(`classes: ${saved.classes} → ${now.classes}`);
  if (!same([...saved.metrics].sort(), [...now.metrics].sort())) out.push(`metrics: ${saved.metrics.join(',')} → ${now.metrics.join(',')}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running

export interface GridProgress {
  /** Cells finished (saved ones included). */
  cellsDone: number;
  cells: number;
  /** Index of the cell being computed, null between cells. */
  cell: number | null;
  /** Samples drawn in that cell. */
  samplesDone: number;
  n: number;
  /** Seconds since this run started. */
  elapsedSeconds: number;
  /** Estimated seconds left (from this run's own rate), null until there is a rate. */
  etaSeconds: number | null;
}

export interface RunGridOptions {
  model: Model;
  config: GridConfig;
  /** Directory for results.json / results.csv (saved after every cell); null: keep in memory only. */
  outDir?: string | null;
  /** Discard saved results of another (or the same) grid in outDir instead of continuing them. */
  restart?: boolean;
  /** Samples per generation batch (does not change the samples: streams are per sample). */
  batch?: number;
  signal?: AbortSignal;
  /** Reused when given (else made from the model and disposed at the end). */
  extractor?: FeatureExtractor;
  reference?: Reference;
  /** Before the first cell: how many cells are already done (resumed from outDir). */
  onStart?: (info: { cells: number; resumed: number; results: GridResults }) => void;
  /** After each newly computed cell has been saved. */
  onCell?: (cell: GridCell, results: GridResults) => void;
  onProgress?: (p: GridProgress) => void;
}

export interface GridRun {
  results: GridResults;
  /** Cells computed by this run. */
  computed: number;
  /** Cells taken from the saved results. */
  resumed: number;
}

/**
 * Runs (or continues) a grid: every cell not yet in `outDir` is sampled with the config's seed,
 * scored, and saved at once. Throws SamplingCancelled when `signal` aborts (finished cells stay
 * saved), GridError for a mismatching or damaged saved grid or a bad cell.
 */
export async function runGrid(o: RunGridOptions): Promise<GridRun> {
  const { model, config } = o;
  checkGridConfig(config);
  const allValues = crossProduct(config.axes);
  const total = allValues.length;
  const settings = resolveCells(model, config.base, config.axes);
  if (o.signal?.aborted) throw new SamplingCancelled();

  // Saved cells.
  let cells: GridCell[] = [];
  if (o.outDir && !o.restart) {
    const saved = await loadGridResults(o.outDir);
    if (saved) {
      const diff = diffGridConfig(saved.config, config);
      if (diff.length > 0) throw new GridError(`${resultsPath(o.outDir)} holds another grid: ${diff.join('; ')}`, 'mismatch');
      const seen = new Set<number>();
      for (const c of saved.cells) {
        const want = allValues[c.index];
        if (!Number.isInteger(c.index) || want === undefined || !same(want, c.values) || seen.has(c.index)) {
          throw new GridError(`${resultsPath(o.outDir)} is corrupted (cell ${c.index} with ${describeValues(c.values)} is not a cell of this grid, or appears twice); it was left as it is`, 'corrupt');
        }
        seen.add(c.index);
      }
      cells = saved.cells;
    }
  }
  // The current config is what gets saved: a changed ranking metric re-ranks the saved cells.
  const resumed = cells.length;
  let results = assembleResults(config, cells);
  // Written at once: checks the directory is writable, and --restart discards the old results now.
  if (o.outDir) await saveGridResults(o.outDir, results);
  o.onStart?.({ cells: total, resumed, results });

  const ownExtractor = !o.extractor;
  const extractor = o.extractor ?? (await extractorForModel(model));
  let computed = 0;
  try {
    const reference = o.reference ?? (await referenceFor(model, extractor));
    const done = new Set(cells.map((c) => c.index));
    const todo = allValues.map((_, i) => i).filter((i) => !done.has(i));
    const t0 = performance.now();
    const n = config.n;
    let samplesThisRun = 0;
    const progress = (cell: number | null, samplesDone: number): void => {
      if (!o.onProgress) return;
      const elapsed = (performance.now() - t0) / 1000;
      const work = samplesThisRun + samplesDone;
      const left = todo.length * n - work;
      o.onProgress({ cellsDone: results.cells.length, cells: total, cell, samplesDone, n, elapsedSeconds: elapsed, etaSeconds: work > 0 ? (elapsed * left) / work : null });
    };
    progress(null, 0);
    for (const index of todo) {
      if (o.signal?.aborted) throw new SamplingCancelled();
      const c0 = performance.now();
      const s = settings[index]!;
      progress(index, 0);
      const gen = await generate(model, s, {
        n,
        batch: o.batch ?? 256,
        seed: config.seed,
        classes: config.classes,
        signal: o.signal,
        onProgress: (p) => progress(index, p.samplesDone),
      });
      const res = await evaluateSamples({ model, extractor, reference, samples: gen.samples, n, conditioning: gen.labels }, config.metrics);
      let nfe = 0;
      let net = 0;
      for (let i = 0; i < n; i++) {
        nfe += gen.nfe[i]!;
        net += gen.networkEvals[i]!;
      }
      const cell: GridCell = {
        index,
        values: allValues[index]!,
        settings: s,
        summary: res.summary,
        nfePerSample: nfe / n,
        networkEvalsPerSample: net / n,
        denoiserEvaluations: nfe,
        networkEvals: net,
        seconds: (performance.now() - c0) / 1000,
        flags: res.flags,
      };
      cells = [...cells, cell];
      results = assembleResults(config, cells);
      if (o.outDir) await saveGridResults(o.outDir, results);
      computed++;
      samplesThisRun += n;
      o.onCell?.(cell, results);
      progress(null, 0);
    }
  } finally {
    if (ownExtractor) await extractor.dispose();
  }
  return { results, computed, resumed };
}

/** Checks a config's numbers and metrics (GridError). */
export function checkGridConfig(c: GridConfig): void {
  if (!Number.isInteger(c.n) || c.n < 2) throw new GridError(`n must be an integer ≥ 2, got ${c.n}`);
  if (!Number.isInteger(c.seed) || c.seed < 0) throw new GridError(`seed must be an integer ≥ 0, got ${c.seed}`);
  if (!isSelectionMetric(c.metric)) throw new GridError(`unknown metric "${String(c.metric)}"; choose from ${SELECTION_METRICS.join(', ')}`);
  if (!c.metrics.includes(metricSource(c.metric))) throw new GridError(`ranking by ${c.metric} needs "${metricSource(c.metric)}" among the metrics (${c.metrics.join(',')})`);
  if (c.axes.length === 0) throw new GridError('a grid needs at least one axis', 'axis');
}
