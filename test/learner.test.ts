// The learner end to end on the bundled 2-D benchmark, at a tiny budget: masks keep renoise
// trajectories in budget, an iteration produces every metric, tensors do not leak, a checkpoint
// restores exactly, and a run killed with SIGKILL resumes and finishes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { defaultConfig, type LearnerConfig } from '../src/main/engine/learner/config';
import { actionMask, horizonFor } from '../src/main/engine/learner/interventions';
import { nfeToFinish } from '../src/main/engine/samplers/cost';
import { Learner } from '../src/main/engine/learner/learner';
import { initTf } from '../src/main/engine/learner/backend';
import { spawnCli } from './helpers/cli';

const tmp = mkdtempSync(join(tmpdir(), 'ss-learner-'));
process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
let ring: Model;

before(async () => {
  await initTf();
  ring = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'));
});
after(async () => {
  await ring.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

function tiny(intervention: LearnerConfig['intervention'], extra: Partial<LearnerConfig> = {}): LearnerConfig {
  return {
    ...defaultConfig(intervention),
    trajectories: 128,
    rolloutBatch: 128,
    discriminatorInitSteps: 5,
    discriminatorSteps: 2,
    discriminatorBatch: 64,
    ppoEpochs: 1,
    ppoMinibatch: 256,
    hidden: 32,
    evalEvery: 0,
    evalSamples: 256,
    ...extra,
  };
}

test('renoise: masks keep every trajectory within the NFE budget and the horizon', async () => {
  const c = tiny('renoise', { steps: 5, nfeBudget: 15, initBias: 0 }); // a uniform initial policy jumps often
  const H = horizonFor(c);
  assert.equal(nfeToFinish('heun', 0, 5), 9);
  assert.equal(H, 5 + 2 * 3);
  // At level 3 with 6 NFE spent: jumping back 2 (to level 1) needs 7 more → 13 ≤ 15 allowed; back 4 → −1 masked.
  const m = actionMask(c, new Int32Array([3]), new Int32Array([6]), 3, H);
  assert.deepEqual(Array.from(m), [1, 1, 1, 0]);
  const learner = new Learner(ring, c);
  try {
    const ro = await learner.rollout(256, 3, { temperature: 1 });
    let jumped = 0;
    for (let r = 0; r < 256; r++) {
      assert.ok(ro.nfe[r]! <= 15, `row ${r} spent ${ro.nfe[r]} NFE`);
      assert.equal(ro.level[r * (H + 1) + H], 5, `row ${r} finished`);
      if (ro.nfe[r]! > 9) jumped++;
    }
    assert.ok(jumped > 50, `a uniform policy should jump often (${jumped} rows did)`);
  } finally {
    await learner.dispose();
  }
});

test('an iteration produces every metric, tensors do not leak, and a checkpoint restores exactly', async () => {
  const c = tiny('cfg');
  const a = new Learner(ring, c);
  const b = new Learner(ring, c); // same config, still at its initial weights
  try {
    const m1 = await a.step();
    for (const k of [
      'charts/learning_signal_mean',
      'losses/discriminator',
      'charts/discriminator_accuracy',
      'losses/policy',
      'charts/entropy',
      'charts/approx_kl',
      'charts/clipfrac',
      'charts/nfe',
    ]) {
      assert.ok(Number.isFinite(m1[k]), `${k} = ${m1[k]}`);
    }
    assert.equal(m1['charts/nfe'], 35);
    await a.step();
    const before = tf.memory().numTensors;
    await a.step();
    await a.step();
    assert.equal(tf.memory().numTensors, before, 'tensor count flat across iterations');
    // Restore a's state (after 4 iterations) into the fresh b; then both take the same step.
    assert.notDeepEqual(b.policy.getWeights(), a.policy.getWeights());
    await b.restore(await a.checkpoint());
    assert.deepEqual(b.policy.getWeights(), a.policy.getWeights());
    const na = await a.step();
    const nb = await b.step();
    // Equal to float32 round-off: tfjs's Adam recomputes β^t on restore instead of its running product.
    const wa = a.policy.getWeights();
    const wb = b.policy.getWeights();
    let diff = 0;
    wa.forEach((w, i) => w.forEach((v, k) => (diff = Math.max(diff, Math.abs(v - wb[i]![k]!)))));
    assert.ok(diff < 1e-6, `weights after the same step differ by ${diff}`);
    assert.ok(Math.abs(na['losses/policy']! - nb['losses/policy']!) < 1e-5);
    await a.checkpoint();
    await b.restore(await a.checkpoint());
    await b.restore(await a.checkpoint());
    const afterCp = tf.memory().numTensors;
    await b.restore(await a.checkpoint());
    assert.equal(tf.memory().numTensors, afterCp, 'checkpoint/restore leak no tensors');
  } finally {
    await a.dispose();
    await b.dispose();
  }
});

test('train: a run killed with SIGKILL mid-run resumes and finishes, losing at most the iteration in progress', async () => {
  const dir = join(tmp, 'run');
  const args = [
    'train',
    '--model',
    'gmm-ring8',
    '--intervention',
    'cfg',
    '--divergence',
    'rkl',
    '--iterations',
    '6',
    '--trajectories',
    '128',
    '--eval-every',
    '0',
    '--eval-samples',
    '300',
    '--run-dir',
    dir,
    '--json',
  ];
  let killed = false;
  const first = await spawnCli(
    args,
    (stderr, child) => {
      // Kill during iteration 3 (after the second checkpoint).
      if (!killed && /"done":2,/.test(stderr)) {
        killed = true;
        setTimeout(() => child.kill('SIGKILL'), 50);
      }
    },
    240_000,
  );
  assert.ok(killed, `never reached iteration 2: ${first.stderr.slice(-400)}`);
  assert.equal(first.signal, 'SIGKILL');
  assert.ok(existsSync(join(dir, 'checkpoint.json')));
  const resumed = await spawnCli(['train', '--resume', dir, '--json'], undefined, 240_000);
  assert.equal(resumed.code, 0, resumed.stderr.slice(-800));
  const res = JSON.parse(resumed.stdout.trim().split('\n').pop()!) as {
    iterations: number;
    last: Record<string, number>;
  };
  assert.equal(res.iterations, 6);
  assert.ok(Number.isFinite(res.last['eval/fid']), 'final evaluation');
  const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { iteration: number });
  assert.deepEqual(
    lines.map((l) => l.iteration),
    [1, 2, 3, 4, 5, 6],
    'one metrics line per iteration, none lost or duplicated',
  );
  assert.ok(existsSync(join(dir, 'profile.json')));
  assert.ok(existsSync(join(dir, 'profile.png')));
  assert.ok(existsSync(join(dir, 'samples', 'iter-00006.png')));
  // eval --policy: the run's EMA policy next to the plain sampler, same seed and n.
  const ev = await spawnCli(
    ['eval', '--policy', dir, '--n', '400', '--metrics', 'fid,precision,recall', '--per-class', '--json'],
    undefined,
    240_000,
  );
  assert.equal(ev.code, 0, ev.stderr.slice(-800));
  type Table = {
    iteration: number;
    rows: {
      kind: string;
      name: string;
      nfe: number;
      summary: Record<string, number>;
      perClass: { label: number; nFake: number; summary: Record<string, number> }[];
    }[];
    profile: number[][];
    actionByClass: { label: number; mean: number; meanLowNoise: number }[];
  };
  const table = JSON.parse(ev.stdout.trim().split('\n').pop()!) as Table;
  assert.equal(table.iteration, 6);
  assert.deepEqual(
    table.rows.map((r) => r.name),
    ['policy (cfg, rkl, τ=1)', 'recipe (mean w per level)', 'no guidance / plain'],
  );
  assert.deepEqual(
    table.rows.map((r) => r.kind),
    ['policy', 'recipe', 'plain'],
  );
  for (const r of table.rows) {
    assert.equal(r.nfe, 35);
    for (const k of ['fid', 'precision', 'recall']) assert.ok(Number.isFinite(r.summary[k]), `${r.name} ${k}`);
    // Per class: every sample counted once, each class scored.
    assert.equal(r.perClass.length, 8);
    assert.equal(
      r.perClass.reduce((s, c) => s + c.nFake, 0),
      400,
    );
    for (const c of r.perClass) assert.ok(Number.isFinite(c.summary['fid']), `${r.name} class ${c.label}`);
  }
  // The policy's mean guidance per class lies within the action range.
  assert.equal(table.actionByClass.length, 8);
  for (const a of table.actionByClass) assert.ok(a.mean >= 1 && a.mean <= 4, `class ${a.label}: mean action ${a.mean}`);
  assert.equal(table.profile.length, 18);

  // A finished run refuses a fresh start in the same directory.
  const again = await spawnCli(args, undefined, 240_000);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already holds a run; use --resume/);
});

