// The renderer's pure data paths: chart columns from metrics lines (gaps, joins, bands, the y range)
// and a run's view from its events (state from run events, never from log text).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allPositive,
  comparisonChart,
  metricChart,
  metricChartWithBase,
  metricColumns,
  paddedRange,
  pointCount,
  tickLabel,
  logTickLabel,
  smoothChart,
  smoothColumn,
  xRange,
  type ChartData,
  type Column,
} from '../src/renderer/src/components/chartData';
import { applyRunEvents, type RunView } from '../src/renderer/src/hooks/useRunEvents';
import { DRIFT_CHARTS, metricInfo, TRAIN_CHARTS } from '../src/shared/metrics';
import { timeBreakdown } from '../src/renderer/src/components/timeBreakdown';
import { NO_WORKERS, redisOf, savedWorkers, shardSizeError, workersParam } from '../src/renderer/src/state/workers';
import { splitPassword, withPassword } from '../src/shared/redis-url';

const line = (iteration: number, metrics: Record<string, number>) => ({
  iteration,
  metrics: { iteration, ...metrics },
});

test('a per-iteration metric has a gap (null) where a line lacks it or it is not finite', () => {
  const lines = [
    line(1, { 'charts/entropy': 2 }),
    line(2, {}),
    line(3, { 'charts/entropy': Infinity }),
    line(4, { 'charts/entropy': 1.5 }),
  ];
  assert.deepEqual(metricColumns(lines, 'charts/entropy'), { x: [1, 2, 3, 4], y: [2, null, null, 1.5] });
});

test('an evaluation metric has points only where it was written (joined across), a gap where not finite', () => {
  assert.equal(metricInfo('eval/fid').cadence, 'evaluation');
  const lines = [
    line(1, {}),
    line(2, { 'eval/fid': 0.5 }),
    line(3, {}),
    line(4, { 'eval/fid': Infinity }),
    line(6, { 'eval/fid': 0.25 }),
  ];
  assert.deepEqual(metricColumns(lines, 'eval/fid'), { x: [2, 4, 6], y: [0.5, null, 0.25] });
});

test('the learning signal chart carries its ± std band from the catalogue', () => {
  const info = TRAIN_CHARTS.find((m) => m.band !== undefined)!;
  assert.equal(info.key, 'charts/learning_signal_mean');
  const c = metricChart([line(1, { [info.key]: -1, [info.band!]: 0.5 }), line(2, { [info.key]: 0 })], info);
  assert.equal(c.band, true);
  assert.deepEqual(c.data, [
    [1, 2],
    [-1, 0],
    [-1.5, null],
    [-0.5, null],
  ]);
  assert.equal(pointCount(c), 2, 'band edges are not points');
});

test("a drift run's evaluation reward: the policy's with its ± std band and the base sampler's as a second series, only where evaluated", () => {
  const info = DRIFT_CHARTS.find((m) => m.key === 'eval/reward_mean')!;
  assert.equal(info.cadence, 'evaluation');
  const lines = [
    line(1, { 'charts/reward_mean': 0.4 }),
    line(2, { 'eval/reward_mean': 0.7, 'eval/reward_std': 0.1, 'eval/reward_base': 0.5 }),
    line(3, {}),
    line(4, { 'eval/reward_mean': 0.8, 'eval/reward_std': 0.2, 'eval/reward_base': 0.5 }),
  ];
  const c = metricChartWithBase(lines, info, { key: 'eval/reward_base', label: 'base sampler' });
  assert.deepEqual(c.names, [info.label, 'base sampler']);
  assert.equal(c.band, true);
  assert.equal(c.data.length, 5);
  assert.deepEqual(c.data.slice(0, 3), [
    [2, 4],
    [0.7, 0.8],
    [0.5, 0.5],
  ]);
  const [lo, hi] = c.data.slice(3) as number[][];
  assert.ok(Math.abs(lo![0]! - 0.6) < 1e-12 && Math.abs(hi![1]! - 1.0) < 1e-12);
  assert.equal(pointCount(c), 4, 'both series count, band edges do not');
  // The drift run's other evaluation metrics are sparse too (joined across the iterations between).
  for (const k of ['eval/kl_path', 'eval/action_cost', 'eval/knn_kl'])
    assert.equal(metricInfo(k).cadence, 'evaluation');
});

