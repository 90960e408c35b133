// Explicit rewards (issue 17): the `--reward` specifications, and each reward module against a
// reference computed here independently — JPEG size against the encoder's own output on fixed
// images, the class mix against a hand computation, a user's ONNX reward against its graph's math —
// and the bad specifications and files each refused with what to do.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'jpeg-js';
import { parseRewardSpec, describeReward, RewardSpecError } from '../src/shared/reward-spec';
import { jpegSizes } from '../src/main/engine/rewards/jpeg';
import { classMixRewards, readTarget } from '../src/main/engine/rewards/class-mix';
import { boxRewards, bumpRewards, regionRewards } from '../src/main/engine/rewards/region';
import { OnnxReward } from '../src/main/engine/rewards/onnx-reward';
import { openRewards } from '../src/main/engine/rewards';
import { GraphBuilder } from '../src/main/engine/onnx/graph';
import { Model } from '../src/main/engine/models/model';
import { resolveModelDir } from '../src/main/engine/models/registry';
import { extractorForModel } from '../src/main/engine/metrics/features';
import { Stream } from '../src/main/engine/samplers/random';

import { writeNearRewardOnnx } from './helpers/reward-onnx';
const tmp = mkdtempSync(join(tmpdir(), 'ss-rewards-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('--reward specifications: names, the sign, the positional argument, parameters with defaults and bounds', () => {
  const j = parseRewardSpec('-jpeg-size:quality=75');
  assert.deepEqual([j.name, j.sign, j.arg, j.params], ['jpeg-size', -1, null, { quality: 75, weight: 1 }]);
  assert.deepEqual(parseRewardSpec('jpeg-size').params, { quality: 95, weight: 1 });
  const c = parseRewardSpec('class-logit:7,weight=0.5');
  assert.deepEqual([c.name, c.sign, c.arg, c.params], ['class-logit', 1, '7', { weight: 0.5 }]);
  assert.equal(describeReward(c), 'class-logit 7 × 0.5');
  assert.equal(describeReward(j), '−jpeg-size (quality 75)');
  assert.deepEqual(parseRewardSpec('region:x=1,y=-2,r=0.5').params, { x: 1, y: -2, r: 0.5, weight: 1 });
  assert.equal(parseRewardSpec('onnx:my reward.onnx').arg, 'my reward.onnx');
  const refused: [string, RegExp][] = [
    ['', /needs a reward name: one of jpeg-size, class-logit, class-mix, onnx, region, bump, box/],
    ['aesthetic', /unknown reward "aesthetic"; the rewards are jpeg-size/],
    ['jpeg-size:quality=0', /quality must be a whole number in \[1, 100\], got "0"/],
    ['jpeg-size:quality=high', /quality must be a whole number in \[1, 100\], got "high"/],
    ['jpeg-size:q=75', /jpeg-size has no parameter "q"; its parameters are quality, weight/],
    ['jpeg-size:75', /jpeg-size takes no "75"; write it as jpeg-size:quality=…,weight=…/],
    [
      'class-logit',
      /class-logit needs its class \(the class index K \(0-based\)\); write it as class-logit:CLASS,weight=…/,
    ],
    ['class-logit:seven', /the class must be a whole number ≥ 0, got "seven"/],
    ['class-logit:1,2', /takes one class \(got "1" and "2"\)/],
    ['class-mix:t.json,weight=0', /weight must be a number in \(0, 1000000\]/],
    ['region:r=1,r=2', /r is given twice/],
    ['box:x0=2,x1=1', /the rectangle is empty \(x0 2 > x1 1 or y0 -1 > y1 1\); give x0 ≤ x1 and y0 ≤ y1/],
  ];
  for (const [text, why] of refused)
    assert.throws(
      () => parseRewardSpec(text),
      (e: Error) => e instanceof RewardSpecError && why.test(e.message),
      text,
    );
});

test('jpeg-size: the size in kB of what jpeg-js writes for the sample as an 8-bit image; flat images are smaller than noise', () => {
  const [h, w] = [28, 28];
  const rng = new Stream(3, 0);
  // Values exactly on byte levels v = b/127.5 − 1, so the reference can build its bytes without rounding.
  const bytes = [
    Uint8Array.from({ length: h * w }, () => 128),
    Uint8Array.from({ length: h * w }, () => Math.floor(rng.uniform() * 256)),
  ];
  const samples = new Float32Array(2 * h * w);
  bytes.forEach((b, i) => b.forEach((v, p) => (samples[i * h * w + p] = v / 127.5 - 1)));
  for (const quality of [95, 50]) {
    const got = jpegSizes(samples, 2, [1, h, w], { quality });
    bytes.forEach((b, i) => {
      const rgba = new Uint8Array(h * w * 4);
      b.forEach((v, p) => rgba.set([v, v, v, 255], 4 * p));
      assert.equal(
        got[i],
        encode({ data: rgba, width: w, height: h }, quality).data.length / 1000,
        `image ${i}, q ${quality}`,
      );
    });
    assert.ok(got[0]! < got[1]!, `flat ${got[0]} kB < noise ${got[1]} kB`);
  }
  assert.throws(
    () => jpegSizes(new Float32Array(4), 2, [2], { quality: 95 }),
    /needs image samples of shape \[1 or 3, H, W\]/,
  );
});

