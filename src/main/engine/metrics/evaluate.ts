// Scoring generated samples against a model's data: features through the model's extractor,
// FID / KID / precision–recall / density–coverage / class histogram, every result with its counts.
//
// [Note: reference statistics are cached per data set]
// The data's features and FID statistics depend only on the data file and the extractor, so
// they are cached under the user's cache directory, keyed by the SHA-256 of both files and the
// extractor's preprocessing spec; a changed file gives a new key, never a stale number.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { Model } from '../models/model';
import { ModelError } from '../models/manifest';
import { dataFile, loadData, loadDataLabels } from '../models/data';
import { readNpy, toFloat32, writeNpy, npyFloat32, npyInt64 } from '../io/npy';
import { fid, gaussianStats, type FidResult } from './fid';
import { readFidStats, writeFidStats, type FidStats } from './fid-stats';
import { kid, type KidOptions, type KidResult } from './kid';
import { Stream } from '../samplers/random';
import { prdc, type PrdcOptions, type PrdcResult } from './prdc';
import {
  argmaxLabels,
  classHistogram,
  histogramDistance,
  nearestComponent,
  type ClassHistogram,
  type HistogramDistance,
} from './classes';
import type { Extracted, FeatureExtractor } from './features';

export const METRICS = ['fid', 'kid', 'precision', 'recall', 'density', 'coverage', 'classes'] as const;
export type MetricName = (typeof METRICS)[number];

export function parseMetrics(list: string): MetricName[] {
  const out = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const m of out) {
    if (!METRICS.includes(m as MetricName))
      throw new RangeError(`unknown metric "${m}"; choose from ${METRICS.join(', ')}`);
  }
  if (out.length === 0) throw new RangeError(`no metrics given; choose from ${METRICS.join(', ')}`);
  return [...new Set(out)] as MetricName[];
}

/** The data side of every comparison. */
export interface Reference {
  features: Extracted;
  stats: FidStats;
  /** Class of each data sample (dataLabels, or the extractor's classifier), when known. */
  labels: Int32Array | null;
  /** Where the statistics came from: 'cache' or 'computed'. */
  source: 'cache' | 'computed';
}

export function cacheDir(): string {
  const env = process.env['SAMPLER_STUDIO_CACHE'];
  if (env) return env;
  const xdg = process.env['XDG_CACHE_HOME'];
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'sampler-studio');
}

function fileHash(h: ReturnType<typeof createHash>, path: string): void {
  h.update(path.split(/[\\/]/).pop()!);
  h.update(readFileSync(path));
}

/** Reference features and statistics of the model's data, from the cache when possible. */
export async function referenceFor(model: Model, extractor: FeatureExtractor): Promise<Reference> {
  const m = model.manifest;
  const dataPath = dataFile(model);
  if (!dataPath)
    throw new ModelError(
      `${model.name} has no data samples ("data" in model.json); metrics need samples of the data distribution`,
      model.dir,
      'data',
    );
  const h = createHash('sha256');
  h.update('reference-v1');
  fileHash(h, dataPath);
  if (extractor.name !== 'identity') fileHash(h, extractor.name);
  h.update(JSON.stringify(m.features ?? null));
  const key = h.digest('hex').slice(0, 24);
  const dir = join(cacheDir(), 'reference', key);
  const statsPath = join(dir, 'stats.npz');
  const featPath = join(dir, 'features.npy');
  const logitsPath = join(dir, 'labels.npy');

  if (existsSync(statsPath) && existsSync(featPath)) {
    let labels = await loadDataLabels(model); // a broken labels file is an error, not a damaged cache entry
    try {
      const st = await readFidStats(statsPath);
      const f = await readNpy(featPath);
      const features: Extracted = { features: toFloat32(f), logits: null, n: f.shape[0]!, dim: f.shape[1]! };
      if (!labels && existsSync(logitsPath))
        labels = Int32Array.from((await readNpy(logitsPath)).data as ArrayLike<number | bigint>, (v) => Number(v));
      return { features, stats: st, labels, source: 'cache' };
    } catch {
      // A damaged cache entry is recomputed below (and overwritten atomically).
    }
  }
  const { x, n, labels: dataLabels } = (await loadData(model))!;
  const features = await extractor.extract(x, n);
  let labels = dataLabels;
  if (!labels && features.logits) labels = argmaxLabels({ data: features.logits, n, d: features.logits.length / n });
  const stats = await gaussianStats({ data: features.features, n, d: features.dim }, `${dataPath} features`);
  await writeNpy(featPath, npyFloat32([n, features.dim], features.features));
  await writeFidStats(statsPath, { mu: stats.mu, sigma: stats.sigma, d: stats.d, n });
  if (labels && !m.dataLabels) await writeNpy(logitsPath, npyInt64([n], BigInt64Array.from(labels, BigInt)));
  return { features, stats, labels, source: 'computed' };
}

