// The grid command: a grid search over sampler settings (the sibling of `eval`), resumable, with
// every cell's metrics, the best cell and the denoiser evaluations the search cost.

import { describeSampler } from '../shared/sampler-settings';
import { existsSync, statSync } from 'node:fs';
import { formatMetric, metricInfo } from '../shared/metrics';
import { parseMetrics, type MetricName } from '../main/engine/metrics/evaluate';
import { Model } from '../main/engine/models/model';
import { resolveModelDir } from '../main/engine/models/registry';
import { SamplingCancelled } from '../main/engine/samplers/loop';
import {
  describeValues,
  formatAxisValue,
  GridError,
  gridResultsJson,
  gridSize,
  isSelectionMetric,
  metricSource,
  parseAxes,
  resolveCells,
  resultsPath,
  runGrid,
  SELECTION_METRICS,
  summaryKeys,
  type GridConfig,
  type GridResults,
  type SelectionMetric,
} from '../main/engine/grid';
import { deviceFromFlag, num, parseFlags, printUsage, Reporter, UsageError } from './common';
import { REMOTE_OPTIONS, remoteSamplerFromFlags } from './remote-flags';
import type { RemoteSampler } from '../main/engine/distributed/sampler';
import { classesFromFlag, flagSetting, samplerSettingsFromFlags, SAMPLING_RUN_OPTIONS } from './sampler-flags';
import { MAX_BATCH, MAX_EVAL_SAMPLES, MAX_SEED } from '../shared/limits';
import { join } from 'node:path';
import { writeFileAtomic } from '../main/engine/io/atomic';
import { xyHtml } from '../main/engine/grid/xy';

export const GRID_OPTIONS = {
  ...SAMPLING_RUN_OPTIONS,
  ...REMOTE_OPTIONS,
  axis: { type: 'string', multiple: true },
  metric: { type: 'string' },
  metrics: { type: 'string' },
  out: { type: 'string' },
  restart: { type: 'boolean' },
  images: { type: 'boolean' },
} as const;

