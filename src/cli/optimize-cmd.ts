// The optimize-schedule command: a static schedule for one model, sampler and NFE budget
// (engine/schedules/optimize.ts), written as a schedule file (shared/sigmas.ts) with a report beside it.

import { existsSync } from 'node:fs';
import { Model } from '../main/engine/models/model';
import { resolveModelDir } from '../main/engine/models/registry';
import { optimizeSchedule, type OptimizeReport } from '../main/engine/schedules/optimize';
import { DEFAULT_OPTIMIZE, OPTIMIZE_SAMPLERS, type OptimizeSampler } from '../shared/schedule-search';
import { writeFileAtomic } from '../main/engine/io/atomic';
import { MAX_BATCH, MAX_EVAL_SAMPLES, MAX_SEED, MAX_STEPS } from '../shared/limits';
import { sigmasText } from '../shared/sigmas';
import {
  checkOutputPath,
  deviceFromFlag,
  num,
  parseFlags,
  printUsage,
  Reporter,
  UsageError,
  writeOutput,
} from './common';
import { samplerSettingsFromFlags, SAMPLING_RUN_OPTIONS } from './sampler-flags';

export const OPTIMIZE_OPTIONS = {
  ...SAMPLING_RUN_OPTIONS,
  nfe: { type: 'string' },
  out: { type: 'string' },
  holdout: { type: 'string' },
  'reference-steps': { type: 'string' },
  sweeps: { type: 'string' },
  patience: { type: 'string' },
  'max-evaluations': { type: 'string' },
  force: { type: 'boolean' },
} as const;

/** The flags the search sets itself: the schedule is what it finds. */
const SEARCHED = ['steps', 'schedule', 'rho', 'sigmas'] as const;

/** FILE.json → FILE.report.json */
export const reportPathFor = (out: string): string => out.replace(/\.json$/i, '') + '.report.json';

const g = (v: number): string => v.toPrecision(4);

/** The human report: the presets' distances, each sweep, the schedule found and what the search cost. */
export function describeOptimize(r: OptimizeReport, out: string): string {
  const c = r.cost;
  const lines = [
    `${r.model}: ${r.sampler} at NFE ${r.nfe} (${r.steps} levels); J = mean squared distance to a ${r.settings.referenceSteps}-step Heun solution on ${r.settings.rows} rows (seed ${r.settings.seed}); held-out FID on ${r.settings.holdout} samples (seed ${r.settings.holdoutSeed})`,
    ...r.presets.map(
      (p) =>
        `  preset ${p.schedule.padEnd(10)} J ${g(p.distance)}${p.schedule === r.start.preset ? `  ← start, held-out FID ${g(r.start.holdoutFid)}` : ''}`,
    ),
    ...r.sweeps.map(
      (s) =>
        `  sweep ${s.sweep}: δ ${s.delta}, ${s.moved} knot${s.moved === 1 ? '' : 's'} moved, J ${g(s.distance)}, held-out FID ${g(s.holdoutFid)}${s.sweep === r.best.sweep ? '  ← best' : ''}`,
    ),
    `stopped: ${{ patience: 'the held-out FID stopped improving', converged: 'no knot moves any more', sweeps: 'the last sweep', budget: `another sweep could pass the budget of ${c.budget.toLocaleString('en')} evaluations` }[r.stopped]}; kept ${r.best.sweep === 0 ? `the starting preset (${r.start.preset}): no sweep beat it on the held-out samples` : `sweep ${r.best.sweep}`} (held-out FID ${g(r.best.holdoutFid)})`,
    `schedule → ${out}: [${r.sigmas.map((s) => (s === 0 ? '0' : g(s))).join(', ')}]`,
    `search cost: ${c.total.toLocaleString('en')} denoiser evaluations (reference ${c.reference.toLocaleString('en')}, presets ${c.presets.toLocaleString('en')}, search ${c.search.toLocaleString('en')}, held-out ${c.holdout.toLocaleString('en')}), ${c.seconds.toFixed(1)} s; a ${c.rhoGrid.values}-value grid over ρ at n = ${c.rhoGrid.n.toLocaleString('en')} costs ${c.rhoGrid.evaluations.toLocaleString('en')} (${((100 * c.total) / c.rhoGrid.evaluations).toFixed(0)}% of it)`,
    `report → ${reportPathFor(out)}`,
  ];
  return lines.join('\n');
}

