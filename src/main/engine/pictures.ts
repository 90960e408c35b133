// Pictures drawn into 8-bit pixels (io/png.ts encodes them): a sample grid of images, a scatter
// plot of 2-D points, the learned profile as a heat map, and the picture of a model's samples
// built from them. Used by the CLI (--grid), training runs, comparisons and model previews.
//
// imageGrid tiles NCHW float samples into one image; scatterPlot rasterises 2-D points as
// alpha-blended discs.

import { encodePng, writePng, type Image } from './io/png';
import { loadData } from './models/data';
import type { Model } from './models/model';
import { PCA } from 'ml-pca';
import {
  classRowCells,
  className,
  gridLayout,
  MAX_TILES,
  PICTURE_TEXT_KEY,
  type PictureInfo,
} from '../../shared/grid-layout';

// ---------------------------------------------------------------------------
// Sample grids.

const PAD_GREY = 128;
const NAN_RGB: [number, number, number] = [255, 0, 255];

export interface ImageGridOptions {
  /** Columns in the grid (default: ceil(sqrt(count))). */
  cols?: number;
  /** Padding in pixels between and around tiles (default 2). */
  pad?: number;
  /** Value range mapped to 0..255 (default [-1, 1], the EDM convention). */
  range?: [number, number];
  /** Which sample each cell shows, row-major (−1: an empty cell); default: sample n in cell n. */
  cells?: Int32Array;
}

/**
 * Tile `count` NCHW float32 samples of shape [C, H, W] (C = 1 or 3) into one
 * image. Values are mapped from `range` to 0..255 with rounding and clamping;
 * NaN is drawn magenta (which makes the output RGB even for C = 1). Padding
 * and empty grid cells are mid grey.
 */
export function imageGrid(
  samples: Float32Array,
  count: number,
  shape: [number, number, number],
  opts: ImageGridOptions = {},
): Image {
  const [c, h, w] = shape;
  if (c !== 1 && c !== 3) throw new RangeError(`imageGrid: channels must be 1 or 3, got ${c}`);
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw new RangeError(`imageGrid: bad sample shape [${shape.join(', ')}]`);
  }
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`imageGrid: count must be >= 1, got ${count}`);
  const per = c * h * w;
  if (samples.length < count * per) {
    throw new RangeError(`imageGrid: need ${count * per} values for ${count} samples, got ${samples.length}`);
  }
  const cells = opts.cells ?? null;
  if (cells && cells.some((i) => i >= count)) throw new RangeError(`imageGrid: a cell names a sample past ${count}`);
  const cellCount = cells?.length ?? count;
  const cols = Math.max(1, Math.min(cellCount, Math.floor(opts.cols ?? Math.ceil(Math.sqrt(cellCount)))));
  const rows = Math.ceil(cellCount / cols);
  const pad = Math.max(0, Math.floor(opts.pad ?? 2));
  const [lo, hi] = opts.range ?? [-1, 1];
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo === hi) {
    throw new RangeError(`imageGrid: bad range [${lo}, ${hi}]`);
  }
  const scale = 255 / (hi - lo);

  let hasNaN = false;
  for (let i = 0; i < count * per; i++) {
    if (Number.isNaN(samples[i])) {
      hasNaN = true;
      break;
    }
  }
  const outChannels: 1 | 3 = c === 3 || hasNaN ? 3 : 1;
  const width = cols * w + (cols + 1) * pad;
  const height = rows * h + (rows + 1) * pad;
  const pixels = new Uint8Array(width * height * outChannels).fill(PAD_GREY);

  const toByte = (v: number): number => {
    const q = Math.round((v - lo) * scale);
    return q < 0 ? 0 : q > 255 ? 255 : q;
  };

  for (let n = 0; n < cellCount; n++) {
    const i = cells ? cells[n]! : n;
    if (i < 0) continue;
    const x0 = pad + (n % cols) * (w + pad);
    const y0 = pad + Math.floor(n / cols) * (h + pad);
    const base = i * per;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const dst = ((y0 + y) * width + (x0 + x)) * outChannels;
        let nan = false;
        for (let ch = 0; ch < c; ch++) {
          if (Number.isNaN(samples[base + ch * h * w + y * w + x])) nan = true;
        }
        if (nan) {
          pixels.set(NAN_RGB, dst);
          continue;
        }
        for (let k = 0; k < outChannels; k++) {
          const ch = c === 1 ? 0 : k;
          pixels[dst + k] = toByte(samples[base + ch * h * w + y * w + x]);
        }
      }
    }
  }
  return { width, height, channels: outChannels, pixels };
}

// ---------------------------------------------------------------------------
// Scatter plots.

/** Categorical palette (matplotlib's tab10), cycled for labels >= 10. */
export const PALETTE: ReadonlyArray<readonly [number, number, number]> = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

