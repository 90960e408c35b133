// `export`: a run's EMA policy as one self-contained ONNX file (+ a JSON sidecar), verified against
// the engine before it is written; or, with --recipe, a policy's mean action per noise level as a
// static curve file (learner/recipe.ts) that any sampler can use without the policy.

import type { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Model } from '../main/engine/models/model';
import { resolveModelDir, resourcesDir } from '../main/engine/models/registry';
import { exportPolicy, ExportError } from '../main/engine/learner/export';
import { readRunConfig, runModelDir } from '../main/engine/runs/files';
import { isSchedulerRun, readSchedulerRun } from '../main/engine/scheduler/run-file';
import { isDriftRun, readDriftRun } from '../main/engine/drift/run-file';
import { loadRun } from '../main/engine/runs/load';
import {
  checkRunPolicy,
  isPolicyFile,
  OnnxPolicy,
  policyModel,
  readPolicyMetadata,
} from '../main/engine/learner/onnx-policy';
import { checkRecipePath, policyRecipe, recipeParameter, writeRecipe } from '../main/engine/learner/recipe';
import type { SamplingPolicy } from '../main/engine/learner/rollout';
import { TEMPERATURE_BOUNDS } from '../shared/learner-config';
import { MAX_EVAL_SAMPLES, MAX_SEED } from '../shared/limits';
import { CURVE_SETTING } from '../shared/curve';
import {
  checkOutputPath,
  deviceFromFlag,
  num,
  parseFlags,
  printUsage,
  Reporter,
  UsageError,
  writeOutput,
} from './common';

