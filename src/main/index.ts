// Electron main process: one hardened window showing the renderer, and the engine in a utility
// process. The renderer gets a MessagePort straight to the engine (MessageChannelMain), so heavy
// traffic never passes through this process; if the engine dies, the window is told why and its
// next connect starts a new one (runs keep their checkpoints and can be resumed).
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  app,
  BrowserWindow,
  ipcMain,
  MessageChannelMain,
  session,
  utilityProcess,
  type UtilityProcess,
} from 'electron';
import {
  MAIN_WINDOW,
  contentSecurityPolicy,
  isAllowedNavigation,
  secureWebPreferences,
  withContentSecurityPolicy,
} from './window-policy';
import { registerDialogs } from './dialogs';
import { IPC } from '../shared/ipc';

const here = dirname(fileURLToPath(import.meta.url));
// Sandboxed preloads must be CommonJS; electron.vite.config.ts emits index.cjs.
const preloadPath = join(here, '../preload/index.cjs');
const rendererIndex = join(here, '../renderer/index.html');

const devServerUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;
const isDev = typeof devServerUrl === 'string' && devServerUrl.length > 0;
/** Where the renderer comes from; navigation outside it is refused. */
const appOrigin = isDev ? new URL(devServerUrl).origin : pathToFileURL(dirname(rendererIndex) + '/').href;

const workerPath = join(here, 'worker.js');
let engine: UtilityProcess | null = null;

function startEngine(): UtilityProcess {
  const child = utilityProcess.fork(workerPath, [], { serviceName: 'Sampler Studio engine', stdio: 'inherit' });
  child.on('exit', (code) => {
    if (engine === child) engine = null;
    const why = `the engine stopped (exit code ${code}); a new one starts when the window reconnects — runs keep their checkpoints and can be resumed`;
    for (const w of BrowserWindow.getAllWindows()) w.webContents.send(IPC.engineExit, why);
  });
  return child;
}

/** The renderer asks for a line to the engine: a fresh port pair, one end to each. */
ipcMain.on(IPC.engineConnect, (event) => {
  if (!isAllowedNavigation(event.senderFrame?.url ?? '', appOrigin)) return; // only our own pages
  engine ??= startEngine();
  const { port1, port2 } = new MessageChannelMain();
  engine.postMessage({ type: 'port' }, [port1]);
  event.sender.postMessage(IPC.enginePort, null, [port2]);
});

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

app
  .whenReady()
  .then(() => {
    installContentSecurityPolicy();
    registerDialogs((url) => isAllowedNavigation(url, appOrigin));
    createMainWindow();

    app.on('activate', () => {
      // macOS: re-create a window when the dock icon is clicked and none is open.
      if (BrowserWindow.getAllWindows().length === 0) createMainWindow();
    });
  })
  .catch((error: unknown) => {
    console.error('Sampler Studio failed to start:', error);
    app.quit();
  });

app.on('will-quit', () => {
  engine?.kill();
});

app.on('window-all-closed', () => {
  // macOS convention: apps stay active until Cmd+Q.
  if (process.platform !== 'darwin') app.quit();
});
