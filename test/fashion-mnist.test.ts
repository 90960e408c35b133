// The bundled Fashion-MNIST model: its manifest loads (denoiser, encoder, features, data), its
// classifier is right on ≥ 88% of the clean test images, and Heun-18 samples at w = 1 are classified
// as their conditioning class ≥ 75% of the time (a small n here; the README has the 10,000-sample
// numbers), rising with guidance.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { readNpy } from '../src/main/engine/io/npy';
import { cli, lastJson } from './helpers/cli';

const tmp = mkdtempSync(join(tmpdir(), 'ss-fmnist-'));
process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
const dir = join(resourcesDir(), 'models', 'fashion-mnist');
after(() => rmSync(tmp, { recursive: true, force: true }));

test('fashion-mnist: the manifest loads with its encoder, features and 10,000 uint8 test images; under 30 MB', async () => {
  const model = await Model.load(dir, { device: 'cpu' });
  try {
    assert.deepEqual(model.shape, [1, 28, 28]);
    assert.equal(model.numClasses, 10);
    assert.equal(model.nullClass, 10);
    assert.equal(model.manifest.encoder?.dim, 128);
    assert.equal(model.manifest.features?.logits, 'logits');
  } finally {
    await model.dispose();
  }
  const data = await readNpy(join(dir, 'data.npy'));
  assert.equal(data.dtype, 'uint8');
  assert.deepEqual(data.shape, [10000, 1, 28, 28]);
  const bytes = readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
  assert.ok(bytes < 30e6, `${(bytes / 1e6).toFixed(1)} MB`);
});

test('fashion-mnist: the classifier is right on ≥ 88% of the clean test images', async () => {
  const images = join(tmp, 'test-images.npy');
  // The first 2,000 test images, as float in [-1, 1] (what samples are).
  const data = await readNpy(join(dir, 'data.npy'));
  const labels = (await readNpy(join(dir, 'labels.npy'))).data as BigInt64Array;
  const n = 2000;
  const { writeNpy, npyFloat32 } = await import('../src/main/engine/io/npy');
  await writeNpy(
    images,
    npyFloat32(
      [n, 1, 28, 28],
      Float32Array.from((data.data as Uint8Array).subarray(0, n * 784), (v) => v / 127.5 - 1),
    ),
  );
  const logitsPath = join(tmp, 'logits.npy');
  const r = await cli(
    'features',
    '--model',
    'fashion-mnist',
    '--in',
    images,
    '--out',
    join(tmp, 'f.npy'),
    '--logits',
    logitsPath,
  );
  assert.equal(r.code, 0, r.stderr);
  const logits = (await readNpy(logitsPath)).data as Float32Array;
  let right = 0;
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * 10, i * 10 + 10);
    if (row.indexOf(Math.max(...row)) === Number(labels[i])) right++;
  }
  assert.ok(right / n >= 0.88, `accuracy ${right / n}`);
});

test('fashion-mnist: Heun-18 samples are their class ≥ 75% of the time at w = 1, more at w = 1.5', async () => {
  const acc = async (w: string): Promise<number> => {
    const r = await cli(
      'eval',
      '--model',
      'fashion-mnist',
      '--n',
      '200',
      '--seed',
      '1',
      '--guidance',
      w,
      '--metrics',
      'classes',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    return (lastJson(r.stdout) as { summary: { class_accuracy: number } }).summary.class_accuracy;
  };
  const [a1, a15] = [await acc('1'), await acc('1.5')];
  assert.ok(a1 >= 0.75, `class accuracy at w = 1: ${a1}`);
  assert.ok(a15 > a1, `w = 1.5 (${a15}) should beat w = 1 (${a1})`);
});
