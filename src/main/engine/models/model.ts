// A loaded model: its manifest checked against its ONNX graph, one cached ONNX Runtime session,
// and the denoiser D(x;σ,c) every sampler calls.
//
// [Note: validation before use]
// Loading checks input names, dtypes and ranks against the graph, then runs one probe batch at
// σ_max and σ_min and checks the output's shape and finiteness. Every mismatch is a ModelError that
// names the file, the input and what was expected, so a user's broken export fails at load with a
// fix to apply, not in the middle of a run.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ModelError, type ModelManifest } from './manifest';
import { readManifestFile } from './registry';
import { VpTable } from './vp';
import type { DiscreteLevels } from '../samplers/schedule';
import * as ort from 'onnxruntime-node';
import { createSession, type OrtSession } from '../onnx/runtime';
import { checkCancelled } from '../cancel';

export interface DenoiserStats {
  /** session.run calls. */
  calls: number;
  /** Samples pushed through the network (a guided pair counts twice). */
  rows: number;
  /** Wall time inside session.run, ms. */
  modelMs: number;
}

/** The interface every sampler uses. */
export interface Denoiser {
  readonly shape: readonly number[];
  /** Values per sample (product of shape). */
  readonly dim: number;
  readonly numClasses: number;
  readonly nullClass: number | null;
  /** The σ range the model supports (after VP conversion for ε-models). */
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  /** Maps a σ to the nearest one the model knows (identity for continuous-σ models). */
  roundSigma(sigma: number): number;
  /** A discrete-time (VP) model's levels, its own time for the uniform schedule; absent or null for σ-time models. */
  readonly vp?: DiscreteLevels | null;
  /**
   * D(x;σ,c) for `n` rows: x [n, dim], sigma [n], labels [n] (null for unconditional models).
   * Returns [n, dim]. Throws ModelError on NaN/Inf output; SamplingCancelled when `signal` is
   * aborted before one of the session runs a large batch is split into.
   */
  denoise(
    x: Float32Array,
    sigma: Float32Array,
    labels: BigInt64Array | null,
    signal?: AbortSignal,
  ): Promise<Float32Array>;
  readonly stats: DenoiserStats;
}

/**
 * The denoiser returned NaN/Inf on states that had already diverged: non-finite, or far beyond any
 * sample at their noise level. The sampler's doing (too strong a guidance, say), not the network's.
 *
 * [Note: diverged inputs]
 * A state at level σ is data plus σ-scaled noise, so its entries lie within a few (σ + data scale)
 * of 0. When the network's output is not finite, its input is checked: entries beyond
 * DIVERGED_STATE·(1 + σ) (or not finite) mean the samples diverged before the call, and this error
 * says so with the numbers instead of blaming the network (guidance.ts names the guidance).
 */
export class DivergedInput extends RangeError {
  override name = 'DivergedInput';
  constructor(
    readonly file: string,
    /** Largest |x| of the batch (Infinity when some entry is not finite). */
    readonly maxAbs: number,
    /** σ of the row holding it. */
    readonly sigma: number,
  ) {
    super(
      `the samples had diverged before this denoiser call (|x| up to ${maxAbs.toPrecision(3)} at σ = ${sigma.toPrecision(4)}, where samples lie within a few σ of the data) and ${file} returned NaN/Inf on them`,
    );
  }
}

/** Entries of a state beyond this multiple of (1 + σ) mean the sampler diverged (see the note on diverged inputs). */
export const DIVERGED_STATE = 1e6;

/** The row with the largest |x| relative to 1 + σ, when it is beyond DIVERGED_STATE (or not finite); else null. */
export function divergedRow(
  x: Float32Array,
  sigma: Float32Array,
  dim: number,
): { maxAbs: number; sigma: number } | null {
  let worst: { maxAbs: number; sigma: number; ratio: number } | null = null;
  for (let i = 0; i < sigma.length; i++) {
    let m = 0;
    for (let k = i * dim, e = k + dim; k < e; k++) {
      const a = Math.abs(x[k]!);
      m = a > m || Number.isNaN(a) ? (Number.isNaN(a) ? Infinity : a) : m;
    }
    const ratio = m / (1 + sigma[i]!);
    if (ratio > DIVERGED_STATE && (!worst || ratio > worst.ratio)) worst = { maxAbs: m, sigma: sigma[i]!, ratio };
  }
  return worst && { maxAbs: worst.maxAbs, sigma: worst.sigma };
}