test('class-mix: log p*_c − log p̂_c against a hand computation; target files are checked', () => {
  // 4 samples, 3 classes, labels [0, 0, 0, 1]; α = 1: p̂ = (3+1, 1+1, 0+1)/(4+3) = (4/7, 2/7, 1/7).
  const target = Float64Array.from([0.2, 0.3, 0.5]);
  const r = classMixRewards(Int32Array.from([0, 0, 0, 1]), target, 1);
  const want = [Math.log(0.2 / (4 / 7)), Math.log(0.2 / (4 / 7)), Math.log(0.2 / (4 / 7)), Math.log(0.3 / (2 / 7))];
  want.forEach((v, i) => assert.ok(Math.abs(r[i]! - v) < 1e-12, `${r[i]} vs ${v}`));
  // At the target shares (and α → 0) every class scores 0.
  const even = classMixRewards(Int32Array.from([0, 1, 1, 2, 2, 2]), Float64Array.from([1 / 6, 2 / 6, 3 / 6]), 1e-9);
  even.forEach((v) => assert.ok(Math.abs(v) < 1e-6));
  const f = (name: string, text: string): string => {
    writeFileSync(join(tmp, name), text);
    return join(tmp, name);
  };
  assert.deepEqual(Array.from(readTarget(f('ok.json', '[0.5, 0.25, 0.25]'), 3, null)), [0.5, 0.25, 0.25]);
  assert.deepEqual(Array.from(readTarget(f('named.json', '{"b": 1}'), 3, ['a', 'b', 'c'])), [0, 1, 0]);
  const bad: [string, string, RegExp][] = [
    ['sum.json', '[0.5, 0.25]', /has 2 shares; this model has 3 classes/],
    ['sum2.json', '[0.5, 0.25, 0.5]', /the shares sum to 1.25, not 1; it must be a distribution/],
    ['neg.json', '[1.5, -0.5, 0]', /share 1 must be a number ≥ 0, got -0.5/],
    ['nan.json', '[1, null, 0]', /share 1 must be a number ≥ 0, got null/],
    ['broken.json', '[1, ', /cannot be read as JSON/],
    ['names.json', '{"d": 1}', /no class named "d"; the classes are a, b, c/],
  ];
  for (const [name, text, why] of bad) assert.throws(() => readTarget(f(name, text), 3, ['a', 'b', 'c']), why, name);
});

test('region: minus the distance to the disc, 0 inside', () => {
  const r = regionRewards(Float32Array.from([0, 0, 3, 4, 1, 0]), 3, { x: 0, y: 0, r: 1 });
  assert.deepEqual(Array.from(r), [-0, -4, -0]);
});

test('bump: exp(−(s − x)²/(2·width²)) for 1-D samples; a bump on 2-D samples is refused', async () => {
  const b = parseRewardSpec('bump:x=6,width=2').params as { x: number; width: number };
  const r = bumpRewards(Float32Array.from([6, 8, 2]), 3, b);
  assert.deepEqual(Array.from(r), [1, Math.exp(-0.5), Math.exp(-2)]);
  const ring = await Model.load(resolveModelDir('gmm-ring8'));
  try {
    await assert.rejects(
      openRewards(ring, [parseRewardSpec('bump:x=6')]),
      /--reward bump:x=6: bump is for 1-D models; gmm-ring8's samples are \[2\]/,
    );
  } finally {
    await ring.dispose();
  }
});

test('box: 1 inside the rectangle (edges included), 0 outside', () => {
  const b = parseRewardSpec('box:x0=0,x1=2,y0=-1,y1=1').params as { x0: number; x1: number; y0: number; y1: number };
  const pts = [
    [1, 0, 1], // inside
    [0, -1, 1], // a corner
    [2, 1, 1], // the opposite corner
    [2.001, 0, 0], // just right of it
    [1, -1.5, 0], // below
    [-3, 4, 0], // far off
  ];
  const r = boxRewards(Float32Array.from(pts.flatMap(([x, y]) => [x!, y!])), pts.length, b);
  assert.deepEqual(
    Array.from(r),
    pts.map((p) => p[2]),
  );
});

