// `sample`: draw samples from a model and write them as .npy (+ labels, + a PNG grid).

import type { ParseArgsConfig } from 'node:util';
import { Model } from '../main/engine/models/model';
import { resolveModelDir } from '../main/engine/models/registry';
import { generate, resolveSettings, samplesDrawn } from '../main/engine/samplers/generate';
import { readNpy, toFloat32, writeNpy, npyFloat32, npyInt64 } from '../main/engine/io/npy';
import { writeSamplePlot } from '../main/engine/pictures';
import type { openPolicy } from '../main/engine/learner/onnx-policy';
import {
  checkOutputPath,
  deviceFromFlag,
  num,
  parseFlags,
  printUsage,
  Reporter,
  stats,
  UsageError,
  writeOutput,
} from './common';
import {
  classesFromFlag,
  SAMPLER_OPTIONS,
  samplerSettingsFromFlags,
  SAMPLING_RUN_OPTIONS,
  samplingNotes,
} from './sampler-flags';
import { infReplacer } from '../shared/json';
import { TEMPERATURE_BOUNDS } from '../shared/learner-config';
import { MAX_BATCH, MAX_SAMPLES, MAX_SEED } from '../shared/limits';
import { describeSampler } from '../shared/sampler-settings';
import { isSchedulerRun, readSchedulerRun } from '../main/engine/scheduler/run-file';
import { isDriftRun, readDriftRun } from '../main/engine/drift/run-file';
import type { DriftPolicy } from '../main/engine/drift/policy';
import { readMetadata } from '../main/engine/onnx/graph';
import { readFileSync } from 'node:fs';
import type { SchedulerPolicy } from '../main/engine/scheduler/rl-scheduler';

