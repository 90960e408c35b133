// Exporting a learned policy as one self-contained, self-describing ONNX file: the EMA policy head,
// the frozen state encoder φ (c_in·x, or the model's encoder graph merged in under "encoder/") and
// the σ / class / step embeddings, so a user samples with it in any runtime without us.
//
//   inputs   x [N, ...shape] float32, sigma [N] float32 (0 = the terminal state),
//            class_labels [N] int64 (policies that see the class), step [N] int64 (policies that see
//            the loop iteration t), temperature [] float32 (optional, default 1)
//   outputs  logits [N, K] (the head's, before τ), probs [N, K] = softmax(logits / τ)
//
// [Note: the optional temperature]
// `temperature` is an input backed by an initializer of the same name, ONNX's way of giving an input
// a default. Python's onnxruntime takes it as a feed (sess.run(None, {..., "temperature": τ})); the
// JavaScript bindings (onnxruntime-node/web) feed only inputs without a default, so there τ stays 1
// and softmax(logits / τ) is computed from `logits` — which is what the engine does anyway.
//
// The graph computes heads.ts's featurize + Mlp.apply with the weights split by input block:
//   h₁ = φ·W_x + [c, terminal]·W_c + sin(π f c)·W_sin + cos(π f c)·W_cos + W_class[label] + W_step[t] + b
// (a one-hot times W is a row of W, so class and step are Gathers), c = ln σ / 4 (σ_min/2 at the
// terminal state), then SiLU layers as in the engine.
//
// [Note: masks stay with the sampler]
// The file gives the distribution over all K actions. Which actions are allowed in a state (renoise:
// jumps that could no longer finish within the NFE budget or horizon) depends on the trajectory's
// history (NFE spent, iteration), not on the state the file sees; the sampler masks them and
// renormalises, as `metadata_props["action_mask"]` says.
//
// [Note: verified before it is written]
// The bytes are loaded in a fresh ONNX Runtime session and checked against the engine's EMA heads on
// states of an EMA rollout before the file is written (atomically, a temp file renamed); a file
// whose logits differ by more than 1e-4 is never written.
//
// [Note: the pair]
// policy.onnx and its sidecar policy.json are written as one unit (io/atomic.ts writeFilesAtomic):
// both to temp files first, then the sidecar renamed into place, then the policy. A kill between
// the two renames leaves a policy.json without its policy.onnx — never a policy.onnx without the
// sidecar that describes it (the sidecar holds the file's sha256). The next export recognises such
// a sidecar as its own leftover (our format, naming this file) and writes the pair without --force,
// and first removes the temp files that killed exports of this pair left behind.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { removeStaleTemps, writeFilesAtomic } from '../io/atomic';
import { GraphBuilder, GraphMergeError } from '../onnx/graph';
import { VERSION } from '../../../shared/version';
import type { PolicyExportResult, TensorInfo } from '../../../shared/protocol';
import type { Model } from '../models/model';
import { readMetrics } from '../runs/files';
import type { Learner } from './learner';
import type { PolicyStates } from './rollout';
import { POLICY_FORMAT, SCHEDULER_FORMAT } from '../../../shared/policy-metadata';

/** A problem the user can fix (an existing file, a bad path, an encoder that cannot be merged). */
export class ExportError extends Error {
  override name = 'ExportError';
  constructor(
    message: string,
    /** `exists`: the file is there and force was not given. */
    readonly code: 'exists' | 'invalid' = 'invalid',
  ) {
    super(message);
  }
}

/** Largest |logit difference| the export accepts between the file and the engine. */
export const EXPORT_TOLERANCE = 1e-4;

export type { TensorInfo };
export type ExportResult = PolicyExportResult;

export interface ExportOptions {
  out: string;
  /** Replace an existing file. */
  force?: boolean;
  /** The run directory (its id and evaluation metrics go into the metadata and sidecar). */
  runDir: string;
  /** States checked against the engine (default 512). */
  verifyStates?: number;
}

