// The renderer's end of the engine protocol (shared/protocol.ts). In web mode it speaks over a
// WebSocket to the server that served this page (the session cookie goes along); every message
// from the engine is narrowed by the shared schema before anything uses it.

import { parseServerMessage, type Method, type Methods, type Request } from '../../../shared/protocol';
import type { EngineEvent } from '../../../shared/events';

export class EngineError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export type ConnectionStatus = 'connecting' | 'open' | 'lost';

export interface EngineClient {
  request<M extends Method>(method: M, params: Methods[M]['params']): Promise<Methods[M]['result']>;
  /** Subscribes to streamed events; returns the unsubscribe function. */
  onEvent(listener: (e: EngineEvent) => void): () => void;
  onStatus(listener: (s: ConnectionStatus, why?: string) => void): () => void;
}

/** Connects over a WebSocket to this page's server (web mode), reconnecting when it drops. */
export function connectWebSocket(url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`): EngineClient {
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const eventListeners = new Set<(e: EngineEvent) => void>();
  const statusListeners = new Set<(s: ConnectionStatus, why?: string) => void>();
  let queue: string[] = [];
  let nextId = 1;
  let ws: WebSocket;
  let retry = 250;
  const status = (s: ConnectionStatus, why?: string): void => statusListeners.forEach((l) => l(s, why));

  const open = (): void => {
    status('connecting');
    ws = new WebSocket(url);
    ws.onopen = () => {
      retry = 250;
      status('open');
      for (const m of queue) ws.send(m);
      queue = [];
    };
    ws.onmessage = (ev) => {
      let raw: unknown;
      try {
        raw = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      const m = parseServerMessage(raw);
      if (!m) return;
      if (m.kind === 'event') {
        eventListeners.forEach((l) => l(m.event));
        return;
      }
      const p = m.id === null ? undefined : pending.get(m.id);
      if (!p) return;
      pending.delete(m.id!);
      if (m.ok) p.resolve(m.result);
      else p.reject(new EngineError(m.error.message, m.error.code));
    };
    ws.onclose = () => {
      const why = 'the connection to the engine was lost; reconnecting…';
      for (const p of pending.values()) p.reject(new EngineError(why, 'lost'));
      pending.clear();
      status('lost', why);
      setTimeout(open, retry);
      retry = Math.min(retry * 2, 5000);
    };
  };
  open();

  return {
    request(method, params) {
      const id = nextId++;
      const msg: Request = { kind: 'request', id, method, params };
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        const text = JSON.stringify(msg);
        if (ws.readyState === WebSocket.OPEN) ws.send(text);
        else queue.push(text);
      });
    },
    onEvent(l) {
      eventListeners.add(l);
      return () => eventListeners.delete(l);
    },
    onStatus(l) {
      statusListeners.add(l);
      return () => statusListeners.delete(l);
    },
  };
}