/** A reward model written here: reward = Σ x² (+ class_labels when `labels`), or another graph. */
function rewardFile(
  name: string,
  o: { labels?: boolean; inputName?: string; output?: string; nan?: boolean } = {},
): string {
  const g = new GraphBuilder('reward');
  const x = g.input(o.inputName ?? 'x', 'float32', ['N', 2]);
  let r = g.op('ReduceSumSquare', [x], { axes: [1], keepdims: 0 });
  if (o.nan) r = g.op('Log', [g.op('Sub', [r, g.const(1e9)])]); // log of a negative number: NaN
  if (o.labels) r = g.op('Add', [r, g.op('Cast', [g.input('class_labels', 'int64', ['N'])], { to: 1 })]);
  g.output(r, o.output ?? 'reward', 'float32', ['N']);
  const path = join(tmp, name);
  writeFileSync(path, g.toBytes());
  return path;
}

test("a user's ONNX reward: its graph's math on every sample (with class labels when it takes them); wrong files are named", async () => {
  const x = Float32Array.from([1, 2, -3, 0.5, 0, 0]);
  for (const labels of [false, true]) {
    const r = await OnnxReward.open(rewardFile(`sq-${labels}.onnx`, { labels }), [2], 8);
    const got = await r.score(x, 3, labels ? Int32Array.from([0, 5, 7]) : null, 8);
    assert.deepEqual(Array.from(got), labels ? [5 + 0, 9.25 + 5, 0 + 7] : [5, 9.25, 0]);
    await r.dispose();
  }
  await assert.rejects(OnnxReward.open(join(tmp, 'none.onnx'), [2], null), /none\.onnx: the file does not exist/);
  await assert.rejects(
    OnnxReward.open(rewardFile('in.onnx', { inputName: 'image' }), [2], null),
    /has no input "x"; its inputs are image/,
  );
  await assert.rejects(
    OnnxReward.open(rewardFile('out.onnx', { output: 'score' }), [2], null),
    /has no output "reward"; its outputs are score/,
  );
  await assert.rejects(
    OnnxReward.open(rewardFile('shape.onnx'), [3], null),
    /input x has shape \[N, 2\]; the samples are \[N, 3\]/,
  );
  await assert.rejects(
    OnnxReward.open(rewardFile('nan.onnx', { nan: true }), [2], null),
    /gave NaN for sample 0; a reward must be a finite number/,
  );
});

test('openRewards: the weighted sum of the parts on a real model, the classifier logit as the extractor gives it, and specifications the model cannot take refused before anything runs', async () => {
  const ring = await Model.load(resolveModelDir('gmm-ring8'), { device: 'cpu' });
  const fm = await Model.load(resolveModelDir('fashion-mnist'), { device: 'cpu' });
  try {
    writeFileSync(join(tmp, 'ring-target.json'), JSON.stringify([0.3, 0.3, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05]));
    const specs = ['region:x=4,y=0,r=1', '-class-mix:ring-target.json,weight=0.5'].map(parseRewardSpec);
    const rewards = await openRewards(ring, specs, tmp);
    assert.equal(rewards.description, 'region (x 4) + −class-mix ring-target.json × 0.5');
    const pts = Float32Array.from([4, 0, 0, 4, -4, 0, 6, 0]);
    const s = await rewards.score(pts, 4, null);
    const [region, mix] = s.parts.map((p) => p.raw);
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(s.total[i]! - (region![i]! - 0.5 * mix![i]!)) < 1e-12);
    assert.deepEqual(Array.from(region!), [-0, -(Math.hypot(4, 4) - 1), -7, -1]);
    await rewards.dispose();
    // fashion-mnist: a class's logit is the extractor's logits column; JPEG sizes of real samples.
    const n = 8;
    const rng = new Stream(5, 0);
    const imgs = Float32Array.from({ length: n * fm.dim }, () => Math.tanh(rng.normal()));
    const fmRewards = await openRewards(fm, ['class-logit:7', '-jpeg-size'].map(parseRewardSpec));
    const got = await fmRewards.score(imgs, n, null);
    await fmRewards.dispose();
    const ex = await extractorForModel(fm);
    const { logits } = await ex.extract(imgs, n);
    await ex.dispose();
    const K = logits!.length / n;
    const sizes = jpegSizes(imgs, n, fm.shape, { quality: 95 });
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(got.parts[0]!.raw[i]! - logits![i * K + 7]!) < 1e-6);
      assert.ok(Math.abs(got.total[i]! - (logits![i * K + 7]! - sizes[i]!)) < 1e-5);
    }
    const refused: [Model, string, RegExp][] = [
      [ring, 'jpeg-size', /gmm-ring8's samples are \[2\], not images; jpeg-size scores images/],
      [fm, 'region', /region is for 2-D models; fashion-mnist's samples are \[1, 28, 28\]/],
      [fm, 'class-logit:10', /class 10 is out of range; fashion-mnist has classes 0\.\.9/],
      [ring, 'class-logit:1', /gmm-ring8's feature extractor has no "logits" output/],
      [fm, 'class-mix:missing.json', /class-mix target .*missing\.json: cannot be read/],
    ];
    for (const [m, text, why] of refused) await assert.rejects(openRewards(m, [parseRewardSpec(text)], tmp), why, text);
  } finally {
    await ring.dispose();
    await fm.dispose();
  }
});

