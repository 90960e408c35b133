// Class balance of generated samples: labels (from a classifier's logits, or from the nearest
// mixture component for the 2-D / 64-D GMM benchmark models), their histogram, and its distance
// to a target histogram (the real data's labels or the model's class weights).

import { intOption } from './kid';
import { checkFeatures, type Features } from './types';

/** Counts and frequencies of labels 0..numClasses−1. */
export interface ClassHistogram {
  counts: Int32Array;
  /** counts / n (all zero when n = 0). */
  freqs: Float64Array;
  /** Number of labels counted. */
  n: number;
  numClasses: number;
}

/** Histogram of `labels`, each of which must lie in [0, numClasses). */
export function classHistogram(labels: Int32Array, numClasses: number): ClassHistogram {
  if (!(labels instanceof Int32Array)) throw new RangeError('classHistogram: labels must be an Int32Array');
  const k = intOption(numClasses, numClasses, 'classHistogram: numClasses', 1);
  const counts = new Int32Array(k);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    if (c < 0 || c >= k) {
      throw new RangeError(
        `classHistogram: label ${c} at index ${i} is outside [0, ${k}); check numClasses or the labeller`,
      );
    }
    counts[c]!++;
  }
  const n = labels.length;
  const freqs = new Float64Array(k);
  if (n > 0) for (let c = 0; c < k; c++) freqs[c] = counts[c]! / n;
  return { counts, freqs, n, numClasses: k };
}

/**
 * Index of the nearest of `means` (Euclidean) for each row of `points`, ties to the lowest index.
 * For the GMM benchmark models, `means` is params.json's `means` ([numClasses][dim]).
 */
export function nearestComponent(points: Features, means: number[][]): Int32Array {
  const x = checkFeatures(points, 'nearestComponent: points');
  const { n, d, data } = x;
  if (!Array.isArray(means) || means.length === 0)
    throw new RangeError('nearestComponent: means must be a non-empty array of component means');
  const k = means.length;
  const mu = new Float64Array(k * d);
  for (let c = 0; c < k; c++) {
    const row = means[c];
    if (!Array.isArray(row) || row.length !== d) {
      throw new RangeError(
        `nearestComponent: mean ${c} has ${Array.isArray(row) ? row.length : 'no'} coordinates but the points are ${d}-d; use the params of the model that produced the points`,
      );
    }
    for (let j = 0; j < d; j++) {
      const v = row[j]!;
      if (!Number.isFinite(v))
        throw new RangeError(`nearestComponent: mean ${c} has a non-finite coordinate ${v} at ${j}`);
      mu[c * d + j] = v;
    }
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    let best = 0;
    let bestD = Infinity;
    for (let c = 0; c < k; c++) {
      const p = c * d;
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = data[o + j]! - mu[p + j]!;
        s += t * t;
      }
      if (s < bestD) {
        bestD = s;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}

/** Argmax over each row of classifier logits ([n, K], K = logits.d), ties to the lowest index. */
export function argmaxLabels(logits: Features): Int32Array {
  const x = checkFeatures(logits, 'argmaxLabels: logits');
  const { n, d, data } = x;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    let best = 0;
    let bestV = data[o]!;
    for (let c = 1; c < d; c++) {
      const v = data[o + c]!;
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}

/** Floor applied to the generated frequencies inside the KL divergence. */
export const KL_FLOOR = 1e-12;

export interface HistogramDistance {
  /** Total variation ½ Σ |p − q|, in [0, 1]. */
  tv: number;
  /** L1 distance Σ |p − q| (= 2·tv), in [0, 2]. */
  l1: number;
  /**
   * KL(target ‖ generated) = Σ_c q_c log(q_c / max(p_c, 1e-12)) in nats, q = target, p = generated.
   * This direction weighs the target's classes: a class the target has but the generator drops
   * costs about q_c·log(q_c/1e-12) (large, finite), while generated mass on classes the target
   * lacks only shows through the smaller p elsewhere. It is the mode-dropping measure, and is
   * finite whenever the target is. Terms with q_c = 0 are 0.
   */
  kl: number;
  numClasses: number;
  /** Generated samples behind the histogram. */
  nFake: number;
  /** Real samples behind the target, or null when the target was given as probabilities. */
  nReal: number | null;
}

function probabilities(h: ClassHistogram | ArrayLike<number>, what: string): { p: Float64Array; n: number | null } {
  if (h !== null && typeof h === 'object' && 'freqs' in h && 'counts' in h) {
    if (h.n <= 0)
      throw new RangeError(`histogramDistance: ${what} histogram is empty (n = 0); it needs at least one sample`);
    return { p: Float64Array.from(h.freqs), n: h.n };
  }
  const a = h as ArrayLike<number>;
  if (a === null || typeof a !== 'object' || typeof a.length !== 'number') {
    throw new RangeError(`histogramDistance: ${what} must be a ClassHistogram or an array of class weights`);
  }
  const p = new Float64Array(a.length);
  let s = 0;
  for (let c = 0; c < a.length; c++) {
    const v = a[c]!;
    if (!Number.isFinite(v) || v < 0)
      throw new RangeError(`histogramDistance: ${what} weight ${c} is ${v}; weights must be finite and ≥ 0`);
    p[c] = v;
    s += v;
  }
  if (!(s > 0)) throw new RangeError(`histogramDistance: ${what} weights sum to 0; give at least one positive weight`);
  for (let c = 0; c < p.length; c++) p[c]! /= s;
  return { p, n: null };
}

/**
 * Distances between the class histogram of generated samples and a target: another histogram
 * (e.g. of the real data's labels) or class weights (normalised here).
 */
export function histogramDistance(args: {
  generated: ClassHistogram;
  target: ClassHistogram | ArrayLike<number>;
}): HistogramDistance {
  if (args === null || typeof args !== 'object' || args.generated === undefined || args.target === undefined) {
    throw new RangeError('histogramDistance: pass both histograms by name: histogramDistance({ generated, target })');
  }
  const g = args.generated as unknown;
  if (g === null || typeof g !== 'object' || !('freqs' in g) || !('counts' in g)) {
    throw new RangeError(
      'histogramDistance: generated must be a ClassHistogram (from classHistogram), so that its sample count is known',
    );
  }
  const gen = probabilities(args.generated, 'generated');
  const tgt = probabilities(args.target, 'target');
  const k = gen.p.length;
  if (tgt.p.length !== k) {
    throw new RangeError(
      `histogramDistance: generated has ${k} classes but target has ${tgt.p.length}; use the same numClasses for both`,
    );
  }
  let l1 = 0;
  let kl = 0;
  for (let c = 0; c < k; c++) {
    const p = gen.p[c]!;
    const q = tgt.p[c]!;
    l1 += Math.abs(p - q);
    if (q > 0) kl += q * Math.log(q / Math.max(p, KL_FLOOR));
  }
  return { tv: l1 / 2, l1, kl, numClasses: k, nFake: gen.n!, nReal: tgt.n };
}
