// Drift policies (src/main/engine/drift/): a fresh policy samples exactly what the base sampler does;
// the training graph's log-probability and KL equal the float64 kernel's; DDPO and DPOK train on the
// q-learning paper's Swiss-roll benchmark into a run directory, and DPOK's β keeps it nearer the model.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { generate, resolveSettings } from '../src/main/engine/samplers/generate';
import { Stream } from '../src/main/engine/samplers/random';
import { initTf } from '../src/main/engine/learner/backend';
import { DriftPolicy } from '../src/main/engine/drift/policy';
import { logProbTensor } from '../src/main/engine/drift/ddpo';
import { baseStep, driftKl, driftLogProb } from '../src/main/engine/drift/kernels';
import { readDriftRun, trainDrift } from '../src/main/engine/drift/train';
import { dataDenoise, nearestSpacing, qRollout, scottBandwidth } from '../src/main/engine/drift/q-learning';
import { assertUsageError, cli, lastJson, spawnCli } from './helpers/cli';
import { readNpy, toFloat32 } from '../src/main/engine/io/npy';
import { DEFAULT_DRIFT_CONFIG, driftCost, parseDriftConfig, type DriftConfig } from '../src/shared/drift-config';

let swiss: Model;
let ring: Model;
before(async () => {
  await initTf();
  swiss = await Model.load(join(resourcesDir(), 'models', 'swissroll-a'));
  ring = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'));
});
after(async () => {
  await swiss.dispose();
  await ring.dispose();
});

const BOX = 'box:x0=0,x1=4,y0=-1,y1=4';
const config = (o: Partial<DriftConfig>): DriftConfig => ({ ...DEFAULT_DRIFT_CONFIG, rewards: [BOX], ...o });

test('a fresh drift policy samples the base sampler’s samples, bit for bit (Euler–Maruyama and DDIM, with classes)', async () => {
  for (const [model, sampler] of [
    [swiss, 'euler-maruyama'],
    [ring, 'ddim'],
    [ring, 'euler-maruyama'],
  ] as const) {
    const c = config({ sampler, eta: 0.8, steps: 12 });
    const p = DriftPolicy.create(model, c);
    try {
      const opts = { n: 40, batch: 16, seed: 5 };
      const plain = await generate(
        model,
        resolveSettings(model, { sampler, eta: sampler === 'ddim' ? 0.8 : 0, steps: 12 }),
        {
          ...opts,
          classes: 'random',
        },
      );
      const fresh = await p.rollout({ ...opts, record: true });
      const zero = await p.rollout({ ...opts, record: false }, true);
      assert.deepEqual(fresh.samples, plain.samples, `${model.name} ${sampler}: the fresh policy`);
      assert.deepEqual(zero.samples, plain.samples, `${model.name} ${sampler}: v = 0`);
      assert.deepEqual(fresh.labels, plain.labels);
      assert.ok(fresh.kl.every((v) => v === 0));
      // Every stochastic step is a transition: DDIM's last one is deterministic and is not.
      assert.equal(fresh.transitions!.count, 40 * (sampler === 'ddim' ? 11 : 12));
    } finally {
      p.dispose();
    }
  }
});