test('runs side by side share the union of their iterations; a run without a line there is undefined (joined), not a gap', () => {
  const c = comparisonChart(
    [
      { name: 'a', lines: [line(3, { 'eval/fid': 1 }), line(6, { 'eval/fid': 0.5 })] },
      { name: 'b', lines: [line(5, { 'eval/fid': 2 }), line(6, { 'eval/fid': Infinity })] },
    ],
    'eval/fid',
  );
  assert.deepEqual(c.names, ['a', 'b']);
  assert.deepEqual(c.data, [
    [3, 5, 6],
    [1, undefined, 0.5],
    [undefined, 2, null],
  ]);
  assert.equal(pointCount(c), 3, 'the non-finite value is a gap, not a point');
});

test('a log axis only while every value is positive', () => {
  assert.equal(
    allPositive(comparisonChart([{ name: 'a', lines: [line(1, { 'charts/approx_kl': 0.01 })] }], 'charts/approx_kl')),
    true,
  );
  assert.equal(
    allPositive(
      comparisonChart(
        [{ name: 'a', lines: [line(1, { 'charts/approx_kl': 0.01 }), line(2, { 'charts/approx_kl': -1e-4 })] }],
        'charts/approx_kl',
      ),
    ),
    false,
  );
});

test('the y range: a flat or one-point series sits mid-chart in a narrow range (no ±1, no fake slope)', () => {
  const [lo, hi] = paddedRange(35, 35);
  assert.ok(lo < 35 && hi > 35 && hi - lo < 1, `[${lo}, ${hi}]`);
  assert.ok(Math.abs((lo + hi) / 2 - 35) < 1e-9);
  // Rounding noise does not fill the chart.
  const [nlo, nhi] = paddedRange(0.1, 0.1 + 1e-12);
  assert.ok(nhi - nlo > 1e-3, 'noise is drawn flat');
  // A real span is kept, padded a little.
  const [rlo, rhi] = paddedRange(0.5, 1.5);
  assert.ok(rlo < 0.5 && rlo > 0.4 && rhi > 1.5 && rhi < 1.6);
  assert.deepEqual(
    paddedRange(0, 0).map((v) => Math.round(v * 100) / 100),
    [-1.16, 1.16],
  );
  assert.deepEqual(xRange(7, 7), [6, 8]);
});

test('tick labels have the decimals their spacing needs', () => {
  assert.deepEqual(
    [0.0995, 0.1, 0.1005].map((v) => tickLabel(v, 0.0005)),
    ['0.0995', '0.1000', '0.1005'],
  );
  assert.deepEqual(
    [0, 0.25, 0.5].map((v) => tickLabel(v, 0.25)),
    ['0.00', '0.25', '0.50'],
  );
  assert.equal(tickLabel(-1e-17, 0.5), '0.0');
  assert.equal(tickLabel(35, 1), '35');
  assert.equal(logTickLabel(0.00001), '0.00001');
  assert.equal(logTickLabel(0.030000000000000002), '0.03');
});

