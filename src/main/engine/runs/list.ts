// The runs of a folder, as the Runs screen lists them, and deleting one (into `.trash/`).

import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { RunSummary } from '../../../shared/protocol';
import { isRun, readMetrics, readRunConfig } from './files';
import { runLockedBy } from './lock';

/** The runs directly inside `root` (by name), skipping folders that are not readable runs. `active`: whether this engine trains a run now (a run another process trains, by its lock, is active too). */
export function listRuns(root: string, active: (run: string) => boolean): RunSummary[] {
  if (!existsSync(root)) return [];
  const out: RunSummary[] = [];
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    try {
      // (statSync throws for a dangling link or a folder it may not enter: skipped like the rest)
      if (!statSync(dir).isDirectory() || !isRun(dir)) continue;
      const cfg = readRunConfig(dir);
      const last = readMetrics(dir).pop() ?? null;
      const l = cfg.learner;
      const iteration = last?.['iteration'] ?? 0;
      // A resumed run may have gone past the target it was started with.
      out.push({
        dir,
        model: cfg.model.name,
        intervention: l.intervention,
        divergence: l.divergence,
        conditioning: l.conditioning,
        iteration,
        iterations: Math.max(l.iterations, iteration),
        last,
        active: active(dir) || runLockedBy(dir) !== null,
      });
    } catch {
      // not a readable run; skip it
    }
  }
  return out;
}

/** Moves a run into `.trash/` beside it (a rename: nothing is lost, the user can move it back); not while it trains, here (`active`) or in another process. */
export function trashRun(run: string, active: boolean): { trashed: string } {
  readRunConfig(run); // throws unless it is a run
  if (active) throw new RangeError(`${run} is training; stop it before deleting it`);
  const other = runLockedBy(run);
  if (other) {
    const who = other.holder ? `process ${other.holder.pid} on ${other.holder.host}` : 'another process';
    throw new RangeError(`${run} is training in ${who}; stop it there before deleting it`);
  }
  const trash = join(dirname(run), '.trash');
  mkdirSync(trash, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const to = join(trash, `${basename(run)}-${stamp}`);
  renameSync(run, to);
  return { trashed: to };
}
