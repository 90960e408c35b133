// The results table (the paper's Table 2): its spec file, the rows it evaluates, and what it writes.
// `table --spec FILE --out DIR` reads a spec, evaluates every row with the same seed and sample count
// (src/main/engine/apps/results-table.ts), and writes table.md, table.csv and table.json.
//
//   { "model": "fashion-mnist", "samples": 10000, "seed": 1, "batch": 1024,
//     "groups": [ { "title": "CFG (Heun 18)", "rows": [
//         { "label": "no guidance", "sampler": { "sampler": "heun", "steps": 18, "guidance": 1 } },
//         { "label": "best constant", "grid": "runs/fm-grid-w" },
//         { "label": "learned (x,σ) KL", "runs": ["runs/a", "runs/b", "runs/c"] },
//         { "label": "recipe of (x,σ) KL", "runs": ["runs/a", "runs/b", "runs/c"], "recipe": true },
//         { "label": "EDM at policy NFE", "equalNfeOf": "learned (x,σ) KL" } ] } ] }
//
// A row's kind is data (STYLE.md §13): it follows from the key that says what to evaluate
// (sampler, grid, runs, runs + recipe, equalNfeOf) and is written as `kind` in table.json.
// Paths in a spec are relative to the spec file's folder.

import { z } from 'zod';
import { LEARNER_SAMPLERS, TEMPERATURE_BOUNDS } from './learner-config';
import { MAX_BATCH, MAX_EVAL_SAMPLES, MAX_SEED } from './limits';
import { describeField, fieldSchema, int, mustBe, num, type ValuesOf } from './schema';
import {
  DEFAULT_SAMPLER_SETTINGS,
  parseSamplerSettings,
  RESTART_FIELDS,
  SAMPLER_FIELDS,
  SamplerSettingsSchema,
  type SamplerSettings,
} from './sampler-settings';
import { infReviver } from './json';
import { jsonNumber } from './run-files';

/** The spec's numbers: one declaration each (bounds, default, help), as every setting (shared/schema.ts). */
export const TABLE_FIELDS = {
  samples: int({
    default: 10_000,
    min: 2,
    max: MAX_EVAL_SAMPLES,
    flag: false,
    help: 'samples per evaluation, the same in every row (FID with 10,000 against the 10,000 test images of fashion-mnist)',
  }),
  seed: int({
    default: 0,
    min: 0,
    max: MAX_SEED,
    flag: false,
    help: 'the seed of every row: sample i starts from the same noise and class in every row',
  }),
  batch: int({
    default: 1024,
    min: 1,
    max: MAX_BATCH,
    flag: false,
    help: 'samples per sampler batch: speed and memory only, the numbers do not change',
  }),
};
export type TableSettings = ValuesOf<typeof TABLE_FIELDS>;

/** A runs row's optional sampling temperature τ (default: each run's own). */
export const TEMPERATURE_FIELD = num({
  ...TEMPERATURE_BOUNDS,
  default: 1,
  flag: false,
  help: "the policies' sampling temperature τ (default: each run's own)",
});

/**
 * What a row evaluates:
 *   sampler    fixed sampler settings
 *   grid       the best cell of a `grid` search (its settings, evaluated again at the table's seed and samples)
 *   runs       the EMA policy of each run (training seeds of one configuration): mean ± sd over the runs
 *   recipe     each run's static recipe (recipe.json in the run, from `export --recipe`): a curve file or
 *              sampler settings; mean ± sd
 *   equal-nfe  plain deterministic sampling with the steps that fit another row's measured mean NFE, or
 *              the two step counts around it mixed to exactly that NFE
 */
export const TABLE_ROW_KINDS = ['sampler', 'grid', 'runs', 'recipe', 'equal-nfe'] as const;
export type TableRowKind = (typeof TABLE_ROW_KINDS)[number];

/**
 * equalNfeOf: the most steps whose NFE is within the row's mean NFE, the fewest that reach it, or
 * the two mixed per sample (same seeds) so that the mean NFE is the row's (samplers/generate.ts mixAtNfe).
 */
