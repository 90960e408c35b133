// The run directory: its files (files.ts), the runs of a folder (list.ts), a run's learner (load.ts).

export * from './files';
export * from './list';
export * from './load';
