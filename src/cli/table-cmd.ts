// `table`: the results table (the paper's Table 2) from a spec file and run directories, as
// table.md, table.csv, table.json and profile pictures; resumable (apps/results-table.ts).

import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Model } from '../main/engine/models/model';
import { resolveModelDir } from '../main/engine/models/registry';
import { SamplingCancelled } from '../main/engine/samplers/loop';
import {
  dryRun,
  planTable,
  runTable,
  tableMarkdown,
  type DryRunRow,
  type TablePlan,
} from '../main/engine/apps/results-table';
import { parseTableSpec, tableSpecHelp, type TableSpec } from '../shared/results-table';
import { parseSigmasText } from '../shared/sigmas';
import { formatMetric } from '../shared/metrics';
import { infReplacer } from '../shared/json';
import { deviceFromFlag, parseFlags, Reporter, UsageError } from './common';

/** "1 row", "3 rows". */
const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

export const TABLE_OPTIONS = {
  spec: { type: 'string' },
  out: { type: 'string' },
  'dry-run': { type: 'boolean' },
  device: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

export function tableUsage(): string {
  return `Usage: sampler-studio table --spec SPEC.json --out DIR [--dry-run] [--device auto|cpu|cuda] [--json]
  the results table (the paper's Table 2): every row of the spec sampled with the same seed and sample count
  and scored — FID against the model's reference statistics, precision, recall, NFE and network passes per
  sample; rows over several runs (training seeds) as mean ± sd. Writes DIR/table.md, table.csv, table.json
  and the learned rows' profiles (DIR/profiles/*.png). Each evaluation is cached in DIR/cache as it finishes:
  run the same command again after a stop and only what is missing is evaluated. The cache knows the model's
  files but not the policies' encoder or Sampler Studio's version: after replacing encoder.onnx under the same
  name, or updating Sampler Studio, delete DIR/cache to evaluate everything again.

  --spec FILE                           the table: model, samples, seed, batch and groups of rows (below)
  --out DIR                             where the table, its pictures and its cache go
  --dry-run                             check the spec, then print the rows, what is cached and the estimated
                                        NFE and network passes, without sampling (--out optional: its cache)
  --device auto|cpu|cuda                where the denoiser runs (default auto)
  --json                                the final stdout line is the result object

Spec (JSON):
${tableSpecHelp('  ').join('\n')}`;
}

/** A model named in the spec: a bundled id, or a directory relative to the spec file. */
function specModelDir(spec: TableSpec, specFile: string): string {
  const m = spec.model;
  return resolveModelDir(/[\\/]/.test(m) || m.startsWith('.') ? resolve(dirname(specFile), m) : m);
}

function readSpec(file: string): TableSpec {
  if (!existsSync(file)) throw new UsageError(`--spec ${file}: not found`);
  if (statSync(file).isDirectory()) throw new UsageError(`--spec ${file} is a folder; give the spec's JSON file`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--spec ${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseTableSpec(withScheduleFiles(raw, file), file);
}

/**
 * A sampler row's "sigmas" may name a schedule file (optimize-schedule's output), relative to the
 * spec: read and checked here, so the row holds the list it names (the cache key is the levels, not
 * the path).
 */
function withScheduleFiles(raw: unknown, specFile: string): unknown {
  const groups = (raw as { groups?: unknown } | null)?.groups;
  if (!Array.isArray(groups)) return raw; // parseTableSpec names what is wrong
  for (const g of groups as { rows?: unknown }[])
    for (const row of Array.isArray(g?.rows) ? (g.rows as { sampler?: { sigmas?: unknown } }[]) : []) {
      const sigmas = row?.sampler?.sigmas;
      if (typeof sigmas !== 'string') continue;
      const path = resolve(dirname(specFile), sigmas);
      if (!existsSync(path))
        throw new UsageError(`--spec ${specFile}: "sigmas": "${sigmas}": no such schedule file (${path})`);
      const levels = parseSigmasText(readFileSync(path, 'utf8'), path);
      row.sampler!.sigmas = levels;
      // The file sets the steps, as --sigmas does.
      (row.sampler as Record<string, unknown>)['steps'] ??= levels.length - 1;
    }
  return raw;
}

function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, j) => (j < 3 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function describeDryRun(plan: TablePlan, d: ReturnType<typeof dryRun>): string {
  const nfe = (v: number): string => formatMetric('eval/nfe', v);
  const count = (v: number): string => Math.round(v).toLocaleString('en-US');
  const basis: Record<DryRunRow['estimate']['basis'], string> = {
    measured: 'measured (cached)',
    settings: 'from the settings',
    'run evaluation': "the run's last evaluation",
    bound: 'at most (NFE budget)',
  };
  const rows = d.rows.map((r) => [
    r.group,
    r.label,
    r.kind,
    `${r.cached}/${r.evaluations}`,
    nfe(r.estimate.nfe),
    nfe(r.estimate.networkEvals),
    count(r.networkPassesToDo),
    basis[r.estimate.basis],
  ]);
  const s = plan.spec;
  return [
    `${plan.model.name}: ${plural(d.rows.length, 'row')}, ${s.samples} samples per evaluation, seed ${s.seed} (dry run: nothing sampled)`,
    columns([['group', 'row', 'kind', 'cached', 'NFE/sample', 'net/sample', 'passes to do', 'estimate'], ...rows]),
    `to do: ${plural(d.evaluationsToDo, 'evaluation')}, about ${count(d.networkPassesToDo)} network passes ` +
      '(guided rows counted at 2 passes per evaluation: an upper bound where w = 1 in places)',
    ...d.rows.filter((r) => r.note).map((r) => `  ${r.label}: ${r.note}`),
  ].join('\n');
}

export async function cmdTable(argv: string[], signal: AbortSignal): Promise<void> {
  const { values: v } = parseFlags(argv, TABLE_OPTIONS);
  if (v.help) return void process.stdout.write(tableUsage() + '\n');
  if (!v.spec) throw new UsageError('table needs --spec FILE (the rows to evaluate; see table --help)');
  const isDry = !!v['dry-run'];
  if (!v.out && !isDry)
    throw new UsageError(
      'table needs --out DIR (table.md, table.csv, table.json, profiles/ and the cache go there; running it again continues)',
    );
  if (v.out && existsSync(v.out) && !statSync(v.out).isDirectory())
    throw new UsageError(`--out ${v.out} is a file; give a folder`);
  const spec = readSpec(v.spec);
  const rep = new Reporter(!!v.json);
  const model = await Model.load(specModelDir(spec, v.spec), { device: deviceFromFlag(v.device) });
  let plan: TablePlan | null = null;
  try {
    plan = await planTable({
      model,
      spec,
      specFile: v.spec,
      outDir: v.out ?? null,
      onEvent: (e) => rep.event(e),
      dryRun: !!v['dry-run'],
    });
    if (isDry) {
      const d = dryRun(plan);
      rep.result({ command: 'table', dryRun: true, ...d }, describeDryRun(plan, d));
      return;
    }
    const run = await runTable(plan, { signal, onEvent: (e) => rep.event(e) });
    rep.result(
      // JSON has no ∞ (a sampler's S_tmax): "inf", as table.json writes it.
      JSON.parse(
        JSON.stringify(
          { command: 'table', out: v.out, computed: run.computed, cached: run.cached, files: run.files, ...run.result },
          infReplacer,
        ),
      ) as Record<string, unknown>,
      tableMarkdown(run.result).trimEnd() +
        `\n\n${plural(run.computed + run.cached, 'evaluation')}: ${run.computed} computed now, ${run.cached} cached; ` +
        `table.md, table.csv, table.json${run.files.some((f) => f.startsWith('profiles/')) ? ' and profiles/' : ''} in ${v.out}`,
    );
  } catch (e) {
    if (e instanceof SamplingCancelled && plan) {
      const saved = plan.rows.flatMap((r) => r.units ?? []).filter((u) => u.result).length;
      process.stderr.write(
        `table stopped: ${saved} evaluations are saved in ${v.out}/cache; run the same command again to continue\n`,
      );
    }
    throw e;
  } finally {
    await model.dispose();
  }
}
