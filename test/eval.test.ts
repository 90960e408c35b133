// The evaluation path end to end: feature extractors from a manifest (including stated
// preprocessing), wrong extractors, cached reference statistics, and the metric commands.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../src/main/engine/onnx/graph';
import { loadFeatureExtractor } from '../src/main/engine/metrics/features';
import { referenceFor } from '../src/main/engine/metrics/evaluate';
import { Model } from '../src/main/engine/models/model';
import { ModelError, type FeatureSpec } from '../src/main/engine/models/manifest';
import { resourcesDir } from '../src/main/engine/models/registry';
import { encodeNpy, npyFloat32 } from '../src/main/engine/io/npy';
import { cli, lastJson } from './helpers/cli';
import { Stream } from '../src/main/engine/samplers/random';

const tmp = mkdtempSync(join(tmpdir(), 'ss-eval-'));
process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
after(() => rmSync(tmp, { recursive: true, force: true }));

function spec(extra: Partial<FeatureSpec> = {}): FeatureSpec {
  return {
    onnx: 'f.onnx',
    input: 'img',
    output: 'features',
    dim: 4,
    logits: null,
    inputShape: null,
    resize: null,
    sampleRange: [-1, 1],
    inputRange: [-1, 1],
    ...extra,
  };
}

/** An extractor over [N,1,H,W] images: features = mean of each quadrant row-band… simply Flatten → MatMul W → Tanh; logits = MatMul V. */
function extractorGraph(
  h: number,
  w: number,
  dim: number,
  k: number,
  seed = 0,
): { bytes: Uint8Array; W: Float32Array; V: Float32Array } {
  const s = new Stream(seed, 0);
  const D = h * w;
  const W = Float32Array.from({ length: D * dim }, () => s.normal() / Math.sqrt(D));
  const V = Float32Array.from({ length: dim * k }, () => s.normal());
  const g = new GraphBuilder('extractor');
  const x = g.input('img', 'float32', ['N', 1, h, w]);
  const flat = g.op('Flatten', [x], { axis: 1 });
  const f = g.op('Tanh', [g.op('MatMul', [flat, g.tensor('W', W, [D, dim])])]);
  g.output(f, 'features', 'float32', ['N', dim]);
  g.output(g.op('MatMul', [f, g.tensor('V', V, [dim, k])]), 'logits', 'float32', ['N', k]);
  return { bytes: g.toBytes(), W, V };
}

/** PyTorch F.interpolate(mode='bilinear', align_corners=False) for one channel, float64. */
function bilinearRef(img: Float64Array, h: number, w: number, th: number, tw: number): Float64Array {
  const out = new Float64Array(th * tw);
  const sy = h / th;
  const sx = w / tw;
  for (let i = 0; i < th; i++) {
    const y = Math.max(0, (i + 0.5) * sy - 0.5);
    const y0 = Math.min(Math.floor(y), h - 1);
    const y1 = Math.min(y0 + 1, h - 1);
    const ly = y - y0;
    for (let j = 0; j < tw; j++) {
      const x = Math.max(0, (j + 0.5) * sx - 0.5);
      const x0 = Math.min(Math.floor(x), w - 1);
      const x1 = Math.min(x0 + 1, w - 1);
      const lx = x - x0;
      out[i * tw + j] =
        (1 - ly) * ((1 - lx) * img[y0 * w + x0]! + lx * img[y0 * w + x1]!) +
        ly * ((1 - lx) * img[y1 * w + x0]! + lx * img[y1 * w + x1]!);
    }
  }
  return out;
}

