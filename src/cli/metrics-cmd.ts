// Metric commands: fid, kid, prdc, features, eval.

import { EVAL_METRICS, formatMetric, metricInfo } from '../shared/metrics';
import { readNpy, toFloat32, writeNpy, npyFloat32, type NpyArray } from '../main/engine/io/npy';
import { readFidStats, writeFidStats, type FidStats } from '../main/engine/metrics/fid-stats';
import { fid, gaussianStats } from '../main/engine/metrics/fid';
import { kid } from '../main/engine/metrics/kid';
import { prdc } from '../main/engine/metrics/prdc';
import { extractorForModel, nonFiniteRows } from '../main/engine/metrics/features';
import { evaluateSamples, parseMetrics, referenceFor, type EvalResult } from '../main/engine/metrics/evaluate';
import type { Features } from '../main/engine/metrics/types';
import { Model } from '../main/engine/models/model';
import { resolveModelDir } from '../main/engine/models/registry';
import { generate } from '../main/engine/samplers/generate';
import { baselineSettings, BASELINES, type BaselineName } from '../main/engine/samplers/baselines';
import type { Comparison } from '../main/engine/apps/compare';
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
import { classesFromFlag, samplerSettingsFromFlags, SAMPLING_RUN_OPTIONS, samplingNotes } from './sampler-flags';
import { REMOTE_OPTIONS, remoteSamplerFromFlags } from './remote-flags';
import { readTarget } from '../main/engine/rewards/class-mix';
import { infReplacer } from '../shared/json';
import { TEMPERATURE_BOUNDS } from '../shared/learner-config';
import { MAX_BATCH, MAX_EVAL_SAMPLES, MAX_KID_SUBSETS, MAX_NEIGHBOURS, MAX_SEED } from '../shared/limits';
import { describeSampler, MAX_STEPS } from '../shared/sampler-settings';
import { samplerNfe } from '../main/engine/samplers/cost';

const SEED = { int: true, min: 0, max: MAX_SEED };
const BATCH = { int: true, min: 1, max: MAX_BATCH };
const EVAL_N = { int: true, min: 2, max: MAX_EVAL_SAMPLES };
const KID_SUBSETS = { int: true, min: 1, max: MAX_KID_SUBSETS };
const KID_SUBSET_SIZE = { int: true, min: 2, max: MAX_EVAL_SAMPLES };
const NEIGHBOURS = { int: true, min: 1, max: MAX_NEIGHBOURS };

/** Features from a .npy of shape [n, d] (any float or int dtype). */
async function featuresFromNpy(path: string): Promise<Features> {
  const arr: NpyArray = await readNpy(path);
  if (arr.shape.length !== 2)
    throw new UsageError(`${path}: features must have shape [n, d], got [${arr.shape.join(', ')}]`);
  const [n, d] = arr.shape as [number, number];
  const data =
    arr.data instanceof Float32Array || arr.data instanceof Float64Array
      ? arr.data
      : Float64Array.from(arr.data as ArrayLike<number | bigint>, Number);
  return { data, n, d };
}

/** A .npz of pytorch-fid statistics, or a .npy of features. */
async function statsFrom(path: string): Promise<FidStats> {
  if (/\.npz$/i.test(path)) {
    const s = await readFidStats(path);
    return { mu: s.mu, sigma: s.sigma, d: s.d, n: s.n };
  }
  return gaussianStats(await featuresFromNpy(path), path);
}

