// The few Electron IPC channels between the preload and the main process, named once here (the
// engine itself has its own MessagePort and protocol, shared/protocol.ts). Native dialogs live in
// the main process; the renderer asks through `window.api.dialogs` and gets a path or null.

export const IPC = {
  /** renderer → main: give me a port to the engine (answered on enginePort). */
  engineConnect: 'engine:connect',
  enginePort: 'engine:port',
  /** main → renderer: the engine's utility process stopped, and why. */
  engineExit: 'engine:exit',
  /** invoke → string | null: a model directory from the native folder picker. */
  openModelDirectory: 'dialog:open-model-directory',
  /** invoke(suggested path) → string | null: where to export a policy, from the native save dialog. */
  chooseExportPath: 'dialog:choose-export-path',
} as const;

/** A suggested export path from the renderer, checked (it is untrusted): a string, at most 4,096 characters. */
export function exportPathSuggestion(v: unknown): string {
  return typeof v === 'string' && v.length > 0 && v.length <= 4096 && !v.includes('\0') ? v : 'policy.onnx';
}

/** The chosen save path with the .onnx extension the exporter requires. */
export function withOnnxExtension(path: string): string {
  return /\.onnx$/i.test(path) ? path : `${path}.onnx`;
}