test('an extractor from the manifest: features, logits, and stated resize + range mapping match a plain reference', async () => {
  const dir = join(tmp, 'ex1');
  mkdirSync(dir);
  const { bytes, W } = extractorGraph(16, 16, 4, 3);
  writeFileSync(join(dir, 'f.onnx'), bytes);
  // Samples are 1×8×8 in [-1, 1]; the extractor wants 1×16×16 in [0, 1], bilinear.
  const ex = await loadFeatureExtractor(
    spec({ logits: 'logits', inputShape: [1, 16, 16], resize: 'bilinear', inputRange: [0, 1] }),
    dir,
    [1, 8, 8],
  );
  const n = 5;
  const s = new Stream(3, 0);
  const x = Float32Array.from({ length: n * 64 }, () => Math.tanh(s.normal()));
  const res = await ex.extract(x, n, { batch: 2 });
  assert.equal(res.dim, 4);
  assert.equal(res.logits?.length, n * 3);
  for (let i = 0; i < n; i++) {
    const img = Float64Array.from(x.subarray(i * 64, (i + 1) * 64), (v) => (v + 1) / 2);
    const up = bilinearRef(img, 8, 8, 16, 16);
    for (let k = 0; k < 4; k++) {
      let a = 0;
      for (let p = 0; p < 256; p++) a += up[p]! * W[p * 4 + k]!;
      assert.ok(
        Math.abs(Math.tanh(a) - res.features[i * 4 + k]!) < 1e-5,
        `sample ${i} feature ${k}: ${res.features[i * 4 + k]} vs ${Math.tanh(a)}`,
      );
    }
  }
  await ex.dispose();
});

test('a wrong extractor is a clear error', async () => {
  const dir = join(tmp, 'ex2');
  mkdirSync(dir);
  writeFileSync(join(dir, 'f.onnx'), extractorGraph(8, 8, 4, 3).bytes);
  const cases: [Partial<FeatureSpec>, number[], RegExp, string][] = [
    [{ input: 'x' }, [1, 8, 8], /has no input "x" \(features\.input\); its inputs are img/, 'features.input'],
    [
      { output: 'feats' },
      [1, 8, 8],
      /has no output "feats" \(features\.output\); its outputs are features, logits/,
      'features.output',
    ],
    [{ logits: 'probs' }, [1, 8, 8], /has no output "probs" \(features\.logits\)/, 'features.logits'],
    [
      {},
      [1, 6, 6],
      /input "img" has shape \[N, 1, 8, 8\] but receives \[N, 1, 6, 6\].*set features\.inputShape and features\.resize/,
      'features.inputShape',
    ],
    [
      { dim: 7 },
      [1, 8, 8],
      /output "features" is float32 \[2, 4\], expected float32 \[2, 7\] \(features\.dim\)/,
      'features.dim',
    ],
    [
      { inputShape: [1, 8, 8] },
      [1, 4, 4],
      /samples are 4×4 but the extractor expects 8×8: set features\.resize/,
      'features',
    ],
    [{ onnx: 'missing.onnx' }, [1, 8, 8], /feature extractor not found/, 'features.onnx'],
  ];
  for (const [extra, shape, re, key] of cases) {
    await assert.rejects(loadFeatureExtractor(spec(extra), dir, shape), (e: unknown) => {
      assert.ok(e instanceof ModelError, `${String(e)}`);
      assert.match(e.message, re);
      assert.equal(e.key, key);
      return true;
    });
  }
});

test('reference statistics are cached per data set and recomputed when the data changes', async () => {
  const dir = join(tmp, 'ring');
  cpSync(join(resourcesDir(), 'models', 'gmm-ring8-exact'), dir, { recursive: true });
  const model = await Model.load(dir);
  const { extractorForModel } = await import('../src/main/engine/metrics/features');
  const ex = await extractorForModel(model);
  const a = await referenceFor(model, ex);
  const b = await referenceFor(model, ex);
  assert.equal(a.source, 'computed');
  assert.equal(b.source, 'cache');
  assert.deepEqual(b.stats.mu, a.stats.mu);
  assert.deepEqual(b.stats.sigma, a.stats.sigma);
  assert.equal(b.stats.n, 8000);
  assert.equal(a.labels?.length, 8000);
  // New data (first half only) → a new key, new statistics.
  writeFileSync(
    join(dir, 'data.npy'),
    encodeNpy(
      npyFloat32(
        [4000, 2],
        Float32Array.from({ length: 8000 }, (_, i) => Math.sin(i)),
      ),
    ),
  );
  const { writeNpy, npyInt64 } = await import('../src/main/engine/io/npy');
  await writeNpy(
    join(dir, 'labels.npy'),
    npyInt64(
      [4000],
      BigInt64Array.from({ length: 4000 }, (_, i) => BigInt(i % 8)),
    ),
  );
  const c = await referenceFor(model, ex);
  assert.equal(c.source, 'computed');
  assert.equal(c.stats.n, 4000);
  await ex.dispose();
  await model.dispose();
});

const last = lastJson;