const fmtMetric = (key: string, v: number | undefined): string => (v === undefined ? '' : formatMetric(key, v));

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, j) => c.padStart(widths[j]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The human report: one line per cell, the best line, the cost. */
export function describeGrid(r: GridResults, run: { computed: number; resumed: number; out: string }): string {
  const axes = r.config.axes.map((a) => a.name);
  const metrics = summaryKeys(r.cells);
  const header = ['cell', ...axes, ...metrics, 'NFE/sample', 'net/sample', 'seconds', ''];
  const rows = r.cells.map((c) => [
    String(c.index),
    ...axes.map((a) => formatAxisValue(c.values[a]!)),
    ...metrics.map((m) => fmtMetric(m, c.summary[m])),
    c.nfePerSample.toFixed(2),
    c.networkEvalsPerSample.toFixed(2),
    c.seconds.toFixed(2),
    r.best?.index === c.index ? '← best' : '',
  ]);
  const { metric } = r.config;
  const t = r.totals;
  const lines = [
    `${r.config.model.name}: grid of ${r.config.axes.map((a) => `${a.values.length} ${a.name}`).join(' × ')} = ${t.cells} cells, n = ${r.config.n} samples each, seed ${r.config.seed}; base settings ${describeSampler(r.config.base)} (each axis replaces its own)`,
    table([header, ...rows]),
    r.best
      ? `best by ${metric} (${metricInfo(metric).better ?? 'lower'} is better): ${describeValues(r.best.values)} (cell ${r.best.index}) → ${metric} ${fmtMetric(metric, r.best.value)}`
      : `best by ${metric}: none (no finished cell has a ${metric} value)`,
    `total denoiser evaluations: ${t.denoiserEvaluations} (≈ ${t.done > 0 ? Math.round(t.denoiserEvaluations / t.done) : 0} per cell); network passes: ${t.networkEvals}`,
    `${t.done}/${t.cells} cells done (${run.computed} computed now, ${run.resumed} resumed), ${t.seconds.toFixed(1)} s of cell time; results in ${resultsPath(run.out)} and results.csv`,
  ];
  const flags = [...new Set(r.cells.flatMap((c) => c.flags))];
  return lines.join('\n') + flags.map((f) => `\n  note: ${f}`).join('');
}

export async function cmdGrid(argv: string[], signal: AbortSignal): Promise<void> {
  const { values: v } = parseFlags(argv, GRID_OPTIONS);
  if (v.help) return printUsage('grid');
  if (!v.model) throw new UsageError('grid needs --model');
  if (!v.axis || v.axis.length === 0)
    throw new UsageError(
      'grid needs at least one --axis NAME=START:END:STEP or NAME=V1,V2,… (e.g. --axis guidance=1:3:0.25)',
    );
  if (!v.out)
    throw new UsageError('grid needs --out DIR (results.json and results.csv go there; re-running continues it)');
  if (existsSync(v.out) && !statSync(v.out).isDirectory())
    throw new UsageError(`--out ${v.out} is a file; give a directory`);
  let axes;
  try {
    axes = parseAxes(v.axis);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  for (const a of axes) {
    const given = flagSetting(v, a.name);
    if (given !== null) throw new UsageError(`${given} and --axis ${a.name} are both given; drop one`);
  }
  const metric = (v.metric ?? 'fid') as SelectionMetric;
  if (!isSelectionMetric(metric))
    throw new UsageError(`--metric must be one of ${SELECTION_METRICS.join(', ')}, got "${v.metric}"`);
  let metrics: MetricName[];
  try {
    metrics = v.metrics ? parseMetrics(v.metrics) : [metricSource(metric)];
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!metrics.includes(metricSource(metric))) metrics = [...metrics, metricSource(metric)];
  const n = num(v.n, 'n', { int: true, min: 2, max: MAX_EVAL_SAMPLES }) ?? 2048;
  const seed = num(v.seed, 'seed', { int: true, min: 0, max: MAX_SEED }) ?? 0;
  const batch = num(v.batch, 'batch', { int: true, min: 1, max: MAX_BATCH }) ?? 256;
  const classes = classesFromFlag(v.class);
  if (classes instanceof Int32Array) throw new UsageError('--class takes one class, random or none');

  const rep = new Reporter(!!v.json);
  const model = await Model.load(resolveModelDir(v.model), { device: deviceFromFlag(v.device) });
  let saved = 0;
  let total = gridSize(axes);
  let remote: RemoteSampler | null = null;
  try {
    const base = samplerSettingsFromFlags(model, v);
    const config: GridConfig = {
      model: { name: model.name, dir: model.dir },
      base,
      axes,
      n,
      seed,
      classes,
      metrics,
      metric,
    };
    try {
      resolveCells(model, base, axes);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    remote = await remoteSamplerFromFlags(v, model, rep);
    const sampler = remote;
    const run = await runGrid({
      model,
      config,
      ...(sampler ? { draw: (settings, g) => sampler.generate(settings, g) } : {}),
      outDir: v.out,
      restart: !!v.restart,
      batch,
      signal,
      pictures: !!v.images,
      onStart: ({ cells, resumed, identical }) => {
        saved = resumed;
        total = cells;
        for (const message of identical) rep.event({ type: 'log', level: 'warn', message });
        if (resumed > 0)
          rep.event({
            type: 'log',
            level: 'info',
            message: `resuming ${resultsPath(v.out!)}: ${resumed} of ${cells} cells already done`,
          });
      },
      onCell: (_cell, results) => {
        saved = results.totals.done;
      },
      onProgress: (p) => {
        // The standard progress fields, plus where in the grid it is.
        const event = {
          type: 'progress' as const,
          task: 'grid',
          done: p.cellsDone,
          total: p.cells,
          unit: 'cells',
          elapsedSeconds: p.elapsedSeconds,
          etaSeconds: p.etaSeconds,
          cell: p.cell,
          samplesDone: p.samplesDone,
          samplesPerCell: p.n,
        };
        rep.event(event);
      },
    }).catch((e: unknown) => {
      if (e instanceof GridError) {
        const hint =
          e.kind === 'mismatch'
            ? '; give a new --out DIR, or --restart to discard the saved results'
            : e.kind === 'corrupt'
              ? '; move it away, or pass --restart to discard it'
              : '';
        throw new UsageError(e.message + hint);
      }
      const code = (e as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && /^E[A-Z]+$/.test(code))
        throw new UsageError(`could not write the results to --out ${v.out}: ${(e as Error).message}`);
      throw e;
    });
    const r = run.results;
    const xy = v.images ? join(v.out!, 'xy.html') : null;
    if (xy) await writeFileAtomic(xy, xyHtml(r));
    rep.result(
      {
        command: 'grid',
        out: v.out,
        computed: run.computed,
        resumed: run.resumed,
        ...(xy ? { xyPlot: xy } : {}),
        ...gridResultsJson(r),
      },
      describeGrid(r, { ...run, out: v.out }) + (xy ? `\nX/Y plot: ${xy}` : ''),
    );
  } catch (e) {
    if (e instanceof SamplingCancelled) {
      process.stderr.write(
        `grid stopped: ${saved} of ${total} cells are saved in ${resultsPath(v.out)}; run the same command again to continue\n`,
      );
    }
    throw e;
  } finally {
    await remote?.close();
    await model.dispose();
  }
}
