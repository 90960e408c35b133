// Tests for a model's data and labels (models/data.ts): the one reader behind the learner's expert
// states, the metrics' reference set and the scatter plots' background.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { encodeNpy, npyFloat32, npyInt64, readNpy } from '../src/main/engine/io/npy';
import { loadData, loadDataLabels } from '../src/main/engine/models/data';
import { ModelError } from '../src/main/engine/models/manifest';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';

const root = mkdtempSync(join(tmpdir(), 'model-data-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
/** A copy of the bundled swissroll model (shape [2]) with its manifest edited and `files` written. */
async function swissroll(edit: Record<string, unknown>, files: Record<string, Uint8Array> = {}): Promise<Model> {
  const from = join(resourcesDir(), 'models', 'swissroll');
  const dir = join(root, `m${dirCount++}`);
  mkdirSync(dir);
  copyFileSync(join(from, 'denoiser.onnx'), join(dir, 'denoiser.onnx'));
  const manifest = {
    ...(JSON.parse(readFileSync(join(from, 'model.json'), 'utf8')) as Record<string, unknown>),
    ...edit,
  };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return Model.load(dir, { skipProbe: true });
}

async function withModel(model: Model, fn: (m: Model) => Promise<void>): Promise<void> {
  try {
    await fn(model);
  } finally {
    await model.dispose();
  }
}

function modelError(pattern: RegExp, key: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof ModelError, `expected a ModelError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.equal(err.key, key);
    return true;
  };
}

const points = (n: number): Uint8Array =>
  encodeNpy(
    npyFloat32(
      [n, 2],
      Float32Array.from({ length: 2 * n }, (_, i) => i / 4),
    ),
  );
const classes = (n: number): Uint8Array =>
  encodeNpy(
    npyInt64(
      [n],
      BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 3)),
    ),
  );

test('loadData: the bundled models, with and without labels', async () => {
  const dir = join(resourcesDir(), 'models', 'gmm-ring8');
  await withModel(await Model.load(dir, { skipProbe: true }), async (model) => {
    const data = await loadData(model);
    assert.ok(data);
    const raw = await readNpy(join(dir, 'data.npy'));
    assert.equal(data.n, raw.shape[0]);
    assert.ok(data.x instanceof Float32Array);
    assert.deepEqual(Array.from(data.x), Array.from(raw.data as Float32Array));
    const labels = (await readNpy(join(dir, 'labels.npy'))).data as BigInt64Array;
    assert.ok(data.labels instanceof Int32Array);
    assert.deepEqual(Array.from(data.labels), Array.from(labels, Number));
    assert.deepEqual(await loadDataLabels(model), data.labels);
  });
  await withModel(await Model.load(join(resourcesDir(), 'models', 'swissroll'), { skipProbe: true }), async (model) => {
    const data = await loadData(model);
    assert.equal(data?.n, 2000);
    assert.equal(data?.labels, null);
    assert.equal(await loadDataLabels(model), null);
  });
});

test('loadData: uint8 data is mapped to [-1, 1]; no data is null', async () => {
  const bytes = Uint8Array.of(0, 255, 127, 128, 1, 254);
  await withModel(
    await swissroll({ data: 'u8.npy' }, { 'u8.npy': encodeNpy({ dtype: 'uint8', shape: [3, 2], data: bytes }) }),
    async (model) => {
      const data = await loadData(model);
      assert.equal(data?.n, 3);
      assert.deepEqual(
        Array.from(data!.x),
        Array.from(bytes, (v) => Math.fround(v / 127.5 - 1)),
      );
      assert.equal(data!.x[0], -1);
      assert.equal(data!.x[1], 1);
    },
  );
  await withModel(await swissroll({ data: null }), async (model) => {
    assert.equal(await loadData(model), null);
  });
});

test('loadData: named files that are missing or do not fit are ModelErrors naming the file and key', async () => {
  await withModel(await swissroll({ data: 'gone.npy' }), async (model) => {
    await assert.rejects(loadData(model), modelError(/gone\.npy: not found \("data" in model\.json\)$/, 'data'));
  });
  await withModel(await swissroll({ data: 'd.npy', dataLabels: 'gone.npy' }, { 'd.npy': points(5) }), async (model) => {
    await assert.rejects(
      loadData(model),
      modelError(/gone\.npy: not found \("dataLabels" in model\.json\)$/, 'dataLabels'),
    );
    await assert.rejects(loadDataLabels(model), modelError(/gone\.npy: not found/, 'dataLabels'));
  });
  await withModel(
    await swissroll({ data: 'd.npy', dataLabels: 'l.npy' }, { 'd.npy': points(5), 'l.npy': classes(3) }),
    async (model) => {
      await assert.rejects(loadData(model), modelError(/l\.npy: 3 labels for 5 data samples$/, 'dataLabels'));
    },
  );
  const wide = encodeNpy(npyFloat32([4, 3], new Float32Array(12)));
  await withModel(await swissroll({ data: 'd.npy' }, { 'd.npy': wide }), async (model) => {
    await assert.rejects(
      loadData(model),
      modelError(/d\.npy: samples have shape \[3\], but the model's are \[2\]$/, 'data'),
    );
  });
});