export interface LoadOptions {
  /** Largest batch sent to one session.run (bigger requests are split). Default 1024. */
  maxBatch?: number;
  /** Execution provider preference: 'auto' tries CUDA when installed, then CPU. */
  device?: 'auto' | 'cpu' | 'cuda';
  /** Skip the probe batch (used only by tools that build models). */
  skipProbe?: boolean;
  /**
   * Milliseconds every denoiser call waits before it runs (default 0): emulates a GPU-bound denoiser,
   * whose calls wait on the device rather than the CPU, for the scaling benchmark of workers
   * (`worker --simulate-call-ms`, `npm run bench -- workers`).
   */
  simulatedCallMs?: number;
}

export class Model implements Denoiser {
  readonly dim: number;
  readonly stats: DenoiserStats = { calls: 0, rows: 0, modelMs: 0 };
  readonly vp: VpTable | null;
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  private readonly outputName: string;
  /** LoadOptions.simulatedCallMs. */
  simulatedCallMs = 0;

  private constructor(
    readonly dir: string,
    readonly manifest: ModelManifest,
    readonly session: OrtSession,
    readonly backend: string,
    readonly maxBatch: number,
  ) {
    this.dim = manifest.shape.reduce((a, b) => a * b, 1);
    this.vp = manifest.vp ? new VpTable(manifest.vp) : null;
    // For ε-models the table fixes the range; a manifest may narrow it.
    if (this.vp) {
      // Snap to table levels inside the requested range, so the schedule's ends are levels the model knows.
      const s = this.vp.sigmas;
      const lo = manifest.sigmaMin || 0;
      const hi = manifest.sigmaMax > 0 ? manifest.sigmaMax : Infinity;
      let iLo = 0;
      while (iLo < s.length - 1 && s[iLo]! < lo) iLo++;
      let iHi = s.length - 1;
      while (iHi > iLo && s[iHi]! > hi) iHi--;
      this.sigmaMin = s[iLo]!;
      this.sigmaMax = s[iHi]!;
    } else {
      this.sigmaMin = manifest.sigmaMin;
      this.sigmaMax = manifest.sigmaMax;
    }
    this.outputName = manifest.outputName ?? session.outputNames[0]!;
  }

  get name(): string {
    return this.manifest.name;
  }
  get shape(): readonly number[] {
    return this.manifest.shape;
  }
  get numClasses(): number {
    return this.manifest.numClasses;
  }
  get nullClass(): number | null {
    return this.manifest.nullClass;
  }
  get classNames(): string[] | null {
    return this.manifest.classNames;
  }
  get onnxPath(): string {
    return join(this.dir, this.manifest.onnx);
  }

  roundSigma(sigma: number): number {
    return this.vp ? this.vp.roundSigma(sigma) : sigma;
  }

  /** Reads `model.json` in `dir`, validates it against the ONNX graph and probes it. */
  static async load(dir: string, options: LoadOptions = {}): Promise<Model> {
    dir = resolve(dir);
    const { manifest, path: manifestPath } = readManifestFile(dir);
    const onnxPath = join(dir, manifest.onnx);
    if (!existsSync(onnxPath)) {
      throw new ModelError(
        `${onnxPath}: not found; "onnx" in ${manifestPath} must name the ONNX file in the model directory`,
        onnxPath,
        'onnx',
      );
    }
    const { session, backend } = await createSession(onnxPath, options.device ?? 'auto');
    const model = new Model(dir, manifest, session, backend, options.maxBatch ?? 1024);
    try {
      model.validateGraph(manifestPath);
      if (!options.skipProbe) await model.probe();
      model.simulatedCallMs = options.simulatedCallMs ?? 0;
    } catch (e) {
      await session.release();
      throw e;
    }
    return model;
  }

