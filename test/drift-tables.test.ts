// The q-learning paper's tables (apps/drift-tables.ts, `drift-tables`): the weight search's next
// move on plain numbers, and the command end to end at a toy size — every row of Table 3 written
// with 95% intervals, and a second call that finds everything done and trains nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nextWeight } from '../src/main/engine/apps/drift-tables';
import { assertUsageError, cli } from './helpers/cli';

const opts = { tol: 0.02, refine: 3, bisections: 0 };

test('the weight search bisects the bracket geometrically, steps ×10 beyond the ladder and stops within tol', () => {
  // q-learning: the reward rises with the weight.
  const q = new Map([
    [1, 0.55],
    [3, 0.65],
    [10, 0.85],
    [30, 0.95],
  ]);
  assert.equal(nextWeight(q, 0.7, true, opts), Number(Math.sqrt(30).toPrecision(3)));
  assert.equal(nextWeight(q, 0.9, true, opts), Number(Math.sqrt(300).toPrecision(3)));
  assert.equal(nextWeight(q, 0.99, true, opts), 300, 'every reward below the target: the next decade up');
  assert.equal(nextWeight(q, 0.3, true, opts), 0.1, 'every reward above the target: the next decade down');
  assert.equal(nextWeight(q, 0.85, true, opts), null, 'a run within tol: done');
  assert.equal(nextWeight(q, 0.86, true, opts), null, 'within tol of 0.85 too');
  assert.equal(nextWeight(q, 0.7, true, { ...opts, bisections: 3 }), null, 'the bisections spent');
  // DPOK: the reward falls as its KL weight rises.
  const dpok = new Map([
    [1, 0.55],
    [0.3, 0.62],
    [0.1, 0.8],
    [0.03, 0.92],
  ]);
  assert.equal(nextWeight(dpok, 0.7, false, opts), Number(Math.sqrt(0.03).toPrecision(3)));
  assert.equal(nextWeight(dpok, 0.97, false, opts), 0.003);
  // Rewards that cross the target only against the weights' order leave nothing to bisect.
  assert.equal(
    nextWeight(
      new Map([
        [1, 0.9],
        [10, 0.5],
      ]),
      0.7,
      true,
      opts,
    ),
    null,
  );
  assert.throws(() => nextWeight(new Map(), 0.7, true, opts), /ladder first/);
});

