// `npm start`: the Electron window when Electron's binary is installed — or can be installed now
// (its package downloads it on first use) — and web mode otherwise, saying why.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = process.argv.slice(2);

/** The Electron executable, installing it if needed (bounded in time); or why there is none. */
export function electronBinary(timeoutMs = 180_000): { path: string } | { error: string } {
  const r = spawnSync(process.execPath, ['-e', "process.stdout.write(require('electron'))"], {
    cwd: root,
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  if (r.error) return { error: r.error.message };
  if (r.status !== 0) {
    // The download's own error (e.g. "fetch failed") says why. Electron's package adds advice of its
    // own ("run npx install-electron") that does not fit an install whose scripts are off by design
    // (package.json allowScripts): we give ours instead (README, "Desktop app").
    const lines = (r.stdout + '\n' + r.stderr).split('\n').map((l) => l.trim());
    const why = lines.filter(
      (l) => /^(TypeError|Error|RequestError|HTTPError)\b/.test(l) && !/failed to install correctly/i.test(l),
    );
    return {
      error: `its binary is not installed${why.length > 0 ? ` and could not be downloaded (${why.join('; ')})` : ''}`,
    };
  }
  return existsSync(r.stdout) ? { path: r.stdout } : { error: `${r.stdout} does not exist` };
}

function run(cmd: string, argv: string[]): void {
  const child = spawn(cmd, argv, { cwd: root, stdio: 'inherit' });
  const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('exit', (code) => process.exit(code ?? 0));
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('start.ts')) {
  const electron = electronBinary();
  if ('path' in electron) {
    run(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'preview', ...args]);
  } else {
    process.stderr.write(
      `Electron is not available here: ${electron.error}. Starting web mode instead.\n` +
        `(The desktop window needs Electron's binary: with internet, \`npm rebuild electron\`; see README, "Desktop app".)\n`,
    );
    run(process.execPath, ['--import', 'tsx', join(root, 'src/main/web/serve.ts'), ...args]);
  }
}