test('the training graph’s log-probability and KL equal the float64 kernel’s', async () => {
  const c = config({ steps: 8 });
  const p = DriftPolicy.create(swiss, c);
  try {
    // Weights away from zero, so the drift is not nothing.
    const rng = new Stream(4, 0);
    p.net.setWeights(p.net.getWeights().map((w) => Float32Array.from(w, () => 0.5 * rng.normal())));
    const ep = await p.rollout({ n: 24, seed: 2, batch: 24, record: true });
    const tr = ep.transitions!;
    const T = tr.count;
    const { logp, kl } = tf.tidy(() => {
      const r = logProbTensor(p, {
        inputs: tf.tensor2d(tr.inputs, [T, tr.inputDim]),
        mean: tf.tensor2d(tr.mean, [T, 2]),
        xNext: tf.tensor2d(tr.xNext, [T, 2]),
        c: tf.tensor1d(tr.c),
      });
      return { logp: r.logp.dataSync().slice(), kl: r.kl.dataSync().slice() };
    });
    // The kernel's float64 values from the same transitions: the graph omits log π's constant.
    let pathKl = 0;
    for (let t = 0; t < T; t++) {
      const b = {
        dim: 2,
        mean: Float64Array.from(tr.mean.subarray(2 * t, 2 * t + 2)),
        c: Float64Array.from([tr.c[t]!]),
      };
      const u = p.scores(tr.inputs.slice(t * tr.inputDim, (t + 1) * tr.inputDim), b.c);
      const ref =
        driftLogProb(b, u, tr.xNext.subarray(2 * t, 2 * t + 2))[0]! +
        2 * (Math.log(tr.c[t]!) + 0.5 * Math.log(2 * Math.PI));
      const refKl = driftKl(b, u)[0]!;
      // float32 forms the residual r = x' − m − c·v by cancellation: each entry is off by up to a few
      // ulps of |x'| + |m|, which log π = −|r|²/(2c²) turns into Σ|r|·δr/c² — large where c is small.
      let bound = 1e-5 * Math.max(1, Math.abs(ref));
      for (let k = 0; k < 2; k++) {
        const [xn, m] = [tr.xNext[2 * t + k]!, tr.mean[2 * t + k]!];
        const dr = 4 * 2 ** -24 * (Math.abs(xn) + Math.abs(m) + 1);
        bound += ((Math.abs(xn - m) + dr) * dr) / tr.c[t]! ** 2;
      }
      assert.ok(Math.abs(logp[t]! - ref) < bound, `transition ${t}: log π ${logp[t]} vs ${ref} (bound ${bound})`);
      assert.ok(Math.abs(kl[t]! - refKl) < 1e-4 * Math.max(1, refKl), `transition ${t}: KL ${kl[t]} vs ${refKl}`);
      pathKl += refKl;
    }
    // The rollout's path KL is the same sum, per trajectory.
    let sum = 0;
    for (let i = 0; i < ep.n; i++) sum += ep.kl[i]!;
    assert.ok(Math.abs(sum - pathKl) < 1e-6 * Math.max(1, pathKl), `path KL ${sum} vs ${pathKl}`);
    // The float64 base step of a transition is the kernel's own (one row re-derived from the model).
    const x = Float32Array.from([0.3, -1.2]);
    const x0 = await swiss.denoise(x, Float32Array.from([2]), null);
    const b = baseStep('euler-maruyama', 1, x, x0, [2], [1.5], 2);
    assert.ok(Math.abs(b.c[0]! - Math.sqrt(4 - 2.25)) < 1e-12);
  } finally {
    p.dispose();
  }
});

test('DDPO and DPOK train on swissroll-a: the box reward rises, DPOK’s β holds the path KL down, the run directory holds it', async () => {
  const base = config({ steps: 10, iterations: 6, trajectories: 128, evalEvery: 3, evalSamples: 256, seed: 1 });
  const out: Record<string, Record<string, number>> = {};
  for (const objective of ['ddpo', 'dpok'] as const) {
    const dir = mkdtempSync(join(tmpdir(), `drift-${objective}-`));
    const tensors: number[] = [];
    const r = await trainDrift(swiss, { ...base, objective, klWeight: 0.5 }, dir, {
      command: 'test',
      onIteration: () => tensors.push(tf.memory().numTensors),
    });
    assert.equal(r.iteration, 6);
    out[objective] = r.last;
    // No tensor leaks from one iteration to the next.
    assert.equal(tensors[tensors.length - 1], tensors[1], `${objective}: tensors ${tensors.join(', ')}`);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 6);
    assert.ok('eval/reward_mean' in JSON.parse(lines[2]!));
    assert.equal(readDriftRun(dir).config.objective, objective);
    assert.equal(readDriftRun(dir).config.rewards[0], BOX);
  }
  const [ddpo, dpok] = [out['ddpo']!, out['dpok']!];
  // Both beat the base sampler's 48% inside the box; DDPO, with no KL term, moves further from it.
  assert.ok(ddpo['eval/reward_mean']! > ddpo['eval/reward_base']! + 0.1, JSON.stringify(ddpo));
  assert.ok(dpok['eval/reward_mean']! > dpok['eval/reward_base']! + 0.05, JSON.stringify(dpok));
  assert.ok(
    dpok['eval/kl_path']! < ddpo['eval/kl_path']!,
    `path KL: DPOK ${dpok['eval/kl_path']} vs DDPO ${ddpo['eval/kl_path']}`,
  );
  assert.ok(Number.isFinite(ddpo['eval/knn_kl']));
});

