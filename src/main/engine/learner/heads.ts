// The trainable heads (paper, Appendix B): a policy head (K logits) and the discriminator (1 logit;
// the paper's "density head"), small MLPs on [frozen state features, σ embedding, class one-hot,
// step one-hot], with independent parameters; the discriminator's output layer is Xavier-initialised.
//
// [Note: explicit variables, explicit memory]
// Weights are plain tf.Variables in a list (no tf.layers), so checkpoints, the EMA copies and the
// ONNX export read and write them as Float32Arrays. Every forward pass runs inside tf.tidy; the
// caller disposes what it keeps.

import * as tf from '@tensorflow/tfjs';
import { Stream } from '../samplers/random';

/** Which inputs a head sees and their sizes. */
export interface FeatureLayout {
  /** Dimension of the state features (0: σ-only policy). */
  xDim: number;
  /** Fourier frequencies of the σ embedding. */
  sigmaFrequencies: number;
  /** Class one-hot width (K + 1 with the null class), 0 when unused. */
  classes: number;
  /** Step one-hot width (horizon + 1), 0 for a stationary head. */
  steps: number;
}

export function inputDim(l: FeatureLayout): number {
  return l.xDim + 2 + 2 * l.sigmaFrequencies + l.classes + l.steps;
}

/** A batch of states as the heads see them. */
export interface StateBatch {
  n: number;
  /** [n, xDim] state features (already preconditioned), or null when xDim = 0. */
  x: Float32Array | null;
  /** [n] noise level; 0 marks the terminal (clean) state. */
  sigma: Float32Array;
  /** [n] class labels (the null class for unconditional rows), or null. */
  labels: Int32Array | null;
  /** [n] step index, or null. */
  step: Int32Array | null;
}

/**
 * Builds the [n, inputDim] input: x, c_noise = ln σ / 4 (EDM's noise conditioning; σ_min/2 for the
 * terminal state), its Fourier features sin/cos(π·f·c_noise) for f = 1…F, a terminal flag, and the
 * one-hots.
 */
export function featurize(l: FeatureLayout, s: StateBatch, sigmaMin: number): Float32Array {
  const D = inputDim(l);
  const out = new Float32Array(s.n * D);
  for (let i = 0; i < s.n; i++) {
    let o = i * D;
    if (l.xDim > 0) {
      out.set(s.x!.subarray(i * l.xDim, (i + 1) * l.xDim), o);
      o += l.xDim;
    }
    const sig = s.sigma[i]!;
    const terminal = sig <= 0;
    const c = Math.log(terminal ? sigmaMin / 2 : sig) / 4;
    out[o++] = c;
    out[o++] = terminal ? 1 : 0;
    for (let f = 1; f <= l.sigmaFrequencies; f++) {
      out[o++] = Math.sin(Math.PI * f * c);
      out[o++] = Math.cos(Math.PI * f * c);
    }
    if (l.classes > 0) {
      const lab = s.labels ? s.labels[i]! : l.classes - 1;
      out[o + Math.min(lab, l.classes - 1)] = 1;
      o += l.classes;
    }
    if (l.steps > 0) out[o + Math.min(s.step ? s.step[i]! : 0, l.steps - 1)] = 1;
  }
  return out;
}

export interface MlpInit {
  /** Scale of the output layer's random weights (policy: small, so the initial policy is its bias). */
  outScale: number;
  /** Output bias (policy: the initial-action bonus). */
  outBias?: Float32Array;
  /** Xavier (Glorot-normal) output layer (the discriminator). */
  xavierOut?: boolean;
}

/**
 * A dense layer h·W + b ([n, in] · [in, out] + [out]) whose gradient transposes explicitly.
 *
 * [Note: dense gradient]
 * tfjs differentiates matMul with the transposed products dy·Wᵀ and hᵀ·dy, which it asks of the
 * backend as matMul with transpose flags. The WASM backend (what runs where the native tfjs-node
 * binding is missing) computes those 3–4× slower than a plain product ([1024, 157]ᵀ·[1024, 128]:
 * 20 ms against 6 ms for transpose-then-multiply), so a discriminator step of 1,024 rows took
 * ~150 ms, almost all of it in the backward pass. The same products with tf.transpose first halve
 * the step; the gradients agree to float32 round-off (test/learner-math.test.ts).
 */
