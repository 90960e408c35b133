// `npm start` without Electron's binary (issue 15): it starts web mode and says why in our words, not
// with the advice of Electron's own package ("npx install-electron"), which contradicts the README.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { electronBinary } from '../src/main/start';

test('without its binary, Electron is reported as not installed, without its package advice', (t) => {
  const r = electronBinary(120_000);
  if ('path' in r) return t.skip(`Electron's binary is installed here (${r.path})`);
  assert.match(r.error, /^its binary is not installed/);
  assert.doesNotMatch(r.error, /install-electron|Please delete/);
});
