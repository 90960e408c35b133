// Comparing a learned policy with the baselines that matter for its intervention (the paper's
// Table 2): the same sampler, steps, seed and sample count for every row — the policy's recipe
// (cfg, gamma: its mean action per level as a static curve, learner/recipe.ts); plain sampling; EDM's
// stochastic settings (gamma); EDM below, above and exactly at the policy's average NFE (renoise);
// the grid's best constant and best guidance interval (when a grid result is given); the best
// constant action and, for cfg, the best guidance interval searched now (`bestConstant`). Used by
// `eval --policy` and the app.
//
// [Note: the interval grid of a comparison]
// Kynkäänniemi et al. 2024 find guidance best inside σ ∈ (0.28, 2.9] to (0.28, 5.4] (EDM2 on
// ImageNet-512, whose latents have σ_data = 0.5; SD-XL). Where guidance helps depends on the noise
// level relative to the data's scale, so the search scales their levels by k = σ_data/0.5 of the
// model: σ_lo ∈ {0, 0.28k, 1k}, σ_hi ∈ {2.9k, 5.4k, ∞}, each to 3 significant digits, less any
// that cannot matter (a σ_lo at or below the model's σ_min is σ_lo = 0, a σ_hi at or above its σ_max
// is ∞). With 0 and ∞ in the lists, the constant cells are in the same grid (the best-constant row
// comes from them): one grid of actions × 3 × 3 cells, 9× the constant search's.
//
// [Note: the recipe row]
// The recipe is measured on its own rollout (seed + 2: the best-constant search has seed + 1), never
// on the evaluation's seed, so the curve has not seen the noise it is then sampled with; it is
// rolled out at the comparison's temperature and sampled like every other row. Its row against the
// policy's is what the policy's dependence on the state adds over a curve in σ alone.

import type { Model } from '../models/model';
import { infReplacer } from '../../../shared/json';
import {
  baselineSettings,
  bestConstantCell,
  bestIntervalCell,
  INTERVAL_AXES,
  readGridResult,
} from '../samplers/baselines';
import { stepsReaching, stepsWithin } from '../samplers/cost';
import { generate, mixAtNfe, resolveSettings } from '../samplers/generate';
import { describeValues, runGrid } from '../grid';
import {
  evaluatePerClass,
  evaluateSamples,
  referenceFor,
  type ClassScores,
  type MetricName,
} from '../metrics/evaluate';
import { extractorForModel } from '../metrics/features';
import { samplePng } from '../pictures';
import { className } from '../../../shared/grid-layout';
import { evaluatePolicy } from './evaluate-policy';
import { openPolicy } from '../learner/onnx-policy';
import { policyRecipe, RecipeError, recipeSettings } from '../learner/recipe';
import type { ComparisonResult, RowKind } from '../../../shared/protocol';
import type { SamplerSettings } from '../../../shared/sampler-settings';
import type { GridAxis } from '../grid/axes';
import { openRewards } from '../rewards';
import { parseRewardSpec } from '../../../shared/reward-spec';
import { isRun, readRunConfig } from '../runs/files';

/** A request the caller can fix (an option that does not fit this run or model). */
export class CompareInputError extends RangeError {
  override name = 'CompareInputError';
}

export interface CompareOptions {
  n: number;
  seed: number;
  /** Sampling temperature τ of the policy (default: the run's). */
  temperature?: number;
  metrics: MetricName[];
  /** A `grid` result directory: adds its best constant as a row. */
  gridResult?: string;
  /**
   * cfg / gamma: search the best constant action here (a grid over the policy's own action values,
   * selected by FID on another seed, so the selection does not see the evaluation's samples) and add it as a row.
   */
  bestConstant?: boolean;
  signal?: AbortSignal;
  perClass?: boolean;
  /** Add each row's sample picture (PNG, base64). */
  pictures?: boolean;
  /** Where the comparison stands: rows done of those planned, and the step under way with its own progress. */
  onProgress?: (p: CompareProgress) => void;
  /** Rows that do not depend on the policy, kept between comparisons ([Note: rows kept between comparisons]). */
  cache?: Map<string, unknown>;
  /**
   * Reward specifications (shared/reward-spec.ts) to score every row with (its mean weighted reward);
   * default: the run's own when it was trained for explicit rewards, else none.
   */
  rewards?: string[];
  /** The `classes` metric's target shares (default: the data's labels). */
  classTarget?: ArrayLike<number>;
}