/** SHA-256 of a file, hex. */
export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** `policy.onnx` → `policy.json`. */
export function sidecarPath(out: string): string {
  return out.replace(/\.onnx$/i, '') + '.json';
}

/** The sidecar at `sidecar` if it is one an export of `out` wrote (our format, naming that file), else null. */
function leftSidecar(sidecar: string, out: string): { sha256?: string; format?: string } | null {
  try {
    const side = JSON.parse(readFileSync(sidecar, 'utf8')) as Record<string, unknown>;
    return (side['format'] === POLICY_FORMAT || side['format'] === SCHEDULER_FORMAT) && side['file'] === basename(out)
      ? (side as { sha256?: string; format?: string })
      : null;
  } catch {
    return null;
  }
}

/**
 * An exported policy's two files, for a download from web mode (the engine's disk is not the
 * browser's): only a .onnx whose sidecar is ours and names it, and whose bytes match the sidecar's
 * sha256, so nothing else on the engine's machine can be read this way.
 */
export function exportedFiles(path: string): {
  name: string;
  onnx: Buffer;
  sidecarName: string;
  sidecar: string;
  /** A step scheduler's mean schedule beside it (NAME.schedule.json), else null. */
  schedule: { name: string; text: string } | null;
} {
  const out = resolve(path);
  if (!/\.onnx$/i.test(out)) throw new ExportError(`${path}: not a policy file (.onnx)`);
  const sidecar = sidecarPath(out);
  const schedule = out.replace(/\.onnx$/i, '.schedule.json');
  const side = existsSync(out) ? leftSidecar(sidecar, out) : null;
  if (!side)
    throw new ExportError(
      `${path}: no exported policy there (it needs its ${basename(sidecar)} beside it); export it first`,
    );
  if (side.sha256 !== sha256File(out))
    throw new ExportError(
      `${path} does not match its ${basename(sidecar)} (changed since it was exported); export it again`,
    );
  return {
    name: basename(out),
    onnx: readFileSync(out),
    sidecarName: basename(sidecar),
    sidecar: readFileSync(sidecar, 'utf8'),
    schedule:
      side.format === SCHEDULER_FORMAT && existsSync(schedule)
        ? { name: basename(schedule), text: readFileSync(schedule, 'utf8') }
        : null,
  };
}

/** Rows [start, start + count) of a row-major [*, cols] matrix, every `stride`-th row. */
function rows(W: Float32Array, cols: number, start: number, count: number, stride = 1): Float32Array {
  const out = new Float32Array(count * cols);
  for (let r = 0; r < count; r++)
    out.set(W.subarray((start + r * stride) * cols, (start + r * stride + 1) * cols), r * cols);
  return out;
}

