// Dense float64 linear algebra on ONNX Runtime's CPU kernels (multi-threaded GEMM, ~50 GFLOP/s on
// two cores here, against ~1 GFLOP/s for a JS loop). Metrics push their O(n·d²) and O(d³) products
// through these; everything O(d²) stays in plain JS.
//
// [Note: one graph per operation]
// Each operation is a tiny ONNX graph built once with GraphBuilder and cached as a session.

import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../onnx/graph';
import { cpuOptions } from '../onnx/runtime';

type Op = 'matmul' | 'matmulTA' | 'matmulTB' | 'sqdist';
const sessions = new Map<Op, Promise<ort.InferenceSession>>();

function build(op: Op): Uint8Array {
  const g = new GraphBuilder(op);
  const a = g.input('a', 'float64', ['M', 'K']);
  const b = g.input('b', 'float64', op === 'matmulTA' ? ['M', 'N'] : op === 'matmul' ? ['K', 'N'] : ['N', 'K']);
  let out: string;
  if (op === 'matmul') out = g.op('MatMul', [a, b]);
  else if (op === 'matmulTA') out = g.op('MatMul', [g.op('Transpose', [a], { perm: [1, 0] }), b]);
  else if (op === 'matmulTB') out = g.op('MatMul', [a, g.op('Transpose', [b], { perm: [1, 0] })]);
  else {
    // ‖a_i − b_j‖² = ‖a_i‖² + ‖b_j‖² − 2 a_i·b_j, clamped at 0.
    const ab = g.op('MatMul', [a, g.op('Transpose', [b], { perm: [1, 0] })]);
    const na = g.op('ReduceSum', [g.op('Mul', [a, a]), g.ints([1])], { keepdims: 1 }); // [M,1]
    const nb = g.op('Transpose', [g.op('ReduceSum', [g.op('Mul', [b, b]), g.ints([1])], { keepdims: 1 })], {
      perm: [1, 0],
    }); // [1,N]
    const two = g.tensor('two', new Float64Array([2]), [], 'float64');
    const zero = g.tensor('zero', new Float64Array([0]), [], 'float64');
    out = g.op('Max', [g.op('Sub', [g.op('Add', [na, nb]), g.op('Mul', [ab, two])]), zero]);
  }
  g.output(out, 'c', 'float64', ['R', 'C']);
  return g.toBytes();
}

function session(op: Op): Promise<ort.InferenceSession> {
  let s = sessions.get(op);
  if (!s) {
    s = ort.InferenceSession.create(build(op), {
      ...cpuOptions(),
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
    });
    sessions.set(op, s);
  }
  return s;
}

/** A row-major float64 matrix. */
export interface Mat {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function mat(rows: number, cols: number, data?: Float64Array): Mat {
  const d = data ?? new Float64Array(rows * cols);
  if (d.length !== rows * cols) throw new RangeError(`matrix data has ${d.length} values, expected ${rows}×${cols}`);
  return { rows, cols, data: d };
}

async function run(op: Op, a: Mat, b: Mat, rows: number, cols: number): Promise<Mat> {
  const s = await session(op);
  const out = await s.run({
    a: new ort.Tensor('float64', a.data, [a.rows, a.cols]),
    b: new ort.Tensor('float64', b.data, [b.rows, b.cols]),
  });
  return mat(rows, cols, out['c']!.data as Float64Array);
}

/** A·B */
export function matmul(a: Mat, b: Mat): Promise<Mat> {
  if (a.cols !== b.rows) throw new RangeError(`matmul: ${a.rows}×${a.cols} · ${b.rows}×${b.cols}`);
  return run('matmul', a, b, a.rows, b.cols);
}

/** Aᵀ·B */
export function matmulTA(a: Mat, b: Mat): Promise<Mat> {
  if (a.rows !== b.rows) throw new RangeError(`matmulTA: (${a.rows}×${a.cols})ᵀ · ${b.rows}×${b.cols}`);
  return run('matmulTA', a, b, a.cols, b.cols);
}

/** A·Bᵀ */
export function matmulTB(a: Mat, b: Mat): Promise<Mat> {
  if (a.cols !== b.cols) throw new RangeError(`matmulTB: ${a.rows}×${a.cols} · (${b.rows}×${b.cols})ᵀ`);
  return run('matmulTB', a, b, a.rows, b.rows);
}

/** Squared Euclidean distances between the rows of A and the rows of B: [A.rows, B.rows]. */
export function sqdist(a: Mat, b: Mat): Promise<Mat> {
  if (a.cols !== b.cols) throw new RangeError(`sqdist: ${a.cols}-d rows against ${b.cols}-d rows`);
  return run('sqdist', a, b, a.rows, b.rows);
}
