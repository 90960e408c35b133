// The RL step scheduler (issue 16): the Pearson reward against a float64 reference on fixed
// features, episodes within their budget, the initial policy on its baseline ladder, a PPO update
// that moves the mean towards actions with positive advantage, and a run that trains, writes its
// files and resumes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { initTf } from '../src/main/engine/learner/backend';
import { pooledEncoder } from '../src/main/engine/learner/encoder';
import {
  baseLogit,
  maxDecisions,
  pearson,
  ppoUpdate,
  SchedulerPolicy,
  standardise,
  stdAt,
  terminalRewards,
} from '../src/main/engine/scheduler/rl-scheduler';
import { loadSchedulerPolicy, meanSchedule, trainScheduler } from '../src/main/engine/scheduler/train';
import { StackedRandom, Stream } from '../src/main/engine/samplers/random';
import * as ort from 'onnxruntime-node';
import { DEFAULT_SCHEDULER_CONFIG, parseSchedulerConfig } from '../src/shared/scheduler-config';
import { parseSigmasText } from '../src/shared/sigmas';
import { readNpy, toFloat32 } from '../src/main/engine/io/npy';

const run = promisify(execFile);
let exact: Model;
before(async () => {
  await initTf();
  exact = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8-exact'));
});
after(async () => {
  await exact.dispose();
});

test('the Pearson reward against a float64 reference on fixed features (paper, Eq. 1–2)', () => {
  const d = 6;
  const fake = Float32Array.from([0.5, -1, 2, 0.25, 3, -0.75, 1, 1, 1, 1, 1, 2]); // 2 samples
  const real = Float32Array.from([1, -2, 4, 0.5, 6, -1.5, -0.5, 1, -2, -0.25, -3, 0.75, 0, 1, 0, 1, 0, 1]); // 3
  // Reference: r = (Σxy − n·x̄·ȳ) / √((Σx² − n·x̄²)(Σy² − n·ȳ²)), the textbook form, in float64.
  const ref = (x: number[], y: number[]) => {
    const n = x.length;
    const mx = x.reduce((a, b) => a + b) / n;
    const my = y.reduce((a, b) => a + b) / n;
    const sxy = x.reduce((a, v, k) => a + v * y[k]!, 0) - n * mx * my;
    const sxx = x.reduce((a, v) => a + v * v, 0) - n * mx * mx;
    const syy = y.reduce((a, v) => a + v * v, 0) - n * my * my;
    return sxy / Math.sqrt(sxx * syy);
  };
  const rows = (a: Float32Array, k: number) => Array.from(a.subarray(k * d, (k + 1) * d));
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 3; j++)
      assert.ok(Math.abs(pearson(rows(fake, i), rows(real, j)) - ref(rows(fake, i), rows(real, j))) < 1e-12);
  const r = terminalRewards('pearson', fake, 2, real, 3, d);
  // Sample 0 is real 0 halved: correlation exactly 1, the largest.
  assert.ok(Math.abs(r[0]! - 1) < 1e-12);
  const best1 = Math.max(...[0, 1, 2].map((j) => ref(rows(fake, 1), rows(real, j))));
  assert.ok(Math.abs(r[1]! - best1) < 1e-12);
  // A constant vector has no correlation with anything: 0, not NaN.
  assert.equal(pearson([2, 2, 2], [1, 2, 3]), 0);
  // nearest: minus the smallest squared distance over the scale.
  const n = terminalRewards('nearest', fake, 2, real, 3, d, 2);
  const dist = (x: number[], y: number[]) => x.reduce((a, v, k) => a + (v - y[k]!) ** 2, 0);
  assert.ok(Math.abs(n[1]! + Math.min(...[0, 1, 2].map((j) => dist(rows(fake, 1), rows(real, j)))) / 2) < 1e-9);
});

