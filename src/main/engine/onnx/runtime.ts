// ONNX Runtime sessions: created once per file, CUDA where the user installed it, else CPU, and
// always telling which one runs.
//
// [Note: CUDA is optional]
// onnxruntime-node ships its CPU provider in the npm package; the CUDA provider's libraries are
// fetched by the package's install script, which package.json's allowScripts denies (nothing may
// download here). `auto` tries CUDA only when its provider library is present, so a machine
// without it never pays for a failed attempt.

import { existsSync } from 'node:fs';
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

export interface SessionInfo {
  session: OrtSession;
  /** 'onnxruntime-node/cuda' or 'onnxruntime-node/cpu'. */
  backend: string;
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
  try {
    const session = await ort.InferenceSession.create(path, { ...base, executionProviders: ['cpu'] });
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
