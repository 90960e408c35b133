// Grid search over sampler settings (X/Y-plot style): the cross product of a few axes
// (guidance × churn × steps …), every cell sampled with the same seed and scored, the best cell by
// one metric, and the total denoiser evaluations the search cost.
//
//   axes.ts          the `--axis` syntax, the cross product, each cell's settings
//   results.ts       the results and their configuration; ranking; what makes two grids the same
//   results-file.ts  results.json (validated on reading) and results.csv
//   run.ts           running or continuing a grid
//   error.ts         GridError

export * from './axes';
export * from './error';
export * from './results';
export * from './results-file';
export * from './run';