test('the discriminator sees classes only when the data has labels; bad configs are refused', async () => {
  const { cpSync, readFileSync: rf, writeFileSync: wf } = await import('node:fs');
  const dir = join(tmp, 'nolabels');
  cpSync(join(resourcesDir(), 'models', 'gmm-ring8'), dir, { recursive: true });
  const m = JSON.parse(rf(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
  delete m['dataLabels'];
  wf(join(dir, 'model.json'), JSON.stringify(m));
  const model = await Model.load(dir);
  try {
    const l = new Learner(model, tiny('cfg', { conditioning: 'state+class' }));
    assert.equal(l.discriminator.layout.classes, 0);
    assert.equal(l.layout.classes, 9, 'the policy still gets the class (8 + null)');
    await l.dispose();
    const withLabels = new Learner(ring, tiny('cfg'));
    assert.equal(withLabels.discriminator.layout.classes, 9);
    await withLabels.dispose();
  } finally {
    await model.dispose();
  }
  const swiss = await Model.load(join(resourcesDir(), 'models', 'swissroll'));
  try {
    assert.throws(() => new Learner(swiss, tiny('cfg')), /cfg intervention needs a class-conditional model/);
    assert.throws(
      () => new Learner(swiss, tiny('gamma', { conditioning: 'state+class' })),
      /needs a class-conditional model/,
    );
    assert.throws(() => new Learner(ring, tiny('renoise', { nfeBudget: Infinity })), /finite NFE budget/);
    assert.throws(
      () => new Learner(ring, tiny('renoise', { sampler: 'euler', steps: 6, nfeBudget: 5 })),
      /at least the plain sampler's 6 NFE \(euler, 6 steps\)/,
    );
  } finally {
    await swiss.dispose();
  }
});

test('the initial action follows a baseline: the grid best guidance, EDM churn, continue', async () => {
  const { initActionFrom, nearestAction, ACTION_PRESETS } = await import('../src/main/engine/learner/config');
  assert.equal(nearestAction([1, 1.25, 1.5, 2], 1.3), 1);
  assert.equal(initActionFrom({ intervention: 'cfg', actions: ACTION_PRESETS.cfg, steps: 18 }, { guidance: 1 }), 0);
  assert.equal(initActionFrom({ intervention: 'cfg', actions: ACTION_PRESETS.cfg, steps: 18 }, { guidance: 2.4 }), 4);
  // EDM ImageNet churn 40 over 18 steps caps at γ = √2 − 1, the last gamma action.
  assert.equal(initActionFrom({ intervention: 'gamma', actions: ACTION_PRESETS.gamma, steps: 18 }, { churn: 40 }), 9);
  assert.equal(initActionFrom({ intervention: 'renoise', actions: [0, 1, 2, 4], steps: 6 }, {}), 0);
  // Default initial policies: mild guidance 1.5, EDM's published churn (γ = √2−1 at 18 steps), continue.
  assert.equal(ACTION_PRESETS.cfg[defaultConfig('cfg').initAction], 1.5);
  assert.equal(ACTION_PRESETS.gamma[defaultConfig('gamma').initAction], 0.4142);
  assert.equal(ACTION_PRESETS.renoise[defaultConfig('renoise').initAction], 0);
});

test('eval --policy on a renoise run brackets its average NFE with EDM baselines below and above it', async () => {
  const { runTraining } = await import('../src/main/engine/apps/train');
  const { cli, lastJson } = await import('./helpers/cli');
  const dir = join(tmp, 'renoise-run');
  // A uniform initial policy jumps often, so its average NFE lies strictly between 9 and 15.
  const { learner } = await runTraining({
    model: ring,
    config: tiny('renoise', { steps: 5, nfeBudget: 15, initBias: 0, iterations: 1 }),
    runDir: dir,
  });
  await learner.dispose();
  const r = await cli('eval', '--policy', dir, '--n', '300', '--metrics', 'fid', '--json');
  assert.equal(r.code, 0, r.stderr);
  const rows = (lastJson(r.stdout) as { rows: { kind: string; name: string; nfe: number }[] }).rows;
  const policy = rows[0]!;
  assert.ok(policy.nfe > 9 && policy.nfe < 15, `policy NFE ${policy.nfe}`);
  // Rows say what they are as data (kind); the names are for people.
  assert.deepEqual(
    rows.map((x) => x.kind),
    ['policy', 'plain', 'equal-nfe-below', 'equal-nfe-above', 'equal-nfe-mixed'],
  );
  const below = rows.find((x) => x.kind === 'equal-nfe-below')!;
  const above = rows.find((x) => x.kind === 'equal-nfe-above')!;
  assert.ok(
    below.nfe <= policy.nfe && above.nfe >= policy.nfe,
    `baselines ${below.nfe} / ${above.nfe} around ${policy.nfe}`,
  );
  assert.equal(above.nfe - below.nfe, 2, 'adjacent Heun step counts');
  // … and EDM at exactly the policy's average NFE, mixing the two runs sample by sample.
  const mixed = rows.find((x) => x.kind === 'equal-nfe-mixed')!;
  assert.match(mixed.name, /mixed \(NFE = policy\)/);
  assert.ok(Math.abs(mixed.nfe - policy.nfe) <= 2 / 300 + 1e-9, `mixed NFE ${mixed.nfe} vs policy ${policy.nfe}`);
  assert.equal(rows[1]!.name, 'no guidance / plain');
  assert.equal(rows[1]!.nfe, 9);
});

test('EMA warm-up: after one iteration the EMA heads are the trained weights, after two their mean', async () => {
  const l = new Learner(ring, tiny('cfg', { emaDecay: 0.95 }));
  try {
    await l.step();
    const w1 = l.policy.getWeights();
    const d1 = l.discriminator.net.getWeights();
    const maxDiff = (a: Float32Array[], b: Float32Array[]): number =>
      Math.max(...a.map((x, i) => Math.max(...x.map((v, k) => Math.abs(v - b[i]![k]!)))));
    assert.equal(maxDiff(l.policyEma, w1), 0);
    assert.equal(maxDiff(l.discriminator.ema, d1), 0);
    await l.step();
    const w2 = l.policy.getWeights();
    const mean = w1.map((x, i) => x.map((v, k) => 0.5 * (v + w2[i]![k]!)));
    assert.ok(maxDiff(l.policyEma, mean) < 1e-6);
    assert.ok(maxDiff(l.policyEma, w2) > 1e-6, 'the second iteration moved the weights');
  } finally {
    await l.dispose();
  }
});

test('resuming on another TensorFlow.js backend says so', async () => {
  const { runTraining } = await import('../src/main/engine/apps/train');
  const { writeFileSync } = await import('node:fs');
  const dir = join(tmp, 'backend-run');
  const first = await runTraining({ model: ring, config: tiny('cfg', { iterations: 1 }), runDir: dir });
  await first.learner.dispose();
  const cfgPath = join(dir, 'config.json');
  const saved = JSON.parse(readFileSync(cfgPath, 'utf8')) as { backend: string };
  const logs: string[] = [];
  // Same backend: no warning.
  const same = await runTraining({
    model: ring,
    config: tiny('cfg'),
    runDir: dir,
    resume: true,
    iterations: 2,
    onEvent: (e) => e.type === 'log' && logs.push(e.message!),
  });
  await same.learner.dispose();
  assert.ok(!logs.some((m) => /backend/.test(m)), logs.join('\n'));
  // The run's record says it was trained elsewhere.
  writeFileSync(cfgPath, JSON.stringify({ ...saved, backend: 'node-gpu' }));
  const other = await runTraining({
    model: ring,
    config: tiny('cfg'),
    runDir: dir,
    resume: true,
    iterations: 3,
    onEvent: (e) => e.type === 'log' && logs.push(e.message!),
  });
  await other.learner.dispose();
  assert.ok(
    logs.some((m) =>
      new RegExp(`trained on the TensorFlow.js node-gpu backend and continues on ${saved.backend}`).test(m),
    ),
    logs.join('\n'),
  );
  assert.equal(other.learner.iteration, 3);
});

test('eval --policy: --per-class on an unconditional model is refused with the reason; the report names seed, τ, passes and notes', async () => {
  const { runTraining } = await import('../src/main/engine/apps/train');
  const { cli, assertUsageError } = await import('./helpers/cli');
  const swiss = await Model.load(join(resourcesDir(), 'models', 'swissroll'));
  try {
    const dir = join(tmp, 'swiss-gamma');
    const { learner } = await runTraining({ model: swiss, config: tiny('gamma', { iterations: 1 }), runDir: dir });
    await learner.dispose();
    const r = await cli('eval', '--policy', dir, '--n', '200', '--per-class');
    assertUsageError(r, /per-class scores \(--per-class\) need a class-conditional model.*swissroll is unconditional/);
    // The human report says the seed and τ, counts network passes, and keeps the evaluations' notes.
    const h = await cli('eval', '--policy', dir, '--n', '200');
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /at iteration 1, n = 200, seed 1000003, τ = 1 /);
    assert.match(h.stdout, /^method +NFE +net +FID/m);
    assert.match(h.stdout, /note: generated: 200 samples < 2,048: FID is biased upwards/);
  } finally {
    await swiss.dispose();
  }
});

test('--init-bias sets how strongly the bias profile favours its action', async () => {
  const { cli, assertUsageError } = await import('./helpers/cli');
  const dir = join(tmp, 'bias-run');
  const r = await cli(
    'train',
    '--model',
    'gmm-ring8',
    '--init-profile',
    'bias',
    '--init-action',
    '0',
    '--init-bias',
    '4',
    '--iterations',
    '1',
    '--trajectories',
    '64',
    '--eval-every',
    '0',
    '--eval-samples',
    '100',
    '--run-dir',
    dir,
  );
  assert.equal(r.code, 0, r.stderr);
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { learner: LearnerConfig };
  assert.equal(cfg.learner.initBias, 4);
  assert.equal(cfg.learner.initAction, 0);
  // A fresh policy with bias 4 over 8 actions picks its action with p = e⁴/(e⁴ + 7) ≈ 0.886.
  const l = new Learner(ring, tiny('cfg', { initProfile: 'bias', initAction: 0, initBias: 4 }));
  try {
    const logits = l.policy.predict(
      await l.policyInput({
        x: new Float32Array([0.3, -1.2]),
        sigma: new Float32Array([2]),
        labels: new Int32Array([3]),
        step: null,
        n: 1,
      }),
      1,
    );
    const z = Array.from(logits).reduce((s, v) => s + Math.exp(v), 0);
    assert.ok(Math.abs(Math.exp(logits[0]!) / z - Math.exp(4) / (Math.exp(4) + 7)) < 0.01);
  } finally {
    await l.dispose();
  }
  assertUsageError(
    await cli('train', '--model', 'gmm-ring8', '--init-bias=-1', '--run-dir', join(tmp, 'bias-bad')),
    /--init-bias must be a number in \[0, 20\], got -1/,
  );
  // A setting the run would not read is refused, not ignored (the schema's readWhen).
  assertUsageError(
    await cli('train', '--model', 'gmm-ring8', '--init-bias', '4', '--run-dir', join(tmp, 'bias-unread')),
    /--init-bias is read only with --init-profile bias \(here: "window"\): drop that flag/,
  );
  assertUsageError(
    await cli(
      'train',
      '--model',
      'gmm-ring8',
      '--intervention',
      'gamma',
      '--objective',
      'reward',
      '--reward',
      'region:x=4',
      '--divergence',
      'rkl',
      '--nfe-budget',
      '30',
      '--run-dir',
      join(tmp, 'reward-unread'),
    ),
    /--divergence is read only with --objective occupancy \(here: "reward"\); --nfe-budget is read only with --intervention renoise \(here: "gamma"\): drop those flags/,
  );
});

test('training emits progress, metrics, profile and samples events that pass the protocol schema', async () => {
  const { runTraining } = await import('../src/main/engine/apps/train');
  const { isEngineEvent } = await import('../src/shared/events');
  type E = import('../src/shared/events').EngineEvent;
  const events: E[] = [];
  const dir = join(tmp, 'events-run');
  const { learner } = await runTraining({
    model: ring,
    config: tiny('cfg', { iterations: 2, evalEvery: 1, evalSamples: 200, evalSamplesPeriodic: 100 }),
    runDir: dir,
    onEvent: (e) => events.push(e),
  });
  await learner.dispose();
  // Every event survives a JSON round trip (as over a port or socket) and passes the schema.
  for (const e of events)
    assert.ok(isEngineEvent(JSON.parse(JSON.stringify(e))), `schema rejects ${JSON.stringify(e).slice(0, 200)}`);
  const of = <T extends E['type']>(t: T): Extract<E, { type: T }>[] =>
    events.filter((e): e is Extract<E, { type: T }> => e.type === t);
  assert.deepEqual(
    of('metrics').map((e) => e.iteration),
    [1, 2],
  );
  // Periodic evaluations (evalSamplesPeriodic) at iterations 1 and 2, the final one (evalSamples) at 2 only,
  // under names of their own; the pictures once per iteration, the last from the final evaluation.
  const [m1, m2] = of('metrics').map((e) => e.metrics);
  for (const m of [m1!, m2!]) {
    for (const k of ['periodic/fid', 'periodic/precision', 'periodic/recall', 'periodic/nfe', 'time/evaluation_s'])
      assert.ok(Number.isFinite(m[k]), `${k} = ${m[k]}`);
  }
  assert.equal(m1!['eval/fid'], undefined, 'no final evaluation before the last iteration');
  for (const k of ['eval/fid', 'eval/precision', 'eval/recall', 'eval/nfe']) assert.ok(Number.isFinite(m2![k]), k);
  assert.notEqual(m2!['eval/fid'], m2!['periodic/fid'], '200 samples and 100 give different estimates');
  // One progress event per finished iteration, and inside each iteration its phases ([Note: phases]
  // in apps/train.ts; issue 15: the first iteration was a silent "iteration 0" for minutes).
  const ends = of('progress').filter((e) => e.phase === undefined);
  assert.deepEqual(
    ends.map((e) => [e.done, e.total]),
    [
      [1, 2],
      [2, 2],
    ],
  );
  assert.equal(ends[1]!.etaSeconds, 0);
  const phases = (iteration: number): string[] => [
    ...new Set(
      of('progress')
        .filter((e) => e.phase?.iteration === iteration)
        .map((e) => e.phase!.label),
    ),
  ];
  assert.deepEqual(phases(1), [
    'rollout',
    'encoding expert states',
    'discriminator warm-up',
    'PPO update',
    'periodic evaluation',
  ]);
  assert.deepEqual(phases(2), [
    'rollout',
    'encoding expert states',
    'discriminator',
    'PPO update',
    'periodic evaluation',
    'final evaluation',
  ]);
  for (const e of of('progress'))
    if (e.phase) assert.ok(e.phase.done >= 0 && e.phase.done <= e.phase.total, JSON.stringify(e.phase));
  const warmup = of('progress').filter((e) => e.phase?.label === 'discriminator warm-up');
  assert.equal(warmup[0]!.phase!.total, tiny('cfg').discriminatorInitSteps + tiny('cfg').discriminatorSteps);
  const profiles = of('profile');
  assert.equal(profiles.length, 2);
  assert.equal(profiles[0]!.profile.length, 18);
  assert.deepEqual(profiles[0]!.actions, tiny('cfg').actions);
  for (const row of profiles[1]!.profile) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  const samples = of('samples');
  assert.equal(samples.length, 2);
  const png = Buffer.from(samples[1]!.pngBase64, 'base64');
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'a PNG');
  assert.ok(png.equals(readFileSync(samples[1]!.path)));
  // Malformed events are refused by the schema.
  for (const bad of [
    null,
    {},
    { type: 'metrics', run: 'r', iteration: 1, metrics: { a: 'x' } },
    { type: 'profile', run: 'r', iteration: 1, actions: [1], sigmas: [1], profile: [['a']] },
    { type: 'log', level: 'loud', message: 'm' },
    { type: 'samples', run: 'r', iteration: 1, path: 'p' },
  ]) {
    assert.equal(isEngineEvent(bad), false, JSON.stringify(bad));
  }
});

