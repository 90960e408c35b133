// A user's ONNX reward model for the 2-D tests: reward = −(x₀ − 4)² − x₁² (points near (4, 0) score best).

import { writeFileSync } from 'node:fs';
import { GraphBuilder } from '../../src/main/engine/onnx/graph';

/** Writes the reward model to `file` and returns the path. */
export function writeNearRewardOnnx(file: string): string {
  const g = new GraphBuilder('reward');
  const x = g.input('x', 'float32', ['N', 2]);
  const d = g.op('Sub', [x, g.const([4, 0], [2])]);
  g.output(g.op('Neg', [g.op('ReduceSumSquare', [d], { axes: [1], keepdims: 0 })]), 'reward', 'float32', ['N']);
  writeFileSync(file, g.toBytes());
  return file;
}