test('episodes: within the budget, strictly decreasing levels ending at 0; the initial policy on its ladder', async () => {
  for (const sampler of ['euler', 'heun'] as const) {
    const c = parseSchedulerConfig({ ...DEFAULT_SCHEDULER_CONFIG, sampler, nfeBudget: sampler === 'euler' ? 6 : 9 });
    const p = await SchedulerPolicy.create(exact, c);
    try {
      const ep = await p.rollout({ n: 64, seed: 3, std: 0.8, batch: 20, record: true });
      for (let i = 0; i < ep.n; i++) {
        assert.ok(ep.nfe[i]! <= c.nfeBudget, `${sampler} row ${i}: ${ep.nfe[i]} NFE`);
        const l = ep.levels[i]!;
        assert.equal(l[l.length - 1], 0);
        for (let k = 1; k < l.length; k++) assert.ok(l[k]! < l[k - 1]!, `${sampler} row ${i} level ${k}`);
        assert.ok(ep.decisions[i]! <= maxDecisions(c));
      }
      assert.equal(
        ep.u.length,
        ep.decisions.reduce((a, v) => a + v, 0),
        'one recorded transition per decision',
      );
      assert.ok(ep.samples.every(Number.isFinite));
      // Deterministic and reproducible: the same seed, the same samples, whatever the batch.
      const a = await p.rollout({ n: 30, seed: 9, std: null, batch: 7, record: false });
      const b = await p.rollout({ n: 30, seed: 9, std: null, batch: 30, record: false });
      assert.deepEqual(a.samples, b.samples);
      // The initial policy (MLP output ≈ 0) steps the baseline ladder: Δ = 1/(K_left + 1).
      const K = maxDecisions(c);
      const lo = Math.log(exact.sigmaMin);
      let t = Math.log(exact.sigmaMax);
      for (let k = 1; k <= K; k++) {
        t -= (t - lo) / (K - k + 2);
        assert.ok(Math.abs(Math.log(a.levels[0]![k]!) - t) < 0.05, `${sampler} level ${k}`);
      }
      assert.equal(a.nfe[0], c.nfeBudget, 'the ladder spends the whole budget');
    } finally {
      await p.dispose();
    }
  }
  assert.ok(Math.abs(baseLogit(1) - Math.log(1 / 2 / (1 / 2))) < 1e-12);
});

test('a PPO update moves the mean towards the actions with positive advantage; std and advantages', async () => {
  const c = parseSchedulerConfig({ ...DEFAULT_SCHEDULER_CONFIG, nfeBudget: 5, ppoEpochs: 8, minibatch: 64, lr: 1e-2 });
  const p = await SchedulerPolicy.create(exact, c);
  try {
    const ep = await p.rollout({ n: 128, seed: 1, std: 0.5, batch: 128, record: true });
    // Advantage +1 where u was above its mean (Δ larger than the policy's), −1 below: μ should rise.
    const muBefore = ep.inputs.map((x, i) => p.policy.predict(x, 1)[0]! + ep.base[i]!);
    const adv = new Float64Array(ep.n);
    const above = new Map<number, number>();
    ep.episode.forEach((e, i) => above.set(e, (above.get(e) ?? 0) + (ep.u[i]! > muBefore[i]! ? 1 : -1)));
    for (let e = 0; e < ep.n; e++) adv[e] = (above.get(e) ?? 0) > 0 ? 1 : -1;
    const opt = tf.train.adam(c.lr);
    const r = ppoUpdate(p, opt, ep, adv, 0.5, new Stream(0, 0));
    opt.dispose();
    const muAfter = ep.inputs.map((x, i) => p.policy.predict(x, 1)[0]! + ep.base[i]!);
    const meanShift = muAfter.reduce((a, v, i) => a + v - muBefore[i]!, 0) / muAfter.length;
    assert.ok(Number.isFinite(r.loss) && r.approxKl >= 0);
    assert.ok(meanShift > 0, `mean moved by ${meanShift}`);
  } finally {
    await p.dispose();
  }
  const s = standardise(Float64Array.from([1, 2, 3, 4]));
  assert.ok(Math.abs(s.reduce((a, v) => a + v, 0)) < 1e-12 && Math.abs(s[3]! - 1.3416407864) < 1e-6);
  const cs = { stdStart: 0.5, stdEnd: 0.05, iterations: 11 };
  assert.equal(stdAt(cs, 0), 0.5);
  assert.ok(Math.abs(stdAt(cs, 10) - 0.05) < 1e-15 && Math.abs(stdAt(cs, 5) - Math.sqrt(0.5 * 0.05)) < 1e-15);
});

