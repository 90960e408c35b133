// A region of the plane (2-D models): the reward is minus the distance of the point to a disc,
// r(x) = −max(0, ‖x − c‖ − R), so 0 inside the disc and falling linearly outside it: a goal a 2-D
// benchmark can show in one scatter plot (the inverse-RL paper's "controlling the distribution",
// Appendix B.9, in its simplest form).
//
// A box (2-D models) is the q-learning paper's Swiss-roll reward (its §6.3): 1 inside the rectangle
// [x0, x1] × [y0, y1] (edges included), 0 outside — not differentiable, a reward only RL can use.
//
// A bump (1-D models) is the q-learning paper's 1-D reward in bounded form: exp(−(s − x)²/(2·width²)),
// 1 at x and falling off as a Gaussian, for a preference for samples near x (its §6.2: near 6).

/** −max(0, ‖x − (cx, cy)‖ − r) for each of `n` 2-D points. */
export function regionRewards(points: Float32Array, n: number, d: { x: number; y: number; r: number }): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const dist = Math.hypot(points[2 * i]! - d.x, points[2 * i + 1]! - d.y);
    out[i] = -Math.max(0, dist - d.r);
  }
  return out;
}

/** 1 inside [x0, x1] × [y0, y1] (edges included), 0 outside, for each of `n` 2-D points. */
export function boxRewards(
  points: Float32Array,
  n: number,
  b: { x0: number; x1: number; y0: number; y1: number },
): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = points[2 * i]!;
    const y = points[2 * i + 1]!;
    out[i] = x >= b.x0 && x <= b.x1 && y >= b.y0 && y <= b.y1 ? 1 : 0;
  }
  return out;
}

/** exp(−(s − x)²/(2·width²)) for each of `n` 1-D samples s. */
export function bumpRewards(samples: Float32Array, n: number, b: { x: number; width: number }): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.exp(-((samples[i]! - b.x) ** 2) / (2 * b.width * b.width));
  return out;
}