test('drift settings: a run needs a reward; fields are checked by name', () => {
  assert.throws(
    () => parseDriftConfig({ ...DEFAULT_DRIFT_CONFIG }),
    /a drift policy learns for a reward: give at least one rewards/,
  );
  assert.throws(
    () => parseDriftConfig({ ...DEFAULT_DRIFT_CONFIG, rewards: [BOX], eta: 2 }, (k) => `--${k}`),
    /--eta must be a number in \[0, 1\]/,
  );
  assert.throws(() => parseDriftConfig({ ...DEFAULT_DRIFT_CONFIG, rewards: ['nope'] }), /unknown reward "nope"/);
  // The cost Tune shows: a pass per step of each trajectory; evaluations at 3, 6, 9 and 10, and the base sampler's.
  assert.deepEqual(driftCost(config({ iterations: 10, trajectories: 4, steps: 5, evalEvery: 3, evalSamples: 2 })), {
    trainingPasses: 200,
    evaluationPasses: 50,
    totalPasses: 250,
  });
  // An older drift.json: no lrSchedule (it trained at a constant rate), or the boolean annealLr; no
  // scoreFloor (it smoothed the score estimator by the points' spacing).
  const dir = mkdtempSync(join(tmpdir(), 'drift-old-'));
  const { lrSchedule: _, scoreFloor: __, ...old } = config({});
  const write = (c: object) =>
    writeFileSync(
      join(dir, 'drift.json'),
      JSON.stringify({
        format: 'sampler-studio-drift-run',
        version: '0.1.0',
        model: { name: 'm', dir },
        config: c,
        backend: 'cpu',
      }),
    );
  write(old);
  assert.equal(readDriftRun(dir).config.lrSchedule, 'constant');
  assert.equal(readDriftRun(dir).config.scoreFloor, 'spacing');
  write({ ...old, annealLr: true });
  assert.equal(readDriftRun(dir).config.lrSchedule, 'linear');
  assert.equal(config({}).scoreFloor, 'bandwidth', 'new runs stop the estimator at its bandwidth');
});

test('q-learning’s ratio estimator is the paper’s Σ p(x|y)·y / Σ p(x|y); the spacing h is the median nearest-neighbour distance', () => {
  const rng = new Stream(8, 0);
  const y = Float32Array.from({ length: 40 * 2 }, () => rng.normal());
  const x = Float32Array.from([0.3, -0.2, 2.5, 1.0, -1, 0]);
  const sigma = [0.7, 1.3, 0.25];
  const got = dataDenoise(x, sigma, y, 2);
  for (let j = 0; j < 3; j++) {
    // The ratio of the paper's Eq. 17–18, with Gaussian densities p(x|y) = N(x; y, σ²I), directly.
    let num0 = 0;
    let num1 = 0;
    let den = 0;
    for (let i = 0; i < 40; i++) {
      const d2 = (x[2 * j]! - y[2 * i]!) ** 2 + (x[2 * j + 1]! - y[2 * i + 1]!) ** 2;
      const p = Math.exp(-d2 / (2 * sigma[j]! ** 2)) / (2 * Math.PI * sigma[j]! ** 2);
      num0 += p * y[2 * i]!;
      num1 += p * y[2 * i + 1]!;
      den += p;
    }
    assert.ok(Math.abs(got[2 * j]! - num0 / den) < 1e-9 && Math.abs(got[2 * j + 1]! - num1 / den) < 1e-9, `row ${j}`);
  }
  // Points on a line at spacings 1, 1, 2, 4: nearest neighbours 1, 1, 1, 2, 4 → median 1.
  assert.equal(nearestSpacing(Float32Array.from([0, 1, 2, 4, 8]), 1), 1);
  assert.throws(() => dataDenoise(x, sigma, new Float32Array(3), 2), /3 values are no points of 2/);
});

