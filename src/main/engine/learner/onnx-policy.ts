// Sampling with an exported policy file (export.ts) through ONNX Runtime, not the training heads:
// what a user takes home is what `sample --policy` and `eval --policy` measure. The file's metadata
// say which intervention, actions and base sampler it belongs to; anything missing or inconsistent
// is a PolicyFileError naming the file, the problem and the fix.

import { existsSync, readFileSync } from 'node:fs';
import { ModelError } from '../models/manifest';
import type { Model } from '../models/model';
import { createSession, type OrtSession } from '../onnx/runtime';
import { readMetadata } from '../onnx/graph';
import { resolveSettings, scheduleFor, type ResolvedSettings } from '../samplers/generate';
import { parsePolicyMetadata, POLICY_FORMAT } from '../../../shared/policy-metadata';
import { horizonFor } from './interventions';
import { policyFeeds, sha256File } from './export';
import { runModelDir } from '../runs/files';
import { loadRun } from '../runs/load';
import { logitsProblem, MAX_POLICY_LOGIT, type Learner } from './learner';
import {
  rolloutPolicy,
  type PolicySpec,
  type PolicyStates,
  type Rollout,
  type SampleOptions,
  type SamplingPolicy,
} from './rollout';

export class PolicyFileError extends Error {
  override name = 'PolicyFileError';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

const HOW = 'export one from a run with `npm run cli -- export --run RUN_DIR --out policy.onnx`';

/** True when `path` names a policy file rather than a run directory. */
export function isPolicyFile(path: string): boolean {
  return /\.onnx$/i.test(path);
}

/** The metadata of a policy file, checked; the model it was exported for. */
export function readPolicyMetadata(path: string): {
  meta: Record<string, string>;
  spec: PolicySpec;
  model: string;
  iteration: number;
} {
  if (!existsSync(path)) throw new PolicyFileError(`${path}: not found`, path);
  let meta: Record<string, string>;
  try {
    meta = readMetadata(new Uint8Array(readFileSync(path)));
  } catch (e) {
    throw new PolicyFileError(
      `${path}: not a readable ONNX file (${(e as Error).message}); is it complete? Re-export it (${HOW})`,
      path,
    );
  }
  if (meta['format'] !== POLICY_FORMAT) {
    throw new PolicyFileError(
      `${path}: has no Sampler Studio policy metadata (metadata_props "format" is ${meta['format'] === undefined ? 'missing' : `"${meta['format']}"`}); it is not an exported policy — ${HOW}`,
      path,
    );
  }
  const m = parsePolicyMetadata(meta);
  if (!m.ok) {
    if (m.problem === 'missing')
      throw new PolicyFileError(
        `${path}: its metadata lack "${m.key}"; the file is damaged or from an incompatible version — re-export it (${HOW})`,
        path,
      );
    throw new PolicyFileError(
      `${path}: metadata "${m.key}" = ${JSON.stringify(meta[m.key])} ${m.problem}; re-export it (${HOW})`,
      path,
    );
  }
  const v = m.value;
  const spec: PolicySpec = {
    intervention: v.intervention,
    divergence: v.divergence,
    conditioning: v.conditioning,
    stepInput: v.step_input,
    actions: v.actions,
    sampler: v.sampler,
    steps: v.steps,
    nfeBudget: v.nfe_budget,
    temperature: v.temperature,
  };
  return { meta, spec, model: v.model, iteration: v.iteration };
}

/** An exported policy, opened against `model`. */
export class OnnxPolicy implements SamplingPolicy {
  readonly H: number;
  readonly settings: ResolvedSettings;
  readonly schedule: Float64Array;
  /** Things the user should know (e.g. the denoiser file changed since export). */
  readonly warnings: string[] = [];

  private constructor(
    readonly path: string,
    readonly model: Model,
    readonly spec: PolicySpec,
    readonly iteration: number,
    readonly meta: Record<string, string>,
    private readonly session: OrtSession,
  ) {
    const num = (k: string): number => Number(meta[k]);
    try {
      this.settings = resolveSettings(model, {
        sampler: spec.sampler,
        steps: spec.steps,
        guidance: 1,
        churn: 0,
        sigmaMin: num('sigma_min'),
        sigmaMax: num('sigma_max'),
        rho: num('rho'),
      });
    } catch (e) {
      throw new PolicyFileError(
        `${path}: its sampler settings do not fit ${model.name} (${(e as Error).message})`,
        path,
      );
    }
    this.schedule = scheduleFor(model, this.settings);
    this.H = horizonFor(spec);
  }