test('the learner settings take rewards: objective reward needs one, occupancy none; a bad specification is named; --reward repeats', async () => {
  const { learnerConfigFrom } = await import('../src/shared/learner-config');
  const c = learnerConfigFrom({
    intervention: 'gamma',
    objective: 'reward',
    rewards: ['region:x=4', '-class-mix:t.json'],
  });
  assert.deepEqual(c.rewards, ['region:x=4', '-class-mix:t.json']);
  assert.equal(c.advantageClip, 5);
  assert.throws(
    () => learnerConfigFrom({ objective: 'reward' }),
    /rewards: objective reward needs at least one reward/,
  );
  assert.throws(
    () => learnerConfigFrom({ rewards: ['-jpeg-size'] }),
    /rewards: are for objective reward; add --objective reward, or drop them \(-jpeg-size\)/,
  );
  assert.throws(
    () => learnerConfigFrom({ objective: 'reward', rewards: ['jpeg-size:quality=500'] }),
    /rewards: --reward jpeg-size:quality=500: quality must be a whole number in \[1, 100\]/,
  );
  const { flagOptions, valuesFromFlags } = await import('../src/shared/schema');
  const { LEARNER_FIELDS } = await import('../src/shared/learner-config');
  const { parseFlags } = await import('../src/cli/common');
  // A negated reward right after --reward is its value, not a flag.
  const { values } = parseFlags(
    ['--objective', 'reward', '--reward', '-jpeg-size', '--reward', 'class-logit:7,weight=0.5'],
    flagOptions(LEARNER_FIELDS),
  );
  assert.deepEqual(valuesFromFlags(LEARNER_FIELDS, values), {
    objective: 'reward',
    rewards: ['-jpeg-size', 'class-logit:7,weight=0.5'],
  });
});

test('reward advantages: the reward less its class’s mean (DDPO per-prompt statistics) over one std, clipped; or over the batch', async () => {
  const { rewardAdvantages } = await import('../src/main/engine/learner/learner');
  // 4 trajectories, classes 0, 0, 1, 1, rewards 1, 3, 10, 14; two transitions each.
  const R = Float64Array.of(1, 3, 10, 14);
  const tRow = Int32Array.of(0, 0, 1, 1, 2, 2, 3, 3);
  const labels = Int32Array.of(0, 0, 1, 1);
  // Per class: deviations −1, 1, −2, 2 (each twice); std = sqrt((1+1+4+4)·2/8) = sqrt(2.5).
  const s = Math.sqrt(2.5);
  const want = [-1, -1, 1, 1, -2, -2, 2, 2].map((d) => d / s);
  rewardAdvantages(R, tRow, labels, 5).forEach((a, k) => assert.ok(Math.abs(a - want[k]!) < 1e-6, `class ${k}`));
  // Over the batch: mean 7, deviations −6, −4, 3, 7; std = sqrt((36+16+9+49)/4).
  const sb = Math.sqrt(110 / 4);
  const wantB = [-6, -6, -4, -4, 3, 3, 7, 7].map((d) => d / sb);
  rewardAdvantages(R, tRow, null, 5).forEach((a, k) => assert.ok(Math.abs(a - wantB[k]!) < 1e-6, `batch ${k}`));
  // Clipped to ±clip.
  assert.deepEqual(
    Array.from(rewardAdvantages(R, tRow, labels, 1)).map((a) => Math.abs(a) <= 1),
    Array(8).fill(true),
  );
  assert.ok(Math.abs(rewardAdvantages(R, tRow, labels, 1)[4]! + 1) < 1e-12);
});

