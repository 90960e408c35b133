// A 28×28 class-conditional conv denoiser of realistic cost with random (seeded) weights, for
// benchmarks and tests of the image path. Its numbers mean nothing; its shape and cost do: a small
// U-Net (28→14→7→14→28) inside EDM's
// preconditioning (Karras et al. 2022, Table 1). Default widths 48/96/128 (~0.5 M parameters,
// ~600 images/s per NFE at batch 256 on 2 CPU cores, like the small U-Net of the image-model issue):
//   D(x;σ) = c_skip·x + c_out·F(c_in·x; c_noise, c),
//   c_skip = σ_d²/(σ²+σ_d²), c_out = σ·σ_d/√(σ²+σ_d²), c_in = 1/√(σ²+σ_d²), c_noise = ln(σ)/4.

import { GraphBuilder } from '../../src/main/engine/onnx/graph';
import { Stream } from '../../src/main/engine/samplers/random';

export interface ConvModelOptions {
  seed?: number;
  numClasses?: number;
  sigmaData?: number;
  /** Channel widths at 28, 14 and 7 pixels. */
  channels?: [number, number, number];
}

/** The model.json of a directory holding `convDenoiserGraph` as denoiser.onnx (EDM's σ range), plus `extra` keys (encoder, data, …). */
export function convManifest(name: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    name,
    onnx: 'denoiser.onnx',
    output: 'denoised',
    shape: [1, 28, 28],
    numClasses: 10,
    nullClass: 10,
    sigmaMin: 0.002,
    sigmaMax: 80,
    sigmaData: 0.5,
    ...extra,
  });
}

export function convDenoiserGraph(o: ConvModelOptions = {}): { bytes: Uint8Array; params: number } {
  const rng = new Stream(o.seed ?? 0, 0);
  const K = o.numClasses ?? 10;
  const sd = o.sigmaData ?? 0.5;
  const [c1, c2, c3] = o.channels ?? [48, 96, 128];
  const g = new GraphBuilder('conv-bench');
  let params = 0;
  const x = g.input('x', 'float32', ['N', 1, 28, 28]);
  const sigma = g.input('sigma', 'float32', ['N']);
  const labels = g.input('class_labels', 'int64', ['N']);

  const randn = (count: number, scale: number): Float32Array => {
    params += count;
    return Float32Array.from({ length: count }, () => rng.normal() * scale);
  };
  const conv = (inp: string, cin: number, cout: number, stride = 1): string => {
    const w = g.tensor('w', randn(cout * cin * 9, Math.sqrt(2 / (cin * 9)) * 0.5), [cout, cin, 3, 3]);
    const b = g.tensor('b', randn(cout, 0.01), [cout]);
    return g.op('Conv', [inp, w, b], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [stride, stride] });
  };
  const silu = (a: string): string => g.op('Mul', [a, g.op('Sigmoid', [a])]);

  // Preconditioning, σ as [N,1,1,1].
  const s = g.op('Reshape', [sigma, g.ints([-1, 1, 1, 1])]);
  const s2 = g.op('Mul', [s, s]);
  const denom = g.op('Add', [s2, g.const(sd * sd)]);
  const cSkip = g.op('Div', [g.const(sd * sd), denom]);
  const cOut = g.op('Div', [g.op('Mul', [s, g.const(sd)]), g.op('Sqrt', [denom])]);
  const cIn = g.op('Reciprocal', [g.op('Sqrt', [denom])]);
  const cNoise = g.op('Div', [g.op('Log', [g.op('Reshape', [sigma, g.ints([-1, 1])])]), g.const(4)]); // [N,1]

  // Conditioning: per-channel biases from c_noise and the class embedding.
  const classTable = (c: number): string => g.tensor('emb', randn((K + 1) * c, 0.1), [K + 1, c]);
  const cond = (c: number): string => {
    const noiseW = g.tensor('nw', randn(c, 0.5), [1, c]);
    const e = g.op('Add', [g.op('MatMul', [cNoise, noiseW]), g.op('Gather', [classTable(c), labels], { axis: 0 })]); // [N,c]
    return g.op('Reshape', [e, g.ints([-1, c, 1, 1])]);
  };

  const h0 = g.op('Mul', [x, cIn]);
  const e1 = silu(conv(silu(g.op('Add', [conv(h0, 1, c1), cond(c1)])), c1, c1)); // 28
  const e2 = silu(conv(silu(g.op('Add', [conv(e1, c1, c2, 2), cond(c2)])), c2, c2)); // 14
  const e3 = silu(conv(silu(g.op('Add', [conv(e2, c2, c3, 2), cond(c3)])), c3, c3)); // 7
  const up = (a: string): string => g.op('Resize', [a, '', g.const([1, 1, 2, 2])], { mode: 'nearest' });
  const u2 = silu(g.op('Add', [conv(up(e3), c3, c2), e2])); // 14
  const u1 = silu(g.op('Add', [conv(up(u2), c2, c1), e1])); // 28
  const F = conv(u1, c1, 1);
  const out = g.op('Add', [g.op('Mul', [cSkip, x]), g.op('Mul', [cOut, F])]);
  g.output(out, 'denoised', 'float32', ['N', 1, 28, 28]);
  return { bytes: g.toBytes({ docString: 'Random-weight 28x28 conv denoiser for benchmarks' }), params };
}

