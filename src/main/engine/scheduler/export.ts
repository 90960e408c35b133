// Exporting an RL step scheduler run as one self-contained ONNX file (the issue's "continuous
// output: mean and std"), verified against the engine before it is written, with a JSON sidecar
// and the run's mean schedule beside it:
//
//   inputs   x [N, ...shape] float32, sigma [N] float32 (the current level t > 0),
//            decisions [N] int64 (decisions taken so far, k), nfe_spent [N] int64
//   outputs  mean [N]: μ, the Gaussian's mean in the pre-squash logit of Δ
//            std []: the policy's std at its last training iteration
//            delta [N] = sigmoid(μ): the deterministic policy's fraction of the remaining log-σ range
//            sigma_next [N] = exp(ln t − Δ·(ln t − ln σ_min)), at least σ_min: its next level
//
// The graph is rl-scheduler.ts's `means`: the state φ (c_in(σ)·x averaged over k×k blocks —
// AveragePool with ceil_mode and no padding counted, as pooledEncoder averages a partial block — or
// the model's encoder graph merged in), [ℓ, k/K_max, (B − spent)/B], the MLP (SiLU between layers),
// plus the baseline logit −ln max(1, K_left), K_left = ⌊(B − spent − 1)/c⌋ (c = 1 Euler, 2 Heun).
// When to stop and step to 0 is the sampler's (metadata "episode"), as a renoise file's mask is.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { writeFilesAtomic } from '../io/atomic';
import { GraphBuilder, readMetadata } from '../onnx/graph';
import type { Model } from '../models/model';
import { DEFAULT_SCHEDULER_CONFIG, parseSchedulerConfig } from '../../../shared/scheduler-config';
import { ExportError, mergeEncoder, preconditionedStateGraph, sha256File } from '../learner/export';
import { Stream } from '../samplers/random';
import { fullStepCost } from '../samplers/cost';
import { VERSION } from '../../../shared/version';
import { SCHEDULER_FORMAT } from '../../../shared/policy-metadata';
import type { PolicyExportResult, TensorInfo } from '../../../shared/protocol';
import { maxDecisions, SchedulerPolicy, stdAt } from './rl-scheduler';
import { readSchedulerRun } from './run-file';

export { SCHEDULER_FORMAT };
const TOLERANCE = 1e-4;

/** The graph of the header from the policy's weights. */
export function schedulerGraph(p: SchedulerPolicy, std: number): GraphBuilder {
  const { model, config: c } = p;
  const g = new GraphBuilder('sampler_studio_scheduler');
  const x = g.input('x', 'float32', ['N', ...model.shape]);
  const sigma = g.input('sigma', 'float32', ['N']);
  const decisions = g.input('decisions', 'int64', ['N']);
  const spent = g.op('Cast', [g.input('nfe_spent', 'int64', ['N'])], { to: 1 });
  const col = (v: string): string => g.op('Unsqueeze', [v, g.ints([1])]);
  const { sigmaMin, sigmaMax } = p.settings;
  const lnMin = Math.log(sigmaMin);
  const lnSigma = g.op('Log', [sigma]);
  // φ(x, σ)
  let phi: string;
  if (c.state === 'encoder' && model.manifest.encoder) {
    phi = mergeEncoder(g, model, x, sigma);
  } else phi = preconditionedStateGraph(g, x, sigma, model.manifest.sigmaData, p.encoder.pool);
  // [ℓ, k/K_max, (B − spent)/B]
  const ell = g.op('Div', [g.op('Sub', [lnSigma, g.const(lnMin)]), g.const(Math.log(sigmaMax) - lnMin)]);
  const kf = g.op('Div', [g.op('Cast', [decisions], { to: 1 }), g.const(Math.max(1, maxDecisions(c)))]);
  const rem = g.op('Div', [g.op('Sub', [g.const(c.nfeBudget), spent]), g.const(c.nfeBudget)]);
  let h = g.op('Concat', [phi, col(ell), col(kf), col(rem)], { axis: 1 });
  const ws = p.policy.getWeights(); // [W0, b0, W1, b1, …], W [in, out]
  for (let i = 0; i < ws.length; i += 2) {
    if (i > 0) h = g.op('Mul', [h, g.op('Sigmoid', [h])]);
    const out = ws[i + 1]!.length;
    h = g.op('Add', [g.op('MatMul', [h, g.const(ws[i]!, [ws[i]!.length / out, out])]), g.const(ws[i + 1]!, [out])]);
  }
  const mlp = g.op('Squeeze', [h, g.ints([1])]);
  // Baseline: −ln max(1, K_left), K_left = ⌊(B − spent − 1)/c⌋.
  const cost = fullStepCost(c.sampler);
  const kLeft = g.op('Floor', [g.op('Div', [g.op('Sub', [g.const(c.nfeBudget - 1), spent]), g.const(cost)])]);
  const base = g.op('Neg', [g.op('Log', [g.op('Max', [kLeft, g.const(1)])])]);
  const mean = g.op('Add', [base, mlp]);
  const delta = g.op('Sigmoid', [mean]);
  const next = g.op('Max', [
    g.op('Exp', [g.op('Sub', [lnSigma, g.op('Mul', [delta, g.op('Sub', [lnSigma, g.const(lnMin)])])])]),
    g.const(sigmaMin),
  ]);
  g.output(mean, 'mean', 'float32', ['N']);
  g.output(g.const(std), 'std', 'float32', []);
  g.output(delta, 'delta', 'float32', ['N']);
  g.output(next, 'sigma_next', 'float32', ['N']);
  return g;
}

