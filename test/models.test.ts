// Tests for model loading: hand-written model directories (an exact Gaussian denoiser, a DDPM
// ε-model under the VP convention), a catalogue of broken models that must each fail with a
// ModelError naming the problem, and the bundled models against their float64 references.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ModelError } from '../src/main/engine/models/manifest';
import { Model } from '../src/main/engine/models/model';
import { GraphBuilder } from '../src/main/engine/onnx/graph';
import { generate, resolveSettings, scheduleFor } from '../src/main/engine/samplers/generate';
import type { SamplerSettings } from '../src/main/engine/samplers/types';
import { gmmDenoise64, type GmmParams } from '../tools/lib/gmm';
import { BUNDLED_IDS, MIXTURE_IDS } from './helpers/bundled';

const BUNDLED = fileURLToPath(new URL('../resources/models/', import.meta.url));

const root = mkdtempSync(join(tmpdir(), 'models-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
/** Writes a model directory: model.json (an object, raw text, or none) and an ONNX file (or none). */
function writeModel(
  manifest: Record<string, unknown> | string | null,
  onnx: Uint8Array | null,
  onnxName = 'model.onnx',
): string {
  const dir = join(root, `m${dirCount++}`);
  mkdirSync(dir);
  if (manifest !== null)
    writeFileSync(join(dir, 'model.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest, null, 1));
  if (onnx !== null) writeFileSync(join(dir, onnxName), onnx);
  return dir;
}

/** A small seeded generator (mulberry32 + Box–Muller), independent of the engine's streams. */
function rng(seed: number): { uniform: () => number; normal: () => number } {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const normal = (): number => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

/** Per-coordinate mean and standard deviation of [n, d] samples. */
function moments(x: Float32Array, d: number): { mean: number[]; std: number[] } {
  const n = x.length / d;
  const mean = new Array<number>(d).fill(0);
  const sq = new Array<number>(d).fill(0);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mean[k] += x[i * d + k] / n;
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) sq[k] += (x[i * d + k] - mean[k]) ** 2 / (n - 1);
  return { mean, std: sq.map(Math.sqrt) };
}

/**
 * With data N(μ, v I) and its exact denoiser the deterministic samplers are linear maps:
 * x_N − μ = P·(x_0 − μ) with, per step σ → σ', the Euler (= DDIM η=0) factor (v + σσ')/(v + σ²)
 * and Heun's trapezoidal factor 1 + (σ'−σ)/2·(σ/(v+σ²) + a·σ'/(v+σ'²)) (a: the Euler factor).
 */
function gaussianGain(schedule: Float64Array, v: number, secondOrder: boolean): number {
  let p = 1;
  for (let i = 0; i + 1 < schedule.length; i++) {
    const s = schedule[i];
    const sn = schedule[i + 1];
    const a = (v + s * sn) / (v + s * s);
    p *= !secondOrder || sn === 0 ? a : 1 + ((sn - s) / 2) * (s / (v + s * s) + (a * sn) / (v + sn * sn));
  }
  return p;
}

/** Checks every sample against μ + P·(t_0·z − μ) and returns the largest deviation. */
function checkLinear(samples: Float32Array, z: Float32Array, mu: number[], gain: number, t0: number): number {
  const d = mu.length;
  let worst = 0;
  for (let i = 0; i < samples.length; i++) {
    const m = mu[i % d];
    worst = Math.max(worst, Math.abs(samples[i] - (m + gain * (t0 * z[i] - m))));
  }
  return worst;
}

function unitNoise(count: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: count }, () => r.normal());
}

// ---------------------------------------------------------------------------------------------
// An exact Gaussian denoiser: data x0 ~ N(μ_c, v_c I) per label row c, D(x;σ,c) = (v·x + σ²·μ)/(v+σ²).

interface Gaussian {
  d: number;
  /** One row per label (K classes + null row) when conditional, one row otherwise. */
  means: number[][];
  variances: number[];
  conditional: boolean;
}

function gaussianGraph(p: Gaussian): Uint8Array {
  const g = new GraphBuilder('gaussian');
  const rows = p.means.length;
  const x = g.input('x', 'float32', ['N', p.d]);
  const sigma = g.input('sigma', 'float32', ['N']);
  let mu: string;
  let v: string;
  if (p.conditional) {
    const labels = g.input('class_labels', 'int64', ['N']);
    mu = g.op('Gather', [g.const(p.means.flat(), [rows, p.d]), labels], { axis: 0 }); // [N,d]
    v = g.op('Unsqueeze', [g.op('Gather', [g.const(p.variances, [rows]), labels], { axis: 0 }), g.ints([1])]); // [N,1]
  } else {
    mu = g.const(p.means[0], [1, p.d]);
    v = g.const(p.variances, [1, 1]);
  }
  const s2 = g.op('Unsqueeze', [g.op('Mul', [sigma, sigma]), g.ints([1])]); // [N,1]
  const num = g.op('Add', [g.op('Mul', [v, x]), g.op('Mul', [s2, mu])]);
  const out = g.op('Div', [num, g.op('Add', [v, s2])]);
  g.output(out, 'denoised', 'float32', ['N', p.d]);
  return g.toBytes();
}

function gaussianDenoise64(mu: number[], v: number, x: ArrayLike<number>, sigma: number): number[] {
  const s2 = sigma * sigma;
  return mu.map((m, k) => (v * x[k] + s2 * m) / (v + s2));
}

const GAUSS: Gaussian = {
  d: 3,
  means: [
    [1, -2, 0.5],
    [-1.5, 0.25, 2],
    [0.3, 0.3, -0.7],
    [0, 0, 0], // null row
  ],
  variances: [0.25, 0.5, 0.1, 2],
  conditional: true,
};

function gaussManifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'gauss3',
    description: 'exact Gaussian denoiser, 3 classes',
    onnx: 'model.onnx',
    output: 'denoised',
    shape: [3],
    numClasses: 3,
    nullClass: 3,
    sigmaMin: 0.002,
    sigmaMax: 80,
    sigmaData: 1,
    inputs: { x: 'x', sigma: 'sigma', classLabels: 'class_labels' },
    ...extra,
  };
}

