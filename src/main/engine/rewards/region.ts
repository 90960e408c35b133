// A region of the plane (2-D models): the reward is minus the distance of the point to a disc,
// r(x) = −max(0, ‖x − c‖ − R), so 0 inside the disc and falling linearly outside it: a goal a 2-D
// benchmark can show in one scatter plot (the inverse-RL paper's "controlling the distribution",
// Appendix B.9, in its simplest form).

/** −max(0, ‖x − (cx, cy)‖ − r) for each of `n` 2-D points. */
export function regionRewards(points: Float32Array, n: number, d: { x: number; y: number; r: number }): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const dist = Math.hypot(points[2 * i]! - d.x, points[2 * i + 1]! - d.y);
    out[i] = -Math.max(0, dist - d.r);
  }
  return out;
}
