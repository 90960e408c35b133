// Electron main process: one hardened window showing the renderer.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { app, BrowserWindow, session } from 'electron';
import {
  MAIN_WINDOW,
  contentSecurityPolicy,
  isAllowedNavigation,
  secureWebPreferences,
  withContentSecurityPolicy,
} from './window-policy';

const here = dirname(fileURLToPath(import.meta.url));
// Sandboxed preloads must be CommonJS; electron.vite.config.ts emits index.cjs.
const preloadPath = join(here, '../preload/index.cjs');
const rendererIndex = join(here, '../renderer/index.html');

const devServerUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;
const isDev = typeof devServerUrl === 'string' && devServerUrl.length > 0;
/** Where the renderer comes from; navigation outside it is refused. */
const appOrigin = isDev ? new URL(devServerUrl).origin : pathToFileURL(dirname(rendererIndex) + '/').href;

function installContentSecurityPolicy(): void {
  const policy = contentSecurityPolicy({ dev: isDev });
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: withContentSecurityPolicy(details.responseHeaders, policy) });
  });
  // Deny all permission prompts (camera, geolocation, notifications, ...) until a
  // screen needs one.
  session.defaultSession.setPermissionRequestHandler((_webContents, _permission, callback) => callback(false));
}

function createMainWindow(): BrowserWindow {
  const win = new BrowserWindow({
    title: MAIN_WINDOW.title,
    width: MAIN_WINDOW.width,
    height: MAIN_WINDOW.height,
    show: false,
    webPreferences: secureWebPreferences(preloadPath),
  });
  win.once('ready-to-show', () => win.show());

  if (isDev) {
    void win.loadURL(devServerUrl);
  } else {
    void win.loadFile(rendererIndex);
  }
  return win;
}

// Applies to every WebContents (windows, and anything else that might appear).
app.on('web-contents-created', (_event, contents) => {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  contents.on('will-navigate', (event, url) => {
    if (!isAllowedNavigation(url, appOrigin)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAllowedNavigation(url, appOrigin)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
});

app.whenReady().then(() => {
  installContentSecurityPolicy();
  createMainWindow();

  app.on('activate', () => {
    // macOS: re-create a window when the dock icon is clicked and none is open.
    if (BrowserWindow.getAllWindows().length === 0) createMainWindow();
  });
}).catch((error: unknown) => {
  console.error('Sampler Studio failed to start:', error);
  app.quit();
});

app.on('window-all-closed', () => {
  // macOS convention: apps stay active until Cmd+Q.
  if (process.platform !== 'darwin') app.quit();
});