describe('a hand-written denoised model', () => {
  test('loads, denoises exactly, and samples with the right moments', async () => {
    const dir = writeModel(gaussManifest(), gaussianGraph(GAUSS));
    const model = await Model.load(dir, { device: 'cpu' });
    try {
      assert.equal(model.name, 'gauss3');
      assert.equal(model.dim, 3);
      assert.deepEqual([...model.shape], [3]);
      assert.equal(model.numClasses, 3);
      assert.equal(model.nullClass, 3);
      assert.equal(model.sigmaMin, 0.002);
      assert.equal(model.sigmaMax, 80);
      assert.equal(model.roundSigma(1.234), 1.234);

      // Random rows over σ ∈ [0.002, 80] (log-uniform), all labels including the null class.
      const r = rng(7);
      const n = 200;
      const x = new Float32Array(n * 3);
      const sigma = new Float32Array(n);
      const labels = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const c = i % 4;
        labels[i] = BigInt(c);
        sigma[i] = Math.exp(Math.log(0.002) + r.uniform() * Math.log(80 / 0.002));
        for (let k = 0; k < 3; k++)
          x[i * 3 + k] = GAUSS.means[c][k] + Math.sqrt(GAUSS.variances[c]) * r.normal() + sigma[i] * r.normal();
      }
      // Split into batches of 64 to go through the maxBatch path too.
      const small = await Model.load(dir, { device: 'cpu', maxBatch: 64 });
      const outs = [await model.denoise(x, sigma, labels), await small.denoise(x, sigma, labels)];
      await small.dispose();
      assert.deepEqual(outs[1], outs[0]);
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const c = Number(labels[i]);
        const ref = gaussianDenoise64(GAUSS.means[c], GAUSS.variances[c], x.subarray(i * 3, i * 3 + 3), sigma[i]);
        for (let k = 0; k < 3; k++) {
          const err = Math.abs(outs[0][i * 3 + k] - ref[k]) / Math.max(1, Math.abs(ref[k]));
          worst = Math.max(worst, err);
        }
      }
      assert.ok(worst < 1e-5, `max relative error ${worst}`);
      assert.equal(model.stats.rows, n + 2, 'the probe batch (2 rows) plus one call of n rows');

      // Heun, 18 steps, one class: samples ~ N(μ_1, v_1 I).
      const settings = resolveSettings(model, { sampler: 'heun', steps: 18 });
      const z = unitNoise(400 * 3, 3);
      const res = await generate(model, settings, { n: 400, batch: 128, seed: 3, classes: 1, initNoise: z });
      assert.ok(res.labels && res.labels.every((c) => c === 1));
      assert.ok(
        res.nfe.every((v) => v === 35),
        'Heun with 18 steps costs 35 NFE',
      );
      const gain = gaussianGain(res.schedule, GAUSS.variances[1], true);
      const dev = checkLinear(res.samples, z, GAUSS.means[1], gain, res.schedule[0]);
      assert.ok(dev < 1e-5, `samples deviate from Heun's exact linear map by ${dev}`);
      const { mean, std } = moments(res.samples, 3);
      for (let k = 0; k < 3; k++) {
        assert.ok(Math.abs(mean[k] - GAUSS.means[1][k]) < 0.12, `mean[${k}] = ${mean[k]}, want ${GAUSS.means[1][k]}`);
        assert.ok(
          Math.abs(std[k] / Math.sqrt(GAUSS.variances[1]) - 1) < 0.15,
          `std[${k}] = ${std[k]}, want ${Math.sqrt(GAUSS.variances[1])}`,
        );
      }
    } finally {
      await model.dispose();
    }
  });

  test('an unconditional variant needs no labels', async () => {
    const p: Gaussian = { d: 3, means: [[2, 0, -1]], variances: [0.3], conditional: false };
    const dir = writeModel(
      gaussManifest({ numClasses: 0, nullClass: null, inputs: { x: 'x', sigma: 'sigma' } }),
      gaussianGraph(p),
    );
    const model = await Model.load(dir, { device: 'cpu' });
    try {
      const x = new Float32Array([0.5, 1.5, -2.5]);
      const y = await model.denoise(x, new Float32Array([1.5]), null);
      const ref = gaussianDenoise64(p.means[0], p.variances[0], x, 1.5);
      for (let k = 0; k < 3; k++) assert.ok(Math.abs(y[k] - ref[k]) < 1e-5, `${y[k]} vs ${ref[k]}`);
      const res = await generate(model, resolveSettings(model, { sampler: 'heun', steps: 18 }), {
        n: 300,
        batch: 300,
        seed: 11,
      });
      assert.equal(res.labels, null);
      const { mean } = moments(res.samples, 3);
      for (let k = 0; k < 3; k++) assert.ok(Math.abs(mean[k] - p.means[0][k]) < 0.12, `mean[${k}] = ${mean[k]}`);
    } finally {
      await model.dispose();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// A DDPM ε-model of N(μ, v I): x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε, ε̂(x_t, t) = E[ε | x_t]
//   = √(1−ᾱ_t)·(x_t − √ᾱ_t·μ) / (ᾱ_t·v + 1 − ᾱ_t).

const VP = { betaStart: 1e-4, betaEnd: 0.02, timesteps: 1000 };
const EPS_MU = [1, -0.5];
const EPS_V = 0.25;

/** ᾱ_t for t = 0..T−1 with β linear in t (computed here, independently of the engine's VpTable). */
function alphaBars(): Float64Array {
  const T = VP.timesteps;
  const out = new Float64Array(T);
  let prod = 1;
  for (let t = 0; t < T; t++) {
    prod *= 1 - (VP.betaStart + ((VP.betaEnd - VP.betaStart) * t) / (T - 1));
    out[t] = prod;
  }
  return out;
}

function epsilonGraph(mu: number[], v: number): Uint8Array {
  const ab = alphaBars();
  const T = ab.length;
  const d = mu.length;
  const g = new GraphBuilder('ddpm-gaussian');
  const xt = g.input('x_t', 'float32', ['N', d]);
  const t = g.input('timestep', 'int64', ['N']);
  const gathered = (table: number[]): string =>
    g.op('Unsqueeze', [g.op('Gather', [g.const(table, [T]), t], { axis: 0 }), g.ints([1])]); // [N,1]
  const sqrtAb = gathered(Array.from(ab, Math.sqrt));
  const coef = gathered(Array.from(ab, (a) => Math.sqrt(1 - a) / (a * v + 1 - a)));
  const centred = g.op('Sub', [xt, g.op('Mul', [sqrtAb, g.const(mu, [1, d])])]);
  g.output(g.op('Mul', [coef, centred]), 'eps', 'float32', ['N', d]);
  return g.toBytes();
}

function epsManifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'ddpm-gauss2',
    onnx: 'eps.onnx',
    output: 'epsilon',
    shape: [2],
    inputs: { x: 'x_t', sigma: 'timestep' },
    vp: { ...VP },
    ...extra,
  };
}

describe('a hand-written epsilon (DDPM) model', () => {
  const sigmas = Array.from(alphaBars(), (a) => Math.sqrt((1 - a) / a));

  test('a narrowed σ range snaps to table levels inside it', async () => {
    const model = await Model.load(
      writeModel(epsManifest({ sigmaMin: 0.05, sigmaMax: 80 }), epsilonGraph(EPS_MU, EPS_V), 'eps.onnx'),
      { device: 'cpu' },
    );
    try {
      const iMax = sigmas.findLastIndex((s) => s <= 80);
      const iMin = sigmas.findIndex((s) => s >= 0.05);
      assert.equal(model.sigmaMax, sigmas[iMax]);
      assert.equal(model.sigmaMin, sigmas[iMin]);
      assert.equal(model.roundSigma(model.sigmaMax), model.sigmaMax, 'the top of the range is a level the model knows');
    } finally {
      await model.dispose();
    }
  });

  test('wraps ε̂ into the exact denoiser at the discrete σ levels', async () => {
    const model = await Model.load(writeModel(epsManifest(), epsilonGraph(EPS_MU, EPS_V), 'eps.onnx'), {
      device: 'cpu',
    });
    try {
      assert.ok(Math.abs(model.sigmaMin / sigmas[0] - 1) < 1e-9, `sigmaMin ${model.sigmaMin} vs ${sigmas[0]}`);
      assert.ok(Math.abs(model.sigmaMax / sigmas[999] - 1) < 1e-9, `sigmaMax ${model.sigmaMax} vs ${sigmas[999]}`);
      assert.ok(model.vp !== null);

      // Every σ rounds to the nearest table level.
      const r = rng(5);
      const probes = [
        0,
        1e-6,
        sigmas[0],
        sigmas[999],
        1e4,
        ...Array.from({ length: 300 }, () => Math.exp(Math.log(0.005) + r.uniform() * Math.log(400 / 0.005))),
      ];
      for (const s of probes) {
        let best = 0;
        for (let t = 1; t < sigmas.length; t++) if (Math.abs(sigmas[t] - s) < Math.abs(sigmas[best] - s)) best = t;
        const got = model.roundSigma(s);
        assert.ok(
          Math.abs(got / sigmas[best] - 1) < 1e-9,
          `roundSigma(${s}) = ${got}, nearest level is t=${best} σ=${sigmas[best]}`,
        );
      }
      // A schedule for the model lies on the table (apart from the final 0).
      const schedule = scheduleFor(model, resolveSettings(model, { sampler: 'ddim', steps: 18 }));
      assert.equal(schedule[18], 0);
      for (const s of schedule.subarray(0, 18))
        assert.ok(
          sigmas.some((t) => Math.abs(t / s - 1) < 1e-12),
          `schedule level ${s} is not a table value`,
        );

      // denoise at table levels (and at off-table σ, which round) vs the exact Gaussian denoiser.
      const levels = [0, 1, 10, 100, 250, 500, 750, 900, 999];
      const n = levels.length * 6;
      const x = new Float32Array(n * 2);
      const sigma = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const s = sigmas[levels[i % levels.length]];
        sigma[i] = i < n / 2 ? s : s * (1 + 0.002 * r.normal()); // the second half off the table
        for (let k = 0; k < 2; k++) x[i * 2 + k] = EPS_MU[k] + Math.sqrt(EPS_V) * r.normal() + s * r.normal();
      }
      const y = await model.denoise(x, sigma, null);
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const s = model.roundSigma(sigma[i]);
        const ref = gaussianDenoise64(EPS_MU, EPS_V, x.subarray(i * 2, i * 2 + 2), s);
        for (let k = 0; k < 2; k++) {
          // float32 ε̂ is multiplied by σ (up to ~157): scale the tolerance with σ and |x|.
          const err = Math.abs(y[i * 2 + k] - ref[k]) / (1 + s + Math.abs(x[i * 2 + k]));
          worst = Math.max(worst, err);
        }
      }
      assert.ok(worst < 2e-6, `max scaled error ${worst}`);
    } finally {
      await model.dispose();
    }
  });

  for (const sampler of ['ddim', 'heun'] as const) {
    test(`${sampler} samples have the data's mean and std`, async () => {
      const model = await Model.load(writeModel(epsManifest(), epsilonGraph(EPS_MU, EPS_V), 'eps.onnx'), {
        device: 'cpu',
      });
      try {
        const partial: Partial<SamplerSettings> =
          sampler === 'ddim' ? { sampler, steps: 18, eta: 0 } : { sampler, steps: 18 };
        const z = unitNoise(400 * 2, 9);
        const res = await generate(model, resolveSettings(model, partial), {
          n: 400,
          batch: 400,
          seed: 2,
          initNoise: z,
        });
        assert.ok(res.nfe.every((v) => v === (sampler === 'ddim' ? 18 : 35)));
        // Sharp: each sample is the sampler's exact linear map of its starting noise.
        const gain = gaussianGain(res.schedule, EPS_V, sampler === 'heun');
        const dev = checkLinear(res.samples, z, EPS_MU, gain, res.schedule[0]);
        assert.ok(dev < 1e-5, `${sampler}: samples deviate from the exact linear map by ${dev}`);
        // Loose: the moments are those of the data, up to the discretisation error of 18 steps
        // (for this Gaussian Euler/DDIM ends ≈16% narrow, Heun ≈6% wide).
        const { mean, std } = moments(res.samples, 2);
        for (let k = 0; k < 2; k++) {
          assert.ok(Math.abs(mean[k] - EPS_MU[k]) < 0.1, `${sampler}: mean[${k}] = ${mean[k]}, want ${EPS_MU[k]}`);
          assert.ok(
            Math.abs(std[k] / Math.sqrt(EPS_V) - 1) < 0.25,
            `${sampler}: std[${k}] = ${std[k]}, want ${Math.sqrt(EPS_V)}`,
          );
          assert.ok(
            Math.abs(std[k] / (gain * res.schedule[0]) - 1) < 0.1,
            `${sampler}: std[${k}] = ${std[k]}, predicted ${gain * res.schedule[0]}`,
          );
        }
      } finally {
        await model.dispose();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Broken models: each is a ModelError that names the problem (and never a crash).

/** x [N,3], sigma [N] float32 → x·sigma-ish graph, with hooks to break it. */
function simpleGraph(
  o: {
    xName?: string;
    sigmaType?: 'float32' | 'int64' | 'scalar';
    xDims?: (number | string)[];
    extra?: string;
    body?: (g: GraphBuilder, x: string, s: string) => string;
    outputs?: number;
  } = {},
): Uint8Array {
  const g = new GraphBuilder('broken');
  const x = g.input(o.xName ?? 'x', 'float32', o.xDims ?? ['N', 3]);
  let s: string;
  if (o.sigmaType === 'int64') s = g.op('Cast', [g.input('sigma', 'int64', ['N'])], { to: 1 });
  else s = g.input('sigma', 'float32', o.sigmaType === 'scalar' ? [] : ['N']);
  if (o.extra) g.input(o.extra, 'int64', ['N']);
  const sCol = o.sigmaType === 'scalar' ? s : g.op('Unsqueeze', [s, g.ints([1])]);
  const out = o.body ? o.body(g, x, sCol) : g.op('Div', [x, g.op('Add', [g.const(1), g.op('Mul', [sCol, sCol])])]);
  g.output(out, 'out', 'float32', ['N', 3]);
  if ((o.outputs ?? 1) > 1) g.output(g.op('Identity', [x]), 'second', 'float32', ['N', 3]);
  return g.toBytes();
}

function plainManifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'plain', onnx: 'model.onnx', shape: [3], ...extra };
}

async function expectModelError(
  dir: string,
  message: RegExp,
  where: { file?: RegExp; key?: string | null } = {},
): Promise<ModelError> {
  let caught: ModelError | null = null;
  await assert.rejects(Model.load(dir, { device: 'cpu' }), (e: unknown) => {
    assert.ok(e instanceof ModelError, `expected a ModelError, got ${String(e)}`);
    assert.match(e.message, message);
    if (where.file) assert.match(e.file, where.file);
    if (where.key !== undefined) assert.equal(e.key, where.key);
    caught = e;
    return true;
  });
  return caught!;
}

describe('broken models fail with a ModelError', () => {
  test('the plain model used as the base of these cases is fine', async () => {
    const model = await Model.load(writeModel(plainManifest(), simpleGraph()), { device: 'cpu' });
    await model.dispose();
  });

  test('(a) model.json missing', async () => {
    const e = await expectModelError(
      writeModel(null, simpleGraph()),
      /is not a model directory: it has no model\.json \(a model directory holds a model\.json manifest/,
      { file: /model\.json$/, key: null },
    );
    assert.doesNotMatch(e.message, /\n\s+at /);
  });

  test('the model directory itself missing', async () => {
    await expectModelError(join(root, 'no-such-dir'), /no-such-dir: no such model directory/, { file: /no-such-dir$/ });
  });

  test('(b) model.json is not valid JSON', async () => {
    await expectModelError(
      writeModel('{"name": "x", "onnx": ', simpleGraph()),
      /model\.json: is not valid JSON \(.*\); fix the syntax/,
      { file: /model\.json$/ },
    );
    await expectModelError(
      writeModel('[1, 2]', simpleGraph()),
      /must hold a JSON object \(the model manifest\), got an array/,
      { file: /model\.json$/ },
    );
  });

  test('(c) a manifest input name the graph does not have lists the graph inputs', async () => {
    const dir = writeModel(plainManifest({ inputs: { x: 'image', sigma: 'sigma' } }), simpleGraph());
    await expectModelError(
      dir,
      /has no input named "image" \(.*"inputs\.x"\); the graph's inputs are: x, sigma\. Set "inputs\.x"/,
      { file: /model\.onnx$/, key: 'inputs.x' },
    );
    const cond = writeModel(plainManifest({ numClasses: 4, nullClass: 4 }), simpleGraph());
    await expectModelError(cond, /has no input named "class_labels".*inputs are: x, sigma/, {
      key: 'inputs.classLabels',
    });
  });

  test('(d) sigma declared int64 in the graph of a "denoised" model', async () => {
    await expectModelError(
      writeModel(plainManifest(), simpleGraph({ sigmaType: 'int64' })),
      /input "sigma" has dtype int64, expected float32/,
      { file: /model\.onnx$/, key: 'inputs.sigma' },
    );
  });

  test('(d2) a float timestep input in an "epsilon" model', async () => {
    const dir = writeModel(
      plainManifest({ output: 'epsilon', vp: VP, inputs: { x: 'x', sigma: 'sigma' } }),
      simpleGraph(),
    );
    await expectModelError(dir, /input "sigma" has dtype float32, expected int64 \(the DDPM timestep index\)/, {
      key: 'inputs.sigma',
    });
  });

  test('(e) manifest "shape" disagrees with the graph', async () => {
    await expectModelError(
      writeModel(plainManifest({ shape: [4] }), simpleGraph()),
      /input "x" has shape \[N, 3\] but "shape" in .*model\.json is \[4\]; make them agree/,
      { key: 'shape' },
    );
    await expectModelError(
      writeModel(plainManifest({ shape: [1, 3] }), simpleGraph()),
      /input "x" has rank 2 \[N, 3\], expected rank 3 \[N, 1, 3\]/,
      { key: 'inputs.x' },
    );
  });

  test('(f) the ONNX file is missing', async () => {
    await expectModelError(
      writeModel(plainManifest({ onnx: 'nope.onnx' }), simpleGraph()),
      /nope\.onnx: not found; "onnx" in .*model\.json must name the ONNX file/,
      { file: /nope\.onnx$/, key: 'onnx' },
    );
  });

  test('(g) a truncated or garbage ONNX file', async () => {
    const bytes = simpleGraph();
    await expectModelError(
      writeModel(plainManifest(), bytes.subarray(0, Math.floor(bytes.length * 0.6))),
      /ONNX Runtime cannot load this file .*complete, valid ONNX model/,
      { file: /model\.onnx$/, key: 'onnx' },
    );
    const garbage = Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24);
    await expectModelError(writeModel(plainManifest(), garbage), /ONNX Runtime cannot load this file/, { key: 'onnx' });
    await expectModelError(writeModel(plainManifest(), new Uint8Array(0)), /ONNX Runtime cannot load this file/, {
      key: 'onnx',
    });
  });

  test('(h) a model whose output is NaN', async () => {
    const nan = simpleGraph({ body: (g, x) => g.op('Add', [x, g.op('Log', [g.const(-1)])]) });
    await expectModelError(
      writeModel(plainManifest(), nan),
      /returned 6 NaN\/Inf values \(batch of 2, σ in \[0\.002000, 80\.00\]\)/,
      { file: /model\.onnx$/ },
    );
    const inf = simpleGraph({ body: (g, x, s) => g.op('Div', [x, g.op('Sub', [s, s])]) });
    await expectModelError(writeModel(plainManifest(), inf), /NaN\/Inf values/);
  });

  test('(i) output shape differs from x', async () => {
    const reduced = simpleGraph({ body: (g, x) => g.op('ReduceSum', [x, g.ints([1])], { keepdims: 1 }) });
    await expectModelError(
      writeModel(plainManifest(), reduced),
      /output "out" is float32 \[2, 1\], expected float32 \[2, 3\] \(same shape as x\)/,
      { key: 'outputName' },
    );
  });

  test('(j) a graph input the manifest does not name', async () => {
    await expectModelError(
      writeModel(plainManifest(), simpleGraph({ extra: 'class_labels' })),
      /has inputs the manifest does not name: class_labels \(a conditional model\? set "numClasses"/,
      { key: 'inputs' },
    );
  });

  test('(k) bad manifest field values', async () => {
    const cases: [Record<string, unknown>, RegExp, string][] = [
      [{ output: 'logits' }, /"output" must be "denoised" .* or "epsilon" .*got "logits"/, 'output'],
      [{ sigmaMax: -1 }, /"sigmaMax" must be ≥ 0, got -1/, 'sigmaMax'],
      [{ sigmaMin: 1, sigmaMax: 0.5 }, /"sigmaMax" must exceed sigmaMin > 0/, 'sigmaMax'],
      [{ numClasses: 3, nullClass: 1 }, /"nullClass" must not be one of the real classes 0\.\.2/, 'nullClass'],
      [{ nullClass: 0 }, /"nullClass" is set but numClasses is 0/, 'nullClass'],
      [{ numClasses: 2.5 }, /"numClasses" must be an integer, got 2\.5/, 'numClasses'],
      [{ classNames: ['a'] }, /"classNames" is set but numClasses is 0/, 'classNames'],
      [
        { numClasses: 3, nullClass: 3, classNames: ['a', 'b'] },
        /"classNames" must list 3 non-empty names, one per class 0\.\.2, got \["a","b"\]/,
        'classNames',
      ],
      [
        { numClasses: 2, nullClass: 2, classNames: ['a', ' '] },
        /"classNames" must list 2 non-empty names/,
        'classNames',
      ],
      [{ shape: [3, 0] }, /"shape" must be a list of positive integers/, 'shape'],
      [{ shape: 'three' }, /"shape" must be a list of positive integers/, 'shape'],
      [{ name: '' }, /"name" must be a non-empty string/, 'name'],
      [{ onnx: undefined }, /"onnx" is missing; it must be a string/, 'onnx'],
      [{ sigmaData: 0 }, /"sigmaData" must be positive, got 0/, 'sigmaData'],
      [{ inputs: 'x' }, /"inputs" must be an object/, 'inputs'],
      [{ inputs: { classLabels: 'c' } }, /"inputs\.classLabels" is set but numClasses is 0/, 'inputs.classLabels'],
      [{ vp: VP }, /"vp" is only meaningful for "output": "epsilon"/, 'vp'],
      [{ output: 'epsilon' }, /"vp" is required for an "epsilon" model/, 'vp'],
      [
        { output: 'epsilon', vp: { ...VP, betaEnd: 1e-5 } },
        /"vp\.betaEnd" must lie in \(betaStart, 1\), got 0\.00001/,
        'vp.betaEnd',
      ],
      [
        { output: 'epsilon', vp: { ...VP, schedule: 'cosine' } },
        /"vp\.schedule" must be "linear" or "scaled_linear", got "cosine"/,
        'vp.schedule',
      ],
      [{ features: { onnx: 'f.onnx', dim: 0 } }, /"features\.dim" must be ≥ 1, got 0/, 'features.dim'],
      [
        { output: 'epsilon', vp: VP, sigmaMin: 50, sigmaMax: 1 },
        /"sigmaMax" must exceed sigmaMin \(got sigmaMin 50, sigmaMax 1\)/,
        'sigmaMax',
      ],
    ];
    for (const [extra, re, key] of cases) {
      const e = await expectModelError(writeModel(plainManifest(extra), simpleGraph()), re, {
        file: /model\.json$/,
        key,
      });
      assert.ok(e.message.startsWith(e.file), `message names the file: ${e.message}`);
    }
  });

  test('more graph problems: outputs and a scalar sigma', async () => {
    await expectModelError(
      writeModel(plainManifest(), simpleGraph({ outputs: 2 })),
      /has 2 outputs \(out, second\); name the denoiser output with "outputName"/,
      { key: 'outputName' },
    );
    await expectModelError(
      writeModel(plainManifest({ outputName: 'denoised' }), simpleGraph()),
      /has no output "denoised"; its outputs are out/,
      { key: 'outputName' },
    );
    const ok = await Model.load(writeModel(plainManifest({ outputName: 'second' }), simpleGraph({ outputs: 2 })), {
      device: 'cpu',
    });
    assert.deepEqual(
      await ok.denoise(new Float32Array([1, 2, 3]), new Float32Array([5]), null),
      new Float32Array([1, 2, 3]),
    );
    await ok.dispose();
    // A rank-0 sigma passes the metadata checks (rank 0 reads as "unknown") but the probe catches it.
    await expectModelError(
      writeModel(plainManifest(), simpleGraph({ sigmaType: 'scalar' })),
      /ONNX Runtime failed on a batch of 2/,
      { file: /model\.onnx$/ },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Bundled models.

describe('bundled models', () => {
  const ids = readdirSync(BUNDLED).sort();

  test('the nine bundled models are there and load', async () => {
    assert.deepEqual(ids, BUNDLED_IDS);
    for (const id of ids) {
      const model = await Model.load(join(BUNDLED, id), { device: 'cpu' });
      assert.equal(model.name, id);
      assert.equal(model.manifest.output, 'denoised');
      assert.ok(model.backend.startsWith('onnxruntime-node/'));
      await model.dispose();
    }
  });

  for (const id of MIXTURE_IDS) {
    test(`${id}: denoise matches the float64 mixture reference`, async () => {
      const model = await Model.load(join(BUNDLED, id), { device: 'cpu' });
      try {
        const params = JSON.parse(readFileSync(join(model.dir, model.manifest.params!), 'utf8')) as GmmParams;
        assert.equal(params.kind, 'gmm');
        assert.equal(params.dim, model.dim);
        assert.equal(params.numClasses, model.numClasses);
        const d = model.dim;
        const K = model.numClasses;
        const r = rng(id.length * 1000 + d);
        const n = 60;
        const x = new Float32Array(n * d);
        const sigma = new Float32Array(n);
        const labels = K > 0 ? new BigInt64Array(n) : null;
        for (let i = 0; i < n; i++) {
          // Fixed end points plus log-uniform σ in [σ_min, σ_max].
          sigma[i] =
            i === 0
              ? model.sigmaMin
              : i === 1
                ? model.sigmaMax
                : Math.exp(Math.log(model.sigmaMin) + r.uniform() * Math.log(model.sigmaMax / model.sigmaMin));
          if (labels) labels[i] = BigInt(i % (K + 1)); // every class and the null class
          const mu = params.means[Math.floor(r.uniform() * params.means.length)];
          for (let k = 0; k < d; k++) x[i * d + k] = mu[k] + 0.3 * r.normal() + sigma[i] * r.normal();
        }
        const y = await model.denoise(x, sigma, labels);
        let worst = 0;
        let where = '';
        for (let i = 0; i < n; i++) {
          const ref = gmmDenoise64(params, x.subarray(i * d, (i + 1) * d), sigma[i], labels ? Number(labels[i]) : null);
          for (let k = 0; k < d; k++) {
            // float32 inside the graph: relative to the output's size, absolute below 1.
            const err = Math.abs(y[i * d + k] - ref[k]) / Math.max(1, Math.abs(ref[k]));
            if (err > worst) {
              worst = err;
              where = `row ${i} (σ=${sigma[i]}, label ${labels?.[i] ?? '-'}) coord ${k}: ${y[i * d + k]} vs ${ref[k]}`;
            }
          }
        }
        assert.ok(worst < 1e-4, `max error ${worst} at ${where}`);
      } finally {
        await model.dispose();
      }
    });
  }
});