/** What export wrote (the protocol's PolicyExportResult): `schedule` is the run's mean schedule beside it, when it has one. */
export type SchedulerExportResult = PolicyExportResult;

/** The file's inputs and outputs, documented (shapes: N the batch). */
function schedulerTensors(shape: number[]): { inputs: TensorInfo[]; outputs: TensorInfo[] } {
  const f = (name: string, s: (number | string)[], doc: string, type: TensorInfo['type'] = 'float32'): TensorInfo => ({
    name,
    type,
    shape: s,
    doc,
  });
  return {
    inputs: [
      f('x', ['N', ...shape], 'the sample at the current level'),
      f('sigma', ['N'], 'the current level t > 0'),
      f('decisions', ['N'], 'decisions taken so far, k', 'int64'),
      f('nfe_spent', ['N'], 'denoiser evaluations spent so far', 'int64'),
    ],
    outputs: [
      f('mean', ['N'], "the Gaussian's mean in the pre-squash logit of Δ"),
      f('std', [], "the policy's std at its last training iteration"),
      f('delta', ['N'], "sigmoid(mean): the deterministic policy's fraction of the remaining log-σ range to step"),
      f('sigma_next', ['N'], 'its next level, at least σ_min'),
    ],
  };
}

/** Writes RUN's policy to `out` (.onnx), NAME.json beside it, and NAME.schedule.json when the run has a mean schedule. */
export async function exportScheduler(
  p: SchedulerPolicy,
  runDir: string,
  iteration: number,
  o: { out: string; force?: boolean; verifyStates?: number },
): Promise<SchedulerExportResult> {
  const out = resolve(o.out);
  if (!/\.onnx$/i.test(out)) throw new ExportError(`${o.out}: the policy file's name must end in .onnx`);
  const sidecar = out.replace(/\.onnx$/i, '.json');
  const scheduleOut = out.replace(/\.onnx$/i, '.schedule.json');
  const scheduleIn = join(runDir, 'schedule.json');
  const writes = [out, sidecar, ...(existsSync(scheduleIn) ? [scheduleOut] : [])];
  if (!o.force)
    for (const f of writes)
      if (existsSync(f))
        throw new ExportError(`${f} already exists; choose another path or pass --force to replace it`, 'exists');
  const run = readSchedulerRun(runDir);
  const c = p.config;
  const std = stdAt(c, iteration - 1);
  const metadata: Record<string, string> = {
    format: SCHEDULER_FORMAT,
    sampler_studio_version: VERSION,
    intervention: 'schedule',
    sampler: c.sampler,
    nfe_budget: String(c.nfeBudget),
    sigma_min: String(p.settings.sigmaMin),
    sigma_max: String(p.settings.sigmaMax),
    state: p.encoder.name,
    reward: c.reward,
    model: p.model.name,
    model_sha256: sha256File(p.model.onnxPath),
    run_id: basename(resolve(runDir)),
    iteration: String(iteration),
    episode: `start at sigma_max with x = sigma_max * z; while the level t > sigma_min and nfe_spent + ${fullStepCost(c.sampler)} + 1 <= nfe_budget: step (${c.sampler}) from t to sigma_next (deterministic) or to exp(ln t - sigmoid(u) (ln t - ln sigma_min)), u ~ N(mean, std^2); then one ${c.sampler} step to 0`,
  };
  const g = schedulerGraph(p, std);
  const bytes = g.toBytes({
    producerName: 'sampler-studio',
    producerVersion: VERSION,
    docString: `Sampler Studio RL step scheduler for ${run.model.name}: ${c.sampler}, NFE budget ${c.nfeBudget}; run ${metadata['run_id']} iteration ${iteration}. Inputs: x, sigma, decisions, nfe_spent; outputs: mean, std, delta, sigma_next.`,
    metadata,
  });
  // Verify in a fresh session on states across levels, decisions and budgets before anything is written.
  const n = o.verifyStates ?? 256;
  const dim = p.model.dim;
  const rng = new Stream(0x5c, 0);
  const { sigmaMin, sigmaMax } = p.settings;
  const t = Float64Array.from({ length: n }, () =>
    Math.exp(Math.log(sigmaMin) + rng.uniform() * Math.log(sigmaMax / sigmaMin)),
  );
  const k = Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * Math.max(1, maxDecisions(c))));
  const spent = Int32Array.from(k, (v) => v * fullStepCost(c.sampler));
  const x = Float32Array.from({ length: n * dim }, (_, i) => t[Math.floor(i / dim)]! * rng.normal());
  const want = await p.means(x, t, k, spent);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], logSeverityLevel: 3 });
  let maxAbsDiff = 0;
  try {
    const res = await session.run({
      x: new ort.Tensor('float32', x, [n, ...p.model.shape]),
      sigma: new ort.Tensor('float32', Float32Array.from(t), [n]),
      decisions: new ort.Tensor('int64', BigInt64Array.from(k, BigInt), [n]),
      nfe_spent: new ort.Tensor('int64', BigInt64Array.from(spent, BigInt), [n]),
    });
    const got = res['mean']!.data as Float32Array;
    for (let i = 0; i < n; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i]! - want[i]!));
  } finally {
    await session.release();
  }
  if (!(maxAbsDiff <= TOLERANCE))
    throw new Error(
      `the exported graph's means differ from the engine's by ${maxAbsDiff} (> ${TOLERANCE}) on ${n} states; nothing was written. Please report this with the run directory.`,
    );
  const verification = { states: n, maxAbsDiff, tolerance: TOLERANCE, runtime: 'onnxruntime-node/cpu' };
  const side = { ...metadata, file: basename(out), sha256: sha256Bytes(bytes), verification };
  await writeFilesAtomic([
    ...(existsSync(scheduleIn) ? [{ path: scheduleOut, data: readFileSync(scheduleIn) }] : []),
    { path: sidecar, data: JSON.stringify(side, null, 1) + '\n' },
    { path: out, data: bytes },
  ]);
  return {
    path: out,
    sidecar,
    schedule: existsSync(scheduleIn) ? scheduleOut : null,
    bytes: bytes.length,
    opset: g.opset,
    irVersion: g.irVersion,
    ...schedulerTensors([...p.model.shape]),
    metadata,
    verification,
    seconds: 0,
  };
}

