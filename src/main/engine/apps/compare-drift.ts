// Comparing a drift policy run (engine/drift/) with its base sampler (the Compare screen of a drift
// run): the same model, sampler, steps, seed and sample count for both rows —
//
//   policy   the trained drift v_ψ on the base sampler's step (DriftPolicy.rollout)
//   plain    the base sampler itself: the same rollout with v = 0 (zero = true), which draws the same
//            noise from the same seed, so the two differ only by what the policy adds
//
// Each row: the mean of the run's rewards over its samples, the policy's KL to the base sampler
// along the path (Σ over the steps of ½|v|², nats; on a deterministic sampler the action's cost,
// as train.ts names it), for low-dimensional models with data the k-NN KL of the samples to the
// data (the q-learning paper's measure), with `metrics` the model's sample metrics (FID, precision,
// recall … against its reference, metrics/evaluate.ts: `eval --policy DRIFT_RUN`), and the samples'
// picture.

import type { Model } from '../models/model';
import { loadData } from '../models/data';
import { samplePng } from '../pictures';
import { openRewards } from '../rewards';
import { float32Resolution, knnKl } from '../metrics/knn-kl';
import { parseRewardSpec } from '../../../shared/reward-spec';
import { isStochastic } from '../drift/kernels';
import { readDriftRun } from '../drift/run-file';
import { KNN_MAX_DIM, loadDriftPolicy } from '../drift/train';
import { evaluateSamples, referenceFor, type MetricName } from '../metrics/evaluate';
import { extractorForModel, type FeatureExtractor } from '../metrics/features';
import type { CompareOptions, CompareRow, Comparison } from './compare';

const mean = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
};

/** A drift run's policy next to its base sampler on the same seeds (see the file's note). */
export async function compareDrift(
  model: Model,
  runDir: string,
  o: Pick<CompareOptions, 'n' | 'seed' | 'signal' | 'pictures' | 'onProgress'> & {
    /** The model's sample metrics for each row too (none by default). */
    metrics?: MetricName[];
    /** Rewards to score the rows with in place of the run's own. */
    rewards?: string[];
  },
): Promise<Comparison> {
  const { n, seed } = o;
  const c = readDriftRun(runDir).config;
  // The rewards first: a reward file that has gone is named before anything is sampled.
  const rewardSpecs = o.rewards && o.rewards.length > 0 ? o.rewards : c.rewards;
  const rewards = await openRewards(model, rewardSpecs.map(parseRewardSpec));
  const { policy, iteration } = await loadDriftPolicy(model, runDir);
  let ex: FeatureExtractor | null = null;
  try {
    const metrics = o.metrics ?? [];
    if (metrics.length > 0) ex = await extractorForModel(model);
    const reference = ex ? await referenceFor(model, ex) : null;
    const flags = new Set<string>();
    const data = model.dim <= KNN_MAX_DIM ? await loadData(model) : null;
    const klKey = isStochastic(c.sampler, c.eta) ? 'kl_path' : 'action_cost';
    const rows: CompareRow[] = [];
    const names = [
      `drift policy (${c.objective} on ${c.sampler}, ${c.steps} steps)`,
      `base sampler (${c.sampler}${c.sampler === 'ddim' ? ` η ${c.eta}` : ''}, ${c.steps} steps)`,
    ];
    for (const [i, zero] of [false, true].entries()) {
      const label = names[i]!;
      o.onProgress?.({ done: i, total: 2, label, step: { done: 0, total: n, unit: 'samples' } });
      const t = await policy.rollout(
        {
          n,
          seed,
          batch: Math.min(n, c.trajectories),
          record: false,
          signal: o.signal,
          onProgress: (d) => o.onProgress?.({ done: i, total: 2, label, step: { done: d, total: n, unit: 'samples' } }),
        },
        zero,
      );
      const reward = mean((await rewards.score(t.samples, t.n, t.labels)).total);
      const scored =
        ex && reference
          ? await evaluateSamples(
              { model, extractor: ex, reference, samples: t.samples, n, conditioning: t.labels },
              metrics,
            )
          : null;
      for (const f of scored?.flags ?? []) flags.add(f);
      rows.push({
        kind: zero ? 'plain' : 'policy',
        name: label,
        // One denoiser evaluation per step (the policy's own network is not counted).
        nfe: c.steps,
        networkEvals: c.steps,
        summary: {
          ...(scored?.summary ?? {}),
          [klKey]: mean(t.kl),
          ...(data ? { knn_kl: knnKl(t.samples, data.x, model.dim, 1, float32Resolution(t.samples, data.x)) } : {}),
        },
        reward,
        ...(o.pictures
          ? { pngBase64: Buffer.from(await samplePng(model, t.samples, t.labels, n)).toString('base64') }
          : {}),
      });
    }
    return {
      run: runDir,
      model: model.name,
      iteration,
      n,
      seed,
      temperature: 1,
      rows,
      actionByClass: null,
      profile: [],
      sigmas: [],
      actions: [],
      flags: [...flags],
      rewards: rewardSpecs,
    };
  } finally {
    await ex?.dispose();
    policy.dispose();
    await rewards.dispose();
  }
}
