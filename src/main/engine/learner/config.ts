// The learner's hyper-parameters are declared once, in src/shared/learner-config.ts (the type, the
// defaults, the checks, the flags and the form all come from there). This module adds what needs
// the engine: the check against the sampler's cost, and the initial action from a baseline.

import { ConfigError, parseLearnerConfig, type LearnerConfig } from '../../../shared/learner-config';
import { isBetter } from '../../../shared/metrics';
import { samplerNfe } from '../samplers/cost';
import type { GridBest, GridResults } from '../grid/results';
import { describeValues } from '../grid/axes';
import { bestConstantCell, bestIntervalCell, guidesEverywhere, readGridResult } from '../samplers/baselines';

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

/**
 * A config started from a grid result's best (`train --init-from-grid DIR`, the Tune screen's "Start
 * from a grid result"): the best constant sets initAction; a best guidance interval sets the window
 * profile too, so it must not meet a window the user gave (`given`: the settings they chose; `name`
 * spells a setting as they know it, a flag or a label). Returns the config and a line for the log;
 * throws RangeError (the grid unreadable or without a best, a conflicting setting).
 */
export function startFromGrid(
  config: LearnerConfig,
  given: Record<string, unknown>,
  grid: string,
  name: (key: string) => string = (k) => k,
): { config: LearnerConfig; note: string } {
  if (given['initAction'] !== undefined)
    throw new RangeError(`give either ${name('initAction')} or a grid to start from, not both`);
  const r = readGridResult(grid, 'best-constant');
  const start = initFromGrid(config, r);
  const s = start.cell.settings;
  const score = `${r.config.metric} ${start.cell.value}`;
  if (start.from === 'interval') {
    // The grid's best is a guidance interval: the window profile clones it (initFromGrid).
    const interval = `w = ${s.guidance}, σ ∈ (${s.guidanceSigmaLo}, ${s.guidanceSigmaHi === Infinity ? 'inf' : s.guidanceSigmaHi}]`;
    const own = (['initProfile', 'initSigmaLo', 'initSigmaHi'] as const).filter((k) => given[k] !== undefined);
    if (own.length > 0)
      throw new RangeError(
        `its best is the guidance interval ${interval}, which sets the initial window; drop ${own.map(name).join(', ')} (or give ${name('initAction')} to start from a constant)`,
      );
    const { initAction, initProfile, initSigmaLo, initSigmaHi } = start;
    const c = parseLearnerConfig({ ...config, initAction, initProfile, initSigmaLo, initSigmaHi }, name);
    return {
      config: c,
      note: `initial policy from ${grid}: its best, the guidance interval ${interval} (${score}) — w = ${c.actions[initAction]} inside, w = 1 outside`,
    };
  }
  const symbol = { cfg: 'w', gamma: 'γ', renoise: 'jump' }[config.intervention];
  return {
    config: { ...config, initAction: start.initAction },
    note: `initial policy from ${grid}: its best constant, ${describeValues(start.cell.values)} (${score}) — initial action ${symbol} = ${config.actions[start.initAction]}`,
  };
}
