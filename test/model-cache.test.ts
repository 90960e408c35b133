import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelCache } from '../src/main/engine/models/model';
import { ModelError } from '../src/main/engine/models/manifest';
import { resourcesDir } from '../src/main/engine/models/registry';

test('ModelCache opens each model once and retries a failed load after the files are fixed', async () => {
  const cache = new ModelCache();
  const dir = join(resourcesDir(), 'models', 'gmm-ring8');
  const [a, b] = await Promise.all([cache.get(dir), cache.get(dir + '/')]);
  assert.equal(a, b);
  assert.equal(a.stats.calls, 1, 'one probe call, one session');

  const tmp = mkdtempSync(join(tmpdir(), 'ss-cache-'));
  try {
    cpSync(dir, tmp, { recursive: true });
    writeFileSync(join(tmp, 'model.json'), '{ broken');
    await assert.rejects(cache.get(tmp), ModelError);
    cpSync(join(dir, 'model.json'), join(tmp, 'model.json'));
    const c = await cache.get(tmp);
    assert.equal(c.name, 'gmm-ring8');
  } finally {
    await cache.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
});
