// A line chart on uPlot (canvas: thousands of points draw in a few milliseconds, no DOM per point):
// x = iteration, one series with an optional ± band (the learning signal's mean ± std), or several
// series with a legend (runs side by side). Axis ticks, a hover cursor (shared by every chart with
// the same `sync` key), and values at the cursor in the header — the latest values when the pointer
// is elsewhere.
//
// The React side is a thin wrapper: uPlot is created in an effect (again when the options change:
// theme, series, scale), fed with setData when only the data changes, resized by a ResizeObserver,
// and destroyed on unmount. The values in the header are written by uPlot's setLegend hook straight
// into their spans, so moving the pointer re-renders nothing.

import { useEffect, useLayoutEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { Group, Text, useComputedColorScheme, useMantineTheme, type MantineTheme } from '@mantine/core';
import { formatMetric } from '../../../shared/metrics';
import {
  allPositive,
  logTickLabel,
  paddedRange,
  pointCount,
  smoothChart,
  tickLabel,
  xRange,
  type ChartData,
} from './chartData';

export type { ChartData } from './chartData';

const PALETTE = ['blue', 'orange', 'green', 'grape', 'yellow', 'cyan', 'red', 'violet'] as const;

interface Colors {
  series: string[];
  band: string;
  text: string;
  grid: string;
}

/** The chart's colours from the Mantine theme, for the scheme shown (light or dark). */
function colors(theme: MantineTheme, dark: boolean): Colors {
  return {
    series: PALETTE.map((c) => theme.colors[c]![dark ? 4 : 7]!),
    band: dark ? 'rgba(116, 192, 252, 0.22)' : 'rgba(28, 126, 214, 0.15)',
    text: dark ? theme.colors.dark[1]! : theme.colors.gray[7]!,
    grid: dark ? theme.colors.dark[4]! : theme.colors.gray[3]!,
  };
}

/** Ticks on the iteration axis fall on whole iterations. */
const ITERATION_INCRS = [
  1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 20_000, 25_000, 50_000, 100_000, 200_000,
  500_000, 1_000_000,
];
const FONT = '11px system-ui, sans-serif';

export interface LineChartProps {
  title: string;
  /** Hover help for the title. */
  help?: string;
  chart: ChartData;
  /** The catalogue key whose digits format the values (shared/metrics.ts). */
  metric: string;
  /** The catalogue key of the band, for its "± value". */
  bandMetric?: string;
  /** A log y axis (the catalogue's `log`); falls back to linear while any value is ≤ 0. */
  log?: boolean;
  /** What x counts (default: iteration; a step scheduler's σ by step: step). */
  xLabel?: string;
  /** The band is a range (quantiles), shown as [lower, upper] rather than ± half its width. */
  bandRange?: boolean;
  /** Height of the plot with its axes, CSS pixels. */
  height?: number;
  /** Charts with the same key share one cursor. */
  sync?: string;
  /** TensorBoard's smoothing weight in [0, 1): the curve smoothed, the raw values faint behind it. */
  smoothing?: number;
  testId?: string;
}

export function LineChart({
  title,
  help,
  chart: given,
  metric,
  bandMetric,
  log = false,
  xLabel = 'iteration',
  bandRange = false,
  height = 150,
  sync,
  smoothing = 0,
  testId,
}: LineChartProps) {
  const chart = useMemo(() => smoothChart(given, smoothing), [given, smoothing]);
  const box = useRef<HTMLDivElement>(null);
  const values = useRef<(HTMLSpanElement | null)[]>([]);
  const plot = useRef<uPlot | null>(null);
  // 'auto' resolved to what is shown, so the chart follows the page's theme.
  const dark = useComputedColorScheme('light') === 'dark';
  const theme = useMantineTheme();
  const palette = useMemo(() => colors(theme, dark), [theme, dark]);
  const points = useMemo(() => pointCount(chart), [chart]);
  // A log axis cannot show a value ≤ 0: the whole chart falls back to linear while there is one.
  const logScale = log && allPositive(chart);
  const multi = chart.names.length > 1;
  const names = chart.names.join('\u0000');

  // The header: the value under the cursor of each series (its last value when the cursor is away).
  const latest = useRef<(number | null)[]>([]);
  const writeLegend = useRef<(u: uPlot) => void>(() => {});
  const legendWriter = (u: uPlot): void => {
    const hovering = u.cursor.idx !== null && u.cursor.idx !== undefined;
    for (let s = 1; s <= chart.names.length; s++) {
      const el = values.current[s - 1];
      if (!el) continue;
      const i = hovering ? (u.legend.idxs?.[s] ?? null) : (latest.current[s] ?? null);
      const y = i === null ? null : u.data[s]![i];
      if (i === null || y === null || y === undefined) {
        el.textContent = '—';
        continue;
      }
      let text = formatMetric(metric, y);
      if (chart.band && s === 1) {
        const lo = u.data[chart.names.length + 1]![i];
        const hi = u.data[chart.names.length + 2]![i];
        if (lo !== null && lo !== undefined && hi !== null && hi !== undefined)
          text += bandRange
            ? ` [${formatMetric(metric, lo)}, ${formatMetric(metric, hi)}]`
            : ` ± ${formatMetric(bandMetric ?? metric, (hi - lo) / 2)}`;
      }
      const rawCol = chart.raw ? u.data[chart.names.length + (chart.band ? 2 : 0) + s] : undefined;
      const rawY = rawCol?.[i];
      if (rawY !== null && rawY !== undefined && rawY !== y) text += ` (raw ${formatMetric(metric, rawY)})`;
      el.textContent = `${xLabel === 'iteration' ? 'it.' : xLabel} ${u.data[0][i]}: ${text}`;
    }
  };
  // Refs follow the committed render (the hooks and effects below read them).
  const dataNow = useRef(chart);
  useLayoutEffect(() => {
    writeLegend.current = legendWriter;
    dataNow.current = chart;
  });
  const remember = (u: uPlot): void => {
    latest.current = u.data.map((col, s) => {
      if (s === 0) return null;
      for (let i = col.length - 1; i >= 0; i--) if (col[i] !== null && col[i] !== undefined) return i;
      return null;
    });
    writeLegend.current(u);
  };

  const options = useMemo((): Omit<uPlot.Options, 'width'> => {
    const n = names.split('\u0000').length;
    const series: uPlot.Series[] = [{ label: xLabel }];
    for (let s = 0; s < n; s++)
      series.push({
        label: names.split('\u0000')[s],
        stroke: palette.series[s % palette.series.length],
        width: 1.5,
        spanGaps: false,
        points: { size: 4, fill: palette.series[s % palette.series.length] },
      });
    if (chart.band)
      for (const edge of ['− std', '+ std'])
        series.push({ label: edge, stroke: 'transparent', width: 0, spanGaps: false, points: { show: false } });
    if (chart.raw)
      for (let s = 0; s < n; s++)
        series.push({
          label: `${names.split('\u0000')[s]} (raw)`,
          stroke: `${palette.series[s % palette.series.length]}4d`, // the series' colour at 30% opacity
          width: 1,
          spanGaps: false,
          points: { show: false },
        });
    const axis = (): uPlot.Axis => ({
      stroke: palette.text,
      font: FONT,
      grid: { stroke: palette.grid, width: 1 },
      ticks: { stroke: palette.grid, width: 1, size: 4 },
    });
    return {
      height,
      series,
      bands: chart.band ? [{ series: [n + 2, n + 1], fill: palette.band }] : [],
      scales: {
        x: { time: false, range: (_u, min, max) => xRange(min, max) },
        y: logScale
          ? { distr: 3, log: 10, range: (_u, min, max) => paddedRange(min, max, true) }
          : { range: (_u, min, max) => paddedRange(min, max) },
      },
      axes: [
        { ...axis(), incrs: ITERATION_INCRS, size: 28 },
        // Wide enough for the longest tick label.
        {
          ...axis(),
          values: (_u, splits, _i, _space, incr) =>
            splits.map((v) => (v === null ? null : logScale ? logTickLabel(v) : tickLabel(v, incr))),
          size: (_u, labels) => 14 + 6.2 * Math.max(3, ...(labels ?? []).map((l) => String(l ?? '').length)),
        },
      ],
      legend: { show: false },
      cursor: {
        // A vertical line only: the charts share x, not y.
        y: false,
        ...(sync ? { sync: { key: sync, scales: ['x', null] as uPlot.Cursor.Sync.Scales, setSeries: false } } : {}),
        // No hover dot on a band's edges.
        points: { size: (_u, s) => (s > n ? 0 : 7) },
        drag: { x: true, y: false },
      },
      hooks: { setLegend: [(u) => writeLegend.current(u)] },
    };
  }, [names, chart.band, chart.raw, logScale, palette, height, sync, xLabel]);

  // Created when the options change, destroyed on unmount.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const u = new uPlot(
      { ...options, width: Math.max(100, Math.floor(el.clientWidth) || 300) },
      dataNow.current.data as uPlot.AlignedData,
      el,
    );
    plot.current = u;
    remember(u);
    let frame = 0;
    const resize = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        const w = Math.floor(el.clientWidth);
        if (w > 0 && w !== u.width) u.setSize({ width: w, height: u.height });
      });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      cancelAnimationFrame(frame);
      u.destroy();
      plot.current = null;
    };
  }, [options]);
  // New data into the same chart.
  useEffect(() => {
    const u = plot.current;
    if (!u || u.data === (chart.data as uPlot.AlignedData)) return;
    u.setData(chart.data as uPlot.AlignedData);
    remember(u);
    u.ctx.canvas.setAttribute('aria-label', label(title, points, chart.names.length));
  }, [chart]);
  useEffect(() => {
    const c = plot.current?.ctx.canvas;
    if (!c) return;
    c.setAttribute('role', 'img');
    c.setAttribute('aria-label', label(title, points, chart.names.length));
  }, [options, title, points, chart.names.length]);

  return (
    <div data-testid={testId} data-points={points} data-scale={logScale ? 'log' : 'linear'} style={{ minWidth: 0 }}>
      <Group gap={6} style={{ rowGap: 0 }} align="baseline">
        <Text size="sm" fw={500} title={help}>
          {title}
        </Text>
        {log && (
          <Text
            span
            size="xs"
            c="dimmed"
            title={logScale ? 'logarithmic y axis' : 'a value ≤ 0 cannot go on a log axis: linear until there is none'}
          >
            {logScale ? 'log' : 'linear'}
          </Text>
        )}
        {!multi && (
          <Text
            span
            size="xs"
            c="dimmed"
            ff="monospace"
            style={{ whiteSpace: 'nowrap' }}
            ref={(e: HTMLSpanElement | null) => void (values.current[0] = e)}
            data-testid={testId && `${testId}-value`}
          />
        )}
      </Group>
      <div style={{ position: 'relative', minWidth: 0 }}>
        {/* uPlot's own DOM: React renders nothing inside */}
        <div ref={box} style={{ minWidth: 0, overflow: 'hidden', height }} />
        {points === 0 && (
          <Text
            size="xs"
            c="dimmed"
            style={{ position: 'absolute', top: height / 2 - 20, left: 60, pointerEvents: 'none' }}
          >
            waiting for data…
          </Text>
        )}
      </div>
      {multi && (
        <Group gap="md" mt={4}>
          {chart.names.map((name, i) => (
            <Text key={name} size="xs">
              <span style={{ color: palette.series[i % palette.series.length] }}>■</span> {name}{' '}
              <Text
                span
                size="xs"
                c="dimmed"
                ff="monospace"
                ref={(e: HTMLSpanElement | null) => void (values.current[i] = e)}
                data-testid={testId && `${testId}-value-${i}`}
              />
            </Text>
          ))}
        </Group>
      )}
    </div>
  );
}

function label(title: string, points: number, series: number): string {
  return `${title} chart, ${points} points${series > 1 ? ` in ${series} series` : ''}`;
}
