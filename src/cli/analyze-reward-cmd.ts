// `analyze-reward`: the reward along a sampler's trajectories (apps/analyze-reward.ts), as CSV, an
// SVG plot and JSON in one folder.

import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Model } from '../main/engine/models/model';
import { resolveModelDir } from '../main/engine/models/registry';
import { writeFileAtomic } from '../main/engine/io/atomic';
import { parseRewardSpec, rewardHelpLines } from '../shared/reward-spec';
import { MAX_BATCH, MAX_EVAL_SAMPLES, MAX_SEED } from '../shared/limits';
import { deviceFromFlag, num, parseFlags, Reporter, UsageError } from './common';
import { samplerSettingsFromFlags, SAMPLING_RUN_OPTIONS } from './sampler-flags';

export const ANALYZE_REWARD_USAGE = `Usage: sampler-studio analyze-reward --model ID|DIR --reward SPEC [--reward SPEC …] --out DIR [sampler flags]

The reward along the trajectory (the DDPO thesis, §4.2): n trajectories of the sampler, and at every
step the reward of the noisy state x_t and of the denoised estimate x̂₀(x_t) its step used, as bands
over the samples (mean, best, worst, 10% and 90%); the last row is the final sample. Writes
DIR/reward-trajectory.csv, .svg (the plot) and .json.

  --model ID|DIR   --out DIR   --n N (default 1000)   --seed N (default 0)   --batch N   --device   --json
  sampler flags as in \`sample\` (--sampler, --steps, --guidance, …)
Rewards (as train --objective reward takes them):
${rewardHelpLines().join('\n')}`;

const OPTIONS = {
  ...SAMPLING_RUN_OPTIONS,
  reward: { type: 'string', multiple: true },
  out: { type: 'string' },
} as const;

export async function cmdAnalyzeReward(argv: string[], signal: AbortSignal): Promise<void> {
  const { values: v } = parseFlags(argv, OPTIONS);
  if (v.help) return void process.stdout.write(ANALYZE_REWARD_USAGE + '\n');
  if (!v.model) throw new UsageError('analyze-reward needs --model ID|DIR');
  if (!v.reward || v.reward.length === 0) throw new UsageError('analyze-reward needs --reward SPEC (e.g. -jpeg-size)');
  if (!v.out) throw new UsageError('analyze-reward needs --out DIR (a folder for the CSV, the plot and the JSON)');
  if (existsSync(v.out) && !statSync(v.out).isDirectory())
    throw new UsageError(`--out ${v.out} is a file; give a folder`);
  let specs;
  try {
    specs = v.reward.map(parseRewardSpec);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const n = num(v.n, 'n', { int: true, min: 1, max: MAX_EVAL_SAMPLES }) ?? 1000;
  const seed = num(v.seed, 'seed', { int: true, min: 0, max: MAX_SEED }) ?? 0;
  const batch = num(v.batch, 'batch', { int: true, min: 1, max: MAX_BATCH }) ?? 1000;
  const model = await Model.load(resolveModelDir(v.model), { device: deviceFromFlag(v.device) });
  const { openRewards } = await import('../main/engine/rewards');
  const { analyzeReward, rewardTrajectoryCsv, rewardTrajectorySvg } =
    await import('../main/engine/apps/analyze-reward');
  try {
    const settings = samplerSettingsFromFlags(model, v);
    const rewards = await openRewards(model, specs).catch((e: Error) => {
      throw new UsageError(e.message);
    });
    const rep = new Reporter(!!v.json);
    const t0 = performance.now();
    try {
      const t = await analyzeReward(model, rewards, settings, {
        n,
        seed,
        batch,
        signal,
        onProgress: (done) =>
          rep.event({
            type: 'progress',
            task: 'analyze-reward',
            done,
            total: n,
            unit: 'samples',
            elapsedSeconds: (performance.now() - t0) / 1000,
            etaSeconds: null,
          }),
      });
      mkdirSync(v.out, { recursive: true });
      const files = {
        csv: join(v.out, 'reward-trajectory.csv'),
        svg: join(v.out, 'reward-trajectory.svg'),
        json: join(v.out, 'reward-trajectory.json'),
      };
      await writeFileAtomic(files.csv, rewardTrajectoryCsv(t));
      await writeFileAtomic(files.svg, rewardTrajectorySvg(t));
      await writeFileAtomic(files.json, JSON.stringify(t, null, 1) + '\n');
      const g = (x: number): string => Number(x.toPrecision(4)).toString();
      const final = t.steps.at(-1)!.noisy;
      const half = t.steps[Math.floor((t.steps.length - 1) / 2)]!;
      rep.result(
        { command: 'analyze-reward', ...t, files },
        [
          `${t.rewards} on ${t.model}, ${n} samples (seed ${seed}), ${settings.sampler} ${settings.steps} steps`,
          `final sample: mean ${g(final.mean)} (worst ${g(final.min)}, best ${g(final.max)})`,
          `at step ${half.step} (σ = ${g(half.sigma)}): noisy x_t mean ${g(half.noisy.mean)}, denoised x̂₀ mean ${g(half.denoised.mean)}`,
          `→ ${files.csv}, ${files.svg}, ${files.json}`,
        ].join('\n'),
      );
    } finally {
      await rewards.dispose();
    }
  } finally {
    await model.dispose();
  }
}
