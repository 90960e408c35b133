// Seeded random streams, one per sample (the idea of NVlabs/edm's StackedRandomGenerator):
// sample i of a run with seed s always sees the same noise, whatever the batch size or the
// batch it lands in, so results are reproducible across `--batch` settings and resumptions.
//
// Generator: xoshiro128** (Blackman & Vigna), seeded through splitmix32 from (seed, index).
// Normals: Box–Muller, both values used (the second is kept for the stream's next draw).

/** Something that fills noise for a subset of samples (`rows` are sample indices in the run). */
export interface NoiseSource {
  /** Fills `out` ([rows.length, dim] row-major) with standard normals, row j from sample rows[j]'s stream. */
  normal(out: Float32Array, rows: ArrayLike<number>, dim: number): void;
  /** One uniform integer in [0, k) per row, from each row's stream. */
  integer(k: number, rows: ArrayLike<number>): Int32Array;
}

function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [state, z >>> 0];
}

/**
 * A seed for one purpose of a run (actions, trainer, …), so that streams meant to be independent
 * never coincide with the per-sample noise streams of the same seed: (seed, purpose) are mixed
 * through splitmix32 twice.
 */
export function deriveSeed(seed: number, purpose: number): number {
  const [s1, a] = splitmix32((seed | 0) ^ Math.imul(purpose | 0, 0x9e3779b1));
  const b = splitmix32(s1 ^ a)[1];
  return (a ^ Math.imul(b, 0x85ebca6b)) >>> 1; // non-negative, < 2^31
}

/** A xoshiro128** stream. */
export class Stream {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare = NaN;

  constructor(seed: number, index: number) {
    let st =
      (Math.imul(seed | 0, 0x632be5ab) ^ Math.imul(index | 0, 0x27d4eb2f) ^ (Math.floor(seed / 2 ** 32) | 0)) | 0;
    let v: number;
    [st, v] = splitmix32(st);
    this.s0 = v;
    [st, v] = splitmix32(st);
    this.s1 = v;
    [st, v] = splitmix32(st);
    this.s2 = v;
    v = splitmix32(st)[1];
    this.s3 = v | 1; // never all-zero
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform double in (0, 1): 53 random bits, never exactly 0. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo + 0.5) / 9007199254740992;
  }

  /** A standard normal (Box–Muller). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = NaN;
      return s;
    }
    const u1 = this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Per-sample streams for samples `0..n-1` of a run seeded with `seed`. */
export class StackedRandom implements NoiseSource {
  private readonly streams = new Map<number, Stream>();
  constructor(readonly seed: number) {}

  stream(index: number): Stream {
    let s = this.streams.get(index);
    if (!s) {
      s = new Stream(this.seed, index);
      this.streams.set(index, s);
    }
    return s;
  }

  normal(out: Float32Array, rows: ArrayLike<number>, dim: number): void {
    for (let j = 0; j < rows.length; j++) {
      const s = this.stream(rows[j]!);
      const o = j * dim;
      for (let d = 0; d < dim; d++) out[o + d] = s.normal();
    }
  }

  integer(k: number, rows: ArrayLike<number>): Int32Array {
    const out = new Int32Array(rows.length);
    for (let j = 0; j < rows.length; j++) out[j] = Math.floor(this.stream(rows[j]!).uniform() * k);
    return out;
  }

  /** Frees the streams of samples that are done (long runs over many batches). */
  release(rows: ArrayLike<number>): void {
    for (let j = 0; j < rows.length; j++) this.streams.delete(rows[j]!);
  }
}
