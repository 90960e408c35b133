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
import { isRun, readRunConfig } from '../main/engine/runs/files';
import { TEMPERATURE_BOUNDS } from '../shared/learner-config';
import type { RewardTrajectory } from '../main/engine/apps/analyze-reward';

export const ANALYZE_REWARD_USAGE = `Usage: sampler-studio analyze-reward --model ID|DIR --reward SPEC [--reward SPEC …] --out DIR [sampler flags]
       sampler-studio analyze-reward --policy RUN_DIR|policy.onnx [--reward SPEC …] --out DIR [--temperature T]

The reward along the trajectory (the DDPO thesis, §4.2): n trajectories of the sampler, and at every
step the reward of the noisy state x_t and of the denoised estimate x̂₀(x_t) its step used, as bands
over the samples (mean, best, worst, 10% and 90%); the last row is the final sample. Writes
DIR/reward-trajectory.csv, .svg (the plot) and .json. With --policy: the learned policy's trajectories
and, beside them on the same seed, its base sampler's (its sampler and steps, no intervention), in
reward-trajectory.csv and reward-trajectory-base.csv, one plot and one JSON; the rewards default to
the run's own when it was trained for them.

  --model ID|DIR   --out DIR   --n N (default 1000)   --seed N (default 0)   --batch N   --device   --json
  sampler flags as in \`sample\` (--sampler, --steps, --guidance, …)
  --policy RUN_DIR|policy.onnx   --temperature T (default: the run's)
Rewards (as train --objective reward takes them):
${rewardHelpLines().join('\n')}`;

const OPTIONS = {
  ...SAMPLING_RUN_OPTIONS,
  reward: { type: 'string', multiple: true },
  out: { type: 'string' },
  policy: { type: 'string' },
  temperature: { type: 'string' },
} as const;

export async function cmdAnalyzeReward(argv: string[], signal: AbortSignal): Promise<void> {
  const { values: v } = parseFlags(argv, OPTIONS);
  if (v.help) return void process.stdout.write(ANALYZE_REWARD_USAGE + '\n');
  if (!v.model && !v.policy)
    throw new UsageError(
      'analyze-reward needs --model ID|DIR (a sampler) or --policy RUN_DIR|policy.onnx (a learned policy)',
    );
  if (!v.out) throw new UsageError('analyze-reward needs --out DIR (a folder for the CSV, the plot and the JSON)');
  if (existsSync(v.out) && !statSync(v.out).isDirectory())
    throw new UsageError(`--out ${v.out} is a file; give a folder`);
  // A run trained for rewards brings its own; anything else needs them given.
  let texts = v.reward ?? [];
  if (texts.length === 0 && v.policy && isRun(v.policy)) {
    const c = readRunConfig(v.policy).learner;
    if (c.objective === 'reward') texts = c.rewards;
  }
  if (texts.length === 0)
    throw new UsageError(
      `analyze-reward needs --reward SPEC (e.g. -jpeg-size)${v.policy ? `: ${v.policy} was not trained for rewards` : ''}`,
    );
  let specs;
  try {
    specs = texts.map(parseRewardSpec);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const n = num(v.n, 'n', { int: true, min: 1, max: MAX_EVAL_SAMPLES }) ?? 1000;
  const seed = num(v.seed, 'seed', { int: true, min: 0, max: MAX_SEED }) ?? 0;
  const batch = num(v.batch, 'batch', { int: true, min: 1, max: MAX_BATCH }) ?? 1000;
  const temperature = num(v.temperature, 'temperature', TEMPERATURE_BOUNDS);
  // The learner (TensorFlow.js with it) loads only for a policy: [Note: commands load lazily] in index.ts.
  const policies = v.policy ? await import('../main/engine/learner/onnx-policy') : null;
  const model = await Model.load(resolveModelDir(v.model ?? policies!.policyModel(v.policy!)), {
    device: deviceFromFlag(v.device),
  });
  const { openRewards } = await import('../main/engine/rewards');
  const { analyzeReward, analyzePolicyReward, rewardTrajectoryCsv, rewardTrajectorySvg } =
    await import('../main/engine/apps/analyze-reward');
  try {
    const rewards = await openRewards(model, specs).catch((e: Error) => {
      throw new UsageError(e.message);
    });
    const rep = new Reporter(!!v.json);
    const t0 = performance.now();
    const progress = (done: number, of?: 'policy' | 'base'): void =>
      rep.event({
        type: 'progress',
        task: 'analyze-reward',
        done: of === 'base' ? n + done : done,
        total: policies ? 2 * n : n,
        unit: 'samples',
        elapsedSeconds: (performance.now() - t0) / 1000,
        etaSeconds: null,
      });
    try {
      let t: RewardTrajectory;
      let base: RewardTrajectory | undefined;
      let drawn: string;
      if (policies) {
        const policy = await policies.openPolicy(v.policy!, model);
        try {
          ({ policy: t, base } = await analyzePolicyReward(model, rewards, policy, {
            n,
            seed,
            batch,
            temperature,
            signal,
            onProgress: progress,
          }));
          drawn = `the policy ${v.policy} (iteration ${policy.iteration}, τ = ${temperature ?? policy.spec.temperature}) and its base sampler, ${policy.spec.sampler} ${policy.spec.steps} steps`;
        } finally {
          await policy.dispose();
        }
      } else {
        const settings = samplerSettingsFromFlags(model, v);
        t = await analyzeReward(model, rewards, { settings }, { n, seed, batch, signal, onProgress: progress });
        drawn = `${settings.sampler} ${settings.steps} steps`;
      }
      mkdirSync(v.out, { recursive: true });
      const files = {
        csv: join(v.out, 'reward-trajectory.csv'),
        ...(base ? { baseCsv: join(v.out, 'reward-trajectory-base.csv') } : {}),
        svg: join(v.out, 'reward-trajectory.svg'),
        json: join(v.out, 'reward-trajectory.json'),
      };
      await writeFileAtomic(files.csv, rewardTrajectoryCsv(t));
      if (base) await writeFileAtomic(files.baseCsv!, rewardTrajectoryCsv(base));
      await writeFileAtomic(files.svg, rewardTrajectorySvg(t, base));
      await writeFileAtomic(files.json, JSON.stringify(base ? { policy: t, base } : t, null, 1) + '\n');
      const g = (x: number): string => Number(x.toPrecision(4)).toString();
      const final = t.steps.at(-1)!.noisy;
      const half = t.steps[Math.floor((t.steps.length - 1) / 2)]!;
      rep.result(
        { command: 'analyze-reward', ...(base ? { policy: t, base } : t), files },
        [
          `${t.rewards} on ${t.model}, ${n} samples (seed ${seed}): ${drawn}`,
          `final sample: mean ${g(final.mean)} (worst ${g(final.min)}, best ${g(final.max)})${base ? `; base sampler: mean ${g(base.steps.at(-1)!.noisy.mean)}` : ''}`,
          `at step ${half.step} (σ = ${g(half.sigma)}): noisy x_t mean ${g(half.noisy.mean)}, denoised x̂₀ mean ${g(half.denoised.mean)}`,
          `→ ${Object.values(files).join(', ')}`,
        ].join('\n'),
      );
    } finally {
      await rewards.dispose();
    }
  } finally {
    await model.dispose();
  }
}