test('eval scores samples against the data with counts, and classes on the benchmark', async () => {
  const r = await cli(
    'eval',
    '--model',
    'gmm-ring8',
    '--n',
    '1500',
    '--guidance',
    '2',
    '--metrics',
    'fid,kid,precision,recall,density,coverage,classes',
    '--kid-subsets',
    '20',
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const res = last(r.stdout) as {
    summary: Record<string, number>;
    nReal: number;
    nFake: number;
    nfePerSample: number;
    denoiserEvaluations: number;
    flags: string[];
    classes: { method: string; conditionalAccuracy: number };
  };
  assert.equal(res.nReal, 8000);
  assert.equal(res.nFake, 1500);
  assert.equal(res.nfePerSample, 35);
  assert.equal(res.denoiserEvaluations, 1500 * 35);
  for (const k of ['fid', 'kid', 'precision', 'recall', 'density', 'coverage', 'class_tv', 'class_accuracy'])
    assert.ok(Number.isFinite(res.summary[k]), k);
  assert.equal(res.classes.method, 'nearest-component');
  assert.ok(res.classes.conditionalAccuracy > 0.9);
  assert.ok(
    res.flags.some((f) => /1500 samples < 2,048/.test(f)),
    'small n flagged',
  );
  assert.ok(
    res.flags.includes(
      'recall and coverage: 1500 samples against 8000 data points: both fall with fewer samples, whatever their quality; compare only at equal n',
    ),
    res.flags.join(' | '),
  );
  // Unknown metric, unconditional classes: clear errors.
  const bad = await cli('eval', '--model', 'gmm-ring8', '--metrics', 'fid,is');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown metric "is"/);
  const noClasses = await cli('eval', '--model', 'swissroll', '--n', '200', '--metrics', 'classes');
  assert.equal(noClasses.code, 2);
  assert.match(noClasses.stderr, /unconditional: it has no classes/);
  // --class-target: the histogram's total variation to the shares given, by hand from the histogram.
  const target = [0.3, 0.3, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05];
  const file = join(tmp, 'target.json');
  writeFileSync(file, JSON.stringify(target));
  const t = await cli(
    'eval',
    '--model',
    'gmm-ring8',
    '--n',
    '400',
    '--metrics',
    'classes',
    '--class-target',
    file,
    '--json',
  );
  assert.equal(t.code, 0, t.stderr);
  const tr = last(t.stdout) as { summary: Record<string, number>; classes: { histogram: { freqs: number[] } } };
  const tv = 0.5 * tr.classes.histogram.freqs.reduce((a, f, c) => a + Math.abs(f - target[c]!), 0);
  assert.ok(Math.abs(tr.summary['class_tv']! - tv) < 1e-12, `${tr.summary['class_tv']} vs ${tv}`);
  writeFileSync(file, JSON.stringify([0.5, 0.5]));
  const wrong = await cli('eval', '--model', 'gmm-ring8', '--n', '400', '--metrics', 'classes', '--class-target', file);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /has 2 shares; this model has 8 classes/);
  const noMetric = await cli('eval', '--model', 'gmm-ring8', '--n', '400', '--class-target', file);
  assert.equal(noMetric.code, 2);
  assert.match(noMetric.stderr, /add classes to --metrics/);
});

