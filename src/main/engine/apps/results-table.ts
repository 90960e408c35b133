// The results table (the paper's Table 2): every row of a spec (shared/results-table.ts) evaluated
// with one seed and one sample count — FID against the model's reference statistics, precision,
// recall, NFE and network passes per sample — learned rows as mean ± sd over their runs, written as
// table.md, table.csv, table.json and the learned profiles as PNG into an output folder.
//
//   1. Plan: every row resolved to evaluations (sampler settings, or a run's EMA policy) and checked
//      against the disk and the model before anything is sampled: a bad spec fails in a second,
//      not after an hour of sampling.
//   2. Evaluate what the cache lacks, row by row (equalNfeOf rows last: they need their row's NFE),
//      each evaluation saved to the cache as soon as it is done, and the table files rewritten.
//   3. Write the table from the cache's evaluations.
//
// [Note: the table's cache]
// Each evaluation is one file, DIR/cache/<key hash>.json, written atomically when it finishes, so a
// killed table loses at most the evaluation in progress, and running it again evaluates only what is
// missing. The key is what determines the numbers, and nothing else: the model (a SHA-256 over
// model.json and the files it names: denoiser, feature extractor, data), the seed, the sample count,
// the metrics, and either the resolved sampler settings or, for a policy, its run's learner settings
// with the checkpoint's SHA-256 and iteration and the temperature. Not the batch (every sample has
// its own random stream), not the row's label or group (renaming a row keeps its numbers), not the
// run's path (a copied run is the same policy). A sampler row and a grid row that land on the same
// settings share one evaluation. A cache file that does not fit its schema or its key is recomputed.
// Not in the key, and so not noticed (the help says to delete the cache): the policies' encoder
// (encoder.onnx, which model.json names; adding it now would change the key of every learned row
// evaluated so far) and the code's version (a fix to a sampler or a metric keeps the old numbers).

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { Model } from '../models/model';
import {
  evaluateSamples,
  EXACT_DRAWS,
  exactReferenceFor,
  referenceFor,
  type MetricName,
  type Reference,
} from '../metrics/evaluate';
import { extractorForModel, type FeatureExtractor } from '../metrics/features';
import { generate, mixAtNfe, mixCount, resolveSettings, type ResolvedSettings } from '../samplers/generate';
import { settingsNfe, samplerNfe, stepsReaching, stepsWithin } from '../samplers/cost';
import { readGridResult } from '../samplers/baselines';
import { SamplingCancelled } from '../samplers/loop';
import { describeValues } from '../grid/axes';
import { resultsPath } from '../grid/results-file';
import { parseCheckpoint, readMetrics, readRunConfig, runPaths } from '../runs/files';
import type { LearnerConfig } from '../learner/config';
import { isSchedulerRun, readSchedulerRun } from '../scheduler/run-file';
import type { SchedulerConfig } from '../../../shared/scheduler-config';
import { parseSigmasText } from '../../../shared/sigmas';
import { writeFileAtomic } from '../io/atomic';
import { encodePng } from '../io/png';
import { profileHeatmap } from '../pictures';
import { evaluatePolicy } from './evaluate-policy';
import { infReplacer } from '../../../shared/json';
import { formatMetric } from '../../../shared/metrics';
import { narrowFile, RunFileError } from '../../../shared/run-files';
import { CURVE_SETTING, parseCurve } from '../../../shared/curve';
import type { SamplerSettings } from '../../../shared/sampler-settings';
import type { EngineEvent } from '../../../shared/events';
import {
  TABLE_COLUMNS,
  tableCacheEntry,
  type TableColumn,
  type TableEvaluation,
  type TableProfile,
  type TableResult,
  type TableRowKind,
  type TableRowResult,
  type TableRowSpec,
  type TableSpec,
} from '../../../shared/results-table';

/** The metrics of every row. */
export const TABLE_METRICS: MetricName[] = ['fid', 'precision', 'recall'];

/** The file a recipe row reads from each run directory (see the note on recipes). */
export const RECIPE_FILE = 'recipe.json';

/** A row that cannot be evaluated as asked: the message names the spec file, the row and the problem. */
export class TableRowError extends RangeError {
  override name = 'TableRowError';
}

// ---------------------------------------------------------------------------------------------
// 1. Plan

type Source =
  | { kind: 'settings'; settings: ResolvedSettings }
  /** An equal-nfe "mixed" row: the first `fromAbove` samples drawn with `above`, the rest with `below` (mixAtNfe). */
  | { kind: 'mixed'; below: ResolvedSettings; above: ResolvedSettings; fromAbove: number }
  | {
      kind: 'policy';
      /** The run directory, resolved. */
      dir: string;
      learner: LearnerConfig;
      iteration: number;
      checkpointSha256: string;
      temperature: number;
    }
  /** An RL step scheduler's run (engine/scheduler/): its deterministic policy. */
  | {
      kind: 'scheduler';
      dir: string;
      config: SchedulerConfig;
      iteration: number;
      checkpointSha256: string;
    };

/** One evaluation of a row; `result` once it is evaluated or found in the cache. */
interface Unit {
  source: Source;
  /** The run it belongs to, as the spec names it (runs and recipe rows). */
  run: string | null;
  key: Record<string, unknown>;
  /** Its cache file (null without an output folder: a dry run without one). */
  file: string | null;
  result: (TableEvaluation & { cached: boolean }) | null;
}

interface PlannedRow {
  group: string;
  /** groups[i].rows[j] */
  place: string;
  spec: TableRowSpec;
  /** null for an equal-nfe row until its runs row has been evaluated. */
  units: Unit[] | null;
  /** The runs' learner settings (runs and recipe rows; they agree on what a row compares). */
  learner: LearnerConfig | null;
  note: string | null;
}