test('ppoClipLoss: the KL penalty to a reference policy is β·Σ p (log p − log p_ref), masked actions excluded', async () => {
  const tf = await import('@tensorflow/tfjs');
  const { ppoClipLoss } = await import('../src/main/engine/learner/ppo');
  const logits = [
    [1, 0, -1],
    [0.5, 0.5, 2],
  ];
  const ref = [
    [0, 0, 0],
    [2, -1, 0],
  ];
  const mask = [
    [1, 1, 1],
    [1, 0, 1],
  ];
  // By hand: softmax over the allowed actions of each row, Σ p (log p − log q), mean over rows.
  const soft = (z: number[], m: number[]): number[] => {
    const e = z.map((v, i) => (m[i] ? Math.exp(v) : 0));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  let want = 0;
  for (let r = 0; r < 2; r++) {
    const p = soft(logits[r]!, mask[r]!);
    const q = soft(ref[r]!, mask[r]!);
    for (let a = 0; a < 3; a++) if (mask[r]![a]) want += (p[a]! * Math.log(p[a]! / q[a]!)) / 2;
  }
  const args = {
    logits: tf.tensor2d(logits),
    actions: tf.tensor1d([0, 2], 'int32'),
    oldLogProbs: tf.tensor1d([-1, -0.5]),
    advantages: tf.tensor1d([1, -1]),
    clip: 0.2,
    mask: tf.tensor2d(mask),
  };
  const plain = ppoClipLoss(args);
  const withKl = ppoClipLoss({ ...args, reference: { logits: tf.tensor2d(ref), coef: 0.3 } });
  assert.ok(
    Math.abs(withKl.klReference!.dataSync()[0]! - want) < 1e-6,
    `${withKl.klReference!.dataSync()[0]} vs ${want}`,
  );
  assert.ok(Math.abs(withKl.loss.dataSync()[0]! - (plain.loss.dataSync()[0]! + 0.3 * want)) < 1e-6);
});

test('objective reward on gmm-ring8: an iteration scores the final samples, logs raw parts and the KL to π_init, keeps π_init in its checkpoint', async () => {
  const { initTf } = await import('../src/main/engine/learner/backend');
  const { createLearner } = await import('../src/main/engine/learner/learner');
  const { learnerConfigFrom } = await import('../src/shared/learner-config');
  await initTf();
  const ring = await Model.load(resolveModelDir('gmm-ring8'), { device: 'cpu' });
  const config = learnerConfigFrom({
    intervention: 'cfg',
    objective: 'reward',
    rewards: ['region:x=4,y=0,r=0.5', 'region:x=-4,weight=0.5'],
    klCoef: 0.1,
    steps: 6,
    trajectories: 64,
    rolloutBatch: 64,
    ppoEpochs: 2,
  });
  const l = await createLearner(ring, config);
  try {
    assert.equal(l.rewards!.description, 'region (x 4, r 0.5) + region (x -4) × 0.5');
    const m1 = await l.step();
    for (const k of [
      'charts/reward_mean',
      'charts/reward_std',
      'rewards/0_region',
      'rewards/1_region',
      'charts/kl_init',
    ])
      assert.ok(Number.isFinite(m1[k]), `${k} = ${m1[k]}`);
    assert.ok(!('losses/discriminator' in m1), 'no discriminator under objective reward');
    assert.ok(Math.abs(m1['charts/reward_mean']! - (m1['rewards/0_region']! + 0.5 * m1['rewards/1_region']!)) < 1e-9);
    assert.ok(
      m1['charts/kl_init']! >= 0 && m1['charts/kl_init']! < 0.05,
      `one update from π_init: KL ${m1['charts/kl_init']}`,
    );
    const m2 = await l.step();
    assert.ok(m2['charts/kl_init']! > 0, 'the policy moved from π_init');
    const cp = await l.checkpoint();
    assert.ok(cp.policyInit && cp.policyInit.length === l.policy.getWeights().length);
    // A learner restored from it has the same π_init (its own initial weights would be another draw after cloning).
    const again = await createLearner(ring, config);
    await again.restore(cp);
    assert.deepEqual(
      again.policyInit!.map((w) => Array.from(w)),
      l.policyInit!.map((w) => Array.from(w)),
    );
    await again.dispose();
  } finally {
    await l.dispose();
    await ring.dispose();
  }
});

test('train --objective reward through the CLI: evaluations report the policy’s reward beside the base sampler’s, the development set holds both samplers’ rewards on its seeds, the run resumes, a bad reward is refused before a run exists', async () => {
  const { cli } = await import('./helpers/cli');
  const { readFileSync, existsSync } = await import('node:fs');
  const run = join(tmp, 'reward-run');
  const args = ['--model', 'gmm-ring8', '--intervention', 'gamma', '--objective', 'reward'];
  const common = [
    '--trajectories',
    '64',
    '--eval-every',
    '2',
    '--eval-samples-periodic',
    '256',
    '--eval-samples',
    '256',
  ];
  const r = await cli(
    'train',
    ...args,
    '--reward',
    'region:x=4,r=0.5',
    '--reward',
    '-region:x=-4',
    ...common,
    '--iterations',
    '2',
    '--run-dir',
    run,
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);
  const last = lines.at(-1)!;
  for (const k of ['eval/reward', 'eval/reward_base', 'periodic/reward', 'periodic/reward_base', 'charts/reward_mean'])
    assert.ok(Number.isFinite(last[k]), `${k} = ${last[k]}`);
  // The base sampler is the same at both evaluations (same seed, same count): measured once.
  assert.equal(last['eval/reward_base'], last['periodic/reward_base']);
  const resumed = await cli('train', '--resume', run, '--iterations', '3', '--json');
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(JSON.parse(readFileSync(join(run, 'checkpoint.json'), 'utf8')).iteration, 3);
  // The development set at both final evaluations (2, then 3 after the resume): the base sampler's
  // rewards the same, each equal to the rewards of the base sampler and of the policy drawn here on its seed.
  const { DEV_SET_SEED } = await import('../src/main/engine/apps/train');
  const { readDevSet, runPaths } = await import('../src/main/engine/runs/files');
  const { loadRun } = await import('../src/main/engine/runs/load');
  const { generate, resolveSettings } = await import('../src/main/engine/samplers/generate');
  const [d2, d3] = [2, 3].map((i) => readDevSet(runPaths(run).devAt(i)));
  assert.ok(existsSync(runPaths(run).devPngAt(3)) && existsSync(runPaths(run).devPngAt(2)));
  assert.equal(d3!.base.length, 256);
  assert.deepEqual(d2!.base, d3!.base);
  assert.equal(d3!.seed, DEV_SET_SEED);
  const ring = await Model.load(resolveModelDir('gmm-ring8'), { device: 'cpu' });
  const learner = await loadRun(run, ring);
  const rewards = await openRewards(ring, [parseRewardSpec('region:x=4,r=0.5'), parseRewardSpec('-region:x=-4')]);
  try {
    const c = learner.config;
    const base = await generate(ring, resolveSettings(ring, { sampler: c.sampler, steps: c.steps }), {
      n: 256,
      batch: 64,
      seed: DEV_SET_SEED,
      classes: 'random',
    });
    assert.deepEqual(d3!.base, Array.from((await rewards.score(base.samples, 256, base.labels)).total));
    const ro = await learner.sample(256, DEV_SET_SEED, { temperature: c.temperature });
    assert.deepEqual(d3!.policy, Array.from((await rewards.score(ro.samples, 256, ro.sampleLabels)).total));
    assert.notDeepEqual(d3!.policy, d3!.base, 'the γ policy churns: its samples differ from the base sampler’s');
    // eval --policy scores every row with the run's rewards: the policy's and the plain sampler's rows
    // equal the mean reward of the same samples drawn here (seed 5, n 256).
    const cmp = await cli('eval', '--policy', run, '--n', '256', '--seed', '5', '--json');
    assert.equal(cmp.code, 0, cmp.stderr);
    const res = JSON.parse(cmp.stdout.trim().split('\n').at(-1)!) as {
      rewards: string[];
      rows: { kind: string; reward: number }[];
    };
    assert.deepEqual(res.rewards, ['region:x=4,r=0.5', '-region:x=-4']);
    const meanOf = (a: Float64Array) => a.reduce((x, y) => x + y, 0) / a.length;
    const mine = await learner.sample(256, 5, { temperature: c.temperature });
    const plain = await generate(ring, resolveSettings(ring, { sampler: c.sampler, steps: c.steps }), {
      n: 256,
      batch: 1024,
      seed: 5,
      classes: 'random',
    });
    const row = (k: string) => res.rows.find((r) => r.kind === k)!.reward;
    assert.ok(
      Math.abs(row('policy') - meanOf((await rewards.score(mine.samples, 256, mine.sampleLabels)).total)) < 1e-9,
    );
    assert.ok(Math.abs(row('plain') - meanOf((await rewards.score(plain.samples, 256, plain.labels)).total)) < 1e-9);
    for (const r of res.rows) assert.ok(Number.isFinite(r.reward), `${r.kind}: reward ${r.reward}`);
    // analyze-reward --policy: the run's own rewards, the policy beside its base sampler, in one folder.
    const out = join(tmp, 'reward-run-trajectory');
    const an = await cli('analyze-reward', '--policy', run, '--n', '64', '--out', out, '--json');
    assert.equal(an.code, 0, an.stderr);
    const both = JSON.parse(readFileSync(join(out, 'reward-trajectory.json'), 'utf8')) as {
      policy: { rewards: string; steps: unknown[] };
      base: { steps: unknown[] };
    };
    assert.equal(both.policy.rewards, 'region (x 4, r 0.5) + −region (x -4)');
    assert.equal(both.base.steps.length, c.steps + 1);
    for (const f of ['reward-trajectory.csv', 'reward-trajectory-base.csv', 'reward-trajectory.svg'])
      assert.ok(existsSync(join(out, f)), f);
    assert.match(readFileSync(join(out, 'reward-trajectory.svg'), 'utf8'), /base sampler \(dashed\)/);
    // Rewards asked for replace the run's; a bad one is a usage error naming it.
    const other = await cli('eval', '--policy', run, '--n', '256', '--seed', '5', '--reward', 'region:y=4', '--json');
    assert.equal(other.code, 0, other.stderr);
    assert.deepEqual(JSON.parse(other.stdout.trim().split('\n').at(-1)!).rewards, ['region:y=4']);
    const wrong = await cli('eval', '--policy', run, '--n', '256', '--reward', 'jpeg-size');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /not images; jpeg-size scores images/);
  } finally {
    await rewards.dispose();
    await learner.dispose();
    await ring.dispose();
  }
  const bad = join(tmp, 'bad-reward-run');
  const refused = await cli(
    'train',
    '--model',
    'gmm-ring8',
    '--objective',
    'reward',
    '--reward',
    'jpeg-size',
    ...common,
    '--run-dir',
    bad,
  );
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /gmm-ring8's samples are \[2\], not images; jpeg-size scores images/);
  assert.ok(!existsSync(join(bad, 'config.json')), 'no run is written for a reward the model cannot take');
});