/** The last evaluation metrics of a run (metrics.jsonl: the final eval/… or, before it, periodic/…), or {}. */
function lastEvaluation(runDir: string): Record<string, number> {
  let out: Record<string, number> = {};
  for (const m of readMetrics(runDir)) {
    const ev = Object.fromEntries(Object.entries(m).filter(([k]) => /^(eval|periodic)\//.test(k)));
    if (Object.keys(ev).length > 0) out = { iteration: m['iteration']!, ...ev };
  }
  return out;
}

/** What the file says it is: the policy, its sampler, its model, its run. */
export function policyMetadata(learner: Learner, runDir: string): Record<string, string> {
  const c = learner.config;
  const m = learner.model;
  const s = learner.settings;
  return {
    format: POLICY_FORMAT,
    sampler_studio_version: VERSION,
    intervention: c.intervention,
    actions: JSON.stringify(c.actions),
    divergence: c.divergence,
    conditioning: c.conditioning,
    step_input: String(c.stepInput),
    temperature: String(c.temperature),
    sampler: c.sampler,
    steps: String(c.steps),
    sigma_min: String(s.sigmaMin),
    sigma_max: String(s.sigmaMax),
    rho: String(s.rho),
    nfe_budget: String(c.nfeBudget),
    horizon: String(learner.H),
    model: m.name,
    model_sha256: sha256File(m.onnxPath),
    model_shape: JSON.stringify(m.shape),
    num_classes: String(m.numClasses),
    null_class: String(m.nullClass),
    encoder: learner.encoder.name,
    run_id: basename(resolve(runDir)),
    iteration: String(learner.iteration),
    action_mask:
      c.intervention === 'renoise'
        ? 'the sampler must mask jumps that could no longer finish: jump k from level i is allowed only if i - k >= 0 and NFE spent + NFE to finish from level i - k <= nfe_budget and t + 1 + (steps - (i - k)) <= horizon; sample from probs renormalised over the allowed actions'
        : 'none: every action is allowed in every state',
  };
}

/** The model's encoder graph merged into `g` under "encoder/", fed x and σ; its output's name. */
export function mergeEncoder(
  g: GraphBuilder,
  model: Pick<Model, 'dir' | 'manifest'>,
  x: string,
  sigma: string,
): string {
  const spec = model.manifest.encoder;
  if (!spec) throw new ExportError(`${model.manifest.name} has no "encoder" in its model.json to merge`);
  const path = isAbsolute(spec.onnx) ? spec.onnx : join(model.dir, spec.onnx);
  try {
    return g.merge(
      new Uint8Array(readFileSync(path)),
      'encoder/',
      { [spec.inputs.x]: x, [spec.inputs.sigma]: sigma },
      spec.output,
    );
  } catch (e) {
    if (e instanceof GraphMergeError) throw new ExportError(`${path}: the encoder ${e.message}`);
    throw e;
  }
}

/**
 * φ = c_in(σ)·x in `g` (c_in = 1/√(σ² + σ_data²), EDM's preconditioning), flattened to [N, D]; with
 * `pool` k, averaged over k×k blocks first (AveragePool with ceil_mode and no padding counted, as
 * learner/encoder.ts pooledEncoder averages a partial block). The pooled state of the RL step
 * scheduler's and the drift policies' graphs.
 */
export function preconditionedStateGraph(
  g: GraphBuilder,
  x: string,
  sigma: string,
  sigmaData: number,
  pool?: number,
): string {
  const cin = g.op('Reciprocal', [
    g.op('Sqrt', [g.op('Add', [g.op('Mul', [sigma, sigma]), g.const(sigmaData * sigmaData)])]),
  ]);
  if (pool === undefined)
    return g.op('Mul', [g.op('Flatten', [x], { axis: 1 }), g.op('Unsqueeze', [cin, g.ints([1])])]);
  const scaled = g.op('Mul', [x, g.op('Reshape', [cin, g.ints([-1, 1, 1, 1])])]);
  const pooled = g.op('AveragePool', [scaled], {
    kernel_shape: [pool, pool],
    strides: [pool, pool],
    ceil_mode: 1,
    count_include_pad: 0,
  });
  return g.op('Flatten', [pooled], { axis: 1 });
}

/** The policy graph (see the header) from the learner's EMA weights. */
export function policyGraph(learner: Learner): { g: GraphBuilder; inputs: TensorInfo[]; outputs: TensorInfo[] } {
  const model = learner.model;
  const l = learner.layout;
  const c = learner.config;
  const K = c.actions.length;
  const Hd = c.hidden;
  const ws = learner.policyEma; // [W0, b0, W1, b1, …], W [in, out]
  const g = new GraphBuilder('sampler_studio_policy');
  const inputs: TensorInfo[] = [
    { name: 'x', type: 'float32', shape: ['N', ...model.shape], doc: 'the current state x_t' },
    { name: 'sigma', type: 'float32', shape: ['N'], doc: 'its noise level σ_t (0 for the final, clean state)' },
  ];
  const x = g.input('x', 'float32', ['N', ...model.shape]);
  const sigma = g.input('sigma', 'float32', ['N']);
  let labels: string | null = null;
  let step: string | null = null;
  if (l.classes > 0) {
    labels = g.input('class_labels', 'int64', ['N']);
    inputs.push({
      name: 'class_labels',
      type: 'int64',
      shape: ['N'],
      doc: `the conditioning class (0..${model.numClasses - 1}, ${model.nullClass} = null/unconditional)`,
    });
  }
  if (l.steps > 0) {
    step = g.input('step', 'int64', ['N']);
    inputs.push({ name: 'step', type: 'int64', shape: ['N'], doc: `the sampler loop iteration t (0..${learner.H})` });
  }
  const temperature = g.inputWithDefault('temperature', 'float32', [], new Float32Array([1]));
  inputs.push({
    name: 'temperature',
    type: 'float32',
    shape: [],
    doc: 'optional sampling temperature τ (default 1): probs = softmax(logits / τ)',
  });

  // σ embedding: c = ln σ / 4, σ_min/2 at the terminal state; its Fourier features.
  const terminal = g.op('LessOrEqual', [sigma, g.const(0)]);
  const sigmaEff = g.op('Where', [terminal, g.const(model.sigmaMin / 2), sigma]);
  const cNoise = g.op('Unsqueeze', [g.op('Mul', [g.op('Log', [sigmaEff]), g.const(0.25)]), g.ints([1])]); // [N, 1]
  const flag = g.op('Unsqueeze', [g.op('Cast', [terminal], { to: 1 }), g.ints([1])]); // [N, 1] float
  const W0 = ws[0]!;
  let o = 0;
  const terms: string[] = [];
  if (l.xDim > 0) {
    // φ(x, σ): the model's encoder graph, or c_in(σ)·x.
    let phi: string;
    if (model.manifest.encoder) {
      phi = mergeEncoder(g, model, x, g.op('Where', [terminal, g.const(model.sigmaMin), sigma]));
    } else {
      const sd = model.manifest.sigmaData;
      const cin = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [g.op('Mul', [sigma, sigma]), g.const(sd * sd)])])]);
      phi = g.op('Mul', [g.op('Flatten', [x], { axis: 1 }), g.op('Unsqueeze', [cin, g.ints([1])])]);
    }
    terms.push(g.op('MatMul', [phi, g.const(rows(W0, Hd, 0, l.xDim), [l.xDim, Hd])]));
    o = l.xDim;
  }
  terms.push(g.op('MatMul', [g.op('Concat', [cNoise, flag], { axis: 1 }), g.const(rows(W0, Hd, o, 2), [2, Hd])]));
  o += 2;
  const F = l.sigmaFrequencies;
  if (F > 0) {
    const arg = g.op('Mul', [
      cNoise,
      g.const(
        Array.from({ length: F }, (_, f) => Math.PI * (f + 1)),
        [1, F],
      ),
    ]); // [N, F]
    terms.push(g.op('MatMul', [g.op('Sin', [arg]), g.const(rows(W0, Hd, o, F, 2), [F, Hd])]));
    terms.push(g.op('MatMul', [g.op('Cos', [arg]), g.const(rows(W0, Hd, o + 1, F, 2), [F, Hd])]));
    o += 2 * F;
  }
  // One-hots times W: rows of W, the index clipped as featurize clips it.
  const oneHotRows = (index: string, width: number): string => {
    const table = g.const(rows(W0, Hd, o, width), [width, Hd]);
    o += width;
    return g.op(
      'Gather',
      [
        table,
        g.op('Clip', [
          index,
          g.tensor('lo', BigInt64Array.from([0n]), [], 'int64'),
          g.tensor('hi', BigInt64Array.from([BigInt(width - 1)]), [], 'int64'),
        ]),
      ],
      { axis: 0 },
    );
  };
  if (labels) terms.push(oneHotRows(labels, l.classes));
  if (step) terms.push(oneHotRows(step, l.steps));
  let h = g.op('Add', [terms.reduce((a, b) => g.op('Add', [a, b])), g.const(ws[1]!, [Hd])]);
  // The remaining layers: SiLU, then affine.
  for (let k = 2; k < ws.length; k += 2) {
    h = g.op('Mul', [h, g.op('Sigmoid', [h])]);
    const outDim = ws[k + 1]!.length;
    h = g.op('Add', [
      g.op('MatMul', [h, g.const(ws[k]!, [ws[k]!.length / outDim, outDim])]),
      g.const(ws[k + 1]!, [outDim]),
    ]);
  }
  g.output(h, 'logits', 'float32', ['N', K]);
  g.output(g.op('Softmax', [g.op('Div', [h, temperature])], { axis: -1 }), 'probs', 'float32', ['N', K]);
  const outputs: TensorInfo[] = [
    {
      name: 'logits',
      type: 'float32',
      shape: ['N', K],
      doc: `the policy's logits over the actions ${JSON.stringify(c.actions)}`,
    },
    { name: 'probs', type: 'float32', shape: ['N', K], doc: 'softmax(logits / temperature)' },
  ];
  return { g, inputs, outputs };
}