test('a scheduler run trains, writes its files, and resumes where it stopped', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'rlsched-')), 'run');
  const c = parseSchedulerConfig({
    ...DEFAULT_SCHEDULER_CONFIG,
    reward: 'nearest',
    nfeBudget: 5,
    iterations: 4,
    trajectories: 32,
    rewardSamples: 64,
    evalEvery: 2,
    evalSamples: 200,
  });
  const first = await trainScheduler(exact, c, dir, { iterations: 2 });
  assert.equal(first.iteration, 2);
  const second = await trainScheduler(exact, c, dir, { resume: true });
  assert.equal(second.iteration, 4);
  const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);
  assert.deepEqual(
    lines.map((l) => l['iteration']),
    [1, 2, 3, 4],
  );
  assert.ok(lines[1]!['eval/fid']! >= 0 && lines[3]!['eval/nfe']! <= 5);
  const schedule = parseSigmasText(readFileSync(join(dir, 'schedule.json'), 'utf8'), 'schedule.json');
  assert.deepEqual(schedule, second.schedule);
  assert.ok(schedule.length >= 2);
  // The checkpoint loads into a policy that samples the run's deterministic schedule again, and
  // `sample --policy RUN` draws exactly its samples.
  const p = await loadSchedulerPolicy(exact, dir);
  try {
    const ep = await p.rollout({ n: 200, seed: 1000003, std: null, batch: 32, record: false });
    assert.deepEqual(meanSchedule(ep.levels), schedule);
    const npy = join(dir, '..', 's.npy');
    await run(process.execPath, [
      '--import',
      'tsx',
      'src/cli/index.ts',
      'sample',
      '--policy',
      dir,
      '--out',
      npy,
      '--n',
      '40',
      '--seed',
      '7',
    ]);
    const mine = await p.rollout({ n: 40, seed: 7, std: null, batch: 256, record: false });
    assert.deepEqual(toFloat32(await readNpy(npy)), mine.samples);
  } finally {
    await p.dispose();
  }
  assert.deepEqual(
    meanSchedule([
      [80, 1, 0],
      [80, 4, 0],
      [80, 2, 0.5, 0],
    ]),
    [80, 2, 0],
  );

  // In the results table: the run's policy as a runs row, its mean schedule as a recipe row — the same
  // evaluation as a sampler row with that σ list (one cache entry) — next to a preset.
  const spec = join(dir, '..', 'spec.json');
  writeFileSync(
    spec,
    JSON.stringify({
      model: 'gmm-ring8-exact',
      samples: 300,
      seed: 7,
      groups: [
        {
          title: 'Euler, NFE 5',
          rows: [
            { label: 'log-linear', sampler: { sampler: 'euler', steps: 5, schedule: 'log-linear' } },
            { label: 'RL scheduler', runs: ['run'] },
            { label: 'its mean schedule', runs: ['run'], recipe: true },
            { label: 'the same list', sampler: { sampler: 'euler', sigmas: 'run/schedule.json' } },
            // A second row of scheduler runs of another configuration is another row, not a mismatch.
            { label: 'another budget', runs: ['run6'] },
          ],
        },
      ],
    }),
  );
  await trainScheduler(exact, { ...c, nfeBudget: 6, iterations: 1, evalSamples: 50 }, join(dir, '..', 'run6'));
  const out = join(dir, '..', 'table');
  await run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'table', '--spec', spec, '--out', out]);
  const t = JSON.parse(readFileSync(join(out, 'table.json'), 'utf8')) as {
    groups: { rows: { label: string; mean: Record<string, number>; evaluations: { source: { kind: string } }[] }[] }[];
  };
  const rows = Object.fromEntries(t.groups[0]!.rows.map((r) => [r.label, r]));
  assert.equal(rows['RL scheduler']!.evaluations[0]!.source.kind, 'scheduler');
  assert.ok(rows['RL scheduler']!.mean['nfe']! <= 5 && rows['RL scheduler']!.mean['fid']! >= 0);
  assert.deepEqual(rows['its mean schedule']!.mean, rows['the same list']!.mean);
});

