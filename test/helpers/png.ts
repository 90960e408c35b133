// An independent PNG decoder for checking our own output (io/png.ts encodes, pictures.ts draws):
// chunk CRCs with a bitwise CRC-32, IDAT through node:zlib's inflate, filters undone by hand.
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';

import type { Image } from '../../src/main/engine/io/png';

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Bitwise CRC32, deliberately different from node:zlib's table-driven one that encodePng uses. */
function referenceCrc32(bytes: Uint8Array): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

export interface Decoded {
  width: number;
  height: number;
  channels: number;
  pixels: Uint8Array;
  chunkTypes: string[];
  filters: Set<number>;
}

/** Decodes an 8-bit, non-interlaced PNG, checking every chunk's CRC and every filter type. */
export function decodePng(png: Uint8Array): Decoded {
  assert.deepEqual(Array.from(png.subarray(0, 8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let off = 8;
  const chunkTypes: string[] = [];
  const idat: Uint8Array[] = [];
  let width = 0;
  let height = 0;
  let channels = 0;
  while (off < png.length) {
    const len = view.getUint32(off);
    const type = Buffer.from(png.subarray(off + 4, off + 8)).toString('latin1');
    const data = png.subarray(off + 8, off + 8 + len);
    const crc = view.getUint32(off + 8 + len);
    assert.equal(crc, referenceCrc32(png.subarray(off + 4, off + 8 + len)), `CRC of ${type}`);
    chunkTypes.push(type);
    if (type === 'IHDR') {
      const h = new DataView(data.buffer, data.byteOffset, data.byteLength);
      width = h.getUint32(0);
      height = h.getUint32(4);
      assert.equal(data[8], 8, 'bit depth');
      channels = ({ 0: 1, 2: 3, 6: 4 } as Record<number, number>)[data[9]];
      assert.deepEqual(Array.from(data.subarray(10, 13)), [0, 0, 0]);
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    off += 12 + len;
  }
  assert.equal(off, png.length);
  const raw = inflateSync(concat(...idat));
  const stride = width * channels;
  assert.equal(raw.length, height * (stride + 1));
  const pixels = new Uint8Array(width * height * channels);
  const filters = new Set<number>();
  for (let y = 0; y < height; y++) {
    const type = raw[y * (stride + 1)];
    filters.add(type);
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i];
      const a = i >= channels ? pixels[y * stride + i - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i] : 0;
      const c = i >= channels && y > 0 ? pixels[(y - 1) * stride + i - channels] : 0;
      let pred: number;
      if (type === 0) pred = 0;
      else if (type === 1) pred = a;
      else if (type === 2) pred = b;
      else if (type === 3) pred = Math.floor((a + b) / 2);
      else if (type === 4) {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else throw new Error(`bad filter type ${type}`);
      pixels[y * stride + i] = (x + pred) & 0xff;
    }
  }
  return { width, height, channels, pixels, chunkTypes, filters };
}

/** The channel values of pixel (x, y). */
export function pixelAt(img: Image, x: number, y: number): number[] {
  const o = (y * img.width + x) * img.channels;
  return Array.from(img.pixels.subarray(o, o + img.channels));
}
