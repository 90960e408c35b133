// Preload (sandboxed, bundled to CommonJS): the only bridge between the page and Electron.
// Everything exposed here is reachable from renderer code, so keep it small, data-only and typed.
//
// [Note: the engine port]
// The renderer talks to the engine's utility process over a MessagePort the main process creates
// (MessageChannelMain). A port cannot cross contextBridge, so the preload forwards it to the page
// with window.postMessage (same window only); engine crashes are forwarded the same way.
import { contextBridge, ipcRenderer } from 'electron';

ipcRenderer.on('engine:port', (event) => window.postMessage('sampler-studio:engine-port', '*', event.ports));
ipcRenderer.on('engine:exit', (_event, why: unknown) => window.postMessage({ type: 'sampler-studio:engine-exit', why: String(why) }, '*'));

const api = Object.freeze({
  versions: Object.freeze({
    electron: process.versions.electron,
    chrome: process.versions.chrome,
    node: process.versions.node,
  }),
  platform: process.platform,
  /** Asks the main process for a port to the engine (answered with a window message). */
  connectEngine: (): void => ipcRenderer.send('engine:connect'),
});

/** Shape of `window.api` as seen from the renderer. */
export type Api = typeof api;

contextBridge.exposeInMainWorld('api', api);
