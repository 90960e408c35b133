// A policy's recipe: the static sampler a learned policy is summed up by — its mean action per noise
// level as a sampler curve (shared/curve.ts): cfg → the guidance curve w(σ), gamma → the churn curve
// γ(σ) — which any sampler (ComfyUI, diffusers, the README's Python loop) can use without running the
// policy, and which Compare scores next to the policy, so the gap between the two rows is what the
// policy's dependence on the state (x, class) adds over its dependence on σ alone.
//
//   roll out the policy on n trajectories (a fixed seed, temperature τ): the states S_l it visits at
//   each level l = 0 … N−1 of its base sampler (for cfg and gamma every trajectory visits each once)
//   v̄_l = (1/|S_l|) Σ_{s ∈ S_l} Σ_a π_τ(a|s)·v_a        π_τ = softmax(logits/τ), v_a = actions[a]
//   recipe = { parameter, points: (σ = t_l, value = v̄_l) for l = 0 … N−1 }
//
// [Note: the expected action, not the sampled one]
// v̄_l averages E_π[v | s] rather than the actions drawn: the same mean in expectation, without the
// draws' noise (at n = 1,024 and w ∈ [1, 4] the sampled mean's standard error is up to 0.05; the
// expected one's is that of the states alone). For cfg it is also the right summary of a state's
// choice: D_w = D_∅ + w·(D_c − D_∅) is linear in w, so the policy's mean denoiser at a state is
// D_{E_π[w|s]}. The sampled profile (evaluate-policy's shares) agrees within sampling error on the
// same seed: it is the same rollout, recipe.test.ts checks it.
//
// [Note: what a static curve reproduces]
// The curve gives v̄_l at σ = t_l exactly (curveAt is exact at its points, and log-σ linear in
// between). gamma: the churn curve is read once per step at t_i (EDM Alg. 2), as the policy's γ —
// step for step. cfg: a curve is read at each denoiser evaluation's own σ (samplers/guidance.ts),
// while the policy's w holds for both evaluations of its step; so Heun's correction of step l, at
// t_{l+1}, gets v̄_{l+1} rather than v̄_l. No w(σ) can do otherwise — the correction of step l and
// the first evaluation of step l+1 share σ = t_{l+1} — and the two differ where v̄ changes from one
// level to the next, by that change.
//
// [Note: no recipe for renoise]
// A renoise action is a jump back to a higher level, taken or not per state under an NFE budget: its
// mean (a fractional jump) is no sampler setting, and the same σ is visited several times with
// different budgets left. Such a policy is compared with EDM at equal NFE instead.

import { existsSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic';
import { VERSION } from '../../../shared/version';
import {
  CURVE_SETTING,
  parseCurve,
  type CurveFile,
  type CurveParameter,
  type CurveSource,
} from '../../../shared/curve';
import type { SamplerSettings } from '../../../shared/sampler-settings';
import type { Intervention } from './config';
import type { PolicySpec, SampleOptions, SamplingPolicy } from './rollout';

/** A policy that has no recipe, or a recipe that a curve file cannot hold: the message says what to do. */
export class RecipeError extends RangeError {
  override name = 'RecipeError';
}

/** The curve parameter a policy's actions are: cfg → guidance, gamma → churn; renoise has none (RecipeError). */
export function recipeParameter(intervention: Intervention): CurveParameter {
  switch (intervention) {
    case 'cfg':
      return 'guidance';
    case 'gamma':
      return 'churn';
    case 'renoise':
      throw new RecipeError(
        'a renoise policy has no static recipe: its actions are jumps back to higher noise levels under an NFE budget, ' +
          'and their mean is no sampler setting; compare it with EDM at equal NFE instead (`eval --policy`), ' +
          'or train a cfg or gamma policy for a guidance or churn curve',
      );
  }
}

export interface RecipeOptions {
  /** Trajectories of the rollout. */
  n: number;
  seed: number;
  /** The policy's sampling temperature τ (its run's, usually). */
  temperature: number;
  /** What it is computed from, recorded in the file's source. */
  origin?: { run: string } | { policy: string };
  signal?: AbortSignal;
  onProgress?: SampleOptions['onProgress'];
}

/** A recipe: the curve, where it came from, and the states behind each point. */
export type PolicyRecipe = CurveFile & {
  source: CurveSource;
  /** [N] states the policy visited at each level (n for cfg and gamma). */
  visits: number[];
};

/** The policy's mean expected action per level of its base sampler, as a curve (see the header). */
export async function policyRecipe(policy: SamplingPolicy, o: RecipeOptions): Promise<PolicyRecipe> {
  const c = policy.spec;
  const parameter = recipeParameter(c.intervention);
  if (!(Number.isInteger(o.n) && o.n >= 1)) throw new RecipeError(`a recipe needs n ≥ 1 trajectories, got ${o.n}`);
  if (!(o.temperature > 0)) throw new RecipeError(`the temperature must be positive, got ${o.temperature}`);
  const N = c.steps;
  const K = c.actions.length;

  // 1. Roll out the policy: n trajectories, each visiting the N levels; the rollout sums E_π[v | s] per level.
  const ro = await policy.sample(o.n, o.seed, {
    temperature: o.temperature,
    signal: o.signal,
    onProgress: o.onProgress,
  });

  // 2. Mean expected action per level: the sum over the level's visited states over their count.
  const visits = Array.from({ length: N }, (_, l) => {
    let z = 0;
    for (let a = 0; a < K; a++) z += ro.profile[l * K + a]!;
    return z;
  });
  const points = visits.map((z, l) => {
    if (!(z > 0)) throw new Error(`the rollout visited no state at level ${l}; a ${c.intervention} policy visits each`);
    return { sigma: policy.schedule[l]!, value: ro.expectedAction[l]! / z };
  });

  // 3. The curve, checked as a file would be: a cfg policy with negative actions can have a mean w < 0.
  const curve = { parameter, points };
  try {
    parseCurve(curve, 'the recipe');
  } catch (e) {
    throw new RecipeError(
      `${(e as Error).message}; a ${parameter} curve file cannot hold this policy's mean ${parameter === 'guidance' ? 'w' : 'γ'} per level`,
      { cause: e },
    );
  }
  const source: CurveSource = {
    ...o.origin,
    model: policy.model.name,
    iteration: policy.iteration,
    sampler: c.sampler,
    steps: N,
    n: o.n,
    seed: o.seed,
    temperature: o.temperature,
    version: VERSION,
  };
  return { parameter, points, source, visits };
}

/** Sampler settings that sample a recipe: the policy's base sampler and steps, the curve in its setting. */
export function recipeSettings(
  spec: Pick<PolicySpec, 'sampler' | 'steps'>,
  curve: CurveFile,
): Pick<SamplerSettings, 'sampler' | 'steps'> & Partial<SamplerSettings> {
  return {
    sampler: spec.sampler,
    steps: spec.steps,
    [CURVE_SETTING[curve.parameter]]: { parameter: curve.parameter, points: curve.points },
  };
}

/** A recipe file's text: the curve (one point a line) and its source; what sampling reads is parseCurve's. */
export function recipeFileText(r: CurveFile): string {
  const points = r.points.map((p) => `    ${JSON.stringify({ sigma: p.sigma, value: p.value })}`).join(',\n');
  const source = r.source ? `,\n  "source": ${JSON.stringify(r.source)}` : '';
  return `{\n  "parameter": ${JSON.stringify(r.parameter)},\n  "points": [\n${points}\n  ]${source}\n}\n`;
}

/** Whether a recipe may be written to `path`: a .json name, not an existing file unless `force` (else a RecipeError saying so). */
export function checkRecipePath(path: string, o: { force?: boolean } = {}): void {
  if (!/\.json$/i.test(path))
    throw new RecipeError(`${path}: a recipe is a JSON curve file; give a name ending in .json (e.g. recipe.json)`);
  if (!o.force && existsSync(path))
    throw new RecipeError(`${path} already exists; choose another path or pass --force to replace it`);
}

/** Writes a recipe file atomically, checked by checkRecipePath. */
export async function writeRecipe(path: string, r: CurveFile, o: { force?: boolean } = {}): Promise<void> {
  checkRecipePath(path, o);
  await writeFileAtomic(path, recipeFileText(r));
}