const sha256Bytes = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Whether an ONNX file is an exported scheduler (its metadata "format"). */
export function isSchedulerFile(path: string): boolean {
  if (!/\.onnx$/i.test(path) || !existsSync(path)) return false;
  try {
    return readMetadata(new Uint8Array(readFileSync(path)))['format'] === SCHEDULER_FORMAT;
  } catch {
    return false;
  }
}

/** The model an exported scheduler was made for (its metadata), as a bundled id or the name to look up. */
export function schedulerFileModel(path: string): string {
  return readMetadata(new Uint8Array(readFileSync(path)))['model']!;
}

/**
 * An exported scheduler as a policy that samples: the file's `mean` through ONNX Runtime in the
 * rollout's place for the MLP (rl-scheduler.ts `external`); its settings from the file's metadata.
 */
export async function openSchedulerFile(model: Model, path: string): Promise<SchedulerPolicy> {
  const meta = readMetadata(new Uint8Array(readFileSync(path)));
  if (meta['format'] !== SCHEDULER_FORMAT) throw new ExportError(`${path}: is not an exported RL step scheduler`);
  if (meta['model'] !== model.name)
    throw new ExportError(`${path} was exported for "${meta['model']}", not for "${model.name}"`);
  const config = parseSchedulerConfig(
    {
      ...DEFAULT_SCHEDULER_CONFIG,
      sampler: meta['sampler'],
      nfeBudget: Number(meta['nfe_budget']),
      // The file computes its own state (this policy's encoder is never called); named as it was trained.
      state: /pooled|c_in/.test(meta['state'] ?? '') ? 'pooled' : 'encoder',
    },
    (k) => `${path}: metadata ${k}`,
  );
  const { initTf } = await import('../learner/backend');
  await initTf();
  const p = await SchedulerPolicy.create(model, config);
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], logSeverityLevel: 3 });
  p.external = async (x, t, k, spent) => {
    const n = t.length;
    const res = await session.run({
      x: new ort.Tensor('float32', x, [n, ...model.shape]),
      sigma: new ort.Tensor('float32', Float32Array.from(t), [n]),
      decisions: new ort.Tensor('int64', BigInt64Array.from(k, BigInt), [n]),
      nfe_spent: new ort.Tensor('int64', BigInt64Array.from(spent, BigInt), [n]),
    });
    return res['mean']!.data as Float32Array;
  };
  const dispose = p.dispose.bind(p);
  p.dispose = async () => {
    await session.release();
    await dispose();
  };
  return p;
}
