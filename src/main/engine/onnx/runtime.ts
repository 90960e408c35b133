// ONNX Runtime sessions: created once per file, CUDA where the user installed it, else CPU, and
// always telling which one runs.
//
// [Note: CUDA is optional]
// onnxruntime-node ships its CPU provider in the npm package; the CUDA provider's libraries are
// fetched by the package's install script, which package.json's allowScripts denies (nothing may
// download here). `auto` tries CUDA only when its provider library is present, so a machine
// without it never pays for a failed attempt.
//
// [Note: CPU threads]
// ONNX Runtime's CPU provider, left to its own default in onnxruntime-node, ran the fashion-mnist
// denoiser on one core of two: 617 images/s per NFE at batch 256 against 1,023 with intraOpNumThreads
// 2 (`npm run bench -- fashion-mnist` prints both), the outputs bit-identical (test/threads.test.ts).
// So every CPU session asks for one thread per core that Node sees (os.availableParallelism).
// SAMPLER_STUDIO_THREADS=N overrides it: 1 lets two runs share a 2-core machine side by side
// without oversubscribing it.
//
// [Note: memory pattern]
// ONNX Runtime's memory pattern (on by default) plans one block for all of a run's intermediate
// tensors from the first run of each input shape and allocates it on the second. Our batches change
// shape all the time: a guided rollout stacks the rows with w ≠ 1 twice, so under a policy every step
// has its own 256 + k rows, and each new shape paid a plan and a fresh block. On fashion-mnist's
// denoiser (2 threads, a quiet 2-core CPU) 60 batches of random sizes in [256, 512) ran at 585–858
// rows/s with the pattern and 931–934 without, and the process held 1.66 GiB against 1.02; at one
// fixed shape the two were equal (238 vs 240 ms a call after the first), and the pattern's second
// call cost 1.0 s more (a first training iteration paid it for every new shape). So CPU sessions
// run without it; `npm run bench -- fashion-mnist` prints the two side by side. (CUDA sessions keep
// ONNX Runtime's defaults: not measured.)

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ortModule from 'onnxruntime-node';
import { ModelError } from '../models/manifest';

export const ort = ortModule;
export type OrtSession = ortModule.InferenceSession;

function cudaProviderInstalled(): boolean {
  try {
    const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
    const bin = join(dirname(pkg), 'bin', `napi-v6`, process.platform, process.arch);
    return (
      existsSync(join(bin, 'libonnxruntime_providers_cuda.so')) ||
      existsSync(join(bin, 'onnxruntime_providers_cuda.dll'))
    );
  } catch {
    return false;
  }
}

export const THREADS_ENV = 'SAMPLER_STUDIO_THREADS';

/** Threads of each CPU session's intra-op pool: SAMPLER_STUDIO_THREADS, else one per core ([Note: CPU threads]). */
export function cpuThreads(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[THREADS_ENV];
  if (raw === undefined || raw.trim() === '') return availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1024)
    throw new RangeError(
      `${THREADS_ENV}=${raw}: expected a whole number of CPU threads in [1, 1024] (unset it to use every core, ${availableParallelism()} here)`,
    );
  return n;
}

export interface SessionInfo {
  session: OrtSession;
  /** 'onnxruntime-node/cuda' or 'onnxruntime-node/cpu'. */
  backend: string;
}

/**
 * The CPU provider's settings: threads ([Note: CPU threads]; checked first, so a bad
 * SAMPLER_STUDIO_THREADS is named) and no memory pattern ([Note: memory pattern]).
 */
export function cpuOptions(): ortModule.InferenceSession.SessionOptions {
  return { intraOpNumThreads: cpuThreads(), enableMemPattern: false };
}

/** Opens `path` with the preferred execution provider, falling back to CPU. */
export async function createSession(
  path: string,
  device: 'auto' | 'cpu' | 'cuda' = 'auto',
  extra: ortModule.InferenceSession.SessionOptions = {},
): Promise<SessionInfo> {
  const base: ortModule.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', ...extra };
  if (device === 'cuda' || (device === 'auto' && cudaProviderInstalled())) {
    try {
      const session = await ort.InferenceSession.create(path, { ...base, executionProviders: ['cuda'] });
      return { session, backend: 'onnxruntime-node/cuda' };
    } catch (e) {
      if (device === 'cuda') {
        const err = new ModelError(
          `${path}: could not start ONNX Runtime's CUDA provider (${(e as Error).message.split('\n')[0]}); use --device cpu or install the CUDA provider`,
          path,
          'device',
        );
        err.cause = e;
        throw err;
      }
    }
  }
  const cpu = cpuOptions(); // outside the try: a bad SAMPLER_STUDIO_THREADS is its own error, not the file's
  try {
    const session = await ort.InferenceSession.create(path, { ...cpu, ...base, executionProviders: ['cpu'] });
    return { session, backend: 'onnxruntime-node/cpu' };
  } catch (e) {
    const msg = (e as Error).message;
    throw new ModelError(
      `${path}: ONNX Runtime cannot load this file (${msg.split('\n')[0]}); is it a complete, valid ONNX model?`,
      path,
      'onnx',
    );
  }
}
