// The one message protocol between the UI and the engine, whatever carries it: an Electron
// MessagePort to the utility process, a WebSocket (web mode) or a child process's IPC (tests).
//
//   UI → engine   { kind: 'request', id, method, params }
//   engine → UI   { kind: 'response', id, ok: true, result } | { kind: 'response', id, ok: false, error }
//                 { kind: 'event', event }            (streamed: progress, metrics, profile, samples, log)
//
// [Note: nothing is trusted across a boundary]
// Every message is `unknown` until `parseRequest` / `parseServerMessage` narrow it. A malformed
// message gets an error reply naming what is wrong (with its id when it had a usable one) and never
// reaches the engine's handlers; the engine keeps serving.

import { isEngineEvent, type EngineEvent } from './events';

export const PROTOCOL_VERSION = 1;

/** What the engine says about itself. */
export interface EngineInfo {
  version: string;
  protocol: number;
  node: string;
  /** ONNX Runtime execution provider used for models opened so far, e.g. "onnxruntime-node/cpu". */
  onnxBackend: string | null;
  /** TensorFlow.js backend of the learner once it has started, e.g. "wasm". */
  tfBackend: string | null;
}

/** A model in the list: bundled or opened from a directory. */
export interface ModelSummary {
  id: string;
  dir: string;
  bundled: boolean;
  name: string | null;
  description: string;
  shape: number[];
  numClasses: number;
  /** Why the manifest could not be read (the model is listed, but cannot be used). */
  error: string | null;
}

/** A model opened and checked: its manifest facts, or what is wrong and how to fix it. */
export interface ModelReport {
  summary: ModelSummary;
  ok: boolean;
  /** The validation error (file, manifest key, message with the fix) when not ok. */
  problem: { message: string; file: string | null; key: string | null } | null;
  facts: Record<string, string | number | boolean | null> | null;
}

/** A run directory as the Runs screen lists it. */
export interface RunSummary {
  dir: string;
  model: string;
  intervention: string;
  divergence: string;
  conditioning: string;
  iteration: number;
  iterations: number;
  /** The last metrics line, or null before the first iteration. */
  last: Record<string, number> | null;
  /** Whether this engine is training it right now. */
  active: boolean;
}

/** The policy next to its baselines (same sampler, steps, seed and n), as `eval --policy` prints it. */
export interface ComparisonResult {
  run: string;
  model: string;
  iteration: number;
  n: number;
  seed: number;
  temperature: number;
  /** nfe: guided denoiser evaluations D_w per sample; networkEvals: network passes per sample (a guided D_w with w ≠ 1 costs two). */
  rows: { name: string; nfe: number; networkEvals: number; summary: Record<string, number>; pngBase64?: string }[];
  profile: number[][];
  sigmas: number[];
  actions: number[];
}

/** An input or output of an exported policy file. */
export interface TensorInfo {
  name: string;
  type: 'float32' | 'int64';
  shape: (number | string)[];
  doc: string;
}

/** What `export` wrote and how it was checked. */
export interface PolicyExportResult {
  path: string;
  /** The JSON sidecar beside it (metadata + evaluation metrics). */
  sidecar: string;
  bytes: number;
  opset: number;
  irVersion: number;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  metadata: Record<string, string>;
  /** The file's logits against the engine's EMA heads on states of a rollout, in a fresh ONNX Runtime session. */
  verification: { states: number; maxAbsDiff: number; tolerance: number; runtime: string };
  seconds: number;
}

/** Requests: method → params and result. */
export interface Methods {
  'engine.info': { params: Record<string, never>; result: EngineInfo };
  'models.list': { params: Record<string, never>; result: ModelSummary[] };
  'models.open': { params: { dir: string }; result: ModelReport };
  /** A model's preview picture: its preview.png, else samples drawn now (Heun 18, w = 1, seed 0). */
  'models.preview': { params: { dir: string }; result: { pngBase64: string; source: 'file' | 'sampled' } };
  'train.start': { params: { model: string; runDir: string; config: Record<string, unknown> }; result: { run: string } };
  'train.resume': { params: { run: string; iterations?: number }; result: { run: string } };
  /** Stops a training after its current iteration; `pause`: to continue to the same target later (its run event says paused). */
  'train.stop': { params: { run: string; pause?: boolean }; result: { stopped: boolean } };
  'runs.list': { params: { root: string }; result: RunSummary[] };
  'eval.policy': { params: { run: string; n?: number; seed?: number; temperature?: number; gridResult?: string; bestConstant?: boolean }; result: ComparisonResult };
  'runs.metrics': { params: { run: string }; result: { run: string; iterations: number; metrics: Record<string, number>[] } };
  /** Moves a run directory into `.trash/` beside it (recoverable), unless it is training. */
  'runs.delete': { params: { run: string }; result: { trashed: string } };
  /** Exports the run's EMA policy as ONNX; an existing file is an `exists` error unless `force`. */
  'policy.export': { params: { run: string; out: string; force?: boolean }; result: PolicyExportResult };
}
export type Method = keyof Methods;

export interface Request<M extends Method = Method> {
  kind: 'request';
  id: number;
  method: M;
  params: Methods[M]['params'];
}

/** `exists`: the target file is there already (ask, then retry with force). */
export type ErrorCode = 'bad-message' | 'unknown-method' | 'bad-params' | 'failed' | 'exists';

