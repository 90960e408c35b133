// JPEG (in)compressibility (the DDPO thesis, §5.1.1–5.1.2): the sample as an 8-bit image, encoded as
// a JPEG at a fixed quality; the reward is its size in kB (1 kB = 1,000 bytes, as DDPO's
// `jpeg_compressibility` divides by 1000). `jpeg-size` rewards incompressibility, `-jpeg-size`
// compressibility. The encoder is jpeg-js (a maintained, pure-JavaScript baseline JPEG codec): no
// native build, the same bytes on every platform; DDPO used PIL at quality 95, so sizes are
// comparable in trend, not to the byte.
//
// [Note: the sample as an image]
// A sample in the model's data range [lo, hi] (the EDM convention [−1, 1]; a manifest's
// features.sampleRange) becomes bytes as the sample pictures do: round((v − lo)·255/(hi − lo)),
// clamped to 0..255. One channel is written as grey (R = G = B), three as RGB; the alpha byte that
// jpeg-js reads is ignored by the encoder.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// [Note: one encoder, reused]
// jpeg-js's `encode(image, quality)` builds a new encoder for every image, and building one (its
// Huffman, category and colour tables: ~2×65,536 entries) takes ~100 ms here, against ~2 ms to
// encode a 28×28 image: 256 samples cost 30 s an iteration that way. Its encoder resets its output
// and DC predictors at every `encode`, so one encoder serves every image; the library does not
// export its constructor, so it is taken from its own source (jpeg-js is pinned to 0.4.4 in
// package.json; rewards.test.ts checks the bytes against jpeg-js's public `encode`).
interface Encoder {
  encode(image: { data: Uint8Array; width: number; height: number }, quality: number): ArrayLike<number>;
}
let encoderClass: (new (quality: number) => Encoder) | null = null;
const encoders = new Map<number, Encoder>();
function encoderFor(quality: number): Encoder {
  if (!encoderClass) {
    const src = readFileSync(createRequire(import.meta.url).resolve('jpeg-js/lib/encoder.js'), 'utf8');
    encoderClass = new Function('module', 'window', 'Buffer', `${src}\nreturn JPEGEncoder;`)(
      {},
      undefined,
      Buffer,
    ) as new (quality: number) => Encoder;
  }
  let e = encoders.get(quality);
  if (!e) encoders.set(quality, (e = new encoderClass(quality)));
  return e;
}

/** JPEG size in kB of each of `n` samples of shape [C, H, W] (C = 1 or 3) at `quality`. */
export function jpegSizes(
  samples: Float32Array,
  n: number,
  shape: readonly number[],
  o: { quality: number; range?: readonly [number, number] },
): Float64Array {
  if (shape.length !== 3 || (shape[0] !== 1 && shape[0] !== 3))
    throw new RangeError(
      `jpeg-size needs image samples of shape [1 or 3, H, W]; this model's samples are [${shape.join(', ')}]`,
    );
  const [c, h, w] = shape as [number, number, number];
  const [lo, hi] = o.range ?? [-1, 1];
  const scale = 255 / (hi - lo);
  const per = c * h * w;
  const rgba = new Uint8Array(h * w * 4);
  const out = new Float64Array(n);
  const byte = (v: number): number => {
    const q = Math.round((v - lo) * scale);
    return q < 0 ? 0 : q > 255 ? 255 : Number.isNaN(q) ? 0 : q;
  };
  for (let i = 0; i < n; i++) {
    const base = i * per;
    for (let p = 0; p < h * w; p++) {
      for (let k = 0; k < 3; k++) rgba[4 * p + k] = byte(samples[base + (c === 1 ? 0 : k * h * w) + p]!);
      rgba[4 * p + 3] = 255;
    }
    out[i] = encoderFor(o.quality).encode({ data: rgba, width: w, height: h }, o.quality).length / 1000;
  }
  return out;
}