/** ONNX Runtime feeds for states, as the exported file takes them. */
export function policyFeeds(
  model: Pick<Model, 'shape'>,
  inputNames: readonly string[],
  s: PolicyStates,
): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {
    x: new ort.Tensor('float32', s.x, [s.n, ...model.shape]),
    sigma: new ort.Tensor('float32', s.sigma, [s.n]),
  };
  if (inputNames.includes('class_labels')) {
    if (!s.labels) throw new RangeError('this policy needs class labels');
    feeds['class_labels'] = new ort.Tensor('int64', BigInt64Array.from(s.labels, BigInt), [s.n]);
  }
  if (inputNames.includes('step')) feeds['step'] = new ort.Tensor('int64', BigInt64Array.from(s.step, BigInt), [s.n]);
  return feeds;
}

/** Up to `count` states from an EMA rollout (every level, the terminal one included) and the engine's EMA logits there. */
async function verificationStates(
  learner: Learner,
  count: number,
): Promise<{ states: PolicyStates; logits: Float32Array }> {
  const n = Math.max(1, Math.ceil(count / (learner.H + 1)));
  const ro = await learner.rollout(n, 20_251_124, { temperature: 1, weights: 'ema' });
  const total = ro.n * (ro.H + 1);
  const m = Math.min(count, total);
  const dim = learner.model.dim;
  const pick = Int32Array.from({ length: m }, (_, i) => Math.floor((i * total) / m));
  const states: PolicyStates = {
    n: m,
    x: new Float32Array(m * dim),
    sigma: Float32Array.from(pick, (i) => ro.sigma[i]!),
    labels: ro.labels ? Int32Array.from(pick, (i) => ro.labels![i]!) : null,
    step: Int32Array.from(pick, (i) => i % (ro.H + 1)),
  };
  pick.forEach((i, r) => states.x.set(ro.x.subarray(i * dim, (i + 1) * dim), r * dim));
  return { states, logits: await learner.emaLogits(states) };
}

