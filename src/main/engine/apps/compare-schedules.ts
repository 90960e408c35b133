// Comparing an RL step scheduler run with the schedules a user would otherwise pick, at equal NFE
// (the Compare screen of a scheduler run; `table` makes the paper-style table): the same sampler,
// seed and sample count for every row —
//
//   policy          the deterministic policy (its levels differ per sample: the row's σ list is
//                   the mean σ of each step over the samples that reach it)
//   recipe          its mean schedule (scheduler/train.ts meanSchedule), measured on its own rollout
//                   (seed + 2, as the learner's recipe row: the list has not seen the evaluation's noise)
//   preset          each named schedule (edm ρ = 7, uniform, log-linear, cosine, kl-optimal) with the
//                   most steps the policy's NFE budget allows
//   schedule-file   each schedule file asked for (an `optimize-schedule` result, a ComfyUI list)
//
// Every row carries the σ list it sampled, so a screen can draw it next to its FID.

import { existsSync, readFileSync } from 'node:fs';
import type { Model } from '../models/model';
import { evaluateSamples, referenceFor, type MetricName } from '../metrics/evaluate';
import { extractorForModel } from '../metrics/features';
import { samplePng } from '../pictures';
import { generate, resolveSettings } from '../samplers/generate';
import { stepsWithin } from '../samplers/cost';
import { loadSchedulerPolicy, meanSchedule, levelStats } from '../scheduler/train';
import { readSchedulerRun } from '../scheduler/run-file';
import { parseSigmasText } from '../../../shared/sigmas';
import { SCHEDULES } from '../../../shared/sampler-settings';
import type { ComparisonResult } from '../../../shared/protocol';
import { CompareInputError, type CompareOptions, type CompareProgress, type Comparison } from './compare';

type Row = ComparisonResult['rows'][number];

/** A scheduler run next to the preset schedules and the given schedule files (see the file's note). */
export async function compareScheduler(
  model: Model,
  runDir: string,
  o: Pick<CompareOptions, 'n' | 'seed' | 'metrics' | 'signal' | 'pictures' | 'onProgress'> & { schedules?: string[] },
): Promise<Comparison> {
  const { n, seed } = o;
  const metrics: MetricName[] = o.metrics;
  const run = readSchedulerRun(runDir);
  const c = run.config;
  // Schedule files read and checked against the model before anything is sampled.
  const files = (o.schedules ?? []).map((f) => {
    if (!existsSync(f)) throw new CompareInputError(`schedule file ${f} does not exist`);
    const sigmas = parseSigmasText(readFileSync(f, 'utf8'), f);
    try {
      resolveSettings(model, { sampler: c.sampler, steps: sigmas.length - 1, sigmas });
    } catch (e) {
      throw new CompareInputError(`${f}: ${(e as Error).message}`);
    }
    return { file: f, sigmas };
  });
  const steps = Math.max(1, stepsWithin(c.sampler, c.nfeBudget));
  const total = 2 + SCHEDULES.length + files.length;
  let done = 0;
  const report = (label: string, step: CompareProgress['step']): void => o.onProgress?.({ done, total, label, step });
  const ex = await extractorForModel(model);
  try {
    const reference = await referenceFor(model, ex);
    const score = async (samples: Float32Array, labels: Int32Array | null) => {
      const r = await evaluateSamples({ model, extractor: ex, reference, samples, n, conditioning: labels }, metrics);
      return {
        r,
        png: o.pictures ? Buffer.from(await samplePng(model, samples, labels, n)).toString('base64') : undefined,
      };
    };
    const flags = new Set<string>();
    const rows: Row[] = [];
    // 1  The policy, deterministic, and (on its own seed) its mean schedule.
    const policy = await loadSchedulerPolicy(model, runDir);
    let recipe: number[];
    const iteration = policy.iteration!;
    try {
      const label = 'policy (deterministic)';
      report(label, { done: 0, total: n, unit: 'samples' });
      const ep = await policy.rollout({
        n,
        seed,
        std: null,
        batch: c.trajectories,
        record: false,
        signal: o.signal,
        onProgress: (d) => report(label, { done: d, total: n, unit: 'samples' }),
      });
      const { r, png } = await score(ep.samples, ep.labels);
      r.flags.forEach((f) => flags.add(f));
      const mean = (a: Int32Array): number => a.reduce((s, v) => s + v, 0) / a.length;
      rows.push({
        kind: 'policy',
        name: `RL scheduler (${c.sampler}, NFE budget ${c.nfeBudget}, ${c.reward})`,
        nfe: mean(ep.nfe),
        networkEvals: mean(ep.nfe),
        summary: r.summary,
        sigmas: levelStats(ep.levels).map((l) => l.mean),
        ...(png ? { pngBase64: png } : {}),
      });
      done++;
      report('recipe: its mean schedule', { done: 0, total: n, unit: 'samples' });
      const own = await policy.rollout({
        n,
        seed: seed + 2,
        std: null,
        batch: c.trajectories,
        record: false,
        signal: o.signal,
        onProgress: (d) => report('recipe: its mean schedule', { done: d, total: n, unit: 'samples' }),
      });
      recipe = meanSchedule(own.levels);
    } finally {
      await policy.dispose();
    }
    // 2  Static schedules: its mean schedule, the presets at the most steps within its budget, the files.
    const statics: { kind: Row['kind']; name: string; settings: Parameters<typeof resolveSettings>[1] }[] = [
      {
        kind: 'recipe',
        name: 'recipe (its mean schedule)',
        settings: { sampler: c.sampler, steps: recipe.length - 1, sigmas: recipe },
      },
      ...SCHEDULES.map((s) => ({
        kind: 'preset' as const,
        name: `${s}${s === 'edm' ? ' (ρ = 7)' : ''}, ${steps} steps`,
        settings: { sampler: c.sampler, steps, schedule: s },
      })),
      ...files.map((f) => ({
        kind: 'schedule-file' as const,
        name: f.file,
        settings: { sampler: c.sampler, steps: f.sigmas.length - 1, sigmas: f.sigmas },
      })),
    ];
    for (const s of statics) {
      done++;
      report(s.name, { done: 0, total: n, unit: 'samples' });
      // Unguided, as the scheduler samples (w = 1).
      const gen = await generate(model, resolveSettings(model, s.settings), {
        n,
        batch: 1024,
        seed,
        classes: 'random',
        signal: o.signal,
        onProgress: (p) => report(s.name, { done: p.samplesDone, total: n, unit: 'samples' }),
      });
      const { r, png } = await score(gen.samples, gen.labels);
      r.flags.forEach((f) => flags.add(f));
      const mean = (a: Int32Array): number => a.reduce((t, v) => t + v, 0) / a.length;
      rows.push({
        kind: s.kind,
        name: s.name,
        nfe: mean(gen.nfe),
        networkEvals: mean(gen.networkEvals),
        summary: r.summary,
        sigmas: Array.from(gen.schedule),
        ...(png ? { pngBase64: png } : {}),
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
      profile: [],
      sigmas: [],
      actions: [],
      flags: [...flags],
      actionByClass: null,
    };
  } finally {
    await ex.dispose();
  }
}
