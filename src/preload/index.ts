// Preload (sandboxed, bundled to CommonJS): the only bridge between the page and Electron.
// Everything exposed here is reachable from renderer code, so keep it small, data-only and typed.
//
// [Note: the engine port]
// The renderer talks to the engine's utility process over a MessagePort the main process creates
// (MessageChannelMain). A port cannot cross contextBridge, so the preload forwards it to the page
// with window.postMessage (same window only); engine crashes are forwarded the same way.
import { contextBridge, ipcRenderer } from 'electron';
import { IPC } from '../shared/ipc';

ipcRenderer.on(IPC.enginePort, (event) => window.postMessage('sampler-studio:engine-port', '*', event.ports));
ipcRenderer.on(IPC.engineExit, (_event, why: unknown) =>
  window.postMessage({ type: 'sampler-studio:engine-exit', why: String(why) }, '*'),
);

const api = Object.freeze({
  versions: Object.freeze({
    electron: process.versions.electron,
    chrome: process.versions.chrome,
    node: process.versions.node,
  }),
  platform: process.platform,
  /** Asks the main process for a port to the engine (answered with a window message). */
  connectEngine: (): void => ipcRenderer.send(IPC.engineConnect),
  /** Native dialogs (main process): a chosen path, or null when cancelled. */
  dialogs: Object.freeze({
    openModelDirectory: (): Promise<string | null> =>
      ipcRenderer.invoke(IPC.openModelDirectory) as Promise<string | null>,
    chooseExportPath: (suggested: string): Promise<string | null> =>
      ipcRenderer.invoke(IPC.chooseExportPath, suggested) as Promise<string | null>,
  }),
});

/** Shape of `window.api` as seen from the renderer. */
export type Api = typeof api;

contextBridge.exposeInMainWorld('api', api);