/** Why a write failed, in words (the codes a path chosen by hand runs into). */
function errnoReason(code: string): string {
  const words: Record<string, string> = {
    EACCES: 'permission denied (choose a folder you can write to)',
    EPERM: 'operation not permitted (choose a folder you can write to)',
    EROFS: 'the file system is read-only',
    ENOSPC: 'no space left on the device',
    ENOENT: 'the folder does not exist',
    ENOTDIR: 'a part of the path is a file, not a folder',
    EISDIR: 'the path is a folder',
  };
  return words[code] ?? code;
}

/** The folder the policy goes in must exist and be one: an export creates no folders (a typo would create one silently). */
function checkFolder(given: string, out: string): void {
  const dir = dirname(out);
  if (!existsSync(dir))
    throw new ExportError(`${given}: the folder ${dir} does not exist; create it first or choose another path`);
  if (!statSync(dir).isDirectory()) throw new ExportError(`${given}: ${dir} is a file, not a folder`);
  if (existsSync(out) && statSync(out).isDirectory())
    throw new ExportError(`${given} is a folder; give a file name ending in .onnx`);
}

/** Builds, verifies and writes the learner's EMA policy as ONNX (+ a JSON sidecar). */
export async function exportPolicy(learner: Learner, o: ExportOptions): Promise<ExportResult> {
  const t0 = performance.now();
  await learner.ready(); // an untrained learner's initial policy is cloned before it is read
  const out = resolve(o.out);
  if (!/\.onnx$/i.test(out)) throw new ExportError(`${o.out}: the policy file's name must end in .onnx`);
  checkFolder(o.out, out);
  const sidecar = sidecarPath(out);
  if (!o.force) {
    const left = leftSidecar(sidecar, out);
    if (existsSync(out)) {
      const torn = left && left.sha256 !== sha256File(out);
      throw new ExportError(
        `${out} already exists${torn ? ` (and ${basename(sidecar)} beside it describes another file: an export was cut short)` : ''}; choose another path or pass --force to replace it`,
        'exists',
      );
    }
    if (existsSync(sidecar) && !left)
      throw new ExportError(`${sidecar} already exists; choose another path or pass --force to replace it`, 'exists');
  }
  const { g, inputs, outputs } = policyGraph(learner);
  const metadata = policyMetadata(learner, o.runDir);
  const evaluation = lastEvaluation(o.runDir); // read (a damaged metrics.jsonl refused) before anything is written
  const c = learner.config;
  const bytes = g.toBytes({
    producerName: 'sampler-studio',
    producerVersion: VERSION,
    docString: `Sampler Studio ${c.intervention} policy (${c.divergence}, ${c.conditioning}) for ${learner.model.name}, ${c.sampler} ${c.steps} steps; run ${metadata['run_id']} iteration ${learner.iteration}. Inputs: ${inputs.map((i) => i.name).join(', ')}; outputs: logits, probs.`,
    metadata,
  });

  // Verify in a fresh session before anything is written.
  const { states, logits: want } = await verificationStates(learner, o.verifyStates ?? 512);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], logSeverityLevel: 3 });
  let maxAbsDiff = 0;
  try {
    const res = await session.run(policyFeeds(learner.model, session.inputNames, states));
    const got = res['logits']!.data as Float32Array;
    for (let i = 0; i < want.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i]! - want[i]!));
    if (!(maxAbsDiff <= EXPORT_TOLERANCE)) {
      throw new Error(
        `the exported graph's logits differ from the engine's by ${maxAbsDiff} (> ${EXPORT_TOLERANCE}) on ${states.n} states; nothing was written. Please report this with the run directory.`,
      );
    }
  } finally {
    await session.release();
  }
  const verification = { states: states.n, maxAbsDiff, tolerance: EXPORT_TOLERANCE, runtime: 'onnxruntime-node/cpu' };
  const result: ExportResult = {
    path: out,
    sidecar,
    bytes: bytes.length,
    opset: g.opset,
    irVersion: g.irVersion,
    inputs,
    outputs,
    metadata,
    verification,
    seconds: 0,
    schedule: null,
  };
  const side = {
    ...metadata,
    actions: c.actions,
    opset: g.opset,
    ir_version: g.irVersion,
    inputs,
    outputs,
    evaluation,
    verification,
    run_dir: resolve(o.runDir),
    file: basename(out),
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  // The pair as one unit, the sidecar first: see the note on the pair.
  try {
    for (const p of [out, sidecar]) await removeStaleTemps(p);
    await writeFilesAtomic([
      { path: sidecar, data: JSON.stringify(side, null, 2) + '\n' },
      { path: out, data: bytes },
    ]);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!code) throw e;
    // Node's message names the temp file the pair is written through; the user needs their path and the reason.
    throw new ExportError(`could not write ${out}: ${errnoReason(code)}`);
  }
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}
