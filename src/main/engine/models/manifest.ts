// The model manifest (`model.json`): what a model directory holds and how to call its ONNX graph.
// Everything read from disk is `unknown` until this file narrows it; each problem becomes a
// ModelError naming the file, the key, what was found and what to do.

export type OutputKind = 'denoised' | 'epsilon';

/** The β schedule of a discrete-time VP (DDPM) model, for `output: "epsilon"`. */
export interface VpSchedule {
  betaStart: number;
  betaEnd: number;
  /** Number of training timesteps T; the model's timestep input takes 0..T−1. */
  timesteps: number;
  /** How β grows from betaStart to betaEnd. */
  schedule: 'linear' | 'scaled_linear';
}

/** A feature map for metrics (issue: evaluation): an ONNX graph from samples to feature vectors. */
export interface FeatureSpec {
  /** Extractor ONNX file, relative to the model directory (or absolute). */
  onnx: string;
  input: string;
  output: string;
  /** Feature dimension. */
  dim: number;
  /** Name of a classifier-logits output [N, K] of the same graph, for class histograms. */
  logits: string | null;
  /** What the extractor expects, stated rather than guessed: its input shape [C, H, W] … */
  inputShape: number[] | null;
  /** … how samples are resized to it (bilinear uses half-pixel centres, as PyTorch's align_corners=False) … */
  resize: 'bilinear' | 'nearest' | null;
  /** … and the value range: samples in `sampleRange` are mapped affinely to `inputRange`. */
  sampleRange: [number, number];
  inputRange: [number, number];
}

/**
 * A frozen state encoder for the learner's heads (issue: learner): an ONNX graph from a noisy state
 * and its noise level to a feature vector — for images, a noise-conditional classifier's
 * penultimate features (the analogue of the paper's frozen ADM encoder).
 */
export interface EncoderSpec {
  /** Encoder ONNX file, relative to the model directory (or absolute). */
  onnx: string;
  /** Input names: x [n, ...shape] (the raw noisy state x_t, as the denoiser sees it) and σ [n]. */
  inputs: { x: string; sigma: string };
  output: string;
  /** Feature dimension of the output [n, dim]. */
  dim: number;
}

export interface ModelManifest {
  name: string;
  description: string;
  /** ONNX file name, relative to the model directory. */
  onnx: string;
  /** "denoised": the graph returns D(x;σ) (EDM preconditioning inside); "epsilon": ε̂(x_t, t) of a DDPM. */
  output: OutputKind;
  /** One sample's shape without the batch dimension: [C, H, W] for images, [D] for vectors. */
  shape: number[];
  /** Number of classes K (0: unconditional). */
  numClasses: number;
  /** The label meaning "no class" (for classifier-free guidance); null when there is none. */
  nullClass: number | null;
  /** A name per class (optional, numClasses of them): sample grids label their rows with them. */
  classNames: string[] | null;
  sigmaMin: number;
  sigmaMax: number;
  sigmaData: number;
  /** Names of the graph's inputs. */
  inputs: { x: string; sigma: string; classLabels: string | null };
  /** Name of the graph output to read; null: the graph's only output. */
  outputName: string | null;
  vp: VpSchedule | null;
  /** Data samples (.npy, [M, ...shape]), optional. */
  data: string | null;
  /** Class labels of the data samples (.npy, int [M]), optional. */
  dataLabels: string | null;
  /** Machine-readable parameters of a benchmark model (JSON), optional. */
  params: string | null;
  features: FeatureSpec | null;
  /** Frozen state encoder for the learner; null: the heads see EDM's c_in·x (low-dimensional models). */
  encoder: EncoderSpec | null;
}

export class ModelError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly key: string | null = null,
  ) {
    super(message);
    this.name = 'ModelError';
  }
}

type Obj = Record<string, unknown>;

class Reader {
  constructor(
    readonly file: string,
    readonly obj: Obj,
    readonly prefix = '',
  ) {}

  fail(key: string, msg: string): never {
    throw new ModelError(`${this.file}: "${this.prefix}${key}" ${msg}`, this.file, this.prefix + key);
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  string(key: string, fallback?: string): string {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(key, 'is missing; it must be a string');
    }
    if (typeof v !== 'string' || v.length === 0) this.fail(key, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  }

  optString(key: string): string | null {
    return this.has(key) ? this.string(key) : null;
  }

  number(key: string, fallback?: number, check?: (v: number) => string | null): number {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(key, 'is missing; it must be a number');
    }
    if (typeof v !== 'number' || !Number.isFinite(v))
      this.fail(key, `must be a finite number, got ${JSON.stringify(v)}`);
    const problem = check?.(v);
    if (problem) this.fail(key, problem);
    return v;
  }