  private validateGraph(manifestPath: string): void {
    const m = this.manifest;
    const file = this.onnxPath;
    const meta = new Map(this.session.inputMetadata.map((v) => [v.name, v]));
    const expected: { key: string; name: string; type: string; rank: number; dims?: readonly number[] }[] = [
      { key: 'inputs.x', name: m.inputs.x, type: 'float32', rank: 1 + m.shape.length, dims: m.shape },
      { key: 'inputs.sigma', name: m.inputs.sigma, type: m.output === 'epsilon' ? 'int64' : 'float32', rank: 1 },
    ];
    if (m.inputs.classLabels)
      expected.push({ key: 'inputs.classLabels', name: m.inputs.classLabels, type: 'int64', rank: 1 });
    const graphInputs = [...meta.keys()].join(', ');
    for (const e of expected) {
      const v = meta.get(e.name);
      if (!v) {
        throw new ModelError(
          `${file}: has no input named "${e.name}" (${manifestPath} "${e.key}"); the graph's inputs are: ${graphInputs}. Set "${e.key}" to the right name`,
          file,
          e.key,
        );
      }
      if (!v.isTensor) throw new ModelError(`${file}: input "${e.name}" is not a tensor`, file, e.key);
      if (v.type !== e.type) {
        throw new ModelError(
          `${file}: input "${e.name}" has dtype ${v.type}, expected ${e.type}${e.key === 'inputs.sigma' && m.output === 'epsilon' ? ' (the DDPM timestep index)' : ''}`,
          file,
          e.key,
        );
      }
      // An empty shape means the graph does not declare one (the probe batch checks such graphs).
      if (v.shape.length > 0 && v.shape.length !== e.rank) {
        throw new ModelError(
          `${file}: input "${e.name}" has rank ${v.shape.length} [${v.shape.join(', ')}], expected rank ${e.rank} ${e.dims ? `[N, ${e.dims.join(', ')}]` : '[N]'}`,
          file,
          e.key,
        );
      }
      if (e.dims) {
        e.dims.forEach((d, i) => {
          const g = v.shape[i + 1];
          if (typeof g === 'number' && g > 0 && g !== d) {
            throw new ModelError(
              `${file}: input "${e.name}" has shape [${v.shape.join(', ')}] but "shape" in ${manifestPath} is [${m.shape.join(', ')}]; make them agree`,
              file,
              'shape',
            );
          }
        });
      }
    }
    const extra = [...meta.keys()].filter((n) => !expected.some((e) => e.name === n));
    if (extra.length > 0) {
      const hint =
        m.numClasses === 0 && extra.length === 1
          ? ` (a conditional model? set "numClasses" and "inputs.classLabels")`
          : '';
      throw new ModelError(
        `${file}: has inputs the manifest does not name: ${extra.join(', ')}${hint}`,
        file,
        'inputs',
      );
    }
    if (m.outputName && !this.session.outputNames.includes(m.outputName)) {
      throw new ModelError(
        `${file}: has no output "${m.outputName}"; its outputs are ${this.session.outputNames.join(', ')}`,
        file,
        'outputName',
      );
    }
    if (!m.outputName && this.session.outputNames.length !== 1) {
      throw new ModelError(
        `${file}: has ${this.session.outputNames.length} outputs (${this.session.outputNames.join(', ')}); name the denoiser output with "outputName"`,
        file,
        'outputName',
      );
    }
  }