test('the pooled state: c_in(σ)·x averaged over k×k blocks, k the least that leaves ≤ 64 values', async () => {
  const e = pooledEncoder([1, 4, 4], 0.5, 4); // k = 2 → 2×2
  assert.equal(e.dim, 4);
  const x = Float32Array.from({ length: 32 }, (_, i) => i); // two 4×4 images
  const f = await e.encode(x, Float32Array.from([1.5, 0]), 2);
  const c = [1 / Math.sqrt(1.5 ** 2 + 0.25), 1 / 0.5];
  const block = (img: number, y: number, z: number) =>
    [0, 1].flatMap((dy) => [0, 1].map((dz) => img * 16 + (2 * y + dy) * 4 + 2 * z + dz)).reduce((a, v) => a + v) / 4;
  for (let img = 0; img < 2; img++)
    for (let y = 0; y < 2; y++)
      for (let z = 0; z < 2; z++) assert.ok(Math.abs(f[img * 4 + y * 2 + z]! - c[img]! * block(img, y, z)) < 1e-5);
  assert.equal(pooledEncoder([1, 28, 28], 0.5).dim, 49);
  assert.equal(pooledEncoder([3, 28, 28], 0.5).dim, 3 * 4 * 4); // k = 7
  assert.equal(pooledEncoder([2], 1.43).dim, 2);
  assert.throws(() => pooledEncoder([100], 1), /at most 64 values/);
});

test('export: the scheduler as ONNX (mean, std, delta, sigma_next) beside its sidecar and mean schedule; the file steps as the engine does', async () => {
  const root = mkdtempSync(join(tmpdir(), 'rlsched-export-'));
  for (const [name, m] of [
    ['gmm-ring8-exact', exact],
    ['fashion-mnist', null],
  ] as const) {
    const model = m ?? (await Model.load(join(resourcesDir(), 'models', name)));
    try {
      const dir = join(root, name);
      const c = parseSchedulerConfig({
        ...DEFAULT_SCHEDULER_CONFIG,
        nfeBudget: 6,
        iterations: 1,
        trajectories: 16,
        rewardSamples: 16,
        evalSamples: 64,
      });
      await trainScheduler(model, c, dir);
      const out = join(root, `${name}.onnx`);
      await run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'export', '--run', dir, '--out', out]);
      const side = JSON.parse(readFileSync(out.replace(/\.onnx$/, '.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(side['format'], 'sampler-studio-scheduler');
      assert.ok((side['verification'] as { maxAbsDiff: number }).maxAbsDiff <= 1e-4);
      assert.deepEqual(
        parseSigmasText(readFileSync(out.replace(/\.onnx$/, '.schedule.json'), 'utf8'), 'x'),
        parseSigmasText(readFileSync(join(dir, 'schedule.json'), 'utf8'), 'y'),
      );
      // From the first state of a sample, the file's sigma_next is the engine's first level.
      const p = await loadSchedulerPolicy(model, dir);
      try {
        const ep = await p.rollout({ n: 4, seed: 11, std: null, batch: 4, record: false });
        const z = new StackedRandom(11);
        const rows = Int32Array.from([0, 1, 2, 3]);
        if (model.numClasses > 0) z.integer(model.numClasses, rows);
        const x = new Float32Array(4 * model.dim);
        z.normal(x, rows, model.dim);
        for (let k = 0; k < x.length; k++) x[k]! *= model.sigmaMax;
        const session = await ort.InferenceSession.create(out);
        const res = await session.run({
          x: new ort.Tensor('float32', x, [4, ...model.shape]),
          sigma: new ort.Tensor('float32', new Float32Array(4).fill(model.sigmaMax), [4]),
          decisions: new ort.Tensor('int64', new BigInt64Array(4), [4]),
          nfe_spent: new ort.Tensor('int64', new BigInt64Array(4), [4]),
        });
        await session.release();
        const next = res['sigma_next']!.data as Float32Array;
        for (let i = 0; i < 4; i++)
          assert.ok(
            Math.abs(next[i]! / ep.levels[i]![1]! - 1) < 1e-4,
            `${name} row ${i}: ${next[i]} vs ${ep.levels[i]![1]}`,
          );
        assert.equal(res['std']!.data.length, 1);
        // `sample --policy FILE.onnx` samples as the run does (float32 round-off apart).
        const npy = join(root, `${name}.npy`);
        await run(process.execPath, [
          '--import',
          'tsx',
          'src/cli/index.ts',
          'sample',
          '--policy',
          out,
          '--out',
          npy,
          '--n',
          '4',
          '--seed',
          '11',
        ]);
        const fromFile = toFloat32(await readNpy(npy));
        for (let i = 0; i < fromFile.length; i++)
          assert.ok(Math.abs(fromFile[i]! - ep.samples[i]!) < 1e-3, `${name} value ${i}`);
      } finally {
        await p.dispose();
      }
      await assert.rejects(
        run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'export', '--run', dir, '--out', out]),
        (e: { stderr: string }) => /already exists; choose another path or pass --force/.test(e.stderr),
      );
    } finally {
      if (!m) await model.dispose();
    }
  }
});

