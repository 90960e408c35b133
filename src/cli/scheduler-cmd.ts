// `train --intervention schedule`: the RL step scheduler (engine/scheduler/), its own settings
// (shared/scheduler-config.ts) and its own kind of run directory (scheduler.json).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Model } from '../main/engine/models/model';
import { resolveModelDir } from '../main/engine/models/registry';
import {
  DEFAULT_SCHEDULER_CONFIG,
  parseSchedulerConfig,
  SCHEDULER_FIELDS,
  SCHEDULER_REWARDS,
  type SchedulerConfig,
} from '../shared/scheduler-config';
import { flagNameOf, flagOptions, helpLines, valuesFromFlags } from '../shared/schema';
import { deviceFromFlag, num, parseFlags, refuseUnread, Reporter, UsageError } from './common';

export const SCHEDULER_USAGE = `Usage: sampler-studio train --intervention schedule --model ID|DIR --run-dir DIR [scheduler flags]
       sampler-studio train --resume DIR [--iterations N]

The RL step scheduler: a policy that picks, per sample, the fraction of the remaining log-σ range to
step next, under an NFE budget, rewarded at the end by how closely the sample's features match a
fresh batch of real samples (the Pearson reward of the paper). The run directory holds scheduler.json,
metrics.jsonl, checkpoint.json, levels.json (σ by step) and schedule.json (the learned mean schedule,
a --sigmas file).

  --model ID|DIR   --run-dir DIR   --device auto|cpu|cuda   --json
  --reward SPEC (repeat for several)   explicit rewards of the final sample instead (as train --objective
                                       reward takes them: -jpeg-size, class-logit:7, onnx:FILE, …); sets
                                       --reward explicit (every --reward not pearson, nearest or occupancy)
Scheduler flags:
${helpLines(SCHEDULER_FIELDS).join('\n')}`;

const OPTIONS = {
  ...flagOptions(SCHEDULER_FIELDS),
  intervention: { type: 'string' },
  model: { type: 'string' },
  'run-dir': { type: 'string' },
  resume: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

/** Whether a train command line is the scheduler's: --intervention schedule, or --resume of a scheduler run. */
export function isSchedulerCommand(argv: readonly string[]): boolean {
  const i = argv.indexOf('--intervention');
  if (argv.includes('--intervention=schedule') || (i >= 0 && argv[i + 1] === 'schedule')) return true;
  const r = argv.indexOf('--resume');
  return r >= 0 && argv[r + 1] !== undefined && existsSync(join(argv[r + 1]!, 'scheduler.json'));
}

/**
 * The command line with every `--reward SPEC` that is not one of the scheduler's own rewards written
 * as `--reward-spec SPEC`, and `--reward explicit` added for them ([Note: the scheduler's explicit rewards]).
 */
export function explicitRewardFlags(argv: readonly string[]): string[] {
  return withExplicitReward(argv).argv;
}

/** explicitRewardFlags, and whether it added `--reward explicit` itself (the user wrote no --reward of the scheduler's). */
function withExplicitReward(argv: readonly string[]): { argv: string[]; implied: boolean } {
  const own = SCHEDULER_REWARDS as readonly string[];
  const out: string[] = [];
  let explicit = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const inline = a.startsWith('--reward=') ? a.slice('--reward='.length) : undefined;
    const value = inline ?? (a === '--reward' ? argv[i + 1] : undefined);
    if (value !== undefined && !own.includes(value)) {
      out.push('--reward-spec', value);
      explicit = true;
      if (inline === undefined) i++;
      continue;
    }
    out.push(a);
  }
  const implied = explicit && !out.some((a) => a === '--reward' || a.startsWith('--reward='));
  if (implied) out.push('--reward', 'explicit');
  return { argv: out, implied };
}

/** A setting as the user writes it: the explicit rewards are `--reward SPEC` (explicitRewardFlags). */
const schedulerFlagName = flagNameOf(SCHEDULER_FIELDS);
const flagName = (key: string): string => (key === 'rewards' ? '--reward SPEC' : schedulerFlagName(key));

export async function cmdTrainScheduler(argv: string[], signal: AbortSignal): Promise<void> {
  const flags = withExplicitReward(argv);
  const { values: v } = parseFlags(flags.argv, OPTIONS);
  if (v.help) return void process.stdout.write(SCHEDULER_USAGE + '\n');
  const { readSchedulerRun, trainScheduler } = await import('../main/engine/scheduler/train');
  let config: SchedulerConfig;
  let runDir: string;
  let modelRef: string;
  let iterations: number | undefined;
  if (v.resume) {
    const run = readSchedulerRun(v.resume);
    const given = Object.keys(valuesFromFlags(SCHEDULER_FIELDS, v)).filter((k) => k !== 'iterations');
    // --reward SPEC implies --reward explicit (explicitRewardFlags): name only the flags the user wrote.
    const named = flags.implied ? given.filter((k) => k !== 'reward') : given;
    if (named.length > 0)
      throw new UsageError(`--resume continues the run with its own settings; drop ${named.map(flagName).join(', ')}`);
    [config, runDir, modelRef] = [run.config, v.resume, run.model.dir];
    iterations = num((v as Record<string, string | undefined>)['iterations'], 'iterations', {
      int: true,
      min: 1,
      max: 100_000,
    });
  } else {
    if (!v.model) throw new UsageError('train --intervention schedule needs --model ID|DIR');
    if (!v['run-dir']) throw new UsageError('train --intervention schedule needs --run-dir DIR');
    runDir = v['run-dir'];
    if (existsSync(runDir))
      throw new UsageError(`--run-dir ${runDir} exists; give a new folder, or --resume ${runDir} to continue it`);
    modelRef = v.model;
    const given = valuesFromFlags(SCHEDULER_FIELDS, v);
    try {
      config = parseSchedulerConfig({ ...DEFAULT_SCHEDULER_CONFIG, ...given }, flagName);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    refuseUnread(SCHEDULER_FIELDS, given, config, flagName);
  }
  const rep = new Reporter(!!v.json);
  const model = await Model.load(resolveModelDir(modelRef), { device: deviceFromFlag(v.device) });
  const t0 = performance.now();
  try {
    const r = await trainScheduler(model, config, runDir, {
      resume: !!v.resume,
      iterations,
      signal,
      onIteration: (e) => rep.event({ type: 'metrics', run: runDir, iteration: e.iteration, metrics: e.metrics }),
      onProgress: (p) =>
        rep.event({
          type: 'progress',
          run: runDir,
          task: 'train',
          done: p.iteration - 1,
          total: iterations ?? config.iterations,
          unit: 'iterations',
          elapsedSeconds: (performance.now() - t0) / 1000,
          etaSeconds: null,
          phase: { iteration: p.iteration, label: p.phase, done: p.done, total: p.total, unit: 'samples' },
        }),
    });
    const fid = r.last['eval/fid'];
    rep.result(
      { command: 'train', intervention: 'schedule', runDir, ...r },
      `${r.stopped ? 'stopped' : 'finished'} at iteration ${r.iteration} (run in ${runDir})` +
        (fid !== undefined
          ? `; deterministic policy: FID ${fid.toFixed(4)} at ${r.last['eval/nfe']!.toFixed(2)} NFE (${config.evalSamples} samples)`
          : '') +
        (r.schedule ? `\nmean schedule → ${join(runDir, 'schedule.json')}` : ''),
    );
  } finally {
    await model.dispose();
  }
}
