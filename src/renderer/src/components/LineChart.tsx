// A small canvas line chart: thousands of points redraw in well under a frame (no DOM per point).
// One series with an optional ±band (e.g. the learning signal's mean ± std), or several series with
// a legend (runs side by side); x = iteration.

import { useEffect, useMemo, useRef } from 'react';
import { Group, Text, useComputedColorScheme } from '@mantine/core';

export interface ChartPoint {
  x: number;
  y: number;
  /** Half-width of the band around y (e.g. a standard deviation). */
  band?: number;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
}

const LIGHT = ['#1c7ed6', '#e8590c', '#2f9e44', '#ae3ec9', '#f08c00', '#0c8599', '#e03131', '#5f3dc4'];
const DARK = ['#74c0fc', '#ffa94d', '#8ce99a', '#e599f7', '#ffd43b', '#66d9e8', '#ff8787', '#b197fc'];

export function LineChart({ title, points, series, height = 140, testId }: { title: string; points?: ChartPoint[]; series?: ChartSeries[]; height?: number; testId?: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  // 'auto' resolved to what is shown, so the canvas follows the page's theme.
  const dark = useComputedColorScheme('light') === 'dark';
  const all: ChartSeries[] = useMemo(() => series ?? [{ name: title, points: points ?? [] }], [series, points, title]);
  const total = all.reduce((n, s) => n + s.points.length, 0);
  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth;
    const h = height;
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
    const g = c.getContext('2d')!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const fg = dark ? '#c9c9c9' : '#495057';
    g.clearRect(0, 0, w, h);
    g.font = '11px sans-serif';
    g.fillStyle = fg;
    if (total === 0) {
      g.fillText('waiting for data…', 8, h / 2);
      return;
    }
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const s of all) {
      for (const p of s.points) {
        if (!Number.isFinite(p.y)) continue;
        x0 = Math.min(x0, p.x);
        x1 = Math.max(x1, p.x);
        y0 = Math.min(y0, p.y - (p.band ?? 0));
        y1 = Math.max(y1, p.y + (p.band ?? 0));
      }
    }
    if (!(y1 > y0)) {
      y0 -= 1;
      y1 += 1;
    }
    if (!(x1 > x0)) x1 = x0 + 1;
    const L = 48, R = 8, T = 8, B = 18;
    const X = (x: number): number => L + ((x - x0) / (x1 - x0)) * (w - L - R);
    const Y = (y: number): number => T + (1 - (y - y0) / (y1 - y0)) * (h - T - B);
    g.strokeStyle = dark ? '#444' : '#dee2e6';
    g.beginPath();
    g.moveTo(L, T);
    g.lineTo(L, h - B);
    g.lineTo(w - R, h - B);
    g.stroke();
    g.fillText(y1.toPrecision(3), 2, T + 8);
    g.fillText(y0.toPrecision(3), 2, h - B);
    g.fillText(String(x0), L, h - 4);
    g.fillText(String(x1), w - R - 24, h - 4);
    all.forEach((s, si) => {
      const pts = s.points;
      const color = (dark ? DARK : LIGHT)[si % LIGHT.length]!;
      if (pts.some((p) => p.band)) {
        g.fillStyle = dark ? 'rgba(116,192,252,0.2)' : 'rgba(28,126,214,0.15)';
        g.beginPath();
        pts.forEach((p, i) => (i === 0 ? g.moveTo(X(p.x), Y(p.y + (p.band ?? 0))) : g.lineTo(X(p.x), Y(p.y + (p.band ?? 0)))));
        for (let i = pts.length - 1; i >= 0; i--) g.lineTo(X(pts[i]!.x), Y(pts[i]!.y - (pts[i]!.band ?? 0)));
        g.closePath();
        g.fill();
      }
      g.strokeStyle = color;
      g.lineWidth = 1.5;
      g.beginPath();
      let started = false;
      for (const p of pts) {
        if (!Number.isFinite(p.y)) continue;
        if (!started) g.moveTo(X(p.x), Y(p.y));
        else g.lineTo(X(p.x), Y(p.y));
        started = true;
      }
      g.stroke();
      if (pts.length === 1) {
        g.fillStyle = color;
        g.fillRect(X(pts[0]!.x) - 2, Y(pts[0]!.y) - 2, 4, 4);
      }
    });
  }, [all, total, height, dark]); // redrawn only when the data, size or theme change
  const single = series ? null : all[0]!.points;
  return (
    <div data-testid={testId} data-points={total}>
      <Text size="sm" fw={500}>
        {title} {single && single.length > 0 && <Text span c="dimmed" size="xs">({single[single.length - 1]!.y.toPrecision(4)})</Text>}
      </Text>
      <canvas ref={canvas} style={{ width: '100%', height }} role="img" aria-label={`${title} chart, ${total} points${series ? ` in ${series.length} series` : ''}`} />
      {series && (
        <Group gap="sm">
          {series.map((s, i) => (
            <Text key={s.name} size="xs" c={(dark ? DARK : LIGHT)[i % LIGHT.length]}>
              ■ {s.name}
            </Text>
          ))}
        </Group>
      )}
    </div>
  );
}