test('q-learning below the estimator’s resolution: Scott’s bandwidth; the data score stops there (bandwidth), or smooths every level (spacing)', async () => {
  // Scott's rule by hand: 1-D points 0..9 (sd √(55/6)), M = 10 → h = sd·10^(−1/5).
  const line = Float32Array.from({ length: 10 }, (_, i) => i);
  assert.ok(Math.abs(scottBandwidth(line, 1) - Math.sqrt(55 / 6) * 10 ** -0.2) < 1e-12);
  // 2-D: the mean of the coordinates' sd, M^(−1/6).
  const grid = Float32Array.from([0, 0, 2, 0, 0, 4, 2, 4]);
  const sd = (Math.sqrt(4 / 3) + Math.sqrt(16 / 3)) / 2;
  assert.ok(Math.abs(scottBandwidth(grid, 2) - sd * 4 ** (-1 / 6)) < 1e-12);
  assert.equal(scottBandwidth(Float32Array.from([1, 2]), 2), 0);
  const rng = new Stream(3, 0);
  const points = Float32Array.from({ length: 256 * 2 }, () => rng.normal() * 2);
  const hS = scottBandwidth(points.subarray(0, 128 * 2), 2);
  for (const scoreFloor of ['bandwidth', 'spacing'] as const) {
    const c = parseDriftConfig(
      {
        ...DEFAULT_DRIFT_CONFIG,
        objective: 'q-learning',
        rewards: ['box:x0=0,x1=4,y0=-1,y1=4'],
        steps: 20,
        scoreFloor,
      },
      (k) => k,
    );
    const p = DriftPolicy.create(swiss, c);
    try {
      const ep = await qRollout(p, { n: 8, seed: 5, points, reward: async (_x, n) => new Float64Array(n) });
      const schedule = p.schedule;
      const N = schedule.length - 1;
      let below = 0;
      for (let k = 0; k < N; k++) {
        const rows = ep.transitions.ce1.subarray(k * 8 * 2, (k + 1) * 8 * 2);
        const zero = rows.every((v) => v === 0);
        if (scoreFloor === 'bandwidth' && schedule[k]! < hS) {
          below++;
          assert.ok(zero, `level ${k} (σ = ${schedule[k]}) is below h_S = ${hS}: the model's score stands`);
        } else assert.ok(!zero, `level ${k} (σ = ${schedule[k]}): the data's score is estimated`);
      }
      if (scoreFloor === 'bandwidth') assert.ok(below > 0 && below < N, `${below} of ${N} levels below h_S`);
    } finally {
      p.dispose();
    }
  }
});

test('q-learning trains on swissroll-a with its critic, and a resumed run continues exactly where it stopped', async () => {
  const c = config({
    objective: 'q-learning',
    steps: 8,
    iterations: 4,
    trajectories: 64,
    evalEvery: 2,
    evalSamples: 128,
    rewardWeight: 5,
    scoreSamples: 200,
    seed: 3,
  });
  const straight = mkdtempSync(join(tmpdir(), 'q-straight-'));
  await trainDrift(swiss, c, straight, { command: 'test' });
  // Stopped after iteration 2 of 4 (as a Stop, or a kill after its checkpoint), then resumed: the
  // learning rate anneals over the run's 4 iterations either way.
  const split = mkdtempSync(join(tmpdir(), 'q-split-'));
  const stop = new AbortController();
  const stopped = await trainDrift(swiss, c, split, {
    command: 'test',
    signal: stop.signal,
    onIteration: (e) => void (e.iteration === 2 && stop.abort()),
  });
  assert.deepEqual([stopped.iteration, stopped.stopped], [2, true]);
  const cp = JSON.parse(readFileSync(join(split, 'checkpoint.json'), 'utf8')) as {
    iteration: number;
    critic?: unknown;
  };
  assert.equal(cp.iteration, 2);
  assert.ok(cp.critic, 'the checkpoint holds the critic');
  await trainDrift(swiss, c, split, { command: 'test', resume: true });
  const rows = (dir: string) =>
    readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => Object.fromEntries(Object.entries(JSON.parse(l) as object).filter(([k]) => !k.startsWith('time/'))));
  // Equal up to float32 rounding: on restore, tfjs's Adam recomputes β₁ᵗ and β₂ᵗ from its step count
  // where the uninterrupted run multiplied them up step by step (a few ulps: 1e-6 of a TD loss here).
  const [a, b] = [rows(split), rows(straight)];
  assert.deepEqual(
    a.map((r) => Object.keys(r).sort()),
    b.map((r) => Object.keys(r).sort()),
  );
  a.forEach((r, i) => {
    for (const [k, v] of Object.entries(r)) {
      const w = b[i]![k] as number;
      assert.ok(
        Math.abs((v as number) - w) <= 1e-4 * Math.max(1, Math.abs(w)),
        `iteration ${i + 1} ${k}: ${v} vs ${w}`,
      );
    }
  });
  assert.deepEqual(a.slice(0, 2), b.slice(0, 2), 'the iterations before the stop are the same run');
  const last = rows(straight)[3]!;
  for (const k of ['losses/td', 'charts/r_minus_q', 'eval/reward_mean', 'eval/kl_path', 'eval/knn_kl'])
    assert.ok(Number.isFinite(last[k]), `${k}: ${last[k]}`);
});

