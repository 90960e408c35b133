// The baselines a learned sampler is compared against (the paper's Table 2 columns):
//   no-guidance     Heun with w = 1 (plain EDM deterministic sampling)
//   best-constant   the best constant guidance scale found by a grid search (`grid` results)
//   best-interval   the best guidance interval found by a grid search over guidance-sigma-lo/hi
//                   (Kynkäänniemi et al. 2024: w inside (σ_lo, σ_hi], 1 outside)
//   edm-stochastic  EDM's published stochasticity settings (Karras et al. 2022, Table 5, ImageNet-64)
//   equal-nfe       EDM with fewer steps, at (at most) a given NFE budget: Heun costs 2N − 1
// Each gives sampler settings; the caller's flags may still override them.
//
// [Note: one grid, two baselines]
// A grid over guidance × guidance-sigma-lo × guidance-sigma-hi whose lists hold 0 and inf gives
// both: best-constant is its best cell among those that guide at every σ (σ_lo = 0, σ_hi = ∞, no
// curve), best-interval its best cell overall (a constant is the widest interval, so it may win).
// A grid without interval axes guides at every σ in every cell: best-constant is its best cell.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { stepsWithin } from './cost';
import { EDM_STOCHASTIC_PRESETS, type SamplerSettings } from './types';
import { readGridResultsFile } from '../grid/results-file';
import { pickBest, type GridBest, type GridResults } from '../grid/results';

export const BASELINES = ['no-guidance', 'best-constant', 'best-interval', 'edm-stochastic', 'equal-nfe'] as const;
export type BaselineName = (typeof BASELINES)[number];

/** The grid axes of the guidance interval. */
export const INTERVAL_AXES = ['guidance-sigma-lo', 'guidance-sigma-hi'] as const;

export interface BaselineOptions {
  /** equal-nfe: the NFE budget per sample. */
  nfe?: number;
  /** best-constant, best-interval: a grid run directory (or its results.json). */
  grid?: string;
}

/** The most Heun steps within `nfe` evaluations. */
export function stepsForNfe(nfe: number): number {
  const n = stepsWithin('heun', nfe);
  if (n < 1) throw new RangeError(`an NFE budget of ${nfe} is below one Heun step`);
  return n;
}

/** Whether settings guide every evaluation with one w: no interval, no curve. */
export function guidesEverywhere(s: SamplerSettings): boolean {
  return s.guidanceCurve === null && s.guidanceSigmaLo === 0 && s.guidanceSigmaHi === Infinity;
}

/** The best finished cell whose guidance is constant, or null. */
export function bestConstantCell(r: GridResults): GridBest | null {
  return pickBest(
    r.cells.filter((c) => guidesEverywhere(c.settings)),
    r.config.metric,
  );
}

/** The best finished cell of a grid with an interval axis, or null when it has none. */
export function bestIntervalCell(r: GridResults): GridBest | null {
  return r.config.axes.some((a) => (INTERVAL_AXES as readonly string[]).includes(a.name)) ? r.best : null;
}

/** A grid result for a baseline: a run directory or its results.json, finished far enough to have a best cell. */
export function readGridResult(grid: string | undefined, baseline?: 'best-constant' | 'best-interval'): GridResults {
  if (!grid)
    throw new RangeError(
      `the ${baseline ?? 'grid'} baseline needs a grid search result (--grid-result DIR from \`grid\`)`,
    );
  const file = grid.endsWith('.json') ? grid : join(grid, 'results.json');
  if (!existsSync(file)) throw new RangeError(`${file}: not found; run \`grid\` first and pass its output directory`);
  const r = readGridResultsFile(file);
  if (!r.best) throw new RangeError(`${file}: has no best configuration yet (is the grid finished?)`);
  return r;
}

export function baselineSettings(name: BaselineName, o: BaselineOptions = {}): Partial<SamplerSettings> {
  switch (name) {
    // Each names every setting it makes, curves included (none), so a flag changing one is refused
    // rather than sampled under the baseline's name (cli/sampler-flags.ts).
    case 'no-guidance':
      return { sampler: 'heun', guidance: 1, guidanceCurve: null, churn: 0, churnCurve: null };
    case 'edm-stochastic':
      return {
        sampler: 'edm',
        guidance: 1,
        guidanceCurve: null,
        churnCurve: null,
        ...EDM_STOCHASTIC_PRESETS.imagenet64,
      };
    case 'equal-nfe':
      if (o.nfe === undefined) throw new RangeError('the equal-nfe baseline needs an NFE budget (--nfe N)');
      return { sampler: 'heun', steps: stepsForNfe(o.nfe), churn: 0, churnCurve: null };
    case 'best-constant': {
      const r = readGridResult(o.grid, name);
      const best = bestConstantCell(r);
      if (!best)
        throw new RangeError(
          `${o.grid}: no finished cell guides at every σ (guidance-sigma-lo 0, guidance-sigma-hi inf, no curve), so it has no best constant; include 0 and inf in the interval axes, or use --baseline best-interval`,
        );
      return best.settings;
    }
    case 'best-interval': {
      const r = readGridResult(o.grid, name);
      const best = bestIntervalCell(r);
      if (!best)
        throw new RangeError(
          `${o.grid}: its grid has axes ${r.config.axes.map((a) => a.name).join(', ')}, no guidance interval; run \`grid\` with --axis guidance-sigma-lo=… and/or --axis guidance-sigma-hi=… (e.g. guidance-sigma-lo=0,0.28,1 guidance-sigma-hi=2.9,5.4,inf)`,
        );
      return best.settings;
    }
  }
}
