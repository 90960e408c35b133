// A preload that records every module a process loads, for tests that check what a command pulls in:
//   node --import tsx --import ./test/helpers/record-modules.ts … with RECORD_MODULES=<file>
// Each ES module's resolved URL is appended to the file as it resolves (hooks below), and at exit the
// CommonJS modules (require.cache: packages such as @tensorflow/tfjs load that way) as file URLs.
// Without RECORD_MODULES it does nothing. It comes after `--import tsx`: the hooks module is
// TypeScript, and a hook registered later sees what the earlier ones (tsx's) resolved.

import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const file = process.env.RECORD_MODULES;
if (file) {
  register('./record-modules-hooks.ts', { parentURL: import.meta.url, data: { file } });
  const require = createRequire(import.meta.url);
  process.on('exit', () => {
    const urls = Object.keys(require.cache).map((p) => pathToFileURL(p).href);
    appendFileSync(file, urls.map((u) => u + '\n').join(''));
  });
}
