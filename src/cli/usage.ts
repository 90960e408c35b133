// The command line's help: `--help` prints every command in short, `COMMAND --help` that command in
// full with its defaults. The sampler and learner flags come from their schemas; `train` and `table`
// keep their longer help beside their parsers (train-cmd.ts, table-cmd.ts).

import { RESTART_FIELDS, SAMPLER_FIELDS, SAMPLER_KNOBS } from '../shared/sampler-settings';
import { helpLines } from '../shared/schema';
import { VERSION } from '../shared/version';
import { DEFAULT_OPTIMIZE } from '../shared/schedule-search';

/** eval's and grid's --redis (remote-flags.ts). */
const REMOTE_USAGE = `      --redis URL   --shard-size N   draw the samples on workers (sampler-studio worker) through this Redis,
                                     N samples a shard (default: the batch); the same samples as without it`;

/** The flags every command that samples a model shares (sample, eval, grid). */
function samplerFlags(): string {
  return `  sampler flags (sample, eval, grid; defaults in brackets):
${[...helpLines(SAMPLER_FIELDS, '    '), ...helpLines(RESTART_FIELDS, '    ')].join('\n')}
    --guidance-interval W:σ_lo:σ_hi     w where σ_lo < σ ≤ σ_hi, 1 elsewhere (sets the three flags above; e.g. 2:0.28:5.4)
    --guidance-curve FILE               w(σ) from a curve file: {"parameter": "guidance", "points": [{"sigma": σ, "value": w}, …]},
                                        linear in log σ between points, constant beyond them; w ≥ 0
    --churn-curve FILE                  EDM's γ(t_i) per step from a curve file ("parameter": "churn", γ in [0, √2−1]),
                                        in place of --churn/--s-tmin/--s-tmax (euler, heun, edm)
    --sigmas FILE                       the noise levels from a schedule file: a JSON list σ_max … σ_min, then 0, as
                                        ComfyUI's SIGMAS and diffusers' sigmas= take it (sets --steps to its length − 1)
    --class K|random|none (random)   --batch B (256)   --device auto|cpu|cuda (auto)`;
}

/**
 * Each command's lines in the overview, in order; `sampler: true` where the sampler flags apply
 * (shown once in the overview, under sample, and in full in that command's own help).
 */