test('the occupancy reward: a terminal discriminator on features, its ratio through the divergence; samples like the data score higher', async () => {
  const { RewardModel } = await import('../src/main/engine/scheduler/rl-scheduler');
  const reward = await RewardModel.create(exact, 'occupancy');
  try {
    const c = parseSchedulerConfig({
      ...DEFAULT_SCHEDULER_CONFIG,
      reward: 'occupancy',
      rewardSamples: 512,
      discriminatorSteps: 200,
    });
    // Half the "final samples" are data points, half the data pushed far off the ring.
    const data = (await import('../src/main/engine/models/data')).loadData;
    const { x } = (await data(exact))!;
    const n = 256;
    const samples = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      const shift = i % 2 === 0 ? 0 : 6;
      samples[2 * i] = x[2 * i]! + shift;
      samples[2 * i + 1] = x[2 * i + 1]! + shift;
    }
    const r = await reward.rewards(c, samples, n, new Stream(3, 0));
    let [onData, off] = [0, 0];
    for (let i = 0; i < n; i++) {
      if (i % 2 === 0) onData += r[i]!;
      else off += r[i]!;
    }
    // KL's reward is r = p_data/p_π itself: high where the samples look like the data.
    assert.ok(onData / (n / 2) > 2 * (off / (n / 2)), `on the data ${onData / (n / 2)}, off it ${off / (n / 2)}`);
    assert.ok(r.every((v) => Number.isFinite(v) && v >= 0));
  } finally {
    await reward.dispose();
  }
});

