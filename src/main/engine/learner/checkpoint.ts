// The learner's state as checkpoint data (shared/run-files.ts `Checkpoint`): weights as base64 of
// their float32 bytes, an Adam optimizer as its named variables. Writing and reading the file is
// the run module's (src/main/engine/runs/).
//
// [Note: restoring Adam]
// Restoring builds a fresh optimizer: tfjs's Adam.setWeights replaces its moment variables without
// disposing the old ones. tfjs recomputes β^t from the restored step count rather than keeping its
// running product, so a resumed run matches an uninterrupted one to float32 round-off.

import * as tf from '@tensorflow/tfjs';
import type { OptimizerState } from '../../../shared/run-files';

/** One base64 string per array. */
export function encodeWeights(ws: Float32Array[]): string[] {
  return ws.map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('base64'));
}

export function decodeWeights(s: string[]): Float32Array[] {
  return s.map((b) => {
    const buf = Buffer.from(b, 'base64');
    return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  });
}

/** An optimizer's variables (Adam: the moments of every parameter, and its step count `iter`). */
export async function optimizerState(o: tf.Optimizer): Promise<OptimizerState> {
  const ws = await o.getWeights();
  const out = await Promise.all(
    ws.map(async (w) => ({
      name: w.name,
      shape: w.tensor.shape,
      data: encodeWeights([Float32Array.from((await w.tensor.data()) as Float32Array)])[0]!,
    })),
  );
  // getWeights() makes a fresh 'iter' scalar each call; the other entries are live optimizer variables.
  for (const w of ws) if (w.name === 'iter') w.tensor.dispose();
  return out;
}

/** A new Adam optimizer with learning rate `lr` and the saved state (none: a fresh one). */
export async function restoreAdam(state: OptimizerState, lr: number): Promise<tf.AdamOptimizer> {
  const o = tf.train.adam(lr);
  if (state.length === 0) return o;
  const named = state.map((w) => ({ name: w.name, tensor: tf.tensor(decodeWeights([w.data])[0]!, w.shape) }));
  await o.setWeights(named); // Adam copies them into its own variables
  for (const w of named) w.tensor.dispose();
  return o;
}