export type Response<M extends Method = Method> =
  | { kind: 'response'; id: number; ok: true; result: Methods[M]['result'] }
  | { kind: 'response'; id: number | null; ok: false; error: { code: ErrorCode; message: string } };

export interface EventMessage {
  kind: 'event';
  event: EngineEvent;
}

export type ServerMessage = Response | EventMessage;

// ---- runtime schemas ---------------------------------------------------------------------------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Obj, k: string): string | null => (typeof o[k] === 'string' && (o[k] as string).length > 0 && (o[k] as string).length < 4096 ? (o[k] as string) : null);

/** Checks a method's params; returns an error message or null. */
const PARAMS: { [M in Method]: (p: Obj) => string | null } = {
  'engine.info': () => null,
  'models.list': () => null,
  'models.open': (p) => (str(p, 'dir') ? null : 'params.dir must be a non-empty string (a model directory)'),
  'models.preview': (p) => (str(p, 'dir') ? null : 'params.dir must be a non-empty string (a model directory)'),
  'train.start': (p) =>
    !str(p, 'model') ? 'params.model must be a bundled model id or a model directory' : !str(p, 'runDir') ? 'params.runDir must be a non-empty string (where the run is written)' : !isObj(p['config']) ? 'params.config must be an object of learner settings' : null,
  'train.resume': (p) =>
    !str(p, 'run') ? 'params.run must be a run directory' : p['iterations'] !== undefined && !(Number.isInteger(p['iterations']) && (p['iterations'] as number) > 0) ? 'params.iterations must be a positive integer' : null,
  'train.stop': (p) => (!str(p, 'run') ? 'params.run must be a run directory' : p['pause'] !== undefined && typeof p['pause'] !== 'boolean' ? 'params.pause must be true or false' : null),
  'runs.list': (p) => (str(p, 'root') ? null : 'params.root must be a directory holding runs'),
  'runs.metrics': (p) => (str(p, 'run') ? null : 'params.run must be a run directory'),
  'runs.delete': (p) => (str(p, 'run') ? null : 'params.run must be a run directory'),
  'policy.export': (p) =>
    !str(p, 'run') ? 'params.run must be a run directory' : !str(p, 'out') ? 'params.out must be a file path ending in .onnx' : p['force'] !== undefined && typeof p['force'] !== 'boolean' ? 'params.force must be true or false' : null,
  'eval.policy': (p) => {
    if (!str(p, 'run')) return 'params.run must be a run directory';
    if (p['n'] !== undefined && !(Number.isInteger(p['n']) && (p['n'] as number) >= 2 && (p['n'] as number) <= 100_000)) return 'params.n must be an integer in [2, 100000]';
    if (p['seed'] !== undefined && !(Number.isInteger(p['seed']) && (p['seed'] as number) >= 0)) return 'params.seed must be a non-negative integer';
    if (p['temperature'] !== undefined && !(typeof p['temperature'] === 'number' && p['temperature'] > 0 && p['temperature'] <= 100)) return 'params.temperature must be a number in (0, 100]';
    if (p['gridResult'] !== undefined && !str(p, 'gridResult')) return 'params.gridResult must be a grid result directory';
    if (p['bestConstant'] !== undefined && typeof p['bestConstant'] !== 'boolean') return 'params.bestConstant must be true or false';
    return null;
  },
};

export const METHODS = Object.keys(PARAMS) as Method[];

export type Parsed = { ok: true; request: Request } | { ok: false; reply: Response };

/** Narrows an incoming message to a request, or gives the error reply to send back. */
export function parseRequest(msg: unknown): Parsed {
  const fail = (id: number | null, code: ErrorCode, message: string): Parsed => ({ ok: false, reply: { kind: 'response', id, ok: false, error: { code, message } } });
  if (!isObj(msg)) return fail(null, 'bad-message', `a message must be a JSON object, got ${msg === null ? 'null' : Array.isArray(msg) ? 'an array' : typeof msg}`);
  const id = Number.isSafeInteger(msg['id']) ? (msg['id'] as number) : null;
  if (msg['kind'] !== 'request') return fail(id, 'bad-message', 'kind must be "request"');
  if (id === null) return fail(null, 'bad-message', 'id must be an integer');
  const method = msg['method'];
  if (typeof method !== 'string' || !(METHODS as string[]).includes(method)) {
    return fail(id, 'unknown-method', `unknown method ${JSON.stringify(method)}; the engine knows ${METHODS.join(', ')}`);
  }
  const params = msg['params'] ?? {};
  if (!isObj(params)) return fail(id, 'bad-params', 'params must be an object');
  const problem = PARAMS[method as Method](params);
  if (problem) return fail(id, 'bad-params', `${method}: ${problem}`);
  return { ok: true, request: { kind: 'request', id, method: method as Method, params: params as Request['params'] } };
}

/** Narrows a message from the engine (the UI side's check). */
export function parseServerMessage(msg: unknown): ServerMessage | null {
  if (!isObj(msg)) return null;
  if (msg['kind'] === 'event') return isEngineEvent(msg['event']) ? (msg as unknown as EventMessage) : null;
  if (msg['kind'] !== 'response' || typeof msg['ok'] !== 'boolean') return null;
  if (msg['ok']) return Number.isSafeInteger(msg['id']) && 'result' in msg ? (msg as unknown as Response) : null;
  const e = msg['error'];
  return (msg['id'] === null || Number.isSafeInteger(msg['id'])) && isObj(e) && typeof e['code'] === 'string' && typeof e['message'] === 'string' ? (msg as unknown as Response) : null;
}