/** Draws from a model's exact law: the Gaussian-mixture benchmarks' "truth" (means, stds), classes uniform. */
export const EXACT_DRAWS = 100_000;

/**
 * The reference of a model whose params.json gives its exact law ("truth": one isotropic Gaussian per
 * class, classes uniform, as sampling with random classes draws them): FID statistics of EXACT_DRAWS
 * draws from it (seed 0) through the extractor; features and labels stay the data's (precision and
 * recall need a point set). Cached like the data's reference.
 */
export async function exactReferenceFor(model: Model, extractor: FeatureExtractor): Promise<Reference> {
  const data = await referenceFor(model, extractor);
  const file = model.manifest.params ? join(model.dir, model.manifest.params) : null;
  const truth = file
    ? (JSON.parse(readFileSync(file, 'utf8')) as { truth?: { means?: number[][]; stds?: number[] } }).truth
    : undefined;
  if (!truth?.means || !truth.stds || truth.means.length !== truth.stds.length)
    throw new ModelError(
      `${model.name} does not give its exact law ("truth": { "means", "stds" } in its params.json); use "reference": "data"`,
      model.dir,
      'params',
    );
  const h = createHash('sha256');
  h.update('exact-reference-v1');
  h.update(JSON.stringify(truth));
  if (extractor.name !== 'identity') fileHash(h, extractor.name);
  const dir = join(cacheDir(), 'reference', h.digest('hex').slice(0, 24));
  const statsPath = join(dir, 'stats.npz');
  if (existsSync(statsPath)) {
    try {
      return { ...data, stats: await readFidStats(statsPath), source: 'cache' };
    } catch {
      // recomputed below
    }
  }
  const { means, stds } = truth;
  const d = means[0]!.length;
  const x = new Float32Array(EXACT_DRAWS * d);
  const rng = new Stream(0, 0);
  for (let i = 0; i < EXACT_DRAWS; i++) {
    const k = Math.floor(rng.uniform() * means.length);
    for (let j = 0; j < d; j++) x[i * d + j] = means[k]![j]! + stds[k]! * rng.normal();
  }
  const f = await extractor.extract(x, EXACT_DRAWS);
  const stats = await gaussianStats({ data: f.features, n: EXACT_DRAWS, d: f.dim }, 'exact-law features');
  await writeFidStats(statsPath, { mu: stats.mu, sigma: stats.sigma, d: stats.d, n: EXACT_DRAWS });
  return { ...data, stats, source: 'computed' };
}

export interface ClassesResult {
  /** How generated samples were classified. */
  method: 'classifier' | 'nearest-component';
  histogram: ClassHistogram;
  target: ClassHistogram | null;
  distance: HistogramDistance | null;
  /** Fraction of samples classified as the class they were conditioned on (class-conditional sampling). */
  conditionalAccuracy: number | null;
}