test('CLI: train --intervention drift; a run killed with SIGKILL mid-training resumes and finishes, every iteration once', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'drift-cli-')), 'run');
  const flags = ['--model', 'swissroll-a', '--reward', BOX, '--objective', 'dpok', '--steps', '10'];
  const small = ['--trajectories', '64', '--eval-samples', '128', '--eval-every', '5', '--iterations', '400'];
  // Killed once its second iteration is reported: mid-run, whatever the machine's speed.
  const killed = await spawnCli(
    ['train', '--intervention', 'drift', ...flags, ...small, '--run-dir', dir, '--json'],
    (text, child) => {
      if (/"type":"metrics","run":"[^"]*","iteration":2\b/.test(text)) child.kill('SIGKILL');
    },
    240_000,
  );
  assert.equal(killed.signal, 'SIGKILL', killed.stderr.slice(-400));
  const done = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as { iteration: number };
  assert.ok(done.iteration >= 2);
  const resumed = await cli('train', '--resume', dir, '--iterations', String(done.iteration + 3), '--json');
  assert.equal(resumed.code, 0, resumed.stderr.slice(-600));
  assert.match(resumed.stderr, new RegExp(`"resumed at iteration ${done.iteration}"`));
  const result = lastJson(resumed.stdout) as { iteration: number; last: Record<string, number> };
  assert.equal(result.iteration, done.iteration + 3);
  assert.ok(result.last['eval/reward_base']! > 0.3, JSON.stringify(result.last));
  const iterations = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { iteration: number }).iteration);
  assert.deepEqual(
    iterations,
    Array.from({ length: done.iteration + 3 }, (_, i) => i + 1),
  );
  // Bad settings are usage errors that name the flag.
  assertUsageError(
    await cli('train', '--intervention', 'drift', '--model', 'swissroll-a', '--run-dir', join(dir, '..', 'x')),
    /give at least one --reward/,
  );
  assertUsageError(await cli('train', '--resume', dir, '--kl-weight', '2'), /drop --kl-weight/);
  // A setting the run would not read is refused, not ignored (the schema's readWhen).
  const fresh = ['train', '--intervention', 'drift', '--model', 'swissroll-a', '--run-dir', join(dir, '..', 'y')];
  const box = ['--reward', BOX];
  assertUsageError(
    await cli(...fresh, ...box, '--objective', 'q-learning', '--kl-weight', '0.3'),
    /: --kl-weight is read only with --objective dpok \(here: "q-learning"\): drop that flag$/m,
  );
  assertUsageError(
    await cli(...fresh, ...box, '--objective', 'dpok', '--eta', '0.5', '--score-floor', 'spacing'),
    /--eta is read only with --sampler ddim \(here: "euler-maruyama"\); --score-floor is read only with --objective q-learning \(here: "dpok"\): drop those flags/,
  );
  assertUsageError(
    await cli(...fresh, ...box, '--objective', 'q-learning', '--score', 'model', '--score-samples', '64'),
    /--score-samples is read only with --score data \(here: "model"\)/,
  );
});

