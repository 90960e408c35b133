// `drift-tables`: the q-learning paper's Tables 3–6 for drift policies (apps/drift-tables.ts), every
// run trained, every weight matched and every row evaluated by one resumable command.

import { Model } from '../main/engine/models/model';
import { resolveModelDir } from '../main/engine/models/registry';
import { num, parseFlags, UsageError } from './common';
import {
  DEFAULT_DRIFT_CONFIG,
  DRIFT_FIELDS,
  DRIFT_TABLE_SETTINGS,
  parseDriftConfig,
  type DriftConfig,
} from '../shared/drift-config';
import { flagNameOf, flagOptions, helpLines, valuesFromFlags } from '../shared/schema';

/** The drift settings a table leaves to the user, as flags (`--lr-critic 1e-2`), for ablations. */
const FREE_FIELDS = Object.fromEntries(DRIFT_TABLE_SETTINGS.map((k) => [k, DRIFT_FIELDS[k]]));
const flagName = flagNameOf(DRIFT_FIELDS);

const OPTIONS = {
  ...flagOptions(FREE_FIELDS),
  out: { type: 'string' },
  tables: { type: 'string' },
  iterations: { type: 'string' },
  seed: { type: 'string' },
  'eval-seed': { type: 'string' },
  batches: { type: 'string' },
  'eval-samples': { type: 'string' },
  'batch-size': { type: 'string' },
  tol: { type: 'string' },
  refine: { type: 'string' },
  good: { type: 'string' },
  weak: { type: 'string' },
  'good-1d': { type: 'string' },
  'weak-1d': { type: 'string' },
  report: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

export const DRIFT_TABLES_USAGE = `Usage: sampler-studio drift-tables --out DIR [--tables 1,3,4,5,6] [--iterations N (100)] [--seed S (0)]
       [--eval-seed S (7)] [--eval-samples E (1000)] [--batches B (100)] [--batch-size M (300)] [--tol T (0.02)] [--refine K (3)]
       [--good ID (swissroll-a)] [--weak ID (swissroll-b)] [--good-1d ID (gmm1d-a)] [--weak-1d ID (gmm1d-b)] [--report] [--json]
       [SETTING FLAGS: the drift policies' learning settings for every run, below]

The q-learning paper's tables (Gao, Zha and Zhou 2024) for drift policies on frozen models:
  1     its Figure 1 as a table: q-learning with reward weight β = 0, 0.1, 1 on the 1-D mixture
        (good and weak model; reward: a bump at 6), with the frozen model's row and pictures
  3, 4  KL at matched mean reward 0.7 / 0.8 / 0.9 (and 0.95) for DDPO, DPOK and q-learning on the good and the
        weak model (SDE simulator, 20 steps), with the frozen model's row
  5     q-learning with reward weight 0 on the DDIM, ODE-Euler and SDE simulators at 50 / 10 / 5 steps
  6     the same at matched mean reward 0.8
Each weight (DPOK's β, q-learning's β) is searched on the runs' own evaluations (E samples of the
training evaluation seed, within --tol of the target, at most --refine bisections); each row is then
evaluated on B batches of M samples of another seed: mean reward, k-NN KL to the model's data and to
the frozen model's samples, with 95% intervals. Writes DIR/tables.md, DIR/tables.json, DIR/runs/
(the trained runs), DIR/cache/ and DIR/pictures/ (M samples a row). Resumable: run it again to
continue; two processes may work on different --tables of one DIR (each keeps the
other's rows in tables.md). --report writes the tables from what is done so far and trains nothing.

Every run trains with the drift policy's defaults (train --intervention drift --help) and four passes
over each batch; these flags change them for every run of the tables (an ablation: give it its own
--out, as a run keeps the settings it trained with):
${helpLines(FREE_FIELDS, '  ', { ...DEFAULT_DRIFT_CONFIG, ppoEpochs: 4 }).join('\n')}`;

export async function cmdDriftTables(argv: string[], signal: AbortSignal): Promise<void> {
  const { values: v } = parseFlags(argv, OPTIONS);
  if (v.help) return void process.stdout.write(DRIFT_TABLES_USAGE + '\n');
  if (!v.out) throw new UsageError('drift-tables needs --out DIR (where its runs and tables go)');
  const { DEFAULT_DRIFT_TABLES, DRIFT_TABLE_IDS, SWISSROLL_REWARD, driftTables } =
    await import('../main/engine/apps/drift-tables');
  const tables = (v.tables ?? DRIFT_TABLE_IDS.join(','))
    .split(',')
    .map((t) => t.trim())
    .map((t) => {
      const id = Number(t);
      if (!(DRIFT_TABLE_IDS as readonly number[]).includes(id))
        throw new UsageError(`--tables: "${t}" is not one of the tables ${DRIFT_TABLE_IDS.join(', ')}`);
      return id as (typeof DRIFT_TABLE_IDS)[number];
    });
  const d = DEFAULT_DRIFT_TABLES;
  const int = (x: string | undefined, flag: string, min: number, max: number, dflt: number): number =>
    num(x, flag, { int: true, min, max }) ?? dflt;
  const o = {
    ...d,
    out: v.out,
    tables,
    iterations: int(v.iterations, '--iterations', 1, 100_000, d.iterations),
    seed: int(v.seed, '--seed', 0, 2 ** 31 - 1, d.seed),
    evalSeed: int(v['eval-seed'], '--eval-seed', 0, 2 ** 31 - 1, d.evalSeed),
    evalSamples: int(v['eval-samples'], '--eval-samples', 2, 100_000, d.evalSamples),
    batches: int(v.batches, '--batches', 2, 10_000, d.batches),
    batchSize: int(v['batch-size'], '--batch-size', 2, 100_000, d.batchSize),
    tol: num(v.tol, '--tol', { min: 0, max: 1 }) ?? d.tol,
    refine: int(v.refine, '--refine', 0, 20, d.refine),
    models: { good: v.good ?? d.models.good, weak: v.weak ?? d.models.weak },
    models1d: { good: v['good-1d'] ?? d.models1d.good, weak: v['weak-1d'] ?? d.models1d.weak },
    report: !!v.report,
    signal,
    log: (line: string) => process.stderr.write(`${line}\n`),
  };
  // The settings flags, checked as a run would check them (their names and bounds from DRIFT_FIELDS).
  const settings = valuesFromFlags(FREE_FIELDS, v) as Partial<DriftConfig>;
  try {
    parseDriftConfig({ ...DEFAULT_DRIFT_CONFIG, rewards: [SWISSROLL_REWARD], ...settings }, flagName);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (Object.keys(settings).length > 0) o.settings = settings;
  if (o.evalSeed === o.seed)
    throw new UsageError(
      `--eval-seed must differ from the training --seed (both ${o.seed}): the table reports on samples no run saw`,
    );
  const rows = await driftTables(async (name) => Model.load(resolveModelDir(name)), o);
  if (v.json) process.stdout.write(JSON.stringify({ out: o.out, rows }) + '\n');
  else {
    const { driftTablesMarkdown } = await import('../main/engine/apps/drift-tables');
    process.stdout.write(driftTablesMarkdown(rows, o));
  }
}