export const NFE_MATCHES = ['within', 'reaching', 'mixed'] as const;
export type NfeMatch = (typeof NFE_MATCHES)[number];

export type TableRowSpec =
  | { kind: 'sampler'; label: string; sampler: SamplerSettings }
  | { kind: 'grid'; label: string; grid: string }
  | { kind: 'runs'; label: string; runs: string[]; temperature: number | null }
  | { kind: 'recipe'; label: string; runs: string[] }
  | {
      kind: 'equal-nfe';
      label: string;
      equalNfeOf: string;
      match: NfeMatch;
      /** Settings over the runs' base sampler (steps excepted: the row sets them). */
      sampler: Partial<SamplerSettings>;
    };

export interface TableGroupSpec {
  title: string;
  rows: TableRowSpec[];
}

export interface TableSpec extends TableSettings {
  /** A bundled model id, or a model directory (relative to the spec file). */
  model: string;
  /** The table's heading (default: the model's name). */
  title: string | null;
  /** What FID compares with: the model's data (default), or draws from its exact law (TABLE_REFERENCES). */
  reference: TableReference;
  groups: TableGroupSpec[];
}

/**
 * data: the model's data, as every evaluation; exact: for a model whose params.json gives its exact
 * law ("truth": a Gaussian mixture's means and stds, uniform over its classes), FID against 100,000
 * draws from it — where discretisation is the only error, the distance to the law itself rather than
 * to a finite sample of it (precision and recall stay against the data).
 */
export const TABLE_REFERENCES = ['data', 'exact'] as const;
export type TableReference = (typeof TABLE_REFERENCES)[number];

/** A spec the user can fix; the message names the file, the row (label and place) and the field. */
export class TableSpecError extends RangeError {
  override name = 'TableSpecError';
}

const TOP_KEYS = ['model', 'title', ...Object.keys(TABLE_FIELDS), 'reference', 'groups'];
const GROUP_KEYS = ['title', 'rows'];
/** The key that says what a row evaluates, and the keys each kind takes besides `label`. */
const ROW_KEYS: Record<TableRowKind, readonly string[]> = {
  sampler: ['sampler'],
  grid: ['grid'],
  runs: ['runs', 'recipe', 'temperature'],
  recipe: ['runs', 'recipe'],
  'equal-nfe': ['equalNfeOf', 'match', 'sampler'],
};
const ALL_ROW_KEYS = ['label', ...new Set(Object.values(ROW_KEYS).flat())];

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v)));
const quoted = (keys: string[]): string => keys.map((k) => `"${k}"`).join(', ');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Sampler settings as a row gives them: any subset of the fields (the rest default), checked by their one schema. */
function samplerObject(v: unknown, where: string): SamplerSettings {
  if (!isObject(v)) throw new TableSpecError(`${where} must be an object of sampler settings, got ${show(v)}`);
  const restart = v['restart'] ?? {};
  return parseSamplerSettings(
    // A restart that is no object goes to the schema as it is, to be named there.
    {
      ...DEFAULT_SAMPLER_SETTINGS,
      ...v,
      restart: isObject(restart) ? { ...DEFAULT_SAMPLER_SETTINGS.restart, ...restart } : restart,
    },
    where,
  );
}

const nonEmptyText = z.string().trim().min(1);
const pathList = z.array(nonEmptyText).min(1);