/** The palette's colour for label k (cycled; negative labels wrap too). */
export function paletteColour(k: number): [number, number, number] {
  return [...PALETTE[((k % PALETTE.length) + PALETTE.length) % PALETTE.length]!] as [number, number, number];
}

const BACKGROUND_GREY: [number, number, number] = [190, 190, 190];
const AXIS_GREY: [number, number, number] = [215, 215, 215];
const POINT_ALPHA = 0.8;
const BACKGROUND_ALPHA = 0.5;

export interface ScatterOptions {
  /** Per-point category labels, coloured from PALETTE (default: all label 0). */
  labels?: Int32Array | null;
  /** [m, 2] reference points drawn behind in light grey. */
  background?: Float32Array | null;
  width?: number;
  height?: number;
  /** [xmin, xmax, ymin, ymax]; default: bounds of background (or points) + 5% margin. */
  extent?: [number, number, number, number];
  pointRadius?: number;
  /** Accepted for API symmetry; no text is rendered. */
  title?: string | null;
}

function boundsOf(xy: Float32Array): [number, number, number, number] | null {
  let xmin = Infinity;
  let xmax = -Infinity;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (let i = 0; i + 1 < xy.length; i += 2) {
    const x = xy[i];
    const y = xy[i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    if (x < xmin) xmin = x;
    if (x > xmax) xmax = x;
    if (y < ymin) ymin = y;
    if (y > ymax) ymax = y;
  }
  return xmin <= xmax ? [xmin, xmax, ymin, ymax] : null;
}

function withMargin(lo: number, hi: number): [number, number] {
  const span = hi - lo;
  const m = span > 0 ? span * 0.05 : Math.max(Math.abs(lo) * 0.05, 0.5);
  return [lo - m, hi + m];
}

function defaultExtent(points: Float32Array, background: Float32Array | null): [number, number, number, number] {
  const b = (background && boundsOf(background)) ?? boundsOf(points);
  if (!b) return [-1, 1, -1, 1];
  return [...withMargin(b[0], b[1]), ...withMargin(b[2], b[3])];
}

/**
 * Rasterise [n, 2] points (row-major) on a white canvas. Points are coloured
 * by label and alpha-blended; the optional background set is drawn first in
 * light grey; light axes mark x = 0 and y = 0 when inside the extent. Points
 * outside the extent are not drawn and discs are clipped to the canvas.
 */
export function scatterPlot(points: Float32Array, opts: ScatterOptions = {}): Image {
  const width = opts.width ?? 512;
  const height = opts.height ?? width;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`scatterPlot: size must be positive integers, got ${width}x${height}`);
  }
  if (points.length % 2 !== 0) throw new RangeError('scatterPlot: points must be an [n, 2] array');
  const n = points.length / 2;
  const labels = opts.labels ?? null;
  if (labels && labels.length < n) {
    throw new RangeError(`scatterPlot: ${labels.length} labels for ${n} points`);
  }
  const background = opts.background ?? null;
  if (background && background.length % 2 !== 0) {
    throw new RangeError('scatterPlot: background must be an [m, 2] array');
  }
  const [xmin, xmax, ymin, ymax] = opts.extent ?? defaultExtent(points, background);
  if (!(xmax > xmin) || !(ymax > ymin)) {
    throw new RangeError(`scatterPlot: bad extent [${xmin}, ${xmax}, ${ymin}, ${ymax}]`);
  }
  const radius = Math.max(0, opts.pointRadius ?? 2);

  const pixels = new Uint8Array(width * height * 3).fill(255);
  const toPx = (x: number): number => ((x - xmin) / (xmax - xmin)) * width;
  const toPy = (y: number): number => ((ymax - y) / (ymax - ymin)) * height;

  const blend = (px: number, py: number, rgb: readonly number[], alpha: number): void => {
    const o = (py * width + px) * 3;
    for (let k = 0; k < 3; k++) pixels[o + k] = Math.round(rgb[k] * alpha + pixels[o + k] * (1 - alpha));
  };

  // Axes (drawn first so that data covers them).
  if (xmin <= 0 && 0 <= xmax) {
    const col = Math.min(width - 1, Math.floor(toPx(0)));
    for (let y = 0; y < height; y++) blend(col, y, AXIS_GREY, 1);
  }
  if (ymin <= 0 && 0 <= ymax) {
    const row = Math.min(height - 1, Math.floor(toPy(0)));
    for (let x = 0; x < width; x++) blend(x, row, AXIS_GREY, 1);
  }

  /** Filled disc: pixels whose centre lies within r of (cx, cy), plus the centre pixel. */
  const disc = (x: number, y: number, r: number, rgb: readonly number[], alpha: number): void => {
    if (!(x >= xmin && x <= xmax && y >= ymin && y <= ymax)) return; // clipped (NaN too)
    const cx = toPx(x);
    const cy = toPy(y);
    const centreX = Math.min(width - 1, Math.floor(cx));
    const centreY = Math.min(height - 1, Math.floor(cy));
    const x0 = Math.max(0, Math.floor(cx - r));
    const x1 = Math.min(width - 1, Math.ceil(cx + r));
    const y0 = Math.max(0, Math.floor(cy - r));
    const y1 = Math.min(height - 1, Math.ceil(cy + r));
    for (let py = y0; py <= y1; py++) {
      for (let px = x0; px <= x1; px++) {
        const dx = px + 0.5 - cx;
        const dy = py + 0.5 - cy;
        if (dx * dx + dy * dy <= r * r || (px === centreX && py === centreY)) blend(px, py, rgb, alpha);
      }
    }
  };

  if (background) {
    const r = Math.max(1, radius * 0.75);
    for (let i = 0; i + 1 < background.length; i += 2) {
      disc(background[i], background[i + 1], r, BACKGROUND_GREY, BACKGROUND_ALPHA);
    }
  }
  for (let i = 0; i < n; i++) {
    const label = labels ? labels[i] : 0;
    const colour = paletteColour(label);
    disc(points[2 * i], points[2 * i + 1], radius, colour, POINT_ALPHA);
  }
  return { width, height, channels: 3, pixels };
}