  integer(key: string, fallback?: number, min = -Infinity): number {
    return this.number(key, fallback, (v) =>
      !Number.isInteger(v) ? `must be an integer, got ${v}` : v < min ? `must be ≥ ${min}, got ${v}` : null,
    );
  }

  object(key: string): Reader | null {
    const v = this.obj[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(key, `must be an object, got ${JSON.stringify(v)}`);
    return new Reader(this.file, v as Obj, `${this.prefix}${key}.`);
  }
}

const positive = (v: number): string | null => (v > 0 ? null : `must be positive, got ${v}`);

/** Narrows parsed JSON to a manifest. `file` is used in every error message. */
export function parseManifest(json: unknown, file: string): ModelManifest {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ModelError(
      `${file}: must hold a JSON object (the model manifest), got ${Array.isArray(json) ? 'an array' : typeof json}`,
      file,
    );
  }
  const r: Reader = new Reader(file, json as Obj);

  const outputRaw = r.string('output', 'denoised');
  if (outputRaw !== 'denoised' && outputRaw !== 'epsilon') {
    r.fail(
      'output',
      `must be "denoised" (the graph returns D(x;σ)) or "epsilon" (a DDPM ε-prediction), got "${outputRaw}"`,
    );
  }
  const output: OutputKind = outputRaw;

  const shapeRaw = (json as Obj)['shape'];
  if (!Array.isArray(shapeRaw) || shapeRaw.length === 0 || !shapeRaw.every((d) => Number.isInteger(d) && d > 0)) {
    r.fail('shape', `must be a list of positive integers such as [1, 28, 28] or [2], got ${JSON.stringify(shapeRaw)}`);
  }
  const shape = shapeRaw as number[];

  const numClasses = r.integer('numClasses', 0, 0);
  let nullClass: number | null = null;
  if (r.has('nullClass')) {
    nullClass = r.integer('nullClass', undefined, 0);
    if (numClasses === 0) r.fail('nullClass', 'is set but numClasses is 0; remove it or give the number of classes');
    if (nullClass < numClasses) {
      r.fail(
        'nullClass',
        `must not be one of the real classes 0..${numClasses - 1}; conventionally it is ${numClasses}`,
      );
    }
  }

  let classNames: string[] | null = null;
  if (r.has('classNames')) {
    const v = (json as Obj)['classNames'];
    if (numClasses === 0) r.fail('classNames', 'is set but numClasses is 0; remove it or give the number of classes');
    if (!Array.isArray(v) || v.length !== numClasses || !v.every((c) => typeof c === 'string' && c.trim() !== ''))
      r.fail(
        'classNames',
        `must list ${numClasses} non-empty names, one per class 0..${numClasses - 1}, got ${JSON.stringify(v)}`,
      );
    classNames = v as string[];
  }

  const inputsR = r.object('inputs');
  const inputs = {
    x: inputsR?.string('x', 'x') ?? 'x',
    sigma:
      inputsR?.string('sigma', output === 'epsilon' ? 'timestep' : 'sigma') ??
      (output === 'epsilon' ? 'timestep' : 'sigma'),
    classLabels: numClasses > 0 ? (inputsR?.string('classLabels', 'class_labels') ?? 'class_labels') : null,
  };
  if (numClasses === 0 && inputsR?.has('classLabels')) {
    inputsR.fail('classLabels', 'is set but numClasses is 0; give numClasses for a conditional model');
  }