/** One row: its kind from its keys, then each key checked; errors name the row by label and place. */
function parseRow(raw: unknown, place: string, where: string): TableRowSpec {
  if (!isObject(raw)) throw new TableSpecError(`${where}: ${place} must be an object, got ${show(raw)}`);
  const label = raw['label'];
  const name = typeof label === 'string' && label.trim() !== '' ? `row "${label}" (${place})` : place;
  const fail = (message: string): never => {
    throw new TableSpecError(`${where}: ${name}: ${message}`);
  };
  const unknown = Object.keys(raw).filter((k) => !ALL_ROW_KEYS.includes(k));
  if (unknown.length > 0)
    fail(
      `unknown key${unknown.length > 1 ? 's' : ''} ${quoted(unknown)}; a row takes "label" and one of "sampler", "grid", "runs" (with "recipe", "temperature"), "equalNfeOf" (with "match", "sampler")`,
    );
  if (!nonEmptyText.safeParse(label).success)
    fail(`label must be a non-empty string, got ${label === undefined ? 'nothing' : show(label)}`);
  const says = (['equalNfeOf', 'runs', 'grid', 'sampler'] as const).filter((k) => k in raw);
  // A `sampler` beside `equalNfeOf` is that row's base settings, not a second thing to evaluate.
  const what = says.includes('equalNfeOf') ? says.filter((k) => k !== 'sampler') : says;
  if (what.length === 0) fail('says nothing to evaluate: give one of "sampler", "grid", "runs", "equalNfeOf"');
  if (what.length > 1) fail(`gives both ${quoted(what)}; a row evaluates one thing: keep one`);
  const kind: TableRowKind =
    what[0] === 'equalNfeOf'
      ? 'equal-nfe'
      : what[0] === 'runs'
        ? raw['recipe'] === true
          ? 'recipe'
          : 'runs'
        : what[0]!;
  const stray = Object.keys(raw).filter((k) => k !== 'label' && !ROW_KEYS[kind].includes(k));
  if (stray.length > 0)
    fail(
      `${quoted(stray)} do${stray.length > 1 ? '' : 'es'} not apply to a ${kind} row (it takes ${quoted(['label', ...ROW_KEYS[kind]])})`,
    );
  const text = (key: string): string => {
    const r = nonEmptyText.safeParse(raw[key]);
    return r.success ? r.data : fail(`${key} must be a non-empty string, got ${show(raw[key])}`);
  };
  const l = (label as string).trim();
  switch (kind) {
    case 'sampler':
      try {
        return { kind, label: l, sampler: samplerObject(raw['sampler'], 'sampler') };
      } catch (e) {
        return fail((e as Error).message);
      }
    case 'grid':
      return { kind, label: l, grid: text('grid') };
    case 'runs':
    case 'recipe': {
      const runs = pathList.safeParse(raw['runs']);
      if (!runs.success) fail(`runs must be a list of at least one run directory, got ${show(raw['runs'])}`);
      const list = runs.data!;
      const twice = list.find((r, i) => list.indexOf(r) !== i);
      if (twice !== undefined) fail(`runs lists ${show(twice)} twice; each run is one training seed`);
      if ('recipe' in raw && typeof raw['recipe'] !== 'boolean')
        fail(`recipe must be true or false, got ${show(raw['recipe'])}`);
      if (kind === 'recipe') return { kind, label: l, runs: list };
      const t = raw['temperature'];
      if (t !== undefined && !fieldSchema(TEMPERATURE_FIELD).safeParse(t).success)
        fail(mustBe('temperature', TEMPERATURE_FIELD, t));
      return { kind, label: l, runs: list, temperature: (t as number | undefined) ?? null };
    }
    case 'equal-nfe': {
      const match = raw['match'] ?? 'within';
      if (!NFE_MATCHES.includes(match as NfeMatch))
        fail(`match must be one of ${NFE_MATCHES.join(', ')}, got ${show(match)}`);
      const base = raw['sampler'] ?? {};
      if (!isObject(base)) fail(`sampler must be an object of sampler settings, got ${show(base)}`);
      if ('steps' in (base as object)) fail('sampler.steps is set by equalNfeOf (the steps that fit the NFE); drop it');
      const sampler = (base as Record<string, unknown>)['sampler'];
      if (sampler !== undefined && !LEARNER_SAMPLERS.includes(sampler as never))
        fail(
          `sampler.sampler must be one of ${LEARNER_SAMPLERS.join(', ')} (a sampler whose NFE is a number of steps), got ${show(sampler)}`,
        );
      try {
        samplerObject(base, 'sampler');
      } catch (e) {
        fail((e as Error).message);
      }
      return {
        kind,
        label: l,
        equalNfeOf: text('equalNfeOf'),
        match: match as NfeMatch,
        sampler: base as Partial<SamplerSettings>,
      };
    }
  }
}