  static async open(path: string, model: Model): Promise<OnnxPolicy> {
    const { meta, spec, model: modelName, iteration } = readPolicyMetadata(path);
    if (modelName !== model.name)
      throw new PolicyFileError(
        `${path}: was exported for the model "${modelName}", not "${model.name}"; pass --model ${modelName} (or that model's directory)`,
        path,
      );
    const shape = meta['model_shape'];
    if (shape !== undefined && shape !== JSON.stringify(model.shape))
      throw new PolicyFileError(
        `${path}: takes states of shape ${shape}, but ${model.name} has [${model.shape.join(', ')}]`,
        path,
      );
    let session: OrtSession;
    try {
      // Errors only: ORT warns that the optional input `temperature` has a default (an initializer).
      session = (await createSession(path, 'cpu', { logSeverityLevel: 3 })).session;
    } catch (e) {
      throw new PolicyFileError(
        e instanceof ModelError ? e.message : `${path}: ONNX Runtime cannot load it (${(e as Error).message})`,
        path,
      );
    }
    try {
      const want = [
        'x',
        'sigma',
        ...(spec.conditioning === 'state+class' ? ['class_labels'] : []),
        ...(spec.stepInput ? ['step'] : []),
      ];
      const missing = want.filter((n) => !session.inputNames.includes(n));
      const extra = session.inputNames.filter((n) => !want.includes(n) && n !== 'temperature');
      if (missing.length > 0 || extra.length > 0) {
        throw new PolicyFileError(
          `${path}: has inputs ${session.inputNames.map((n) => `"${n}"`).join(', ')}; a ${spec.conditioning}${spec.stepInput ? ' + step' : ''} policy takes ${want.map((n) => `"${n}"`).join(', ')} (and optionally "temperature") — ${HOW}`,
          path,
        );
      }
      for (const o of ['logits', 'probs']) {
        if (!session.outputNames.includes(o))
          throw new PolicyFileError(
            `${path}: has no output "${o}" (its outputs are ${session.outputNames.map((n) => `"${n}"`).join(', ')}) — ${HOW}`,
            path,
          );
      }
      const policy = new OnnxPolicy(path, model, spec, iteration, meta, session);
      const sha = meta['model_sha256'];
      if (sha && sha !== sha256File(model.onnxPath)) {
        policy.warnings.push(
          `${path}: was exported for a different ${model.name} denoiser file (SHA-256 ${sha.slice(0, 12)}…); it runs, but was not trained on this one`,
        );
      }
      // Probe: two states at the ends of the range must give K finite logits each.
      const probe = await policy.logits(probeStates(model));
      if (!probe.every(Number.isFinite))
        throw new PolicyFileError(
          `${path}: gives NaN/Inf logits on a probe batch; the file is damaged — re-export it`,
          path,
        );
      return policy;
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  /** [n, K] logits of the file for n states. */
  async logits(s: PolicyStates): Promise<Float32Array> {
    const K = this.spec.actions.length;
    let res;
    try {
      res = await this.session.run(policyFeeds(this.model, this.session.inputNames, s));
    } catch (e) {
      throw new PolicyFileError(
        `${this.path}: failed on a batch of ${s.n} states (${(e as Error).message.split('\n')[0]}); it must take x [N, ${this.model.shape.join(', ')}] float32 and sigma [N] float32`,
        this.path,
      );
    }
    const out = res['logits']!;
    if (out.type !== 'float32' || out.dims.length !== 2 || out.dims[0] !== s.n || out.dims[1] !== K) {
      throw new PolicyFileError(
        `${this.path}: output "logits" is ${out.type} [${out.dims.join(', ')}], expected float32 [${s.n}, ${K}] (one per action in its metadata)`,
        this.path,
      );
    }
    return out.data as Float32Array;
  }

  sample(n: number, seed: number, o: SampleOptions): Promise<Rollout> {
    return rolloutPolicy(this.model, this.settings, this.spec, this.H, (s) => this.logits(s), n, seed, {
      ...o,
      batch: o.batch ?? 1024,
      record: false,
    });
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/**
 * A run's EMA policy probed as an exported file is (two states at the ends of the σ range): NaN/Inf
 * or absurd logits mean the run had diverged when its checkpoint was written (an older version
 * trained on through NaN; today training stops first, learner.ts), and it is refused here rather
 * than sampled into NaN or failing inside the export's verification.
 */
/** Two states at the ends of the σ range (zeros, the null class, step 0): a healthy policy gives finite logits on both. */
function probeStates(model: Model): PolicyStates {
  return {
    n: 2,
    x: new Float32Array(2 * model.dim),
    sigma: Float32Array.from([model.sigmaMax, 0]),
    labels: model.numClasses > 0 ? new Int32Array(2).fill(model.nullClass ?? 0) : null,
    step: new Int32Array(2),
  };
}

export async function checkRunPolicy(learner: Learner, runDir: string): Promise<void> {
  const model = learner.model;
  const probe = await learner.emaLogits(probeStates(model));
  const worst = logitsProblem(probe);
  if (worst !== null)
    throw new PolicyFileError(
      `${runDir}: the EMA policy of its checkpoint (iteration ${learner.iteration}) gives ${Number.isNaN(worst) ? 'NaN/Inf' : 'absurd'} logits ` +
        `(${Number.isNaN(worst) ? 'not numbers' : `|logit| up to ${worst.toPrecision(3)}, where a trained policy's stay within ±${MAX_POLICY_LOGIT}`}): ` +
        'the run had diverged when it was written, so it can be neither sampled nor exported; train a new run with smaller learning rates',
      runDir,
    );
}

/** A policy from a run directory (its checkpoint's EMA heads, checked) or an exported .onnx file. */
export async function openPolicy(source: string, model: Model): Promise<SamplingPolicy & { warnings?: string[] }> {
  if (isPolicyFile(source)) return OnnxPolicy.open(source, model);
  const learner = await loadRun(source, model);
  try {
    await checkRunPolicy(learner, source);
  } catch (e) {
    await learner.dispose();
    throw e;
  }
  return learner;
}

/** The model a policy belongs to: the run's model directory, or the exported file's model name. */
export function policyModel(source: string): string {
  return isPolicyFile(source) ? readPolicyMetadata(source).model : runModelDir(source);
}