export interface TablePlan {
  spec: TableSpec;
  specFile: string;
  model: Model;
  outDir: string | null;
  rows: PlannedRow[];
  baseKey: Record<string, unknown>;
}

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** JSON with every object's keys sorted (∞ as "inf"): equal values, equal text. */
export function canonicalJson(v: unknown): string {
  const sort = (x: unknown): unknown =>
    Array.isArray(x)
      ? x.map(sort)
      : x !== null && typeof x === 'object'
        ? Object.fromEntries(
            Object.keys(x)
              .sort()
              .map((k) => [k, sort((x as Record<string, unknown>)[k])]),
          )
        : x;
  return JSON.stringify(sort(JSON.parse(JSON.stringify(v, infReplacer))));
}

/** SHA-256 over model.json and every file it names that the numbers depend on. */
function modelFingerprint(model: Model): string {
  const h = createHash('sha256');
  const m = model.manifest;
  for (const name of ['model.json', m.onnx, m.features?.onnx, m.data, m.dataLabels, m.params]) {
    if (!name) continue;
    const path = join(model.dir, name);
    h.update(name);
    if (existsSync(path)) h.update(readFileSync(path));
  }
  return h.digest('hex');
}

/** The row as messages name it: `row "best constant" (groups[0].rows[1])`. */
const rowName = (r: { spec: { label: string }; place: string }): string => `row "${r.spec.label}" (${r.place})`;

/** Runs `fn`; a problem the user can fix (a RangeError, a bad model or policy file) comes back naming the spec file and the row. */
async function atRow<T>(plan: { specFile: string }, r: PlannedRow, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof SamplingCancelled || e instanceof TableRowError) throw e;
    const name = (e as Error).name;
    if (e instanceof RangeError || name === 'ModelError' || name === 'PolicyFileError' || name === 'NpyError')
      throw new TableRowError(`${plan.specFile}: ${rowName(r)}: ${(e as Error).message}`, { cause: e });
    throw e;
  }
}

// [Note: recipes]
// A recipe row evaluates, for each run, the static curve the run is summed up by: the file
// RUN/recipe.json, written by `export --run RUN --recipe` (learner/recipe.ts: the EMA policy's mean
// action per noise level). It is read as sampler settings over the run's base sampler ({ sampler,
// steps } of its config, w = 1, no churn): a bare curve file ({ "parameter", "points" }, the format
// of `--guidance-curve FILE`, which is what the export writes) becomes the curve setting of its
// parameter (guidanceCurve or churnCurve); any other JSON object is taken as sampler settings, e.g.
// { "guidance": 2 } — either way through the settings' one schema, like a sampler row's. A curve's
// "source" is not part of its settings (shared/curve.ts), so it does not enter the cache key.

/** A bare curve file (the --guidance-curve format, what `export --recipe` writes) as recipe settings. */
function curveRecipe(raw: Record<string, unknown>, file: string): Partial<SamplerSettings> {
  const curve = parseCurve(raw, file);
  return { [CURVE_SETTING[curve.parameter]]: curve };
}

/**
 * A run's recipe (RUN/recipe.json) as sampler settings over the run's base sampler, checked against
 * the model; an exported curve must come from the run's checkpoint (`iteration`): a run trained on
 * after its export would pair the policy's row with an older policy's recipe.
 */