/** `done` of `total` rows (the total can shrink once the policy's own rows are known); `label`: the row under way. */
export interface CompareProgress {
  done: number;
  total: number;
  label: string;
  /** The step's own progress: samples drawn, or grid cells for the best-constant search. */
  step: { done: number; total: number; unit: string };
}

// [Note: rows kept between comparisons]
// Moving the temperature slider re-ran every row, baselines included. Only the policy and what is
// measured from it (its recipe, EDM at its NFE) depend on τ; plain sampling, EDM's settings, the
// grid search for the best constant and interval and the grid results' rows do not. With a `cache`
// (the engine keeps one), those rows, and the search, are kept under what decides them (model,
// settings, n, seed, metrics, pictures, per-class) and reused: the same inputs give the same numbers,
// so a reused row is the row. The cache keeps the CACHE_ROWS most recent entries.
const CACHE_ROWS = 64;
const TAU_FREE: readonly RowKind[] = [
  'plain',
  'edm-stochastic',
  'best-constant',
  'best-interval',
  'grid-best',
  'grid-best-interval',
];

/** A cached value under `key`, or computed and kept (the oldest dropped past CACHE_ROWS). */
async function memo<T>(cache: Map<string, unknown> | undefined, key: string, compute: () => Promise<T>): Promise<T> {
  if (cache?.has(key)) {
    const v = cache.get(key) as T;
    cache.delete(key); // most recent last
    cache.set(key, v);
    return v;
  }
  const v = await compute();
  if (cache) {
    cache.set(key, v);
    while (cache.size > CACHE_ROWS) cache.delete(cache.keys().next().value!);
  }
  return v;
}

/** A class's scores with its name (the manifest's, else "class k"). */
type NamedClassScores = ClassScores & { name: string };

/** A row as the protocol carries it (with `perClass`, each class's scores). */
export type CompareRow = ComparisonResult['rows'][number];

/** The protocol's comparison (shared/protocol.ts), with per-class detail for the CLI. */
export interface Comparison extends Omit<ComparisonResult, 'rows'> {
  rows: CompareRow[];
  /** The policy's mean action per class, over all levels and below σ = 1 (class-conditional models). */
  actionByClass: { label: number; mean: number; meanLowNoise: number }[] | null;
}

/** The σ_lo and σ_hi of the interval search for a model (the note on the interval grid). */
export function comparedIntervals(m: { sigmaMin: number; sigmaMax: number; sigmaData: number }): {
  lo: number[];
  hi: number[];
} {
  const k = m.sigmaData / 0.5;
  const scaled = (v: number): number => Number((v * k).toPrecision(3));
  return {
    lo: [0, ...[0.28, 1].map(scaled).filter((v) => v > m.sigmaMin)],
    hi: [...[2.9, 5.4].map(scaled).filter((v) => v < m.sigmaMax), Infinity],
  };
}

/** "w = 2, σ ∈ (0.28, 5.4]" */
function intervalLabel(s: SamplerSettings): string {
  const hi = s.guidanceSigmaHi === Infinity ? 'inf' : s.guidanceSigmaHi;
  return `w = ${s.guidance}, σ ∈ (${s.guidanceSigmaLo}, ${hi}]`;
}