/**
 * A spec file's contents, checked: every key known, every number within its bounds, every row
 * saying one thing to evaluate, labels unique, each equalNfeOf naming a runs row. `where` (the
 * file) starts every message. What needs the disk or the model (run directories, grid results,
 * settings the model cannot take) is checked by the engine before anything is sampled.
 */
export function parseTableSpec(raw: unknown, where: string): TableSpec {
  const fail = (message: string): never => {
    throw new TableSpecError(`${where}: ${message}`);
  };
  if (!isObject(raw)) fail(`must hold a JSON object (model, samples, seed, batch, groups), got ${show(raw)}`);
  const spec = raw as Record<string, unknown>;
  const unknown = Object.keys(spec).filter((k) => !TOP_KEYS.includes(k));
  if (unknown.length > 0)
    fail(`unknown key${unknown.length > 1 ? 's' : ''} ${quoted(unknown)}; a spec takes ${quoted(TOP_KEYS)}`);
  if (!nonEmptyText.safeParse(spec['model']).success)
    fail(
      `model must name a bundled model or a model directory, got ${spec['model'] === undefined ? 'nothing' : show(spec['model'])}`,
    );
  const title = spec['title'];
  if (title !== undefined && typeof title !== 'string') fail(`title must be a string, got ${show(title)}`);
  const reference = spec['reference'] ?? 'data';
  if (!(TABLE_REFERENCES as readonly unknown[]).includes(reference))
    fail(`reference must be one of ${TABLE_REFERENCES.join(', ')} (what FID compares with), got ${show(reference)}`);
  const settings = {} as TableSettings;
  for (const [k, f] of Object.entries(TABLE_FIELDS) as [keyof TableSettings, (typeof TABLE_FIELDS)['samples']][]) {
    const v = spec[k] ?? f.default;
    if (!fieldSchema(f).safeParse(v).success) fail(mustBe(k, f, v));
    settings[k] = v as number;
  }
  const groups = spec['groups'];
  if (!Array.isArray(groups) || groups.length === 0)
    fail(`groups must be a list of at least one group ({ "title": …, "rows": [ … ] }), got ${show(groups)}`);
  const parsed: TableGroupSpec[] = (groups as unknown[]).map((g, gi) => {
    const place = `groups[${gi}]`;
    if (!isObject(g)) return fail(`${place} must be an object { "title": …, "rows": [ … ] }, got ${show(g)}`);
    const name = typeof g['title'] === 'string' ? `group "${g['title']}" (${place})` : place;
    const bad = Object.keys(g).filter((k) => !GROUP_KEYS.includes(k));
    if (bad.length > 0)
      fail(`${name}: unknown key${bad.length > 1 ? 's' : ''} ${quoted(bad)}; a group takes "title", "rows"`);
    if (!nonEmptyText.safeParse(g['title']).success)
      fail(`${name}: title must be a non-empty string, got ${g['title'] === undefined ? 'nothing' : show(g['title'])}`);
    const rows = g['rows'];
    if (!Array.isArray(rows)) fail(`${name}: rows must be a list of rows, got ${show(rows)}`);
    if ((rows as unknown[]).length === 0) fail(`${name}: has no rows; give at least one`);
    return {
      title: (g['title'] as string).trim(),
      rows: (rows as unknown[]).map((r, ri) => parseRow(r, `${place}.rows[${ri}]`, where)),
    };
  });
  // Labels name rows (equalNfeOf refers to them): each once.
  const seen = new Map<string, string>();
  parsed.forEach((g, gi) =>
    g.rows.forEach((r, ri) => {
      const place = `groups[${gi}].rows[${ri}]`;
      const first = seen.get(r.label);
      if (first !== undefined)
        fail(`row "${r.label}" appears twice (${first} and ${place}); labels name rows, so each must be unique`);
      seen.set(r.label, place);
    }),
  );
  const all = parsed.flatMap((g) => g.rows);
  all.forEach((r) => {
    if (r.kind !== 'equal-nfe') return;
    const target = all.find((t) => t.label === r.equalNfeOf);
    const place = seen.get(r.label)!;
    if (!target)
      fail(
        `row "${r.label}" (${place}): equalNfeOf: no row is labelled "${r.equalNfeOf}"; runs rows: ${quoted(all.filter((t) => t.kind === 'runs').map((t) => t.label)) || 'none'}`,
      );
    if (target!.kind !== 'runs')
      fail(
        `row "${r.label}" (${place}): equalNfeOf: "${r.equalNfeOf}" is a ${target!.kind} row; it must name a runs row (learned policies, whose NFE it matches)`,
      );
  });
  return {
    model: (spec['model'] as string).trim(),
    title: (title as string | undefined) ?? null,
    reference: reference as TableReference,
    ...settings,
    groups: parsed,
  };
}