export async function cmdOptimizeSchedule(argv: string[], signal: AbortSignal): Promise<void> {
  const { values: v } = parseFlags(argv, OPTIMIZE_OPTIONS);
  if (v.help) {
    await printUsage('optimize-schedule');
    return;
  }
  if (!v.model) throw new UsageError('optimize-schedule needs --model ID|DIR');
  if (!v.nfe) throw new UsageError('optimize-schedule needs --nfe N: the denoiser evaluations per sample to spend');
  if (!v.out) throw new UsageError('optimize-schedule needs --out FILE.json: where the schedule is written');
  checkOutputPath('out', v.out, ['.json']);
  for (const f of [v.out, reportPathFor(v.out)])
    if (existsSync(f) && !v.force) throw new UsageError(`${f} exists; give another --out, or --force to replace it`);
  const flags = v as Readonly<Record<string, unknown>>;
  for (const f of SEARCHED)
    if (flags[f] !== undefined)
      throw new UsageError(
        `--${f} cannot be given to optimize-schedule: the search chooses the levels (--nfe sets their number)`,
      );
  const sampler = (flags['sampler'] ?? 'heun') as OptimizeSampler;
  if (!(OPTIMIZE_SAMPLERS as readonly string[]).includes(sampler))
    throw new UsageError(
      `--sampler ${sampler}: the search needs a deterministic sampler, one of ${OPTIMIZE_SAMPLERS.join(', ')}`,
    );
  const nfe = num(v.nfe, 'nfe', { int: true, min: 1, max: 2 * MAX_STEPS })!;
  const rep = new Reporter(!!v.json);
  const model = await Model.load(resolveModelDir(v.model), { device: deviceFromFlag(v.device) });
  try {
    const { steps: _steps, ...base } = samplerSettingsFromFlags(model, { ...v, sampler });
    const t0 = performance.now();
    const report = await optimizeSchedule(model, {
      base: { ...base, sampler },
      nfe,
      rows: num(v.n, 'n', { int: true, min: 2, max: MAX_BATCH }) ?? DEFAULT_OPTIMIZE.rows,
      holdout: num(v.holdout, 'holdout', { int: true, min: 2, max: MAX_EVAL_SAMPLES }) ?? DEFAULT_OPTIMIZE.holdout,
      seed: num(v.seed, 'seed', { int: true, min: 0, max: MAX_SEED - 1 }) ?? DEFAULT_OPTIMIZE.seed,
      referenceSteps:
        num(v['reference-steps'], 'reference-steps', { int: true, min: 2, max: MAX_STEPS }) ??
        DEFAULT_OPTIMIZE.referenceSteps,
      sweeps: num(v.sweeps, 'sweeps', { int: true, min: 1, max: 100 }) ?? DEFAULT_OPTIMIZE.sweeps,
      patience: num(v.patience, 'patience', { int: true, min: 1, max: 100 }) ?? DEFAULT_OPTIMIZE.patience,
      batch: num(v.batch, 'batch', { int: true, min: 1, max: MAX_BATCH }) ?? DEFAULT_OPTIMIZE.batch,
      maxEvaluations: num(v['max-evaluations'], 'max-evaluations', { int: true, min: 1, max: 1e12 }),
      signal,
      onProgress: (p) =>
        rep.event({
          type: 'progress',
          task: 'optimize-schedule',
          done: p.done,
          total: p.total,
          unit: p.phase,
          elapsedSeconds: (performance.now() - t0) / 1000,
          etaSeconds: null,
        }),
    });
    await writeOutput(v.out, async () => {
      await writeFileAtomic(v.out!, sigmasText(report.sigmas));
      await writeFileAtomic(reportPathFor(v.out!), JSON.stringify(report, null, 1) + '\n');
    });
    rep.result(
      { command: 'optimize-schedule', out: v.out, report: reportPathFor(v.out), ...report },
      describeOptimize(report, v.out),
    );
  } finally {
    await model.dispose();
  }
}
