// Part of a results-table spec, so that the table's evaluations can run while other runs still train
// (fashion-mnist-table.sh): every part evaluates into the same table folder, whose cache is keyed by
// what is evaluated (settings, checkpoint hashes), not by the spec, so the full table later finds
// these evaluations done.
//
//   npx tsx tools/experiments/spec-part.ts SPEC baselines OUT   rows without runs (sampler and grid rows)
//   npx tsx tools/experiments/spec-part.ts SPEC seed S OUT      the runs rows, each cut to its run "…-sS"
//   … --skip-group PREFIX                                          leave out the groups whose title starts so
//   … --run NAME                                                   with seed S: only the rows of run NAME-sS (a
//                                                                  policy and its recipe: one lane's share)
//
// Equal-NFE rows are in no part: they need every run of the row they match. Paths in the part are
// absolute (the part is written elsewhere than the spec).
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';

const argv = process.argv.slice(2);
const skipAt = argv.indexOf('--skip-group');
const skip = skipAt >= 0 ? argv.splice(skipAt, 2)[1] : undefined;
const runAt = argv.indexOf('--run');
const only = runAt >= 0 ? argv.splice(runAt, 2)[1] : undefined;
const [specFile, mode, ...rest] = argv;
const seed = mode === 'seed' ? rest.shift() : null;
const out = rest[0];
if (
  !specFile ||
  !out ||
  (mode !== 'baselines' && !(mode === 'seed' && /^\d+$/.test(seed ?? ''))) ||
  (runAt >= 0 && (mode !== 'seed' || !only))
) {
  console.error('usage: spec-part.ts SPEC (baselines | seed S [--run NAME]) OUT [--skip-group PREFIX]');
  process.exit(2);
}
// The spec is checked by `table` itself (shared/results-table.ts); here only the fields a part changes.
interface Row {
  runs?: string[];
  grid?: string;
  equalNfeOf?: string;
}
const spec = JSON.parse(readFileSync(specFile, 'utf8')) as { groups: { title: string; rows: Row[] }[] };
const abs = (p: string): string => (isAbsolute(p) ? p : resolve(dirname(specFile), p));
const part = (row: Row): Row | null => {
  if (row.equalNfeOf) return null;
  if (mode === 'baselines') return row.runs ? null : row.grid ? { ...row, grid: abs(row.grid) } : row;
  if (!row.runs) return null;
  const runs = row.runs
    .filter((r) => (only === undefined ? r.endsWith(`-s${seed}`) : basename(r) === `${only}-s${seed}`))
    .map(abs);
  return runs.length > 0 ? { ...row, runs } : null;
};
const groups = spec.groups
  .filter((g) => skip === undefined || !g.title.startsWith(skip))
  .map((g) => ({ ...g, rows: g.rows.map(part).filter((r): r is Row => r !== null) }))
  .filter((g) => g.rows.length > 0);
writeFileSync(out, JSON.stringify({ ...spec, groups }, null, 2) + '\n');