export interface EvalResult {
  nReal: number;
  nFake: number;
  extractor: string;
  fid?: FidResult;
  kid?: KidResult;
  prdc?: PrdcResult;
  classes?: ClassesResult;
  /** The headline numbers, flat, for tables and CSV. */
  summary: Record<string, number>;
  flags: string[];
}

export interface EvaluateOptions {
  kid?: KidOptions;
  prdc?: PrdcOptions;
  /** The `classes` metric's target: class shares to measure the histogram against (default: the data's labels). */
  classTarget?: ArrayLike<number>;
}

/** Classes of generated samples: the extractor's classifier head, else the nearest mixture component (null: neither). */
export function classify(
  model: Model,
  samples: Float32Array,
  n: number,
  logits: Float32Array | null,
): { labels: Int32Array; method: ClassesResult['method'] } | null {
  if (logits) return { labels: argmaxLabels({ data: logits, n, d: logits.length / n }), method: 'classifier' };
  if (model.manifest.params) {
    const p = JSON.parse(readFileSync(join(model.dir, model.manifest.params), 'utf8')) as {
      kind?: string;
      means?: number[][];
      numClasses?: number;
    };
    if (p.kind === 'gmm' && p.means && p.numClasses && p.means.length === p.numClasses) {
      return { labels: nearestComponent({ data: samples, n, d: model.dim }, p.means), method: 'nearest-component' };
    }
  }
  return null;
}

/** What an evaluation scores: n samples of a model (with the classes they were drawn for) against its data's reference. */
export interface EvalInput {
  model: Model;
  extractor: FeatureExtractor;
  reference: Reference;
  samples: Float32Array;
  n: number;
  conditioning: Int32Array | null;
}

export async function evaluateSamples(
  args: EvalInput,
  metrics: MetricName[],
  opts: EvaluateOptions = {},
): Promise<EvalResult> {
  const { model, extractor, reference, samples, n } = args;
  const fake = await extractor.extract(samples, n);
  const realF = { data: reference.features.features, n: reference.features.n, d: reference.features.dim };
  const fakeF = { data: fake.features, n, d: fake.dim };
  const out: EvalResult = { nReal: realF.n, nFake: n, extractor: extractor.name, summary: {}, flags: [] };
  if (metrics.includes('fid')) {
    out.fid = await fid({ real: reference.stats, fake: await gaussianStats(fakeF, 'generated features') });
    out.summary['fid'] = out.fid.fid;
    out.flags.push(...out.fid.flags);
  }
  if (metrics.includes('kid')) {
    out.kid = await kid({ real: realF, fake: fakeF }, opts.kid);
    out.summary['kid'] = out.kid.kid;
    out.summary['kid_std'] = out.kid.std;
    out.flags.push(...out.kid.flags);
  }
  if (metrics.some((m) => m === 'precision' || m === 'recall' || m === 'density' || m === 'coverage')) {
    out.prdc = await prdc({ real: realF, fake: fakeF }, opts.prdc);
    for (const m of ['precision', 'recall', 'density', 'coverage'] as const)
      if (metrics.includes(m)) out.summary[m] = out.prdc[m];
    // Recall and coverage ask whether each data point has a generated sample near it: with fewer
    // samples than data points they fall for want of samples, not of quality (an exact sampler
    // scores coverage 0.12 at n = 200 against 8,000 points, 0.67 at n = 2,000).
    const shrunk = (['recall', 'coverage'] as const).filter((m) => metrics.includes(m));
    if (shrunk.length > 0 && n < realF.n)
      out.flags.push(
        `${shrunk.join(' and ')}: ${n} samples against ${realF.n} data points: ${shrunk.length > 1 ? 'both fall' : 'it falls'} with fewer samples, whatever their quality; compare only at equal n`,
      );
  }
  if (metrics.includes('classes')) {
    if (model.numClasses === 0)
      throw new RangeError(
        `${model.name} is unconditional: it has no classes to histogram; drop "classes" from --metrics`,
      );
    const c = classify(model, samples, n, fake.logits);
    if (!c)
      throw new RangeError(
        `${model.name}: cannot classify samples: its feature extractor has no "logits" output and it is no mixture benchmark`,
      );
    const histogram = classHistogram(c.labels, model.numClasses);
    const target = opts.classTarget
      ? null
      : reference.labels
        ? classHistogram(reference.labels, model.numClasses)
        : null;
    const distance = histogramDistance({
      generated: histogram,
      target: opts.classTarget ?? target ?? new Array(model.numClasses).fill(1),
    });
    let conditionalAccuracy: number | null = null;
    if (args.conditioning) {
      let hit = 0;
      let counted = 0;
      for (let i = 0; i < n; i++) {
        if (args.conditioning[i] === model.nullClass) continue;
        counted++;
        if (c.labels[i] === args.conditioning[i]) hit++;
      }
      conditionalAccuracy = counted > 0 ? hit / counted : null;
    }
    out.classes = { method: c.method, histogram, target, distance, conditionalAccuracy };
    out.summary['class_tv'] = distance.tv;
    if (conditionalAccuracy !== null) out.summary['class_accuracy'] = conditionalAccuracy;
  }
  out.flags = [...new Set(out.flags)];
  return out;
}

