// Generates the bundled benchmark models under resources/models/ (run: npm run models:generate).
// Deterministic: fixed seeds, so re-running reproduces the committed files byte for byte.
//
//   gmm-ring8        2-D, 8 classes on a ring; an exact but deliberately imperfect model: each
//                    class's conditional denoiser is that of a component too wide by a per-class
//                    factor (1.0 … 2.5), and the unconditional one that of a much wider mixture
//                    (a "bad version of itself", as in autoguidance). Guidance then helps, and
//                    the best guidance depends on the noise level and the class.
//   gmm-ring8-exact  the same data with exact conditional and unconditional denoisers.
//   gmm64            64-D, 10 classes, imperfect in the same way; exercises scale.
//   swissroll        the exact ("empirical") denoiser of 2,000 points of a Swiss roll.
//   gmm1d-a          the q-learning paper's 1-D benchmark (its §6.2): two Gaussians, N(−2, 0.8²) and
//                    N(2, 0.8²) with equal weights, and the exact denoiser ("model A"); its reward,
//                    bump:x=6,width=1, prefers samples near 6, in the right tail.
//   gmm1d-b          the same data with a weak model ("model B"): components 1.6× too wide, means
//                    0.4 nearer each other, weights 0.65 / 0.35.
//   swissroll-a      the q-learning paper's Swiss-roll benchmark (its §6.3–6.4), "pretrained model A":
//                    a good model, the exact denoiser of a kernel density estimate (2,000 other points
//                    of the same roll, bandwidth 0.05, the roll's own noise); its data are 2,000 fresh
//                    points. The paper's reward is 1 inside a rectangle (params.json: benchmark).
//   swissroll-b      the same data and reward, "pretrained model B": a weak model, the kernel density
//                    estimate of only 500 points with 2.4× the bandwidth (0.12): blurred and patchy, as
//                    an under-trained score network is (the paper's B ran 30,000 of A's 50,000
//                    episodes). With Euler–Maruyama in 50 steps, the k-NN KL of 300 samples to the
//                    data is 0.07 for A and 0.64 for B (the paper's A and B: 0.17 and 0.68).
//
// Each directory: model.json, denoiser.onnx, data.npy (+ labels.npy), params.json (the mixture,
// machine-readable) and features.onnx (a fixed random-Fourier-feature map for metrics).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../src/main/engine/io/atomic';
import { encodeNpy, npyFloat32, npyInt64 } from '../src/main/engine/io/npy';
import { Stream } from '../src/main/engine/samplers/random';
import { gmmDenoiserGraph, rffGraph, type GmmParams } from './lib/gmm';

const ROOT = join(import.meta.dirname, '..', 'resources', 'models');

interface Truth {
  means: number[][];
  /** Per-component standard deviation of the true data. */
  stds: number[];
}

function sampleData(truth: Truth, perClass: number, rng: Stream): { x: Float32Array; labels: BigInt64Array } {
  const K = truth.means.length;
  const d = truth.means[0]!.length;
  const x = new Float32Array(K * perClass * d);
  const labels = new BigInt64Array(K * perClass);
  let r = 0;
  for (let i = 0; i < perClass; i++) {
    for (let k = 0; k < K; k++, r++) {
      labels[r] = BigInt(k);
      for (let j = 0; j < d; j++) x[r * d + j] = truth.means[k]![j]! + truth.stds[k]! * rng.normal();
    }
  }
  return { x, labels };
}

/** Labelled mixture: class c → its own component with std stds[c]·widen[c]; null → all, std uncondStd. */
function labelledParams(truth: Truth, widen: number[], uncondStd: number[] | null): GmmParams {
  const K = truth.means.length;
  const d = truth.means[0]!.length;
  const logWeights: number[][] = [];
  const variances: number[][] = [];
  for (let c = 0; c < K; c++) {
    logWeights.push(truth.means.map((_, k) => (k === c ? 0 : -1e30)));
    variances.push(truth.stds.map((s, k) => (k === c ? (s * widen[c]!) ** 2 : 1)));
  }
  logWeights.push(truth.means.map(() => Math.log(1 / K)));
  variances.push(truth.stds.map((s, k) => (uncondStd ? uncondStd[k]! : s) ** 2));
  return { kind: 'gmm', dim: d, means: truth.means, numClasses: K, logWeights, variances };
}

function rff(d: number, m: number, lengthscale: number, rng: Stream): { W: number[][]; b: number[] } {
  const W = Array.from({ length: d }, () => Array.from({ length: m }, () => rng.normal() / lengthscale));
  const b = Array.from({ length: m }, () => rng.uniform() * 2 * Math.PI);
  return { W, b };
}

interface ModelSpec {
  id: string;
  description: string;
  params: GmmParams;
  data: Float32Array;
  labels: BigInt64Array | null;
  sigmaData: number;
  rffLengthscale: number;
  extra: Record<string, unknown>;
}