function recipeSettings(
  model: Model,
  dir: string,
  run: string,
  learner: LearnerConfig,
  iteration: number,
): ResolvedSettings {
  const file = join(dir, RECIPE_FILE);
  if (!existsSync(file) && learner.intervention === 'renoise')
    throw new RangeError(
      `${run}: is a renoise run, which has no recipe (its jumps have no mean that is a sampler setting; cfg and gamma runs have one); drop "recipe" from this row`,
    );
  if (!existsSync(file))
    throw new RangeError(
      `${run}: has no ${RECIPE_FILE}; a recipe row ("recipe": true) evaluates each run's static recipe — write it with \`export --run ${dir} --recipe\` first, or drop "recipe"`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RangeError(`${file}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new RangeError(`${file}: must hold an object of sampler settings`);
  const o = raw as Record<string, unknown>;
  const settings = 'parameter' in o && 'points' in o ? curveRecipe(o, file) : (o as Partial<SamplerSettings>);
  const exported = (o['source'] as { iteration?: unknown } | undefined)?.iteration;
  if (typeof exported === 'number' && exported !== iteration)
    throw new RangeError(
      `${file}: was exported at iteration ${exported}, but the run's checkpoint is at iteration ${iteration}; export it again (\`export --run ${dir} --recipe\`)`,
    );
  try {
    return resolveSettings(model, {
      sampler: learner.sampler,
      steps: learner.steps,
      guidance: 1,
      churn: 0,
      ...settings,
    });
  } catch (e) {
    throw new RangeError(`${file}: ${(e as Error).message.replace(/^sampler settings: /, '')}`, { cause: e });
  }
}

/** A path of the spec, relative to the spec file's folder. */
function specPath(specFile: string, p: string): string {
  return isAbsolute(p) ? p : resolve(dirname(specFile), p);
}

/** What the runs of one row may differ in: they are training seeds of one configuration (how often and on how many samples they evaluated themselves aside). */
const FREE_IN_A_ROW: readonly (keyof LearnerConfig)[] = [
  'seed',
  'evalEvery',
  'evalSamplesPeriodic',
  'evalSamples',
  'rolloutBatch',
];
/** Settings of a row's runs compared otherwise: the iterations trained, not the targets (a resumed run's target may be raised). */
const COMPARED_APART: readonly (keyof LearnerConfig)[] = ['iterations'];

/**
 * A run's checkpoint.json, read once: the iteration it has trained (`iterationOf` parses the text) and
 * the SHA-256 of its bytes, which keys a policy's evaluation (computed only when asked: a recipe row
 * needs the iteration alone).
 */
function readRunCheckpoint(
  run: string,
  file: string,
  iterationOf: (text: string, file: string) => number,
): { iteration: number; sha256: () => string } {
  if (!existsSync(file)) throw new RangeError(`${run}: has no checkpoint yet (no finished iteration); train it first`);
  const bytes = readFileSync(file);
  return { iteration: iterationOf(bytes.toString('utf8'), file), sha256: () => sha256(bytes) };
}

/**
 * Every row resolved to its evaluations and checked: sampler settings against the model; grid
 * results present, finished and of this model; runs present, of this model, with a checkpoint, and
 * alike; recipes present. Looks each evaluation up in the cache (when there is an output folder).
 */
export async function planTable(o: {
  model: Model;
  spec: TableSpec;
  specFile: string;
  outDir: string | null;
  onEvent?: (e: EngineEvent) => void;
  /** For `--dry-run`: an unfinished grid is planned with its best so far and a note, not refused. */
  dryRun?: boolean;
}): Promise<TablePlan> {
  const { model, spec, specFile } = o;
  const baseKey = {
    format: 1,
    model: model.name,
    modelSha256: modelFingerprint(model),
    samples: spec.samples,
    seed: spec.seed,
    classes: 'random',
    metrics: TABLE_METRICS,
    // A new key part only where it differs from the data (tables cached before keep their entries).
    ...(spec.reference === 'exact' ? { reference: 'exact' } : {}),
  };
  const plan: TablePlan = { spec, specFile, model, outDir: o.outDir, rows: [], baseKey };
  const unit = (source: Source, run: string | null): Unit => makeUnit(plan, source, run, o.onEvent);
  // A scheduler run: its deterministic policy, or (a recipe row) its mean schedule as a σ list. The
  // runs of a row must agree on what they compare (sampler, budget, reward).
  let firstScheduler: SchedulerConfig | null = null;
  const schedulerUnit = (dir: string, run: string, recipe: boolean, first: string): Unit => {
    const s = readSchedulerRun(dir);
    if (s.model.name !== model.name)
      throw new RangeError(`${run} was trained on "${s.model.name}", not on the table's model "${model.name}"`);
    firstScheduler ??= s.config;
    for (const k of ['sampler', 'nfeBudget', 'reward'] as const)
      if (s.config[k] !== firstScheduler[k])
        throw new RangeError(
          `${run} has ${k} ${JSON.stringify(s.config[k])}, but ${first} has ${JSON.stringify(firstScheduler[k])}; the runs of one row are training seeds of one configuration`,
        );
    const cp = readRunCheckpoint(
      run,
      join(dir, 'checkpoint.json'),
      (t) => (JSON.parse(t) as { iteration: number }).iteration,
    );
    finished(run, dir, cp.iteration, s.config.iterations);
    if (recipe) {
      const file = join(dir, 'schedule.json');
      if (!existsSync(file)) throw new RangeError(`${run}: has no schedule.json yet (written at each evaluation)`);
      const sigmas = parseSigmasText(readFileSync(file, 'utf8'), file);
      return unit(settings({ sampler: s.config.sampler, steps: sigmas.length - 1, sigmas }), run);
    }
    return unit(
      { kind: 'scheduler', dir, config: s.config, iteration: cp.iteration, checkpointSha256: cp.sha256() },
      run,
    );
  };
  const settings = (s: Partial<SamplerSettings>): Source => ({ kind: 'settings', settings: resolveSettings(model, s) });
  // A run stopped short of its iterations is not its configuration's result, and a table of it would
  // look complete: refused, as an unfinished grid is (a dry run plans it and says so in the row's note).
  let unfinished: string[] = [];
  const finished = (run: string, dir: string, iteration: number, target: number): void => {
    if (iteration >= target) return;
    if (!o.dryRun)
      throw new RangeError(
        `${run}: stopped at iteration ${iteration} of its ${target}; finish it (\`train --resume ${dir}\` continues it) before the table takes it`,
      );
    unfinished.push(`${run} at iteration ${iteration} of ${target}`);
  };

  for (const [gi, g] of spec.groups.entries()) {
    for (const [ri, rs] of g.rows.entries()) {
      const r: PlannedRow = {
        group: g.title,
        place: `groups[${gi}].rows[${ri}]`,
        spec: rs,
        units: null,
        learner: null,
        note: null,
      };
      plan.rows.push(r);
      await atRow(plan, r, () => {
        switch (rs.kind) {
          case 'sampler':
            r.units = [unit(settings(rs.sampler), null)];
            return;
          case 'grid': {
            const dir = specPath(specFile, rs.grid);
            const file = dir.endsWith('.json') ? dir : resultsPath(dir);
            // The grid's best cell, whatever it varies (a constant, an interval, churn …): the grid's
            // own ranking, named in the table's notes.
            const g = readGridResult(dir);
            if (g.config.model.name !== model.name)
              throw new RangeError(
                `grid: ${file} is a grid of "${g.config.model.name}", not of the table's model "${model.name}"`,
              );
            const unfinished = g.totals.done < g.totals.cells;
            if (unfinished && !o.dryRun)
              throw new RangeError(
                `grid: ${file} has ${g.totals.done} of ${g.totals.cells} cells done; finish it (the same \`grid\` command continues it) before the table takes its best`,
              );
            const best = g.best!;
            r.units = [unit(settings(best.settings), null)];
            r.note = `${g.totals.done === 1 ? 'the one cell' : `the best of ${g.totals.done} cells`} of ${rs.grid}: ${describeValues(best.values)} (${g.config.metric} ${formatMetric(g.config.metric, best.value)} on ${g.config.n} samples, seed ${g.config.seed})${unfinished ? ` so far: ${g.totals.done} of ${g.totals.cells} cells are done, and the table takes a grid once it is finished` : ''}`;
            return;
          }
          case 'equal-nfe':
            return; // resolved once its runs row has been evaluated
          case 'runs':
          case 'recipe': {
            firstScheduler = null; // each row's runs agree among themselves
            unfinished = [];
            let rowIteration: number | undefined;
            r.units = rs.runs.map((run) => {
              const dir = specPath(specFile, run);
              if (!existsSync(dir)) throw new RangeError(`${run}: no such run directory (${dir})`);
              if (isSchedulerRun(dir)) return schedulerUnit(dir, run, rs.kind === 'recipe', rs.runs[0]!);
              const cfg = readRunConfig(dir);
              if (cfg.model.name !== model.name)
                throw new RangeError(
                  `${run} was trained on "${cfg.model.name}", not on the table's model "${model.name}"; every run of a table samples its one model`,
                );
              const cp = readRunCheckpoint(run, runPaths(dir).checkpoint, (t, f) => parseCheckpoint(t, f).iteration);
              finished(run, dir, cp.iteration, cfg.learner.iterations);
              rowIteration ??= cp.iteration; // the iterations trained are compared here, not the targets (COMPARED_APART)
              if (cp.iteration !== rowIteration && unfinished.length === 0)
                throw new RangeError(
                  `${run} was trained for ${cp.iteration} iterations, but ${rs.runs[0]} for ${rowIteration}; the runs of one row are training seeds of one configuration`,
                );
              const first = r.learner ?? cfg.learner;
              const differ = (Object.keys({ ...first, ...cfg.learner }) as (keyof LearnerConfig)[]).filter(
                (k) =>
                  !COMPARED_APART.includes(k) &&
                  !FREE_IN_A_ROW.includes(k) &&
                  JSON.stringify(cfg.learner[k]) !== JSON.stringify(first[k]),
              );
              if (differ.length > 0)
                throw new RangeError(
                  `${run} has ${differ.map((k) => `${k} ${JSON.stringify(cfg.learner[k])}`).join(', ')}, but ${rs.runs[0]} has ${differ.map((k) => JSON.stringify(first[k])).join(', ')}; the runs of one row are training seeds of one configuration (they may differ in ${FREE_IN_A_ROW.join(', ')} only)`,
                );
              r.learner = first;
              if (rs.kind === 'recipe')
                return unit(
                  { kind: 'settings', settings: recipeSettings(model, dir, run, cfg.learner, cp.iteration) },
                  run,
                );
              return unit(
                {
                  kind: 'policy',
                  dir,
                  learner: cfg.learner,
                  iteration: cp.iteration,
                  checkpointSha256: cp.sha256(),
                  temperature: rs.temperature ?? cfg.learner.temperature,
                },
                run,
              );
            });
            if (unfinished.length > 0)
              r.note = `not finished: ${unfinished.join('; ')}; the table takes a run once it is finished`;
            return;
          }
        }
      });
    }
  }
  // An equal-nfe row whose runs row is all in the cache is known now (a dry run shows it as cached).
  for (const r of plan.rows)
    if (r.spec.kind === 'equal-nfe' && equalNfeTarget(plan, r).units!.every((u) => u.result))
      await atRow(plan, r, () => resolveEqualNfe(plan, r, o.onEvent));
  return plan;
}

/** An evaluation of `source` with its cache key and file, and its result when the cache has it. */
function makeUnit(plan: TablePlan, source: Source, run: string | null, onEvent?: (e: EngineEvent) => void): Unit {
  const key = {
    ...plan.baseKey,
    source:
      source.kind === 'policy'
        ? {
            kind: 'policy',
            learner: source.learner,
            checkpointSha256: source.checkpointSha256,
            iteration: source.iteration,
            temperature: source.temperature,
          }
        : source.kind === 'scheduler'
          ? {
              kind: 'scheduler',
              config: source.config,
              checkpointSha256: source.checkpointSha256,
              iteration: source.iteration,
            }
          : source,
  };
  const file = plan.outDir ? join(plan.outDir, 'cache', `${sha256(canonicalJson(key)).slice(0, 24)}.json`) : null;
  // The cache is keyed by what determines the numbers, not by path: a cached evaluation is shown under
  // this spec's name of its run (a part of the table may have named it otherwise).
  const cached = file ? readCache(file, key, onEvent) : null;
  return { source, run, key, file, result: cached && { ...cached, run } };
}

/** The evaluation saved for `key` in `file`, or null (none, or one that does not fit: recomputed). */
function readCache(
  file: string,
  key: Record<string, unknown>,
  onEvent?: (e: EngineEvent) => void,
): (TableEvaluation & { cached: boolean }) | null {
  if (!existsSync(file)) return null;
  try {
    const entry = narrowFile(tableCacheEntry, JSON.parse(readFileSync(file, 'utf8')) as unknown, file);
    if (canonicalJson(entry.key) !== canonicalJson(key))
      throw new RunFileError(file, 'key', 'is not the key of this evaluation');
    return { ...entry.evaluation, cached: true };
  } catch (e) {
    if (!(e instanceof RunFileError || e instanceof SyntaxError)) throw e;
    onEvent?.({ type: 'log', level: 'warn', message: `${file}: ${e.message}; evaluating it again` });
    return null;
  }
}

/** The row an equal-nfe row matches: its runs row, with its evaluations' mean NFE. */
function equalNfeTarget(plan: TablePlan, r: PlannedRow): PlannedRow {
  const spec = r.spec as Extract<TableRowSpec, { kind: 'equal-nfe' }>;
  return plan.rows.find((t) => t.spec.label === spec.equalNfeOf)!;
}

/**
 * An equal-nfe row's source for a mean NFE: the runs' base sampler, deterministic, with the steps
 * that fit, or (match "mixed") the steps within and reaching it mixed per sample to that mean.
 */
function equalNfeSource(
  plan: TablePlan,
  r: PlannedRow,
  target: PlannedRow,
  nfe: number,
): { source: Extract<Source, { kind: 'settings' | 'mixed' }>; note: string } {
  const spec = r.spec as Extract<TableRowSpec, { kind: 'equal-nfe' }>;
  const first = target.units?.[0]?.source;
  const sampler =
    spec.sampler.sampler ?? target.learner?.sampler ?? (first?.kind === 'scheduler' ? first.config.sampler : 'heun');
  if (sampler !== 'euler' && sampler !== 'heun' && sampler !== 'edm')
    throw new RangeError(`sampler ${sampler} has no NFE per step; use euler, heun or edm`);
  const at = (steps: number): ResolvedSettings =>
    resolveSettings(plan.model, { guidance: 1, churn: 0, ...spec.sampler, sampler, steps });
  const [within, reaching] = [Math.max(1, stepsWithin(sampler, nfe)), Math.max(1, stepsReaching(sampler, nfe))];
  const of = `the mean NFE of "${target.spec.label}"`;
  if (spec.match === 'mixed' && reaching > within) {
    const [lo, hi] = [samplerNfe(sampler, within), samplerNfe(sampler, reaching)];
    const n = plan.spec.samples;
    const fromAbove = mixCount(n, nfe, lo, hi);
    const mean = lo + ((hi - lo) * fromAbove) / n;
    return {
      source: { kind: 'mixed', below: at(within), above: at(reaching), fromAbove },
      note: `${sampler} ${within} steps (NFE ${lo}) and ${reaching} (NFE ${hi}) on ${fromAbove} of ${n} samples: NFE ${mean.toFixed(2)} = ${nfe.toFixed(2)}, ${of}`,
    };
  }
  const steps = spec.match === 'reaching' ? reaching : within;
  const own = samplerNfe(sampler, steps);
  return {
    source: { kind: 'settings', settings: at(steps) },
    note: `${sampler} ${steps} steps: NFE ${own} ${own === nfe ? '=' : own < nfe ? '≤' : '≥'} ${nfe.toFixed(2)}, ${of}`,
  };
}

/** Resolves an equal-nfe row once its runs row is complete. */
function resolveEqualNfe(plan: TablePlan, r: PlannedRow, onEvent?: (e: EngineEvent) => void): void {
  const target = equalNfeTarget(plan, r);
  const nfe = mean(target.units!.map((u) => u.result!.nfe));
  const { source, note } = equalNfeSource(plan, r, target, nfe);
  r.units = [makeUnit(plan, source, null, onEvent)];
  r.note = note;
}

// ---------------------------------------------------------------------------------------------
// Estimates (--dry-run, and the ETA's weights)

export interface CostEstimate {
  /** NFE and network passes per sample. */
  nfe: number;
  networkEvals: number;
  /** Where the numbers come from. */
  basis: 'measured' | 'settings' | 'run evaluation' | 'bound';
}

/** Network passes per guided evaluation at most: 2 where w ≠ 1 on a class-conditional model (guidance.ts). */
function passesPerNfe(model: Model, guided: boolean): number {
  return guided && model.numClasses > 0 ? 2 : 1;
}

function estimateUnit(plan: TablePlan, u: Unit): CostEstimate {
  if (u.result) return { nfe: u.result.nfe, networkEvals: u.result.networkEvals, basis: 'measured' };
  return estimateSource(plan, u.source);
}

function estimateSource(plan: TablePlan, s: Source): CostEstimate {
  const model = plan.model;
  if (s.kind === 'settings') {
    const nfe = settingsNfe(s.settings);
    const guided = s.settings.guidance !== 1 || s.settings.guidanceCurve !== null; // a curve (a recipe) guides in places
    return { nfe, networkEvals: nfe * passesPerNfe(model, guided), basis: 'settings' };
  }
  if (s.kind === 'mixed') {
    const [lo, hi] = [s.below, s.above].map((settings) => estimateSource(plan, { kind: 'settings', settings }));
    const share = s.fromAbove / plan.spec.samples;
    return {
      nfe: lo!.nfe + share * (hi!.nfe - lo!.nfe),
      networkEvals: lo!.networkEvals + share * (hi!.networkEvals - lo!.networkEvals),
      basis: 'settings',
    };
  }
  if (s.kind === 'scheduler') {
    // Its own evaluations measured its NFE (an episode may end under budget); else the budget.
    const measured = readMetrics(s.dir)
      .map((l) => l['eval/nfe'])
      .filter((v): v is number => v !== undefined)
      .pop();
    const nfe = measured ?? s.config.nfeBudget;
    return { nfe, networkEvals: nfe, basis: measured !== undefined ? 'run evaluation' : 'bound' };
  }
  const c = s.learner;
  // The run's own evaluations measured its NFE (a renoise policy's varies); else the plain sampler's, or the budget.
  const measured = readMetrics(s.dir)
    .map((l) => l['eval/nfe'])
    .filter((v): v is number => v !== undefined)
    .pop();
  const nfe =
    measured ?? (c.intervention === 'renoise' ? Math.min(c.nfeBudget, 10_000) : samplerNfe(c.sampler, c.steps));
  return {
    nfe,
    networkEvals: nfe * passesPerNfe(model, c.intervention === 'cfg' && c.actions.some((w) => w !== 1)),
    basis: measured !== undefined ? 'run evaluation' : c.intervention === 'renoise' ? 'bound' : 'settings',
  };
}

/** A row's estimate: the mean over its evaluations (an equal-nfe row from its runs row's estimate). */
function estimateRow(plan: TablePlan, r: PlannedRow): CostEstimate {
  if (r.units) {
    const es = r.units.map((u) => estimateUnit(plan, u));
    return {
      nfe: mean(es.map((e) => e.nfe)),
      networkEvals: mean(es.map((e) => e.networkEvals)),
      basis: es.every((e) => e.basis === 'measured') ? 'measured' : es.find((e) => e.basis !== 'measured')!.basis,
    };
  }
  return estimateSource(plan, plannedSource(plan, r));
}

/** An equal-nfe row's source before its runs row is evaluated: from that row's estimated NFE. */
function plannedSource(plan: TablePlan, r: PlannedRow): Source {
  const target = equalNfeTarget(plan, r);
  return equalNfeSource(plan, r, target, estimateRow(plan, target).nfe).source;
}

/** Network passes per sample to compute an evaluation not yet done: a mixed one draws every sample both ways. */
function passesToCompute(plan: TablePlan, s: Source): number {
  return s.kind === 'mixed'
    ? passesToCompute(plan, { kind: 'settings', settings: s.below }) +
        passesToCompute(plan, { kind: 'settings', settings: s.above })
    : estimateSource(plan, s).networkEvals;
}

export interface DryRunRow {
  group: string;
  label: string;
  kind: TableRowKind;
  evaluations: number;
  /** Evaluations already in the cache. */
  cached: number;
  estimate: CostEstimate;
  /** Network passes still to spend on the row: samples × passes per sample × evaluations not cached. */
  networkPassesToDo: number;
  /** What the row resolved to, where it says (a grid row's cell; an equal-NFE row's steps once known). */
  note: string | null;
}

/** What `--dry-run` shows: each row's evaluations, what is cached, and the cost per sample and in all. */
export function dryRun(plan: TablePlan): { rows: DryRunRow[]; networkPassesToDo: number; evaluationsToDo: number } {
  const rows = plan.rows.map((r): DryRunRow => {
    const evaluations = r.units?.length ?? 1;
    const cached = r.units?.filter((u) => u.result).length ?? 0;
    const estimate = estimateRow(plan, r);
    const todo = r.units
      ? r.units.filter((u) => !u.result).map((u) => passesToCompute(plan, u.source))
      : [passesToCompute(plan, plannedSource(plan, r))];
    return {
      group: r.group,
      label: r.spec.label,
      kind: r.spec.kind,
      evaluations,
      cached,
      estimate,
      networkPassesToDo: todo.reduce((a, b) => a + b, 0) * plan.spec.samples,
      note: r.note,
    };
  });
  return {
    rows,
    networkPassesToDo: rows.reduce((a, r) => a + r.networkPassesToDo, 0),
    evaluationsToDo: rows.reduce((a, r) => a + r.evaluations - r.cached, 0),
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Evaluate

interface EvalContext {
  plan: TablePlan;
  extractor: FeatureExtractor;
  reference: Reference;
  signal?: AbortSignal;
  onSamples: (samplesDone: number) => void;
}

async function evaluateUnit(u: Unit, c: EvalContext): Promise<TableEvaluation> {
  const { plan, extractor, reference } = c;
  const { model, spec } = plan;
  const n = spec.samples;
  const t0 = performance.now();
  const s = u.source;
  if (s.kind === 'settings') {
    const gen = await generate(model, s.settings, {
      n,
      batch: spec.batch,
      seed: spec.seed,
      classes: 'random',
      signal: c.signal,
      onProgress: (p) => c.onSamples(p.samplesDone),
    });
    const res = await evaluateSamples(
      { model, extractor, reference, samples: gen.samples, n, conditioning: gen.labels },
      TABLE_METRICS,
    );
    return {
      source: { kind: 'settings', settings: s.settings },
      run: u.run,
      summary: res.summary,
      nfe: mean(gen.nfe),
      networkEvals: mean(gen.networkEvals),
      seconds: (performance.now() - t0) / 1000,
      flags: res.flags,
      profile: null,
    };
  }
  if (s.kind === 'mixed') {
    // Both step counts on every sample (same seed: sample i has one starting noise and class either
    // way), then the first fromAbove from the larger; progress counts both passes as one.
    const draw = (settings: ResolvedSettings, half: number): ReturnType<typeof generate> =>
      generate(model, settings, {
        n,
        batch: spec.batch,
        seed: spec.seed,
        classes: 'random',
        signal: c.signal,
        onProgress: (p) => c.onSamples(Math.round((half * n + p.samplesDone) / 2)),
      });
    const below = await draw(s.below, 0);
    const above = await draw(s.above, 1);
    const lo = mean(below.nfe);
    const hi = mean(above.nfe);
    const mix = mixAtNfe(below, above, lo + ((hi - lo) * s.fromAbove) / n);
    if (mix.fromAbove !== s.fromAbove)
      throw new Error(`mixed row: drew ${mix.fromAbove} samples with more steps, planned ${s.fromAbove}`);
    const res = await evaluateSamples(
      { model, extractor, reference, samples: mix.samples, n, conditioning: mix.labels },
      TABLE_METRICS,
    );
    return {
      source: { kind: 'mixed', below: s.below, above: s.above, fromAbove: s.fromAbove },
      run: u.run,
      summary: res.summary,
      nfe: mean(mix.nfe),
      networkEvals: mean(mix.networkEvals),
      seconds: (performance.now() - t0) / 1000,
      flags: res.flags,
      profile: null,
    };
  }
  if (s.kind === 'scheduler') {
    const { loadSchedulerPolicy } = await import('../scheduler/train');
    const p = await loadSchedulerPolicy(model, s.dir);
    try {
      const ep = await p.rollout({
        n,
        seed: spec.seed,
        std: null,
        batch: spec.batch,
        record: false,
        signal: c.signal,
        onProgress: (d) => c.onSamples(d),
      });
      const res = await evaluateSamples(
        { model, extractor, reference, samples: ep.samples, n, conditioning: ep.labels },
        TABLE_METRICS,
      );
      return {
        source: { kind: 'scheduler', iteration: s.iteration },
        run: u.run,
        summary: res.summary,
        nfe: mean(ep.nfe),
        networkEvals: mean(ep.nfe),
        seconds: (performance.now() - t0) / 1000,
        flags: res.flags,
        profile: null,
      };
    } finally {
      await p.dispose();
    }
  }
  // The learner (TensorFlow.js with it) loads only when a policy is evaluated.
  const { openPolicy } = await import('../learner/onnx-policy');
  const policy = await openPolicy(s.dir, model);
  try {
    if (policy.iteration !== s.iteration)
      throw new RangeError(
        `${u.run}: its checkpoint changed while the table read it (iteration ${s.iteration}, now ${policy.iteration}); is it still training? Run the table again once it stops`,
      );
    const ev = await evaluatePolicy(policy, {
      extractor,
      reference,
      n,
      seed: spec.seed,
      temperature: s.temperature,
      metrics: TABLE_METRICS,
      signal: c.signal,
      onProgress: (p) => c.onSamples(p.samplesDone),
    });
    return {
      source: { kind: 'policy', iteration: policy.iteration, temperature: s.temperature },
      run: u.run,
      summary: ev.result.summary,
      nfe: ev.nfe,
      networkEvals: ev.networkEvals,
      seconds: (performance.now() - t0) / 1000,
      flags: ev.result.flags,
      profile: { actions: [...policy.spec.actions], sigmas: ev.sigmas, profile: ev.profile },
    };
  } finally {
    await policy.dispose();
  }
}

export interface TableRun {
  result: TableResult;
  /** Evaluations computed by this invocation, and taken from the cache. */
  computed: number;
  cached: number;
  /** The files written, relative to the output folder. */
  files: string[];
}

/**
 * Evaluates every row of the plan the cache lacks (saving each evaluation as it finishes and
 * rewriting the table files), then writes the table. Throws SamplingCancelled when `signal` aborts:
 * what finished is saved.
 */
export async function runTable(
  plan: TablePlan,
  o: { signal?: AbortSignal; onEvent?: (e: EngineEvent) => void } = {},
): Promise<TableRun> {
  const { model, spec } = plan;
  const outDir = plan.outDir;
  if (!outDir) throw new Error('runTable needs an output folder');
  const emit = o.onEvent ?? ((): void => undefined);
  let computed = 0;
  let cached = 0;
  // Equal-nfe rows come last: they need their runs row's NFE.
  const order = [
    ...plan.rows.filter((r) => r.spec.kind !== 'equal-nfe'),
    ...plan.rows.filter((r) => r.spec.kind === 'equal-nfe'),
  ];
  // The ETA weighs each evaluation by its estimated network passes (a renoise policy's can be many times a row's).
  const weights = new Map<PlannedRow, number>(
    plan.rows.map((r) => [
      r,
      Math.max(
        1,
        r.units
          ? mean(r.units.map((u) => passesToCompute(plan, u.source)))
          : passesToCompute(plan, plannedSource(plan, r)),
      ),
    ]),
  );
  const todo = order.flatMap((r) => (r.units ? r.units.filter((u) => !u.result).map(() => r) : [r]));
  const workTotal = todo.reduce((a, r) => a + weights.get(r)! * spec.samples, 0);
  const samplesTotal = todo.length * spec.samples;
  let workDone = 0;
  let samplesDone = 0;
  const t0 = performance.now();

  const extractor = await extractorForModel(model);
  try {
    const reference =
      spec.reference === 'exact' ? await exactReferenceFor(model, extractor) : await referenceFor(model, extractor);
    let files: string[] = [];
    const write = async (): Promise<void> => {
      files = await writeTable(outDir, plan, extractor.name);
    };
    for (const r of order) {
      await atRow(plan, r, async () => {
        if (!r.units) resolveEqualNfe(plan, r, emit);
        const units = r.units!;
        for (const [i, u] of units.entries()) {
          const what = `${rowName(r)}${units.length > 1 ? `, ${i + 1}/${units.length}` : ''}${u.run ? ` (${u.run})` : ''}`;
          // Another row of this table (or another process) may have saved the same evaluation by now.
          if (!u.result && u.file) u.result = readCache(u.file, u.key, emit);
          if (u.result) {
            cached++;
            emit({ type: 'log', level: 'info', message: `${what}: cached` });
            continue;
          }
          if (o.signal?.aborted) throw new SamplingCancelled();
          emit({ type: 'log', level: 'info', message: `${what}: evaluating ${spec.samples} samples` });
          const w = weights.get(r)!;
          const progress = (inUnit: number): void => {
            const elapsed = (performance.now() - t0) / 1000;
            const work = workDone + inUnit * w;
            const event = {
              type: 'progress' as const,
              task: 'table',
              done: samplesDone + inUnit,
              total: samplesTotal,
              unit: 'samples',
              elapsedSeconds: elapsed,
              etaSeconds: work > 0 ? (elapsed * (workTotal - work)) / work : null,
              row: r.spec.label,
              evaluation: i + 1,
              evaluations: units.length,
            };
            emit(event);
          };
          progress(0);
          const ev = await evaluateUnit(u, {
            plan,
            extractor,
            reference,
            signal: o.signal,
            onSamples: progress,
          });
          await writeFileAtomic(u.file!, JSON.stringify({ key: u.key, evaluation: ev }, infReplacer, 1) + '\n');
          u.result = { ...ev, cached: false };
          computed++;
          workDone += w * spec.samples;
          samplesDone += spec.samples;
          progress(0);
          await write();
        }
      });
    }
    await write();
    return { result: assembleTable(plan, extractor.name), computed, cached, files };
  } finally {
    await extractor.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// 3. The table

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return a.length > 0 ? s / a.length : NaN;
}

/** The sample standard deviation (n − 1), as the spread of a few training seeds is reported. */
export function sampleSd(a: number[]): number {
  if (a.length < 2) return NaN;
  const m = mean(a);
  return Math.sqrt(a.reduce((t, x) => t + (x - m) ** 2, 0) / (a.length - 1));
}

const columnOf = (e: TableEvaluation, k: TableColumn): number =>
  k === 'nfe' ? e.nfe : k === 'networkEvals' ? e.networkEvals : (e.summary[k] ?? NaN);

/** The mean profile over a row's runs (they share steps and actions). */
function meanProfile(ps: TableProfile[]): TableProfile {
  const first = ps[0]!;
  return {
    actions: first.actions,
    sigmas: first.sigmas,
    profile: first.profile.map((row, l) => row.map((_, a) => mean(ps.map((p) => p.profile[l]![a]!)))),
  };
}

/** A file name for a row's pictures: its label in lower-case letters, digits and dashes, unique in the table. */
function slugs(plan: TablePlan): Map<PlannedRow, string> {
  const out = new Map<PlannedRow, string>();
  const used = new Set<string>();
  for (const r of plan.rows) {
    const base =
      r.spec.label
        .normalize('NFKD')
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-+|-+$/g, '') || 'row';
    let s = base;
    for (let k = 2; used.has(s); k++) s = `${base}-${k}`;
    used.add(s);
    out.set(r, s);
  }
  return out;
}

/** table.json's contents from the plan's evaluations so far (rows still evaluating: complete = false). */
export function assembleTable(plan: TablePlan, extractor: string): TableResult {
  const names = slugs(plan);
  const groups: TableResult['groups'] = [];
  for (const r of plan.rows) {
    let g = groups.at(-1);
    if (!g || g.title !== r.group) groups.push((g = { title: r.group, rows: [] }));
    const done = (r.units ?? []).filter((u) => u.result).map((u) => u.result!);
    const complete = !!r.units && done.length === r.units.length;
    const stat = (f: (a: number[]) => number): Record<string, number> =>
      Object.fromEntries(TABLE_COLUMNS.map((c) => [c.key, f(done.map((e) => columnOf(e, c.key)))]));
    // Profiles are the inverse-RL policies' (actions per level); a scheduler's levels are in its run (levels.json).
    const learned = r.spec.kind === 'runs' && complete && done.every((e) => e.profile !== null);
    const slug = names.get(r)!;
    const row: TableRowResult = {
      group: r.group,
      label: r.spec.label,
      kind: r.spec.kind,
      complete,
      evaluations: done,
      mean: stat(mean),
      sd: done.length > 1 ? stat(sampleSd) : null,
      note: r.note,
      profiles: learned ? [`profiles/${slug}.png`, ...done.map((_, i) => `profiles/${slug}-${i + 1}.png`)] : [],
    };
    g.rows.push(row);
  }
  return {
    format: 1,
    title: plan.spec.title ?? plan.model.name,
    model: plan.model.name,
    samples: plan.spec.samples,
    seed: plan.spec.seed,
    metrics: TABLE_METRICS,
    extractor,
    reference: plan.spec.reference,
    groups,
  };
}

/** "12.3456 ± 0.7890" (the catalogue's digits, shared/metrics.ts); "…" while the row is evaluating. */
export function tableCell(row: TableRowResult, column: (typeof TABLE_COLUMNS)[number]): string {
  if (!row.complete) return '…';
  const m = formatMetric(column.metric, row.mean[column.key]);
  return row.sd ? `${m} ± ${formatMetric(column.metric, row.sd[column.key])}` : m;
}

const mdEscape = (s: string): string => s.replace(/\|/g, '\\|');

export function tableMarkdown(t: TableResult): string {
  const rows = t.groups.flatMap((g) => g.rows);
  const header = ['Group', 'Method', 'Runs', ...TABLE_COLUMNS.map((c) => c.label)];
  const lines = [
    `# ${mdEscape(t.title)}`,
    '',
    `${t.model}: ${t.samples} samples per evaluation with seed ${t.seed}, the same in every row. FID against the ` +
      (t.reference === 'exact'
        ? `model's exact law (${EXACT_DRAWS.toLocaleString('en')} draws; features: ${basename(t.extractor)}), precision and recall (k = 3) against its data; NFE: guided denoiser `
        : `model's reference statistics (features: ${basename(t.extractor)}), precision and recall (k = 3); NFE: guided denoiser `) +
      'evaluations per sample; network passes per sample (a guided evaluation with w ≠ 1 costs two). Rows over ' +
      'several runs (training seeds): mean ± sample standard deviation.',
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`,
  ];
  for (const g of t.groups)
    g.rows.forEach((r, i) =>
      lines.push(
        `| ${i === 0 ? mdEscape(g.title) : ''} | ${mdEscape(r.label)} | ${r.kind === 'runs' || r.kind === 'recipe' ? r.evaluations.length : ''} | ${TABLE_COLUMNS.map((c) => tableCell(r, c)).join(' | ')} |`,
      ),
    );
  const notes = rows.filter((r) => r.note).map((r) => `- ${mdEscape(r.label)}: ${r.note}`);
  const flags = [...new Set(rows.flatMap((r) => r.evaluations.flatMap((e) => e.flags)))].map((f) => `- ${f}`);
  if (notes.length + flags.length > 0) lines.push('', '## Notes', '', ...notes, ...flags);
  const learned = rows.filter((r) => r.profiles.length > 0);
  if (learned.length > 0) {
    lines.push(
      '',
      '## Learned profiles',
      '',
      "The share of each action per noise level over the evaluation samples (the paper's Figure 2): one row per " +
        'level, σ from high (top) to low, one column per action, darker = chosen more often. First the mean over ' +
        'the runs, then each run.',
    );
    for (const r of learned) {
      const p = r.evaluations[0]!.profile!;
      lines.push(
        '',
        `### ${mdEscape(r.label)}`,
        '',
        `actions ${p.actions.join(', ')}; σ ${p.sigmas.map((s) => Number(s.toPrecision(3))).join(', ')}`,
        '',
        // A run is captioned by its folder's name: the path it was read from is this machine's.
        r.profiles
          .map((f, i) => `![${i === 0 ? 'mean' : mdEscape(basename(r.evaluations[i - 1]!.run ?? ''))}](${f})`)
          .join(' '),
      );
    }
  }
  return lines.join('\n') + '\n';
}

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** One line per row: group, label, kind, evaluations, complete, then each column's mean and sd (full precision). */
export function tableCsv(t: TableResult): string {
  const num = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '' : String(v));
  const header = [
    'group',
    'label',
    'kind',
    'evaluations',
    'complete',
    ...TABLE_COLUMNS.flatMap((c) => [c.key, `${c.key}_sd`]),
    'note',
  ];
  const rows = t.groups.flatMap((g) =>
    g.rows.map((r) => [
      r.group,
      r.label,
      r.kind,
      String(r.evaluations.length),
      String(r.complete),
      ...TABLE_COLUMNS.flatMap((c) => (r.complete ? [num(r.mean[c.key]), num(r.sd?.[c.key])] : ['', ''])),
      r.note ?? '',
    ]),
  );
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\n') + '\n';
}

/** Writes table.md, table.csv, table.json and the learned rows' profile pictures; returns their paths (relative to `outDir`). */
async function writeTable(outDir: string, plan: TablePlan, extractor: string): Promise<string[]> {
  const t = assembleTable(plan, extractor);
  const files: string[] = [];
  const put = async (name: string, data: string | Uint8Array): Promise<void> => {
    await writeFileAtomic(join(outDir, name), data);
    files.push(name);
  };
  for (const r of t.groups.flatMap((g) => g.rows)) {
    if (r.profiles.length === 0) continue;
    const ps = r.evaluations.map((e) => e.profile!);
    await put(r.profiles[0]!, encodePng(profileHeatmap(meanProfile(ps).profile)));
    for (const [i, p] of ps.entries()) await put(r.profiles[i + 1]!, encodePng(profileHeatmap(p.profile)));
  }
  await put('table.csv', tableCsv(t));
  await put('table.md', tableMarkdown(t));
  await put('table.json', JSON.stringify(t, infReplacer, 2) + '\n');
  return files;
}