test('a rollout whose states would not fit in memory is refused naming trajectories and steps', async () => {
  const gmm64 = await Model.load(join(resourcesDir(), 'models', 'gmm64'));
  try {
    assert.throws(
      () => new Learner(gmm64, tiny('cfg', { trajectories: 65_536, rolloutBatch: 1024, steps: 1000 })),
      (e: Error) => {
        assert.ok(e instanceof RangeError, String(e));
        assert.match(e.message, /trajectories × \(horizon \+ 1\) × 64 = 65536 × 1001 × 64 = .* values/);
        assert.match(e.message, /lower trajectories or steps/);
        return true;
      },
    );
  } finally {
    await gmm64.dispose();
  }
});

/** Whether every float32 of a checkpoint's base64 weights is finite. */
function allFinite(b64s: string[]): boolean {
  return b64s.every((b) => {
    const buf = Buffer.from(b, 'base64');
    const f = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    return f.every(Number.isFinite);
  });
}

test('a run whose weights become NaN stops with a clear error and keeps its last good checkpoint (TerminateOnNaN)', async () => {
  const { runTraining } = await import('../src/main/engine/apps/train');
  const { cli } = await import('./helpers/cli');
  // The issue's --lr-policy 1e30, which the schema now refuses, put in from the second iteration on:
  // its first update makes the weights NaN. At 1e20 they stay finite (~1e20) but the logits overflow,
  // which the weights alone do not show: the next iteration's loss would, after a useless checkpoint.
  // One PPO minibatch per iteration (4,096 ≥ its 2,304 transitions), so one update makes the weights.
  // The discriminator the same way, through its own learning rate.
  for (const [head, lr] of [
    ['policy', 1e30],
    ['policy', 1e20],
    ['discriminator', 1e30],
  ] as const) {
    const dir = join(tmp, `diverging-${head}-${lr}`);
    const step = Learner.prototype.step;
    Learner.prototype.step = async function (this: Learner, signal?: AbortSignal) {
      if (this.iteration === 1 && head === 'policy') {
        this.optPolicy.dispose();
        this.optPolicy = tf.train.adam(lr);
      }
      if (this.iteration === 1 && head === 'discriminator') {
        this.discriminator.opt.dispose();
        this.discriminator.opt = tf.train.adam(lr);
      }
      return step.call(this, signal);
    };
    try {
      await assert.rejects(
        runTraining({ model: ring, config: tiny('cfg', { iterations: 6, ppoMinibatch: 4096 }), runDir: dir }),
        (e: Error) => {
          assert.ok(e instanceof RangeError, `a user-facing error, not ${e.name}`);
          assert.match(e.message, new RegExp(`^training diverged at iteration 2: the ${head}'s (loss|weights|logits)`));
          assert.match(e.message, /learning rate/);
          assert.match(
            e.message,
            /checkpoint\.json keeps iteration 1, the last good one \(finite weights and logits\)$/,
          );
          return true;
        },
      );
    } finally {
      Learner.prototype.step = step;
    }
    const cp = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as Record<string, string[]> & {
      iteration: number;
    };
    assert.equal(cp.iteration, 1, `lr ${lr}: checkpoint at iteration ${cp.iteration}`);
    for (const k of ['policy', 'discriminator', 'policyEma', 'discriminatorEma'])
      assert.ok(allFinite(cp[k]!), `checkpoint ${k} holds NaN/Inf`);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    assert.equal(lines.length, cp.iteration, 'no metrics line for the diverged iteration');
    assert.doesNotMatch(lines.join('\n'), /null/, 'no NaN metric was written');
    // The checkpoint kept is a usable one: it exports.
    const ex = await cli('export', '--run', dir, '--out', join(dir, 'policy.onnx'));
    assert.equal(ex.code, 0, `lr ${lr}: export of the kept checkpoint: ${ex.stderr}`);
  }
});

