// A grid's results on disk: results.json (read back through its schema) and results.csv, a flat
// view of it.
//
// [Note: results on disk]
// `results.json` (and `results.csv`) is rewritten atomically after every finished cell, so a killed
// search loses at most the cell in progress. Running the same grid again with the same directory
// continues it: cells already saved are not recomputed. Values added to its axes (guidance=1,2 →
// guidance=1,1.5,2) extend it: the saved cells are kept, only the new ones are sampled, and the file
// is rewritten with the cells re-indexed in the new cross product. A saved grid with any other
// different configuration is refused, never silently mixed in or thrown away; a damaged file is a GridError
// ('corrupt') naming the file and the field, and is left as it is. JSON has no Infinity: it is
// written as the string "inf" (settings and axis values), NaN as null.

import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { infReplacer, infReviver } from '../../../shared/json';
import { jsonNumber, parseFile, RunFileError } from '../../../shared/run-files';
import { writeFileAtomic } from '../io/atomic';
import { METRICS } from '../metrics/evaluate';
import { SamplerSettingsSchema } from '../../../shared/sampler-settings';
import { AXIS_NAMES, formatAxisValue } from './axes';
import { GridError } from './error';
import {
  assembleResults,
  GRID_RESULTS_VERSION,
  SELECTION_METRICS,
  summaryKeys,
  type GridCell,
  type GridConfig,
  type GridResults,
} from './results';

// ---------------------------------------------------------------------------------------------
// results.json

/** Sampler settings through their one schema (shared/sampler-settings.ts), "inf" read as ∞. */
const samplerSettings = z.preprocess(
  (v) => JSON.parse(JSON.stringify(v ?? null), infReviver) as unknown,
  SamplerSettingsSchema,
);

const gridConfig = z.object({
  model: z.object({ name: z.string(), dir: z.string() }),
  base: samplerSettings,
  axes: z.array(
    z.object({
      name: z.string().refine((n) => AXIS_NAMES.includes(n), { error: `must be one of ${AXIS_NAMES.join(', ')}` }),
      values: z.array(jsonNumber),
    }),
  ),
  n: jsonNumber,
  seed: jsonNumber,
  classes: z.custom<'random' | 'none' | number>((v) => v === 'random' || v === 'none' || typeof v === 'number', {
    error: 'expected "random", "none" or a class number',
  }),
  metrics: z.array(z.enum(METRICS)),
  metric: z.enum(SELECTION_METRICS),
}) satisfies z.ZodType<GridConfig>;

const gridCell = z.object({
  index: jsonNumber,
  values: z.record(z.string(), jsonNumber),
  settings: samplerSettings,
  summary: z.record(z.string(), jsonNumber),
  nfePerSample: jsonNumber,
  networkEvalsPerSample: jsonNumber,
  denoiserEvaluations: jsonNumber,
  networkEvals: jsonNumber,
  seconds: jsonNumber,
  flags: z.array(z.string()).default([]),
  picture: z.string().optional(),
}) satisfies z.ZodType<GridCell>;

/** results.json: the version, the configuration and the finished cells (best and totals are recomputed on reading). */
export const gridResultsFile = z.object({
  version: z.literal(GRID_RESULTS_VERSION),
  config: gridConfig,
  cells: z.array(gridCell),
});

export function resultsPath(dir: string): string {
  return join(dir, 'results.json');
}

/** The results in `text` (the contents of `file`); a GridError ('corrupt') naming the file and the field when they do not fit. */
function parseGridResults(text: string, file: string): GridResults {
  try {
    const r = parseFile(gridResultsFile, text, file);
    return assembleResults(r.config, r.cells);
  } catch (e) {
    if (!(e instanceof RunFileError)) throw e;
    throw new GridError(
      `${file} is corrupted (${e.field ? `${e.field}: ` : ''}${e.problem}); it was left as it is`,
      'corrupt',
    );
  }
}

/** The saved results of `dir`, null when there are none; a damaged file is a GridError ('corrupt'). */
export async function loadGridResults(dir: string): Promise<GridResults | null> {
  const file = resultsPath(dir);
  if (!existsSync(file)) return null;
  return parseGridResults(await readFile(file, 'utf8'), file);
}

/** A results.json file (GridError 'corrupt' when damaged). */
export function readGridResultsFile(file: string): GridResults {
  return parseGridResults(readFileSync(file, 'utf8'), file);
}

/** The results as a JSON-safe object (∞ → "inf"; NaN → null). */
export function gridResultsJson(r: GridResults): Record<string, unknown> {
  return JSON.parse(JSON.stringify(r, infReplacer)) as Record<string, unknown>;
}

export function serializeGridResults(r: GridResults): string {
  return JSON.stringify(r, infReplacer, 2) + '\n';
}

// ---------------------------------------------------------------------------------------------
// results.csv

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function csvNumber(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '';
  return formatAxisValue(v);
}

/** One row per finished cell: the axis values, the metrics, nfePerSample, denoiserEvaluations, seconds. */
export function gridCsv(r: GridResults): string {
  const axes = r.config.axes.map((a) => a.name);
  const metrics = summaryKeys(r.cells);
  const header = [...axes, ...metrics, 'nfePerSample', 'denoiserEvaluations', 'seconds'];
  const rows = r.cells.map((c) => [
    ...axes.map((a) => csvNumber(c.values[a])),
    ...metrics.map((m) => csvNumber(c.summary[m])),
    csvNumber(c.nfePerSample),
    csvNumber(c.denoiserEvaluations),
    csvNumber(c.seconds),
  ]);
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\n') + '\n';
}

/** Writes results.csv then results.json, each atomically. */
export async function saveGridResults(dir: string, r: GridResults): Promise<void> {
  await writeFileAtomic(join(dir, 'results.csv'), gridCsv(r));
  await writeFileAtomic(resultsPath(dir), serializeGridResults(r));
}
