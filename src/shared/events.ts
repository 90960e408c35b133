// Structured events the engine emits while it works. The CLI prints them (a bar on a TTY, JSON
// lines otherwise); the app (later) receives the same objects over its message protocol.

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

export type EngineEvent = ProgressEvent | LogEvent;

export function isEngineEvent(v: unknown): v is EngineEvent {
  if (typeof v !== 'object' || v === null) return false;
  const t = (v as { type?: unknown }).type;
  return t === 'progress' || t === 'log';
}