const SAMPLE_OPTIONS = {
  ...SAMPLING_RUN_OPTIONS,
  out: { type: 'string' },
  'init-noise': { type: 'string' },
  grid: { type: 'string' },
  policy: { type: 'string' },
  temperature: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export async function cmdSample(argv: string[], signal: AbortSignal): Promise<void> {
  const { values: v } = parseFlags(argv, SAMPLE_OPTIONS);
  const rep = new Reporter(!!v.json);
  if (v.help) {
    await printUsage('sample');
    return;
  }
  if (!v.model && !v.policy)
    throw new UsageError('sample needs --model (a bundled id, see `models`, or a model directory)');
  if (!v.out) throw new UsageError('sample needs --out samples.npy');
  checkOutputPath('out', v.out, ['.npy'], ' (for a picture of the samples add --grid NAME.png)');
  checkOutputPath('grid', v.grid, ['.png']);
  const device = deviceFromFlag(v.device);

  if (v.policy) {
    // The policy fixes the sampler: its flags would silently be ignored.
    const fixed = Object.keys(SAMPLER_OPTIONS).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
    if (fixed.length > 0)
      throw new UsageError(
        `--${fixed[0]} cannot be combined with --policy: the policy fixes its sampler, steps and σ range (see its metadata); drop it`,
      );
    if (v['init-noise']) throw new UsageError('--init-noise cannot be combined with --policy; use --seed');
  } else if (v.temperature !== undefined) throw new UsageError('--temperature applies to --policy sampling only');
  // An RL step scheduler — its run (train --intervention schedule) or its exported file — samples through its own policy.
  const schedulerFile =
    v.policy !== undefined && /\.onnx$/i.test(v.policy)
      ? await import('../main/engine/scheduler/export').then((m) => (m.isSchedulerFile(v.policy!) ? m : null))
      : null;
  const schedulerRun = v.policy !== undefined && isSchedulerRun(v.policy) ? readSchedulerRun(v.policy) : null;
  if ((schedulerRun || schedulerFile) && (v.temperature !== undefined || v.class !== undefined))
    throw new UsageError(
      `--${v.temperature !== undefined ? 'temperature' : 'class'} does not apply to a scheduler run: it samples its deterministic policy, classes uniform at random`,
    );
  // A drift policy — its run (train --intervention drift) or its exported file — too.
  const driftFile =
    v.policy !== undefined && /\.onnx$/i.test(v.policy)
      ? await import('../main/engine/drift/export').then((m) => (m.isDriftFile(v.policy!) ? m : null))
      : null;
  const driftRun = v.policy !== undefined && isDriftRun(v.policy) ? readDriftRun(v.policy) : null;
  if ((driftRun || driftFile) && (v.temperature !== undefined || v.class !== undefined))
    throw new UsageError(
      `--${v.temperature !== undefined ? 'temperature' : 'class'} does not apply to a drift policy: it samples with its mean drift, classes uniform at random`,
    );
  // The learner (TensorFlow.js with it) loads for --policy only: [Note: commands load lazily] in index.ts.
  const policies =
    v.policy && !schedulerRun && !schedulerFile && !driftRun && !driftFile
      ? await import('../main/engine/learner/onnx-policy')
      : null;
  const modelRef =
    v.model ??
    schedulerRun?.model.dir ??
    schedulerFile?.schedulerFileModel(v.policy!) ??
    driftRun?.model.dir ??
    (driftFile ? readMetadataModel(v.policy!) : undefined) ??
    policies!.policyModel(v.policy!);
  const model = await Model.load(resolveModelDir(modelRef), { device });
  let policy: Awaited<ReturnType<typeof openPolicy>> | null = null;
  let scheduler: SchedulerPolicy | null = null;
  let drift: DriftPolicy | null = null;
  try {
    const classes = classesFromFlag(v.class);
    const temperature = num(v.temperature, 'temperature', TEMPERATURE_BOUNDS);
    policy = policies ? await policies.openPolicy(v.policy!, model) : null;
    if (schedulerRun)
      scheduler = await (await import('../main/engine/scheduler/train')).loadSchedulerPolicy(model, v.policy!);
    if (schedulerFile) scheduler = await schedulerFile.openSchedulerFile(model, v.policy!);
    if (driftRun) drift = (await (await import('../main/engine/drift/train')).loadDriftPolicy(model, v.policy!)).policy;
    if (driftFile) drift = await driftFile.openDriftFile(model, v.policy!);
    for (const w of policy?.warnings ?? []) rep.event({ type: 'log', level: 'warn', message: w });
    // A drift policy's sampler (ode-euler among them) is not one of the sampler settings: its own fields stand for them.
    const settings = policy
      ? policy.settings
      : scheduler
        ? scheduler.settings
        : drift
          ? resolveSettings(model, {
              sampler: drift.config.sampler === 'euler-maruyama' ? 'euler-maruyama' : 'ddim',
              eta: drift.config.sampler === 'ddim' ? drift.config.eta : 0,
              steps: drift.config.steps,
            })
          : samplerSettingsFromFlags(model, v);
    for (const message of samplingNotes(model, v, settings)) rep.event({ type: 'log', level: 'warn', message });

    let initNoise: Float32Array | undefined;
    let n = num(v.n, 'n', { int: true, min: 1, max: MAX_SAMPLES });
    if (v['init-noise']) {
      const arr = await readNpy(v['init-noise']);
      const want = model.shape;
      if (arr.shape.length !== want.length + 1 || want.some((d, i) => arr.shape[i + 1] !== d)) {
        throw new UsageError(
          `${v['init-noise']}: has shape [${arr.shape.join(', ')}], expected [n, ${want.join(', ')}] (unit-variance noise for ${model.name})`,
        );
      }
      if (n !== undefined && n !== arr.shape[0])
        throw new UsageError(
          `--n ${n} disagrees with ${v['init-noise']}, which holds ${arr.shape[0]} samples; drop --n`,
        );
      n = arr.shape[0]!;
      initNoise = toFloat32(arr);
      const bad = initNoise.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0)
        throw new UsageError(
          `${v['init-noise']}: holds NaN/Inf (first at sample ${Math.floor(bad / model.dim)}); the starting noise must be finite`,
        );
    }
    n ??= 64;
    const batch = num(v.batch, 'batch', { int: true, min: 1, max: MAX_BATCH }) ?? 256;
    const seed = num(v.seed, 'seed', { int: true, min: 0, max: MAX_SEED }) ?? 0;

    const t0 = performance.now();
    const onProgress = (p: { samplesDone: number; iteration: number; horizon: number }): void => {
      const frac = samplesDrawn(p, batch, n) / n;
      const elapsed = (performance.now() - t0) / 1000;
      rep.event({
        type: 'progress',
        task: 'sample',
        done: Math.round(frac * n),
        total: n,
        unit: 'samples',
        elapsedSeconds: elapsed,
        etaSeconds: frac > 0 ? (elapsed * (1 - frac)) / frac : null,
      });
    };
    let result: {
      samples: Float32Array;
      labels: Int32Array | null;
      nfe: Int32Array;
      networkEvals: Int32Array;
      seconds: number;
      /** The noise levels of the sampler (t_0 … t_N = 0; a renoise policy may revisit some). */
      schedule: Float64Array;
    };
    let policyInfo: Record<string, unknown> | null = null;
    if (scheduler) {
      const ep = await scheduler.rollout({
        n,
        seed,
        std: null,
        batch,
        record: false,
        signal,
        onProgress: (d) => onProgress({ samplesDone: d, iteration: 0, horizon: 0 }),
      });
      const { meanSchedule } = await import('../main/engine/scheduler/train');
      result = {
        samples: ep.samples,
        labels: ep.labels,
        nfe: ep.nfe,
        networkEvals: ep.nfe,
        seconds: (performance.now() - t0) / 1000,
        schedule: Float64Array.from(meanSchedule(ep.levels)),
      };
      policyInfo = {
        source: v.policy,
        kind: schedulerFile ? 'scheduler-onnx' : 'scheduler',
        intervention: 'schedule',
        ...scheduler.config,
      };
    } else if (drift) {
      const ep = await drift.rollout({
        n,
        seed,
        batch,
        record: false,
        signal,
        onProgress: (d) => onProgress({ samplesDone: d, iteration: 0, horizon: 0 }),
      });
      const N = drift.config.steps;
      result = {
        samples: ep.samples,
        labels: ep.labels,
        nfe: new Int32Array(n).fill(N),
        networkEvals: new Int32Array(n).fill(N),
        seconds: (performance.now() - t0) / 1000,
        schedule: drift.schedule,
      };
      policyInfo = {
        source: v.policy,
        kind: driftFile ? 'drift-onnx' : 'drift',
        intervention: 'drift',
        objective: drift.config.objective,
        sampler: drift.config.sampler,
        eta: drift.config.eta,
        steps: N,
      };
    } else if (policy) {
      const tau = temperature ?? policy.spec.temperature;
      const ro = await policy.sample(n, seed, { temperature: tau, batch, classes, signal, onProgress });
      result = {
        samples: ro.samples,
        labels: ro.sampleLabels,
        nfe: ro.nfe,
        networkEvals: ro.networkEvals,
        seconds: (performance.now() - t0) / 1000,
        schedule: policy.schedule,
      };
      policyInfo = {
        source: v.policy,
        kind: policies!.isPolicyFile(v.policy!) ? 'onnx' : 'run',
        intervention: policy.spec.intervention,
        actions: policy.spec.actions,
        iteration: policy.iteration,
        temperature: tau,
      };
    } else {
      result = await generate(model, settings, { n, batch, seed, classes, initNoise, signal, onProgress });
    }

    const outShape = [n, ...model.shape];
    const out = v.out;
    let labelsPath: string | null = null;
    let gridNote: string | null = null;
    await writeOutput(out, async () => {
      await writeNpy(out, npyFloat32(outShape, result.samples));
      if (result.labels) {
        labelsPath = out.replace(/\.npy$/i, '') + '.labels.npy';
        await writeNpy(labelsPath, npyInt64([n], BigInt64Array.from(result.labels, BigInt)));
      }
      if (v.grid) gridNote = await writeSamplePlot(model, v.grid, result.samples, result.labels, n);
    });

    const nfe = stats(result.nfe);
    const net = stats(result.networkEvals);
    const obj = {
      command: 'sample',
      model: model.name,
      modelDir: model.dir,
      backend: model.backend,
      settings: JSON.parse(JSON.stringify(settings, infReplacer)) as Record<string, unknown>,
      sigmas: Array.from(result.schedule),
      policy: policyInfo,
      n,
      batch,
      seed,
      out: v.out,
      labels: labelsPath,
      grid: v.grid ?? null,
      gridNote,
      nfe,
      networkEvals: net,
      seconds: result.seconds,
      samplesPerSecond: n / result.seconds,
      modelSeconds: model.stats.modelMs / 1000,
    };
    rep.result(
      obj,
      `${n} samples from ${model.name} (${scheduler ? `${settings.sampler}, RL step scheduler ${v.policy} (NFE budget ${scheduler.config.nfeBudget})` : drift ? `${drift.config.sampler}, ${drift.config.steps} steps, drift policy ${v.policy} (${drift.config.objective})` : policyInfo ? `${settings.sampler}, ${settings.steps} steps, policy ${v.policy} (${policyInfo['intervention']}, τ=${policyInfo['temperature']})` : describeSampler(settings)}) → ${v.out}` +
        `${labelsPath ? ` (+ ${labelsPath})` : ''}${v.grid ? `, grid → ${v.grid}` : ''}\n` +
        `NFE/sample ${nfe.mean.toFixed(2)} (network passes ${net.mean.toFixed(2)}), ${result.seconds.toFixed(2)} s, ${(n / result.seconds).toFixed(1)} samples/s on ${model.backend}` +
        (gridNote ? `\n${gridNote}` : ''),
    );
  } finally {
    await scheduler?.dispose();
    drift?.dispose();
    await policy?.dispose();
    await model.dispose();
  }
}

/** The model an exported file was made for (its metadata "model"). */
function readMetadataModel(path: string): string {
  return readMetadata(new Uint8Array(readFileSync(path)))['model']!;
}
