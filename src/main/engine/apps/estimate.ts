// What a training run will cost before it starts (the Tune screen's estimate): its denoiser passes,
// counted from the config with the samplers' own NFE arithmetic (samplers/cost.ts), and the time
// those passes take on this machine, from a short measurement of the model itself.
//
//   per trajectory  NFE × passes per NFE        Heun/EDM N steps: 2N − 1 NFE, Euler N; renoise: at
//                                               most its NFE budget; a guided evaluation (w ≠ 1) is
//                                               2 network passes (conditional + unconditional)
//   training        iterations × trajectories × per trajectory
//   evaluation      ⌊iterations / evalEvery⌋ × evalSamplesPeriodic + evalSamples, × per trajectory
//
// For cfg the passes are an upper bound when w = 1 is among the actions (a row at w = 1 costs one
// pass). The time is the denoiser's alone: the encoder, the discriminator and PPO come on top (on
// fashion-mnist the denoiser is ~77% of an iteration, `npm run bench -- iteration`; on the small
// 2-D models the learner's own work weighs more).

import type { LearnerConfig } from '../../../shared/learner-config';
import type { Model } from '../models/model';
import { samplerNfe } from '../samplers/cost';

export interface RunCost {
  nfePerTrajectory: number;
  passesPerNfe: number;
  /** Whether the passes are an upper bound (cfg with w = 1 among the actions). */
  upperBound: boolean;
  trainingPasses: number;
  evaluationPasses: number;
  totalPasses: number;
}

/** The denoiser passes of a run with config `c` (see the header). */
export function runCost(c: LearnerConfig, conditional: boolean): RunCost {
  const nfe =
    c.intervention === 'renoise' && Number.isFinite(c.nfeBudget) ? c.nfeBudget : samplerNfe(c.sampler, c.steps);
  const guided = c.intervention === 'cfg' && conditional && c.actions.some((a) => a !== 1);
  const passesPerNfe = guided ? 2 : 1;
  const per = nfe * passesPerNfe;
  const evaluations =
    (c.evalEvery > 0 ? Math.floor(c.iterations / c.evalEvery) * c.evalSamplesPeriodic : 0) + c.evalSamples;
  const trainingPasses = c.iterations * c.trajectories * per;
  const evaluationPasses = evaluations * per;
  return {
    nfePerTrajectory: nfe,
    passesPerNfe,
    upperBound: guided && c.actions.includes(1),
    trainingPasses,
    evaluationPasses,
    totalPasses: trainingPasses + evaluationPasses,
  };
}

/**
 * Network passes per second of `model` at `batch` rows: one warm-up call, then calls until ~0.5 s
 * (at least 2) on fixed states at mid noise. What the estimate divides by.
 */
export async function measureSpeed(model: Model, batch: number): Promise<number> {
  const x = new Float32Array(batch * model.dim);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 12.9898);
  const sigma = new Float32Array(batch).fill(model.roundSigma(1));
  const labels = model.numClasses > 0 ? new BigInt64Array(batch) : null;
  await model.denoise(x, sigma, labels);
  let calls = 0;
  const t0 = performance.now();
  while (calls < 2 || performance.now() - t0 < 500) {
    await model.denoise(x, sigma, labels);
    calls++;
  }
  return (calls * batch) / ((performance.now() - t0) / 1000);
}
