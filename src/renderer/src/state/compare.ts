// The Compare table's pure parts (tested without a browser): which row is best in a column, and
// how the policy compares with a row.

import type { ComparisonResult } from '../../../shared/protocol';
import { formatMetric, isBetter, metricInfo } from '../../../shared/metrics';

// [Note: a negative KID is not the best]
// KID is an unbiased estimate of MMD², which is ≥ 0: a negative value is sampling noise around 0,
// not a better sampler, and the table bolded it as the best. A metric reported with a ± band (KID
// ± its std over subsets) is bolded only where the best row is better than every other row beyond
// both bands: its value + std below each other's value − std (values below 0 counted as 0).
// Otherwise nothing is bolded: the table cannot tell the rows apart.

/** The row holding the best value of metric `k`, or -1 when the metric has no better direction or no row is clearly best. */
export function bestRow(result: ComparisonResult, k: string): number {
  const info = metricInfo(k);
  if (info.better === null) return -1;
  let bi = -1;
  result.rows.forEach((r, i) => {
    if (isBetter(k, r.summary[k], bi < 0 ? undefined : result.rows[bi]!.summary[k])) bi = i;
  });
  if (bi < 0 || info.band === undefined) return bi;
  const band = info.band;
  const lo = info.better === 'lower';
  const at = (i: number): { v: number; sd: number } => {
    const s = result.rows[i]!.summary;
    return { v: Math.max(0, s[k] ?? NaN), sd: s[band] ?? 0 };
  };
  const b = at(bi);
  const clear = result.rows.every((_, i) => {
    if (i === bi || result.rows[i]!.summary[k] === undefined) return true;
    const o = at(i);
    return lo ? b.v + b.sd < o.v - o.sd : b.v - b.sd > o.v + o.sd;
  });
  return clear ? bi : -1;
}

/** The policy's value of metric `k` minus `row`'s, signed and in the metric's digits; null when either is missing. */
export function delta(result: ComparisonResult, row: ComparisonResult['rows'][number], k: string): string | null {
  const p = result.rows[0]?.summary[k];
  const v = row.summary[k];
  if (p === undefined || v === undefined || !Number.isFinite(p) || !Number.isFinite(v)) return null;
  const d = p - v;
  return `${d < 0 ? '−' : '+'}${formatMetric(k, Math.abs(d))}`;
}
