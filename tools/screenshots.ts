// The app's screens at 1440×900 in web mode, driven by clicks as a user would (issue 15's list):
// Model after Open, Train during the fashion-mnist warm-up, Train finished with its samples zoomed,
// Compare with the per-class view, the X/Y plot, Export with Download, and Runs comparing three runs.
//   npm run screenshots [-- --out DIR]      (default test-results/screens-1440; about ten minutes)
// Every run, plot and export is made here, in a temporary folder: nothing of the user's is touched.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { ROOT, startWebApp } from '../test/helpers/web-app';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const OUT = values.out ?? join(ROOT, 'test-results', 'screens-1440');
mkdirSync(OUT, { recursive: true });
const tmp = mkdtempSync(join(tmpdir(), 'ss-shots-'));
const runs = join(tmp, 'runs');
const app = await startWebApp(tmp, { width: 1440, height: 900 });
const { page, server } = app;
const shot = async (name: string, fullPage = false): Promise<void> => {
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage });
  console.log(`${join(OUT, name)}.png`);
};
const nav = (screen: string) => page.getByRole('button', { name: screen, exact: true }).click();

try {
  // Two quick gmm-ring8 runs beside the fashion-mnist one, for Runs (three runs compared).
  for (const [name, div] of [
    ['ring8-kl', 'kl'],
    ['ring8-rkl', 'rkl'],
  ] as const) {
    const t = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/index.ts',
        'train',
        '--model',
        'gmm-ring8',
        '--divergence',
        div,
        '--iterations',
        '8',
        '--trajectories',
        '128',
        '--eval-every',
        '4',
        '--eval-samples',
        '1000',
        '--run-dir',
        join(runs, name),
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    if (t.status !== 0) throw new Error(`training ${name} failed: ${t.stderr}`);
  }

  await page.goto(server.url);
  await page.getByTestId('engine-status').filter({ hasText: 'engine open' }).waitFor({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Open fashion-mnist', exact: true }).click();
  await page.getByTestId('model-facts').waitFor({ timeout: 60_000 });
  await page.waitForTimeout(500); // the scroll to the facts
  await shot('1-model-after-open');

  await page.getByRole('button', { name: /Tune a sampler for fashion-mnist/ }).click();
  await page.getByRole('heading', { name: 'Tune' }).waitFor();
  await page.getByRole('button', { name: 'Quick test settings' }).click();
  await page.getByLabel('Run directory').fill(join(runs, 'fashion-mnist-quick'));
  await page.getByRole('button', { name: 'Start training' }).click();
  await page
    .getByTestId('train-phase')
    .filter({ hasText: /discriminator warm-up/ })
    .waitFor({ timeout: 300_000 });
  await shot('2-train-warm-up');
  await page.locator('[data-testid="train-progress"][data-state="finished"]').waitFor({ timeout: 900_000 });
  await page.getByTestId('samples-open').click();
  await page.getByRole('dialog').waitFor();
  await shot('3-train-finished-zoomed');
  await page.keyboard.press('Escape');

  await nav('Compare');
  await page.getByLabel('Samples per row').fill('500');
  await page.getByRole('checkbox', { name: /Search the best constant/ }).uncheck();
  await page.getByRole('checkbox', { name: /Per-class scores/ }).check();
  await page.getByRole('button', { name: 'Evaluate', exact: true }).click();
  const failed = page.getByRole('alert').filter({ hasText: 'Could not evaluate' });
  await page.getByTestId('compare-per-class').or(failed).waitFor({ timeout: 1_800_000 });
  if (await failed.count()) throw new Error(`Compare failed: ${await failed.innerText()}`);
  await page.getByTestId('compare-per-class').scrollIntoViewIfNeeded();
  await shot('4-compare-per-class');

  await nav('X/Y plot');
  await page.getByLabel('X axis (across)').fill('guidance=1,1.5,2.5');
  await page.getByLabel('Y axis (down, optional)').fill('churn=0,2');
  await page.getByLabel('Samples per cell').fill('200');
  await page.getByLabel('Folder').fill(join(tmp, 'xy'));
  await page.getByRole('button', { name: 'Plot', exact: true }).click();
  await page.getByTestId('xy-plot').waitFor({ timeout: 900_000 });
  await shot('5-xy-plot', true);

  await nav('Export');
  await page.getByRole('button', { name: 'Export ONNX' }).click();
  await page.getByTestId('export-download').waitFor({ timeout: 120_000 });
  await shot('6-export-download');

  await nav('Runs');
  await page.getByLabel('Runs folder').fill(runs);
  await page.getByLabel('Runs folder').press('Enter');
  for (const name of ['fashion-mnist-quick', 'ring8-kl', 'ring8-rkl'])
    await page.getByRole('checkbox', { name: new RegExp(`Compare ${name}`) }).check({ timeout: 30_000 });
  await page.getByTestId('runs-compare-chart').scrollIntoViewIfNeeded();
  await shot('7-runs-three-compared');
} finally {
  await app.close();
  rmSync(tmp, { recursive: true, force: true });
}
