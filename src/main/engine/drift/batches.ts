// The minibatches of the drift updates (ddpo.ts, q-learning.ts): shuffled transition indices, and
// the rows of a [T, w] array at some of them.

import type { Stream } from '../samplers/random';

/** `epochs` passes over 0..T−1, each shuffled (Fisher–Yates with `rng`) and cut into runs of `size`. */
export function* minibatches(T: number, size: number, epochs: number, rng: Stream): Generator<Int32Array> {
  const order = Int32Array.from({ length: T }, (_, i) => i);
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = T - 1; i > 0; i--) {
      const j = Math.floor(rng.uniform() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let s = 0; s < T; s += size) yield order.slice(s, Math.min(T, s + size));
  }
}

/** Rows idx of a row-major [T, w] array, as [idx.length, w]. */
export function takeRows(src: Float32Array, w: number, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * w);
  for (let q = 0; q < idx.length; q++) out.set(src.subarray(idx[q]! * w, (idx[q]! + 1) * w), q * w);
  return out;
}