test('q-learning’s ODE simulators: a fresh policy is DDIM (η = 0) to the bit, and VP ODE-Euler integrates the same ODE', async () => {
  const opts = { n: 64, batch: 64, seed: 9, record: false };
  const q = (sampler: 'ddim' | 'ode-euler', steps: number) =>
    DriftPolicy.create(ring, config({ objective: 'q-learning', sampler, eta: 0, steps }));
  const ddim = q('ddim', 12);
  try {
    const plain = await generate(ring, resolveSettings(ring, { sampler: 'ddim', eta: 0, steps: 12 }), {
      n: 64,
      batch: 64,
      seed: 9,
      classes: 'random',
    });
    const fresh = await ddim.rollout(opts);
    assert.deepEqual(fresh.samples, plain.samples);
    assert.ok(
      fresh.kl.every((v) => v === 0),
      'no action cost at v = 0',
    );
  } finally {
    ddim.dispose();
  }
  // Two discretisations of one probability-flow ODE, from the same noise: as the steps grow they agree.
  const gap = async (steps: number): Promise<number> => {
    const [a, b] = [q('ddim', steps), q('ode-euler', steps)];
    try {
      const [ra, rb] = [await a.rollout(opts), await b.rollout(opts)];
      let worst = 0;
      for (let i = 0; i < ra.samples.length; i++) worst = Math.max(worst, Math.abs(ra.samples[i]! - rb.samples[i]!));
      return worst;
    } finally {
      a.dispose();
      b.dispose();
    }
  };
  const [coarse, fine] = [await gap(10), await gap(400)];
  // Both are first order: 40× the steps should shrink the gap about 40× (measured: 0.97 → 0.022).
  assert.ok(fine < 0.05 && fine < coarse / 10, `ODE-Euler vs DDIM: ${coarse} at 10 steps, ${fine} at 400`);
  // q-learning trains on it: the deterministic sampler reports the action's cost, not a path KL.
  const dir = mkdtempSync(join(tmpdir(), 'q-ode-'));
  const r = await trainDrift(
    swiss,
    config({
      objective: 'q-learning',
      sampler: 'ode-euler',
      steps: 8,
      iterations: 2,
      trajectories: 64,
      evalSamples: 128,
      scoreSamples: 200,
    }),
    dir,
    { command: 'test' },
  );
  assert.ok(Number.isFinite(r.last['eval/action_cost']) && !('eval/kl_path' in r.last), JSON.stringify(r.last));
  assert.throws(
    () =>
      parseDriftConfig(
        { ...DEFAULT_DRIFT_CONFIG, rewards: [BOX], objective: 'dpok', sampler: 'ode-euler' },
        (k) => `--${k}`,
      ),
    /--objective dpok acts through the sampler's noise: use --sampler euler-maruyama, or ddim with --eta > 0 \(got ode-euler\)/,
  );
  assert.throws(
    () =>
      parseDriftConfig(
        { ...DEFAULT_DRIFT_CONFIG, rewards: [BOX], objective: 'q-learning', sampler: 'ddim', eta: 0.5 },
        (k) => `--${k}`,
      ),
    /q-learning simulates DDIM as the paper does, deterministic: give --eta 0/,
  );
});

