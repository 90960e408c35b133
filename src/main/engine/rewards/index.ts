// Explicit rewards (issue 17): the `--reward` specifications (shared/reward-spec.ts) opened against a
// model and summed, R(x) = Σ_i sign_i · weight_i · r_i(x), each part kept raw for the logs (rewards are
// logged raw and normalised). One module per reward: jpeg.ts, class-mix.ts, onnx-reward.ts,
// region.ts (a disc, a box, a 1-D bump); class-logit is the classifier's logit, read here.
//
// Everything a specification names is checked when the rewards are opened — the model's kind of
// data, the class index, the target file, the ONNX file — so a bad one fails before a rollout runs.

import { isAbsolute, resolve } from 'node:path';
import type { Model } from '../models/model';
import { classify } from '../metrics/evaluate';
import { extractorForModel, type FeatureExtractor } from '../metrics/features';
import { describeReward, parseRewardSpec, REWARDS, withRewardArg, type RewardSpec } from '../../../shared/reward-spec';
import { jpegSizes } from './jpeg';
import { classMixRewards, readTarget } from './class-mix';
import { OnnxReward } from './onnx-reward';
import { boxRewards, bumpRewards, regionRewards } from './region';

/** What the rewards gave a batch: the weighted sum, and each part as its module computed it. */
export interface RewardScores {
  /** [n] Σ sign·weight·r. */
  total: Float64Array;
  /** Per specification, its raw values (before sign and weight). */
  parts: { spec: RewardSpec; raw: Float64Array }[];
}

export interface Rewards {
  readonly specs: readonly RewardSpec[];
  /** "−jpeg-size + class-logit 7 × 0.5". */
  readonly description: string;
  /** The rewards of `n` final samples (labels: the classes they were drawn for, or null). */
  score(samples: Float32Array, n: number, labels: Int32Array | null): Promise<RewardScores>;
  dispose(): Promise<void>;
}

/**
 * A reward specification with its file (onnx:FILE, class-mix:FILE) made absolute against the working
 * folder: runs keep it so, and resume, Compare and analyze-reward find it from any working folder.
 */
export function absoluteRewardSpec(text: string): string {
  const s = parseRewardSpec(text);
  return REWARDS[s.name].positional?.kind === 'file' && s.arg !== null && !isAbsolute(s.arg)
    ? withRewardArg(s, resolve(s.arg))
    : text;
}

/** Opens the rewards `specs` name for `model` (files relative to `baseDir`, default the working folder). */
export async function openRewards(model: Model, specs: readonly RewardSpec[], baseDir = '.'): Promise<Rewards> {
  if (specs.length === 0) throw new RangeError('--objective reward needs at least one --reward');
  const file = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const shape = model.shape;
  const image = shape.length === 3 && (shape[0] === 1 || shape[0] === 3);
  let extractor: FeatureExtractor | null = null;
  const onnx = new Map<RewardSpec, OnnxReward>();
  const targets = new Map<RewardSpec, Float64Array>();
  const opened = async (): Promise<FeatureExtractor> => (extractor ??= await extractorForModel(model));
  try {
    for (const s of specs) {
      const where = `--reward ${s.text}`;
      const needs = REWARDS[s.name].needs;
      if (needs === 'image' && !image)
        throw new RangeError(
          `${where}: ${model.name}'s samples are [${shape.join(', ')}], not images; ${s.name} scores images`,
        );
      const points = needs === 'points1d' ? 1 : needs === 'points2d' ? 2 : 0;
      if (points > 0 && !(shape.length === 1 && shape[0] === points))
        throw new RangeError(
          `${where}: ${s.name} is for ${points}-D models; ${model.name}'s samples are [${shape.join(', ')}]`,
        );
      if (s.name === 'class-logit') {
        const ex = await opened();
        if (!ex.hasLogits)
          throw new RangeError(
            `${where}: ${model.name}'s feature extractor has no "logits" output to read a class's logit from; use an onnx reward with your classifier`,
          );
        const k = Number(s.arg);
        if (model.numClasses > 0 && k >= model.numClasses)
          throw new RangeError(
            `${where}: class ${k} is out of range; ${model.name} has classes 0..${model.numClasses - 1}`,
          );
      }
      if (s.name === 'class-mix') {
        if (model.numClasses === 0)
          throw new RangeError(`${where}: ${model.name} is unconditional; a class mix needs a model with classes`);
        await opened(); // a classifier or the mixture's components: checked on the first batch below
        targets.set(s, readTarget(file(s.arg!), model.numClasses, model.manifest.classNames ?? null));
      }
      if (s.name === 'onnx') onnx.set(s, await OnnxReward.open(file(s.arg!), shape, model.nullClass));
    }
  } catch (e) {
    await (extractor as FeatureExtractor | null)?.dispose();
    for (const r of onnx.values()) await r.dispose();
    throw e;
  }
  const ex = extractor as FeatureExtractor | null;
  return {
    specs,
    description: specs.map(describeReward).join(' + '),
    async score(samples, n, labels) {
      const logits =
        ex && specs.some((s) => s.name === 'class-logit' || s.name === 'class-mix')
          ? (await ex.extract(samples, n)).logits
          : null;
      const parts: RewardScores['parts'] = [];
      for (const s of specs) {
        let raw: Float64Array;
        switch (s.name) {
          case 'jpeg-size':
            raw = jpegSizes(samples, n, shape, {
              quality: s.params['quality']!,
              range: model.manifest.features?.sampleRange,
            });
            break;
          case 'region':
            raw = regionRewards(samples, n, { x: s.params['x']!, y: s.params['y']!, r: s.params['r']! });
            break;
          case 'bump':
            raw = bumpRewards(samples, n, { x: s.params['x']!, width: s.params['width']! });
            break;
          case 'box':
            raw = boxRewards(samples, n, {
              x0: s.params['x0']!,
              x1: s.params['x1']!,
              y0: s.params['y0']!,
              y1: s.params['y1']!,
            });
            break;
          case 'class-logit': {
            const k = Number(s.arg);
            const K = logits!.length / n;
            if (k >= K)
              throw new RangeError(`--reward ${s.text}: the classifier has ${K} logits; class ${k} is out of range`);
            raw = Float64Array.from({ length: n }, (_, i) => logits![i * K + k]!);
            break;
          }
          case 'class-mix': {
            const c = classify(model, samples, n, logits);
            if (!c)
              throw new RangeError(
                `--reward ${s.text}: cannot classify ${model.name}'s samples: its feature extractor has no "logits" output and it is no mixture benchmark`,
              );
            raw = classMixRewards(c.labels, targets.get(s)!, s.params['alpha']!);
            break;
          }
          case 'onnx':
            raw = await onnx.get(s)!.score(samples, n, labels, model.nullClass);
            break;
        }
        parts.push({ spec: s, raw });
      }
      const total = new Float64Array(n);
      for (const { spec, raw } of parts) {
        const w = spec.sign * spec.params['weight']!;
        for (let i = 0; i < n; i++) total[i]! += w * raw[i]!;
      }
      return { total, parts };
    },
    async dispose() {
      await ex?.dispose();
      for (const r of onnx.values()) await r.dispose();
    },
  };
}
