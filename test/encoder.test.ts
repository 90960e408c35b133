// The frozen state encoder: a model manifest's "encoder" ONNX feeds both heads (checked against the
// same function computed here), a run records and trains through it, an iteration encodes each state
// once (the discriminator trained on pools encoded once equals one encoding every minibatch afresh),
// and a broken encoder is a ModelError naming the file, the key and the fix.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../src/main/engine/onnx/graph';
import { Model } from '../src/main/engine/models/model';
import { ModelError, parseManifest } from '../src/main/engine/models/manifest';
import { resourcesDir } from '../src/main/engine/models/registry';
import { createLearner, Learner } from '../src/main/engine/learner/learner';
import { runTraining } from '../src/main/engine/apps/train';
import { loadRun } from '../src/main/engine/runs/load';
import { initTf } from '../src/main/engine/learner/backend';
import { Stream } from '../src/main/engine/samplers/random';
import { loadData } from '../src/main/engine/models/data';
import * as tf from '@tensorflow/tfjs';
import { tinyConfig } from './helpers/config';

const tmp = mkdtempSync(join(tmpdir(), 'ss-encoder-'));
process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
const F = 16;
const rng = new Stream(42, 0);
const W = Float32Array.from({ length: 2 * F }, () => rng.normal());
const B = Float32Array.from({ length: F }, () => rng.normal() * 0.1);
const V = Float32Array.from({ length: F }, () => rng.normal() * 0.1);

/** φ(x, σ) = tanh((x / √(σ² + 0.25))·W + b + v·ln σ): a small noise-conditional encoder. */
function encoderOnnx(opts: { outName?: string; dim?: number; nan?: boolean } = {}): Uint8Array {
  const g = new GraphBuilder('encoder');
  const x = g.input('x', 'float32', ['N', 2]);
  const sigma = g.input('sigma', 'float32', ['N']);
  const cin = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [g.op('Mul', [sigma, sigma]), g.const(0.25)])])]);
  const xs = g.op('Mul', [x, g.op('Unsqueeze', [cin, g.ints([1])])]);
  const logS = g.op('Unsqueeze', [g.op('Log', [opts.nan ? g.op('Neg', [sigma]) : sigma]), g.ints([1])]);
  const dim = opts.dim ?? F;
  const h = g.op('Add', [
    g.op('Add', [g.op('MatMul', [xs, g.const(W.slice(0, 2 * dim), [2, dim])]), g.const(B.slice(0, dim), [dim])]),
    g.op('Mul', [logS, g.const(V.slice(0, dim), [1, dim])]),
  ]);
  g.output(g.op('Tanh', [h]), opts.outName ?? 'features', 'float32', ['N', dim]);
  return g.toBytes();
}

function reference(x: Float32Array, sigma: Float32Array, n: number, sigmaMin: number): Float32Array {
  const out = new Float32Array(n * F);
  for (let i = 0; i < n; i++) {
    const s = sigma[i]! > 0 ? sigma[i]! : sigmaMin;
    const c = 1 / Math.sqrt(s * s + 0.25);
    for (let f = 0; f < F; f++) {
      const h = x[i * 2]! * c * W[f]! + x[i * 2 + 1]! * c * W[F + f]! + B[f]! + V[f]! * Math.log(s);
      out[i * F + f] = Math.tanh(h);
    }
  }
  return out;
}

/** A copy of gmm-ring8 whose manifest names an encoder. */
function modelWithEncoder(name: string, encoder: Record<string, unknown>, onnx: Uint8Array | null): string {
  const dir = join(tmp, name);
  cpSync(join(resourcesDir(), 'models', 'gmm-ring8'), dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
  manifest['encoder'] = encoder;
  writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest, null, 1));
  if (onnx) writeFileSync(join(dir, 'encoder.onnx'), onnx);
  return dir;
}

const tiny = tinyConfig;