/** The spec format for `table --help`: the numbers from their declarations, the rows by kind. */
export function tableSpecHelp(indent = '  '): string[] {
  const fields = Object.entries(TABLE_FIELDS).map(
    ([k, f]) => `${indent}"${k}": ${describeField(f)} (default ${f.default}): ${f.help}`,
  );
  return [
    `${indent}"model": a bundled model id or a model directory`,
    `${indent}"title": the heading of table.md (default: the model's name)`,
    `${indent}"reference": "data" (default) or "exact": FID against 100,000 draws from the model's exact law, where its`,
    `${indent}    params.json gives one (the Gaussian-mixture benchmarks); precision and recall stay against the data`,
    ...fields,
    `${indent}"groups": [ { "title": "CFG (Heun 18)", "rows": [ ROW, … ] }, … ]`,
    `${indent}ROW is { "label": "…", and one of:`,
    `${indent}  "sampler": { sampler settings }           fixed settings: any of ${Object.keys(SAMPLER_FIELDS).join(', ')},`,
    `${indent}                                            restart: { ${Object.keys(RESTART_FIELDS).join(', ')} } (the rest default),`,
    `${indent}                                            guidanceCurve / churnCurve: a curve object written out`,
    `${indent}                                            ({ "parameter": …, "points": [ … ] }, as in a curve file);`,
    `${indent}                                            sigmas: a schedule file relative to the spec, or the list`,
    `${indent}  "grid": "GRID_DIR"                        the best cell of a \`grid\` search, at the table's seed and samples`,
    `${indent}  "runs": ["RUN", …] [, "temperature": T]   each run's EMA policy (training seeds): mean ± sd, profiles as PNG;`,
    `${indent}                                            T: ${describeField(TEMPERATURE_FIELD)} (default: the run's)`,
    `${indent}  "runs": ["RUN", …], "recipe": true        each run's static recipe (RUN/recipe.json, from`,
    `${indent}                                            \`export --run RUN --recipe\`): mean ± sd`,
    `${indent}  "equalNfeOf": "LABEL" [, "match": within|reaching|mixed] [, "sampler": { … }]`,
    `${indent}                                            the runs' base sampler, deterministic, with the most steps whose`,
    `${indent}                                            NFE is within (or the fewest that reach) that runs row's mean NFE,`,
    `${indent}                                            or both mixed per sample to exactly that mean NFE }`,
    `${indent}Paths are relative to the spec file.`,
  ];
}

// ---------------------------------------------------------------------------------------------
// What the table writes: each evaluation (also the cache's unit) and each row.