  /** One small batch at σ_max and σ_min: output shape and finiteness. */
  private async probe(): Promise<void> {
    const n = 2;
    const x = new Float32Array(n * this.dim);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 12.9898) * this.sigmaMax * 0.5;
    for (let i = this.dim; i < x.length; i++) x[i] = Math.sin(i * 78.233) * 0.5;
    const sigma = new Float32Array([this.roundSigma(this.sigmaMax), this.roundSigma(this.sigmaMin)]);
    const labels = this.numClasses > 0 ? new BigInt64Array([0n, BigInt(this.nullClass ?? 0)]) : null;
    await this.denoise(x, sigma, labels);
  }

  async denoise(
    x: Float32Array,
    sigma: Float32Array,
    labels: BigInt64Array | null,
    signal?: AbortSignal,
  ): Promise<Float32Array> {
    const n = sigma.length;
    if (x.length !== n * this.dim) throw new RangeError(`denoise: x has ${x.length} values, expected ${n}×${this.dim}`);
    checkCancelled(signal);
    if (n <= this.maxBatch) return this.run(x, sigma, labels);
    const out = new Float32Array(x.length);
    for (let s = 0; s < n; s += this.maxBatch) {
      if (s > 0) checkCancelled(signal);
      const e = Math.min(n, s + this.maxBatch);
      out.set(
        await this.run(x.subarray(s * this.dim, e * this.dim), sigma.subarray(s, e), labels?.subarray(s, e) ?? null),
        s * this.dim,
      );
    }
    return out;
  }

  private async run(x: Float32Array, sigma: Float32Array, labels: BigInt64Array | null): Promise<Float32Array> {
    const m = this.manifest;
    const n = sigma.length;
    const feeds: Record<string, ort.Tensor> = {};
    if (this.vp) {
      // ε-model: x_t = c_in·x with c_in = 1/√(σ²+1), timestep = index of σ.
      const xt = new Float32Array(x.length);
      const t = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const ti = this.vp.timestep(sigma[i]!);
        t[i] = BigInt(ti);
        const s = this.vp.sigmas[ti]!;
        const c = 1 / Math.sqrt(s * s + 1);
        for (let d = i * this.dim, e = d + this.dim; d < e; d++) xt[d] = x[d]! * c;
      }
      feeds[m.inputs.x] = new ort.Tensor('float32', xt, [n, ...m.shape]);
      feeds[m.inputs.sigma] = new ort.Tensor('int64', t, [n]);
    } else {
      feeds[m.inputs.x] = new ort.Tensor('float32', x, [n, ...m.shape]);
      feeds[m.inputs.sigma] = new ort.Tensor('float32', sigma, [n]);
    }
    if (m.inputs.classLabels) {
      if (!labels)
        throw new RangeError(
          `${m.name} is class-conditional: pass class labels (the null class ${m.nullClass} for unconditional)`,
        );
      feeds[m.inputs.classLabels] = new ort.Tensor('int64', labels, [n]);
    }
    const t0 = performance.now();
    if (this.simulatedCallMs > 0) await new Promise((r) => setTimeout(r, this.simulatedCallMs));
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await this.session.run(feeds, [this.outputName]);
    } catch (e) {
      throw new ModelError(
        `${this.onnxPath}: ONNX Runtime failed on a batch of ${n}: ${(e as Error).message}`,
        this.onnxPath,
      );
    }
    this.stats.modelMs += performance.now() - t0;
    this.stats.calls++;
    this.stats.rows += n;
    const out = result[this.outputName]!;
    const expectDims = [n, ...m.shape];
    if (
      out.dims.length !== expectDims.length ||
      out.dims.some((d, i) => d !== expectDims[i]) ||
      out.type !== 'float32'
    ) {
      throw new ModelError(
        `${this.onnxPath}: output "${this.outputName}" is ${out.type} [${out.dims.join(', ')}], expected float32 [${expectDims.join(', ')}] (same shape as x)`,
        this.onnxPath,
        'outputName',
      );
    }
    const y = out.data as Float32Array;
    let bad = 0;
    for (let i = 0; i < y.length; i++) if (!Number.isFinite(y[i]!)) bad++;
    if (bad > 0) {
      const diverged = divergedRow(x, sigma, this.dim);
      if (diverged) throw new DivergedInput(this.onnxPath, diverged.maxAbs, diverged.sigma);
      let lo = Infinity;
      let hi = -Infinity;
      for (const s of sigma) {
        lo = Math.min(lo, s);
        hi = Math.max(hi, s);
      }
      throw new ModelError(
        `${this.onnxPath}: the model returned ${bad} NaN/Inf values (batch of ${n}, σ in [${lo.toPrecision(4)}, ${hi.toPrecision(4)}]); check the export and the σ range in the manifest`,
        this.onnxPath,
      );
    }
    if (!this.vp) return y;
    // D(x;σ) = x − σ·ε̂
    const d = new Float32Array(y.length);
    for (let i = 0; i < n; i++) {
      const s = this.vp.sigmas[this.vp.timestep(sigma[i]!)]!;
      for (let k = i * this.dim, e = k + this.dim; k < e; k++) d[k] = x[k]! - s * y[k]!;
    }
    return d;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Loaded models by directory, so a long-lived engine (the app, a training run) opens each ONNX
 * session once. A failed load is not cached: fixing the files and asking again retries.
 */
export class ModelCache {
  private readonly models = new Map<string, Promise<Model>>();

  get(dir: string, options: LoadOptions = {}): Promise<Model> {
    const key = `${resolve(dir)}|${options.device ?? 'auto'}|${options.maxBatch ?? 1024}`;
    let p = this.models.get(key);
    if (!p) {
      p = Model.load(dir, options);
      this.models.set(key, p);
      p.catch(() => this.models.delete(key));
    }
    return p;
  }

  async dispose(): Promise<void> {
    const all = [...this.models.values()];
    this.models.clear();
    await Promise.allSettled(all.map(async (p) => (await p).dispose()));
  }
}