// ---------------------------------------------------------------------------
// Heat maps.

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

// ---------------------------------------------------------------------------
// The picture of a model's samples.

/**
 * Images → a grid (rows by class, or the first 64: shared/grid-layout.ts); vectors → a scatter plot over
 * the data (first two coordinates), coloured by class, or by `series` (vectors: the label is an index
 * into these names instead of a class).
 */
export async function samplePicture(
  model: Model,
  samples: Float32Array,
  labels: Int32Array | null,
  n: number,
  series?: string[],
): Promise<{ image: Image; note: string | null }> {
  const shape = model.shape;
  let img: Image;
  let note: string | null = null;
  let info: PictureInfo;
  // Rows by class only when every sample has a real class (a draw with the null class has none).
  const classed = labels !== null && labels.subarray(0, n).every((k) => k >= 0 && k < model.numClasses);
  const layout = gridLayout(model, n, classed);
  if (layout) {
    const c = shape as [number, number, number];
    if (layout.rowClasses) {
      const cells = classRowCells(layout, labels!, n);
      img = imageGrid(samples.subarray(0, n * model.dim), n, c, { cols: layout.cols, pad: layout.pad, cells });
    } else {
      const count = Math.min(n, MAX_TILES);
      img = imageGrid(samples.subarray(0, count * model.dim), count, c, { cols: layout.cols, pad: layout.pad });
    }
    const { cols, tile, pad } = layout;
    const rows = Math.round((img.height - pad) / (tile[0] + pad));
    info = {
      kind: 'grid',
      cols,
      rows,
      tile,
      pad,
      rowLabels: layout.rowClasses?.map((k) => className(model, k)) ?? null,
    };
  } else if (shape.length === 1) {
    const d = shape[0]!;
    const data = await loadData(model);
    const projection =
      d === 2
        ? null
        : d === 1
          ? STRIP
          : await principalPlane(model, data?.x ?? samples, data?.n ?? n, data ? 'data' : 'samples');
    const project = (x: Float32Array, m: number): Float32Array => (projection ? projection.project(x, m) : x);
    const background = data ? project(data.x, data.n) : null;
    if (projection && d > 2)
      note = `${model.name} is ${d}-dimensional: the scatter plot shows its first two principal components (${projection.of})`;
    img = scatterPlot(project(samples, n), { labels, background });
    info = {
      kind: 'scatter',
      series: series?.map((label, k) => ({ label, rgb: paletteColour(k) })) ?? scatterSeries(model, labels, n),
      background: data ? `data (n = ${data.n.toLocaleString('en')})` : null,
      axes: projection ? projection.axes : ['x₁', 'x₂'],
    };
  } else {
    throw new RangeError(
      `cannot draw samples of shape [${shape.join(', ')}]; pictures need [1|3, H, W] images or vectors`,
    );
  }
  img.text = { [PICTURE_TEXT_KEY]: JSON.stringify(info) };
  return { image: img, note };
}

/** The scatter plot's legend: a colour per class drawn (its name), or one for the samples. */
function scatterSeries(
  model: Model,
  labels: Int32Array | null,
  n: number,
): { label: string; rgb: [number, number, number] }[] {
  if (!labels) return [{ label: 'samples', rgb: paletteColour(0) }];
  const present = [...new Set(labels.subarray(0, n))].sort((a, b) => a - b);
  return present.map((k) => ({ label: className(model, k), rgb: paletteColour(k) }));
}

