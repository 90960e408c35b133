// Native dialogs for the renderer (open a model directory, choose where to export a policy), as
// typed invoke handlers on the channels of shared/ipc.ts. Only our own pages may ask.

import { BrowserWindow, dialog, ipcMain, type IpcMainInvokeEvent } from 'electron';
import { exportPathSuggestion, IPC, withOnnxExtension } from '../shared/ipc';

export function registerDialogs(isOwnPage: (url: string) => boolean): void {
  const owner = (e: IpcMainInvokeEvent): BrowserWindow | null =>
    isOwnPage(e.senderFrame?.url ?? '') ? BrowserWindow.fromWebContents(e.sender) : null;
  ipcMain.handle(IPC.openModelDirectory, async (e): Promise<string | null> => {
    const win = owner(e);
    if (!win) return null;
    const r = await dialog.showOpenDialog(win, {
      title: 'Open a model directory (model.json + its ONNX files)',
      properties: ['openDirectory'],
    });
    return r.canceled ? null : (r.filePaths[0] ?? null);
  });
  ipcMain.handle(IPC.chooseExportPath, async (e, suggested: unknown): Promise<string | null> => {
    const win = owner(e);
    if (!win) return null;
    const r = await dialog.showSaveDialog(win, {
      title: 'Export the policy as ONNX',
      defaultPath: exportPathSuggestion(suggested),
      filters: [{ name: 'ONNX model', extensions: ['onnx'] }],
    });
    return r.canceled || !r.filePath ? null : withOnnxExtension(r.filePath);
  });
}
