// Restart sampling (Xu et al. 2023, "Restart Sampling for Improving Generative Processes"),
// over EDM's Heun steps.
//
// The main backward ODE runs t_0 → … → t_N. On arriving at the level t_min' (the schedule level
// nearest the restart interval's lower end t_min), the sample is restarted K times:
//   x ← x + √(t_max² − t_min'²)·ε                                     Restart forward: add noise
//   then n_restart Heun steps on a ρ-schedule from t_max down to t_min'  Restart backward: ODE
// after which the main ODE continues. Each restart costs 2·n_restart NFE (Heun).

import type { Denoiser } from '../models/model';
import { checkCancelled } from '../cancel';
import { edmStep } from './edm';
import type { StepFn, StepInput } from './loop';
import type { NoiseSource } from './random';
import { karrasSchedule } from './schedule';
import type { RestartSettings } from './types';

/** Index of the schedule level nearest t_min (excluding t_0 and t_N). */
export function restartLevel(schedule: Float64Array, tMin: number): number {
  let best = 1;
  for (let i = 1; i < schedule.length - 1; i++) {
    if (Math.abs(schedule[i]! - tMin) < Math.abs(schedule[best]! - tMin)) best = i;
  }
  return best;
}

export function restartStep(
  model: Denoiser,
  schedule: Float64Array,
  r: RestartSettings,
  rho: number,
  noise: NoiseSource,
): StepFn {
  if (!(r.tMax > r.tMin && r.tMin > 0))
    throw new RangeError(`restart interval needs 0 < t-min < t-max, got [${r.tMin}, ${r.tMax}]`);
  if (!Number.isInteger(r.k) || r.k < 0)
    throw new RangeError(`restart count K must be a non-negative integer, got ${r.k}`);
  if (!Number.isInteger(r.steps) || r.steps < 1)
    throw new RangeError(`restart steps must be a positive integer, got ${r.steps}`);
  const dim = model.dim;
  const iMin = restartLevel(schedule, r.tMin);
  const tMinP = schedule[iMin]!;
  // Levels t_max = s_0 > … > s_{n} = t_min' for the restart ODE.
  if (!(r.tMax > tMinP))
    throw new RangeError(
      `restart t-max ${r.tMax} must exceed the restart level ${tMinP} (the schedule level nearest t-min)`,
    );
  const inner = karrasSchedule({ steps: r.steps + 1, sigmaMin: tMinP, sigmaMax: r.tMax, rho }, (s) =>
    model.roundSigma(s),
  ).subarray(0, r.steps + 1);
  const heun = edmStep(model, {
    secondOrder: true,
    settings: { churn: 0, sTmin: 0, sTmax: Infinity, sNoise: 1, churnCurve: null },
    steps: schedule.length - 1,
    noise,
  });

  return async (inp: StepInput): Promise<Float32Array> => {
    let x: Float32Array = await heun(inp);
    const m = inp.tCur.length;
    const at: number[] = [];
    for (let j = 0; j < m; j++) if (inp.level[j]! + 1 === iMin) at.push(j);
    if (at.length === 0 || r.k === 0) return x;
    x = x.slice();
    const rows = Int32Array.from(at, (j) => inp.rows[j]!);
    const labels = inp.labels ? BigInt64Array.from(at, (j) => inp.labels![j]!) : null;
    const guidance = inp.guidance ? Float32Array.from(at, (j) => inp.guidance![j]!) : null;
    let xs: Float32Array = new Float32Array(at.length * dim);
    at.forEach((j, r2) => xs.set(x.subarray(j * dim, (j + 1) * dim), r2 * dim));
    const eps = new Float32Array(at.length * dim);
    const up = Math.sqrt(inner[0]! ** 2 - tMinP ** 2);
    // Progress through the K·n_restart Heun steps, at most every 1% (they all sit inside one step of the loop).
    const total = r.k * r.steps + 1;
    let reported = 0;
    const progress = (done: number): void => {
      const pct = Math.floor((100 * done) / total);
      if (pct > reported && done < total) {
        reported = pct;
        inp.progress?.(done / total);
      }
    };
    for (let k = 0; k < r.k; k++) {
      // Restart forward: jump from t_min' up to t_max.
      noise.normal(eps, rows, dim);
      for (let q = 0; q < xs.length; q++) xs[q] = xs[q]! + up * eps[q]!;
      // Restart backward: Heun steps down to t_min'.
      for (let s = 0; s < r.steps; s++) {
        checkCancelled(inp.signal); // K·n_restart Heun steps all inside one step of the loop
        const sub: StepInput = {
          x: xs,
          tCur: new Float64Array(at.length).fill(inner[s]!),
          tNext: new Float64Array(at.length).fill(inner[s + 1]!),
          level: new Int32Array(at.length).fill(-1),
          labels,
          guidance,
          guidanceAt: guidance ? null : inp.guidanceAt,
          gamma: null,
          rows,
          nfe: new Int32Array(at.length),
          networkEvals: new Int32Array(at.length),
          denoised: null,
          signal: inp.signal,
          progress: null,
        };
        xs = await heun(sub);
        at.forEach((j, r2) => {
          inp.nfe[j]! += sub.nfe[r2]!;
          inp.networkEvals[j]! += sub.networkEvals[r2]!;
        });
        progress(1 + k * r.steps + s + 1);
      }
    }
    at.forEach((j, r2) => x.set(xs.subarray(r2 * dim, (r2 + 1) * dim), j * dim));
    return x;
  };
}