/** The columns of every row, with the catalogue key (shared/metrics.ts) that formats them. */
export const TABLE_COLUMNS = [
  { key: 'fid', label: 'FID', metric: 'fid' },
  { key: 'precision', label: 'Precision', metric: 'precision' },
  { key: 'recall', label: 'Recall', metric: 'recall' },
  { key: 'nfe', label: 'NFE', metric: 'eval/nfe' },
  { key: 'networkEvals', label: 'Network passes', metric: 'eval/nfe' },
] as const;
export type TableColumn = (typeof TABLE_COLUMNS)[number]['key'];

/** The learned profile of an evaluation rollout: [N][K] action shares per noise level (σ, high to low). */
export const tableProfile = z.object({
  actions: z.array(jsonNumber),
  sigmas: z.array(jsonNumber),
  profile: z.array(z.array(jsonNumber)),
});
export type TableProfile = z.output<typeof tableProfile>;

/** Sampler settings as saved (∞ as "inf"), through their one schema. */
const savedSettings = z.preprocess(
  (v) => JSON.parse(JSON.stringify(v ?? null), infReviver) as unknown,
  SamplerSettingsSchema,
);

/** One evaluation: samples drawn at the table's seed and scored; what the cache holds. */
export const tableEvaluation = z.object({
  /** What was sampled: sampler settings (resolved), or a run's EMA policy. */
  source: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('settings'), settings: savedSettings }),
    /** An equal-nfe row's "mixed": the first `fromAbove` samples drawn with `above`, the rest with `below`. */
    z.object({
      kind: z.literal('mixed'),
      below: savedSettings,
      above: savedSettings,
      fromAbove: z.number().int().nonnegative(),
    }),
    z.object({
      kind: z.literal('policy'),
      iteration: z.number().int().nonnegative(),
      temperature: jsonNumber,
    }),
    /** An RL step scheduler's deterministic policy (engine/scheduler/). */
    z.object({ kind: z.literal('scheduler'), iteration: z.number().int().nonnegative() }),
  ]),
  /** The run it belongs to (runs and recipe rows), as the spec names it. */
  run: z.string().nullable(),
  /** fid, precision, recall */
  summary: z.record(z.string(), jsonNumber),
  /** Mean guided denoiser evaluations (NFE) and network passes per sample. */
  nfe: jsonNumber,
  networkEvals: jsonNumber,
  seconds: jsonNumber,
  flags: z.array(z.string()),
  profile: tableProfile.nullable(),
});
export type TableEvaluation = z.output<typeof tableEvaluation>;

/** A cache file (DIR/cache/KEY.json): the key it was computed for, and the evaluation. */
export const tableCacheEntry = z.object({
  key: z.record(z.string(), z.unknown()),
  evaluation: tableEvaluation,
});

/** A row of table.json. `cached` per evaluation: taken from the cache by this invocation. */
export const tableRowResult = z.object({
  group: z.string(),
  label: z.string(),
  kind: z.enum(TABLE_ROW_KINDS),
  /** Every evaluation is done (a table written while others run shows the rest as pending). */
  complete: z.boolean(),
  evaluations: z.array(tableEvaluation.extend({ cached: z.boolean() })),
  /** Over the evaluations: the mean, and the sample standard deviation (n − 1; null for one evaluation). */
  mean: z.record(z.string(), jsonNumber),
  sd: z.record(z.string(), jsonNumber).nullable(),
  /** For equal-nfe rows: the NFE matched and the steps chosen. */
  note: z.string().nullable(),
  /** Profile pictures (learned rows): the mean over the runs, then each run's, relative to the output folder. */
  profiles: z.array(z.string()),
});
export type TableRowResult = z.output<typeof tableRowResult>;

export const tableResult = z.object({
  format: z.literal(1),
  title: z.string(),
  model: z.string(),
  samples: z.number(),
  seed: z.number(),
  metrics: z.array(z.string()),
  /** The feature extractor the metrics are computed on. */
  extractor: z.string(),
  /** What FID compared with (absent in tables written before: the data). */
  reference: z.enum(TABLE_REFERENCES).default('data'),
  groups: z.array(z.object({ title: z.string(), rows: z.array(tableRowResult) })),
});
export type TableResult = z.output<typeof tableResult>;
