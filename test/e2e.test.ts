// End to end in web mode: the built renderer and the engine behind the real server, driven in
// Debian's Chromium through playwright-core. Screenshots go to test-results/screens/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startWebServer, type WebServer } from '../src/main/web/server';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-results', 'screens');
const tmp = mkdtempSync(join(tmpdir(), 'ss-e2e-'));
let server: WebServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM`);
  const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(build.status, 0, `renderer build failed: ${build.stderr}`);
  server = await startWebServer({ staticDir: join(ROOT, 'out/renderer'), engineEntry: join(ROOT, 'src/main/engine/worker.ts'), engineExecArgv: ['--import', 'tsx'], engineEnv: { ...process.env, SAMPLER_STUDIO_CACHE: join(tmp, 'cache') } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  mkdirSync(SHOTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('web mode: the token URL opens the app, the engine connects, models list and open', async () => {
  await page.goto(server.url);
  assert.equal(new URL(page.url()).search, '', 'the token left the address bar');
  await page.getByTestId('engine-status').filter({ hasText: 'engine open' }).waitFor({ timeout: 30_000 });
  await page.getByTestId('model-gmm-ring8').waitFor();
  for (const id of ['gmm-ring8', 'gmm-ring8-exact', 'gmm64', 'swissroll']) assert.ok(await page.getByTestId(`model-${id}`).isVisible(), id);
  await page.getByRole('button', { name: 'Open gmm-ring8', exact: true }).click();
  const facts = page.getByTestId('model-facts');
  await facts.waitFor({ timeout: 30_000 });
  const text = await facts.innerText();
  assert.match(text, /classes\s+8/);
  assert.match(text, /backend\s+onnxruntime-node\/cpu/);
  await page.screenshot({ path: join(SHOTS, 'model.png'), fullPage: true });
});

test('web mode: a broken model directory shows what is wrong', async () => {
  const broken = join(tmp, 'broken');
  mkdirSync(broken);
  writeFileSync(join(broken, 'model.json'), JSON.stringify({ name: 'broken-model', onnx: 'nowhere.onnx', shape: [2] }));
  await page.getByLabel('Open model directory').fill(broken);
  await page.getByRole('button', { name: 'Open…' }).click();
  const problem = page.getByTestId('model-problem');
  await problem.waitFor({ timeout: 30_000 });
  assert.match(await problem.innerText(), /nowhere\.onnx/);
  await page.screenshot({ path: join(SHOTS, 'model-error.png'), fullPage: true });
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
});