  let vp: VpSchedule | null = null;
  const vpR: Reader | null = r.object('vp');
  if (output === 'epsilon') {
    if (vpR === null)
      return r.fail(
        'vp',
        'is required for an "epsilon" model: give {"betaStart": 1e-4, "betaEnd": 0.02, "timesteps": 1000}',
      );
    const betaStart = vpR.number('betaStart', undefined, positive);
    const betaEnd = vpR.number('betaEnd', undefined, (v) =>
      v > betaStart && v < 1 ? null : `must lie in (betaStart, 1), got ${v}`,
    );
    const timesteps = vpR.integer('timesteps', undefined, 2);
    const schedule = vpR.string('schedule', 'linear');
    if (schedule !== 'linear' && schedule !== 'scaled_linear')
      vpR.fail('schedule', `must be "linear" or "scaled_linear", got "${schedule}"`);
    vp = { betaStart, betaEnd, timesteps, schedule: schedule as VpSchedule['schedule'] };
  } else if (vpR) {
    r.fail('vp', 'is only meaningful for "output": "epsilon" models; remove it or set "output": "epsilon"');
  }

  const sigmaMin = r.number('sigmaMin', output === 'epsilon' ? 0 : 0.002, (v) =>
    v >= 0 ? null : `must be ≥ 0, got ${v}`,
  );
  const sigmaMax = r.number('sigmaMax', output === 'epsilon' ? 0 : 80, (v) =>
    v >= 0 ? null : `must be ≥ 0, got ${v}`,
  );
  if (output === 'denoised' && !(sigmaMin > 0 && sigmaMax > sigmaMin)) {
    r.fail('sigmaMax', `must exceed sigmaMin > 0 (got sigmaMin ${sigmaMin}, sigmaMax ${sigmaMax})`);
  }
  if (output === 'epsilon' && sigmaMax > 0 && !(sigmaMax > sigmaMin)) {
    r.fail(
      'sigmaMax',
      `must exceed sigmaMin (got sigmaMin ${sigmaMin}, sigmaMax ${sigmaMax}); leave both out to use the model's whole σ table`,
    );
  }
  const sigmaData = r.number('sigmaData', 0.5, positive);

  let features: FeatureSpec | null = null;
  const fR = r.object('features');
  if (fR) {
    const range = (key: string, fallback: [number, number]): [number, number] => {
      const v = (fR.obj as Obj)[key];
      if (v === undefined || v === null) return fallback;
      if (
        !Array.isArray(v) ||
        v.length !== 2 ||
        !v.every((x) => typeof x === 'number' && Number.isFinite(x)) ||
        !(v[1] > v[0])
      ) {
        fR.fail(key, `must be [low, high] with low < high, got ${JSON.stringify(v)}`);
      }
      const [lo, hi] = v as [number, number];
      return [lo, hi];
    };
    const shapeV = (fR.obj as Obj)['inputShape'];
    let inputShape: number[] | null = null;
    if (shapeV !== undefined && shapeV !== null) {
      if (!Array.isArray(shapeV) || shapeV.length !== 3 || !shapeV.every((x) => Number.isInteger(x) && x > 0)) {
        fR.fail('inputShape', `must be [C, H, W], got ${JSON.stringify(shapeV)}`);
      }
      inputShape = shapeV as number[];
    }
    const resize = fR.optString('resize');
    if (resize !== null && resize !== 'bilinear' && resize !== 'nearest')
      fR.fail('resize', `must be "bilinear" or "nearest", got "${resize}"`);
    features = {
      onnx: fR.string('onnx'),
      input: fR.string('input', 'x'),
      output: fR.string('output', 'features'),
      dim: fR.integer('dim', undefined, 1),
      logits: fR.optString('logits'),
      inputShape,
      resize: resize as FeatureSpec['resize'],
      sampleRange: range('sampleRange', [-1, 1]),
      inputRange: range('inputRange', [-1, 1]),
    };
  }

  let encoder: EncoderSpec | null = null;
  const eR = r.object('encoder');
  if (eR) {
    const iR = eR.object('inputs');
    encoder = {
      onnx: eR.string('onnx'),
      inputs: { x: iR ? iR.string('x', 'x') : 'x', sigma: iR ? iR.string('sigma', 'sigma') : 'sigma' },
      output: eR.string('output', 'features'),
      dim: eR.integer('dim', undefined, 1),
    };
  }

  return {
    name: r.string('name'),
    description: r.has('description') ? r.string('description') : '',
    onnx: r.string('onnx'),
    output,
    shape,
    numClasses,
    nullClass,
    classNames,
    sigmaMin,
    sigmaMax,
    sigmaData,
    inputs,
    outputName: r.optString('outputName'),
    vp,
    data: r.optString('data'),
    dataLabels: r.optString('dataLabels'),
    params: r.optString('params'),
    features,
    encoder,
  };
}