test('explicit rewards for the scheduler: --reward SPEC on the command line, the summed reward of the final samples; bad combinations named', async () => {
  const { RewardModel } = await import('../src/main/engine/scheduler/rl-scheduler');
  const { explicitRewardFlags } = await import('../src/cli/scheduler-cmd');
  const { openRewards } = await import('../src/main/engine/rewards');
  const { parseRewardSpec } = await import('../src/shared/reward-spec');
  // Any --reward that is not the scheduler's own is a specification, and implies reward explicit.
  assert.deepEqual(explicitRewardFlags(['--model', 'm', '--reward', '-region:x=4', '--reward=region:y=1']), [
    '--model',
    'm',
    '--reward-spec',
    '-region:x=4',
    '--reward-spec',
    'region:y=1',
    '--reward',
    'explicit',
  ]);
  assert.deepEqual(explicitRewardFlags(['--reward', 'occupancy']), ['--reward', 'occupancy']);
  const c = parseSchedulerConfig({
    ...DEFAULT_SCHEDULER_CONFIG,
    reward: 'explicit',
    rewards: ['region:x=4,r=0.5', '-region:x=-4'],
  });
  assert.throws(
    () => parseSchedulerConfig({ ...DEFAULT_SCHEDULER_CONFIG, reward: 'explicit' }),
    /reward explicit needs at least one reward/,
  );
  assert.throws(
    () => parseSchedulerConfig({ ...DEFAULT_SCHEDULER_CONFIG, reward: 'pearson', rewards: ['region:x=4'] }),
    /rewards are for reward explicit; this run's reward is pearson/,
  );
  // The scheduler's rewards are the specifications' weighted sum on the final samples.
  const reward = await RewardModel.create(exact, 'explicit', c.rewards);
  const direct = await openRewards(
    exact,
    c.rewards.map((t) => parseRewardSpec(t)),
  );
  try {
    const samples = Float32Array.from({ length: 64 }, (_, i) => ((i * 7919) % 97) / 10 - 4.8);
    const labels = Int32Array.from({ length: 32 }, (_, i) => i % 8);
    assert.deepEqual(
      Array.from(await reward.rewards(c, samples, 32, new Stream(1, 0), labels)),
      Array.from((await direct.score(samples, 32, labels)).total),
    );
  } finally {
    await reward.dispose();
    await direct.dispose();
  }
  // Through the CLI: a run trained for an explicit reward keeps it in scheduler.json and logs its mean.
  const dir = join(mkdtempSync(join(tmpdir(), 'rlsched-explicit-')), 'run');
  const cli = ['--import', 'tsx', 'src/cli/index.ts', 'train', '--intervention', 'schedule'];
  const args = ['--model', 'gmm-ring8-exact', '--nfe-budget', '5', '--iterations', '1', '--trajectories', '32'];
  await run(process.execPath, [...cli, ...args, '--eval-samples', '64', '--reward', '-region:x=4', '--run-dir', dir]);
  const saved = JSON.parse(readFileSync(join(dir, 'scheduler.json'), 'utf8')) as {
    config: { reward: string; rewards: string[] };
  };
  assert.deepEqual([saved.config.reward, saved.config.rewards], ['explicit', ['-region:x=4']]);
  const line = JSON.parse(readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim()) as Record<string, number>;
  assert.ok(line['charts/reward_mean']! >= 0, `−region: minus minus the distance: ${line['charts/reward_mean']}`);
  const bad = await run(process.execPath, [...cli, ...args, '--reward', 'jpeg-size', '--run-dir', `${dir}-bad`]).catch(
    (e: { stderr: string }) => e,
  );
  assert.match((bad as { stderr: string }).stderr, /not images; jpeg-size scores images/);
  // A setting the reward would not read is refused, not ignored (the schema's readWhen).
  const unread = await run(process.execPath, [
    ...cli,
    ...args,
    '--reward',
    'pearson',
    '--divergence',
    'rkl',
    '--run-dir',
    `${dir}-unread`,
  ]).catch((e: { stderr: string }) => e);
  assert.match(
    (unread as { stderr: string }).stderr,
    /--divergence is read only with --reward occupancy \(here: "pearson"\): drop that flag/,
  );
  // --resume names the settings it refuses as the user wrote them: an explicit reward is --reward SPEC,
  // and the --reward explicit it implies is not named; one the user wrote is.
  const resume = (...flags: string[]) =>
    run(process.execPath, [...cli.slice(0, 4), '--resume', dir, ...flags]).catch((e: { stderr: string }) => e);
  assert.match(
    ((await resume('--reward', '-jpeg-size', '--nfe-budget', '7')) as { stderr: string }).stderr,
    /--resume continues the run with its own settings; drop --nfe-budget, --reward SPEC\n/,
  );
  assert.match(
    ((await resume('--reward', 'explicit', '--reward', '-jpeg-size')) as { stderr: string }).stderr,
    /--resume continues the run with its own settings; drop --reward, --reward SPEC\n/,
  );
});

test('the exported pooled state: ONNX AveragePool (ceil_mode, padding not counted) averages partial blocks as pooledEncoder does', async () => {
  const { GraphBuilder } = await import('../src/main/engine/onnx/graph');
  // 1×30×30 → k = 4, 8×8 blocks, the last row and column of blocks 2 wide.
  const e = pooledEncoder([1, 30, 30], 0.5);
  assert.equal(e.pool, 4);
  const g = new GraphBuilder('pool-check');
  const x = g.input('x', 'float32', ['N', 1, 30, 30]);
  const p = g.op('AveragePool', [x], { kernel_shape: [4, 4], strides: [4, 4], ceil_mode: 1, count_include_pad: 0 });
  g.output(g.op('Flatten', [p], { axis: 1 }), 'y', 'float32', ['N', 64]);
  const session = await ort.InferenceSession.create(g.toBytes());
  const rng = new Stream(2, 0);
  const xs = Float32Array.from({ length: 2 * 900 }, () => rng.normal());
  const y = (await session.run({ x: new ort.Tensor('float32', xs, [2, 1, 30, 30]) }))['y']!.data as Float32Array;
  await session.release();
  const c = 1 / Math.sqrt(1 + 0.25); // σ = 1
  const f = await e.encode(xs, Float32Array.from([1, 1]), 2);
  for (let i = 0; i < f.length; i++)
    assert.ok(Math.abs(f[i]! - c * y[i]!) < 1e-5, `value ${i}: ${f[i]} vs ${c * y[i]!}`);
});
