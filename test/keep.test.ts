// tools/experiments/keep.sh carries an experiment between machines: `save NAME` copies runs/NAME into
// results/NAME (committed) without logs, pictures, development sets and locks, `restore NAME` copies it
// back, and save refuses while a run in it is being trained (its train.lock names a live process here),
// naming the run; a lock left by a process that is gone does not stop it. The script runs from a copy in
// a temporary root, as it would in a clone: it works on the runs/ and results/ beside it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { lockRun } from '../src/main/engine/runs/lock';
import { runPaths } from '../src/main/engine/runs/files';

const root = mkdtempSync(join(tmpdir(), 'ss-keep-'));
const script = join(root, 'tools/experiments/keep.sh');
mkdirSync(dirname(script), { recursive: true });
copyFileSync(join(import.meta.dirname, '../tools/experiments/keep.sh'), script);

const keep = (...args: string[]) => spawnSync('bash', [script, ...args], { cwd: tmpdir(), encoding: 'utf8' });

/** Every file under dir, as paths relative to it, sorted. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

test('keep.sh saves an experiment without logs, pictures and locks, refuses while a run trains, and restores it', (t) => {
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const runs = join(root, 'runs/exp');
  const run = join(runs, 'run-a');
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(runs, path)), { recursive: true });
    writeFileSync(join(runs, path), text);
  };
  write('run-a/config.json', '{"seed": 1}\n');
  write('run-a/checkpoint.json', '{"iteration": 3}\n');
  write('run-a/metrics.jsonl', '{"iteration":1}\n{"iteration":2}\n{"iteration":3}\n');
  write('run-a/samples/grid-3.png', 'png');
  write('run-a/dev/dev.npy', 'npy');
  write('run-a.done', '');
  write('run-a.log', 'log');
  write('table-exp/cache/0123abcd.json', '{"fid": 1.5}\n');
  write('table-exp/.lock', 'lock');
  const kept = [
    'run-a.done',
    'run-a/checkpoint.json',
    'run-a/config.json',
    'run-a/metrics.jsonl',
    'table-exp/cache/0123abcd.json',
  ];

  // A run being trained (its lock is this live process's, taken as training takes it): refused, named.
  const lock = lockRun(run, 'train --resume runs/exp/run-a');
  try {
    const busy = keep('save', 'exp');
    assert.equal(busy.status, 1, busy.stderr);
    assert.match(
      busy.stderr,
      new RegExp(`these runs are training: .*runs/exp/run-a \\(process ${process.pid}\\); stop`),
    );
    assert.ok(!existsSync(join(root, 'results/exp')), 'nothing saved');
  } finally {
    lock.release();
  }

  // A lock left by a process that is gone is stale: it does not stop the save, and is not kept.
  const gone = spawnSync('true').pid;
  writeFileSync(
    runPaths(run).lock,
    JSON.stringify({ pid: gone, host: hostname(), started: new Date().toISOString(), command: 'train' }),
  );
  const saved = keep('save', 'exp');
  assert.equal(saved.status, 0, saved.stderr);
  assert.match(saved.stdout, /runs\/exp → results\/exp: 5 files/);
  assert.deepEqual(files(join(root, 'results/exp')), kept);

  // Restored on a "new machine": the same files, byte for byte.
  rmSync(join(root, 'runs'), { recursive: true });
  const restored = keep('restore', 'exp');
  assert.equal(restored.status, 0, restored.stderr);
  assert.deepEqual(files(runs), kept);
  assert.equal(readFileSync(join(run, 'metrics.jsonl'), 'utf8'), '{"iteration":1}\n{"iteration":2}\n{"iteration":3}\n');

  // Bad input is named.
  assert.match(keep('save', '../etc').stderr, /'..\/etc' is not a folder name of runs\//);
  assert.equal(keep('save', '../etc').status, 2);
  assert.match(keep('restore', 'absent').stderr, /results\/absent does not exist: nothing to restore/);
  assert.equal(keep('copy', 'exp').status, 2);
});