test('drift-tables writes Table 3 with 95% intervals for every row, and a second call reuses every run and evaluation', async () => {
  const out = mkdtempSync(join(tmpdir(), 'drift-tables-'));
  const args = ['drift-tables', '--out', out, '--tables', '3', '--iterations', '1', '--batches', '3'];
  const small = [...args, '--batch-size', '30', '--eval-samples', '40', '--refine', '0'];
  const r = await cli(...small);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(readFileSync(join(out, 'tables.json'), 'utf8')) as {
    rows: {
      label: string;
      target: number | null;
      weight: number | null;
      reward: { mean: number; half: number };
      klData: { mean: number; half: number };
      klModel: { half: number };
    }[];
  };
  // The frozen model, DDPO, and DPOK and q-learning at each of 0.7, 0.8, 0.9 and 0.95.
  assert.deepEqual(
    json.rows.map((row) => `${row.label}@${row.target ?? '-'}`),
    [
      'pretrained (frozen model)@-',
      'DDPO@-',
      ...[0.7, 0.8, 0.9, 0.95].flatMap((t) => [`DPOK@${t}`, `q-learning@${t}`]),
    ],
  );
  for (const row of json.rows) {
    assert.ok(Number.isFinite(row.reward.mean) && row.reward.mean >= 0 && row.reward.mean <= 1, JSON.stringify(row));
    assert.ok(Number.isFinite(row.klData.mean) && row.klData.half > 0 && row.klModel.half > 0, JSON.stringify(row));
  }
  // DPOK and q-learning rows name the weight of the run they chose; the base sampler and DDPO have none.
  assert.equal(json.rows[0]!.weight, null);
  assert.equal(json.rows[1]!.weight, null);
  assert.ok(json.rows.slice(2).every((row) => typeof row.weight === 'number'));
  const md = readFileSync(join(out, 'tables.md'), 'utf8');
  assert.match(md, /### Table 3: the good model \(swissroll-a\)/);
  assert.match(md, /\| DPOK \| SDE \| 20 \| 0\.8 \| [\d.]+ \| \d\.\d{3} ± \d\.\d{3}/);
  assert.match(md, /3 batches of 30 samples \(seed 7\)/);
  const runs = readdirSync(join(out, 'runs'));
  assert.ok(runs.includes('swissroll-a-ddpo-sde20') && runs.includes('swissroll-a-q-learning-sde20-w10'), runs.join());
  assert.ok(readdirSync(join(out, 'pictures')).length >= 3);
  // --report into a fresh folder holding only some of the runs: the rows they make, nothing trained.
  const partial = mkdtempSync(join(tmpdir(), 'drift-tables-report-'));
  cpSync(join(out, 'runs', 'swissroll-a-ddpo-sde20'), join(partial, 'runs', 'swissroll-a-ddpo-sde20'), {
    recursive: true,
  });
  const rep = await cli(...small.map((a) => (a === out ? partial : a)), '--report');
  assert.equal(rep.code, 0, rep.stderr);
  assert.doesNotMatch(rep.stderr, /^(train|resume) /m);
  assert.match(rep.stderr, /0 rows done, 10 still to train or evaluate/, 'no evaluation is cached there');
  assert.ok(!existsSync(join(partial, 'cache')), 'nothing evaluated');
  // A learning setting for every run (an ablation) is said under the tables; DDPO's run does not read
  // the critic's learning rate, so it is the same run.
  const ablation = await cli(...small.map((a) => (a === out ? partial : a)), '--report', '--lr-critic', '0.01');
  assert.equal(ablation.code, 0, ablation.stderr);
  assert.match(
    readFileSync(join(partial, 'tables.md'), 'utf8'),
    /Every run trained with lrCritic = 0\.01 \(not the defaults\)\./,
  );
  // Again: nothing trained, nothing evaluated anew, the same table.
  const again = await cli(...small);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /^(train|resume) /m);
  assert.equal(readFileSync(join(out, 'tables.md'), 'utf8'), md);
  // A run whose checkpoint changed (deleted and trained again) is evaluated again, not read from the
  // cache; the same weights (here: the file with a newline added) give the same rows.
  const ddpo = join(out, 'runs', 'swissroll-a-ddpo-sde20', 'checkpoint.json');
  writeFileSync(ddpo, readFileSync(ddpo, 'utf8') + '\n');
  const changed = await cli(...small);
  assert.equal(changed.code, 0, changed.stderr);
  assert.match(
    changed.stderr,
    /swissroll-a-ddpo-sde20-seed7: the cached evaluation is of another run or other settings/,
  );
  assert.doesNotMatch(changed.stderr, /q-learning-sde20-w[\d.]+-seed7: the cached/);
  assert.equal(readFileSync(join(out, 'tables.md'), 'utf8'), md);
  // The same folder with another setting for every run: its q-learning runs are not those runs.
  const other = await cli(...small, '--lr-critic', '0.01', '--report');
  assert.equal(other.code, 2, other.stderr);
  assert.match(
    other.stderr,
    /q-learning-sde20-w[\d.]+ was trained with lrCritic = 0\.001; this table trains lrCritic = 0\.01\./,
  );
  // A kept run trained with other settings (an older default) is refused, not mixed into the table.
  const file = join(out, 'runs', 'swissroll-a-q-learning-sde20-w10', 'drift.json');
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { config: Record<string, unknown> };
  writeFileSync(file, JSON.stringify({ ...saved, config: { ...saved.config, scoreFloor: 'spacing' } }));
  const mixed = await cli(...small);
  assert.equal(mixed.code, 2, mixed.stderr);
  assert.match(
    mixed.stderr,
    /swissroll-a-q-learning-sde20-w10 was trained with scoreFloor = "spacing"; this table trains scoreFloor = "bandwidth"\. Give the tables a new --out folder/,
  );
});

test('drift-tables refuses an unknown table and an evaluation seed equal to the training seed', async () => {
  assertUsageError(
    await cli('drift-tables', '--out', tmpdir(), '--tables', '3,7'),
    /--tables: "7" is not one of the tables 1, 3, 4, 5, 6/,
  );
  assertUsageError(
    await cli('drift-tables', '--out', tmpdir(), '--seed', '7'),
    /--eval-seed must differ from the training --seed/,
  );
  assertUsageError(await cli('drift-tables'), /needs --out DIR/);
  assertUsageError(
    await cli('drift-tables', '--out', tmpdir(), '--lr-critic', '2'),
    /--lr-critic must be a number in \(0, 1\], got 2/,
  );
  assertUsageError(await cli('drift-tables', '--out', tmpdir(), '--kl-weight', '1'), /unknown flag --kl-weight/);
});