/** One class's scores: generated samples conditioned on `label` against data samples of that class. */
export interface ClassScores {
  label: number;
  nReal: number;
  nFake: number;
  summary: Record<string, number>;
}

/**
 * Per-class FID / precision / recall: the generated samples conditioned on each class against the
 * data samples with that label (the reference's labels). With n samples over K classes each score
 * rests on about n/K points, so it is biased upward compared with the overall score (FID more so);
 * compare classes and methods at equal n, not with the overall numbers.
 */
export async function evaluatePerClass(args: EvalInput, metrics: MetricName[]): Promise<ClassScores[]> {
  const { model, extractor, reference, samples, n, conditioning } = args;
  if (model.numClasses === 0)
    throw new RangeError(`${model.name} is unconditional: there are no classes to break the scores down by`);
  if (!reference.labels)
    throw new RangeError(
      `${model.name}: the data has no class labels ("dataLabels" in model.json, or a feature extractor with logits); per-class scores need them`,
    );
  if (!conditioning) throw new RangeError('per-class scores need the class each sample was conditioned on');
  const fake = await extractor.extract(samples, n);
  const d = fake.dim;
  const rows = (feat: Float32Array, labels: Int32Array, c: number): { data: Float32Array; n: number; d: number } => {
    const idx: number[] = [];
    for (let i = 0; i < labels.length; i++) if (labels[i] === c) idx.push(i);
    const data = new Float32Array(idx.length * d);
    idx.forEach((i, r) => data.set(feat.subarray(i * d, (i + 1) * d), r * d));
    return { data, n: idx.length, d };
  };
  const out: ClassScores[] = [];
  for (let c = 0; c < model.numClasses; c++) {
    const real = rows(reference.features.features, reference.labels, c);
    const gen = rows(fake.features, conditioning, c);
    const summary: Record<string, number> = {};
    if (real.n >= 2 && gen.n >= 2) {
      if (metrics.includes('fid'))
        summary['fid'] = (
          await fid({
            real: await gaussianStats(real, `class ${c} data features`),
            fake: await gaussianStats(gen, `class ${c} generated features`),
          })
        ).fid;
      if (metrics.some((m) => m === 'precision' || m === 'recall' || m === 'density' || m === 'coverage')) {
        const k = Math.min(3, real.n - 1, gen.n - 1);
        const p = await prdc({ real, fake: gen }, { kPR: k, kDC: Math.min(5, real.n - 1, gen.n - 1) });
        for (const m of ['precision', 'recall', 'density', 'coverage'] as const)
          if (metrics.includes(m)) summary[m] = p[m];
      }
    }
    out.push({ label: c, nReal: real.n, nFake: gen.n, summary });
  }
  return out;
}
