// Pictures of samples: a grid of images, or a scatter plot of vectors over the model's data (the
// first two coordinates). Used by the CLI (--grid), training runs and, later, the app.

import { loadData } from '../models/data';
import type { Model } from '../models/model';
import { encodePng, imageGrid, scatterPlot, writePng, type Image } from './png';

/** Writes the picture of `samples` (see samplePicture) to `path`; returns a note when it shows only part of them. */
export async function writeSamplePlot(model: Model, path: string, samples: Float32Array, labels: Int32Array | null, n: number): Promise<string | null> {
  const { image, note } = await samplePicture(model, samples, labels, n);
  await writePng(path, image);
  return note;
}

/** The picture of `samples` (see samplePicture), PNG-encoded (for files and events alike). */
export async function samplePng(model: Model, samples: Float32Array, labels: Int32Array | null, n: number): Promise<Uint8Array> {
  return encodePng((await samplePicture(model, samples, labels, n)).image);
}

/** Images → a grid (first 64); vectors → a scatter plot over the data (first two coordinates). */
export async function samplePicture(model: Model, samples: Float32Array, labels: Int32Array | null, n: number): Promise<{ image: Image; note: string | null }> {
  const shape = model.shape;
  let img: Image;
  let note: string | null = null;
  if (shape.length === 3 && (shape[0] === 1 || shape[0] === 3)) {
    const count = Math.min(n, 64);
    img = imageGrid(samples.subarray(0, count * model.dim), count, shape as [number, number, number], { cols: Math.ceil(Math.sqrt(count)) });
  } else if (shape.length === 1) {
    const d = shape[0]!;
    const project = (x: Float32Array, m: number): Float32Array => {
      if (d === 2) return x;
      const out = new Float32Array(m * 2);
      for (let i = 0; i < m; i++) {
        out[2 * i] = x[i * d]!;
        out[2 * i + 1] = x[i * d + 1]!;
      }
      return out;
    };
    const data = await loadData(model);
    const background = data ? project(data.x, data.n) : null;
    if (d !== 2) note = `${model.name} is ${d}-dimensional: the scatter plot shows the first two coordinates`;
    img = scatterPlot(project(samples, n), { labels, background });
  } else {
    throw new RangeError(`cannot draw samples of shape [${shape.join(', ')}]; pictures need [1|3, H, W] images or vectors`);
  }
  return { image: img, note };
}

/**
 * The learned profile as a heat map (the paper's Figure 2): one row per noise level (highest at the
 * top), one column per action, darker = more often chosen. Cells are `cell` pixels square.
 */
export function profileHeatmap(profile: number[][], cell = 24): Image {
  const rows = profile.length;
  const cols = profile[0]?.length ?? 0;
  if (rows === 0 || cols === 0) throw new RangeError('an empty profile cannot be drawn');
  const width = cols * cell;
  const height = rows * cell;
  const pixels = new Uint8Array(width * height * 3);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const p = Math.max(0, Math.min(1, profile[r]![c]!));
      // White → deep blue.
      const rgb = [Math.round(255 - 222 * p), Math.round(255 - 180 * p), Math.round(255 - 75 * p)];
      for (let y = r * cell; y < (r + 1) * cell; y++) {
        for (let x = c * cell; x < (c + 1) * cell; x++) {
          const edge = y === r * cell || x === c * cell;
          const o = (y * width + x) * 3;
          pixels[o] = edge ? 220 : rgb[0]!;
          pixels[o + 1] = edge ? 220 : rgb[1]!;
          pixels[o + 2] = edge ? 220 : rgb[2]!;
        }
      }
    }
  }
  return { width, height, channels: 3, pixels };
}
