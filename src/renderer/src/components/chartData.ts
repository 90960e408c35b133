// Metrics lines → the columns a LineChart draws (uPlot's aligned data: x, then one column per
// series, then a band's lower and upper edge), and the y range. Pure functions, no DOM.
//
// [Note: gaps and joins]
// uPlot breaks a line at `null` and joins across `undefined`. A metric the catalogue says is written
// every iteration gets a point on every line, `null` where the line lacks it or its value is not
// finite (±Infinity), so the curve shows a gap there. A metric written only at evaluations
// (`cadence: 'evaluation'`) gets points only where it was written, joined across the iterations in
// between; a non-finite value is still a gap. Several runs share one x column (the union of their
// iterations): where a run has no line, its column is `undefined`, and its curve carries on.

import { metricInfo, type MetricInfo } from '../../../shared/metrics';

/** A metrics line: a MetricsEvent, or a line of metrics.jsonl with its iteration. */
export interface MetricsLine {
  iteration: number;
  metrics: Record<string, number>;
}

export type Column = (number | null | undefined)[];

/** What a LineChart draws: `data` = [x, ...one column per name, (with `band`) lower edge, upper edge]. */
export interface ChartData {
  data: [x: number[], ...ys: Column[]];
  /** The plotted series, in column order. */
  names: string[];
  /** The last two columns are the ± band around the first series. */
  band: boolean;
  /** Smoothed (smoothChart): after the band, one column per series with its raw values, drawn faintly. */
  raw?: boolean;
}

const finite = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? v : null);

/** One metric over the lines: x the iterations that carry it (every line, for a per-iteration metric), y its values. */
export function metricColumns(lines: readonly MetricsLine[], key: string): { x: number[]; y: (number | null)[] } {
  const sparse = metricInfo(key).cadence === 'evaluation';
  const x: number[] = [];
  const y: (number | null)[] = [];
  for (const l of lines) {
    const v = l.metrics[key];
    if (sparse && v === undefined) continue;
    x.push(l.iteration);
    y.push(finite(v));
  }
  return { x, y };
}

/** A Train chart: the metric, and its ± band when the catalogue gives it one (null where either is missing). */
export function metricChart(lines: readonly MetricsLine[], info: MetricInfo): ChartData {
  const { x, y } = metricColumns(lines, info.key);
  if (info.band === undefined) return { data: [x, y], names: [info.label], band: false };
  const band = info.band;
  const lo: (number | null)[] = [];
  const hi: (number | null)[] = [];
  let i = 0;
  for (const l of lines) {
    if (info.cadence === 'evaluation' && l.metrics[info.key] === undefined) continue;
    const m = y[i++] ?? null;
    const s = finite(l.metrics[band]);
    lo.push(m === null || s === null ? null : m - s);
    hi.push(m === null || s === null ? null : m + s);
  }
  return { data: [x, y, lo, hi], names: [info.label], band: true };
}

/**
 * A Train chart with a reference series beside the metric (a drift run's base sampler reward next to
 * the policy's): the reference's values on the lines that carry the metric, its band kept last.
 */
export function metricChartWithBase(
  lines: readonly MetricsLine[],
  info: MetricInfo,
  base: { key: string; label: string },
): ChartData {
  const c = metricChart(lines, info);
  const col: (number | null)[] = [];
  for (const l of lines) {
    if (info.cadence === 'evaluation' && l.metrics[info.key] === undefined) continue;
    col.push(finite(l.metrics[base.key]));
  }
  const [x, y, ...band] = c.data;
  return { ...c, data: [x, y!, col, ...band], names: [...c.names, base.label] };
}

