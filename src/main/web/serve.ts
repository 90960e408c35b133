// `npm run serve`: web mode on purpose — build the renderer, start the server on 127.0.0.1, print
// the URL (with its session token) and open a browser unless --no-open.
//   npm run serve -- [--port N] [--no-open]

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startWebServer } from './server';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Opens `url` in a browser if one can be found; returns what was tried. */
export function openBrowser(url: string): string | null {
  const candidates = process.env['BROWSER']
    ? [process.env['BROWSER']]
    : process.platform === 'darwin'
      ? ['open']
      : process.platform === 'win32'
        ? ['explorer']
        : ['xdg-open', 'chromium', 'google-chrome', 'firefox'];
  for (const cmd of candidates) {
    const found = spawnSync(process.platform === 'win32' ? 'where' : 'which', [cmd], { stdio: 'ignore' }).status === 0;
    if (!found) continue;
    spawn(cmd, [url], { stdio: 'ignore', detached: true }).unref();
    return cmd;
  }
  return null;
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: { port: { type: 'string' }, 'no-open': { type: 'boolean' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (v.help) {
    process.stdout.write('npm run serve -- [--port N] [--no-open]   web mode on 127.0.0.1\n');
    return;
  }
  const port = v.port === undefined ? 0 : Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be an integer 0–65535, got "${v.port}"`);
  process.stderr.write('building the renderer…\n');
  const build = spawnSync(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (build.status !== 0 || !existsSync(join(root, 'out/renderer/index.html')))
    throw new Error('the renderer build failed (see above); try `npm run build`');
  const log = (l: string): void => void process.stderr.write(l + '\n');
  const server = await startWebServer({
    port,
    staticDir: join(root, 'out/renderer'),
    engineEntry: join(root, 'src/main/engine/worker.ts'),
    engineExecArgv: ['--import', 'tsx'],
    log,
  });
  // [Note: the last resort]
  // Every handler in server.ts answers its own errors (see its note on errors). One that still
  // escapes is a bug; ending the process for it would also end the engine and any training with it,
  // so it is logged, with its stack, and the server goes on. Only here: the tests start the server
  // without this, so such a bug fails them.
  const lastResort = (what: string) => (e: unknown) =>
    log(
      `${what} (a bug — please report it; the server goes on): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
    );
  process.on('uncaughtException', lastResort('uncaught exception'));
  process.on('unhandledRejection', lastResort('unhandled rejection'));
  process.stdout.write(
    `Sampler Studio (web mode) is running at\n\n    ${server.url}\n\nOpen that address (it carries this session's token). Ctrl-C stops it; runs keep their checkpoints.\n`,
  );
  if (!v['no-open']) {
    const used = openBrowser(server.url);
    if (!used) process.stderr.write('no browser found to open; open the address above yourself\n');
  }
  const stop = (): void => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exit(1);
});