test("a run's view: its state comes from run events; a resumed run's metrics replace the iterations it redoes", () => {
  const run = '/runs/a';
  let v: RunView = {
    kind: 'learner',
    metrics: [],
    profile: null,
    levels: null,
    samples: [],
    evaluations: [],
    journal: [],
    progress: null,
    status: { state: 'started', iteration: 0, iterations: 3 },
  };
  const metrics = (iteration: number) => ({ type: 'metrics' as const, run, iteration, metrics: { iteration } });
  v = applyRunEvents(v, [
    metrics(1),
    metrics(2),
    { type: 'log', run, level: 'info', message: 'a run finished at iteration 99 (text is not state)' },
  ]);
  assert.equal(v.status.state, 'started');
  assert.deepEqual(
    v.metrics.map((m) => m.iteration),
    [1, 2],
  );
  v = applyRunEvents(v, [{ type: 'run', run, state: 'paused', iteration: 2, iterations: 3 }]);
  assert.deepEqual(v.status, { state: 'paused', iteration: 2, iterations: 3 });
  v = applyRunEvents(v, [
    { type: 'run', run, state: 'started', iteration: 1, iterations: 3 },
    metrics(2),
    metrics(3),
    { type: 'run', run, state: 'failed', iteration: 3, iterations: 3, reason: 'out of memory' },
  ]);
  assert.deepEqual(
    v.metrics.map((m) => m.iteration),
    [1, 2, 3],
  );
  assert.deepEqual(v.status, { state: 'failed', iteration: 3, iterations: 3, reason: 'out of memory' });
  assert.deepEqual(
    v.journal.map((e) => (e.type === 'run' ? e.state : 'log')),
    ['log', 'paused', 'started', 'failed'],
  );
  // A step scheduler's σ by step: the latest levels event is the view's.
  const levels = (iteration: number) => ({
    type: 'levels' as const,
    run,
    iteration,
    n: 4,
    steps: [{ step: 0, rows: 4, mean: 80, p10: 80, p90: 80 }],
    schedule: [80, 0],
  });
  v = applyRunEvents(v, [levels(2), levels(3)]);
  assert.equal(v.levels?.iteration, 3);
  assert.equal(v.metrics.length, 3); // levels are not metrics lines
});

test('a log range ends on one significant digit, where the log ticks start', () => {
  assert.deepEqual(paddedRange(0.01, 0.01, true), [0.007, 0.02]);
  assert.deepEqual(paddedRange(0.0336, 0.127, true), [0.03, 0.2]);
});

test('durations read as h:mm:ss', async () => {
  const { clock } = await import('../src/shared/clock');
  assert.equal(clock(0), '0:00:00');
  assert.equal(clock(59.6), '0:01:00');
  assert.equal(clock(3725), '1:02:05');
  assert.equal(clock(40 * 3600), '40:00:00');
  assert.equal(clock(NaN), '–:––:––');
  assert.equal(clock(-1), '–:––:––');
});

test('the Runs table sorts by any column, ties by name, either way', async () => {
  const { sortRuns } = await import('../src/renderer/src/state/runs');
  type Summary = import('../src/shared/protocol').RunSummary;
  const run = (dir: string, o: Partial<Summary>): Summary => ({
    dir,
    kind: 'learner',
    model: 'm',
    intervention: 'cfg',
    divergence: 'kl',
    conditioning: 'state',
    iteration: 10,
    iterations: 10,
    last: null,
    active: false,
    started: '2026-12-01T00:00:00.000Z',
    seconds: 0,
    evalSamples: null,
    lastState: null,
    reason: null,
    ...o,
  });
  const runs = [
    run('/r/b', { started: '2026-12-01T02:00:00.000Z', seconds: 5, last: { 'eval/fid': 0.3 } }),
    run('/r/a', { started: '2026-12-01T01:00:00.000Z', seconds: 50, last: { 'eval/fid': 0.2 } }),
    run('/r/c', { started: '2026-12-01T03:00:00.000Z', seconds: 5, iteration: 3 }),
  ];
  const names = (by: Parameters<typeof sortRuns>[1], d = false): string[] =>
    sortRuns(runs, by, d).map((r) => r.dir.slice(3));
  assert.deepEqual(names('started', true), ['c', 'b', 'a']);
  assert.deepEqual(names('run'), ['a', 'b', 'c']);
  assert.deepEqual(names('duration'), ['b', 'c', 'a'], 'ties by name');
  assert.deepEqual(names('fid'), ['a', 'b', 'c'], 'no FID last');
  assert.deepEqual(names('status'), ['a', 'b', 'c'], 'finished before stopped, by name');
  // The kept lifecycle wins over the count: a resumed run stopped at 12 of 38 is not finished at 12 of 12.
  const { listedStatus } = await import('../src/renderer/src/state/runs');
  assert.equal(listedStatus(run('/r/s', { iteration: 12, iterations: 38, lastState: 'stopped' })).state, 'stopped');
  assert.deepEqual(listedStatus(run('/r/f', { iteration: 3, iterations: 38, lastState: 'failed', reason: 'NaN' })), {
    state: 'failed',
    iteration: 3,
    iterations: 38,
    reason: 'NaN',
  });
  assert.equal(listedStatus(run('/r/i', { lastState: 'started' })).state, 'stopped', 'the engine went away');
  assert.equal(listedStatus(run('/r/t', { lastState: 'stopped', active: true })).state, 'started');
});

