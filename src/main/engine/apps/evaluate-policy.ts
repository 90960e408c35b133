// Evaluating a policy: sample with it (a learner's EMA heads, or an exported file) at a fixed seed
// and temperature, score the samples against the data, and read its action profile off the same
// rollout. Training's periodic evaluations and the comparison both go through here.

import { evaluateSamples, type EvalResult, type MetricName, type Reference } from '../metrics/evaluate';
import type { FeatureExtractor } from '../metrics/features';
import type { SampleOptions, SamplingPolicy } from '../learner/rollout';

export interface PolicyEvaluation {
  result: EvalResult;
  /** [N][K] share of each action per noise level (the paper's Figure 2), from the evaluation rollout. */
  profile: number[][];
  /** The level's σ for each profile row. */
  sigmas: number[];
  /** [C][N][K] the profile per conditioning class (the last is the null class), or null. */
  profileByClass: number[][][] | null;
  /** Mean guided denoiser evaluations and network passes per sample. */
  nfe: number;
  networkEvals: number;
  samples: Float32Array;
  labels: Int32Array | null;
}

/** Samples with the policy at temperature τ (fixed seed) and scores them against the data. */
export async function evaluatePolicy(
  policy: SamplingPolicy,
  ev: {
    extractor: FeatureExtractor;
    reference: Reference;
    n: number;
    seed: number;
    temperature: number;
    metrics: MetricName[];
    /** The `classes` metric's target shares (default: the data's labels). */
    classTarget?: ArrayLike<number>;
    signal?: AbortSignal;
    /** Samples drawn so far (per sampler batch). */
    onProgress?: SampleOptions['onProgress'];
  },
): Promise<PolicyEvaluation> {
  const ro = await policy.sample(ev.n, ev.seed, {
    temperature: ev.temperature,
    signal: ev.signal,
    onProgress: ev.onProgress,
  });
  const N = policy.spec.steps;
  const K = policy.spec.actions.length;
  const shares = (counts: Float64Array, offset: number): number[][] =>
    Array.from({ length: N }, (_, l) => {
      let z = 0;
      for (let a = 0; a < K; a++) z += counts[offset + l * K + a]!;
      return Array.from({ length: K }, (_, a) => (z > 0 ? counts[offset + l * K + a]! / z : 0));
    });
  const profile = shares(ro.profile, 0);
  const pc = ro.profileByClass;
  const profileByClass = pc ? Array.from({ length: pc.length / (N * K) }, (_, c) => shares(pc, c * N * K)) : null;
  let nfe = 0;
  for (const v of ro.nfe) nfe += v;
  let net = 0;
  for (const v of ro.networkEvals) net += v;
  const labels = ro.sampleLabels;
  const result = await evaluateSamples(
    {
      model: policy.model,
      extractor: ev.extractor,
      reference: ev.reference,
      samples: ro.samples,
      n: ev.n,
      conditioning: labels,
    },
    ev.metrics,
    { classTarget: ev.classTarget },
  );
  return {
    result,
    profile,
    profileByClass,
    sigmas: Array.from(policy.schedule.subarray(0, N)),
    nfe: nfe / ev.n,
    networkEvals: net / ev.n,
    samples: ro.samples,
    labels,
  };
}