export const dense = tf.customGrad<tf.Tensor2D>((...args) => {
  const [h, W, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([h, W]);
  return {
    value: tf.add(tf.matMul(h, W), b),
    gradFunc: (dy, saved) => {
      const [hs, Ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [
        tf.matMul(dy, tf.transpose(Ws)), // ∂/∂h = dy·Wᵀ   [n, in]
        tf.matMul(tf.transpose(hs), dy), // ∂/∂W = hᵀ·dy   [in, out]
        tf.sum(dy, 0), //                   ∂/∂b = Σ_n dy   [out]
      ];
    },
  };
}) as (h: tf.Tensor2D, W: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

let mlpCount = 0;

/** An MLP with SiLU hidden layers: in → hidden × layers → out. */
export class Mlp {
  readonly params: tf.Variable[] = [];
  readonly shapes: number[][] = [];

  constructor(
    readonly inDim: number,
    readonly hidden: number,
    readonly layers: number,
    readonly outDim: number,
    seed: number,
    init: MlpInit,
  ) {
    const rng = new Stream(seed, 0xbeef);
    const id = mlpCount++; // tf variable names are global: keep them unique
    const dims = [inDim, ...Array(layers).fill(hidden), outDim];
    for (let k = 0; k + 1 < dims.length; k++) {
      const fanIn = dims[k]!;
      const fanOut = dims[k + 1]!;
      const last = k + 2 === dims.length;
      const std = last
        ? init.xavierOut
          ? Math.sqrt(2 / (fanIn + fanOut))
          : init.outScale / Math.sqrt(fanIn)
        : Math.sqrt(2 / fanIn);
      const W = Float32Array.from({ length: fanIn * fanOut }, () => rng.normal() * std);
      const b = last && init.outBias ? Float32Array.from(init.outBias) : new Float32Array(fanOut);
      this.params.push(
        tf.variable(tf.tensor2d(W, [fanIn, fanOut]), true, `mlp${id}/W${k}`),
        tf.variable(tf.tensor1d(b), true, `mlp${id}/b${k}`),
      );
      this.shapes.push([fanIn, fanOut], [fanOut]);
    }
  }

  /** [n, in] → [n, out]. Call inside tf.tidy. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    let h: tf.Tensor2D = x;
    for (let k = 0; k < this.params.length; k += 2) {
      h = dense(h, this.params[k] as tf.Tensor2D, this.params[k + 1] as tf.Tensor1D);
      if (k + 2 < this.params.length) h = tf.mul(h, tf.sigmoid(h)) as tf.Tensor2D;
    }
    return h;
  }

  /** Forward pass on a Float32Array batch, returning a Float32Array [n, out]. */
  predict(input: Float32Array, n: number): Float32Array {
    const out = tf.tidy(() => this.apply(tf.tensor2d(input, [n, this.inDim])));
    const data = out.dataSync() as Float32Array;
    out.dispose();
    return Float32Array.from(data);
  }

  getWeights(): Float32Array[] {
    return this.params.map((p) => Float32Array.from(p.dataSync() as Float32Array));
  }

  setWeights(ws: Float32Array[]): void {
    if (ws.length !== this.params.length)
      throw new RangeError(`expected ${this.params.length} weight arrays, got ${ws.length}`);
    ws.forEach((w, i) => {
      const size = this.shapes[i]!.reduce((a, b) => a * b, 1);
      if (w.length !== size) throw new RangeError(`weight ${i}: ${w.length} values, expected ${size}`);
      tf.tidy(() => this.params[i]!.assign(tf.tensor(w, this.shapes[i]!)));
    });
  }

  dispose(): void {
    for (const p of this.params) p.dispose();
  }
}

/** ema ← d·ema + (1 − d)·w, per array. */
export function emaUpdate(ema: Float32Array[], w: Float32Array[], decay: number): void {
  ema.forEach((e, i) => {
    const wi = w[i]!;
    for (let k = 0; k < e.length; k++) e[k] = decay * e[k]! + (1 - decay) * wi[k]!;
  });
}
