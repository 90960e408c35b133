// Commands load only what they use ([Note: commands load lazily] in src/cli/index.ts): `models` and
// `fid` run as real processes with a preload that records every module loaded
// (helpers/record-modules.ts), and neither may load TensorFlow.js or the learner. `export --help`,
// whose command needs the learner, shows that the recording sees them when they are loaded.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { lastJson } from './helpers/cli';
import { encodeNpy } from '../src/main/engine/io/npy';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'cli-lazy-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Loaded {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The URLs of every module the process loaded (ES modules as resolved, CommonJS from require.cache). */
  modules: string[];
}

let runs = 0;
/** Runs `node [--import tsx --import record-modules.ts] <script> …args`, recording modules unless `record` is false. */
function run(script: string, args: string[], record = true): Promise<Loaded> {
  const log = join(tmp, `modules-${runs++}.txt`);
  const preload = record ? ['--import', 'tsx', '--import', join(ROOT, 'test', 'helpers', 'record-modules.ts')] : [];
  const child = spawn(process.execPath, [...preload, join(ROOT, script), ...args], {
    cwd: ROOT,
    env: record ? { ...process.env, RECORD_MODULES: log } : process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      const modules = record
        ? [
            ...new Set(
              readFileSync(log, 'utf8')
                .split('\n')
                .filter((l) => l !== ''),
            ),
          ]
        : [];
      resolve({ code, stdout, stderr, modules });
    });
  });
}

const CLI = join('src', 'cli', 'index.ts');
const isTensorFlow = (url: string): boolean => url.includes('/node_modules/@tensorflow/');
const isLearner = (url: string): boolean => url.includes('/src/main/engine/learner/');

function assertLoadsNeither(r: Loaded, what: string): void {
  assert.deepEqual(r.modules.filter(isTensorFlow), [], `${what} loaded TensorFlow.js`);
  assert.deepEqual(r.modules.filter(isLearner), [], `${what} loaded the learner`);
}

test('models --json and fid load neither TensorFlow.js nor the learner', async () => {
  const [n, d] = [50, 4];
  for (const [name, shift] of [
    ['a', 0],
    ['b', 1],
  ] as const) {
    writeFileSync(
      join(tmp, `${name}.npy`),
      encodeNpy({
        dtype: 'float32',
        shape: [n, d],
        data: Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 1.7 + shift) + shift),
      }),
    );
  }
  const [models, fid, exportHelp] = await Promise.all([
    run(CLI, ['models', '--json']),
    run(CLI, ['fid', '--a', join(tmp, 'a.npy'), '--b', join(tmp, 'b.npy'), '--json']),
    run(CLI, ['export', '--help']),
  ]);

  assert.equal(models.code, 0, models.stderr);
  assert.equal(lastJson(models.stdout).command, 'models');
  assert.ok(
    models.modules.some((u) => u.endsWith('/src/cli/models-cmd.ts')),
    'the recording sees the command module',
  );
  assertLoadsNeither(models, 'models --json');
  assert.deepEqual(
    models.modules.filter((u) => /\/node_modules\/(onnxruntime-node|react)\//.test(u)),
    [],
    'models --json loaded ONNX Runtime or React',
  );

  assert.equal(fid.code, 0, fid.stderr);
  const res = lastJson(fid.stdout) as { command: string; fid: number; d: number };
  assert.equal(res.command, 'fid');
  assert.equal(res.d, d);
  assert.ok(res.fid > 0);
  assertLoadsNeither(fid, 'fid');

  // The control: a command that needs the learner loads it, and the recording shows it.
  assert.equal(exportHelp.code, 0, exportHelp.stderr);
  assert.ok(exportHelp.modules.some(isTensorFlow), 'export --help: the recording shows TensorFlow.js');
  assert.ok(exportHelp.modules.some(isLearner), 'export --help: the recording shows the learner');
});

test('the sampler-studio command (bin/sampler-studio.js) runs the CLI', async () => {
  const r = await run(join('bin', 'sampler-studio.js'), ['models', '--json'], false);
  assert.equal(r.code, 0, r.stderr);
  const res = lastJson(r.stdout) as { command: string; models: { id: string }[] };
  assert.equal(res.command, 'models');
  assert.ok(res.models.some((m) => m.id === 'gmm-ring8'));
});
