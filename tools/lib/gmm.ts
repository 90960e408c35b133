// Exact denoisers of Gaussian mixtures, as ONNX graphs and as a float64 reference.
//
// For data x_0 ~ Σ_k π_k N(μ_k, v_k I) noised to x = x_0 + σε, the posterior-mean denoiser is
//   D(x;σ) = Σ_k p(k|x) · (σ²·μ_k + v_k·x)/(v_k + σ²),
//   p(k|x) ∝ π_k (v_k+σ²)^{−d/2} exp(−‖x−μ_k‖² / (2(v_k+σ²))).
// A "labelled" mixture has one row of (log π, v) per class label (the null class included), over a
// shared set of component means: the conditional denoiser of class c uses row c, the
// unconditional one row K. v_k = 0 gives the exact denoiser of a finite data set (the
// "empirical" model: a softmax-weighted average of the data points).

import { GraphBuilder } from '../../src/main/engine/onnx/graph';

export interface GmmParams {
  kind: 'gmm';
  /** Data dimension d. */
  dim: number;
  /** Component means μ [M][d]. */
  means: number[][];
  /** Number of classes K (0: unconditional). */
  numClasses: number;
  /** Per label row (K rows + the null row; 1 row when unconditional): log π [M]. */
  logWeights: number[][];
  /** Per label row: component variances v [M]. */
  variances: number[][];
}

const NEG = -1e30; // log 0 for weights, finite so that no NaN can arise

/** The denoiser graph: inputs x [N,d], sigma [N] (, class_labels [N] int64); output denoised [N,d]. */
export function gmmDenoiserGraph(p: GmmParams, name: string): Uint8Array {
  const g = new GraphBuilder(name);
  const M = p.means.length;
  const d = p.dim;
  const rows = p.logWeights.length;
  const x = g.input('x', 'float32', ['N', d]);
  const sigma = g.input('sigma', 'float32', ['N']);
  const mu = g.const(p.means.flat(), [1, M, d]); // [1,M,d]
  const muMat = g.const(p.means.flat(), [M, d]); // [M,d]
  const lwTable = g.const(
    p.logWeights.flat().map((v) => Math.max(v, NEG)),
    [rows, M],
  );
  const vTable = g.const(p.variances.flat(), [rows, M]);
  let lw: string;
  let v: string;
  if (p.numClasses > 0) {
    const labels = g.input('class_labels', 'int64', ['N']);
    lw = g.op('Gather', [lwTable, labels], { axis: 0 }); // [N,M]
    v = g.op('Gather', [vTable, labels], { axis: 0 }); // [N,M]
  } else {
    lw = lwTable; // [1,M] broadcasts
    v = vTable;
  }
  const s2 = g.op('Unsqueeze', [g.op('Mul', [sigma, sigma]), g.ints([1])]); // [N,1]
  const tot = g.op('Add', [v, s2]); // [N,M]
  const diff = g.op('Sub', [g.op('Unsqueeze', [x, g.ints([1])]), mu]); // [N,M,d]
  const dist2 = g.op('ReduceSum', [g.op('Mul', [diff, diff]), g.ints([2])], { keepdims: 0 }); // [N,M]
  // log p(k|x) up to a constant: log π − (d/2) log(v+σ²) − ‖x−μ‖²/(2(v+σ²))
  const logit = g.op('Sub', [
    g.op('Sub', [lw, g.op('Mul', [g.const(d / 2), g.op('Log', [tot])])]),
    g.op('Div', [dist2, g.op('Mul', [g.const(2), tot])]),
  ]);
  const post = g.op('Softmax', [logit], { axis: 1 }); // [N,M]
  const a = g.op('Div', [post, tot]); // p/(v+σ²)
  const d1 = g.op('Mul', [s2, g.op('MatMul', [a, muMat])]); // σ² Σ p μ/(v+σ²)   [N,d]
  const b = g.op('ReduceSum', [g.op('Mul', [a, v]), g.ints([1])], { keepdims: 1 }); // Σ p v/(v+σ²)  [N,1]
  const out = g.op('Add', [d1, g.op('Mul', [x, b])]);
  g.output(out, 'denoised', 'float32', ['N', d]);
  return g.toBytes({ docString: `Exact posterior-mean denoiser of a Gaussian mixture (${M} components, d=${d})` });
}

/** Float64 reference of the same denoiser for one sample. */
export function gmmDenoise64(p: GmmParams, x: ArrayLike<number>, sigma: number, label: number | null): Float64Array {
  const row = p.numClasses > 0 ? label! : 0;
  const lw = p.logWeights[row]!;
  const v = p.variances[row]!;
  const M = p.means.length;
  const d = p.dim;
  const s2 = sigma * sigma;
  const logit = new Float64Array(M);
  let mx = -Infinity;
  for (let k = 0; k < M; k++) {
    const tot = v[k]! + s2;
    let dist2 = 0;
    for (let i = 0; i < d; i++) dist2 += (x[i]! - p.means[k]![i]!) ** 2;
    logit[k] = Math.max(lw[k]!, NEG) - (d / 2) * Math.log(tot) - dist2 / (2 * tot);
    mx = Math.max(mx, logit[k]!);
  }
  let z = 0;
  for (let k = 0; k < M; k++) z += Math.exp(logit[k]! - mx);
  const out = new Float64Array(d);
  for (let k = 0; k < M; k++) {
    const pk = Math.exp(logit[k]! - mx) / z;
    const tot = v[k]! + s2;
    for (let i = 0; i < d; i++) out[i]! += (pk * (s2 * p.means[k]![i]! + v[k]! * x[i]!)) / tot;
  }
  return out;
}

/** A random-Fourier-feature map φ(x) = √(2/m)·cos(xW + b) as ONNX: x [N,d] → features [N,m]. */
export function rffGraph(W: number[][], b: number[], name: string): Uint8Array {
  const d = W.length;
  const m = b.length;
  const g = new GraphBuilder(name);
  const x = g.input('x', 'float32', ['N', d]);
  const proj = g.op('Add', [g.op('MatMul', [x, g.const(W.flat(), [d, m])]), g.const(b, [m])]);
  const out = g.op('Mul', [g.op('Cos', [proj]), g.const(Math.sqrt(2 / m))]);
  g.output(out, 'features', 'float32', ['N', m]);
  return g.toBytes({ docString: `Random Fourier features (d=${d}, m=${m})` });
}
