// The Tune screen's cost estimate (issue 15: the defaults came with no idea of what they cost):
// denoiser passes counted from the config, time from a measurement of the model.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { defaultConfig, type LearnerConfig } from '../src/shared/learner-config';
import { measureSpeed, runCost } from '../src/main/engine/apps/estimate';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';

const cfg = (intervention: LearnerConfig['intervention'], extra: Partial<LearnerConfig> = {}): LearnerConfig => ({
  ...defaultConfig(intervention),
  iterations: 10,
  trajectories: 64,
  evalEvery: 4,
  evalSamplesPeriodic: 100,
  evalSamples: 300,
  ...extra,
});

test('a run costs iterations × trajectories × NFE × passes, plus its evaluations', () => {
  // Heun 18 steps: 35 NFE; guided (w ≠ 1): 2 passes each; w = 1 among the actions: an upper bound.
  const c = runCost(cfg('cfg', { sampler: 'heun', steps: 18, actions: [1, 1.5, 2] }), true);
  assert.deepEqual(c, {
    nfePerTrajectory: 35,
    passesPerNfe: 2,
    upperBound: true,
    trainingPasses: 10 * 64 * 70,
    evaluationPasses: (2 * 100 + 300) * 70, // evaluations at iterations 4 and 8, and the final one
    totalPasses: 10 * 64 * 70 + 500 * 70,
  });
  assert.equal(runCost(cfg('cfg', { actions: [1.5, 2] }), true).upperBound, false);
  // Euler: N NFE; no periodic evaluations with evalEvery 0.
  const e = runCost(cfg('cfg', { sampler: 'euler', steps: 10, actions: [2, 3], evalEvery: 0 }), true);
  assert.equal(e.nfePerTrajectory, 10);
  assert.equal(e.evaluationPasses, 300 * 20);
  // gamma: one pass per NFE; renoise: at most its NFE budget.
  assert.equal(runCost(cfg('gamma'), true).passesPerNfe, 1);
  const r = runCost(cfg('renoise', { nfeBudget: 21 }), true);
  assert.deepEqual([r.nfePerTrajectory, r.passesPerNfe], [21, 1]);
  // An unconditional model is never guided.
  assert.equal(runCost(cfg('cfg', { actions: [2] }), false).passesPerNfe, 1);
});

test('the speed is measured on the model itself', async () => {
  const m = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'));
  try {
    const speed = await measureSpeed(m, 256);
    assert.ok(Number.isFinite(speed) && speed > 1000, `${speed} passes/s`);
  } finally {
    await m.dispose();
  }
});