test('Compare: a negative KID is not bolded as the best (it is noise around 0); ties bold nothing; Δ is the policy minus the row', async () => {
  const { bestRow, delta } = await import('../src/renderer/src/state/compare');
  const row = (name: string, summary: Record<string, number>) => ({
    kind: 'plain' as const,
    name,
    nfe: 35,
    networkEvals: 35,
    summary,
  });
  const result = (rows: ReturnType<typeof row>[]) => ({
    run: '/r',
    model: 'm',
    iteration: 1,
    n: 100,
    seed: 0,
    temperature: 1,
    rows,
    profile: [],
    sigmas: [],
    actions: [],
    flags: [],
  });
  const kid = (v: number, sd: number) => ({ kid: v, kid_std: sd });
  const r = result([
    row('policy', { ...kid(2e-5, 7e-5), fid: 0.5 }),
    row('a', { ...kid(-4e-5, 7e-5), fid: 0.4 }),
    row('b', { ...kid(3e-4, 7e-5), fid: 0.6 }),
  ]);
  assert.equal(bestRow(r, 'fid'), 1);
  assert.equal(bestRow(r, 'kid'), -1, '−4e-5 ± 7e-5 and 2e-5 ± 7e-5 cannot be told apart: no bold');
  const clear = result([row('policy', kid(1e-5, 1e-5)), row('a', kid(-4e-5, 1e-5)), row('b', kid(3e-4, 1e-5))]);
  assert.equal(bestRow(clear, 'kid'), -1, 'a negative KID counts as 0, within the band of 1e-5');
  const apart = result([row('policy', kid(2e-4, 1e-5)), row('a', kid(-4e-5, 1e-5)), row('b', kid(3e-4, 1e-5))]);
  assert.equal(bestRow(apart, 'kid'), 1, 'clearly lowest');
  assert.equal(delta(r, r.rows[1]!, 'fid'), '+0.1000');
  assert.equal(delta(r, r.rows[2]!, 'fid'), '−0.1000');
});

test("smoothColumn: TensorBoard's debiased EMA; gaps stay gaps, a constant stays exact, w = 0 is the identity", () => {
  const near = (a: Column, b: Column) =>
    a.forEach((v, i) =>
      v === null || v === undefined ? assert.equal(v, b[i]) : assert.ok(Math.abs(v - (b[i] as number)) < 1e-12),
    );
  // w = 0.5 on 1, 2, 3: 0.5 / 0.5 = 1; (0.25 + 1) / 0.75; (0.625 + 1.5) / 0.875.
  near(smoothColumn([1, 2, 3], 0.5), [1, 1.25 / 0.75, 2.125 / 0.875]);
  // A gap (null) is kept and does not reset the average; undefined (no value for this run) is kept.
  near(smoothColumn([1, null, 2, undefined, 3], 0.5), [1, null, 1.25 / 0.75, undefined, 2.125 / 0.875]);
  assert.deepEqual(smoothColumn([0.3, 0.3, 0.3], 0.9), [0.3, 0.3, 0.3]);
  const col: Column = [5, 1, 4];
  assert.equal(smoothColumn(col, 0), col);
  // The chart: every series and band edge smoothed, the raw series appended after the band.
  const chart: ChartData = {
    data: [
      [1, 2, 3],
      [1, 2, 3],
      [0, 1, 2],
      [2, 3, 4],
    ],
    names: ['FID'],
    band: true,
  };
  const s = smoothChart(chart, 0.5);
  assert.equal(s.raw, true);
  assert.equal(s.data.length, 5);
  assert.deepEqual(s.data[4], [1, 2, 3], 'the raw series, last');
  near(s.data[2]!, smoothColumn([0, 1, 2], 0.5));
  assert.equal(smoothChart(chart, 0), chart);
});

