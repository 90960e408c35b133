// The engine process's entry: an EngineHost wired to whichever channel started it —
//   Electron utility process: a MessagePort handed over by the main process (the renderer's
//     direct line), or the parent port itself;
//   Node child process (web mode, tests): IPC messages on process.send / 'message'.
// Plain Node, no electron import: Electron's parentPort is reached through `process`.

import { EngineHost } from './host';
import type { ServerMessage } from '../../shared/protocol';

interface PortLike {
  on(event: 'message', listener: (e: { data: unknown; ports?: PortLike[] }) => void): void;
  postMessage(message: unknown): void;
  start?(): void;
}

const parentPort = (process as unknown as { parentPort?: PortLike }).parentPort;
let send: (m: ServerMessage) => void = () => {};
const host = new EngineHost((m) => send(m));

if (parentPort) {
  send = (m) => parentPort.postMessage(m);
  parentPort.on('message', (e) => {
    const port = e.ports?.[0];
    if (port) {
      // The main process hands over the renderer's end: answer there from now on.
      send = (m) => port.postMessage(m);
      port.on('message', (ev) => void host.handle(ev.data));
      port.start?.();
    } else {
      void host.handle(e.data);
    }
  });
} else if (process.send) {
  send = (m) => {
    if (process.connected) process.send!(m);
  };
  process.on('message', (m) => void host.handle(m));
  process.on('disconnect', () => void host.dispose().then(() => process.exit(0)));
} else {
  console.error(
    'the engine worker must be started by the app (utility process) or with an IPC channel (child_process.fork)',
  );
  process.exit(2);
}

// A stray rejection must not take down the engine and its runs: report it and keep serving.
process.on('unhandledRejection', (e) =>
  send({
    kind: 'event',
    event: { type: 'log', level: 'warn', message: `engine: ${(e as Error)?.message ?? String(e)}` },
  }),
);
