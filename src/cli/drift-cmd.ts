// `train --intervention drift`: drift policies (engine/drift/) trained by DDPO, DPOK or q-learning,
// their own settings (shared/drift-config.ts) and their own kind of run directory (drift.json).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Model } from '../main/engine/models/model';
import { resolveModelDir } from '../main/engine/models/registry';
import { DEFAULT_DRIFT_CONFIG, DRIFT_FIELDS, parseDriftConfig, type DriftConfig } from '../shared/drift-config';
import { rewardHelpLines } from '../shared/reward-spec';
import { flagNameOf, flagOptions, helpLines, valuesFromFlags } from '../shared/schema';
import { deviceFromFlag, num, parseFlags, refuseUnread, Reporter, UsageError } from './common';

export const DRIFT_USAGE = `Usage: sampler-studio train --intervention drift --model ID|DIR --run-dir DIR --reward SPEC [drift flags]
       sampler-studio train --resume DIR [--iterations N]

A drift policy: a small network that moves the mean of every step of a stochastic sampler
(Euler–Maruyama on the reverse SDE, or DDIM with η > 0) by a multiple of the step's own noise,
trained for explicit rewards by DDPO (the reward alone), DPOK (the reward less β times the KL to the
base sampler) or q-learning (an actor–critic on the reward and the deviation from the data's score;
Gao, Zha and Zhou 2024). The run directory holds drift.json, metrics.jsonl and checkpoint.json;
every evaluation reports the mean reward of the policy and of the base sampler on the same noise,
the path KL to the base sampler and, for low-dimensional models, the k-NN KL to the data.

  --model ID|DIR   --run-dir DIR   --device auto|cpu|cuda   --json
Drift flags:
${helpLines(DRIFT_FIELDS).join('\n')}
Rewards (--reward, repeat for several):
${rewardHelpLines('  ').join('\n')}`;

const OPTIONS = {
  ...flagOptions(DRIFT_FIELDS),
  intervention: { type: 'string' },
  model: { type: 'string' },
  'run-dir': { type: 'string' },
  resume: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

/** Whether a train command line is a drift policy's: --intervention drift, or --resume of a drift run. */
export function isDriftCommand(argv: readonly string[]): boolean {
  const i = argv.indexOf('--intervention');
  if (argv.includes('--intervention=drift') || (i >= 0 && argv[i + 1] === 'drift')) return true;
  const r = argv.indexOf('--resume');
  return r >= 0 && argv[r + 1] !== undefined && existsSync(join(argv[r + 1]!, 'drift.json'));
}

export async function cmdTrainDrift(argv: string[], signal: AbortSignal): Promise<void> {
  const { values: v } = parseFlags(argv, OPTIONS);
  if (v.help) return void process.stdout.write(DRIFT_USAGE + '\n');
  const { readDriftRun, trainDrift } = await import('../main/engine/drift/train');
  let config: DriftConfig;
  let runDir: string;
  let modelRef: string;
  let iterations: number | undefined;
  if (v.resume) {
    const run = readDriftRun(v.resume);
    const given = Object.keys(valuesFromFlags(DRIFT_FIELDS, v)).filter((k) => k !== 'iterations');
    if (given.length > 0)
      throw new UsageError(
        `--resume continues the run with its own settings; drop ${given.map(flagNameOf(DRIFT_FIELDS)).join(', ')}`,
      );
    [config, runDir, modelRef] = [run.config, v.resume, run.model.dir];
    iterations = num((v as Record<string, string | undefined>)['iterations'], 'iterations', {
      int: true,
      min: 1,
      max: 100_000,
    });
  } else {
    if (!v.model) throw new UsageError('train --intervention drift needs --model ID|DIR');
    if (!v['run-dir']) throw new UsageError('train --intervention drift needs --run-dir DIR');
    runDir = v['run-dir'];
    if (existsSync(runDir))
      throw new UsageError(`--run-dir ${runDir} exists; give a new folder, or --resume ${runDir} to continue it`);
    modelRef = v.model;
    const flag = flagNameOf(DRIFT_FIELDS);
    const given = valuesFromFlags(DRIFT_FIELDS, v);
    try {
      config = parseDriftConfig({ ...DEFAULT_DRIFT_CONFIG, ...given }, flag);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    refuseUnread(DRIFT_FIELDS, given, config, flag);
  }
  const rep = new Reporter(!!v.json);
  const model = await Model.load(resolveModelDir(modelRef), { device: deviceFromFlag(v.device) });
  const t0 = performance.now();
  try {
    if (v.resume) rep.event({ type: 'log', level: 'info', message: `resumed at iteration ${lastIteration(runDir)}` });
    const r = await trainDrift(model, config, runDir, {
      resume: !!v.resume,
      iterations,
      signal,
      command: ['sampler-studio train', ...argv].join(' '),
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
    const l = r.last;
    rep.result(
      { command: 'train', intervention: 'drift', runDir, ...r },
      `${r.stopped ? 'stopped' : 'finished'} at iteration ${r.iteration} (run in ${runDir})` +
        (l['eval/reward_mean'] !== undefined
          ? `; reward ${l['eval/reward_mean'].toFixed(4)} (base sampler ${l['eval/reward_base']!.toFixed(4)}), ` +
            (l['eval/kl_path'] !== undefined
              ? `path KL to the base sampler ${l['eval/kl_path'].toFixed(4)}`
              : `action cost ${l['eval/action_cost']!.toFixed(4)}`) +
            (l['eval/knn_kl'] !== undefined ? `, k-NN KL to the data ${l['eval/knn_kl'].toFixed(4)}` : '') +
            ` (${config.evalSamples} samples)`
          : ''),
    );
  } finally {
    await model.dispose();
  }
}

/** The last iteration of a run's checkpoint (0 without one). */
function lastIteration(runDir: string): number {
  try {
    return (JSON.parse(readFileSync(join(runDir, 'checkpoint.json'), 'utf8')) as { iteration: number }).iteration;
  } catch {
    return 0;
  }
}
