// A grid's results: its configuration, its finished cells, the best cell by the ranking metric and
// the totals; what makes two configurations the same grid. Ranking follows the metric catalogue
// (shared/metrics.ts): which metrics rank, and which way is better.

import { EVAL_METRICS, isBetter } from '../../../shared/metrics';
import { infReplacer } from '../../../shared/json';
import type { MetricName } from '../metrics/evaluate';
import type { SamplerSettings } from '../samplers/types';
import { describeAxes, formatAxisValue, gridSize, type CellValues, type GridAxis } from './axes';
import { GridError } from './error';

// ---------------------------------------------------------------------------------------------
// Ranking

type Rankable = Extract<(typeof EVAL_METRICS)[number], { better: 'lower' | 'higher' }>;

/** Numbers a grid can be ranked by: the evaluation summary keys that have a better direction. */
export const SELECTION_METRICS: readonly Rankable['key'][] = EVAL_METRICS.filter(
  (m): m is Rankable => m.better !== null,
).map((m) => m.key);
export type SelectionMetric = Rankable['key'];

export function isSelectionMetric(m: string): m is SelectionMetric {
  return (SELECTION_METRICS as readonly string[]).includes(m);
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
  /** Its samples' picture (`grid --images`), relative to the grid's directory: cells/cell-0003.png. */
  picture?: string;
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
  let best: GridCell | null = null;
  for (const c of cells) {
    const v = c.summary[metric];
    if (v === undefined || !Number.isFinite(v)) continue;
    if (best === null || isBetter(metric, v, best.summary[metric])) best = c;
  }
  return best
    ? { index: best.index, values: { ...best.values }, settings: best.settings, value: best.summary[metric]! }
    : null;
}

/** Results with `cells` sorted, best and totals recomputed. */
export function assembleResults(config: GridConfig, cells: GridCell[]): GridResults {
  const sorted = [...cells].sort((a, b) => a.index - b.index);
  const totals: GridTotals = {
    cells: gridSize(config.axes),
    done: sorted.length,
    denoiserEvaluations: 0,
    networkEvals: 0,
    seconds: 0,
  };
  for (const c of sorted) {
    totals.denoiserEvaluations += c.denoiserEvaluations;
    totals.networkEvals += c.networkEvals;
    totals.seconds += c.seconds;
  }
  return { version: GRID_RESULTS_VERSION, config, cells: sorted, best: pickBest(sorted, config.metric), totals };
}

/** Summary keys of the cells, in first-seen order. */
export function summaryKeys(cells: readonly GridCell[]): string[] {
  const keys: string[] = [];
  for (const c of cells) for (const k of Object.keys(c.summary)) if (!keys.includes(k)) keys.push(k);
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Configurations

/** Checks a config's numbers and metrics (GridError). */
export function checkGridConfig(c: GridConfig): void {
  if (!Number.isInteger(c.n) || c.n < 2) throw new GridError(`n must be an integer ≥ 2, got ${c.n}`);
  if (!Number.isInteger(c.seed) || c.seed < 0) throw new GridError(`seed must be an integer ≥ 0, got ${c.seed}`);
  if (!isSelectionMetric(c.metric))
    throw new GridError(`unknown metric "${String(c.metric)}"; choose from ${SELECTION_METRICS.join(', ')}`);
  if (!c.metrics.includes(metricSource(c.metric)))
    throw new GridError(
      `ranking by ${c.metric} needs "${metricSource(c.metric)}" among the metrics (${c.metrics.join(',')})`,
    );
  if (c.axes.length === 0) throw new GridError('a grid needs at least one axis', 'axis');
}

/** Whether two values are the same once written as JSON (∞ as "inf"). */
export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a), infReplacer) === JSON.stringify(canonical(b), infReplacer);
}

/** The value with every object's keys sorted: the same settings saved in another key order are the same. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
  );
}

function show(v: unknown): string {
  return typeof v === 'number' ? formatAxisValue(v) : JSON.stringify(v, infReplacer);
}

/**
 * Whether `now` is `saved` with values added to its axes: the same axes in the same order, each
 * keeping every saved value. Such a grid keeps every saved cell (run.ts re-indexes them), so a
 * user refines a search without paying again for what was sampled. [Note: results on disk]
 */
export function extendsAxes(saved: readonly GridAxis[], now: readonly GridAxis[]): boolean {
  return (
    saved.length === now.length &&
    saved.every((a, k) => {
      const b = now[k]!;
      return a.name === b.name && a.values.every((v) => b.values.some((w) => sameJson(v, w)));
    })
  );
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
  if (!sameJson(saved.axes, now.axes) && !extendsAxes(saved.axes, now.axes))
    out.push(
      `axes: ${describeAxes(saved.axes)} → ${describeAxes(now.axes)} (a saved grid can gain axis values, never lose any or change its axes)`,
    );
  const flat = (s: SamplerSettings): Record<string, unknown> => {
    const { restart, ...rest } = s;
    return { ...rest, ...Object.fromEntries(Object.entries(restart).map(([k, v]) => [`restart.${k}`, v])) };
  };
  const a = flat(saved.base);
  const b = flat(now.base);
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!sameJson(a[k], b[k])) out.push(`settings ${k}: ${show(a[k])} → ${show(b[k])}`);
  }
  if (saved.n !== now.n) out.push(`n: ${saved.n} → ${now.n}`);
  if (saved.seed !== now.seed) out.push(`seed: ${saved.seed} → ${now.seed}`);
  if (saved.classes !== now.classes) out.push(`classes: ${saved.classes} → ${now.classes}`);
  if (!sameJson([...saved.metrics].sort(), [...now.metrics].sort()))
    out.push(`metrics: ${saved.metrics.join(',')} → ${now.metrics.join(',')}`);
  return out;
}
