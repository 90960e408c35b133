// ONNX Runtime's CPU threads ([Note: CPU threads] in onnx/runtime.ts): one per core by default,
// SAMPLER_STUDIO_THREADS to override, a clear error for a bad value, the same numbers either way;
// and the memory pattern off ([Note: memory pattern]), with the same numbers as with it on.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { cpuOptions, cpuThreads, ort, THREADS_ENV, type OrtSession } from '../src/main/engine/onnx/runtime';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { assertUsageError, cli } from './helpers/cli';

test('cpuThreads: one per core unless SAMPLER_STUDIO_THREADS says otherwise; bad values are named', () => {
  assert.equal(cpuThreads({}), availableParallelism());
  assert.equal(cpuThreads({ [THREADS_ENV]: ' ' }), availableParallelism());
  assert.equal(cpuThreads({ [THREADS_ENV]: '1' }), 1);
  assert.equal(cpuThreads({ [THREADS_ENV]: '3' }), 3);
  for (const bad of ['0', '-2', '1.5', 'two', '2000'])
    assert.throws(
      () => cpuThreads({ [THREADS_ENV]: bad }),
      (e: Error) =>
        e instanceof RangeError && e.message.includes(`${THREADS_ENV}=${bad}`) && /\[1, 1024\]/.test(e.message),
    );
});

async function denoiseWith(threads: string | undefined): Promise<Float32Array> {
  const saved = process.env[THREADS_ENV];
  if (threads === undefined) delete process.env[THREADS_ENV];
  else process.env[THREADS_ENV] = threads;
  try {
    const model = await Model.load(join(resourcesDir(), 'models', 'fashion-mnist'), { device: 'cpu' });
    try {
      const n = 16;
      const x = Float32Array.from({ length: n * model.dim }, (_, i) => Math.sin(i * 0.37) * 2);
      const sigma = Float32Array.from({ length: n }, (_, i) => 0.01 * 1.6 ** i);
      const labels = BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 11));
      return await model.denoise(x, sigma, labels);
    } finally {
      await model.dispose();
    }
  } finally {
    if (saved === undefined) delete process.env[THREADS_ENV];
    else process.env[THREADS_ENV] = saved;
  }
}

test('the fashion-mnist denoiser gives bit-identical outputs on 1 thread and on 2', async () => {
  const one = await denoiseWith('1');
  const two = await denoiseWith('2');
  assert.equal(one.length, two.length);
  assert.ok(one.some((v) => v !== 0));
  assert.deepEqual(one, two);
});

test('a bad SAMPLER_STUDIO_THREADS stops the CLI with a user error naming it', async () => {
  const saved = process.env[THREADS_ENV];
  process.env[THREADS_ENV] = 'lots';
  try {
    const r = await cli('sample', '--model', 'gmm-ring8', '--n', '4', '--out', join(resourcesDir(), 'never.npy'));
    assertUsageError(r, /SAMPLER_STUDIO_THREADS=lots: expected a whole number of CPU threads/);
  } finally {
    if (saved === undefined) delete process.env[THREADS_ENV];
    else process.env[THREADS_ENV] = saved;
  }
});

test('CPU sessions run without the memory pattern, with the same outputs as with it, on batches that change size', async () => {
  assert.equal(cpuOptions().enableMemPattern, false);
  const file = join(resourcesDir(), 'models', 'fashion-mnist', 'denoiser.onnx');
  const open = (enableMemPattern: boolean): Promise<OrtSession> =>
    ort.InferenceSession.create(file, { ...cpuOptions(), enableMemPattern, executionProviders: ['cpu'] });
  const [off, on] = [await open(false), await open(true)];
  try {
    // Each size twice: the pattern is planned on a shape's first run and used from its second.
    for (const n of [5, 9, 5, 9, 7]) {
      const feeds = {
        x: new ort.Tensor(
          'float32',
          Float32Array.from({ length: n * 784 }, (_, i) => Math.cos(i * 0.11 + n)),
          [n, 1, 28, 28],
        ),
        sigma: new ort.Tensor(
          'float32',
          Float32Array.from({ length: n }, (_, i) => 0.05 * 2 ** i),
          [n],
        ),
        class_labels: new ort.Tensor(
          'int64',
          BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 11)),
          [n],
        ),
      };
      const name = off.outputNames[0]!;
      const [a, b] = [(await off.run(feeds))[name]!.data, (await on.run(feeds))[name]!.data];
      assert.equal(a.length, n * 784);
      assert.deepEqual(a, b, `batch of ${n}`);
    }
  } finally {
    await off.release();
    await on.release();
  }
});