const EXPORT_OPTIONS = {
  run: { type: 'string' },
  policy: { type: 'string' },
  checkpoint: { type: 'string' },
  out: { type: 'string' },
  force: { type: 'boolean' },
  recipe: { type: 'boolean' },
  n: { type: 'string' },
  seed: { type: 'string' },
  temperature: { type: 'string' },
  model: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

type ExportValues = ReturnType<typeof parseArgs<{ options: typeof EXPORT_OPTIONS }>>['values'];

/** Trajectories a recipe is measured on by default: its points' standard error is then that of 1,024 states. */
export const RECIPE_N = 1024;

export async function cmdExport(argv: string[], signal: AbortSignal): Promise<void> {
  const { values: v } = parseFlags(argv, EXPORT_OPTIONS);
  if (v.help) {
    await printUsage('export');
    return;
  }
  if (v.recipe) return exportRecipe(v, signal);
  for (const flag of ['n', 'seed', 'temperature'] as const)
    if (v[flag] !== undefined)
      throw new UsageError(`--${flag} goes with --recipe (the rollout a recipe is measured on)`);
  if (v.policy)
    throw new UsageError(
      'export --policy FILE goes with --recipe (the mean action per level of an exported policy); to export a run, give --run RUN_DIR',
    );
  if (!v.run) throw new UsageError('export needs --run RUN_DIR (a training run directory)');
  if (!v.out) throw new UsageError('export needs --out policy.onnx (or --recipe for a static curve)');
  checkOutputPath('out', v.out, ['.onnx'], ' (its metadata goes beside it as NAME.json)');
  if (isSchedulerRun(v.run)) return exportSchedulerRun(v);
  if (isDriftRun(v.run)) return exportDriftRun(v);
  const rep = new Reporter(!!v.json);
  const model = await Model.load(resolveModelDir(v.model ?? runModelDir(v.run)), { device: deviceFromFlag(v.device) });
  try {
    const learner = await loadRun(v.run, model, v.checkpoint);
    try {
      await checkRunPolicy(learner, v.run);
      let res: Awaited<ReturnType<typeof exportPolicy>> | undefined;
      await writeOutput(v.out, async () => {
        try {
          res = await exportPolicy(learner, { out: v.out!, force: !!v.force, runDir: v.run! });
        } catch (e) {
          if (e instanceof ExportError) throw new UsageError(e.message);
          throw e;
        }
      });
      const r = res!;
      const io = (xs: typeof r.inputs): string =>
        xs.map((t) => `${t.name} ${t.type} [${t.shape.join(', ')}]`).join(', ');
      rep.result(
        { command: 'export', run: v.run, ...r },
        `${r.path} (${(r.bytes / 1024).toFixed(1)} KiB, opset ${r.opset}, IR ${r.irVersion}) from ${v.run} at iteration ${learner.iteration}, in ${r.seconds.toFixed(2)} s\n` +
          `  inputs:  ${io(r.inputs)}\n  outputs: ${io(r.outputs)}\n` +
          `  verified: ${r.verification.states} states, max |Δlogit| ${r.verification.maxAbsDiff.toExponential(2)} (≤ ${r.verification.tolerance}) in a fresh ONNX Runtime session\n` +
          `  sidecar: ${r.sidecar}`,
      );
    } finally {
      await learner.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** export --run RUN_DIR|--policy FILE --recipe: the policy's mean action per level as a curve file. */
async function exportRecipe(v: ExportValues, signal: AbortSignal): Promise<void> {
  if (!!v.run === !!v.policy)
    throw new UsageError('export --recipe needs one of --run RUN_DIR (its EMA policy) or --policy policy.onnx');
  if (v.policy && !isPolicyFile(v.policy))
    throw new UsageError(`--policy ${v.policy}: give an exported policy file (.onnx); for a run directory use --run`);
  if (v.policy && v.checkpoint) throw new UsageError('--checkpoint goes with --run (a checkpoint of the run)');
  const n = num(v.n, 'n', { int: true, min: 1, max: MAX_EVAL_SAMPLES }) ?? RECIPE_N;
  const seed = num(v.seed, 'seed', { int: true, min: 0, max: MAX_SEED }) ?? 0;
  const tau = num(v.temperature, 'temperature', TEMPERATURE_BOUNDS);
  // The table's recipe rows read RUN/recipe.json; a policy file's recipe goes beside it.
  const out = v.out ?? (v.run ? join(v.run, 'recipe.json') : v.policy!.replace(/\.onnx$/i, '.recipe.json'));
  checkOutputPath('out', out); // checkRecipePath below checks the name
  checkRecipePath(out, { force: !!v.force }); // before the rollout, and again when it is written
  // A renoise policy is refused before anything loads: its intervention is in the run's config or the file's metadata.
  const parameter = recipeParameter(
    v.run ? readRunConfig(v.run).learner.intervention : readPolicyMetadata(v.policy!).spec.intervention,
  );
  const source = (v.run ?? v.policy)!;
  const rep = new Reporter(!!v.json);
  const modelRef = v.model ?? (v.run ? runModelDir(v.run) : policyModel(v.policy!));
  // A bundled model by its id (a run records its directory), any other by its path.
  const shownModel = (ref: string): string => {
    const id = basename(ref);
    const bundled = join(resourcesDir(), 'models', id);
    return !v.model && existsSync(join(bundled, 'model.json')) && resolve(ref) === bundled ? id : ref;
  };
  const model = await Model.load(resolveModelDir(modelRef), { device: deviceFromFlag(v.device) });
  try {
    let policy: SamplingPolicy;
    if (v.run) {
      const learner = await loadRun(v.run, model, v.checkpoint);
      policy = learner;
      try {
        await checkRunPolicy(learner, v.run);
      } catch (e) {
        await learner.dispose();
        throw e;
      }
    } else {
      const file = await OnnxPolicy.open(v.policy!, model);
      for (const w of file.warnings) process.stderr.write(`warning: ${w}\n`);
      policy = file;
    }
    try {
      const temperature = tau ?? policy.spec.temperature;
      const t0 = performance.now();
      const recipe = await policyRecipe(policy, {
        n,
        seed,
        temperature,
        origin: v.run ? { run: v.run } : { policy: v.policy! },
        signal,
        onProgress: (p) => {
          if (p.iteration > 0) return; // once per sampler batch
          const elapsed = (performance.now() - t0) / 1000;
          rep.event({
            type: 'progress',
            task: 'recipe',
            done: p.samplesDone,
            total: n,
            unit: 'trajectories',
            elapsedSeconds: elapsed,
            etaSeconds: p.samplesDone > 0 ? (elapsed * (n - p.samplesDone)) / p.samplesDone : null,
          });
        },
      });
      await writeOutput(out, () => writeRecipe(out, recipe, { force: !!v.force }));
      const symbol = parameter === 'guidance' ? 'w' : 'γ';
      const flag = `--${CURVE_SETTING[parameter].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      const table = recipe.points
        .map((p) => `  ${p.sigma.toPrecision(4).padStart(10)}   ${p.value.toFixed(4).padStart(8)}`)
        .join('\n');
      rep.result(
        {
          command: 'export',
          recipe: out,
          parameter,
          points: recipe.points,
          source: recipe.source,
          visits: recipe.visits,
        },
        `${out}: the mean ${symbol} per noise level of ${source} (iteration ${policy.iteration}), ` +
          `the policy's expected action over ${n} trajectories (seed ${seed}, τ = ${temperature})\n` +
          `  ${'σ'.padStart(10)}   ${symbol.padStart(8)}\n${table}\n` +
          `sample with it: sampler-studio sample --model ${shownModel(modelRef)} --sampler ${policy.spec.sampler} --steps ${policy.spec.steps} ${flag} ${out} --out samples.npy`,
      );
    } finally {
      await policy.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** An RL step scheduler run: its policy as ONNX (mean, std, delta, sigma_next), NAME.json, and its mean schedule as NAME.schedule.json. */
async function exportSchedulerRun(v: ExportValues): Promise<void> {
  if (v.checkpoint)
    throw new UsageError('--checkpoint applies to learner runs; a scheduler run exports its last checkpoint');
  const rep = new Reporter(!!v.json);
  const run = readSchedulerRun(v.run!);
  const model = await Model.load(resolveModelDir(v.model ?? run.model.dir), { device: deviceFromFlag(v.device) });
  const { loadSchedulerPolicy } = await import('../main/engine/scheduler/train');
  const { exportScheduler } = await import('../main/engine/scheduler/export');
  const p = await loadSchedulerPolicy(model, v.run!);
  try {
    const iteration = p.iteration!;
    let r: Awaited<ReturnType<typeof exportScheduler>> | undefined;
    await writeOutput(v.out!, async () => {
      try {
        r = await exportScheduler(p, v.run!, iteration, { out: v.out!, force: !!v.force });
      } catch (e) {
        if (e instanceof ExportError) throw new UsageError(e.message);
        throw e;
      }
    });
    rep.result(
      { command: 'export', run: v.run, kind: 'scheduler', ...r! },
      `${r!.path} (${(r!.bytes / 1024).toFixed(1)} KiB): the RL step scheduler of ${v.run} at iteration ${iteration}\n` +
        `  inputs:  x, sigma, decisions, nfe_spent; outputs: mean, std, delta, sigma_next\n` +
        `  verified: ${r!.verification.states} states, max |Δmean| ${r!.verification.maxAbsDiff.toExponential(2)} (≤ ${r!.verification.tolerance}) in a fresh ONNX Runtime session\n` +
        `  sidecar: ${r!.sidecar}${r!.schedule ? `\n  mean schedule (a --sigmas file): ${r!.schedule}` : ''}`,
    );
  } finally {
    await p.dispose();
    await model.dispose();
  }
}

/** A drift run: its policy as ONNX (x, sigma → drift) and NAME.json. */
async function exportDriftRun(v: ExportValues): Promise<void> {
  if (v.checkpoint)
    throw new UsageError('--checkpoint applies to learner runs; a drift run exports its last checkpoint');
  const rep = new Reporter(!!v.json);
  const run = readDriftRun(v.run!);
  const model = await Model.load(resolveModelDir(v.model ?? run.model.dir), { device: deviceFromFlag(v.device) });
  const { loadDriftPolicy } = await import('../main/engine/drift/train');
  const { exportDrift } = await import('../main/engine/drift/export');
  const { policy: p, iteration } = await loadDriftPolicy(model, v.run!);
  try {
    let r: Awaited<ReturnType<typeof exportDrift>> | undefined;
    await writeOutput(v.out!, async () => {
      try {
        r = await exportDrift(p, v.run!, iteration, { out: v.out!, force: !!v.force });
      } catch (e) {
        if (e instanceof ExportError) throw new UsageError(e.message);
        throw e;
      }
    });
    rep.result(
      { command: 'export', run: v.run, kind: 'drift', ...r! },
      `${r!.path} (${(r!.bytes / 1024).toFixed(1)} KiB): the drift policy of ${v.run} at iteration ${iteration}\n` +
        `  inputs:  x, sigma; output: drift (${r!.metadata['step']})\n` +
        `  verified: ${r!.verification.states} states, max |Δdrift| ${r!.verification.maxAbsDiff.toExponential(2)} (≤ ${r!.verification.tolerance}) in a fresh ONNX Runtime session\n` +
        `  sidecar: ${r!.sidecar}`,
    );
  } finally {
    p.dispose();
    await model.dispose();
  }
}
