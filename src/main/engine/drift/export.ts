// Exporting a drift policy (policy.ts) as one self-contained ONNX file, verified against the engine
// before it is written, with a JSON sidecar beside it:
//
//   inputs   x [N, ...shape] float32 (the state at the current level), sigma [N] float32 (σ > 0)
//   outputs  drift [N, ...shape]: v, the drift in units of the step's noise
//
// How a sampler uses it (metadata "step"): on Euler–Maruyama or DDIM with η > 0, the step's Gaussian
// N(m, c²·I) becomes N(m + c·v, c²·I) (kernels.ts, [Note: the drift step]); on the deterministic
// DDIM (η = 0) and ODE-Euler steps x' = m + √(κ/2)·v (the note on deterministic steps). The graph
// is policy.ts's: c_in(σ)·x (averaged over k×k blocks on images, as pooledEncoder), c_noise = ln(σ)/4,
// the MLP with SiLU between its layers.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { writeFilesAtomic } from '../io/atomic';
import { GraphBuilder, readMetadata } from '../onnx/graph';
import type { Model } from '../models/model';
import { ExportError, preconditionedStateGraph, sha256File } from '../learner/export';
import { Stream } from '../samplers/random';
import { VERSION } from '../../../shared/version';
import { DRIFT_FORMAT } from '../../../shared/policy-metadata';
import type { PolicyExportResult, TensorInfo } from '../../../shared/protocol';
import { DEFAULT_DRIFT_CONFIG, parseDriftConfig } from '../../../shared/drift-config';
import { isStochastic } from './kernels';
import { DriftPolicy } from './policy';

export { DRIFT_FORMAT };
const TOLERANCE = 1e-4;

/** The graph of the header from the policy's weights. */
export function driftGraph(p: DriftPolicy): GraphBuilder {
  const { model } = p;
  const g = new GraphBuilder('sampler_studio_drift');
  const x = g.input('x', 'float32', ['N', ...model.shape]);
  const sigma = g.input('sigma', 'float32', ['N']);
  const col = (v: string): string => g.op('Unsqueeze', [v, g.ints([1])]);
  const phi = preconditionedStateGraph(g, x, sigma, model.manifest.sigmaData, p.encoder.pool);
  const cNoise = g.op('Div', [g.op('Log', [sigma]), g.const(4)]);
  let h = g.op('Concat', [phi, col(cNoise)], { axis: 1 });
  const ws = p.net.getWeights(); // [W0, b0, W1, b1, …], W [in, out]
  for (let i = 0; i < ws.length; i += 2) {
    if (i > 0) h = g.op('Mul', [h, g.op('Sigmoid', [h])]);
    const out = ws[i + 1]!.length;
    h = g.op('Add', [g.op('MatMul', [h, g.const(ws[i]!, [ws[i]!.length / out, out])]), g.const(ws[i + 1]!, [out])]);
  }
  g.output(g.op('Reshape', [h, g.ints([-1, ...model.shape])]), 'drift', 'float32', ['N', ...model.shape]);
  return g;
}

/** The file's inputs and outputs, documented (shapes: N the batch). */
function driftTensors(shape: number[]): { inputs: TensorInfo[]; outputs: TensorInfo[] } {
  return {
    inputs: [
      { name: 'x', type: 'float32', shape: ['N', ...shape], doc: 'the state at the current level' },
      { name: 'sigma', type: 'float32', shape: ['N'], doc: 'the current level σ > 0' },
    ],
    outputs: [
      {
        name: 'drift',
        type: 'float32',
        shape: ['N', ...shape],
        doc: "v: the step's mean moves by c·v (stochastic samplers, c the step's noise) or √(κ/2)·v (deterministic ones)",
      },
    ],
  };
}

