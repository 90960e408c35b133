// Tests for the pictures (pictures.ts): sample grids, scatter plots and heat maps drawn into pixels,
// and the picture of a model's samples; PNG output is decoded independently (test/helpers/png.ts).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { encodePng, type Image } from '../src/main/engine/io/png';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import {
  devSetPng,
  imageGrid,
  profileHeatmap,
  samplePicture,
  samplePng,
  scatterPlot,
} from '../src/main/engine/pictures';
import { decodePng, pixelAt } from './helpers/png';
import { pictureInfo } from '../src/shared/grid-layout';
import { pngSize, pngText } from '../src/shared/png-text';

const root = mkdtempSync(join(tmpdir(), 'pictures-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

// ---------------------------------------------------------------------------
// Drawing.

test('pictures: imageGrid layout, value mapping and padding', () => {
  // 5 gray samples of 2x3 in 3 columns with 1 px padding.
  const [C, H, W] = [1, 2, 3];
  const samples = new Float32Array(5 * C * H * W).fill(-1);
  samples[4 * 6 + 1 * 3 + 2] = 0.5; // sample 4, y=1, x=2
  samples[0] = 3; // clamps to 255
  samples[1] = -5; // clamps to 0
  const img = imageGrid(samples, 5, [C, H, W], { cols: 3, pad: 1 });
  assert.deepEqual([img.width, img.height, img.channels], [13, 7, 1]);
  // Sample 4 sits in grid row 1, column 1: origin (1 + 4, 1 + 3).
  assert.deepEqual(pixelAt(img, 5 + 2, 4 + 1), [Math.round(1.5 * 127.5)]);
  assert.deepEqual(pixelAt(img, 5, 4), [0]);
  assert.deepEqual(pixelAt(img, 1, 1), [255]);
  assert.deepEqual(pixelAt(img, 2, 1), [0]);
  assert.deepEqual(pixelAt(img, 0, 0), [128], 'outer padding');
  assert.deepEqual(pixelAt(img, 4, 2), [128], 'padding between tiles');
  assert.deepEqual(pixelAt(img, 10, 5), [128], 'empty grid cell');
  assert.deepEqual(Array.from(decodePng(encodePng(img)).pixels), Array.from(img.pixels));

  // RGB samples and a custom range.
  const rgb = new Float32Array(2 * 3 * 1 * 1);
  rgb.set([0, 0.5, 1], 0); // sample 0: R, G, B planes
  rgb.set([1, 1, 0], 3);
  const g = imageGrid(rgb, 2, [3, 1, 1], { cols: 2, pad: 0, range: [0, 1] });
  assert.deepEqual([g.width, g.height, g.channels], [2, 1, 3]);
  assert.deepEqual(pixelAt(g, 0, 0), [0, 128, 255]);
  assert.deepEqual(pixelAt(g, 1, 0), [255, 255, 0]);
});

test('pictures: imageGrid draws NaN as magenta and switches gray to RGB', () => {
  const samples = Float32Array.from([NaN, 0, 1, -1]); // one 2x2 gray sample
  const img = imageGrid(samples, 1, [1, 2, 2], { pad: 2 });
  assert.equal(img.channels, 3);
  assert.deepEqual(pixelAt(img, 2, 2), [255, 0, 255]);
  assert.deepEqual(pixelAt(img, 3, 2), [128, 128, 128]);
  assert.deepEqual(pixelAt(img, 2, 3), [255, 255, 255]);
  assert.deepEqual(pixelAt(img, 3, 3), [0, 0, 0]);
  assert.deepEqual(pixelAt(img, 0, 0), [128, 128, 128]);
});

test('pictures: scatterPlot colours points, keeps far corners white, clips outside points', () => {
  const isWhite = (p: number[]): boolean => p.every((v) => v === 255);
  const isGreyish = (p: number[]): boolean => p[0] === p[1] && p[1] === p[2];

  const img = scatterPlot(Float32Array.from([0.5, 0.5, -0.5, -0.5]), {
    labels: Int32Array.from([1, 2]),
    extent: [-1, 1, -1, 1],
    width: 100,
    height: 80,
    pointRadius: 3,
  });
  assert.deepEqual([img.width, img.height, img.channels], [100, 80, 3]);
  const orange = pixelAt(img, 75, 20); // (0.5, 0.5) maps to (75, 20)
  assert.ok(!isWhite(orange) && orange[0] > orange[1] && orange[1] > orange[2], `orange-ish, got ${orange}`);
  const green = pixelAt(img, 25, 60); // (-0.5, -0.5)
  assert.ok(green[1] > green[0] && green[1] > green[2], `green-ish, got ${green}`);
  assert.ok(isWhite(pixelAt(img, 99, 79)) && isWhite(pixelAt(img, 0, 0)), 'far corners stay white');
  const axis = pixelAt(img, 50, 5); // x = 0 axis
  assert.ok(!isWhite(axis) && isGreyish(axis), `light axis, got ${axis}`);

  // Default extent from the background; background drawn in grey; default size 512.
  const bg = Float32Array.from([10, 10, 20, 30]);
  const withBg = scatterPlot(Float32Array.from([15, 20, 100, 100]), { background: bg, title: 'ignored' });
  assert.deepEqual([withBg.width, withBg.height], [512, 512]);
  // x: 10..20 with 0.5 margin each side; y: 10..30 with 1 margin.
  const bgPix = pixelAt(withBg, Math.floor(((10 - 9.5) / 11) * 512), Math.floor(((31 - 10) / 22) * 512));
  assert.ok(!isWhite(bgPix) && isGreyish(bgPix), `background grey, got ${bgPix}`);
  const pt = pixelAt(withBg, Math.floor(((15 - 9.5) / 11) * 512), Math.floor(((31 - 20) / 22) * 512));
  assert.ok(pt[2] > pt[0], `default label colour is blue, got ${pt}`);

  // A point outside the extent is clipped: nothing but white is drawn.
  const clipped = scatterPlot(Float32Array.from([5, 5]), { extent: [1, 2, 1, 2], width: 20 });
  assert.ok(clipped.pixels.every((v) => v === 255));
  assert.deepEqual(Array.from(decodePng(encodePng(clipped)).pixels), Array.from(clipped.pixels));
});

test('pictures: profileHeatmap, one cell per noise level and action, darker = chosen more often', () => {
  const img = profileHeatmap(
    [
      [0, 1],
      [0.5, 2], // clamped to 1
    ],
    4,
  );
  assert.deepEqual([img.width, img.height, img.channels], [8, 8, 3]);
  assert.deepEqual(pixelAt(img, 0, 0), [220, 220, 220], 'cell edge');
  assert.deepEqual(pixelAt(img, 4, 3), [220, 220, 220], 'cell edge');
  assert.deepEqual(pixelAt(img, 1, 1), [255, 255, 255], 'never chosen: white');
  assert.deepEqual(pixelAt(img, 5, 1), [33, 75, 180], 'always chosen: deep blue');
  assert.deepEqual(pixelAt(img, 1, 5), [144, 165, 218], 'half the time');
  assert.deepEqual(pixelAt(img, 7, 7), [33, 75, 180], 'above 1 is drawn as 1');
  assert.deepEqual(Array.from(decodePng(encodePng(img)).pixels), Array.from(img.pixels));
  assert.throws(() => profileHeatmap([]), RangeError);
  assert.throws(() => profileHeatmap([[]]), RangeError);
});

// ---------------------------------------------------------------------------
// The picture of a model's samples.

async function bundled(name: string): Promise<Model> {
  return Model.load(join(resourcesDir(), 'models', name), { skipProbe: true });
}

/** The bundled swissroll model without its data ("data": null in a copy of its manifest). */
async function swissrollWithoutData(): Promise<Model> {
  const from = join(resourcesDir(), 'models', 'swissroll');
  const dir = join(root, 'swissroll-no-data');
  mkdirSync(dir);
  copyFileSync(join(from, 'denoiser.onnx'), join(dir, 'denoiser.onnx'));
  const manifest = JSON.parse(readFileSync(join(from, 'model.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...manifest, data: null }));
  return Model.load(dir, { skipProbe: true });
}

const nonWhite = (img: Image): number => {
  let count = 0;
  for (let i = 0; i < img.pixels.length; i += img.channels) {
    if (img.pixels.subarray(i, i + img.channels).some((v) => v !== 255)) count++;
  }
  return count;
};

test("pictures: samplePicture draws images as a grid, vectors over the model's data", async () => {
  // Images: the first 64 of 70 samples, 8 to a row, 2 px apart.
  const images = await bundled('fashion-mnist');
  try {
    const { image, note } = await samplePicture(images, new Float32Array(70 * 784), null, 70);
    assert.deepEqual([image.width, image.height, image.channels], [8 * 28 + 9 * 2, 8 * 28 + 9 * 2, 1]);
    assert.equal(note, null);
  } finally {
    await images.dispose();
  }

  // 2-D vectors: the data (2,000 points) in light grey behind the samples; without data, none.
  const points = Float32Array.of(0, 0, 1, 1, -1, 0.5);
  const labels = Int32Array.of(0, 1, 2);
  const swissroll = await bundled('swissroll');
  const bare = await swissrollWithoutData();
  try {
    const withData = await samplePicture(swissroll, points, labels, 3);
    const withoutData = await samplePicture(bare, points, labels, 3);
    assert.equal(withData.note, null);
    assert.deepEqual([withData.image.width, withData.image.height, withData.image.channels], [512, 512, 3]);
    assert.ok(
      nonWhite(withData.image) > nonWhite(withoutData.image) + 1000,
      `background drawn: ${nonWhite(withData.image)} vs ${nonWhite(withoutData.image)} non-white pixels`,
    );
    // samplePng is the same picture, PNG-encoded.
    const decoded = decodePng(await samplePng(swissroll, points, labels, 3));
    assert.ok(Buffer.from(decoded.pixels).equals(Buffer.from(withData.image.pixels)));
  } finally {
    await swissroll.dispose();
    await bare.dispose();
  }

  // More than two dimensions: the plane of the data's first two principal components, and a note that says so.
  const gmm64 = await bundled('gmm64');
  try {
    const { image, note } = await samplePicture(gmm64, new Float32Array(5 * 64), null, 5);
    assert.equal(image.width, 512);
    assert.match(
      note ?? '',
      /^gmm64 is 64-dimensional: the scatter plot shows its first two principal components \(PCA of the data: \d+% \+ \d+% of the variance\)$/,
    );
    const info = pictureInfo(pngText(encodePng(image)));
    assert.equal(info?.kind, 'scatter');
    if (info?.kind === 'scatter') {
      assert.match(info.axes[0], /^PC 1 \(\d+% of variance\)$/);
      assert.deepEqual(info.series, [{ label: 'samples', rgb: [31, 119, 180] }]);
      assert.match(info.background ?? '', /^data \(n = [\d,]+\)$/);
    }
  } finally {
    await gmm64.dispose();
  }
  // One dimension: a strip plot, x across and a spread down that only separates the points.
  const gmm1d = await bundled('gmm1d-a');
  try {
    const xs = Float32Array.from([-2, -1.9, 2, 2.1, 6]);
    const { image, note } = await samplePicture(gmm1d, xs, null, 5);
    assert.equal(note, null);
    const info = pictureInfo(pngText(encodePng(image)));
    assert.ok(info?.kind === 'scatter' && info.axes[0] === 'x' && /spread/.test(info.axes[1]), JSON.stringify(info));
    // Moving the samples moves what is drawn.
    const moved = await samplePicture(
      gmm1d,
      xs.map((v) => v + 1),
      null,
      5,
    );
    assert.notDeepEqual(moved.image.pixels, image.pixels);
  } finally {
    await gmm1d.dispose();
  }
});

test('pictures: a class-conditional image model draws one row per class, labelled in the PNG with its names', async () => {
  const model = await bundled('fashion-mnist');
  try {
    // 40 samples of constant value by index; labels cycle 9, 8, …, 0, so class k's samples are 9 − k, 19 − k, ….
    const n = 40;
    const samples = new Float32Array(n * 784);
    for (let i = 0; i < n; i++) samples.fill(-1 + (2 * i) / (n - 1), i * 784, (i + 1) * 784);
    const labels = Int32Array.from({ length: n }, (_, i) => 9 - (i % 10));
    const { image } = await samplePicture(model, samples, labels, n);
    // 10 rows (classes) of 10 cells, 28 px tiles 2 px apart.
    assert.deepEqual([image.width, image.height], [10 * 28 + 11 * 2, 10 * 28 + 11 * 2]);
    const cell = (r: number, c: number) => pixelAt(image, 2 + c * 30 + 14, 2 + r * 30 + 14)[0]!;
    const byte = (i: number) => Math.round(((2 * i) / (n - 1)) * 127.5);
    for (const k of [0, 3, 9])
      for (let c = 0; c < 4; c++) assert.equal(cell(k, c), byte(9 - k + 10 * c), `class ${k}, cell ${c}`);
    assert.equal(cell(0, 4), 128, 'a class drawn 4 times leaves the rest of its row grey');
    const info = pictureInfo(pngText(encodePng(image)));
    assert.deepEqual(info, {
      kind: 'grid',
      cols: 10,
      rows: 10,
      tile: [28, 28],
      pad: 2,
      rowLabels: [
        'T-shirt/top',
        'Trouser',
        'Pullover',
        'Dress',
        'Coat',
        'Sandal',
        'Shirt',
        'Sneaker',
        'Bag',
        'Ankle boot',
      ],
    });
    // Samples drawn with the null class (unconditional) are not sorted into class rows: the first 40, 7 to a row.
    const nulls = await samplePicture(model, samples, new Int32Array(n).fill(10), n);
    assert.deepEqual([nulls.image.width, nulls.image.height], [7 * 30 + 2, 6 * 30 + 2]);
    // The bundled preview carries the same description (tools/fashion-mnist/preview.ts draws it so).
    const preview = readFileSync(join(resourcesDir(), 'models', 'fashion-mnist', 'preview.png'));
    assert.deepEqual(pictureInfo(pngText(preview)), info);
  } finally {
    await model.dispose();
  }
});

test('png text: iTXt chunks round-trip UTF-8 through pngText; a picture without one, or with bad JSON, has no info', () => {
  const img: Image = { width: 2, height: 1, channels: 1, pixels: Uint8Array.of(0, 255) };
  const bytes = encodePng({ ...img, text: { 'sampler-studio:picture': '{"x":"σ → ∞"}', Comment: 'plain' } });
  assert.deepEqual(pngText(bytes), { 'sampler-studio:picture': '{"x":"σ → ∞"}', Comment: 'plain' });
  assert.deepEqual(decodePng(bytes).pixels, img.pixels, 'the pixels are untouched');
  assert.deepEqual(pngSize(bytes), { width: 2, height: 1 });
  assert.equal(pictureInfo(pngText(bytes)), null, 'valid JSON that is not a PictureInfo');
  assert.equal(pictureInfo(pngText(encodePng(img))), null);
  assert.equal(pictureInfo({ 'sampler-studio:picture': '{' }), null);
  assert.deepEqual(pngText(Uint8Array.of(1, 2, 3)), {});
  assert.throws(() => encodePng({ ...img, text: { '': 'x' } }), /text keyword must be 1–79 printable/);
});

test("pictures: the development set's picture: images as the base sampler's row over the policy's, a column per seed; vectors as two named series", async () => {
  const model = await bundled('fashion-mnist');
  try {
    // Base samples all −1 (black), the policy's all +1 (white): top row black tiles, bottom row white.
    const n = 16;
    const base = new Float32Array(n * 784).fill(-1);
    const policy = new Float32Array(n * 784).fill(1);
    const png = await devSetPng(model, base, policy, n);
    const image = decodePng(png) as Image;
    assert.deepEqual([image.width, image.height], [n * 28 + (n + 1) * 2, 2 * 28 + 3 * 2]);
    for (const c of [0, 7, 15]) {
      assert.equal(pixelAt(image, 2 + c * 30 + 14, 2 + 14)[0], 0, `base, column ${c}`);
      assert.equal(pixelAt(image, 2 + c * 30 + 14, 32 + 14)[0], 255, `policy, column ${c}`);
    }
    assert.deepEqual(pictureInfo(pngText(png)), {
      kind: 'grid',
      cols: n,
      rows: 2,
      tile: [28, 28],
      pad: 2,
      rowLabels: ['base sampler', 'policy'],
    });
  } finally {
    await model.dispose();
  }
  const swissroll = await bundled('swissroll');
  try {
    const png = await devSetPng(swissroll, Float32Array.of(0, 0, 1, 1), Float32Array.of(-1, 0, 0.5, 0.5), 2);
    const info = pictureInfo(pngText(png));
    assert.equal(info?.kind, 'scatter');
    if (info?.kind === 'scatter')
      assert.deepEqual(
        info.series.map((s) => s.label),
        ['base sampler', 'policy'],
      );
  } finally {
    await swissroll.dispose();
  }
});
