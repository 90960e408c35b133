// TensorFlow.js backend selection for the learner, with fallbacks and an honest report of what runs.
//
//   chain: node-gpu (@tensorflow/tfjs-node-gpu, CUDA) → node (@tensorflow/tfjs-node, native CPU)
//          → wasm (@tensorflow/tfjs-backend-wasm, XNNPACK/SIMD) → cpu (plain JS, always there)
//
// `prefer` picks where in the chain to start: 'auto' and 'node-gpu' try everything, 'node' skips
// the GPU build, 'wasm' starts at wasm, 'cpu' goes straight to cpu. Later entries are always kept as
// fallbacks, so initTf never fails: the worst case is 'cpu', with every reason in `tried`.
//
// A backend only counts once a 2×2 matMul on it returns the right numbers; anything else (missing
// native binary, setBackend → false, a wrong or throwing smoke test) is recorded in `tried` as a
// short one-line message and the next backend is tried.
//
// [Note: idempotent]
// The first call decides, for the whole process: every later call returns that same result (the
// same promise) whatever `prefer` it passes, e.g. initTf('cpu') after initTf() still reports wasm.
// Backends cannot be un-registered and the native packages register kernels on import, so switching
// later would be half-done at best; to force a backend, make the first call name it.
//
// [Note: native packages]
// The optional native packages are loaded with dynamic import() so a missing binary is an error we
// catch, not a crash at module load. Before importing one we ask its own loader (node-pre-gyp, as
// its index does) where the binding should be: a failed import has already registered ~180 kernels
// for the 'tensorflow' backend, so importing the second package after the first failed would print
// a "kernel … already registered" warning for each. When the binding file is missing we record that
// instead of importing.
//
// [Note: wasm in Node]
// The wasm backend's Node build looks for its .wasm files next to its own script (__dirname), which
// breaks if that script is ever bundled; so we point setWasmPaths at the package's dist/ directory
// resolved from node_modules (a file path: in Node the module reads it with fs, no fetch).

import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export { tf };

export type TfBackendChoice = 'auto' | 'node-gpu' | 'node' | 'wasm' | 'cpu';

export interface TfInitResult {
  /** The tf backend name now active: 'tensorflow' (node-gpu or node), 'wasm' or 'cpu'. */
  backend: string;
  /** Every attempt in order; error null for the one that succeeded. */
  tried: { name: string; error: string | null }[];
}

const CHAIN = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
type Attempt = (typeof CHAIN)[number];

const PACKAGES: Record<'node-gpu' | 'node', string> = {
  'node-gpu': '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
};

let first: Promise<TfInitResult> | null = null;
let settled: TfInitResult | null = null;

/**
 * Selects and initialises a backend once per process (see the notes above). Never rejects once a
 * valid `prefer` got it started; an unknown `prefer` on the first call rejects with a RangeError
 * and decides nothing.
 */
export function initTf(prefer: TfBackendChoice = 'auto'): Promise<TfInitResult> {
  if (first) return first;
  if (!(prefer === 'auto' || (CHAIN as readonly string[]).includes(prefer))) {
    return Promise.reject(
      new RangeError(`initTf: unknown backend "${String(prefer)}"; expected auto, ${CHAIN.join(', ')}`),
    );
  }
  first = select(prefer).then((r) => (settled = r));
  return first;
}

/** The result of the first initTf call once it has finished; null before. */
export function tfInitResult(): TfInitResult | null {
  return settled;
}

async function select(prefer: TfBackendChoice): Promise<TfInitResult> {
  const start = prefer === 'auto' ? 0 : CHAIN.indexOf(prefer);
  const tried: TfInitResult['tried'] = [];
  for (const name of CHAIN.slice(start)) {
    let error: string | null;
    try {
      error = await attempt(name);
    } catch (e) {
      error = shortError(e);
    }
    tried.push({ name, error });
    if (error === null) return { backend: tf.getBackend(), tried };
  }
  // Unreachable in practice (cpu is built into @tensorflow/tfjs); report rather than throw.
  return { backend: tf.getBackend() ?? 'none', tried };
}

/** Tries one backend; null on success, else why not. */
async function attempt(name: Attempt): Promise<string | null> {
  let tfName: string;
  if (name === 'node-gpu' || name === 'node') {
    const missing = missingNativeBinding(PACKAGES[name]);
    if (missing) return missing;
    await import(/* @vite-ignore */ PACKAGES[name]);
    tfName = 'tensorflow';
  } else if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const dist = wasmDistDir();
    if (dist) {
      try {
        wasm.setWasmPaths(dist);
      } catch {
        // Already initialised by someone else: its paths stand.
      }
    }
    tfName = 'wasm';
  } else {
    tfName = 'cpu';
  }
  if (!tf.findBackendFactory(tfName)) return `backend '${tfName}' is not registered`;
  const ok = await tf.setBackend(tfName);
  const error = ok
    ? (await tf.ready(), smokeTest(tfName))
    : `tf.setBackend('${tfName}') returned false (initialisation failed)`;
  // node-gpu and node both register as 'tensorflow': drop a GPU build that loaded but does not work,
  // or the CPU package's registration would be ignored and its attempt would rerun the GPU one.
  if (error !== null && tfName === 'tensorflow') {
    try {
      tf.removeBackend(tfName);
    } catch {
      // nothing registered to drop
    }
  }
  return error;
}

/** A 2×2 matMul on the active backend; null when it is right. */
function smokeTest(tfName: string): string | null {
  if (tf.getBackend() !== tfName) return `active backend is '${tf.getBackend()}', not '${tfName}'`;
  const got = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2])).dataSync());
  const want = [19, 22, 43, 50];
  if (got.length !== 4 || want.some((w, i) => got[i] !== w))
    return `matMul smoke test gave [${Array.from(got).join(', ')}], expected [${want.join(', ')}]`;
  return null;
}

/**
 * Where the package's loader expects its native binding, when that file is missing; null when it
 * exists or when we cannot tell (then the import itself decides).
 */
function missingNativeBinding(pkg: string): string | null {
  let pkgJson: string;
  try {
    pkgJson = createRequire(import.meta.url).resolve(`${pkg}/package.json`);
  } catch {
    return `${pkg} is not installed`;
  }
  try {
    const req = createRequire(pkgJson);
    const preGyp = req('@mapbox/node-pre-gyp') as { find(packageJsonPath: string): string };
    const binding = preGyp.find(pkgJson);
    return existsSync(binding) ? null : `native binding not found: ${binding}`;
  } catch {
    return null;
  }
}

/** tfjs-backend-wasm's dist/ directory (with a trailing separator), or null if it cannot be resolved. */
function wasmDistDir(): string | null {
  try {
    const pkgJson = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
    const dir = join(dirname(pkgJson), 'dist');
    return existsSync(join(dir, 'tfjs-backend-wasm.wasm')) ? dir + '/' : null;
  } catch {
    return null;
  }
}

/** First line of an error message, at most 200 characters. */
function shortError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const line = (msg.split('\n')[0] ?? '').trim() || 'unknown error';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}