test('fid / kid / prdc / features commands; .npz statistics give the same FID as the features', async () => {
  const s = new Stream(8, 0);
  const n = 600;
  const d = 5;
  const A = Float32Array.from({ length: n * d }, () => s.normal());
  const B = Float32Array.from({ length: n * d }, () => s.normal() * 1.2 + 0.1);
  writeFileSync(join(tmp, 'A.npy'), encodeNpy(npyFloat32([n, d], A)));
  writeFileSync(join(tmp, 'B.npy'), encodeNpy(npyFloat32([n, d], B)));
  const f1 = await cli(
    'fid',
    '--a',
    join(tmp, 'A.npy'),
    '--b',
    join(tmp, 'B.npy'),
    '--save-a',
    join(tmp, 'A.npz'),
    '--json',
  );
  assert.equal(f1.code, 0, f1.stderr);
  const f2 = await cli('fid', '--a', join(tmp, 'A.npz'), '--b', join(tmp, 'B.npy'), '--json');
  assert.equal(f2.code, 0, f2.stderr);
  const v1 = last(f1.stdout) as { fid: number; nReal: number; flags: string[] };
  const v2 = last(f2.stdout) as { fid: number; nReal: number };
  assert.ok(Math.abs(v1.fid - v2.fid) < 1e-9, `${v1.fid} vs ${v2.fid}`);
  assert.equal(v2.nReal, n, 'the sample count travels in the .npz');
  assert.ok(v1.flags.some((f) => /600 samples < 2,048/.test(f)));

  const k = await cli(
    'kid',
    '--real',
    join(tmp, 'A.npy'),
    '--fake',
    join(tmp, 'B.npy'),
    '--subsets',
    '10',
    '--subset-size',
    '100',
    '--json',
  );
  assert.equal(k.code, 0, k.stderr);
  assert.equal((last(k.stdout) as { subsets: number }).subsets, 10);
  const p = await cli('prdc', '--real', join(tmp, 'A.npy'), '--fake', join(tmp, 'B.npy'), '--json');
  assert.equal(p.code, 0, p.stderr);
  const pr = last(p.stdout) as { precision: number; recall: number; kPR: number; nReal: number };
  assert.equal(pr.kPR, 3);
  assert.equal(pr.nReal, n);
  assert.ok(pr.precision > 0 && pr.precision <= 1 && pr.recall > 0 && pr.recall <= 1);

  // features: ring samples through the model's RFF map.
  const ring = Float32Array.from({ length: 20 }, (_, i) => Math.cos(i));
  writeFileSync(join(tmp, 'ring.npy'), encodeNpy(npyFloat32([10, 2], ring)));
  const fe = await cli(
    'features',
    '--model',
    'gmm-ring8',
    '--in',
    join(tmp, 'ring.npy'),
    '--out',
    join(tmp, 'ringf.npy'),
    '--json',
  );
  assert.equal(fe.code, 0, fe.stderr);
  assert.deepEqual((last(fe.stdout) as { n: number; dim: number }).dim, 64);

  // Errors: mismatched dimensions, wrong-shaped features file.
  writeFileSync(
    join(tmp, 'C.npy'),
    encodeNpy(
      npyFloat32(
        [n, 3],
        Float32Array.from({ length: n * 3 }, () => s.normal()),
      ),
    ),
  );
  const mism = await cli('fid', '--a', join(tmp, 'A.npy'), '--b', join(tmp, 'C.npy'));
  assert.equal(mism.code, 2);
  assert.match(mism.stderr, /5-dimensional, generated ones 3-dimensional/);
  writeFileSync(join(tmp, 'D.npy'), encodeNpy(npyFloat32([n], Float32Array.from({ length: n }))));
  const flat = await cli('prdc', '--real', join(tmp, 'D.npy'), '--fake', join(tmp, 'A.npy'));
  assert.equal(flat.code, 2);
  assert.match(flat.stderr, /features must have shape \[n, d\]/);
});

