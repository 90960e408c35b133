// `npm run bench -- ui`: how long the app's main thread is blocked (long tasks, PerformanceObserver)
// while a run trains on the Train screen and while a 5,000-iteration run opens and draws, in web
// mode with Debian's Chromium. Goal: no long task over 200 ms. Measured here and not in `npm test`
// (issue 15): on a busy machine the same drawing took 267 ms and failed the tests.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { longTaskCount, longTasksSince, startWebApp, writeLongRun } from '../test/helpers/web-app';

const GOAL_MS = 200;

function line(what: string, tasks: number[]): boolean {
  const worst = Math.max(0, ...tasks);
  const ok = worst < GOAL_MS;
  console.log(
    `  ${what}: ${tasks.length} long task${tasks.length === 1 ? '' : 's'}, longest ${worst.toFixed(0)} ms (goal < ${GOAL_MS} ms) ${ok ? 'OK' : 'MISSED'}`,
  );
  return ok;
}

export async function benchUi(): Promise<boolean> {
  console.log('app main thread (web mode, Chromium 1280×900):');
  const tmp = mkdtempSync(join(tmpdir(), 'ss-bench-ui-'));
  const app = await startWebApp(tmp);
  const { page } = app;
  try {
    await page.goto(app.server.url);
    await page.getByTestId('engine-status').filter({ hasText: 'engine open' }).waitFor({ timeout: 30_000 });
    // 1. A run training on the Train screen: gmm-ring8, 6 iterations of 128 trajectories.
    await page.getByRole('button', { name: 'Open gmm-ring8', exact: true }).click();
    await page.getByRole('button', { name: /Tune a sampler for gmm-ring8/ }).click();
    await page.getByRole('heading', { name: 'Tune' }).waitFor({ timeout: 30_000 });
    const runs = join(tmp, 'runs');
    for (const [label, value] of [
      ['Training iterations', '6'],
      ['Trajectories per iteration', '128'],
      ['Evaluate every (iterations)', '3'],
      ['Samples per periodic evaluation', '500'],
      ['Samples in the final evaluation', '1000'],
      ['Run directory', join(runs, 'short')],
    ] as const)
      await page.getByLabel(label).fill(value);
    const mark = await longTaskCount(page);
    await page.getByRole('button', { name: 'Start training' }).click();
    await page.locator('[data-testid="train-progress"][data-state="finished"]').waitFor({ timeout: 300_000 });
    const ok1 = line('training on the Train screen (gmm-ring8, 6 iterations)', await longTasksSince(page, mark));

    // 2. Opening a run with 5,000 iterations: ten charts of up to 5,000 points.
    const dir = join(runs, 'long');
    mkdirSync(dir, { recursive: true });
    writeLongRun(dir, join(runs, 'short'), 5000);
    await page.getByRole('button', { name: 'Runs', exact: true }).click();
    await page.getByLabel('Runs folder').fill(runs);
    await page.getByRole('button', { name: 'Refresh' }).click();
    const mark2 = await longTaskCount(page);
    await page.getByRole('button', { name: 'Open long' }).click();
    await page.waitForFunction(
      () => document.querySelector('[data-testid="chart-periodic/recall"]')?.getAttribute('data-points') === '200',
      undefined,
      { timeout: 60_000 },
    );
    await page.waitForTimeout(500);
    const ok2 = line('opening and drawing a 5,000-iteration run', await longTasksSince(page, mark2));
    if (app.pageErrors.length > 0) throw new Error(`errors in the page: ${app.pageErrors.join('; ')}`);
    return ok1 && ok2;
  } finally {
    await app.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}
