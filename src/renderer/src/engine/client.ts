// The renderer's end of the engine protocol (shared/protocol.ts), over whichever line this window
// has: in the Electron app a MessagePort straight to the engine's utility process (handed over by
// the main process, relayed by the preload); in web mode a WebSocket to the server that served the
// page (the session cookie goes along). Every message from the engine is narrowed by the shared
// schema before anything uses it.

import { parseResult, parseServerMessage, type Method, type Methods, type Request } from '../../../shared/protocol';
import type { EngineEvent } from '../../../shared/events';
import { wireReplacer, wireReviver } from '../../../shared/json';

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

/** A line to the engine: the client calls `send`; the line reports what arrives and when it opens or drops. */
interface Line {
  send(msg: Request): void;
  isOpen(): boolean;
}

function makeClient(
  open: (hooks: { deliver: (raw: unknown) => void; opened: () => void; lost: (why: string) => void }) => Line,
): EngineClient {
  const pending = new Map<number, { method: Method; resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const eventListeners = new Set<(e: EngineEvent) => void>();
  const statusListeners = new Set<(s: ConnectionStatus, why?: string) => void>();
  let queue: Request[] = [];
  let nextId = 1;
  const status = (s: ConnectionStatus, why?: string): void => statusListeners.forEach((l) => l(s, why));
  const line = open({
    deliver(raw) {
      const m = parseServerMessage(raw);
      if (!m) return;
      if (m.kind === 'event') {
        eventListeners.forEach((l) => l(m.event));
        return;
      }
      const p = m.id === null ? undefined : pending.get(m.id);
      if (!p) return;
      pending.delete(m.id!);
      if (m.ok) {
        // Results are checked like everything else that crosses the boundary.
        const r = parseResult(p.method, m.result);
        if (r.ok) p.resolve(r.result);
        else p.reject(new EngineError(r.problem, 'failed'));
      } else p.reject(new EngineError(m.error.message, m.error.code));
    },
    opened() {
      status('open');
      const q = queue;
      queue = [];
      for (const m of q) line.send(m);
    },
    lost(why) {
      for (const p of pending.values()) p.reject(new EngineError(why, 'lost'));
      pending.clear();
      status('lost', why);
    },
  });
  return {
    request(method, params) {
      const msg: Request = { kind: 'request', id: nextId++, method, params };
      return new Promise((resolve, reject) => {
        pending.set(msg.id, { method, resolve: resolve as (v: unknown) => void, reject });
        if (line.isOpen()) line.send(msg);
        else queue.push(msg);
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

/** Web mode: a WebSocket to this page's server, reconnecting when it drops. */
export function connectWebSocket(
  url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
): EngineClient {
  return makeClient(({ deliver, opened, lost }) => {
    let ws: WebSocket;
    let retry = 250;
    const connect = (): void => {
      ws = new WebSocket(url);
      ws.onopen = () => {
        retry = 250;
        opened();
      };
      ws.onmessage = (ev) => {
        try {
          deliver(JSON.parse(String(ev.data), wireReviver));
        } catch {
          // not JSON: ignored (the server only sends JSON)
        }
      };
      ws.onclose = () => {
        lost('the connection to the engine was lost; reconnecting…');
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 5000);
      };
    };
    connect();
    // JSON has no Infinity (it would arrive as null): [Note: ∞ on the wire].
    return { send: (m) => ws.send(JSON.stringify(m, wireReplacer)), isOpen: () => ws.readyState === WebSocket.OPEN };
  });
}

/** The desktop app: a MessagePort to the engine's utility process, asked for through the preload. */
export function connectElectron(api: NonNullable<Window['api']>): EngineClient {
  return makeClient(({ deliver, opened, lost }) => {
    let port: MessagePort | null = null;
    window.addEventListener('message', (ev: MessageEvent) => {
      if (ev.source !== window) return;
      if (ev.data === 'sampler-studio:engine-port' && ev.ports[0]) {
        port = ev.ports[0];
        port.onmessage = (m) => deliver(m.data);
        port.start();
        opened();
      } else if (
        typeof ev.data === 'object' &&
        ev.data !== null &&
        (ev.data as { type?: unknown }).type === 'sampler-studio:engine-exit'
      ) {
        port?.close();
        port = null;
        lost(String((ev.data as { why?: unknown }).why ?? 'the engine stopped'));
        api.connectEngine(); // the main process starts a new engine and hands over a new port
      }
    });
    api.connectEngine();
    return { send: (m) => port?.postMessage(m), isOpen: () => port !== null };
  });
}

/** The line this window has: Electron's port when the preload offers one, else the WebSocket. */
export function connectEngine(): EngineClient {
  return window.api?.connectEngine ? connectElectron(window.api) : connectWebSocket();
}
