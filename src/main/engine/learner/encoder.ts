// The frozen state encoder φ(x_t, σ_t) in front of the learner's heads (paper, Appendix B: a frozen
// pretrained encoder, then small trainable heads). Two kinds:
//   preconditioned  φ = c_in(σ)·x = x / √(σ² + σ_data²), EDM's input scaling, for low-dimensional
//                   models whose raw coordinates are the best features there are;
//   onnx            the model manifest's "encoder": any ONNX graph (x [n, ...shape], σ [n]) → [n, dim],
//                   e.g. a noise-conditional classifier's penultimate features for images.
// Terminal (clean) states are encoded at σ_min: a noise-conditional network has never seen σ = 0.

import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelError, type EncoderSpec } from '../models/manifest';
import type { Model } from '../models/model';
import { createSession } from '../onnx/runtime';

/** What an encoder has done so far: calls of encode, states encoded, milliseconds inside it. */
export interface EncoderStats {
  calls: number;
  rows: number;
  encoderMs: number;
}

export interface StateEncoder {
  /** "c_in·x" or the encoder's file. */
  readonly name: string;
  /** Feature dimension. */
  readonly dim: number;
  /** The block size k of a pooled state (pooledEncoder), for the exported graph's AveragePool. */
  readonly pool?: number;
  /** Running totals (the learner reports the time per iteration as time/encoder_s). */
  readonly stats: EncoderStats;
  /** [n, dim] features of n states (x: [n, model dim], σ: [n], 0 marking the terminal state). */
  encode(x: Float32Array, sigma: Float32Array, n: number): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** φ = c_in(σ)·x, EDM's preconditioning of the denoiser input (x/σ_data at the terminal state). */
export function preconditionedEncoder(dim: number, sigmaData: number): StateEncoder {
  const sd2 = sigmaData ** 2;
  const stats: EncoderStats = { calls: 0, rows: 0, encoderMs: 0 };
  return {
    name: 'c_in·x',
    dim,
    stats,
    async encode(x, sigma, n) {
      if (x.length !== n * dim) throw new RangeError(`encoder: expected ${n}×${dim} state values, got ${x.length}`);
      const t0 = performance.now();
      const out = new Float32Array(n * dim);
      for (let i = 0; i < n; i++) {
        const c = 1 / Math.sqrt(sigma[i]! ** 2 + sd2);
        for (let k = i * dim; k < (i + 1) * dim; k++) out[k] = x[k]! * c;
      }
      count(stats, n, t0);
      return out;
    },
    async dispose() {},
  };
}

/**
 * φ = c_in(σ)·x average-pooled over k×k spatial blocks, k the smallest factor that leaves at most
 * `most` values per sample ([C, H, W] → [C, ⌈H/k⌉, ⌈W/k⌉]; 28×28 → 7×7 = 49); a flat x of at most
 * `most` values is c_in·x itself. A state summary that costs no network pass (the RL step
 * scheduler's default: scheduler/rl-scheduler.ts says why).
 */
export function pooledEncoder(shape: readonly number[], sigmaData: number, most = 64): StateEncoder {
  const dim = shape.reduce((a, b) => a * b, 1);
  if (shape.length < 3) {
    if (dim > most)
      throw new RangeError(`a pooled state needs an image shape [C, H, W] or at most ${most} values, got [${shape}]`);
    return { ...preconditionedEncoder(dim, sigmaData), name: 'c_in·x' };
  }
  const [C, H, W] = shape.slice(-3) as [number, number, number];
  let k = 1;
  while (C * Math.ceil(H / k) * Math.ceil(W / k) > most) k++;
  const [h, w] = [Math.ceil(H / k), Math.ceil(W / k)];
  const out = C * h * w;
  const sd2 = sigmaData ** 2;
  const stats: EncoderStats = { calls: 0, rows: 0, encoderMs: 0 };
  return {
    name: `c_in·x pooled ${k}×${k}`,
    dim: out,
    pool: k,
    stats,
    async encode(x, sigma, n) {
      if (x.length !== n * dim) throw new RangeError(`encoder: expected ${n}×${dim} state values, got ${x.length}`);
      const t0 = performance.now();
      const f = new Float32Array(n * out);
      for (let i = 0; i < n; i++) {
        const c = 1 / Math.sqrt(sigma[i]! ** 2 + sd2);
        for (let ch = 0; ch < C; ch++)
          for (let y = 0; y < h; y++)
            for (let z = 0; z < w; z++) {
              let sum = 0;
              let cnt = 0;
              for (let dy = y * k; dy < Math.min(H, (y + 1) * k); dy++)
                for (let dz = z * k; dz < Math.min(W, (z + 1) * k); dz++) {
                  sum += x[i * dim + (ch * H + dy) * W + dz]!;
                  cnt++;
                }
              f[i * out + (ch * h + y) * w + z] = (c * sum) / cnt;
            }
      }
      count(stats, n, t0);
      return f;
    },
    async dispose() {},
  };
}

/** Adds one encode call of `n` states, started at `t0`, to `stats`. */
function count(stats: EncoderStats, n: number, t0: number): void {
  stats.calls++;
  stats.rows += n;
  stats.encoderMs += performance.now() - t0;
}

/** Rows per encoder call. */
const CHUNK = 512;

/** Loads and checks the manifest's encoder; every problem is a ModelError naming the file and the fix. */
export async function loadOnnxEncoder(
  spec: EncoderSpec,
  model: Pick<Model, 'dir' | 'shape' | 'dim' | 'sigmaMin' | 'sigmaMax'>,
  device: 'auto' | 'cpu' | 'cuda' = 'auto',
): Promise<StateEncoder> {
  const path = isAbsolute(spec.onnx) ? spec.onnx : join(model.dir, spec.onnx);
  if (!existsSync(path))
    throw new ModelError(
      `${path}: not found ("encoder.onnx" in model.json); put the encoder ONNX there or remove "encoder" to use c_in·x`,
      path,
      'encoder.onnx',
    );
  const { session } = await createSession(path, device);
  const names = session.inputNames;
  for (const [key, name] of [
    ['x', spec.inputs.x],
    ['sigma', spec.inputs.sigma],
  ] as const) {
    if (!names.includes(name)) {
      await session.release();
      throw new ModelError(
        `${path}: has no input "${name}" ("encoder.inputs.${key}" in model.json); its inputs are ${names.map((v) => `"${v}"`).join(', ')}`,
        path,
        `encoder.inputs.${key}`,
      );
    }
  }
  if (!session.outputNames.includes(spec.output)) {
    const outs = session.outputNames.map((v) => `"${v}"`).join(', ');
    await session.release();
    throw new ModelError(
      `${path}: has no output "${spec.output}" ("encoder.output" in model.json); its outputs are ${outs}`,
      path,
      'encoder.output',
    );
  }
  const dim = model.dim;
  const run = async (x: Float32Array, sigma: Float32Array, n: number): Promise<Float32Array> => {
    const feeds = {
      [spec.inputs.x]: new ort.Tensor('float32', x, [n, ...model.shape]),
      [spec.inputs.sigma]: new ort.Tensor('float32', sigma, [n]),
    };
    let res: ort.InferenceSession.OnnxValueMapType;
    try {
      res = await session.run(feeds);
    } catch (e) {
      throw new ModelError(
        `${path}: the encoder failed on a batch of ${n} states (${(e as Error).message.split('\n')[0]}); it must take x [n, ${model.shape.join(', ')}] and sigma [n] as float32`,
        path,
        'encoder',
      );
    }
    const out = res[spec.output]!;
    if (out.type !== 'float32')
      throw new ModelError(`${path}: output "${spec.output}" is ${out.type}, expected float32`, path, 'encoder.output');
    if (out.dims.length !== 2 || out.dims[0] !== n || out.dims[1] !== spec.dim) {
      throw new ModelError(
        `${path}: output "${spec.output}" has shape [${out.dims.join(', ')}], expected [${n}, ${spec.dim}] ("encoder.dim" in model.json is ${spec.dim})`,
        path,
        'encoder.dim',
      );
    }
    return out.data as Float32Array;
  };
  const stats: EncoderStats = { calls: 0, rows: 0, encoderMs: 0 };
  const enc: StateEncoder = {
    name: spec.onnx,
    dim: spec.dim,
    stats,
    async encode(x, sigma, n) {
      if (x.length !== n * dim) throw new RangeError(`encoder: expected ${n}×${dim} state values, got ${x.length}`);
      const t0 = performance.now();
      const out = new Float32Array(n * spec.dim);
      for (let s = 0; s < n; s += CHUNK) {
        const e = Math.min(n, s + CHUNK);
        const sig = Float32Array.from(sigma.subarray(s, e), (v) => (v > 0 ? v : model.sigmaMin));
        out.set(await run(x.slice(s * dim, e * dim), sig, e - s), s * spec.dim);
      }
      count(stats, n, t0);
      return out;
    },
    async dispose() {
      await session.release();
    },
  };
  // Probe: two states at the ends of the noise range must give finite features of the stated size.
  try {
    const probe = await enc.encode(new Float32Array(2 * dim).fill(0.1), Float32Array.from([model.sigmaMax, 0]), 2);
    if (!probe.every(Number.isFinite))
      throw new ModelError(
        `${path}: the encoder returned NaN or Inf for a probe batch (σ = ${model.sigmaMax} and σ_min); check the graph`,
        path,
        'encoder',
      );
  } catch (e) {
    await session.release();
    throw e;
  }
  return enc;
}

/** The encoder a model asks for: its manifest's ONNX encoder, else c_in·x. */
export async function encoderForModel(model: Model, device: 'auto' | 'cpu' | 'cuda' = 'auto'): Promise<StateEncoder> {
  const spec = model.manifest.encoder;
  return spec ? loadOnnxEncoder(spec, model, device) : preconditionedEncoder(model.dim, model.manifest.sigmaData);
}
