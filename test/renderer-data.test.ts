// The renderer's pure data paths: a run's view from its events (state from run events, never from log text).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRunEvents, type RunView } from '../src/renderer/src/hooks/useRunEvents';

test("a run's view: its state comes from run events; a resumed run's metrics replace the iterations it redoes", () => {
  const run = '/runs/a';
  let v: RunView = { metrics: [], profile: null, samples: [], journal: [], status: { state: 'started', iteration: 0, iterations: 3 } };
  const metrics = (iteration: number) => ({ type: 'metrics' as const, run, iteration, metrics: { iteration } });
  v = applyRunEvents(v, [metrics(1), metrics(2), { type: 'log', run, level: 'info', message: 'a run finished at iteration 99 (text is not state)' }]);
  assert.equal(v.status.state, 'started');
  assert.deepEqual(
    v.metrics.map((m) => m.iteration),
    [1, 2],
  );
  v = applyRunEvents(v, [{ type: 'run', run, state: 'paused', iteration: 2, iterations: 3 }]);
  assert.deepEqual(v.status, { state: 'paused', iteration: 2, iterations: 3 });
  v = applyRunEvents(v, [{ type: 'run', run, state: 'started', iteration: 1, iterations: 3 }, metrics(2), metrics(3), { type: 'run', run, state: 'failed', iteration: 3, iterations: 3, reason: 'out of memory' }]);
  assert.deepEqual(
    v.metrics.map((m) => m.iteration),
    [1, 2, 3],
  );
  assert.deepEqual(v.status, { state: 'failed', iteration: 3, iterations: 3, reason: 'out of memory' });
  assert.deepEqual(
    v.journal.map((e) => (e.type === 'run' ? e.state : 'log')),
    ['log', 'paused', 'started', 'failed'],
  );
});
