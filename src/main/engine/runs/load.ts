// A run's learner back from its directory: the config's learner with a checkpoint restored. Apart
// from files.ts and list.ts (and with no index re-exporting the three) because it builds a Learner,
// so TensorFlow.js: reading a run's files or listing runs does not load it.

import { existsSync } from 'node:fs';
import type { Model } from '../models/model';
import { initTf } from '../learner/backend';
import { createLearner, type Learner } from '../learner/learner';
import type { Checkpoint } from '../../../shared/run-files';
import { readCheckpoint, readRunConfig, runPaths } from './files';

/** Restores `cp` (read from `file`) into `learner`; a checkpoint that does not fit the learner is a RangeError naming the file. */
export async function restoreCheckpoint(learner: Learner, cp: Checkpoint, file: string, runDir: string): Promise<void> {
  try {
    await learner.restore(cp);
  } catch (e) {
    throw new RangeError(
      `${file}: does not fit the run's config (${(e as Error).message}); is it a checkpoint of ${runDir}?`,
      { cause: e },
    );
  }
}

/** A run directory's config with its latest checkpoint (or `checkpoint`, a checkpoint file of that run) restored into a Learner. */
export async function loadRun(runDir: string, model: Model, checkpoint?: string): Promise<Learner> {
  const saved = readRunConfig(runDir);
  const file = checkpoint ?? runPaths(runDir).checkpoint;
  if (!existsSync(file))
    throw new RangeError(
      checkpoint
        ? `${checkpoint}: checkpoint file not found`
        : `${runDir}: has no checkpoint yet (no finished iteration)`,
    );
  const cp = readCheckpoint(file);
  await initTf();
  const learner = await createLearner(model, saved.learner);
  try {
    await restoreCheckpoint(learner, cp, file, runDir);
  } catch (e) {
    await learner.dispose();
    throw e;
  }
  return learner;
}