let model: Model;
before(async () => {
  await initTf();
  model = await Model.load(modelWithEncoder('with-encoder', { onnx: 'encoder.onnx', dim: F }, encoderOnnx()));
});
after(async () => {
  await model.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

test('manifest: "encoder" is parsed with defaults, and a missing dim is named', () => {
  const base = JSON.parse(readFileSync(join(resourcesDir(), 'models', 'gmm-ring8', 'model.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const m = parseManifest({ ...base, encoder: { onnx: 'e.onnx', dim: 8 } }, 'model.json');
  assert.deepEqual(m.encoder, { onnx: 'e.onnx', inputs: { x: 'x', sigma: 'sigma' }, output: 'features', dim: 8 });
  assert.equal(parseManifest(base, 'model.json').encoder, null);
  assert.throws(
    () => parseManifest({ ...base, encoder: { onnx: 'e.onnx' } }, 'model.json'),
    (e: unknown) => e instanceof ModelError && e.key === 'encoder.dim',
  );
});

test('both heads see the ONNX encoder’s features (terminal states at σ_min), not c_in·x', async () => {
  const learner = await createLearner(model, tiny({ conditioning: 'state' }));
  try {
    assert.equal(learner.encoder.name, 'encoder.onnx');
    assert.equal(learner.layout.xDim, F);
    assert.equal(learner.discriminator.layout.xDim, F);
    const n = 5;
    const x = Float32Array.from({ length: n * 2 }, () => rng.normal() * 2);
    const sigma = Float32Array.from([80, 3, 0.5, 0.002, 0]);
    const want = reference(x, sigma, n, model.sigmaMin);
    const pin = await learner.policyInput({ x, sigma, labels: null, step: null, n });
    const din = await learner.discriminator.input(x, sigma, null, n);
    const Dp = pin.length / n;
    const Dd = din.length / n;
    let err = 0;
    for (let i = 0; i < n; i++) {
      for (let f = 0; f < F; f++) {
        err = Math.max(
          err,
          Math.abs(pin[i * Dp + f]! - want[i * F + f]!),
          Math.abs(din[i * Dd + f]! - want[i * F + f]!),
        );
      }
    }
    assert.ok(err < 1e-5, `encoder features differ from the reference by ${err}`);
  } finally {
    await learner.dispose();
  }
  // A Learner built without loading the encoder would silently use c_in·x: refused.
  assert.throws(() => new Learner(model, tiny()), /names an encoder ONNX/);
});

test('a run trains through the encoder, records it, and reloads with it', async () => {
  const runDir = join(tmp, 'run-enc');
  const { learner } = await runTraining({ model, config: tiny(), runDir });
  await learner.dispose();
  const cfg = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as { encoder: string };
  assert.equal(cfg.encoder, 'encoder.onnx');
  const lines = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 2);
  for (const l of lines) assert.ok(Number.isFinite((JSON.parse(l) as Record<string, number>)['losses/discriminator']));
  const again = await loadRun(runDir, model);
  try {
    assert.equal(again.encoder.name, 'encoder.onnx');
    assert.equal(again.iteration, 2);
  } finally {
    await again.dispose();
  }
});

test('the discriminator trained on pools encoded once equals one that encodes every minibatch afresh', async () => {
  const c = tiny({ discriminatorBatch: 24 });
  const a = await createLearner(model, c);
  const b = await createLearner(model, c); // same config: the same initial weights
  try {
    const S = a.H + 1;
    const total = c.trajectories * S;
    const E = a.encoder.dim;
    // The rollout keeps the policy's own encodings; encodeVisited adds the terminal states. Together
    // they are φ of every recorded state.
    const seen = { phi: new Float32Array(total * E), filled: new Uint8Array(total) };
    const ro = await a.rollout(c.trajectories, 11, { temperature: 1, features: seen });
    assert.equal(
      seen.filled.reduce((s, v) => s + v, 0),
      c.trajectories * a.H,
      'the rollout encoded every non-terminal state',
    );
    const phi = await a.encodeVisited(ro, seen);
    const fresh = await a.encoder.encode(ro.x, ro.sigma, total);
    let dPhi = 0;
    for (let i = 0; i < phi.length; i++) dPhi = Math.max(dPhi, Math.abs(phi[i]! - fresh[i]!));
    assert.ok(dPhi < 1e-6, `features kept from the rollout differ from fresh ones by ${dPhi}`);

    const data = (await loadData(model))!;
    const expertData = { x: data.x, labels: data.labels };
    const steps = 12;
    // a: the learner's way, both pools encoded once.
    const da = a.discriminator;
    const visited = da.pool({ n: total, sigma: ro.sigma, level: ro.level, labels: ro.labels }, phi);
    const rngA = new Stream(9, 3);
    const sizes = da.expertPoolSizes(visited, steps);
    // ⌈B·steps / L⌉ = ⌈24·12 / 19⌉ = 16 expert states at each of the 19 visited levels (64 visits
    // each, discriminatorPool 128).
    assert.deepEqual(Array.from(sizes), Array(S).fill(16));
    assert.deepEqual(Array.from(da.expertPoolSizes(visited, 1000)), Array(S).fill(64), 'at most the visits');
    const drawnA = da.drawExpert(expertData, sizes, rngA);
    const expert = da.pool(drawnA, await a.encoder.encode(drawnA.x, drawnA.sigma, drawnA.n));
    const ra = da.train(visited, expert, steps, rngA);
    // b: the same draws, every minibatch's states encoded afresh.
    const db = b.discriminator;
    const rngB = new Stream(9, 3);
    const drawnB = db.drawExpert(expertData, sizes, rngB);
    assert.deepEqual(drawnB.x, drawnA.x, 'the same expert states from the same stream');
    const B = c.discriminatorBatch;
    const dim = model.dim;
    let lossB = 0;
    for (let s = 0; s < steps; s++) {
      const mb = db.minibatch(visited, expert, rngB);
      const x = new Float32Array(2 * B * dim);
      const sigma = new Float32Array(2 * B);
      const labels = new Int32Array(2 * B);
      for (let k = 0; k < B; k++) {
        const [e, v] = [mb.expert[k]!, mb.visited[k]!];
        x.set(drawnB.x.subarray(e * dim, (e + 1) * dim), k * dim);
        x.set(ro.x.subarray(v * dim, (v + 1) * dim), (B + k) * dim);
        [sigma[k], sigma[B + k]] = [drawnB.sigma[e]!, ro.sigma[v]!];
        [labels[k], labels[B + k]] = [drawnB.labels![e]!, ro.labels![v]!];
      }
      lossB += db.update(await db.input(x, sigma, labels, 2 * B), mb.y).loss / steps;
    }
    assert.ok(Math.abs(ra.loss - lossB) < 1e-6, `mean loss ${ra.loss} vs ${lossB}`);
    const wa = da.net.getWeights();
    const wb = db.net.getWeights();
    let dW = 0;
    wa.forEach((w, i) => w.forEach((v, k) => (dW = Math.max(dW, Math.abs(v - wb[i]![k]!)))));
    assert.ok(dW < 1e-6, `weights differ by ${dW}`);
    assert.ok(
      wa.some((w, i) => w.some((v, k) => v !== db.ema[i]![k])),
      'training moved the weights (from the initial ones, still its EMA)',
    );
  } finally {
    await a.dispose();
    await b.dispose();
  }
});

test('an iteration encodes each state once: the rollout’s encodings, the terminal states and one expert pool', async () => {
  const c = tiny({ discriminatorInitSteps: 200, discriminatorSteps: 2, discriminatorPool: 40 });
  const l = await createLearner(model, c);
  try {
    const n = c.trajectories;
    const S = l.H + 1; // cfg: every trajectory visits each of the N + 1 = 19 levels once
    // Iteration 1, the warm-up included: ⌈32·202 / 19⌉ = 341 draws per level, 64 visits, so the
    // pool is discriminatorPool = 40 states per level, not 202 × 32 fresh states. (The initial
    // policy's cloning, before iteration 1, encodes its own states once: not counted here.)
    await l.ready();
    let rows = l.encoder.stats.rows;
    const m1 = await l.step();
    assert.equal(l.encoder.stats.rows - rows, n * l.H + n + 40 * S, 'rollout + terminal states + expert pool');
    assert.ok(m1['time/encoder_s']! > 0 && m1['time/encoder_s']! < m1['time/iteration_s']!);
    // Iteration 2: ⌈32·2 / 19⌉ = 4 expert states per level.
    rows = l.encoder.stats.rows;
    await l.step();
    assert.equal(l.encoder.stats.rows - rows, n * l.H + n + 4 * S);
    const before = tf.memory().numTensors;
    await l.step();
    assert.equal(tf.memory().numTensors, before, 'tensor count flat across iterations');
  } finally {
    await l.dispose();
  }
});

test('a broken encoder is a ModelError naming the file, the key and the fix', async () => {
  const cases: [string, Record<string, unknown>, Uint8Array | null, string, RegExp][] = [
    ['missing', { onnx: 'encoder.onnx', dim: F }, null, 'encoder.onnx', /not found.*remove "encoder"/],
    [
      'bad-input',
      { onnx: 'encoder.onnx', dim: F, inputs: { x: 'image' } },
      encoderOnnx(),
      'encoder.inputs.x',
      /no input "image".*"x", "sigma"/,
    ],
    [
      'bad-output',
      { onnx: 'encoder.onnx', dim: F, output: 'feats' },
      encoderOnnx(),
      'encoder.output',
      /no output "feats".*"features"/,
    ],
    ['bad-dim', { onnx: 'encoder.onnx', dim: 32 }, encoderOnnx(), 'encoder.dim', /shape \[2, 16\], expected \[2, 32\]/],
    ['nan', { onnx: 'encoder.onnx', dim: F }, encoderOnnx({ nan: true }), 'encoder', /NaN or Inf/],
    ['garbage', { onnx: 'encoder.onnx', dim: F }, new Uint8Array([1, 2, 3, 4, 5]), 'onnx', /cannot load/],
  ];
  for (const [name, spec, onnx, key, msg] of cases) {
    const m = await Model.load(modelWithEncoder(`broken-${name}`, spec, onnx));
    try {
      await assert.rejects(createLearner(m, tiny()), (e: unknown) => {
        assert.ok(e instanceof ModelError, `${name}: ${String(e)}`);
        assert.equal(e.key, key, `${name}: key`);
        assert.match(e.message, msg, name);
        return true;
      });
    } finally {
      await m.dispose();
    }
  }
  assert.ok(existsSync(join(tmp, 'broken-missing', 'model.json')));
});
