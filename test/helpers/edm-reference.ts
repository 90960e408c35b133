// Plain float64 references of the samplers (Karras et al. 2022, Alg. 1 and 2) with injected noise,
// one row at a time, around the float32 model: what test/samplers.test.ts and test/curves.test.ts
// check the engine's batched samplers against.

import type { Model } from '../../src/main/engine/models/model';
import { Stream, type NoiseSource } from '../../src/main/engine/samplers/random';
import { karrasSchedule } from '../../src/main/engine/samplers/schedule';

/** Noise injected from the test: row r's k-th request gets block k of its own pre-drawn sequence. */
export class ScriptedNoise implements NoiseSource {
  readonly seq: Float64Array[];
  private readonly used: Int32Array;
  constructor(
    n: number,
    readonly dim: number,
    blocks: number,
    seed = 7,
  ) {
    const s = new Stream(seed, 0);
    this.seq = Array.from({ length: n }, () => Float64Array.from({ length: blocks * dim }, () => s.normal()));
    this.used = new Int32Array(n);
  }
  block(row: number, k: number): Float64Array {
    return this.seq[row]!.subarray(k * this.dim, (k + 1) * this.dim);
  }
  normal(out: Float32Array, rows: ArrayLike<number>, dim: number): void {
    for (let j = 0; j < rows.length; j++) {
      const r = rows[j]!;
      out.set(this.block(r, this.used[r]!++), j * dim);
    }
  }
  integer(): Int32Array {
    throw new Error('not used');
  }
}

/** D_w in float64 around the float32 model: D_u + w (D_c − D_u), one row. */
export async function guided64(
  model: Model,
  x: Float64Array,
  sigma: number,
  label: number,
  w: number,
): Promise<Float64Array> {
  const call = async (l: number): Promise<Float64Array> =>
    Float64Array.from(
      await model.denoise(Float32Array.from(x), new Float32Array([sigma]), new BigInt64Array([BigInt(l)])),
    );
  const c = await call(label);
  if (w === 1) return c;
  const u = await call(model.nullClass!);
  return c.map((ci, k) => u[k]! + w * (ci - u[k]!));
}

export interface ReferenceOptions {
  steps: number;
  heun: boolean;
  churn: number;
  sTmin: number;
  sTmax: number;
  sNoise: number;
  /** The guidance scale, or w(σ, t_i) of an evaluation at σ (the Euler one at t̂_i, the correction at t_{i+1}) in step i. */
  w: number | ((sigma: number, tCur: number) => number);
  /** γ(t_i) in place of min(S_churn/N, √2−1) on [S_tmin, S_tmax] (a churn curve). */
  gammaAt?: (t: number) => number;
}

/** Karras et al. 2022 Alg. 2 (Alg. 1 when churn = 0; Euler when !heun), float64, one row. */
export async function edmReference(
  model: Model,
  z: Float64Array,
  label: number,
  o: ReferenceOptions,
  noise: (k: number) => Float64Array,
): Promise<Float64Array> {
  const t = karrasSchedule({ steps: o.steps, sigmaMin: 0.002, sigmaMax: 80, rho: 7 });
  const w = (sigma: number, tCur: number): number => (typeof o.w === 'number' ? o.w : o.w(sigma, tCur));
  let x = z.map((v) => v * t[0]!);
  let k = 0;
  for (let i = 0; i < o.steps; i++) {
    const tc = t[i]!;
    const tn = t[i + 1]!;
    const gamma = o.gammaAt
      ? o.gammaAt(tc)
      : tc >= o.sTmin && tc <= o.sTmax
        ? Math.min(o.churn / o.steps, Math.SQRT2 - 1)
        : 0;
    const th = tc + gamma * tc;
    let xh = x;
    if (gamma > 0) {
      const eps = noise(k++);
      xh = x.map((v, j) => v + Math.sqrt(th * th - tc * tc) * o.sNoise * eps[j]!);
    }
    const D = await guided64(model, xh, th, label, w(th, tc));
    const d = xh.map((v, j) => (v - D[j]!) / th);
    let xn = xh.map((v, j) => v + (tn - th) * d[j]!);
    if (o.heun && tn !== 0) {
      const D2 = await guided64(model, xn, tn, label, w(tn, tc));
      const d2 = xn.map((v, j) => (v - D2[j]!) / tn);
      xn = xh.map((v, j) => v + (tn - th) * (0.5 * d[j]! + 0.5 * d2[j]!));
    }
    x = xn;
  }
  return x;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
