// Feature extraction for metrics: the model manifest's extractor ONNX (any network a user exports,
// e.g. pytorch-fid's Inception-v3, or our bundled random-Fourier maps), run batched through ONNX
// Runtime; identity for low-dimensional models without one.
//
// [Note: preprocessing is stated, not guessed]
// The manifest says what the extractor expects (input shape, value range, resize mode). When that
// differs from the samples, a small generated ONNX graph maps them: affine range change, channel
// repeat for gray → RGB, and Resize (bilinear with PyTorch's half-pixel centres, or nearest).

import { isAbsolute, join } from 'node:path';
import { existsSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../onnx/graph';
import { createSession } from '../onnx/runtime';
import { ModelError, type FeatureSpec } from '../models/manifest';
import { checkCancelled } from '../cancel';

export interface Extracted {
  /** [n, dim] */
  features: Float32Array;
  /** [n, K] classifier logits when the extractor has a logits output. */
  logits: Float32Array | null;
  n: number;
  dim: number;
}

export interface FeatureExtractor {
  /** "identity" or the extractor's file. */
  readonly name: string;
  readonly dim: number;
  readonly hasLogits: boolean;
  extract(
    samples: Float32Array,
    n: number,
    opts?: { batch?: number; signal?: AbortSignal; onProgress?: (done: number, total: number) => void },
  ): Promise<Extracted>;
  dispose(): Promise<void>;
}

/** The rows of [n, dim] values that hold NaN/Inf: how many, and the first (−1 when none). */
export function nonFiniteRows(x: ArrayLike<number>, n: number, dim: number): { count: number; first: number } {
  let count = 0;
  let first = -1;
  for (let i = 0; i < n; i++) {
    for (let k = i * dim, e = k + dim; k < e; k++) {
      if (!Number.isFinite(x[k]!)) {
        count++;
        if (first < 0) first = i;
        break;
      }
    }
  }
  return { count, first };
}

/** Samples with NaN/Inf are the input's fault: refused before the extractor sees them, which would otherwise be blamed. */
function checkFiniteSamples(samples: Float32Array, n: number, dim: number): void {
  const bad = nonFiniteRows(samples, n, dim);
  if (bad.count > 0)
    throw new RangeError(
      `${bad.count} of the ${n} samples hold NaN/Inf (the first is row ${bad.first}); features need finite samples`,
    );
}

/** Features = the samples themselves (low-dimensional models without an extractor). */
export function identityExtractor(dim: number): FeatureExtractor {
  return {
    name: 'identity',
    dim,
    hasLogits: false,
    async extract(samples, n) {
      if (samples.length !== n * dim) throw new RangeError(`expected ${n}×${dim} values, got ${samples.length}`);
      checkFiniteSamples(samples, n, dim);
      return { features: samples, logits: null, n, dim };
    },
    async dispose() {},
  };
}

/** Samples of more dimensions than this need a feature extractor for FID-style metrics. */
export const IDENTITY_MAX_DIM = 64;

function preprocessGraph(sampleShape: number[], spec: FeatureSpec): Uint8Array | null {
  const [lo, hi] = spec.sampleRange;
  const [ilo, ihi] = spec.inputRange;
  const a = (ihi - ilo) / (hi - lo);
  const b = ilo - a * lo;
  const target = spec.inputShape;
  const sameShape = !target || (target.length === sampleShape.length && target.every((v, i) => v === sampleShape[i]));
  if (sameShape && a === 1 && b === 0) return null;
  const g = new GraphBuilder('preprocess');
  let x = g.input('x', 'float32', ['N', ...sampleShape]);
  if (a !== 1 || b !== 0) x = g.op('Add', [g.op('Mul', [x, g.const(a)]), g.const(b)]);
  if (target && !sameShape) {
    if (sampleShape.length !== 3)
      throw new RangeError(
        `features.inputShape [${target.join(', ')}] needs image samples [C, H, W], but samples have shape [${sampleShape.join(', ')}]`,
      );
    const [c, h, w] = sampleShape as [number, number, number];
    const [tc, th, tw] = target as [number, number, number];
    if (tc !== c) {
      if (c !== 1)
        throw new RangeError(
          `features.inputShape has ${tc} channels but samples have ${c}; only 1 → ${tc} (repeat) is supported`,
        );
      x = g.op('Concat', Array(tc).fill(x), { axis: 1 });
    }
    if (th !== h || tw !== w) {
      if (!spec.resize)
        throw new RangeError(
          `samples are ${h}×${w} but the extractor expects ${th}×${tw}: set features.resize to "bilinear" or "nearest" in model.json`,
        );
      const nc = g.op('Slice', [g.op('Shape', [x]), g.ints([0]), g.ints([2])]);
      const sizes = g.op('Concat', [nc, g.ints([th, tw])], { axis: 0 });
      const attrs: Record<string, string> =
        spec.resize === 'bilinear'
          ? { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' }
          : { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
      x = g.op('Resize', [x, '', '', sizes], attrs);
    }
  }
  g.output(x, 'y', 'float32', ['N', ...(target ?? sampleShape)]);
  return g.toBytes();
}

class OnnxExtractor implements FeatureExtractor {
  readonly hasLogits: boolean;
  constructor(
    readonly name: string,
    readonly spec: FeatureSpec,
    readonly dim: number,
    private readonly sampleShape: number[],
    private readonly session: ort.InferenceSession,
    private readonly pre: ort.InferenceSession | null,
  ) {
    this.hasLogits = spec.logits !== null;
  }

  async runBatch(x: Float32Array, n: number): Promise<{ f: Float32Array; l: Float32Array | null }> {
    let input: ort.Tensor = new ort.Tensor('float32', x, [n, ...this.sampleShape]);
    if (this.pre) input = (await this.pre.run({ x: input }))['y'] as ort.Tensor;
    const outs = [this.spec.output, ...(this.spec.logits ? [this.spec.logits] : [])];
    let r: ort.InferenceSession.OnnxValueMapType;
    try {
      r = await this.session.run({ [this.spec.input]: input }, outs);
    } catch (e) {
      throw new ModelError(
        `${this.name}: ONNX Runtime failed on a batch of ${n}: ${(e as Error).message.split('\n')[0]}`,
        this.name,
        'features',
      );
    }
    const f = r[this.spec.output]!;
    const fd = f.dims.slice(1).reduce((a, b) => a * b, 1);
    if (f.dims[0] !== n || fd !== this.dim || f.type !== 'float32') {
      throw new ModelError(
        `${this.name}: output "${this.spec.output}" is ${f.type} [${f.dims.join(', ')}], expected float32 [${n}, ${this.dim}] (features.dim)`,
        this.name,
        'features.dim',
      );
    }
    const fv = f.data as Float32Array;
    for (let i = 0; i < fv.length; i++) {
      if (!Number.isFinite(fv[i]!))
        throw new ModelError(`${this.name}: the extractor returned NaN/Inf features`, this.name, 'features');
    }
    const l = this.spec.logits ? (r[this.spec.logits]!.data as Float32Array) : null;
    return { f: fv, l };
  }

  async extract(
    samples: Float32Array,
    n: number,
    opts: { batch?: number; signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<Extracted> {
    const sd = this.sampleShape.reduce((a, b) => a * b, 1);
    if (samples.length !== n * sd)
      throw new RangeError(
        `expected ${n} samples of shape [${this.sampleShape.join(', ')}], got ${samples.length} values`,
      );
    checkFiniteSamples(samples, n, sd);
    const batch = opts.batch ?? 256;
    const features = new Float32Array(n * this.dim);
    let logits: Float32Array | null = null;
    let k = 0;
    for (let s = 0; s < n; s += batch) {
      checkCancelled(opts.signal);
      const e = Math.min(n, s + batch);
      const { f, l } = await this.runBatch(samples.subarray(s * sd, e * sd), e - s);
      features.set(f, s * this.dim);
      if (l) {
        if (!logits) {
          k = l.length / (e - s);
          logits = new Float32Array(n * k);
        }
        logits.set(l, s * k);
      }
      opts.onProgress?.(e, n);
    }
    return { features, logits, n, dim: this.dim };
  }

  async dispose(): Promise<void> {
    await this.session.release();
    await this.pre?.release();
  }
}

/**
 * Opens the extractor `spec` (paths relative to `baseDir`) for samples of `sampleShape`, checks its
 * input and outputs against the spec, and probes it with two samples.
 */
export async function loadFeatureExtractor(
  spec: FeatureSpec,
  baseDir: string,
  sampleShape: number[],
): Promise<FeatureExtractor> {
  const path = isAbsolute(spec.onnx) ? spec.onnx : join(baseDir, spec.onnx);
  if (!existsSync(path))
    throw new ModelError(`${path}: feature extractor not found ("features.onnx" in model.json)`, path, 'features.onnx');
  const { session } = await createSession(path, 'cpu');
  const fail = async (msg: string, key: string): Promise<never> => {
    await session.release();
    throw new ModelError(`${path}: ${msg}`, path, key);
  };
  if (!session.inputNames.includes(spec.input))
    await fail(
      `has no input "${spec.input}" (features.input); its inputs are ${session.inputNames.join(', ')}`,
      'features.input',
    );
  if (session.inputNames.length !== 1)
    await fail(
      `has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); a feature extractor takes one`,
      'features.input',
    );
  for (const [key, name] of [
    ['features.output', spec.output],
    ['features.logits', spec.logits],
  ] as const) {
    if (name && !session.outputNames.includes(name))
      await fail(`has no output "${name}" (${key}); its outputs are ${session.outputNames.join(', ')}`, key);
  }
  const meta = session.inputMetadata.find((m) => m.name === spec.input);
  const expectShape = spec.inputShape ?? sampleShape;
  if (meta && meta.isTensor && meta.shape.length > 0) {
    const dims = meta.shape.slice(1);
    if (
      meta.shape.length !== expectShape.length + 1 ||
      dims.some((d, i) => typeof d === 'number' && d > 0 && d !== expectShape[i])
    ) {
      await fail(
        `input "${spec.input}" has shape [${meta.shape.join(', ')}] but receives [N, ${expectShape.join(', ')}]${spec.inputShape ? ' (features.inputShape)' : ' (the samples; set features.inputShape and features.resize if it expects another size)'}`,
        'features.inputShape',
      );
    }
    if (meta.type !== 'float32')
      await fail(`input "${spec.input}" is ${meta.type}; a feature extractor takes float32`, 'features.input');
  }
  let pre: ort.InferenceSession | null = null;
  try {
    const bytes = preprocessGraph(sampleShape, spec);
    if (bytes) pre = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
  } catch (e) {
    await session.release();
    throw new ModelError(`${path}: ${(e as Error).message}`, path, 'features');
  }
  const ex = new OnnxExtractor(path, spec, spec.dim, sampleShape, session, pre);
  try {
    const sd = sampleShape.reduce((a, b) => a * b, 1);
    await ex.runBatch(
      Float32Array.from({ length: 2 * sd }, (_, i) => Math.sin(i) * 0.5),
      2,
    );
  } catch (e) {
    await ex.dispose();
    throw e;
  }
  return ex;
}

/** The extractor a model declares, else identity for ≤ 64-dimensional vectors, else an error. */
export async function extractorForModel(m: {
  dir: string;
  manifest: { features: FeatureSpec | null; shape: number[]; name: string };
}): Promise<FeatureExtractor> {
  if (m.manifest.features) return loadFeatureExtractor(m.manifest.features, m.dir, m.manifest.shape);
  const dim = m.manifest.shape.reduce((a, b) => a * b, 1);
  if (m.manifest.shape.length === 1 && dim <= IDENTITY_MAX_DIM) return identityExtractor(dim);
  throw new ModelError(
    `${m.manifest.name} has no feature extractor: add "features" to its model.json (e.g. an Inception-v3 ONNX), or pass --features extractor.onnx`,
    m.dir,
    'features',
  );
}
