// Running a grid search: every cell not yet saved is sampled with the config's seed, scored, and
// saved at once (grid/results-file.ts), with progress and cancellation.
//
// [Note: common random numbers]
// Every cell draws its samples with the same seed, so sample i starts from the same noise (and the
// same class) in every cell: differences between cells are differences between settings, not
// between noise draws, and a cell recomputed after a resume gives exactly the same numbers.

import { infReplacer } from '../../../shared/json';
import { GAMMA_MAX } from '../../../shared/limits';
import { evaluateSamples, referenceFor, type Reference } from '../metrics/evaluate';
import { extractorForModel, type FeatureExtractor } from '../metrics/features';
import type { Denoiser, Model } from '../models/model';
import {
  generate,
  scheduleFor,
  type GenerateOptions,
  type GenerateResult,
  type ResolvedSettings,
} from '../samplers/generate';
import { guidedLevels } from '../samplers/guidance';
import { SamplingCancelled } from '../samplers/loop';
import { crossProduct, describeValues, resolveCells, type CellValues } from './axes';
import { GridError } from './error';
import {
  assembleResults,
  checkGridConfig,
  diffGridConfig,
  sameJson,
  type GridCell,
  type GridConfig,
  type GridResults,
} from './results';
import { loadGridResults, resultsPath, saveGridResults } from './results-file';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSamplePlot } from '../pictures';

/** Where a cell's picture is kept, relative to the grid's directory. */
export function cellPicturePath(index: number): string {
  return `cells/cell-${String(index).padStart(4, '0')}.png`;
}

export interface GridProgress {
  /** Cells finished (saved ones included). */
  cellsDone: number;
  cells: number;
  /** Index of the cell being computed, null between cells. */
  cell: number | null;
  /** Samples drawn in that cell. */
  samplesDone: number;
  n: number;
  /** Seconds since this run started. */
  elapsedSeconds: number;
  /** Estimated seconds left (from this run's own rate), null until there is a rate. */
  etaSeconds: number | null;
}

export interface RunGridOptions {
  model: Model;
  config: GridConfig;
  /** Directory for results.json / results.csv (saved after every cell); null: keep in memory only. */
  outDir?: string | null;
  /** Discard saved results of another (or the same) grid in outDir instead of continuing them. */
  restart?: boolean;
  /** Samples per generation batch (does not change the samples: streams are per sample). */
  batch?: number;
  signal?: AbortSignal;
  /** Reused when given (else made from the model and disposed at the end). */
  extractor?: FeatureExtractor;
  reference?: Reference;
  /**
   * Before the first cell: how many cells are already done (resumed from outDir), and a line for
   * each group of cells that will sample identically (identicalCells).
   */
  onStart?: (info: { cells: number; resumed: number; results: GridResults; identical: string[] }) => void;
  /** After each newly computed cell has been saved. */
  onCell?: (cell: GridCell, results: GridResults) => void;
  onProgress?: (p: GridProgress) => void;
  /** Draw each new cell's samples into outDir/cells/cell-NNNN.png (the X/Y plot's pictures; grid/xy.ts). */
  pictures?: boolean;
  /** How a cell's samples are drawn (default: generate here; grid --redis: on workers, distributed/sampler.ts). */
  draw?: (
    settings: ResolvedSettings,
    o: Pick<GenerateOptions, 'n' | 'batch' | 'seed' | 'signal' | 'onProgress'> & { classes: GridConfig['classes'] },
  ) => Promise<GenerateResult>;
}

/**
 * Groups of cells that sample identically, one line each, with why. Settings can differ and still
 * give the same sampler:
 *   - churn is capped, γ_i = min(S_churn/N, √2−1) (EDM's Algorithm 2, in every sampler that takes
 *     churn), so every S_churn ≥ N(√2−1) (7.46 at 18 steps) is one setting: a grid over
 *     churn=0,…,80 spends its larger cells on it and ranks them as ties;
 *   - w = 1 guides nowhere, so its guidance interval does not matter;
 *   - for a sampler that calls the denoiser on its schedule's levels only (samplers/guidance.ts
 *     guidedLevels), two intervals that hold the same levels are one sampler, one that holds none
 *     is w = 1, one that holds all is a constant — checked on the schedule itself, so a level that
 *     rounding puts a hair above σ_max still counts.
 * Only these: a false "identical" would be worse than a missing one.
 */