/** `source`: a run directory (its EMA heads) or an exported policy .onnx (sampled through ONNX Runtime). */
export async function comparePolicy(model: Model, source: string, o: CompareOptions): Promise<Comparison> {
  const { n, seed, metrics } = o;
  const own = runRewards(source);
  const specs = o.rewards ?? own;
  // A bad specification or reward file is the caller's to fix, before anything is sampled.
  const rewards = specs.length
    ? await openRewards(
        model,
        specs.map((s) => parseRewardSpec(s)),
      ).catch((e: Error) => {
        throw new CompareInputError(e.message);
      })
    : null;
  const policy = await openPolicy(source, model).catch(async (e: unknown) => {
    await rewards?.dispose();
    throw e;
  });
  const ex = await extractorForModel(model);
  try {
    const reference = await referenceFor(model, ex);
    const temperature = o.temperature ?? policy.spec.temperature;
    if (!(temperature > 0)) throw new CompareInputError(`--temperature must be positive, got ${temperature}`);
    const perClass = !!o.perClass;
    if (perClass && (model.numClasses === 0 || !reference.labels)) {
      throw new CompareInputError(
        `per-class scores (--per-class) need a class-conditional model whose data has labels; ${model.name} ${model.numClasses === 0 ? 'is unconditional' : 'has no data labels'}`,
      );
    }
    const picture = async (samples: Float32Array, labels: Int32Array | null): Promise<string | undefined> =>
      o.pictures ? Buffer.from(await samplePng(model, samples, labels, n)).toString('base64') : undefined;
    // Rows planned: the policy, its recipe, plain, EDM's (gamma) or EDM at its NFE (renoise: up to 3),
    // the search (+ its 2 rows) and a grid result's (up to 2). Corrected once the rows are known.
    const cc = policy.spec;
    let total =
      2 + // the policy, plain
      (cc.intervention === 'renoise' ? 3 : 1) + // EDM at its NFE (below, above, mixed), or its recipe
      (cc.intervention === 'gamma' ? 1 : 0) + // EDM's setting
      (o.bestConstant ? 3 : 0) + // the search, its constant and its interval
      (o.gridResult ? 2 : 0);
    let done = 0;
    const report = (label: string, step: CompareProgress['step']): void =>
      o.onProgress?.({ done, total: Math.max(total, done + 1), label, step });
    const sampling = (label: string) => (p: { samplesDone: number }) =>
      report(label, { done: p.samplesDone, total: n, unit: 'samples' });
    const policyLabel = `policy (τ=${temperature})`;
    report(policyLabel, { done: 0, total: n, unit: 'samples' });
    const ev = await evaluatePolicy(policy, {
      extractor: ex,
      reference,
      n,
      seed,
      temperature,
      metrics,
      classTarget: o.classTarget,
      onProgress: sampling(policyLabel),
    });
    done++;
    const scoreClasses = async (samples: Float32Array, labels: Int32Array | null): Promise<NamedClassScores[]> =>
      (await evaluatePerClass({ model, extractor: ex, reference, samples, n, conditioning: labels }, metrics)).map(
        (c) => ({ ...c, name: className(model, c.label) }),
      );
    const flags = new Set(ev.result.flags);
    /** The mean weighted reward of a row's samples, when there are rewards. */
    const rewardOf = async (samples: Float32Array, labels: Int32Array | null): Promise<{ reward?: number }> => {
      if (!rewards) return {};
      const r = (await rewards.score(samples, n, labels)).total;
      return { reward: r.reduce((a, b) => a + b, 0) / n };
    };
    const rows: CompareRow[] = [
      {
        kind: 'policy',
        name: `policy (${policy.spec.intervention}, ${own.length ? 'rewards' : policy.spec.divergence}, τ=${temperature})`,
        nfe: ev.nfe,
        networkEvals: ev.networkEvals,
        summary: ev.result.summary,
        ...(await rewardOf(ev.samples, ev.labels)),
      },
    ];
    if (perClass) rows[0]!.perClass = await scoreClasses(ev.samples, ev.labels);
    rows[0]!.pngBase64 = await picture(ev.samples, ev.labels);
    // Baselines on the same sampler, steps, seed and sample count.
    const c = policy.spec;
    // Each row says what it is (`kind`); its name is for people.
    const baselines: { kind: RowKind; name: string; settings: Parameters<typeof resolveSettings>[1] }[] = [];
    if (c.intervention !== 'renoise') {
      report('recipe: the mean action per level', { done: 0, total: n, unit: 'samples' });
      // A mean the curve files cannot hold (a policy with negative w, say) leaves the row out, with a note.
      try {
        const recipe = await policyRecipe(policy, {
          n,
          seed: seed + 2,
          temperature,
          signal: o.signal,
          onProgress: sampling('recipe: the mean action per level'),
        });
        baselines.push({
          kind: 'recipe',
          name: `recipe (mean ${c.intervention === 'cfg' ? 'w' : 'γ'} per level)`,
          settings: recipeSettings(c, recipe),
        });
      } catch (e) {
        if (!(e instanceof RecipeError)) throw e;
        // The first level's problem and the conclusion (every level would repeat the first).
        const first = /^[^)]*\)/.exec(e.message)?.[0] ?? e.message;
        const last = e.message.split('; ').at(-1)!;
        flags.add(`no recipe row: ${first === e.message ? first : `${first}; ${last}`}`);
      }
    }
    baselines.push({ kind: 'plain', name: 'no guidance / plain', settings: { sampler: c.sampler, steps: c.steps } });
    if (c.intervention === 'gamma')
      baselines.push({
        kind: 'edm-stochastic',
        name: `EDM stochastic (ImageNet-64 S_churn, S_tmin, S_tmax; S_noise ${policy.settings.sNoise} as the policy)`,
        // Like with like: EDM's S_noise 1.003 would add 0.3% more noise than the γ policy's sampler does.
        settings: {
          sampler: 'edm',
          steps: c.steps,
          ...baselineSettings('edm-stochastic'),
          sNoise: policy.settings.sNoise,
        },
      });
    if (c.intervention === 'renoise') {
      // EDM's deterministic sampler with the most steps within the policy's average NFE, and with
      // the fewest steps at or above it: the policy should beat the second at equal or lower NFE.
      const below = Math.max(1, stepsWithin(c.sampler, ev.nfe));
      const above = stepsReaching(c.sampler, ev.nfe);
      baselines.push({
        kind: 'equal-nfe-below',
        name: `EDM ${below} steps (NFE ≤ policy)`,
        settings: { sampler: c.sampler, steps: below },
      });
      if (above !== below)
        baselines.push({
          kind: 'equal-nfe-above',
          name: `EDM ${above} steps (NFE ≥ policy)`,
          settings: { sampler: c.sampler, steps: above },
        });
    }
    if (o.bestConstant) {
      if (c.intervention === 'renoise')
        throw new CompareInputError(
          'a best constant needs a cfg or gamma policy; renoise policies are compared with EDM at equal NFE',
        );
      // cfg: w over the actions × the interval grid (the note on it); gamma: a constant γ per step
      // is S_churn = γ·N (EDM: γ_i = min(S_churn/N, √2 − 1)).
      const intervals = comparedIntervals({
        sigmaMin: model.sigmaMin,
        sigmaMax: model.sigmaMax,
        sigmaData: model.manifest.sigmaData,
      });
      const axes: GridAxis[] =
        c.intervention === 'cfg'
          ? [
              { name: 'guidance', values: c.actions },
              { name: 'guidance-sigma-lo', values: intervals.lo },
              { name: 'guidance-sigma-hi', values: intervals.hi },
            ]
          : [{ name: 'churn', values: c.actions.map((g) => g * c.steps) }];
      const base = resolveSettings(model, { sampler: c.sampler, steps: c.steps });
      const config = {
        model: { name: model.name, dir: model.dir },
        base,
        axes,
        n,
        seed: seed + 1,
        classes: 'random' as const,
        metrics: ['fid' as const],
        metric: 'fid' as const,
      };
      const search = `search for the best constant${c.intervention === 'cfg' ? ' and interval' : ''}`;
      const grid = await memo(o.cache, `grid ${JSON.stringify(config, infReplacer)}`, () =>
        runGrid({
          model,
          extractor: ex,
          reference,
          signal: o.signal,
          config,
          onProgress: (p) => report(search, { done: p.cellsDone, total: p.cells, unit: 'grid cells' }),
        }),
      );
      done++;
      const best = bestConstantCell(grid.results)!;
      const label =
        c.intervention === 'cfg'
          ? `w = ${best.values['guidance']}`
          : `γ = ${(best.values['churn']! / c.steps).toFixed(3)}`;
      baselines.push({
        kind: 'best-constant',
        name: `best constant ${label} (grid over the actions)`,
        settings: best.settings,
      });
      const interval = bestIntervalCell(grid.results);
      if (interval)
        baselines.push({
          kind: 'best-interval',
          name: `best interval ${intervalLabel(interval.settings)} (grid over the actions × ${intervals.lo.length} σ_lo × ${intervals.hi.length} σ_hi)`,
          settings: interval.settings,
        });
    }
    if (o.gridResult) {
      try {
        // The grid's best constant (unless it searched intervals only) and its best interval (if it searched any).
        const r = readGridResult(o.gridResult, 'best-constant');
        const interval = bestIntervalCell(r);
        const constant = bestConstantCell(r);
        if (!interval || constant)
          baselines.push({
            kind: 'grid-best',
            // Its own values, the interval axes (σ_lo 0, σ_hi ∞ for a constant) left out.
            name: `best constant (grid)${constant ? ` ${describeValues(Object.fromEntries(Object.entries(constant.values).filter(([k]) => !(INTERVAL_AXES as readonly string[]).includes(k)))) || `guidance=${constant.settings.guidance}`}` : ''}`,
            settings: baselineSettings('best-constant', { grid: o.gridResult }),
          });
        if (interval)
          baselines.push({
            kind: 'grid-best-interval',
            name: `best interval (grid) ${intervalLabel(interval.settings)}`,
            settings: interval.settings,
          });
      } catch (e) {
        throw new CompareInputError((e as Error).message);
      }
    }
    const mean = (a: ArrayLike<number>): number => {
      let t = 0;
      for (let i = 0; i < n; i++) t += a[i]!;
      return t / n;
    };
    const score = async (
      kind: RowKind,
      name: string,
      samples: Float32Array,
      labels: Int32Array | null,
      nfePer: ArrayLike<number>,
      netPer: ArrayLike<number>,
    ): Promise<void> => {
      const res = await evaluateSamples(
        { model, extractor: ex, reference, samples, n, conditioning: labels },
        metrics,
        {
          classTarget: o.classTarget,
        },
      );
      for (const f of res.flags) flags.add(f);
      rows.push({
        kind,
        name,
        nfe: mean(nfePer),
        networkEvals: mean(netPer),
        summary: res.summary,
        ...(await rewardOf(samples, labels)),
        ...(perClass ? { perClass: await scoreClasses(samples, labels) } : {}),
        pngBase64: await picture(samples, labels),
      });
    };
    const generated = new Map<RowKind, Awaited<ReturnType<typeof generate>>>();
    // The rows now known: the plan corrected (the mixed row comes with two EDM rows at the policy's NFE).
    total = done + baselines.length + (baselines.filter((b) => b.kind.startsWith('equal-nfe')).length === 2 ? 1 : 0);
    for (const b of baselines) {
      const settings = resolveSettings(model, b.settings);
      const make = async (): Promise<{ row: CompareRow; flags: string[] }> => {
        const before = new Set(flags);
        report(b.name, { done: 0, total: n, unit: 'samples' });
        const gen = await generate(model, settings, {
          n,
          batch: 1024,
          seed,
          classes: 'random',
          signal: o.signal,
          onProgress: sampling(b.name),
        });
        generated.set(b.kind, gen);
        await score(b.kind, b.name, gen.samples, gen.labels, gen.nfe, gen.networkEvals);
        return { row: rows.pop()!, flags: [...flags].filter((f) => !before.has(f)) };
      };
      const key = JSON.stringify(
        {
          model: model.dir,
          settings,
          n,
          seed,
          metrics,
          pictures: !!o.pictures,
          perClass,
          name: b.name,
          specs,
          target: o.classTarget ? Array.from(o.classTarget) : null,
        },
        infReplacer,
      );
      const made = TAU_FREE.includes(b.kind) ? await memo(o.cache, `row ${key}`, make) : await make();
      rows.push(made.row);
      for (const f of made.flags) flags.add(f);
      done++;
    }
    const [lo, hi] = [generated.get('equal-nfe-below'), generated.get('equal-nfe-above')];
    if (lo && hi) {
      // EDM at exactly the policy's average NFE: each sample (same seeds) from the fewer- or the
      // more-step run, the share of the latter chosen so the average NFE equals the policy's.
      const mix = mixAtNfe(lo, hi, ev.nfe);
      const steps = baselines
        .filter((b) => b.kind.startsWith('equal-nfe'))
        .map((b) => b.settings?.steps)
        .join('/');
      report(`EDM ${steps} steps mixed (NFE = policy)`, { done: 0, total: 1, unit: 'rows' });
      await score(
        'equal-nfe-mixed',
        `EDM ${steps} steps mixed (NFE = policy)`,
        mix.samples,
        mix.labels,
        mix.nfe,
        mix.networkEvals,
      );
      done++;
    }
    // The policy's mean action per class, over all levels and over the low-noise levels (σ < 1).
    const meanAction = (prof: number[][], low: boolean): number => {
      let s = 0;
      let z = 0;
      prof.forEach((shares, l) => {
        if (low && !(ev.sigmas[l]! < 1)) return;
        shares.forEach((p, a) => {
          s += p * c.actions[a]!;
          z += p;
        });
      });
      return z > 0 ? s / z : NaN;
    };
    const actionByClass = ev.profileByClass
      ? ev.profileByClass
          .slice(0, model.numClasses)
          .map((prof, label) => ({ label, mean: meanAction(prof, false), meanLowNoise: meanAction(prof, true) }))
      : null;
    return {
      run: source,
      model: model.name,
      iteration: policy.iteration,
      n,
      seed,
      temperature,
      rows,
      profile: ev.profile,
      sigmas: ev.sigmas,
      actions: c.actions,
      actionByClass,
      flags: [...flags],
      ...(specs.length ? { rewards: specs } : {}),
    };
  } finally {
    await ex.dispose();
    await policy.dispose();
    await rewards?.dispose();
  }
}

/** A run's own rewards when it was trained for them (objective reward); none for any other source. */
function runRewards(source: string): string[] {
  if (!isRun(source)) return [];
  const c = readRunConfig(source).learner;
  return c.objective === 'reward' ? c.rewards : [];
}
