// The X/Y plot of a grid (A1111's X/Y/Z plot, with the numbers next to the pictures): the first axis
// across, the other axes down (one row per combination of their values), each cell its samples'
// picture (same seed everywhere: [Note: common random numbers] in run.ts) under its ranking metric
// and NFE; the best cell marked. `grid --images` writes it as xy.html beside results.json; the app
// draws the same layout (xyLayout) itself.

import { formatMetric, metricInfo } from '../../../shared/metrics';
import { formatAxisValue } from './axes';
import type { GridCell, GridResults } from './results';

export interface XyLayout {
  /** The axis across, and its values. */
  x: { name: string; values: number[] };
  /** The axes down (none for a one-axis grid), and one label per row ("churn=2, steps=18"). */
  y: { names: string[]; rows: string[] };
  /** cells[row][col]: the finished cell there, or null. */
  cells: (GridCell | null)[][];
  /** The summary key the grid ranks by (fid, …), and the best cell's index. */
  metric: string;
  best: number | null;
}

export function xyLayout(r: GridResults): XyLayout {
  const [xAxis, ...yAxes] = r.config.axes;
  if (!xAxis) throw new RangeError('a grid without axes has no X/Y plot');
  const rows: Record<string, number>[] = [{}];
  for (const a of yAxes) {
    const next: Record<string, number>[] = [];
    for (const row of rows) for (const v of a.values) next.push({ ...row, [a.name]: v });
    rows.splice(0, rows.length, ...next);
  }
  const same = (c: GridCell, row: Record<string, number>, x: number): boolean =>
    c.values[xAxis.name] === x && Object.entries(row).every(([k, v]) => c.values[k] === v);
  return {
    x: { name: xAxis.name, values: xAxis.values },
    y: {
      names: yAxes.map((a) => a.name),
      rows: rows.map((row) =>
        Object.entries(row)
          .map(([k, v]) => `${k}=${formatAxisValue(v)}`)
          .join(', '),
      ),
    },
    cells: rows.map((row) => xAxis.values.map((x) => r.cells.find((c) => same(c, row, x)) ?? null)),
    metric: r.config.metric,
    best: r.best?.index ?? null,
  };
}

/** A cell's caption: its ranking metric (with its label) and NFE per sample. */
export function xyCaption(c: GridCell, metric: string): string {
  return `${metricInfo(metric).label} ${formatMetric(metric, c.summary[metric])} · NFE ${Number(c.nfePerSample.toFixed(2))}`;
}

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch]!);

/** The X/Y plot as a self-contained page (pictures linked from cells/), for `grid --images`. */
export function xyHtml(r: GridResults): string {
  const l = xyLayout(r);
  const title = `X/Y plot: ${r.config.model.name}, ${l.x.name}${l.y.names.length ? ` × ${l.y.names.join(' × ')}` : ''}`;
  const head = l.x.values.map((v) => `<th>${esc(`${l.x.name}=${formatAxisValue(v)}`)}</th>`).join('');
  const body = l.cells
    .map((row, i) => {
      const cells = row
        .map((c) => {
          if (!c) return '<td class="empty">not computed</td>';
          const img = c.picture ? `<img src="${esc(c.picture)}" alt="cell ${c.index}">` : '<div>(no picture)</div>';
          const best = c.index === l.best ? ' class="best"' : '';
          return `<td${best}>${img}<div>${esc(xyCaption(c, l.metric))}${best ? ' · best' : ''}</div></td>`;
        })
        .join('');
      return `<tr><th>${esc(l.y.rows[i] ?? '')}</th>${cells}</tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body { font: 13px system-ui, sans-serif; margin: 16px; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 4px; vertical-align: top; text-align: center; }
td img { image-rendering: pixelated; display: block; margin: 0 auto 4px; }
td.best { outline: 3px solid #2f9e44; outline-offset: -3px; }
td.empty { color: #999; }
</style></head><body>
<h1>${esc(title)}</h1>
<p>${esc(`${r.config.n} samples per cell, seed ${r.config.seed} in every cell (the same noise and classes), ranked by ${metricInfo(l.metric).label}; the best cell is outlined.`)}</p>
<table>
<tr><th></th>${head}</tr>
${body}
</table>
</body></html>
`;
}
