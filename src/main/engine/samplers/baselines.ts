// The baselines a learned sampler is compared against (the paper's Table 2 columns):
//   no-guidance     Heun with w = 1 (plain EDM deterministic sampling)
//   best-constant   the best constant guidance scale found by a grid search (`grid` results)
//   edm-stochastic  EDM's published stochasticity settings (Karras et al. 2022, Table 5, ImageNet-64)
//   equal-nfe       EDM with fewer steps, at (at most) a given NFE budget: Heun costs 2N − 1
// Each gives sampler settings; the caller's flags may still override them.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { stepsWithin } from './cost';
import { EDM_STOCHASTIC_PRESETS, type SamplerSettings } from './types';
import { readGridResultsFile } from '../grid/results-file';

export const BASELINES = ['no-guidance', 'best-constant', 'edm-stochastic', 'equal-nfe'] as const;
export type BaselineName = (typeof BASELINES)[number];

export interface BaselineOptions {
  /** equal-nfe: the NFE budget per sample. */
  nfe?: number;
  /** best-constant: a grid run directory (or its results.json). */
  grid?: string;
}

/** The most Heun steps within `nfe` evaluations. */
export function stepsForNfe(nfe: number): number {
  const n = stepsWithin('heun', nfe);
  if (n < 1) throw new RangeError(`an NFE budget of ${nfe} is below one Heun step`);
  return n;
}

export function baselineSettings(name: BaselineName, o: BaselineOptions = {}): Partial<SamplerSettings> {
  switch (name) {
    case 'no-guidance':
      return { sampler: 'heun', guidance: 1, churn: 0 };
    case 'edm-stochastic':
      return { sampler: 'edm', guidance: 1, ...EDM_STOCHASTIC_PRESETS.imagenet64 };
    case 'equal-nfe':
      if (o.nfe === undefined) throw new RangeError('the equal-nfe baseline needs an NFE budget (--nfe N)');
      return { sampler: 'heun', steps: stepsForNfe(o.nfe), churn: 0 };
    case 'best-constant': {
      if (!o.grid)
        throw new RangeError('the best-constant baseline needs a grid search result (--grid-result DIR from `grid`)');
      const file = o.grid.endsWith('.json') ? o.grid : join(o.grid, 'results.json');
      if (!existsSync(file))
        throw new RangeError(`${file}: not found; run \`grid\` first and pass its output directory`);
      const r = readGridResultsFile(file);
      if (!r.best) throw new RangeError(`${file}: has no best configuration yet (is the grid finished?)`);
      return r.best.settings;
    }
  }
}
