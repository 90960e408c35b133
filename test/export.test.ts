// Exported policies (ONNX): for every intervention and conditioning variant the file, loaded in a
// fresh ONNX Runtime session, gives the engine's EMA logits on hundreds of states (the 2-D c_in·x
// path and a 28×28 conv encoder merged into the file); it says what it is (metadata, sidecar), passes
// the onnx checker, samples exactly as the run's checkpoint, and bad files are clear errors.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { defaultConfig, type LearnerConfig } from '../src/main/engine/learner/config';
import { createLearner, type Learner } from '../src/main/engine/learner/learner';
import { runTraining } from '../src/main/engine/apps/train';
import { initTf } from '../src/main/engine/learner/backend';
import { exportPolicy, ExportError, policyFeeds } from '../src/main/engine/learner/export';
import { OnnxPolicy, PolicyFileError } from '../src/main/engine/learner/onnx-policy';
import type { PolicyStates } from '../src/main/engine/learner/rollout';
import { GraphBuilder, readMetadata } from '../src/main/engine/onnx/graph';
import { Stream } from '../src/main/engine/samplers/random';
import { readNpy } from '../src/main/engine/io/npy';
import { convDenoiserGraph, convEncoderGraph, convManifest } from '../tools/lib/conv';
import { cli, lastJson, spawnCli } from './helpers/cli';
import { tinyConfig } from './helpers/config';

const tmp = mkdtempSync(join(tmpdir(), 'ss-export-'));
process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
const ring = join(resourcesDir(), 'models', 'gmm-ring8');

function tiny(extra: Partial<LearnerConfig> = {}): LearnerConfig {
  return tinyConfig({ hidden: 24, ...extra });
}

/** EMA weights far from the initial ones, so the logits vary strongly with every input. */
function randomiseEma(learner: Learner, seed: number): void {
  const rng = new Stream(seed, 7);
  learner.policyEma = learner.policyEma.map((w, i) =>
    Float32Array.from(w, () => rng.normal() * (i % 2 === 0 ? 0.6 : 0.5)),
  );
}

/** Hundreds of states: every level's σ, random σ, the terminal state; all classes incl. null; steps incl. out of range. */
function states(model: Model, learner: Learner, n: number, seed: number): PolicyStates {
  const rng = new Stream(seed, 3);
  const sched = learner.schedule;
  const sigma = Float32Array.from({ length: n }, (_, i) =>
    i % 7 === 0 ? 0 : i % 3 === 0 ? Math.exp(rng.normal() * 2) : sched[i % (sched.length - 1)]!,
  );
  const x = new Float32Array(n * model.dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < model.dim; k++) x[i * model.dim + k] = rng.normal() * (sigma[i]! + 1);
  const labels =
    model.numClasses > 0
      ? Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * (model.numClasses + 1)))
      : null;
  const step = Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * (learner.H + 3)));
  return { n, x, sigma, labels, step };
}

/** max |file logits − engine EMA logits| over `s`, the file opened from disk in a fresh session; checks probs too. */
async function compareWithFile(path: string, model: Model, learner: Learner, s: PolicyStates): Promise<number> {
  const session = await ort.InferenceSession.create(path, { logSeverityLevel: 3 });
  try {
    const want = await learner.emaLogits(s);
    const K = learner.config.actions.length;
    const res = await session.run(policyFeeds(model, session.inputNames, s));
    const logits = res['logits']!;
    assert.deepEqual(logits.dims, [s.n, K]);
    let err = 0;
    for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs((logits.data as Float32Array)[i]! - want[i]!));
    // probs = softmax(logits / τ): the default τ = 1 here; τ = 0.5 fed to a copy whose `temperature`
    // has no default (onnxruntime-node feeds only such inputs; Python's onnxruntime feeds either).
    const required = join(tmp, 'tau-required.onnx');
    writeFileSync(required, withoutDefault(readFileSync(path), 'temperature'));
    const s2 = await ort.InferenceSession.create(required, { logSeverityLevel: 3 });
    try {
      assert.ok(s2.inputNames.includes('temperature'));
      const half = await s2.run({
        ...policyFeeds(model, s2.inputNames, s),
        temperature: new ort.Tensor('float32', new Float32Array([0.5]), []),
      });
      for (const [tau, p] of [
        [1, res['probs']!.data],
        [0.5, half['probs']!.data],
      ] as [number, Float32Array][]) {
        for (let r = 0; r < s.n; r++) {
          const row = Array.from(want.subarray(r * K, (r + 1) * K), (v) => v / tau);
          const mx = Math.max(...row);
          const z = row.reduce((a, v) => a + Math.exp(v - mx), 0);
          for (let a = 0; a < K; a++)
            assert.ok(Math.abs(p[r * K + a]! - Math.exp(row[a]! - mx) / z) < 1e-4, `probs row ${r} τ=${tau}`);
        }
      }
    } finally {
      await s2.release();
    }
    return err;
  } finally {
    await session.release();
  }
}

