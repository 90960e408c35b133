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

import { encode } from 'jpeg-js';

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
    out[i] = encode({ data: rgba, width: w, height: h }, o.quality).data.length / 1000;
  }
  return out;
}