test('export: a drift run as ONNX (x, sigma → drift), verified; sample --policy draws the same samples from the run and from the file', async () => {
  const root = mkdtempSync(join(tmpdir(), 'drift-export-'));
  const dir = join(root, 'run');
  await trainDrift(
    swiss,
    config({ objective: 'ddpo', steps: 6, iterations: 3, trajectories: 64, evalEvery: 0, evalSamples: 64 }),
    dir,
    { command: 'test' },
  );
  const out = join(root, 'drift.onnx');
  const ex = await cli('export', '--run', dir, '--out', out, '--json');
  assert.equal(ex.code, 0, ex.stderr.slice(-500));
  const r = lastJson(ex.stdout) as {
    kind: string;
    verification: { maxAbsDiff: number };
    metadata: Record<string, string>;
  };
  assert.equal(r.kind, 'drift');
  assert.ok(r.verification.maxAbsDiff <= 1e-4);
  assert.equal(r.metadata['sampler'], 'euler-maruyama');
  const side = JSON.parse(readFileSync(join(root, 'drift.json'), 'utf8')) as { format: string; iteration: string };
  assert.deepEqual([side.format, side.iteration], ['sampler-studio-drift', '3']);
  const draw = async (policy: string, file: string) => {
    const s = await cli('sample', '--policy', policy, '--n', '50', '--seed', '4', '--out', join(root, file), '--json');
    assert.equal(s.code, 0, s.stderr.slice(-500));
    return toFloat32(await readNpy(join(root, file)));
  };
  // The file's float32 graph and the engine's network agree to 1e-4; the samples, drawn on the same noise, to a little more.
  const [a, b] = [await draw(dir, 'run.npy'), await draw(out, 'file.npy')];
  assert.equal(a.length, 100);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  assert.ok(worst < 1e-3, `run vs file samples: ${worst}`);
  // And the run's samples are the engine's own rollout of the policy.
  const { loadDriftPolicy } = await import('../src/main/engine/drift/train');
  const { policy } = await loadDriftPolicy(swiss, dir);
  try {
    const ep = await policy.rollout({ n: 50, seed: 4, batch: 256, record: false });
    assert.deepEqual(Array.from(a), Array.from(ep.samples));
    assert.ok(
      ep.kl.every((v) => v > 0),
      'the trained policy drifts (else the comparison would prove little)',
    );
  } finally {
    policy.dispose();
  }
  assertUsageError(
    await cli('export', '--run', dir, '--out', out),
    /already exists; choose another path or pass --force/,
  );
  // eval --policy: the policy and its base sampler on the same seeds, with the run's reward and the path KL.
  const ev = await cli('eval', '--policy', dir, '--n', '64', '--seed', '5', '--json');
  assert.equal(ev.code, 0, ev.stderr.slice(-500));
  const cmp = lastJson(ev.stdout) as {
    rewards: string[];
    rows: { kind: string; reward: number; summary: Record<string, number> }[];
  };
  assert.deepEqual(cmp.rewards, [BOX]);
  assert.deepEqual(
    cmp.rows.map((r) => r.kind),
    ['policy', 'plain'],
  );
  assert.ok(cmp.rows[0]!.summary['kl_path']! > 0 && cmp.rows[1]!.summary['kl_path'] === 0);
  assert.ok(cmp.rows.every((r) => Number.isFinite(r.reward) && Number.isFinite(r.summary['knn_kl'])));
  assertUsageError(
    await cli('eval', '--policy', dir, '--temperature', '0.5'),
    /--temperature: not for a drift policy run/,
  );
});

test('fashion-mnist drift runs for the JPEG and the class rewards; eval --policy gives FID, precision and the JPEG size of the policy and of its base sampler', async () => {
  const root = mkdtempSync(join(tmpdir(), 'drift-fm-'));
  const dir = join(root, 'run');
  const fm = await Model.load(join(resourcesDir(), 'models', 'fashion-mnist'));
  try {
    const c = config({ rewards: ['-jpeg-size'], sampler: 'ddim', eta: 0.3, steps: 4 });
    const tiny = { iterations: 1, trajectories: 8, evalEvery: 0, evalSamples: 8 };
    await trainDrift(fm, { ...c, ...tiny }, dir, { command: 'test' });
    // The classifier's rewards: one class's logit, and a class mix.
    for (const reward of ['class-logit:7', 'class-mix:tools/experiments/class-mix-target.json']) {
      const r = await trainDrift(fm, { ...c, ...tiny, rewards: [reward] }, join(root, reward.split(':')[0]!), {
        command: 'test',
      });
      assert.ok(Number.isFinite(r.last['eval/reward_mean']) && r.last['eval/kl_path']! > 0, JSON.stringify(r.last));
    }
  } finally {
    await fm.dispose();
  }
  const ev = await cli('eval', '--policy', dir, '--n', '40', '--seed', '5', '--metrics', 'fid,precision', '--json');
  assert.equal(ev.code, 0, ev.stderr.slice(-500));
  const cmp = lastJson(ev.stdout) as { rows: { kind: string; reward: number; summary: Record<string, number> }[] };
  for (const r of cmp.rows) {
    assert.ok(r.summary['fid']! > 0 && r.summary['precision']! >= 0, JSON.stringify(r.summary));
    assert.ok(r.reward < 0, `−jpeg-size is negative: ${r.reward}`);
  }
});