interface PrincipalPlane {
  project(x: Float32Array, m: number): Float32Array;
  axes: [string, string];
  /** "PCA of the data; 38% + 21% of its variance". */
  of: string;
}

/**
 * 1-D samples as a strip plot: x across, and down a spread in [−1, 1] that only separates the points
 * (the i-th point at the i-th term of the golden-ratio sequence), so that where they crowd reads as
 * density — the q-learning paper's 1-D benchmark is a density plot.
 */
const STRIP: PrincipalPlane = {
  project(y: Float32Array, k: number): Float32Array {
    const out = new Float32Array(k * 2);
    for (let i = 0; i < k; i++) {
      out[2 * i] = y[i]!;
      out[2 * i + 1] = 2 * ((i * 0.6180339887498949) % 1) - 1;
    }
    return out;
  },
  axes: ['x', 'spread (no meaning: it separates the points)'],
  of: 'a strip plot',
};

const planes = new WeakMap<Model, Promise<PrincipalPlane>>();

/**
 * The plane of the first two principal components of `x` ([m, d]: the model's data, or the samples of a
 * model without data), through its mean (ml-pca on the covariance matrix: d × d, cheap for the vector
 * models' d ≤ a few hundred). Once per model: every picture of a run is drawn in the same plane.
 */
function principalPlane(model: Model, x: Float32Array, m: number, of: 'data' | 'samples'): Promise<PrincipalPlane> {
  let p = planes.get(model);
  if (!p) {
    const d = model.dim;
    p = (async () => {
      const rows = Array.from({ length: m }, (_, i) => Array.from(x.subarray(i * d, (i + 1) * d)));
      const pca = new PCA(rows, { method: 'covarianceMatrix', center: true, scale: false });
      const V = pca.getEigenvectors().to2DArray(); // [d, d], columns = components
      const mean = rows[0]!.map((_, j) => rows.reduce((s, r) => s + r[j]!, 0) / m);
      const share = pca.getExplainedVariance().map((v) => `${Math.round(v * 100)}%`);
      return {
        project(y: Float32Array, k: number): Float32Array {
          const out = new Float32Array(k * 2);
          for (let i = 0; i < k; i++)
            for (let c = 0; c < 2; c++) {
              let s = 0;
              for (let j = 0; j < d; j++) s += (y[i * d + j]! - mean[j]!) * V[j]![c]!;
              out[2 * i + c] = s;
            }
          return out;
        },
        axes: [`PC 1 (${share[0]} of variance)`, `PC 2 (${share[1]} of variance)`],
        of: `PCA of the ${of}: ${share[0]} + ${share[1]} of the variance`,
      };
    })();
    planes.set(model, p);
  }
  return p;
}

/** The picture of `samples` (see samplePicture), PNG-encoded (for files and events alike). */
export async function samplePng(
  model: Model,
  samples: Float32Array,
  labels: Int32Array | null,
  n: number,
): Promise<Uint8Array> {
  return encodePng((await samplePicture(model, samples, labels, n)).image);
}

/** Writes the picture of `samples` (see samplePicture) to `path`; returns a note when it shows only part of them. */
export async function writeSamplePlot(
  model: Model,
  path: string,
  samples: Float32Array,
  labels: Int32Array | null,
  n: number,
): Promise<string | null> {
  const { image, note } = await samplePicture(model, samples, labels, n);
  await writePng(path, image);
  return note;
}

/**
 * The development set's picture (objective reward; apps/train.ts, [Note: the development set]), its
 * `n` base-sampler samples and the policy's `n` from the same seeds: images as two rows, the base
 * sampler's over the policy's, a column per seed; vectors as one scatter plot of both over the data.
 */
export async function devSetPng(
  model: Model,
  base: Float32Array,
  policy: Float32Array,
  n: number,
): Promise<Uint8Array> {
  const dim = model.dim;
  const both = new Float32Array(2 * n * dim);
  both.set(base.subarray(0, n * dim));
  both.set(policy.subarray(0, n * dim), n * dim);
  const rows = ['base sampler', 'policy'];
  if (model.shape.length === 3) {
    const c = model.shape as [number, number, number];
    const pad = 2;
    const img = imageGrid(both, 2 * n, c, { cols: n, pad });
    const info: PictureInfo = { kind: 'grid', cols: n, rows: 2, tile: [c[1], c[2]], pad, rowLabels: rows };
    img.text = { [PICTURE_TEXT_KEY]: JSON.stringify(info) };
    return encodePng(img);
  }
  // Vectors: the two sets as the two series of one scatter plot.
  const labels = Int32Array.from({ length: 2 * n }, (_, i) => (i < n ? 0 : 1));
  return encodePng((await samplePicture(model, both, labels, 2 * n, rows)).image);
}
