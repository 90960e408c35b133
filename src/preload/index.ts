// Preload (sandboxed, bundled to CommonJS): the only bridge between the page and
// Electron. Everything exposed here is reachable from renderer code, so keep it
// small, data-only and typed.
import { contextBridge } from 'electron';

const api = Object.freeze({
  versions: Object.freeze({
    electron: process.versions.electron,
    chrome: process.versions.chrome,
    node: process.versions.node,
  }),
  platform: process.platform,
});

/** Shape of `window.api` as seen from the renderer. */
export type Api = typeof api;

contextBridge.exposeInMainWorld('api', api);