/** The model with the initializer `name` removed, so its input of that name must be fed. */
function withoutDefault(bytes: Uint8Array, name: string): Uint8Array {
  const m = onnxProto.onnx.ModelProto.decode(bytes);
  m.graph!.initializer = (m.graph!.initializer ?? []).filter((t) => t.name !== name);
  return onnxProto.onnx.ModelProto.encode(m).finish();
}

let ringModel: Model;
let convDir: string;
before(async () => {
  await initTf();
  ringModel = await Model.load(ring);
  // A 28×28 class-conditional model with a noise-conditional conv encoder (random weights).
  convDir = join(tmp, 'conv28');
  mkdirSync(convDir);
  writeFileSync(
    join(convDir, 'denoiser.onnx'),
    convDenoiserGraph({ seed: 0, numClasses: 10, channels: [8, 16, 16] }).bytes,
  );
  writeFileSync(join(convDir, 'encoder.onnx'), convEncoderGraph({ seed: 1, channels: [16, 32], dim: 48 }));
  writeFileSync(join(convDir, 'model.json'), convManifest('conv28', { encoder: { onnx: 'encoder.onnx', dim: 48 } }));
});
after(async () => {
  await ringModel.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

const VARIANTS: [string, Partial<LearnerConfig>][] = [
  ['cfg, σ only', { intervention: 'cfg', conditioning: 'sigma' }],
  ['cfg, (x, σ)', { intervention: 'cfg', conditioning: 'state' }],
  ['cfg, (x, σ, class) + step', { intervention: 'cfg', conditioning: 'state+class', stepInput: true }],
  ['gamma, (x, σ)', { intervention: 'gamma', conditioning: 'state' }],
  ['renoise, (x, σ) + step', { intervention: 'renoise', conditioning: 'state', stepInput: true }],
];

for (const [name, extra] of VARIANTS) {
  test(`export (${name}): the file gives the engine's EMA logits within 1e-4 on 400 states, and says what it is`, async () => {
    const learner = await createLearner(ringModel, tiny(extra));
    try {
      randomiseEma(learner, 11);
      const out = join(tmp, `${name.replace(/\W+/g, '-')}.onnx`);
      const res = await exportPolicy(learner, { out, runDir: join(tmp, 'no-run') });
      assert.ok(res.verification.maxAbsDiff <= 1e-4);
      assert.equal(res.bytes, readFileSync(out).length);
      const err = await compareWithFile(out, ringModel, learner, states(ringModel, learner, 400, 5));
      assert.ok(err < 1e-4, `max |Δlogit| = ${err}`);
      // Inputs by conditioning.
      const names = res.inputs.map((i) => i.name);
      assert.deepEqual(names, [
        'x',
        'sigma',
        ...(extra.conditioning === 'state+class' ? ['class_labels'] : []),
        ...(extra.stepInput ? ['step'] : []),
        'temperature',
      ]);
      // Self-describing: metadata_props and the sidecar.
      const meta = readMetadata(new Uint8Array(readFileSync(out)));
      const c = learner.config;
      assert.equal(meta['intervention'], c.intervention);
      assert.deepEqual(JSON.parse(meta['actions']!), c.actions);
      assert.equal(meta['divergence'], c.divergence);
      assert.equal(meta['conditioning'], c.conditioning);
      assert.equal(meta['sampler'], c.sampler);
      assert.equal(Number(meta['steps']), c.steps);
      assert.equal(Number(meta['sigma_min']), 0.002);
      assert.equal(Number(meta['sigma_max']), 80);
      assert.equal(Number(meta['rho']), 7);
      assert.equal(Number(meta['nfe_budget']), c.nfeBudget);
      assert.equal(meta['model'], 'gmm-ring8');
      assert.match(meta['model_sha256']!, /^[0-9a-f]{64}$/);
      assert.equal(meta['run_id'], 'no-run');
      assert.equal(meta['iteration'], '0');
      assert.match(meta['sampler_studio_version']!, /^\d+\.\d+\.\d+/);
      const side = JSON.parse(readFileSync(out.replace(/\.onnx$/, '.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(side['model_sha256'], meta['model_sha256']);
      assert.equal(side['opset'], 17);
      assert.deepEqual(side['evaluation'], {});
    } finally {
      await learner.dispose();
    }
  });
}

test('export through a 28×28 conv encoder: merged into the file, logits within 1e-4 on 300 states, size and time reported', async () => {
  const model = await Model.load(convDir);
  const learner = await createLearner(model, tiny({ conditioning: 'state+class', stepInput: true, rolloutBatch: 32 }));
  try {
    randomiseEma(learner, 12);
    const out = join(tmp, 'conv-policy.onnx');
    const res = await exportPolicy(learner, { out, runDir: join(tmp, 'conv-run') });
    const err = await compareWithFile(out, model, learner, states(model, learner, 300, 6));
    assert.ok(err < 1e-4, `max |Δlogit| = ${err}`);
    assert.equal(res.metadata['encoder'], 'encoder.onnx');
    // Self-contained: the encoder's weights are inside (the file outgrows the heads alone), and it
    // runs with the model directory gone.
    const copy = join(tmp, 'elsewhere.onnx');
    cpSync(out, copy);
    const s = await ort.InferenceSession.create(copy, { logSeverityLevel: 3 });
    assert.deepEqual([...s.inputNames], ['x', 'sigma', 'class_labels', 'step']); // + temperature, which has a default
    await s.release();
    console.log(
      `  conv28 policy with encoder: ${(res.bytes / 1024).toFixed(1)} KiB, exported and verified in ${res.seconds.toFixed(2)} s, max |Δlogit| ${err.toExponential(2)}`,
    );
  } finally {
    await learner.dispose();
    await model.dispose();
  }
});

test('exported files pass the onnx checker (full_check) of Debian’s python3-onnx', async (t) => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('Debian python3-onnx not installed');
    return;
  }
  const files = readdirSync(tmp)
    .filter((f) => f.endsWith('.onnx'))
    .map((f) => join(tmp, f));
  assert.ok(files.length >= 6, `expected the exports of the tests above, found ${files.length}`);
  const code =
    'import sys, onnx\nfor p in sys.argv[1:]:\n    m = onnx.load(p)\n    onnx.checker.check_model(m, full_check=True)\n    print(p, m.ir_version, m.opset_import[0].version)';
  const r = spawnSync('/usr/bin/python3', ['-c', code, ...files], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, files.length);
});

test('an existing file is kept unless --force; export fails cleanly for an encoder it cannot merge', async () => {
  const learner = await createLearner(ringModel, tiny());
  try {
    const out = join(tmp, 'keep.onnx');
    writeFileSync(out, 'precious');
    await assert.rejects(
      exportPolicy(learner, { out, runDir: tmp }),
      (e: unknown) => e instanceof ExportError && /already exists.*--force/.test((e as Error).message),
    );
    assert.equal(readFileSync(out, 'utf8'), 'precious');
    await exportPolicy(learner, { out, runDir: tmp, force: true });
    assert.notEqual(readFileSync(out, 'utf8'), 'precious');
    await assert.rejects(exportPolicy(learner, { out: join(tmp, 'p.txt'), runDir: tmp }), /must end in \.onnx/);
    // Issue 15: a path the user typed gets an error in their words, never the temp file's name, and no
    // folder is created for it.
    const nowhere = join(tmp, 'no-such-folder');
    await assert.rejects(
      exportPolicy(learner, { out: join(nowhere, 'p.onnx'), runDir: tmp }),
      (e: unknown) =>
        e instanceof ExportError && /the folder .*no-such-folder does not exist; create it first/.test(String(e)),
    );
    assert.equal(existsSync(nowhere), false);
    await assert.rejects(
      exportPolicy(learner, { out: join(out, 'p.onnx'), runDir: tmp }),
      (e: unknown) => e instanceof ExportError && /keep\.onnx is a file, not a folder/.test(String(e)),
    );
    // /sys refuses new files even to root (EACCES; EROFS where it is mounted read-only).
    await assert.rejects(
      exportPolicy(learner, { out: '/sys/p.onnx', runDir: tmp }),
      (e: unknown) =>
        e instanceof ExportError &&
        /^ExportError: could not write \/sys\/p\.onnx: (permission denied|the file system is read-only|operation not permitted)/.test(
          String(e),
        ) &&
        !/\.tmp/.test(String(e)),
    );
    assert.deepEqual(
      readdirSync(tmp).filter((f) => f.endsWith('.tmp')),
      [],
      'no temp files left behind',
    );
  } finally {
    await learner.dispose();
  }
  // An encoder at opset 11 (attribute-style Unsqueeze) cannot be merged: a clear error, no file.
  const old = join(tmp, 'old-encoder');
  cpSync(ring, old, { recursive: true });
  const g = new GraphBuilder('enc');
  const x = g.input('x', 'float32', ['N', 2]);
  g.input('sigma', 'float32', ['N']);
  g.output(g.op('Mul', [x, g.const(2)]), 'features', 'float32', ['N', 2]);
  g.opset = 11;
  writeFileSync(join(old, 'encoder.onnx'), g.toBytes());
  const manifest = JSON.parse(readFileSync(join(old, 'model.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(old, 'model.json'), JSON.stringify({ ...manifest, encoder: { onnx: 'encoder.onnx', dim: 2 } }));
  const m = await Model.load(old);
  const l2 = await createLearner(m, tiny());
  try {
    const out = join(tmp, 'never.onnx');
    await assert.rejects(
      exportPolicy(l2, { out, runDir: tmp }),
      (e: unknown) =>
        e instanceof ExportError &&
        /encoder uses opset 11; re-export it with opset 13 or newer/.test((e as Error).message),
    );
    assert.equal(existsSync(out), false);
  } finally {
    await l2.dispose();
    await m.dispose();
  }
});

test('CLI: export a run, then `sample --policy policy.onnx` gives the same samples as `--policy RUN`, and eval takes the file', async () => {
  const runDir = join(tmp, 'run-cfg');
  const { learner } = await runTraining({ model: ringModel, config: tiny({ conditioning: 'state+class' }), runDir });
  await learner.dispose();
  mkdirSync(join(tmp, 'cli')); // the CLI creates no folder for a file (issue 15)
  const out = join(tmp, 'cli', 'policy.onnx');
  const ex = await cli('export', '--run', runDir, '--out', out, '--json');
  assert.equal(ex.code, 0, ex.stderr);
  const r = lastJson(ex.stdout) as {
    bytes: number;
    verification: { maxAbsDiff: number; states: number };
    inputs: { name: string }[];
  };
  assert.ok(r.bytes > 1000 && r.verification.states >= 100 && r.verification.maxAbsDiff <= 1e-4);
  // Again without --force: refused, exit 2.
  const again = await cli('export', '--run', runDir, '--out', out);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already exists; choose another path or pass --force/);

  const a = join(tmp, 'cli', 'a.npy');
  const b = join(tmp, 'cli', 'b.npy');
  for (const [src, dst] of [
    [runDir, a],
    [out, b],
  ] as const) {
    const s = await cli(
      'sample',
      '--policy',
      src,
      '--out',
      dst,
      '--n',
      '600',
      '--seed',
      '4',
      '--temperature',
      '0.7',
      '--json',
    );
    assert.equal(s.code, 0, s.stderr);
    assert.equal((lastJson(s.stdout)['policy'] as { temperature: number }).temperature, 0.7);
  }
  const [sa, sb] = [await readNpy(a), await readNpy(b)];
  let diff = 0;
  for (let i = 0; i < sa.data.length; i++) diff = Math.max(diff, Math.abs(Number(sa.data[i]) - Number(sb.data[i])));
  assert.ok(diff < 1e-4, `samples differ by ${diff}`);
  assert.deepEqual(
    Array.from((await readNpy(a.replace('.npy', '.labels.npy'))).data as BigInt64Array),
    Array.from((await readNpy(b.replace('.npy', '.labels.npy'))).data as BigInt64Array),
  );
  // The policy fixes the sampler.
  const fixed = await cli('sample', '--policy', out, '--out', join(tmp, 'cli', 'c.npy'), '--steps', '10');
  assert.equal(fixed.code, 2);
  assert.match(fixed.stderr, /--steps cannot be combined with --policy/);
  const ev = await cli('eval', '--policy', out, '--n', '300', '--best-constant', '--json');
  assert.equal(ev.code, 0, ev.stderr);
  const cmp = lastJson(ev.stdout) as { rows: { kind: string; name: string; nfe: number }[]; iteration: number };
  assert.equal(cmp.iteration, 2);
  assert.match(cmp.rows[0]!.name, /^policy \(cfg/);
  // The best constant, searched over the policy's own action values on another seed.
  const best = cmp.rows.find((r) => r.name.startsWith('best constant'));
  assert.ok(best, JSON.stringify(cmp.rows.map((r) => r.name)));
  const w = Number(/w = ([0-9.]+)/.exec(best.name)![1]);
  assert.ok(defaultConfig('cfg').actions.includes(w), `w = ${w} is one of the actions`);
  assert.equal(best.nfe, 35);
  // and, for a cfg policy, the best guidance interval from the same grid (actions × 3 σ_lo × 3 σ_hi).
  const interval = cmp.rows.find((r) => r.kind === 'best-interval');
  assert.ok(interval && /^best interval w = [0-9.]+, σ ∈ \(/.test(interval.name), JSON.stringify(cmp.rows));
  assert.equal(interval.nfe, 35);
});

test('a truncated, foreign or inconsistent policy file is a clear error, not a crash', async () => {
  const good = join(tmp, 'cli', 'policy.onnx');
  const bytes = readFileSync(good);
  const bad = (name: string, data: Uint8Array | string): string => {
    const p = join(tmp, 'bad', name);
    mkdirSync(join(tmp, 'bad'), { recursive: true });
    writeFileSync(p, data);
    return p;
  };
  const meta = readMetadata(new Uint8Array(bytes));
  const withMeta = (m: Record<string, string>, input = 'x'): Uint8Array => {
    const g = new GraphBuilder('p');
    const x = g.input(input, 'float32', ['N', 2]);
    g.input('sigma', 'float32', ['N']);
    g.input('class_labels', 'int64', ['N']);
    const l = g.op('MatMul', [x, g.const(new Float32Array(16), [2, 8])]);
    g.output(l, 'logits', 'float32', ['N', 8]);
    g.output(g.op('Softmax', [l], { axis: -1 }), 'probs', 'float32', ['N', 8]);
    return g.toBytes({ metadata: m });
  };
  const noSteps = { ...meta };
  delete noSteps['steps'];
  const cases: [string, string, RegExp][] = [
    [
      bad('truncated.onnx', bytes.subarray(0, Math.floor(bytes.length / 2))),
      'gmm-ring8',
      /not a readable ONNX file.*Re-export/,
    ],
    [join(ring, 'denoiser.onnx'), 'gmm-ring8', /no Sampler Studio policy metadata.*export --run/],
    [
      bad('wrong-inputs.onnx', withMeta(meta, 'state')),
      'gmm-ring8',
      /has inputs "state", "sigma", "class_labels".*takes "x", "sigma", "class_labels"/,
    ],
    [bad('no-steps.onnx', withMeta(noSteps)), 'gmm-ring8', /metadata lack "steps"/],
    [bad('bad-actions.onnx', withMeta({ ...meta, actions: '[1]' })), 'gmm-ring8', /"actions".*at least two numbers/],
    [
      bad('bad-sigma.onnx', withMeta({ ...meta, sigma_max: 'lots' })),
      'gmm-ring8',
      /"sigma_max" = "lots" is not a positive number/,
    ],
    [bad('missing.onnx', new Uint8Array()).replace('missing', 'absent'), 'gmm-ring8', /not found/],
    [good, 'gmm64', /exported for the model "gmm-ring8", not "gmm64"; pass --model gmm-ring8/],
  ];
  for (const [path, modelName, re] of cases) {
    const m = await Model.load(join(resourcesDir(), 'models', modelName));
    try {
      await assert.rejects(OnnxPolicy.open(path, m), (e: unknown) => {
        assert.ok(e instanceof PolicyFileError && re.test(e.message), `${path}: ${(e as Error).message}`);
        return true;
      });
    } finally {
      await m.dispose();
    }
  }
  // Through the CLI: exit 2 and the message, for sample and eval.
  for (const cmd of ['sample', 'eval']) {
    const r = await cli(
      cmd,
      '--policy',
      join(tmp, 'bad', 'truncated.onnx'),
      '--model',
      'gmm-ring8',
      ...(cmd === 'sample' ? ['--out', join(tmp, 'bad', 'x.npy')] : []),
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error: .*truncated\.onnx: not a readable ONNX file/m);
  }
});

test('export SIGKILLed at random points: never a policy.onnx without the policy.json that describes it; the next export cleans up and completes', async () => {
  const runDir = join(tmp, 'run-killed-export');
  const { learner } = await runTraining({ model: ringModel, config: tiny(), runDir });
  await learner.dispose();
  const sha256 = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
  const temps = (dir: string): string[] =>
    readdirSync(dir).filter((f) => /^\.policy\.(onnx|json)\.\d+\.[0-9a-f]+\.tmp$/.test(f));
  /** The pair's state in `dir`, checked: a policy.onnx always has the policy.json that describes it. */
  const state = (dir: string, what: string): string => {
    const onnx = join(dir, 'policy.onnx');
    const json = join(dir, 'policy.json');
    if (existsSync(onnx)) {
      assert.ok(existsSync(json), `${what}: policy.onnx without policy.json`);
      const side = JSON.parse(readFileSync(json, 'utf8')) as { sha256?: string };
      assert.equal(side.sha256, sha256(onnx), `${what}: policy.json describes another policy.onnx`);
      return 'the pair';
    }
    if (existsSync(json)) return 'policy.json alone';
    return temps(dir).length > 0 ? 'temp files only' : 'nothing';
  };
  // One uninterrupted export, timed, to spread the kills over a whole one.
  mkdirSync(join(tmp, 'kills', 'whole'), { recursive: true });
  const t0 = Date.now();
  const whole = await spawnCli(['export', '--run', runDir, '--out', join(tmp, 'kills', 'whole', 'policy.onnx')]);
  assert.equal(whole.code, 0, whole.stderr);
  const T = Date.now() - t0;
  const rng = new Stream(2025, 9);
  const outcomes: Record<string, number> = {};
  let killed = 0;
  for (let k = 0; k < 20; k++) {
    const dir = join(tmp, 'kills', `k${k}`);
    mkdirSync(dir, { recursive: true });
    // Even k: at the n-th change in the folder, while the files are written (where a kill does harm);
    // odd k: at a random time in a whole export.
    const nth = 1 + ((k >> 1) % 6);
    let changes = 0;
    const watcher = watch(dir);
    let timer: NodeJS.Timeout | undefined;
    const r = await spawnCli(
      ['export', '--run', runDir, '--out', join(dir, 'policy.onnx')],
      undefined,
      120_000,
      (child) => {
        if (k % 2 === 0) watcher.on('change', () => ++changes === nth && child.kill('SIGKILL'));
        else timer = setTimeout(() => child.kill('SIGKILL'), rng.uniform() * T * 1.1);
      },
    );
    clearTimeout(timer);
    watcher.close();
    if (r.signal === 'SIGKILL') killed++;
    const s = `${r.signal === 'SIGKILL' ? 'killed' : 'finished'}: ${state(dir, `kill ${k}`)}`;
    outcomes[s] = (outcomes[s] ?? 0) + 1;
    // The next export (no --force) completes the pair — or, if it is complete, says it exists — and leaves no temp file.
    const next = await cli('export', '--run', runDir, '--out', join(dir, 'policy.onnx'));
    if (s.endsWith('the pair')) assert.match(next.stderr, /policy\.onnx already exists/, `kill ${k}`);
    else assert.equal(next.code, 0, `kill ${k} (${s}): ${next.stderr}`);
    assert.equal(state(dir, `after kill ${k}`), 'the pair');
    assert.deepEqual(temps(dir), [], `kill ${k}: stale temp files removed`);
  }
  console.log(`export kills: ${JSON.stringify(outcomes)}`);
  assert.ok(killed >= 10, `${killed} of 20 exports were killed`);
  // A live writer's temp file (this process's) is left alone; a .json that is not our sidecar is not replaced without --force.
  const dir = join(tmp, 'kills', 'k0');
  const live = join(dir, `.policy.onnx.${process.pid}.0123456789ab.tmp`);
  writeFileSync(live, 'being written');
  assert.equal((await cli('export', '--run', runDir, '--out', join(dir, 'policy.onnx'), '--force')).code, 0);
  assert.ok(existsSync(live), 'a live process’s temp file is kept');
  writeFileSync(join(dir, 'notes.json'), '{"name": "mine"}');
  const clash = await cli('export', '--run', runDir, '--out', join(dir, 'notes.onnx'));
  assert.match(clash.stderr, /notes\.json already exists; choose another path or pass --force/);
  assert.equal(readFileSync(join(dir, 'notes.json'), 'utf8'), '{"name": "mine"}');
});