function write(spec: ModelSpec, seed: number): void {
  const dir = join(ROOT, spec.id);
  mkdirSync(dir, { recursive: true });
  const d = spec.params.dim;
  const K = spec.params.numClasses;
  writeFileAtomicSync(join(dir, 'denoiser.onnx'), gmmDenoiserGraph(spec.params, spec.id));
  const f = rff(d, 64, spec.rffLengthscale, new Stream(seed, 999));
  writeFileAtomicSync(join(dir, 'features.onnx'), rffGraph(f.W, f.b, `${spec.id}-rff`));
  const n = spec.data.length / d;
  writeFileAtomicSync(join(dir, 'data.npy'), encodeNpy(npyFloat32([n, d], spec.data)));
  if (spec.labels) writeFileAtomicSync(join(dir, 'labels.npy'), encodeNpy(npyInt64([n], spec.labels)));
  writeFileAtomicSync(
    join(dir, 'params.json'),
    JSON.stringify({ ...spec.params, ...spec.extra, rff: { lengthscale: spec.rffLengthscale, seed } }, null, 1) + '\n',
  );
  const manifest = {
    name: spec.id,
    description: spec.description,
    onnx: 'denoiser.onnx',
    output: 'denoised',
    shape: [d],
    numClasses: K,
    ...(K > 0 ? { nullClass: K } : {}),
    sigmaMin: 0.002,
    sigmaMax: 80,
    sigmaData: spec.sigmaData,
    inputs: K > 0 ? { x: 'x', sigma: 'sigma', classLabels: 'class_labels' } : { x: 'x', sigma: 'sigma' },
    data: 'data.npy',
    ...(spec.labels ? { dataLabels: 'labels.npy' } : {}),
    params: 'params.json',
    features: { onnx: 'features.onnx', input: 'x', output: 'features', dim: 64 },
  };
  writeFileAtomicSync(join(dir, 'model.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.log(`${spec.id}: ${n} data points, d=${d}, ${K} classes → ${dir}`);
}

function ring8(): Truth {
  const R = 2;
  return {
    means: Array.from({ length: 8 }, (_, k) => [
      R * Math.cos((2 * Math.PI * k) / 8),
      R * Math.sin((2 * Math.PI * k) / 8),
    ]),
    stds: Array(8).fill(0.2),
  };
}

export function main(): void {
  // gmm-ring8 and gmm-ring8-exact share their data.
  const ring = ring8();
  const ringData = sampleData(ring, 1000, new Stream(1, 0));
  const widen = [1.0, 2.5, 1.25, 2.0, 1.0, 1.75, 1.5, 2.25];
  const uncond = Array(8).fill(0.6);
  write(
    {
      id: 'gmm-ring8',
      description:
        '8 Gaussians on a ring (one per class); imperfect denoiser: classes too wide by 1.0–2.5×, unconditional much wider',
      params: labelledParams(ring, widen, uncond),
      data: ringData.x,
      labels: ringData.labels,
      sigmaData: 1.43,
      rffLengthscale: 0.5,
      extra: { truth: ring, widen, uncondStd: uncond },
    },
    1,
  );
  write(
    {
      id: 'gmm-ring8-exact',
      description: '8 Gaussians on a ring (one per class); exact conditional and unconditional denoisers',
      params: labelledParams(ring, Array(8).fill(1), null),
      data: ringData.x,
      labels: ringData.labels,
      sigmaData: 1.43,
      rffLengthscale: 0.5,
      extra: { truth: ring, widen: Array(8).fill(1), uncondStd: null },
    },
    1,
  );

  // gmm64: 10 classes in 64-D.
  const r64 = new Stream(2, 0);
  const t64: Truth = {
    means: Array.from({ length: 10 }, () => Array.from({ length: 64 }, () => r64.normal())),
    stds: Array(10).fill(0.5),
  };
  const d64 = sampleData(t64, 500, new Stream(2, 1));
  const widen64 = [1.0, 1.6, 1.2, 1.4, 1.0, 1.5, 1.1, 1.3, 1.6, 1.2];
  write(
    {
      id: 'gmm64',
      description: '10 Gaussians in 64-D (one per class); imperfect denoiser like gmm-ring8',
      params: labelledParams(t64, widen64, Array(10).fill(1.5)),
      data: d64.x,
      labels: d64.labels,
      sigmaData: 1.1,
      rffLengthscale: 6,
      extra: { truth: t64, widen: widen64, uncondStd: Array(10).fill(1.5) },
    },
    2,
  );

  // gmm1d-a, gmm1d-b: the q-learning paper's 1-D benchmark.
  const t1: Truth = { means: [[-2], [2]], stds: [0.8, 0.8] };
  const d1 = sampleData(t1, 1000, new Stream(5, 0));
  const mixture = (means: number[], stds: number[], weights: number[]): GmmParams => ({
    kind: 'gmm',
    dim: 1,
    means: means.map((m) => [m]),
    numClasses: 0,
    logWeights: [weights.map(Math.log)],
    variances: [stds.map((v) => v * v)],
  });
  const bench1d = { reward: 'bump:x=6,width=1' };
  for (const [id, description, params] of [
    [
      'gmm1d-a',
      `1-D, two Gaussians N(−2, 0.8²) and N(2, 0.8²), exact denoiser (the q-learning paper’s 1-D benchmark, a good model); reward ${bench1d.reward}`,
      mixture([-2, 2], [0.8, 0.8], [0.5, 0.5]),
    ],
    [
      'gmm1d-b',
      `1-D, the same data with a weak model: components 1.6× too wide, means at ±1.6, weights 0.65 / 0.35; reward ${bench1d.reward}`,
      mixture([-1.6, 1.6], [1.28, 1.28], [0.65, 0.35]),
    ],
  ] as const)
    write(
      {
        id,
        description,
        params,
        data: d1.x,
        labels: null,
        sigmaData: 2.15,
        rffLengthscale: 0.5,
        extra: { truth: t1, benchmark: bench1d },
      },
      5,
    );

  // swissroll: exact denoiser of a finite point set.
  const M = 2000;
  const pts = swissRoll(M, new Stream(3, 0));
  const means = Array.from({ length: M }, (_, i) => [pts[2 * i]!, pts[2 * i + 1]!]);
  write(
    {
      id: 'swissroll',
      description: 'Empirical model: the exact denoiser of 2,000 Swiss-roll points (it reproduces its data)',
      params: {
        kind: 'gmm',
        dim: 2,
        means,
        numClasses: 0,
        logWeights: [means.map(() => Math.log(1 / M))],
        variances: [means.map(() => 0)],
      },
      data: pts,
      labels: null,
      sigmaData: 1.5,
      rffLengthscale: 0.3,
      extra: {},
    },
    3,
  );

  // swissroll-a, swissroll-b: the q-learning benchmark. Three independent draws of the roll: the
  // data, model A's kernel centres and model B's.
  const data = swissRoll(2000, new Stream(4, 0));
  const kde = (count: number, bandwidth: number, rng: Stream): GmmParams => {
    const c = swissRoll(count, rng);
    const mu = Array.from({ length: count }, (_, i) => [c[2 * i]!, c[2 * i + 1]!]);
    return {
      kind: 'gmm',
      dim: 2,
      means: mu,
      numClasses: 0,
      logWeights: [mu.map(() => Math.log(1 / count))],
      variances: [mu.map(() => bandwidth * bandwidth)],
    };
  };
  const benchmark = { reward: `box:x0=${SWISS_BOX.x0},x1=${SWISS_BOX.x1},y0=${SWISS_BOX.y0},y1=${SWISS_BOX.y1}` };
  const models: [string, string, GmmParams][] = [
    [
      'swissroll-a',
      `Swiss roll, good model (the q-learning paper’s pretrained model A): kernel density estimate of 2,000 points, bandwidth 0.05; reward ${benchmark.reward}`,
      kde(2000, 0.05, new Stream(4, 1)),
    ],
    [
      'swissroll-b',
      `Swiss roll, weak model (the q-learning paper’s pretrained model B): kernel density estimate of 500 points, bandwidth 0.12; reward ${benchmark.reward}`,
      kde(500, 0.12, new Stream(4, 2)),
    ],
  ];
  for (const [id, description, params] of models)
    write(
      {
        id,
        description,
        params,
        data,
        labels: null,
        sigmaData: 1.5,
        rffLengthscale: 0.3,
        extra: { benchmark },
      },
      4,
    );
}

/**
 * The q-learning benchmark's rectangle (its reward: 1 inside, 0 outside): the roll's right side above
 * y = −1. The data has 49% of its points inside, about what the paper's pretrained models scored
 * (reward 0.52 and 0.55), so a policy has both halves of the roll to move.
 */
const SWISS_BOX = { x0: 0, x1: 4, y0: -1, y1: 4 };

/** `n` points of the Swiss roll of `swissroll` (t ∈ [1.5π, 4.5π], scaled by 1/4.5, noise 0.05). */
function swissRoll(n: number, rng: Stream): Float32Array {
  const pts = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const t = 1.5 * Math.PI * (1 + 2 * rng.uniform());
    pts[2 * i] = (t * Math.cos(t)) / 4.5 + 0.05 * rng.normal();
    pts[2 * i + 1] = (t * Math.sin(t)) / 4.5 + 0.05 * rng.normal();
  }
  return pts;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) main();
