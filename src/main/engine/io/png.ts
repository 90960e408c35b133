// PNG output for sample grids and 2-D scatter plots.
//
// encodePng writes 8-bit grayscale / RGB / RGBA images with node:zlib (deflate
// and CRC-32), choosing a PNG filter per row (the usual "minimum sum of
// absolute differences" heuristic). imageGrid tiles NCHW float samples into
// one image; scatterPlot rasterises 2-D points as alpha-blended discs.
import { crc32, deflateSync } from 'node:zlib';
import { writeFileAtomic } from './atomic';

/** Row-major, channel-interleaved 8-bit image. */
export interface Image {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  pixels: Uint8Array;
}

// ---------------------------------------------------------------------------
// Encoder.

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const COLOR_TYPE: Record<Image['channels'], number> = { 1: 0, 3: 2, 4: 6 };

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function validateImage(img: Image): void {
  const { width, height, channels, pixels } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`PNG: image size must be positive integers, got ${width}x${height}`);
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new RangeError(`PNG: channels must be 1, 3 or 4, got ${String(channels)}`);
  }
  if (pixels.length !== width * height * channels) {
    throw new RangeError(
      `PNG: expected ${width * height * channels} bytes for ${width}x${height}x${channels}, got ${pixels.length}`,
    );
  }
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/**
 * Filter one row with filter `type` into `out` (without the type byte).
 * `prev` is the previous unfiltered row (all zeros for the first row).
 */
function filterRow(type: number, row: Uint8Array, prev: Uint8Array, bpp: number, out: Uint8Array): void {
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp] : 0;
    const b = prev[i];
    const c = i >= bpp ? prev[i - bpp] : 0;
    let pred = 0;
    if (type === 1) pred = a;
    else if (type === 2) pred = b;
    else if (type === 3) pred = (a + b) >>> 1;
    else if (type === 4) pred = paeth(a, b, c);
    out[i] = (row[i] - pred) & 0xff;
  }
}

/** Sum of filtered bytes read as signed values: lower usually compresses better. */
function filterCost(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum += bytes[i] < 128 ? bytes[i] : 256 - bytes[i];
  return sum;
}

/** Encode an 8-bit grayscale, RGB or RGBA image as PNG bytes. */
export function encodePng(img: Image): Uint8Array {
  validateImage(img);
  const { width, height, channels, pixels } = img;
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  let prev: Uint8Array = new Uint8Array(stride);
  const candidates = [0, 1, 2, 3, 4].map(() => new Uint8Array(stride));
  for (let y = 0; y < height; y++) {
    const row = pixels.subarray(y * stride, (y + 1) * stride);
    let best = 0;
    let bestCost = Infinity;
    for (let type = 0; type < 5; type++) {
      filterRow(type, row, prev, channels, candidates[type]);
      const cost = filterCost(candidates[type]);
      if (cost < bestCost) {
        bestCost = cost;
        best = type;
      }
    }
    raw[y * (stride + 1)] = best;
    raw.set(candidates[best], y * (stride + 1) + 1);
    prev = row;
  }

  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = COLOR_TYPE[channels];
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method: adaptive
  ihdr[12] = 0; // no interlace

  const parts = [
    Uint8Array.from(PNG_SIGNATURE),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Encode and atomically write a PNG file. */
export async function writePng(path: string, img: Image): Promise<void> {
  await writeFileAtomic(path, encodePng(img));
}

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
  const cols = Math.max(1, Math.min(count, Math.floor(opts.cols ?? Math.ceil(Math.sqrt(count)))));
  const rows = Math.ceil(count / cols);
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

  for (let n = 0; n < count; n++) {
    const x0 = pad + (n % cols) * (w + pad);
    const y0 = pad + Math.floor(n / cols) * (h + pad);
    const base = n * per;
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
    const colour = PALETTE[((label % PALETTE.length) + PALETTE.length) % PALETTE.length];
    disc(points[2 * i], points[2 * i + 1], radius, colour, POINT_ALPHA);
  }
  return { width, height, channels: 3, pixels };
}