test('a custom image model directory with its own extractor (resize, logits) runs eval end to end', async () => {
  const dir = join(tmp, 'img-model');
  mkdirSync(dir);
  // Data ~ N(μ, v I) on 1×8×8 images, and its exact denoiser D(x;σ) = (v·x + σ²·μ)/(v + σ²).
  const D = 64;
  const v = 0.09;
  const mu = Float32Array.from({ length: D }, (_, i) => 0.5 * Math.sin(i / 3));
  const g = new GraphBuilder('gauss-img');
  const x = g.input('x', 'float32', ['N', 1, 8, 8]);
  const sigma = g.input('sigma', 'float32', ['N']);
  const s2 = g.op('Reshape', [g.op('Mul', [sigma, sigma]), g.ints([-1, 1, 1, 1])]);
  const num = g.op('Add', [g.op('Mul', [x, g.const(v)]), g.op('Mul', [s2, g.const(Array.from(mu), [1, 1, 8, 8])])]);
  g.output(g.op('Div', [num, g.op('Add', [s2, g.const(v)])]), 'denoised', 'float32', ['N', 1, 8, 8]);
  writeFileSync(join(dir, 'denoiser.onnx'), g.toBytes());
  writeFileSync(join(dir, 'f.onnx'), extractorGraph(16, 16, 6, 3, 5).bytes);
  const s = new Stream(4, 0);
  const m = 800;
  writeFileSync(
    join(dir, 'data.npy'),
    encodeNpy(
      npyFloat32(
        [m, 1, 8, 8],
        Float32Array.from({ length: m * D }, (_, i) => mu[i % D]! + Math.sqrt(v) * s.normal()),
      ),
    ),
  );
  writeFileSync(
    join(dir, 'model.json'),
    JSON.stringify({
      name: 'gauss-img',
      onnx: 'denoiser.onnx',
      shape: [1, 8, 8],
      sigmaMin: 0.002,
      sigmaMax: 20,
      data: 'data.npy',
      features: {
        onnx: 'f.onnx',
        input: 'img',
        output: 'features',
        logits: 'logits',
        dim: 6,
        inputShape: [1, 16, 16],
        resize: 'bilinear',
        inputRange: [0, 1],
      },
    }),
  );
  const r = await cli(
    'eval',
    '--model',
    dir,
    '--n',
    '400',
    '--steps',
    '32',
    '--metrics',
    'fid,kid,precision,recall',
    '--kid-subsets',
    '10',
    '--kid-subset-size',
    '200',
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const res = last(r.stdout) as { summary: Record<string, number>; extractor: string; nReal: number };
  assert.match(res.extractor, /f\.onnx$/);
  assert.equal(res.nReal, m);
  // An exact denoiser with enough steps reproduces the data: metrics near their ideal values.
  assert.ok(res.summary['fid']! < 0.05, `FID ${res.summary['fid']}`);
  assert.ok(res.summary['precision']! > 0.8 && res.summary['recall']! > 0.8, JSON.stringify(res.summary));
  // The features command writes logits when asked; a broken extractor in the manifest is reported.
  const fe = await cli(
    'features',
    '--model',
    dir,
    '--in',
    join(dir, 'data.npy'),
    '--out',
    join(tmp, 'img-f.npy'),
    '--logits',
    join(tmp, 'img-l.npy'),
    '--json',
  );
  assert.equal(fe.code, 0, fe.stderr);
  assert.equal((last(fe.stdout) as { logits: string | null }).logits, join(tmp, 'img-l.npy'));
  const manifest = JSON.parse((await import('node:fs')).readFileSync(join(dir, 'model.json'), 'utf8')) as {
    features: Record<string, unknown>;
  };
  manifest.features['input'] = 'pixels';
  writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
  const broken = await cli('eval', '--model', dir, '--n', '50', '--metrics', 'fid');
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /has no input "pixels" \(features\.input\); its inputs are img/);
});

test('per-class scores: the data scored against itself is perfect per class; swapped labels are not', async () => {
  const { evaluatePerClass } = await import('../src/main/engine/metrics/evaluate');
  const { extractorForModel } = await import('../src/main/engine/metrics/features');
  const { readNpy, toFloat32 } = await import('../src/main/engine/io/npy');
  const dir = join(resourcesDir(), 'models', 'gmm-ring8');
  const model = await Model.load(dir);
  const ex = await extractorForModel(model);
  try {
    const ref = await referenceFor(model, ex);
    const data = toFloat32(await readNpy(join(dir, 'data.npy')));
    const n = data.length / 2;
    const labels = ref.labels!;
    const same = await evaluatePerClass(
      { model, extractor: ex, reference: ref, samples: data, n, conditioning: labels },
      ['fid', 'precision', 'recall'],
    );
    assert.equal(same.length, 8);
    for (const c of same) {
      assert.equal(c.nFake, c.nReal);
      assert.ok(
        Math.abs(c.summary['fid']!) < 1e-6,
        `class ${c.label}: FID of the data against itself is ${c.summary['fid']}`,
      );
      assert.equal(c.summary['precision'], 1);
      assert.equal(c.summary['recall'], 1);
    }
    // Samples of class c labelled c + 1: every class is scored against the wrong component.
    const shifted = Int32Array.from(labels, (l) => (l + 1) % 8);
    const wrong = await evaluatePerClass(
      { model, extractor: ex, reference: ref, samples: data, n, conditioning: shifted },
      ['fid', 'precision', 'recall'],
    );
    for (const c of wrong) {
      assert.ok(c.summary['fid']! > 1, `class ${c.label}: FID ${c.summary['fid']}`);
      assert.ok(c.summary['precision']! < 0.1);
    }
    await assert.rejects(
      evaluatePerClass(
        { model, extractor: ex, reference: { ...ref, labels: null }, samples: data, n, conditioning: labels },
        ['fid'],
      ),
      /no class labels/,
    );
  } finally {
    await ex.dispose();
    await model.dispose();
  }
});