const COMMANDS: { name: string; sampler?: boolean; text: () => string }[] = [
  {
    name: 'models',
    text: () =>
      `  models [--model DIR]...            list bundled models (and given directories) with their manifest facts`,
  },
  {
    name: 'sample',
    sampler: true,
    text: () => `  sample --model ID|DIR --out F.npy [sampler flags] [--n N (64)] [--seed S (0)] [--init-noise noise.npy]
      [--grid grid.png]               draw samples: F.npy (+ F.labels.npy) and, with --grid, a picture of them
  sample --policy RUN_DIR|policy.onnx --out F.npy [--temperature T] [--model ID|DIR] [--class K] [--n N] [--seed S]
                                     sample with a learned policy: a run's EMA heads, or an exported file
                                     through ONNX Runtime (the policy fixes the sampler and its steps)`,
  },
  {
    name: 'eval',
    sampler: true,
    text: () => `  eval --model ID|DIR [sampler flags] [--n N (2048)] [--seed S (0)]   sample and score against the model's data
      --metrics LIST (fid,kid,precision,recall,density,coverage; also: classes)
      --class-target FILE            the classes metric's target shares (a list, or {"Sneaker": 0.5, …});
                                     default: the data's class frequencies
      --reward SPEC …                the samples' mean reward too (as train --reward takes them)
      --baseline no-guidance|best-constant|best-interval|edm-stochastic|equal-nfe  [--nfe N] [--grid-result DIR]
      --kid-subsets K (100) --kid-subset-size M (1000)
${REMOTE_USAGE}
  eval --policy RUN_DIR|policy.onnx [--n N (4000)] [--seed S (1000003, as training's final evaluation)] [--temperature T]
      [--grid-result DIR] [--per-class]
      [--best-constant]              cfg/gamma: also search the best constant action (grid over the policy's
                                     action values, chosen by FID on seed S+1) and add it as a row
      [--metrics LIST] [--class-target FILE]   as above (classes: the histogram's TV to the target)
      [--reward SPEC …]              score every row with these rewards too (as train --reward takes them);
                                     a run trained for rewards is scored with its own unless given
                                     sample with a learned policy and score it next to the baselines`,
  },
  {
    name: 'grid',
    sampler: true,
    text: () => `  grid --model ID|DIR [sampler flags] --axis NAME=A:B:STEP|V1,V2,... [--axis ...] --out DIR
                                     grid search (cross product of the axes, same seed in every cell);
                                     re-running continues it; prints every cell, the best, total NFE
      axes: every numeric sampler flag: ${SAMPLER_KNOBS.map((k) => k.name).join(' ')}
      --metric fid|kid|precision|recall|density|coverage|class_tv|class_accuracy (fid)
      --metrics LIST (the --metric's)   --n N (2048)   --seed S (0)   --restart (discard saved results in DIR)
${REMOTE_USAGE}
      --images                       the X/Y plot: each cell's samples drawn (DIR/cells/), and DIR/xy.html, the first
                                     axis across, the others down, each picture under its metric and NFE`,
  },
  {
    name: 'optimize-schedule',
    sampler: true,
    text: () => `  optimize-schedule --model ID|DIR --nfe N --out schedule.json [--sampler euler|heun|ddim (heun)] [sampler flags]
                                     a static schedule for this model and budget: a coordinate search over the
                                     log-σ levels (from the best preset) against a high-NFE solution from the same
                                     noise, kept by held-out FID; writes the schedule file (--sigmas) and
                                     schedule.report.json, and prints what the search cost next to a 3-value ρ grid
      --n B (${DEFAULT_OPTIMIZE.rows}) search rows   --holdout N (${DEFAULT_OPTIMIZE.holdout}) held-out samples (seed S+1)   --seed S (${DEFAULT_OPTIMIZE.seed})
      --reference-steps R (${DEFAULT_OPTIMIZE.referenceSteps}, Heun)   --sweeps K (${DEFAULT_OPTIMIZE.sweeps})   --patience P (${DEFAULT_OPTIMIZE.patience})   --force (replace --out)
      --max-evaluations E            the most denoiser evaluations to spend (default: a 3-value ρ grid's at n = 2,000)`,
  },
  {
    name: 'analyze-reward',
    sampler: true,
    text: () => `  analyze-reward --model ID|DIR --reward SPEC [--reward SPEC …] --out DIR [sampler flags]
                                     the reward along the trajectory (DDPO thesis §4.2): at every step, the reward
                                     of the noisy x_t and of the denoised x̂₀(x_t) as bands over n samples (mean,
                                     best, worst, 10%, 90%); writes DIR/reward-trajectory.csv, .svg and .json
      --n N (1000)   --seed S (0)   rewards as train --objective reward takes them (analyze-reward --help)`,
  },
  {
    name: 'train',
    text: () => `  train --model ID|DIR --run-dir DIR [learner flags]   learn a sampling policy (inverse RL); a run directory
      every learner setting is a flag: --intervention cfg|gamma|renoise --divergence kl|rkl|tv|hellinger|js|chi2
      --conditioning sigma|state|state+class --actions v1,v2,… --steps N --iterations N --trajectories N …
      (train --help lists them all with their bounds and defaults)   --init-from-grid DIR
  train --resume DIR [--iterations N]  continue a run where its last checkpoint left it
  train --intervention schedule --model ID|DIR --run-dir DIR [--sampler euler|heun] [--nfe-budget B]
                                     the RL step scheduler: how far to step next, per sample, under an NFE
                                     budget (train --intervention schedule --help lists its flags)
  train --intervention drift --model ID|DIR --run-dir DIR --reward SPEC [--objective ddpo|dpok|q-learning]
                                     a drift policy: moves each step of a stochastic sampler toward a reward,
                                     kept near the model (DPOK's β) or the data (q-learning)
                                     (train --intervention drift --help lists its flags)`,
  },
  {
    name: 'worker',
    text: () => `  worker --redis URL [--concurrency K (1)] [--device auto|cpu|cuda] [--lease S (60)] [--name NAME]
                                     run shard jobs of learners started with train --redis (rollouts on this
                                     machine); one per GPU, on as many machines as reach the Redis; Ctrl-C
                                     finishes the shards it holds and stops. A shard whose worker dies goes to
                                     another after its lease (seconds; renewed while the shard runs)
      --simulate-call-ms MS          every denoiser call waits MS first: a GPU-bound denoiser, for the scaling benchmark`,
  },
  {
    name: 'table',
    text: () => `  table --spec SPEC.json --out DIR [--dry-run]   the results table (the paper's Table 2) from a spec of rows
                                     (sampler settings, grid results, runs, recipes, EDM at a policy's NFE): FID,
                                     precision, recall, NFE, network passes, mean ± sd over runs, profiles as PNG;
                                     resumable (table --help describes the spec)`,
  },
  {
    name: 'drift-tables',
    text: () => `  drift-tables --out DIR [--tables 1,3,4,5,6] [--iterations N]   the q-learning paper's Tables 3–6 for drift
                                     policies: KL at matched reward for DDPO, DPOK and q-learning on the good and
                                     weak Swiss roll, q-learning on three simulators at 50/10/5 steps; 95% intervals
                                     over 100 batches of 300; its Figure 1 (1-D mixture) as table 1; resumable (drift-tables --help)`,
  },
  {
    name: 'export',
    text: () => `  export --run RUN_DIR --out policy.onnx [--checkpoint FILE] [--force]
                                     the run's EMA policy as one self-contained ONNX file (+ policy.json),
                                     checked against the engine in a fresh ONNX Runtime session first
  export --run RUN_DIR|--policy policy.onnx --recipe [--out recipe.json] [--n N (1024)] [--seed S (0)]
      [--temperature T] [--checkpoint FILE] [--force]
                                     the policy's mean expected action per noise level (cfg: w, gamma: γ) as a
                                     curve file for --guidance-curve / --churn-curve: a static sampler that needs
                                     no policy (default: RUN_DIR/recipe.json, which the table's recipe rows read;
                                     policy.recipe.json beside a file); renoise policies have none`,
  },
  {
    name: 'fid',
    text: () =>
      `  fid --a A.npy|A.npz --b B.npy|B.npz [--save-a a.npz --save-b b.npz]   features [n,d] or pytorch-fid stats`,
  },
  {
    name: 'kid',
    text: () => `  kid --real R.npy --fake F.npy [--subsets K (100) --subset-size M (1000) --seed S (0)]`,
  },
  { name: 'prdc', text: () => `  prdc --real R.npy --fake F.npy [--k K (3)] [--k-dc K (5)]` },
  {
    name: 'features',
    text: () => `  features --model ID|DIR --in samples.npy --out features.npy [--logits logits.npy] [--batch B (256)]`,
  },
];

const GLOBAL = 'Global: --json (final stdout line is the result), --help';

/** Every command in short. */
export function usage(): string {
  const lines = COMMANDS.map((c) => (c.name === 'sample' ? `${c.text()}\n${samplerFlags()}` : c.text()));
  return `Sampler Studio ${VERSION} — tune diffusion samplers

Usage: sampler-studio <command> [flags]      (npm run cli -- <command> [flags])
       sampler-studio <command> --help      one command in full

Commands:
${lines.join('\n')}
${GLOBAL}`;
}

/** One command's help (with the sampler flags where they apply); null for a command that is not one of these. */
export function commandUsage(name: string): string | null {
  const c = COMMANDS.find((x) => x.name === name);
  if (!c) return null;
  return `Usage (sampler-studio ${name}; npm run cli -- ${name} …):
${c.text()}
${c.sampler ? `${samplerFlags()}\n` : ''}${GLOBAL}`;
}

/** The commands' names, in order (index.ts checks its command table against it). */
export const COMMAND_NAMES = COMMANDS.map((c) => c.name);
