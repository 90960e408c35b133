// The settings of `optimize-schedule` (engine/schedules/optimize.ts) that the command line and its
// help share; no imports, so the help loads nothing heavy.

/** The deterministic samplers a schedule can be searched for (the search compares runs from the same noise). */
export const OPTIMIZE_SAMPLERS = ['euler', 'heun', 'ddim'] as const;
export type OptimizeSampler = (typeof OPTIMIZE_SAMPLERS)[number];

export const DEFAULT_OPTIMIZE = {
  /** Search rows B. */
  rows: 64,
  /** Held-out samples scored by FID after every sweep (seed + 1). */
  holdout: 500,
  seed: 0,
  /** Heun steps of the reference solution (79 NFE). */
  referenceSteps: 40,
  /** Most sweeps, and sweeps without a better held-out FID that end the search. */
  sweeps: 6,
  patience: 2,
  batch: 256,
};

/** Samples per cell of the ρ grid the search's cost is set against (the README's grids and selection tables). */
export const GRID_COMPARISON_N = 2000;