test('a checkpoint holding NaN weights (an old diverged run) is refused by export, sample --policy and resume', async () => {
  const { runTraining } = await import('../src/main/engine/apps/train');
  const { cli, assertUsageError } = await import('./helpers/cli');
  const { writeFileSync } = await import('node:fs');
  const dir = join(tmp, 'nan-run');
  const { learner } = await runTraining({ model: ring, config: tiny('cfg', { iterations: 1 }), runDir: dir });
  await learner.dispose();
  // What an older version wrote after training on through NaN: the EMA policy's first tensor poisoned.
  const file = join(dir, 'checkpoint.json');
  const cp = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> & { policyEma: string[] };
  const w = new Float32Array(Buffer.from(cp.policyEma[0]!, 'base64').byteLength / 4).fill(NaN);
  cp.policyEma[0] = Buffer.from(w.buffer).toString('base64');
  writeFileSync(file, JSON.stringify(cp));
  const message = /checkpoint\.json: policyEma\[0\]: holds \d+ NaN\/Inf values/;
  const out = join(tmp, 'nan-policy.onnx');
  assertUsageError(await cli('export', '--run', dir, '--out', out), message);
  assertUsageError(await cli('sample', '--policy', dir, '--out', join(tmp, 'nan-samples.npy')), message);
  assertUsageError(await cli('train', '--resume', dir, '--iterations', '2'), message);
  assert.ok(!existsSync(out));
  assert.ok(!existsSync(join(tmp, 'nan-samples.npy')));

  // Finite weights ~1e30 (what an older version kept one iteration before the NaN): the logits overflow.
  const huge = join(tmp, 'huge-run');
  const r2 = await runTraining({ model: ring, config: tiny('cfg', { iterations: 1 }), runDir: huge });
  await r2.learner.dispose();
  const file2 = join(huge, 'checkpoint.json');
  const cp2 = JSON.parse(readFileSync(file2, 'utf8')) as Record<string, unknown> & { policyEma: string[] };
  const b = Buffer.from(cp2.policyEma[0]!, 'base64');
  const w2 = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)).map((v) => v * 1e30);
  assert.ok(w2.every(Number.isFinite));
  cp2.policyEma[0] = Buffer.from(w2.buffer).toString('base64');
  writeFileSync(file2, JSON.stringify(cp2));
  const overflow = /huge-run: the EMA policy of its checkpoint \(iteration 1\) gives (NaN\/Inf|absurd) logits/;
  assertUsageError(await cli('export', '--run', huge, '--out', out), overflow);
  assertUsageError(await cli('sample', '--policy', huge, '--out', join(tmp, 'huge-samples.npy')), overflow);
  assertUsageError(await cli('eval', '--policy', huge, '--n', '100'), overflow);
  assert.ok(!existsSync(out));
});

test('a cancel during the discriminator’s warm-up or PPO stops there: no further update starts', async () => {
  for (const phase of ['discriminator', 'policy'] as const) {
    const learner = new Learner(ring, tiny('cfg', { discriminatorInitSteps: 200, ppoEpochs: 50, ppoMinibatch: 16 }));
    const controller = new AbortController();
    // Count the phase's Adam updates (one per discriminator step, one per PPO minibatch); abort in the 5th.
    const opt = phase === 'discriminator' ? learner.discriminator.opt : learner.optPolicy;
    const minimize = opt.minimize.bind(opt);
    let updates = 0;
    let afterAbort = 0;
    opt.minimize = (...args: Parameters<typeof minimize>) => {
      if (controller.signal.aborted) afterAbort++;
      if (++updates === 5) controller.abort();
      return minimize(...args);
    };
    try {
      await assert.rejects(learner.step(controller.signal), (e: Error) => e.name === 'SamplingCancelled', phase);
      assert.equal(updates, 5, `${phase}: updates`);
      assert.equal(afterAbort, 0, `${phase}: updates after the signal`);
      assert.equal(learner.iteration, 0);
    } finally {
      await learner.dispose();
    }
  }
});
