// electron-vite build for the desktop shell: main (ESM), preload (CJS, because
// sandboxed preloads cannot be ES modules) and the React renderer. Output: out/.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'electron-vite';
import react from '@vitejs/plugin-react';
import type { Plugin } from 'vite';
import { contentSecurityPolicyForMeta } from './src/main/window-policy';

const root = fileURLToPath(new URL('.', import.meta.url));
const fromRoot = (...parts: string[]): string => resolve(root, ...parts);

/**
 * The dev server injects an inline module script (React Fast Refresh preamble),
 * which the strict CSP meta tag in index.html would block. Under `serve` only,
 * swap the meta tag's policy for the dev variant; builds keep the strict one.
 */
function devContentSecurityPolicy(): Plugin {
  return {
    name: 'sampler-studio:dev-csp',
    apply: 'serve',
    transformIndexHtml: {
      order: 'pre',
      handler(html) {
        return html.replace(
          /(<meta\s+http-equiv="Content-Security-Policy"\s+content=")[^"]*(")/i,
          `$1${contentSecurityPolicyForMeta({ dev: true })}$2`,
        );
      },
    },
  };
}

export default defineConfig({
  main: {
    build: {
      outDir: fromRoot('out/main'),
      // Dependencies from package.json stay external (electron-vite default);
      // the optional native TF backends are not in `dependencies`, so name them.
      externalizeDeps: { include: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'] },
      rolldownOptions: {
        // The window's main process, and the engine's utility-process entry (plain Node).
        input: { index: fromRoot('src/main/index.ts'), worker: fromRoot('src/main/engine/worker.ts') },
        // Native / heavy runtimes must never be bundled, whatever package.json says.
        external: [/^onnxruntime-node(\/.*)?$/, /^@tensorflow\//],
      },
    },
  },
  preload: {
    build: {
      outDir: fromRoot('out/preload'),
      // A sandboxed preload can only require('electron') (and a few built-ins),
      // so bundle every other import into the single output file.
      externalizeDeps: false,
      rolldownOptions: {
        input: { index: fromRoot('src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: fromRoot('src/renderer'),
    plugins: [react(), devContentSecurityPolicy()],
    build: {
      outDir: fromRoot('out/renderer'),
      // [Note: a minified renderer] electron-vite turns minification off for every target (main and
      // preload stay readable: their stack traces are the useful ones); the renderer is what a
      // browser or window downloads and parses, so minify it with Vite 8's own minifier (Oxc; CSS
      // follows with Lightning CSS). The web mode serves this same build (out/renderer).
      minify: 'oxc',
      // One chunk of ~650 kB, read from disk (Electron) or 127.0.0.1 (web mode): splitting it would
      // add requests and save nothing, so Vite's 500 kB warning (meant for sites) is raised.
      chunkSizeWarningLimit: 1000,
      rolldownOptions: {
        input: { index: fromRoot('src/renderer/index.html') },
      },
    },
  },
});