export async function cmdFid(argv: string[]): Promise<void> {
  const { values: v } = parseFlags(argv, {
    a: { type: 'string' },
    b: { type: 'string' },
    'save-a': { type: 'string' },
    'save-b': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (v.help) return printUsage('fid');
  if (!v.a || !v.b)
    throw new UsageError('fid needs --a and --b: feature .npy files [n, d] or pytorch-fid statistics .npz (mu, sigma)');
  checkOutputPath('save-a', v['save-a'], ['.npz'], ' (pytorch-fid statistics: mu, sigma)');
  checkOutputPath('save-b', v['save-b'], ['.npz'], ' (pytorch-fid statistics: mu, sigma)');
  const a = await statsFrom(v.a);
  const b = await statsFrom(v.b);
  // FID is symmetric; "real" is --a by convention.
  const res = await fid({ real: a, fake: b });
  for (const [flag, path, s] of [
    ['save-a', v['save-a'], a],
    ['save-b', v['save-b'], b],
  ] as const) {
    if (path)
      await writeOutput(`--${flag} ${path}`, () => writeFidStats(path, { mu: s.mu, sigma: s.sigma, d: s.d, n: s.n }));
  }
  new Reporter(!!v.json).result(
    { command: 'fid', a: v.a, b: v.b, ...res },
    `FID ${res.fid.toFixed(4)} (‖Δμ‖² ${res.meanTerm.toFixed(4)}, covariance term ${res.covTerm.toFixed(4)}; d=${res.d}, n=${res.nReal ?? '?'} / ${res.nFake ?? '?'}, ${res.method})` +
      res.flags.map((f) => `\n  note: ${f}`).join(''),
  );
}

export async function cmdKid(argv: string[]): Promise<void> {
  const { values: v } = parseFlags(argv, {
    real: { type: 'string' },
    fake: { type: 'string' },
    subsets: { type: 'string' },
    'subset-size': { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (v.help) return printUsage('kid');
  if (!v.real || !v.fake) throw new UsageError('kid needs --real R.npy and --fake F.npy (features [n, d])');
  const res = await kid(
    { real: await featuresFromNpy(v.real), fake: await featuresFromNpy(v.fake) },
    {
      numSubsets: num(v.subsets, 'subsets', KID_SUBSETS),
      subsetSize: num(v['subset-size'], 'subset-size', KID_SUBSET_SIZE),
      seed: num(v.seed, 'seed', SEED),
    },
  );
  const { values: _values, ...rest } = res;
  new Reporter(!!v.json).result(
    { command: 'kid', real: v.real, fake: v.fake, ...rest },
    `KID ${res.kid.toExponential(4)} ± ${res.std.toExponential(2)} (${res.subsets} subsets of ${res.subsetSize}; n=${res.nReal} real / ${res.nFake} generated)` +
      res.flags.map((f) => `\n  note: ${f}`).join(''),
  );
}

export async function cmdPrdc(argv: string[]): Promise<void> {
  const { values: v } = parseFlags(argv, {
    real: { type: 'string' },
    fake: { type: 'string' },
    k: { type: 'string' },
    'k-dc': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (v.help) return printUsage('prdc');
  if (!v.real || !v.fake) throw new UsageError('prdc needs --real R.npy and --fake F.npy (features [n, d])');
  const res = await prdc(
    { real: await featuresFromNpy(v.real), fake: await featuresFromNpy(v.fake) },
    { kPR: num(v.k, 'k', NEIGHBOURS), kDC: num(v['k-dc'], 'k-dc', NEIGHBOURS) },
  );
  new Reporter(!!v.json).result(
    { command: 'prdc', real: v.real, fake: v.fake, ...res },
    `precision ${res.precision.toFixed(4)}  recall ${res.recall.toFixed(4)}  (k=${res.kPR})\ndensity ${res.density.toFixed(4)}  coverage ${res.coverage.toFixed(4)}  (k=${res.kDC})\nn=${res.nReal} real / ${res.nFake} generated`,
  );
}

export async function cmdFeatures(argv: string[]): Promise<void> {
  const { values: v } = parseFlags(argv, {
    model: { type: 'string' },
    in: { type: 'string' },
    out: { type: 'string' },
    logits: { type: 'string' },
    batch: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (v.help) return printUsage('features');
  if (!v.model || !v.in || !v.out)
    throw new UsageError('features needs --model M, --in samples.npy and --out features.npy');
  checkOutputPath('out', v.out, ['.npy']);
  checkOutputPath('logits', v.logits, ['.npy']);
  const model = await Model.load(resolveModelDir(v.model));
  try {
    const ex = await extractorForModel(model);
    try {
      const arr = await readNpy(v.in);
      const want = model.shape;
      if (arr.shape.length !== want.length + 1 || want.some((d, i) => arr.shape[i + 1] !== d)) {
        throw new UsageError(
          `${v.in}: has shape [${arr.shape.join(', ')}], expected [n, ${want.join(', ')}] (samples of ${model.name})`,
        );
      }
      const n = arr.shape[0]!;
      const x =
        arr.dtype === 'uint8' ? Float32Array.from(arr.data as Uint8Array, (q) => q / 127.5 - 1) : toFloat32(arr);
      const bad = nonFiniteRows(x, n, model.dim);
      if (bad.count > 0)
        throw new UsageError(
          `${v.in}: ${bad.count} of its ${n} rows hold NaN/Inf (the first is row ${bad.first}); features need finite samples`,
        );
      const res = await ex.extract(x, n, { batch: num(v.batch, 'batch', BATCH) });
      await writeOutput(v.out, () => writeNpy(v.out!, npyFloat32([n, res.dim], res.features)));
      if (v.logits && res.logits)
        await writeOutput(v.logits, () => writeNpy(v.logits!, npyFloat32([n, res.logits!.length / n], res.logits!)));
      new Reporter(!!v.json).result(
        {
          command: 'features',
          model: model.name,
          extractor: ex.name,
          n,
          dim: res.dim,
          out: v.out,
          logits: v.logits && res.logits ? v.logits : null,
        },
        `${n} × ${res.dim} features (${ex.name}) → ${v.out}`,
      );
    } finally {
      await ex.dispose();
    }
  } finally {
    await model.dispose();
  }
}

export const EVAL_OPTIONS = {
  ...SAMPLING_RUN_OPTIONS,
  ...REMOTE_OPTIONS,
  baseline: { type: 'string' },
  nfe: { type: 'string' },
  'grid-result': { type: 'string' },
  metrics: { type: 'string' },
  'kid-subsets': { type: 'string' },
  'kid-subset-size': { type: 'string' },
  policy: { type: 'string' },
  temperature: { type: 'string' },
  'per-class': { type: 'boolean' },
  'best-constant': { type: 'boolean' },
  reward: { type: 'string', multiple: true },
  'class-target': { type: 'string' },
} as const;

/** Human lines for an evaluation. */
export function describeEval(r: EvalResult): string {
  const s = r.summary;
  // In the catalogue's order and formats; KID with its spread over subsets.
  const parts = EVAL_METRICS.filter((m) => s[m.key] !== undefined && m.key !== 'kid_std').map((m) =>
    m.key === 'kid' && s['kid_std'] !== undefined
      ? `${m.label} ${formatMetric('kid', s['kid'])} ± ${formatMetric('kid_std', s['kid_std'])}`
      : `${m.label} ${formatMetric(m.key, s[m.key])}`,
  );
  return (
    `${parts.join('  ')}\n(n = ${r.nReal} data / ${r.nFake} generated; features: ${r.extractor})` +
    r.flags.map((f) => `\n  note: ${f}`).join('')
  );
}

export async function cmdEval(argv: string[], signal: AbortSignal): Promise<void> {
  const { values: v } = parseFlags(argv, EVAL_OPTIONS);
  if (v.help) return printUsage('eval');
  if (v.policy) return evalPolicy(v, signal);
  if (!v.model) throw new UsageError('eval needs --model');
  let metrics;
  try {
    metrics = parseMetrics(v.metrics ?? 'fid,kid,precision,recall,density,coverage');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (v.baseline && !BASELINES.includes(v.baseline as BaselineName))
    throw new UsageError(`--baseline must be one of ${BASELINES.join(', ')}, got "${v.baseline}"`);
  const rep = new Reporter(!!v.json);
  const model = await Model.load(resolveModelDir(v.model), { device: deviceFromFlag(v.device) });
  try {
    let base = {};
    try {
      if (v.baseline)
        base = baselineSettings(v.baseline as BaselineName, {
          // The most a plain Heun run within the steps' bound spends.
          nfe: num(v.nfe, 'nfe', { int: true, min: 1, max: samplerNfe('heun', MAX_STEPS) }),
          grid: v['grid-result'],
        });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const settings = samplerSettingsFromFlags(model, v, base, v.baseline && `--baseline ${v.baseline}`);
    for (const message of samplingNotes(model, v, settings)) rep.event({ type: 'log', level: 'warn', message });
    const n = num(v.n, 'n', EVAL_N) ?? 2048;
    const classes = classesFromFlag(v.class);
    if (v.redis && classes instanceof Int32Array)
      throw new UsageError('--redis takes --class random, none or one class');
    const remote = await remoteSamplerFromFlags(v, model, rep);
    const ex = await extractorForModel(model);
    try {
      const t0 = performance.now();
      const reference = await referenceFor(model, ex);
      const draw = remote
        ? (g: Parameters<typeof generate>[2]) =>
            remote.generate(settings, { ...g, classes: g.classes as 'random' | 'none' | number })
        : (g: Parameters<typeof generate>[2]) => generate(model, settings, g);
      const gen = await draw({
        n,
        batch: num(v.batch, 'batch', BATCH) ?? 256,
        seed: num(v.seed, 'seed', SEED) ?? 0,
        classes,
        signal,
        onProgress: (p) => {
          const elapsed = (performance.now() - t0) / 1000;
          rep.event({
            type: 'progress',
            task: 'eval',
            done: p.samplesDone,
            total: n,
            unit: 'samples',
            elapsedSeconds: elapsed,
            etaSeconds: p.samplesDone > 0 ? (elapsed * (n - p.samplesDone)) / p.samplesDone : null,
          });
        },
      });
      const res = await evaluateSamples(
        { model, extractor: ex, reference, samples: gen.samples, n, conditioning: gen.labels },
        metrics,
        {
          kid: {
            numSubsets: num(v['kid-subsets'], 'kid-subsets', KID_SUBSETS),
            subsetSize: num(v['kid-subset-size'], 'kid-subset-size', KID_SUBSET_SIZE),
          },
          classTarget: classTargetFromFlag(v, model, metrics),
        },
      );
      let nfe = 0;
      let net = 0;
      for (let i = 0; i < n; i++) {
        nfe += gen.nfe[i]!;
        net += gen.networkEvals[i]!;
      }
      // --reward: the mean of the rewards' sum over the samples (as eval --policy scores its rows).
      let reward: number | undefined;
      if (v.reward && v.reward.length > 0) {
        const { openRewards } = await import('../main/engine/rewards');
        const { parseRewardSpec } = await import('../shared/reward-spec');
        const rw = await openRewards(
          model,
          v.reward.map((s) => parseRewardSpec(s)),
        );
        try {
          const total = (await rw.score(gen.samples, n, gen.labels)).total;
          reward = total.reduce((a, b) => a + b, 0) / n;
        } finally {
          await rw.dispose();
        }
      }
      const { kid: kidRes, ...restRes } = res;
      rep.result(
        {
          command: 'eval',
          model: model.name,
          baseline: v.baseline ?? null,
          settings: JSON.parse(JSON.stringify(settings, infReplacer)) as Record<string, unknown>,
          n,
          nfePerSample: nfe / n,
          networkEvalsPerSample: net / n,
          denoiserEvaluations: nfe,
          referenceSource: reference.source,
          ...restRes,
          kid: kidRes ? { ...kidRes, values: undefined } : undefined,
          ...(reward !== undefined ? { rewards: v.reward, reward } : {}),
        },
        `${model.name}: ${describeSampler(settings)}${v.baseline ? ` (baseline ${v.baseline})` : ''}, NFE/sample ${(nfe / n).toFixed(2)}\n` +
          describeEval(res) +
          (reward !== undefined ? `\nreward ${reward.toPrecision(5)}: the mean of ${v.reward!.join(' + ')}` : ''),
      );
    } finally {
      await remote?.close();
      await ex.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** --class-target FILE: the classes metric's target shares (a list, or class names → shares, as class-mix reads them). */
function classTargetFromFlag(v: EvalValues, model: Model, metrics: readonly string[]): Float64Array | undefined {
  const file = v['class-target'];
  if (file === undefined) return undefined;
  if (!metrics.includes('classes'))
    throw new UsageError('--class-target is the target of the classes metric: add classes to --metrics');
  try {
    return readTarget(file, model.numClasses, model.manifest.classNames ?? null);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

type EvalValues = {
  [K in keyof typeof EVAL_OPTIONS]?: (typeof EVAL_OPTIONS)[K]['type'] extends 'boolean'
    ? boolean
    : (typeof EVAL_OPTIONS)[K] extends { multiple: true }
      ? string[]
      : string;
};

/** eval --policy RUN_DIR|policy.onnx: sample with the run's EMA policy (or the exported file) and score it next to the baselines. */
async function evalPolicy(v: EvalValues, signal: AbortSignal): Promise<void> {
  const runDir = v.policy!;
  let metrics;
  try {
    metrics = parseMetrics(v.metrics ?? 'fid,precision,recall');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const n = num(v.n, 'n', EVAL_N) ?? 4000;
  const seed = num(v.seed, 'seed', SEED) ?? 1_000_003;
  const temperature = num(v.temperature, 'temperature', TEMPERATURE_BOUNDS);
  const perClass = !!v['per-class'];
  // The learner (TensorFlow.js with it) loads here only: [Note: commands load lazily] in index.ts.
  const { isPolicyFile, policyModel } = await import('../main/engine/learner/onnx-policy');
  const { comparePolicy, CompareInputError } = await import('../main/engine/apps/compare');
  const rep = new Reporter(!!v.json);
  const { isDriftRun, readDriftRun } = await import('../main/engine/drift/run-file');
  const drift = isDriftRun(runDir);
  if (drift) {
    // A drift run is compared with its base sampler on the same seeds (apps/compare-drift.ts).
    const unused = (['temperature', 'grid-result', 'best-constant', 'per-class', 'class-target'] as const).filter(
      (k) => v[k] !== undefined && v[k] !== false,
    );
    if (unused.length > 0)
      throw new UsageError(
        `${unused.map((k) => `--${k}`).join(', ')}: not for a drift policy run (it is compared with its base sampler on the same seeds)`,
      );
  }
  const modelRef = v.model ?? (drift ? readDriftRun(runDir).model.dir : policyModel(runDir));
  const model = await Model.load(resolveModelDir(modelRef), { device: deviceFromFlag(v.device) });
  try {
    let cmp: Comparison;
    try {
      cmp = drift
        ? await (
            await import('../main/engine/apps/compare-drift')
          ).compareDrift(model, runDir, {
            n,
            seed,
            metrics: model.shape.length === 3 ? metrics : [],
            signal,
            rewards: v.reward,
          })
        : await comparePolicy(model, runDir, {
            n,
            seed,
            temperature,
            metrics,
            gridResult: v['grid-result'],
            perClass,
            bestConstant: !!v['best-constant'],
            signal,
            rewards: v.reward,
            classTarget: classTargetFromFlag(v, model, metrics),
          });
    } catch (e) {
      if (e instanceof CompareInputError) throw new UsageError(e.message);
      throw e;
    }
    const { rows, actionByClass } = cmp;
    const keys = Object.keys(rows[0]!.summary);
    const reward = cmp.rewards ? ` ${'reward'.padStart(10)}` : '';
    let human = [
      `${'method'.padEnd(48)} ${'NFE'.padStart(6)} ${'net'.padStart(6)} ${keys.map((k) => metricInfo(k).label.padStart(10)).join(' ')}${reward}`,
    ]
      .concat(
        rows.map(
          (r) =>
            `${r.name.padEnd(48)} ${r.nfe.toFixed(2).padStart(6)} ${r.networkEvals.toFixed(2).padStart(6)} ${keys.map((k) => formatMetric(k, r.summary[k]).padStart(10)).join(' ')}` +
            (cmp.rewards ? ` ${(r.reward ?? NaN).toPrecision(5).padStart(10)}` : ''),
        ),
      )
      .join('\n');
    if (cmp.rewards) human += `\nreward: the mean of ${cmp.rewards.join(' + ')} over each row's samples`;
    if (perClass) {
      const short = (name: string): string => name.split(' (')[0]!.slice(0, 14);
      human +=
        `\n\nper class (each on ~${Math.round(n / model.numClasses)} samples; FID / precision / recall)\n` +
        `${'class'.padEnd(6)} ${rows.map((r) => short(r.name).padStart(26)).join(' ')}   mean action (σ<1)`;
      for (let k = 0; k < model.numClasses; k++) {
        const cells = rows.map((r) => {
          const sm = r.perClass![k]!.summary;
          return `${(sm['fid'] ?? NaN).toFixed(3)} / ${(sm['precision'] ?? NaN).toFixed(2)} / ${(sm['recall'] ?? NaN).toFixed(2)}`.padStart(
            26,
          );
        });
        const a = actionByClass?.[k];
        human += `\n${String(k).padEnd(6)} ${cells.join(' ')}   ${a ? `${a.mean.toFixed(2)} (${a.meanLowNoise.toFixed(2)})` : ''}`;
      }
    }
    rep.result(
      { command: 'eval', policy: runDir, ...cmp },
      `${model.name}, ${isPolicyFile(runDir) ? 'policy file' : 'run'} ${runDir} at iteration ${cmp.iteration}, n = ${n}, seed ${seed}${drift ? '' : `, τ = ${cmp.temperature}`} (NFE and net: denoiser evaluations and network passes per sample)\n${human}` +
        cmp.flags.map((f) => `\n  note: ${f}`).join(''),
    );
  } finally {
    await model.dispose();
  }
}
