// The app in web mode for the end-to-end tests and `npm run bench -- ui`: the renderer built by
// electron-vite, the real server and engine behind it, Debian's Chromium driven by playwright-core.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startWebServer, type WebServer } from '../../src/main/web/server';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';

export interface WebApp {
  server: WebServer;
  browser: Browser;
  page: Page;
  /** Uncaught errors in the page so far. */
  pageErrors: string[];
  close(): Promise<void>;
}

/** Builds the renderer, starts the server (its engine's cache under `tmp`) and opens a page that records long tasks. */
export async function startWebApp(tmp: string, viewport = { width: 1280, height: 900 }): Promise<WebApp> {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM`,
  );
  const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(build.status, 0, `renderer build failed: ${build.stderr}`);
  const server = await startWebServer({
    staticDir: join(ROOT, 'out/renderer'),
    engineEntry: join(ROOT, 'src/main/engine/worker.ts'),
    engineExecArgv: ['--import', 'tsx'],
    engineEnv: { ...process.env, SAMPLER_STUDIO_CACHE: join(tmp, 'cache') },
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage({ viewport });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // Long tasks on the renderer's main thread, for the whole session (read with longTasksSince).
  await page.addInitScript(() => {
    const w = window as unknown as { __longTasks: number[] };
    w.__longTasks = [];
    new PerformanceObserver((list) => list.getEntries().forEach((e) => w.__longTasks.push(e.duration))).observe({
      type: 'longtask',
      buffered: true,
    });
  });
  return {
    server,
    browser,
    page,
    pageErrors,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

/** How many long tasks the page has recorded (a mark for longTasksSince). */
export const longTaskCount = (page: Page): Promise<number> =>
  page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks.length);

/** The durations (ms) of the long tasks recorded since `mark`. */
export const longTasksSince = (page: Page, mark: number): Promise<number[]> =>
  page.evaluate((from) => (window as unknown as { __longTasks: number[] }).__longTasks.slice(from), mark);

/**
 * A run directory with a long history, as a long training leaves it: `from`'s config and checkpoint
 * with `iterations` lines of metrics (every curve the Train screen draws; periodic evaluations every
 * 25 iterations, the final one at the end).
 */
export function writeLongRun(dir: string, from: string, iterations: number): void {
  const cfg = JSON.parse(readFileSync(join(from, 'config.json'), 'utf8')) as { learner: { iterations: number } };
  cfg.learner.iterations = iterations;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  writeFileSync(join(dir, 'checkpoint.json'), readFileSync(join(from, 'checkpoint.json'), 'utf8'));
  const lines: string[] = [];
  for (let i = 1; i <= iterations; i++) {
    const m: Record<string, number> = {
      iteration: i,
      'charts/learning_signal_mean': -1 / Math.sqrt(i),
      'charts/learning_signal_std': 0.1,
      'losses/discriminator': 0.69 - 0.1 * Math.exp(-i / 800),
      'charts/discriminator_accuracy': 0.5 + 0.1 * Math.sin(i / 50),
      'charts/entropy': 2 * Math.exp(-i / 2000),
      'charts/approx_kl': 0.01,
      'charts/clipfrac': 0.1,
      'charts/nfe': 35,
    };
    const fid = 0.1 * Math.exp(-i / 1500) + 0.03;
    if (i % 25 === 0) Object.assign(m, { 'periodic/fid': fid, 'periodic/precision': 0.9, 'periodic/recall': 0.95 });
    if (i === iterations) Object.assign(m, { 'eval/fid': fid, 'eval/precision': 0.9, 'eval/recall': 0.95 });
    lines.push(JSON.stringify(m));
  }
  writeFileSync(join(dir, 'metrics.jsonl'), lines.join('\n') + '\n');
}