test('where the time went (issue 19): on workers the rollout splits into the queue’s publish, wait and gather and what the learner did itself', () => {
  const local = timeBreakdown({
    iteration: 3,
    'time/iteration_s': 10,
    'time/rollout_s': 6,
    'time/discriminator_s': 3,
    'time/ppo_s': 0.9995,
  });
  assert.deepEqual(
    local?.parts.map((p) => [p.key, p.seconds]),
    [
      ['time/rollout_s', 6],
      ['time/discriminator_s', 3],
      ['time/ppo_s', 0.9995],
    ],
    'under a millisecond left over is rounding',
  );
  assert.equal(local?.onWorkers, false);
  const remote = timeBreakdown({
    iteration: 4,
    'time/iteration_s': 10,
    'time/rollout_s': 7,
    'time/queue_publish_s': 0.5,
    'time/queue_wait_s': 5,
    'time/queue_gather_s': 0.5,
    'time/discriminator_s': 1,
    'time/ppo_s': 1,
    'time/evaluation_s': 4,
  })!;
  assert.equal(remote.onWorkers, true);
  assert.deepEqual(
    remote.parts.map((p) => [p.label, p.seconds]),
    [
      ['Queue publish', 0.5],
      ['Queue wait', 5],
      ['Queue gather', 0.5],
      ['Rollout here (encoding, merge)', 1],
      ['Discriminator time', 1],
      ['PPO time', 1],
      ['Other', 1],
    ],
  );
  assert.equal(remote.evaluation, 4, 'the evaluation is after the iteration, apart');
  assert.equal(timeBreakdown({ iteration: 1 }), null);
});

test('the workers settings as kept (issue 19): checked field by field; the password apart; workers only when asked and usable', () => {
  assert.deepEqual(savedWorkers('junk'), NO_WORKERS);
  assert.deepEqual(savedWorkers({ url: 5, password: 'p', onWorkers: 'yes', shardSize: '8' }), {
    url: '',
    password: 'p',
    onWorkers: false,
    shardSize: '8',
  });
  const s = { url: 'redis://10.0.0.5:6379', password: 's@cret', onWorkers: true, shardSize: '' };
  assert.deepEqual(redisOf(s), {
    url: 'redis://:s%40cret@10.0.0.5:6379',
    shown: 'redis://:***@10.0.0.5:6379',
    problem: null,
  });
  assert.deepEqual(workersParam(s), { url: 'redis://:s%40cret@10.0.0.5:6379' });
  assert.deepEqual(workersParam({ ...s, shardSize: '32' }), {
    url: 'redis://:s%40cret@10.0.0.5:6379',
    shardSize: 32,
  });
  assert.equal(workersParam({ ...s, shardSize: '0' }), undefined);
  assert.equal(
    shardSizeError('2000000'),
    'must be a whole number in [1, 1000000], or empty',
    'the check the CLI and the protocol make',
  );
  assert.equal(shardSizeError(' '), null);
  assert.equal(workersParam({ ...s, onWorkers: false }), undefined);
  assert.equal(workersParam({ ...s, url: '' }), undefined);
  assert.match(redisOf({ ...s, url: 'http://h:1' })!.problem!, /scheme must be redis/);
  assert.deepEqual(splitPassword('redis://:se%40cret@h:6379/2'), { url: 'redis://h:6379/2', password: 'se@cret' });
  assert.equal(withPassword('redis://h:6379/2', 'se@cret'), 'redis://:se%40cret@h:6379/2');
});
