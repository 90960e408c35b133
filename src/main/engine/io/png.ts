// PNG encoding of 8-bit images (the pictures drawn by pictures.ts).
//
// encodePng writes 8-bit grayscale / RGB / RGBA images with node:zlib (deflate
// and CRC-32), choosing a PNG filter per row (the usual "minimum sum of
// absolute differences" heuristic).
import { crc32, deflateSync } from 'node:zlib';
import { writeFileAtomic } from './atomic';

/** Row-major, channel-interleaved 8-bit image. */
export interface Image {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  pixels: Uint8Array;
  /** Text written as iTXt chunks (keyword → UTF-8 text), as ComfyUI keeps its workflow in a PNG:
   * a sample grid keeps its layout and row labels there (shared/png-text.ts reads them back). */
  text?: Record<string, string>;
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

/** An uncompressed iTXt chunk's data: keyword, NUL, compression flag 0, method 0, empty language and
 * translated keyword (each NUL-terminated), then the UTF-8 text (PNG 1.2, §11.3.4.5). */
function itxt(keyword: string, text: string): Uint8Array {
  if (!/^[\x20-\x7e]{1,79}$/.test(keyword) || keyword !== keyword.trim())
    throw new RangeError(
      `PNG: a text keyword must be 1–79 printable Latin-1 characters, got ${JSON.stringify(keyword)}`,
    );
  const head = new TextEncoder().encode(keyword);
  const body = new TextEncoder().encode(text);
  const out = new Uint8Array(head.length + 5 + body.length);
  out.set(head, 0); // then NUL, flag 0, method 0, NUL (language), NUL (translated keyword): zeros
  out.set(body, head.length + 5);
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
    ...Object.entries(img.text ?? {}).map(([k, v]) => chunk('iTXt', itxt(k, v))),
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
