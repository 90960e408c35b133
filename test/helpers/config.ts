// A learner config small enough for a test to train in seconds on a 2-D model: the intervention's
// defaults with few trajectories, a narrow head, a short discriminator warm-up and no evaluation
// until the end.

import { defaultConfig, type LearnerConfig } from '../../src/shared/learner-config';

export function tinyConfig(extra: Partial<LearnerConfig> = {}): LearnerConfig {
  return {
    ...defaultConfig(extra.intervention ?? 'cfg'),
    trajectories: 64,
    rolloutBatch: 64,
    discriminatorInitSteps: 3,
    discriminatorSteps: 2,
    discriminatorBatch: 32,
    ppoEpochs: 1,
    ppoMinibatch: 256,
    hidden: 16,
    evalEvery: 0,
    evalSamples: 128,
    iterations: 2,
    ...extra,
  };
}