/**
 * A 28×28 noise-conditional conv encoder φ(x, σ) → [N, dim] with random (seeded) weights, shaped like
 * a classifier's trunk (the frozen encoder of image policies): c_in·x, two strided convs with a
 * c_noise bias, global average pooling, a linear layer. For tests and benchmarks of the encoder path.
 */
export function convEncoderGraph(
  o: { seed?: number; sigmaData?: number; channels?: [number, number]; dim?: number } = {},
): Uint8Array {
  const rng = new Stream(o.seed ?? 1, 0);
  const sd = o.sigmaData ?? 0.5;
  const [c1, c2] = o.channels ?? [32, 64];
  const dim = o.dim ?? 64;
  const g = new GraphBuilder('conv-encoder');
  const x = g.input('x', 'float32', ['N', 1, 28, 28]);
  const sigma = g.input('sigma', 'float32', ['N']);
  const randn = (count: number, scale: number): Float32Array =>
    Float32Array.from({ length: count }, () => rng.normal() * scale);
  const conv = (inp: string, cin: number, cout: number): string =>
    g.op(
      'Conv',
      [
        inp,
        g.tensor('w', randn(cout * cin * 9, Math.sqrt(2 / (cin * 9))), [cout, cin, 3, 3]),
        g.tensor('b', randn(cout, 0.01), [cout]),
      ],
      { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] },
    );
  const silu = (a: string): string => g.op('Mul', [a, g.op('Sigmoid', [a])]);
  const s = g.op('Reshape', [sigma, g.ints([-1, 1, 1, 1])]);
  const cIn = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [g.op('Mul', [s, s]), g.const(sd * sd)])])]);
  const cNoise = g.op('Mul', [g.op('Log', [s]), g.const(0.25)]); // [N,1,1,1]
  const h1 = silu(
    g.op('Add', [conv(g.op('Mul', [x, cIn]), 1, c1), g.op('Mul', [cNoise, g.const(randn(c1, 0.5), [1, c1, 1, 1])])]),
  ); // 14
  const h2 = silu(conv(h1, c1, c2)); // 7
  const pooled = g.op('Flatten', [g.op('GlobalAveragePool', [h2])], { axis: 1 }); // [N, c2]
  const feats = g.op('Add', [
    g.op('MatMul', [pooled, g.const(randn(c2 * dim, Math.sqrt(1 / c2)), [c2, dim])]),
    g.const(randn(dim, 0.01), [dim]),
  ]);
  g.output(feats, 'features', 'float32', ['N', dim]);
  return g.toBytes({ docString: 'Random-weight 28x28 noise-conditional conv encoder for tests' });
}
