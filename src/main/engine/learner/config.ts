// The learner's hyper-parameters are declared once, in src/shared/learner-config.ts (the type, the
// defaults, the checks, the flags and the form all come from there). This module adds what needs
// the engine: the check against the sampler's cost, and the initial action from a baseline.

import { ConfigError, parseLearnerConfig, type LearnerConfig } from '../../../shared/learner-config';
import { isBetter } from '../../../shared/metrics';
import { samplerNfe } from '../samplers/cost';
import { bestConstantCell, bestIntervalCell, guidesEverywhere } from '../samplers/baselines';
import type { GridBest, GridResults } from '../grid/results';

export {
  ACTION_PRESETS,
  CONDITIONINGS,
  ConfigError,
  defaultConfig,
  DIVERGENCES,
  INTERVENTIONS,
  learnerConfigFrom,
  parseLearnerConfig,
} from '../../../shared/learner-config';
export type { Conditioning, Divergence, Intervention, LearnerConfig } from '../../../shared/learner-config';

/** Checks a config: the schema's checks, then the NFE budget against the sampler (errors name the field). */
export function checkConfig(c: LearnerConfig): void {
  parseLearnerConfig(c);
  if (c.intervention === 'renoise') {
    const plain = samplerNfe(c.sampler, c.steps);
    if (!(c.nfeBudget >= plain))
      throw new ConfigError(
        `nfeBudget: renoise needs at least the plain sampler's ${plain} NFE (${c.sampler}, ${c.steps} steps), got ${c.nfeBudget}`,
      );
  }
}

/** Index of the action value nearest `value` (the initial policy favours it). */
export function nearestAction(actions: readonly number[], value: number): number {
  let best = 0;
  for (let a = 1; a < actions.length; a++)
    if (Math.abs(actions[a]! - value) < Math.abs(actions[best]! - value)) best = a;
  return best;
}

/**
 * The initial action from a baseline's settings (the paper's heuristic: start from the best hand-tuned
 * sampler): cfg → its guidance scale, gamma → its churn γ = min(S_churn/N, √2−1); renoise → continue.
 */
export function initActionFrom(
  c: Pick<LearnerConfig, 'intervention' | 'actions' | 'steps'>,
  s: { guidance?: number; churn?: number },
): number {
  switch (c.intervention) {
    case 'cfg':
      return nearestAction(c.actions, s.guidance ?? 1);
    case 'gamma':
      return nearestAction(c.actions, Math.min((s.churn ?? 0) / c.steps, Math.SQRT2 - 1));
    case 'renoise':
      return Math.max(0, c.actions.indexOf(0));
  }
}

/** What --init-from-grid sets: the initial action, and for a guidance interval the window around it. */
export type GridStart =
  | { from: 'constant'; cell: GridBest; initAction: number }
  | {
      from: 'interval';
      cell: GridBest;
      initAction: number;
      initProfile: 'window';
      initSigmaLo: number;
      initSigmaHi: number;
    };

/**
 * The initial policy from a grid search's result: its best constant, or (cfg) its best guidance
 * interval when the grid searched intervals and that beats its best constant by the grid's metric
 * (or it has no constant cell) — initAction nearest the cell's w, and for the interval the window
 * [initSigmaLo, initSigmaHi] = its (σ_lo, σ_hi], w = 1 outside.
 *
 * [Note: the interval without a flag of its own]
 * --init-from-grid means "start from the best sampler the grid found" (the paper's heuristic); when
 * a guidance interval beat every constant there, that interval is it, and the window profile clones
 * exactly that (the window is closed where the interval is open at σ_lo: the two differ only at a
 * level exactly on σ_lo). A separate flag would ask the user to choose what the grid has measured;
 * to start from the constant anyway, give --init-action.
 */
export function initFromGrid(c: Pick<LearnerConfig, 'intervention' | 'actions' | 'steps'>, r: GridResults): GridStart {
  const constant = bestConstantCell(r);
  const interval = c.intervention === 'cfg' ? bestIntervalCell(r) : null;
  const better =
    interval &&
    !guidesEverywhere(interval.settings) &&
    interval.settings.guidanceCurve === null &&
    (!constant || isBetter(r.config.metric, interval.value, constant.value));
  if (better)
    return {
      from: 'interval',
      cell: interval,
      initAction: initActionFrom(c, interval.settings),
      initProfile: 'window',
      initSigmaLo: interval.settings.guidanceSigmaLo,
      initSigmaHi: interval.settings.guidanceSigmaHi,
    };
  if (!constant)
    throw new RangeError(
      'its grid has no finished cell that guides at every σ (guidance-sigma-lo 0, guidance-sigma-hi inf, no curve), so it has no best constant; include 0 and inf in the interval axes',
    );
  return { from: 'constant', cell: constant, initAction: initActionFrom(c, constant.settings) };
}