/** Writes RUN's drift policy to `out` (.onnx) and NAME.json beside it. */
export async function exportDrift(
  p: DriftPolicy,
  runDir: string,
  iteration: number,
  o: { out: string; force?: boolean; verifyStates?: number },
): Promise<PolicyExportResult> {
  const out = resolve(o.out);
  if (!/\.onnx$/i.test(out)) throw new ExportError(`${o.out}: the policy file's name must end in .onnx`);
  const sidecar = out.replace(/\.onnx$/i, '.json');
  if (!o.force)
    for (const f of [out, sidecar])
      if (existsSync(f))
        throw new ExportError(`${f} already exists; choose another path or pass --force to replace it`, 'exists');
  const c = p.config;
  const metadata: Record<string, string> = {
    format: DRIFT_FORMAT,
    sampler_studio_version: VERSION,
    intervention: 'drift',
    objective: c.objective,
    sampler: c.sampler,
    eta: String(c.eta),
    steps: String(c.steps),
    schedule: `edm, rho 7, sigma_min ${p.model.sigmaMin}, sigma_max ${p.model.sigmaMax}`,
    rewards: JSON.stringify(c.rewards),
    model: p.model.name,
    model_sha256: sha256File(p.model.onnxPath),
    run_id: basename(resolve(runDir)),
    iteration: String(iteration),
    step: isStochastic(c.sampler, c.eta)
      ? `the ${c.sampler} step's Gaussian N(m, c^2 I) becomes N(m + c * drift, c^2 I)`
      : `the ${c.sampler} step x' = m becomes x' = m + sqrt(kappa / 2) * drift`,
  };
  const g = driftGraph(p);
  const bytes = g.toBytes({
    producerName: 'sampler-studio',
    producerVersion: VERSION,
    docString: `Sampler Studio drift policy for ${p.model.name}: ${c.objective} on ${c.sampler}, ${c.steps} steps; run ${metadata['run_id']} iteration ${iteration}. Inputs: x, sigma; output: drift.`,
    metadata,
  });
  // Verify in a fresh session on states across the levels before anything is written.
  const n = o.verifyStates ?? 256;
  const dim = p.model.dim;
  const rng = new Stream(0xd1f7, 0);
  const { sigmaMin, sigmaMax } = p.model;
  const sigma = Float32Array.from({ length: n }, () =>
    Math.exp(Math.log(sigmaMin) + rng.uniform() * Math.log(sigmaMax / sigmaMin)),
  );
  const x = Float32Array.from({ length: n * dim }, (_, i) => sigma[Math.floor(i / dim)]! * rng.normal());
  const want = await p.drift(x, sigma);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], logSeverityLevel: 3 });
  let maxAbsDiff = 0;
  try {
    const res = await session.run({
      x: new ort.Tensor('float32', x, [n, ...p.model.shape]),
      sigma: new ort.Tensor('float32', sigma, [n]),
    });
    const got = res['drift']!.data as Float32Array;
    for (let i = 0; i < got.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i]! - want[i]!));
  } finally {
    await session.release();
  }
  if (!(maxAbsDiff <= TOLERANCE))
    throw new Error(
      `the exported graph's drift differs from the engine's by ${maxAbsDiff} (> ${TOLERANCE}) on ${n} states; nothing was written. Please report this with the run directory.`,
    );
  const verification = { states: n, maxAbsDiff, tolerance: TOLERANCE, runtime: 'onnxruntime-node/cpu' };
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  await writeFilesAtomic([
    { path: sidecar, data: JSON.stringify({ ...metadata, file: basename(out), sha256, verification }, null, 1) + '\n' },
    { path: out, data: bytes },
  ]);
  return {
    path: out,
    sidecar,
    schedule: null,
    bytes: bytes.length,
    opset: g.opset,
    irVersion: g.irVersion,
    ...driftTensors([...p.model.shape]),
    metadata,
    verification,
    seconds: 0,
  };
}

/** Whether an ONNX file is an exported drift policy (its metadata "format"). */
export function isDriftFile(path: string): boolean {
  if (!/\.onnx$/i.test(path) || !existsSync(path)) return false;
  try {
    return readMetadata(new Uint8Array(readFileSync(path)))['format'] === DRIFT_FORMAT;
  } catch {
    return false;
  }
}

/**
 * An exported drift policy as a policy that samples: the file's `drift` through ONNX Runtime in the
 * network's place (policy.ts `external`), its sampler and steps from the file's metadata.
 */
export async function openDriftFile(model: Model, path: string): Promise<DriftPolicy> {
  const meta = readMetadata(new Uint8Array(readFileSync(path)));
  if (meta['format'] !== DRIFT_FORMAT) throw new ExportError(`${path}: is not an exported drift policy`);
  if (meta['model'] !== model.name)
    throw new ExportError(`${path} was exported for "${meta['model']}", not for "${model.name}"`);
  const config = parseDriftConfig(
    {
      ...DEFAULT_DRIFT_CONFIG,
      objective: meta['objective'],
      sampler: meta['sampler'],
      eta: Number(meta['eta']),
      steps: Number(meta['steps']),
      rewards: JSON.parse(meta['rewards'] ?? '[]') as string[],
    },
    (k) => `${path}: metadata ${k}`,
  );
  const { initTf } = await import('../learner/backend');
  await initTf();
  const p = DriftPolicy.create(model, config);
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], logSeverityLevel: 3 });
  p.external = async (x, sigma) => {
    const res = await session.run({
      x: new ort.Tensor('float32', x, [sigma.length, ...model.shape]),
      sigma: new ort.Tensor('float32', sigma, [sigma.length]),
    });
    return res['drift']!.data as Float32Array;
  };
  const dispose = p.dispose.bind(p);
  p.dispose = () => {
    void session.release();
    dispose();
  };
  return p;
}
