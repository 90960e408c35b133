// Structured events the engine emits while it works. The CLI prints them (a bar on a TTY, JSON
// lines otherwise); the app receives the same objects over its message protocol. Metric values may
// be ±Infinity (never NaN); JSON carries them as "inf" (shared/json.ts).

export interface ProgressEvent {
  type: 'progress';
  /** What is running, e.g. "sample". */
  task: string;
  done: number;
  total: number;
  /** What `done` counts, e.g. "samples". */
  unit: string;
  elapsedSeconds: number;
  /** Estimated seconds left, null until there is a rate. */
  etaSeconds: number | null;
}

export interface LogEvent {
  type: 'log';
  level: 'info' | 'warn';
  message: string;
}

/** A training iteration finished: its namespaced metrics (charts/…, losses/…, time/…, eval/…). */
export interface MetricsEvent {
  type: 'metrics';
  /** The run directory. */
  run: string;
  iteration: number;
  metrics: Record<string, number>;
}

/** The learned profile at an evaluation: the share of each action per noise level (the paper's Figure 2). */
export interface ProfileEvent {
  type: 'profile';
  run: string;
  iteration: number;
  /** The action values (guidance w, churn γ, or levels to jump back). */
  actions: number[];
  /** σ of each profile row. */
  sigmas: number[];
  /** [levels][actions] shares, each row summing to 1 (or 0 where no sample chose there). */
  profile: number[][];
}

/** A fixed-seed sample picture at an evaluation (a grid for images, a scatter over the data in 2-D). */
export interface SamplesEvent {
  type: 'samples';
  run: string;
  iteration: number;
  /** Where the PNG was written, and its bytes (base64) for a UI that cannot read the file. */
  path: string;
  pngBase64: string;
}

export type EngineEvent = ProgressEvent | LogEvent | MetricsEvent | ProfileEvent | SamplesEvent;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNumArray = (v: unknown): v is number[] => Array.isArray(v) && v.every(isNum);

/** Runtime schema of every engine event: anything that crossed a process boundary is unknown until this says so. */
export function isEngineEvent(v: unknown): v is EngineEvent {
  if (!isObj(v)) return false;
  switch (v['type']) {
    case 'progress':
      return isStr(v['task']) && isNum(v['done']) && isNum(v['total']) && isStr(v['unit']) && isNum(v['elapsedSeconds']) && (v['etaSeconds'] === null || isNum(v['etaSeconds']));
    case 'log':
      return (v['level'] === 'info' || v['level'] === 'warn') && isStr(v['message']);
    case 'metrics':
      return isStr(v['run']) && isNum(v['iteration']) && isObj(v['metrics']) && Object.values(v['metrics']).every(isNum);
    case 'profile':
      return isStr(v['run']) && isNum(v['iteration']) && isNumArray(v['actions']) && isNumArray(v['sigmas']) && Array.isArray(v['profile']) && v['profile'].every(isNumArray);
    case 'samples':
      return isStr(v['run']) && isNum(v['iteration']) && isStr(v['path']) && isStr(v['pngBase64']);
    default:
      return false;
  }
}