export function identicalCells(
  model: Denoiser,
  settings: readonly ResolvedSettings[],
  values: readonly CellValues[],
): string[] {
  const cap = (s: ResolvedSettings): number => s.steps * GAMMA_MAX;
  const groups = new Map<string, number[]>();
  settings.forEach((s, i) => {
    const e: ResolvedSettings & { guided?: string } = { ...s };
    if (!e.churnCurve) e.churn = Math.min(e.churn, cap(e));
    const guided = guidedLevels(e, scheduleFor(model, e));
    if (guided && !guided.some(Boolean)) e.guidance = 1;
    if (!e.guidanceCurve && e.guidance === 1) [e.guidanceSigmaLo, e.guidanceSigmaHi] = [0, Infinity];
    else if (guided) {
      [e.guidanceSigmaLo, e.guidanceSigmaHi] = [0, Infinity];
      if (!guided.every(Boolean)) e.guided = guided.map(Number).join('');
    }
    const key = JSON.stringify(e, infReplacer);
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const out: string[] = [];
  for (const cells of groups.values()) {
    if (cells.length < 2) continue;
    const group = cells.map((i) => settings[i]!);
    const s = group[0]!;
    const differ = (k: keyof ResolvedSettings): boolean => group.some((x) => x[k] !== s[k]);
    const why = [
      differ('churn') &&
        `churn is capped: γ_i = min(S_churn/N, √2−1), so churn above ${cap(s).toFixed(2)} changes nothing at ${s.steps} steps`,
      differ('guidance') && "an interval that holds none of the schedule's noise levels guides nowhere, as w = 1",
      (differ('guidanceSigmaLo') || differ('guidanceSigmaHi')) &&
        !differ('guidance') &&
        (s.guidance === 1
          ? 'w = 1 guides nowhere, so its interval does not matter'
          : 'their intervals hold the same noise levels of the schedule, where every evaluation is'),
    ].filter((x): x is string => typeof x === 'string');
    const names = cells.map((i) => describeValues(values[i]!)).join(', ');
    out.push(`cells ${names} sample identically: ${why.length > 0 ? why.join('; ') : 'the same settings'}`);
  }
  return out;
}

export interface GridRun {
  results: GridResults;
  /** Cells computed by this run. */
  computed: number;
  /** Cells taken from the saved results. */
  resumed: number;
}

/**
 * Runs (or continues) a grid: every cell not yet in `outDir` is sampled with the config's seed,
 * scored, and saved at once. Throws SamplingCancelled when `signal` aborts (finished cells stay
 * saved), GridError for a mismatching or damaged saved grid or a bad cell.
 */
export async function runGrid(o: RunGridOptions): Promise<GridRun> {
  const { model, config } = o;
  checkGridConfig(config);
  const allValues = crossProduct(config.axes);
  const total = allValues.length;
  const settings = resolveCells(model, config.base, config.axes);
  if (o.signal?.aborted) throw new SamplingCancelled();

  // Saved cells.
  let cells: GridCell[] = [];
  if (o.outDir && !o.restart) {
    const saved = await loadGridResults(o.outDir);
    if (saved) {
      const diff = diffGridConfig(saved.config, config);
      if (diff.length > 0)
        throw new GridError(`${resultsPath(o.outDir)} holds another grid: ${diff.join('; ')}`, 'mismatch');
      // A grid whose axes gained values keeps the saved cells at their new places (extendsAxes).
      const extended = !sameJson(saved.config.axes, config.axes);
      const keyOf = (v: CellValues): string => JSON.stringify(Object.entries(v).sort(), infReplacer); // key order free
      const indexOf = new Map(allValues.map((v, i) => [keyOf(v), i]));
      const seen = new Set<number>();
      for (const c of saved.cells) {
        const index = indexOf.get(keyOf(c.values));
        if (index === undefined || (!extended && index !== c.index) || seen.has(index)) {
          throw new GridError(
            `${resultsPath(o.outDir)} is corrupted (cell ${c.index} with ${describeValues(c.values)} is not a cell of this grid, or appears twice); it was left as it is`,
            'corrupt',
          );
        }
        seen.add(index);
        cells.push({ ...c, index });
      }
    }
  }
  // The current config is what gets saved: a changed ranking metric re-ranks the saved cells.
  const resumed = cells.length;
  let results = assembleResults(config, cells);
  // Written at once: checks the directory is writable, and --restart discards the old results now.
  if (o.outDir) await saveGridResults(o.outDir, results);
  o.onStart?.({ cells: total, resumed, results, identical: identicalCells(model, settings, allValues) });

  const ownExtractor = !o.extractor;
  const extractor = o.extractor ?? (await extractorForModel(model));
  let computed = 0;
  try {
    const reference = o.reference ?? (await referenceFor(model, extractor));
    // With pictures asked for, a saved cell without one is drawn again (a grid first run without --images).
    const done = new Set(cells.filter((c) => !o.pictures || c.picture !== undefined).map((c) => c.index));
    if (done.size < cells.length) cells = cells.filter((c) => done.has(c.index));
    const todo = allValues.map((_, i) => i).filter((i) => !done.has(i));
    const t0 = performance.now();
    const n = config.n;
    let samplesThisRun = 0;
    const progress = (cell: number | null, samplesDone: number): void => {
      if (!o.onProgress) return;
      const elapsed = (performance.now() - t0) / 1000;
      const work = samplesThisRun + samplesDone;
      const left = todo.length * n - work;
      o.onProgress({
        cellsDone: results.cells.length,
        cells: total,
        cell,
        samplesDone,
        n,
        elapsedSeconds: elapsed,
        etaSeconds: work > 0 ? (elapsed * left) / work : null,
      });
    };
    progress(null, 0);
    for (const index of todo) {
      if (o.signal?.aborted) throw new SamplingCancelled();
      const c0 = performance.now();
      const s = settings[index]!;
      progress(index, 0);
      const draw = o.draw ?? ((st, g) => generate(model, st, g));
      const gen = await draw(s, {
        n,
        batch: o.batch ?? 256,
        seed: config.seed,
        classes: config.classes,
        signal: o.signal,
        onProgress: (p) => progress(index, p.samplesDone),
      });
      const res = await evaluateSamples(
        { model, extractor, reference, samples: gen.samples, n, conditioning: gen.labels },
        config.metrics,
      );
      let nfe = 0;
      let net = 0;
      for (let i = 0; i < n; i++) {
        nfe += gen.nfe[i]!;
        net += gen.networkEvals[i]!;
      }
      const cell: GridCell = {
        index,
        values: allValues[index]!,
        settings: s,
        summary: res.summary,
        nfePerSample: nfe / n,
        networkEvalsPerSample: net / n,
        denoiserEvaluations: nfe,
        networkEvals: net,
        seconds: (performance.now() - c0) / 1000,
        flags: res.flags,
      };
      if (o.pictures && o.outDir) {
        // Same seed in every cell ([Note: common random numbers]): picture i shows the same noise and class everywhere.
        cell.picture = cellPicturePath(index);
        await mkdir(join(o.outDir, 'cells'), { recursive: true });
        await writeSamplePlot(model, join(o.outDir, cell.picture), gen.samples, gen.labels, n);
      }
      cells = [...cells, cell];
      results = assembleResults(config, cells);
      if (o.outDir) await saveGridResults(o.outDir, results);
      computed++;
      samplesThisRun += n;
      o.onCell?.(cell, results);
      progress(null, 0);
    }
  } finally {
    if (ownExtractor) await extractor.dispose();
  }
  return { results, computed, resumed };
}