test("a user's ONNX reward trains end to end through the CLI; the run keeps its file as an absolute path", async () => {
  const { cli } = await import('./helpers/cli');
  const { readFileSync } = await import('node:fs');
  const { relative, resolve } = await import('node:path');
  // The user's reward model: reward = −(x₀ − 4)² − x₁² (points near (4, 0) score best).
  const file = writeNearRewardOnnx(join(tmp, 'near-4-0.onnx'));
  const run = join(tmp, 'onnx-reward-run');
  const r = await cli(
    'train',
    '--model',
    'gmm-ring8',
    '--intervention',
    'cfg',
    '--objective',
    'reward',
    '--reward',
    `onnx:${relative(process.cwd(), file)}`,
    '--trajectories',
    '64',
    '--iterations',
    '1',
    '--eval-every',
    '0',
    '--eval-samples',
    '256',
    '--run-dir',
    run,
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { learner: { rewards: string[] } };
  assert.deepEqual(config.learner.rewards, [`onnx:${resolve(file)}`]);
  const line = JSON.parse(readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim()) as Record<string, number>;
  assert.ok(line['charts/reward_mean']! < 0 && Number.isFinite(line['eval/reward']!), JSON.stringify(line));
  assert.equal(line['rewards/0_onnx'], line['charts/reward_mean']); // one part, weight 1: the raw part is the sum
});

test('analyze-reward: the bands of the noisy state and of the denoised estimate at every step match a direct computation', async () => {
  const { analyzeReward, band, rewardTrajectoryCsv } = await import('../src/main/engine/apps/analyze-reward');
  const { generate, resolveSettings } = await import('../src/main/engine/samplers/generate');
  assert.deepEqual(band([3, 1, NaN, 2, 10]), { mean: 4, min: 1, max: 10, p10: 1, p90: 10, n: 4 });
  const ring = await Model.load(resolveModelDir('gmm-ring8'), { device: 'cpu' });
  try {
    const settings = resolveSettings(ring, { sampler: 'euler', steps: 6 });
    const rewards = await openRewards(ring, [parseRewardSpec('region:x=4,r=0.5')]);
    const t = await analyzeReward(ring, rewards, { settings }, { n: 40, seed: 9, batch: 16 });
    await rewards.dispose();
    // Directly: the same trajectories (same seed and batches), the region reward of every row at every step.
    const gen = await generate(ring, settings, { n: 40, batch: 16, seed: 9, classes: 'random', trajectory: true });
    assert.equal(t.steps.length, 7);
    for (let k = 0; k < 6; k++) {
      const x = gen.trajectories!.flatMap((b) => Array.from(b[k]!.x));
      const d = gen.trajectories!.flatMap((b) => Array.from(b[k]!.denoised));
      const direct = (v: number[]) => band(regionRewards(Float32Array.from(v), 40, { x: 4, y: 0, r: 0.5 }));
      for (const [got, want] of [
        [t.steps[k]!.noisy, direct(x)],
        [t.steps[k]!.denoised, direct(d)],
      ] as const)
        for (const key of ['mean', 'min', 'max', 'p10', 'p90', 'n'] as const)
          assert.ok(Math.abs(got[key] - want[key]) < 1e-9, `step ${k} ${key}: ${got[key]} vs ${want[key]}`);
      assert.equal(t.steps[k]!.sigma, gen.schedule[k]);
    }
    const final = band(regionRewards(gen.samples, 40, { x: 4, y: 0, r: 0.5 }));
    assert.deepEqual(t.steps[6]!.noisy, final);
    assert.equal(rewardTrajectoryCsv(t).trim().split('\n').length, 8);
  } finally {
    await ring.dispose();
  }
});

test('analyze-reward of a policy: its bands match the policy’s own trajectories drawn directly (renoise: σ the mean of the rows’ levels), the base sampler’s match a sampler analysis', async () => {
  const { analyzeReward, analyzePolicyReward, band } = await import('../src/main/engine/apps/analyze-reward');
  const { resolveSettings } = await import('../src/main/engine/samplers/generate');
  const { initTf } = await import('../src/main/engine/learner/backend');
  const { createLearner } = await import('../src/main/engine/learner/learner');
  const { learnerConfigFrom } = await import('../src/shared/learner-config');
  await initTf();
  const ring = await Model.load(resolveModelDir('gmm-ring8'), { device: 'cpu' });
  // An untrained renoise policy: its rows jump back at random, so rows sit at different levels at a step.
  const l = await createLearner(ring, learnerConfigFrom({ intervention: 'renoise', steps: 6, initMass: 0.5 }));
  const rewards = await openRewards(ring, [parseRewardSpec('region:x=4,r=0.5')]);
  try {
    const { policy: t, base } = await analyzePolicyReward(ring, rewards, l, { n: 40, seed: 9, batch: 16 });
    const ro = await l.sample(40, 9, { temperature: l.config.temperature, batch: 16, trajectory: true });
    const steps = Math.max(...ro.trajectories!.map((b) => b.length));
    assert.equal(t.steps.length, steps + 1);
    assert.ok(steps > 6, `the renoise policy jumped back (${steps} loop steps)`);
    for (let k = 0; k < steps; k++) {
      const at = ro.trajectories!.map((b) => b[k]).filter((s) => s !== undefined);
      const x = at.flatMap((s) => Array.from(s.x));
      const levels = at.flatMap((s) => Array.from(s.level));
      const d = at.flatMap((s) => Array.from(s.denoised));
      const rows = x.length / 2;
      const r = (v: number[]) => Array.from(regionRewards(Float32Array.from(v), rows, { x: 4, y: 0, r: 0.5 }));
      const stepped = Array.from({ length: rows }, (_, i) => Number.isFinite(d[2 * i]!));
      const want = band(r(d.map((v) => (Number.isFinite(v) ? v : 0))).filter((_, i) => stepped[i]));
      for (const key of ['mean', 'min', 'max', 'n'] as const)
        assert.ok(Math.abs(t.steps[k]!.denoised[key] - want[key]) < 1e-9, `step ${k} ${key}`);
      const sig = levels.filter((_, i) => stepped[i]).map((lv) => l.schedule[lv]!);
      assert.ok(Math.abs(t.steps[k]!.sigma - sig.reduce((a, b) => a + b, 0) / sig.length) < 1e-9, `step ${k} σ`);
    }
    assert.deepEqual(t.steps.at(-1)!.noisy, band(regionRewards(ro.samples, 40, { x: 4, y: 0, r: 0.5 })));
    const settings = resolveSettings(ring, { sampler: l.config.sampler, steps: 6 });
    assert.deepEqual(base, await analyzeReward(ring, rewards, { settings }, { n: 40, seed: 9, batch: 16 }));
  } finally {
    await rewards.dispose();
    await l.dispose();
    await ring.dispose();
  }
});

test('eval --model --reward: the mean reward of the samples (a minus negates it on the same samples); a reward the model cannot take is refused', async () => {
  const { cli: runCli } = await import('./helpers/cli');
  const args = ['eval', '--model', 'gmm-ring8', '--n', '300', '--seed', '3', '--metrics', 'precision', '--json'];
  const plus = await runCli(...args, '--reward', 'region:y=4');
  assert.equal(plus.code, 0, plus.stderr);
  const r = JSON.parse(plus.stdout.trim().split('\n').at(-1)!) as { reward: number; rewards: string[] };
  assert.deepEqual(r.rewards, ['region:y=4']);
  assert.ok(Number.isFinite(r.reward) && r.reward !== 0, `reward ${r.reward}`);
  const minus = await runCli(...args, '--reward', '-region:y=4');
  assert.equal(minus.code, 0, minus.stderr);
  assert.equal((JSON.parse(minus.stdout.trim().split('\n').at(-1)!) as { reward: number }).reward, -r.reward);
  const wrong = await runCli(...args, '--reward', 'jpeg-size');
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /not images; jpeg-size scores images/);
});