/** Several runs' curves of one metric on a shared x (the union of their iterations). */
export function comparisonChart(
  runs: readonly { name: string; lines: readonly MetricsLine[] }[],
  key: string,
): ChartData {
  const cols = runs.map((r) => metricColumns(r.lines, key));
  const xs = [...new Set(cols.flatMap((c) => c.x))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const ys = cols.map((c) => {
    const col: Column = new Array<number | null | undefined>(xs.length).fill(undefined);
    c.x.forEach((x, i) => (col[at.get(x)!] = c.y[i]));
    return col;
  });
  return { data: [xs, ...ys], names: runs.map((r) => r.name), band: false };
}

/**
 * TensorBoard's smoothing of one column: a debiased exponential moving average with weight w ∈ [0, 1)
 * (last = w·last + (1 − w)·v; shown last / (1 − w^k) after k values), so the first values are not
 * pulled towards 0. A gap (null) stays a gap and does not reset the average; `undefined` (no value for
 * this run at that x) stays undefined. A constant series comes out exactly as it went in.
 */
export function smoothColumn(col: Column, w: number): Column {
  if (!(w > 0)) return col;
  let last = 0;
  let k = 0;
  const finite = col.filter((v): v is number => v !== null && v !== undefined);
  if (finite.every((v) => v === finite[0])) return col;
  return col.map((v) => {
    if (v === null || v === undefined) return v;
    last = last * w + (1 - w) * v;
    k++;
    return last / (1 - w ** k);
  });
}

/** The chart smoothed with weight w (smoothColumn on every series and band edge), the raw series appended. */
export function smoothChart(c: ChartData, w: number): ChartData {
  if (!(w > 0)) return c;
  const [x, ...ys] = c.data;
  const raw = ys.slice(0, c.names.length);
  return { ...c, data: [x, ...ys.map((col) => smoothColumn(col, w)), ...raw], raw: true };
}

/** How many values the chart's series hold (band edges not counted). */
export function pointCount(c: ChartData): number {
  let n = 0;
  for (let s = 1; s <= c.names.length; s++) for (const v of c.data[s]!) if (v !== null && v !== undefined) n++;
  return n;
}

/** Whether every value (series and band) is positive: a log axis can show them all. */
export function allPositive(c: ChartData): boolean {
  for (let s = 1; s < c.data.length; s++)
    for (const v of c.data[s]!) if (v !== null && v !== undefined && v <= 0) return false;
  return true;
}

/**
 * The y range for values in [min, max], padded by 8% of the span on each side. A span smaller than
 * 1% of the values' magnitude is widened to that, centred, so a flat (or one-point) series sits in
 * the middle of a narrow honest range instead of filling the chart with rounding noise; an all-zero
 * series gets about ±1. On a log axis the same happens to the logarithms (at least a factor of 1.5),
 * and the ends are rounded out to one significant digit (0.007–0.02), where uPlot's log ticks start.
 */
export function paddedRange(min: number, max: number, log = false): [number, number] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return log ? [0.1, 10] : [0, 1];
  if (log) {
    const [lo, hi] = paddedSpan(Math.log10(min), Math.log10(max), Math.log10(1.5));
    return [roundLog(10 ** lo, Math.floor), roundLog(10 ** hi, Math.ceil)];
  }
  const mag = Math.max(Math.abs(min), Math.abs(max));
  return paddedSpan(min, max, mag > 0 ? mag * 0.01 : 2);
}

/** `v` rounded (down or up) to one significant digit: 0.0123 → 0.01 or 0.02. */
function roundLog(v: number, round: (x: number) => number): number {
  const mag = 10 ** Math.floor(Math.log10(v));
  return Number((round(v / mag) * mag).toPrecision(12));
}

function paddedSpan(min: number, max: number, minSpan: number): [number, number] {
  let lo = min;
  let hi = max;
  if (hi - lo < minSpan) {
    const mid = (lo + hi) / 2;
    lo = mid - minSpan / 2;
    hi = mid + minSpan / 2;
  }
  const pad = (hi - lo) * 0.08;
  return [lo - pad, hi + pad];
}

/** The x range: the iterations shown, one either side of a single one. */
export function xRange(min: number, max: number): [number, number] {
  return min === max ? [min - 1, max + 1] : [min, max];
}

/** A linear axis tick: as many decimals as the tick spacing needs (0.0995, 0.1000, 0.1005 — not 0.1 three times). */
export function tickLabel(v: number, incr: number): string {
  let d = incr > 0 && Number.isFinite(incr) ? Math.max(0, -Math.floor(Math.log10(incr))) : 0;
  while (d < 12 && Math.abs(incr * 10 ** d - Math.round(incr * 10 ** d)) > 1e-6 * incr * 10 ** d) d++;
  // Rounding noise around zero shows as 0, not -0.0.
  return (Math.abs(v) < incr * 1e-6 ? 0 : v).toFixed(d);
}

/** A log axis tick: its value with the digits it has (0.00001, 0.03, 2), never rounded to 0. */
export function logTickLabel(v: number): string {
  return String(Number(v.toPrecision(6)));
}
