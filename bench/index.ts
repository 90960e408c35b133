// npm run bench: speed goals, measured side by side in one run and printed as ratios.
//
// 1. Engine overhead: Heun sampling of a 28×28 conv denoiser of realistic cost (tools/lib/conv.ts)
//    at batch 256, against bare session.run calls on the same batches, same session options.
//    Goal: the engine's time beyond the model's own is ≤ 5%.
// 3. Learner: on the same conv model, rollout throughput with a state-conditioned CFG policy in the
//    loop against the plain sampler at the same (constant) guidance on the same batches (goal
//    ≥ 70%), and the time breakdown of one whole training iteration (goal ≥ 60% in denoiser calls).
// 2. FID on 10,000 × 2,048 features against pytorch-fid's formula (numpy + scipy.linalg.sqrtm, in
//    float64) on the same features, in the same run. Goal: the same number (|ΔFID| ≤ 1e-3 +
//    1e-4·FID) in time of the order of scipy's. Needs Debian's python3-scipy for the reference.
// 5. The bundled fashion-mnist denoiser: images per second per NFE at batch 256 in ONNX Runtime
//    (goal ≥ 500 on a 2-core CPU), measured next to the random-weight conv model of (1), and next
//    to the same session on one thread ([Note: CPU threads] in src/main/engine/onnx/runtime.ts), and
//    on batches of changing size (a guided rollout's) with ONNX Runtime's memory pattern off (ours)
//    and on ([Note: memory pattern], same file).
// 4. Export: a 28×28 (x, σ, class, step) CFG policy with its conv encoder merged in (the paper's
//    default heads, 128 wide), built, verified on 512 states in a fresh ONNX Runtime session and
//    written. Goal: under 5 s; the file size is reported, and the time next to one training
//    iteration's rollout on the same model.
// 6. CLI start-up (`npm run bench -- cli` runs this alone): `models --json` and `fid` on two small
//    feature files (200 × 16) as fresh processes, timed next to a bare tsx start (`node --import tsx
//    -e 0`) in the same rounds. Goal: `models --json` in ≤ 2× the bare start (a command loads only
//    the modules it needs; see src/cli/index.ts).
// 7. One training iteration on the bundled fashion-mnist (`npm run bench -- iteration`): 256
//    trajectories, the default learner config otherwise (CFG, Heun 18 steps, the classifier encoder),
//    the first iteration with the discriminator's warm-up and a second without, each broken down into
//    its phases (rollout, discriminator, PPO) and the time inside the denoiser and the encoder ONNX;
//    then one periodic evaluation as training runs it, its cost spread over evalEvery iterations.
//    Goal: ≥ 75% of each iteration in denoiser calls.
// 9. The RL step scheduler (`npm run bench -- scheduler`): on the bundled fashion-mnist, rollout
//    throughput of 256 episodes with the policy in the loop (Euler, NFE budget 10, the stochastic
//    policy as training runs it, the classifier encoder on every decision) against plain Euler with
//    10 steps (10 NFE) on the same batches. Goal: ≥ 70%.
// 8. The app's main thread (`npm run bench -- ui`, bench/ui.ts): long tasks in web mode while a run
//    trains on the Train screen and while a 5,000-iteration run opens. Goal: none over 200 ms.
// 10. Workers (`npm run bench -- workers`, bench/workers.ts): rollouts through Redis + BullMQ on 1, 2
//    and 4 local workers with a denoiser whose calls wait (goal: 4 workers ≥ 3× one), and the
//    queue's publish + gather on a fashion-mnist iteration (goal ≤ 5% of it).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { cpuOptions, cpuThreads } from '../src/main/engine/onnx/runtime';
import { Model } from '../src/main/engine/models/model';
import { generate, resolveSettings } from '../src/main/engine/samplers/generate';
import { samplerNfe } from '../src/main/engine/samplers/cost';
import { convDenoiserGraph, convEncoderGraph, convManifest } from '../tools/lib/conv';
import { fid, gaussianStats } from '../src/main/engine/metrics/fid';
import { mat, matmul } from '../src/main/engine/metrics/ortmath';
import { encodeNpy } from '../src/main/engine/io/npy';
import { Stream } from '../src/main/engine/samplers/random';
import { benchUi } from './ui';
import { benchWorkers } from './workers';

const BATCH = 256;
const STEPS = 6; // Heun: 2·6 − 1 = 11 denoiser calls per run
const ROUNDS = 5;

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

async function benchOverhead(): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'ss-bench-'));
  try {
    const { bytes, params } = convDenoiserGraph({ seed: 0, numClasses: 10 });
    writeFileSync(join(dir, 'denoiser.onnx'), bytes);
    writeFileSync(join(dir, 'model.json'), convManifest('conv-bench'));
    const model = await Model.load(dir, { device: 'cpu' });
    const bare = await ort.InferenceSession.create(join(dir, 'denoiser.onnx'), {
      ...cpuOptions(),
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
    });
    const settings = resolveSettings(model, { sampler: 'heun', steps: STEPS });
    const calls = samplerNfe('heun', STEPS);
    const dim = 784;
    // The bare loop sees the same shapes and the same σ sequence as the sampler.
    const x = Float32Array.from({ length: BATCH * dim }, (_, i) => Math.sin(i) * 0.5);
    const labels = BigInt64Array.from({ length: BATCH }, (_, i) => BigInt(i % 10));
    const sigmas = Array.from({ length: calls }, (_, k) => 80 * Math.pow(0.002 / 80, k / (calls - 1)));

    // Warm-up both paths.
    await generate(model, settings, { n: BATCH, batch: BATCH, seed: 0 });
    await bare.run({
      x: new ort.Tensor('float32', x, [BATCH, 1, 28, 28]),
      sigma: new ort.Tensor('float32', new Float32Array(BATCH).fill(1), [BATCH]),
      class_labels: new ort.Tensor('int64', labels, [BATCH]),
    });

    const bareT: number[] = [];
    const engT: number[] = [];
    const modelShare: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let t0 = performance.now();
      for (const s of sigmas) {
        await bare.run({
          x: new ort.Tensor('float32', x, [BATCH, 1, 28, 28]),
          sigma: new ort.Tensor('float32', new Float32Array(BATCH).fill(s), [BATCH]),
          class_labels: new ort.Tensor('int64', labels, [BATCH]),
        });
      }
      bareT.push(performance.now() - t0);
      const before = model.stats.modelMs;
      t0 = performance.now();
      const res = await generate(model, settings, { n: BATCH, batch: BATCH, seed: r });
      const total = performance.now() - t0;
      engT.push(total);
      modelShare.push((model.stats.modelMs - before) / total);
      if (res.nfe[0] !== calls) throw new Error(`expected ${calls} NFE, got ${res.nfe[0]}`);
    }
    const bareMs = median(bareT);
    const engMs = median(engT);
    const ratio = engMs / bareMs;
    const imgPerSec = (BATCH * calls) / (bareMs / 1000);
    console.log(
      `conv-bench 28×28 (${(params / 1e6).toFixed(2)} M params), batch ${BATCH}, Heun ${STEPS} steps = ${calls} calls, median of ${ROUNDS} rounds:`,
    );
    console.log(`  bare session.run : ${bareMs.toFixed(0)} ms  (${imgPerSec.toFixed(0)} images/s per NFE)`);
    console.log(
      `  engine (generate): ${engMs.toFixed(0)} ms  (time inside session.run ${(median(modelShare) * 100).toFixed(1)}%)`,
    );
    const ok = ratio <= 1.05;
    console.log(
      `  engine / bare = ${ratio.toFixed(3)}  → overhead ${((ratio - 1) * 100).toFixed(1)}% (goal ≤ 5%) ${ok ? 'OK' : 'MISSED'}`,
    );
    await bare.release();
    await model.dispose();
    return ok;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** n × d correlated features x = z·A + b (z heavy-tailed), float32 like real extractor output. */
async function syntheticFeatures(n: number, d: number, seed: number, shift: number): Promise<Float32Array> {
  const s = new Stream(seed, 0);
  const m = new Stream(1234, 0); // shared mixing: the two sets differ by shift and sampling only
  const A = mat(
    d,
    d,
    Float64Array.from({ length: d * d }, () => m.normal() / Math.sqrt(d)),
  );
  const z = mat(
    n,
    d,
    Float64Array.from({ length: n * d }, () => s.normal() * (1 + 0.3 * Math.abs(s.normal()))),
  );
  const x = await matmul(z, A);
  return Float32Array.from(x.data, (v, i) => v + shift * ((i % d) % 5 === 0 ? 1 : 0));
}

async function benchFid(): Promise<boolean> {
  const n = 10_000;
  const d = 2048;
  const a = await syntheticFeatures(n, d, 1, 0);
  const b = await syntheticFeatures(n, d, 2, 0.1);
  const t0 = performance.now();
  const res = await fid({ real: await gaussianStats({ data: a, n, d }), fake: await gaussianStats({ data: b, n, d }) });
  const ours = (performance.now() - t0) / 1000;
  console.log(
    `FID on ${n.toLocaleString('en')} × ${d} features (two sets): ${res.fid.toFixed(6)} in ${ours.toFixed(2)} s (${res.method})`,
  );
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import numpy, scipy.linalg'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.log('  reference skipped: install python3-numpy and python3-scipy (Debian) for the scipy comparison');
    return true;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ss-bench-fid-'));
  try {
    writeFileSync(join(dir, 'a.npy'), encodeNpy({ dtype: 'float32', shape: [n, d], data: a }));
    writeFileSync(join(dir, 'b.npy'), encodeNpy({ dtype: 'float32', shape: [n, d], data: b }));
    // pytorch-fid: mu = mean, sigma = np.cov(rowvar=False) in float64, then calculate_frechet_distance.
    const py = [
      'import numpy as np, scipy.linalg, time, json, sys',
      'a = np.load(sys.argv[1] + "/a.npy").astype(np.float64); b = np.load(sys.argv[1] + "/b.npy").astype(np.float64)',
      't = time.time()',
      'mu1, s1 = a.mean(0), np.cov(a, rowvar=False); mu2, s2 = b.mean(0), np.cov(b, rowvar=False)',
      'covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)',
      'covmean = covmean.real; diff = mu1 - mu2',
      'fid = diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)',
      'print(json.dumps({"fid": float(fid), "seconds": time.time() - t}))',
    ].join('\n');
    const r = spawnSync('/usr/bin/python3', ['-c', py, dir], { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) throw new Error(`scipy reference failed: ${r.stderr}`);
    const ref = JSON.parse(r.stdout.trim().split('\n').pop()!) as { fid: number; seconds: number };
    const delta = Math.abs(res.fid - ref.fid);
    const ok = delta <= 1e-3 + 1e-4 * Math.abs(ref.fid);
    console.log(`  scipy (pytorch-fid formula, float64): ${ref.fid.toFixed(6)} in ${ref.seconds.toFixed(2)} s`);
    console.log(
      `  |ΔFID| = ${delta.toExponential(2)} (goal ≤ ${(1e-3 + 1e-4 * Math.abs(ref.fid)).toExponential(2)}) ${ok ? 'OK' : 'MISSED'}; time ours / scipy = ${(ours / ref.seconds).toFixed(2)}`,
    );
    return ok;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchLearner(): Promise<boolean> {
  const { initTf } = await import('../src/main/engine/learner/backend');
  const { Learner } = await import('../src/main/engine/learner/learner');
  const { defaultConfig } = await import('../src/main/engine/learner/config');
  const { backend } = await initTf();
  const dir = mkdtempSync(join(tmpdir(), 'ss-bench-learner-'));
  try {
    const { bytes } = convDenoiserGraph({ seed: 0, numClasses: 10 });
    writeFileSync(join(dir, 'denoiser.onnx'), bytes);
    const s = new Stream(5, 0);
    const m = 2048;
    writeFileSync(
      join(dir, 'data.npy'),
      encodeNpy({
        dtype: 'float32',
        shape: [m, 1, 28, 28],
        data: Float32Array.from({ length: m * 784 }, () => Math.tanh(s.normal())),
      }),
    );
    writeFileSync(join(dir, 'model.json'), convManifest('conv-bench', { data: 'data.npy' }));
    const model = await Model.load(dir, { device: 'cpu' });
    const n = 256;
    const steps = 6;
    // Every action guides (w ≠ 1), so the policy's network cost equals the constant-guidance sampler's.
    const cfg = {
      ...defaultConfig('cfg'),
      actions: [1.25, 1.5, 2, 3],
      initAction: 1,
      steps,
      trajectories: n,
      rolloutBatch: n,
      discriminatorBatch: 256,
      evalEvery: 0,
    };
    const learner = new Learner(model, cfg);
    const plainSettings = resolveSettings(model, { sampler: 'heun', steps, guidance: 1.5 });
    await generate(model, plainSettings, { n, batch: n, seed: 0 }); // warm-up
    await learner.rollout(n, 0, { temperature: 1 });
    const plainT: number[] = [];
    const policyT: number[] = [];
    for (let r = 0; r < 3; r++) {
      let t0 = performance.now();
      await generate(model, plainSettings, { n, batch: n, seed: r });
      plainT.push(performance.now() - t0);
      t0 = performance.now();
      await learner.rollout(n, r, { temperature: 1 });
      policyT.push(performance.now() - t0);
    }
    const ratio = median(plainT) / median(policyT);
    console.log(`learner on conv-bench (TensorFlow.js ${backend}), ${n} trajectories, Heun ${steps} steps, guided:`);
    console.log(
      `  plain sampler (w = 1.5): ${median(plainT).toFixed(0)} ms; with the CFG policy in the loop: ${median(policyT).toFixed(0)} ms`,
    );
    const ok1 = ratio >= 0.7;
    console.log(`  rollout throughput policy / plain = ${ratio.toFixed(3)} (goal ≥ 0.70) ${ok1 ? 'OK' : 'MISSED'}`);
    learner.iteration = 1; // a steady-state iteration (the one-off discriminator warm-up excluded)
    const it = await learner.step();
    const share = it['time/denoiser_s']! / it['time/iteration_s']!;
    const ok2 = share >= 0.6;
    console.log(
      `  one iteration: ${it['time/iteration_s']!.toFixed(2)} s = rollout ${it['time/rollout_s']!.toFixed(2)} s (denoiser ${it['time/denoiser_s']!.toFixed(2)} s) + discriminator ${it['time/discriminator_s']!.toFixed(2)} s + PPO ${it['time/ppo_s']!.toFixed(2)} s`,
    );
    console.log(
      `  share of the iteration in denoiser calls = ${(share * 100).toFixed(1)}% (goal ≥ 60%) ${ok2 ? 'OK' : 'MISSED'}`,
    );
    await learner.dispose();
    await model.dispose();
    return ok1 && ok2;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchExport(): Promise<boolean> {
  const { initTf } = await import('../src/main/engine/learner/backend');
  const { createLearner } = await import('../src/main/engine/learner/learner');
  const { defaultConfig } = await import('../src/main/engine/learner/config');
  const { exportPolicy } = await import('../src/main/engine/learner/export');
  await initTf();
  const dir = mkdtempSync(join(tmpdir(), 'ss-bench-export-'));
  try {
    writeFileSync(join(dir, 'denoiser.onnx'), convDenoiserGraph({ seed: 0, numClasses: 10 }).bytes);
    writeFileSync(join(dir, 'encoder.onnx'), convEncoderGraph({ seed: 1 }));
    writeFileSync(join(dir, 'model.json'), convManifest('conv-bench', { encoder: { onnx: 'encoder.onnx', dim: 64 } }));
    const model = await Model.load(dir, { device: 'cpu' });
    const learner = await createLearner(model, {
      ...defaultConfig('cfg'),
      conditioning: 'state+class',
      stepInput: true,
      rolloutBatch: 256,
    });
    try {
      const t0 = performance.now();
      await learner.rollout(256, 0, { temperature: 1 });
      const rolloutS = (performance.now() - t0) / 1000;
      const res = await exportPolicy(learner, { out: join(dir, 'policy.onnx'), runDir: dir });
      const ok = res.seconds < 5;
      console.log(
        `export of a 28×28 CFG policy with its conv encoder (heads ${learner.config.hidden} wide, ${learner.config.layers} layers):`,
      );
      console.log(
        `  ${(res.bytes / 1024).toFixed(1)} KiB, opset ${res.opset}; built, verified on ${res.verification.states} states (max |Δlogit| ${res.verification.maxAbsDiff.toExponential(1)}) and written in ${res.seconds.toFixed(2)} s (goal < 5 s) ${ok ? 'OK' : 'MISSED'}`,
      );
      console.log(
        `  export time / one 256-trajectory rollout (${rolloutS.toFixed(2)} s) = ${(res.seconds / rolloutS).toFixed(2)}`,
      );
      return ok;
    } finally {
      await learner.dispose();
      await model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchFashionMnist(): Promise<boolean> {
  const { resourcesDir } = await import('../src/main/engine/models/registry');
  // Our CPU sessions' options (cpuOptions) with the threads and the memory pattern given.
  const open = (file: string | Uint8Array, threads: number, memPattern = false): Promise<ort.InferenceSession> => {
    const o: ort.InferenceSession.SessionOptions = {
      ...cpuOptions(),
      intraOpNumThreads: threads,
      enableMemPattern: memPattern,
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
    };
    return typeof file === 'string' ? ort.InferenceSession.create(file, o) : ort.InferenceSession.create(file, o);
  };
  const threads = cpuThreads();
  const fmFile = join(resourcesDir(), 'models', 'fashion-mnist', 'denoiser.onnx');
  const fm = await open(fmFile, threads);
  const fm1 = await open(fmFile, 1);
  const conv = await open(convDenoiserGraph({ seed: 0, numClasses: 10 }).bytes, threads);
  /** A batch of b fashion-mnist inputs (fixed values: speed does not depend on them). */
  const feedsOf = (b: number): Record<string, ort.Tensor> => ({
    x: new ort.Tensor(
      'float32',
      Float32Array.from({ length: b * 784 }, (_, i) => Math.sin(i) * 0.5),
      [b, 1, 28, 28],
    ),
    sigma: new ort.Tensor('float32', new Float32Array(b).fill(1.3), [b]),
    class_labels: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: b }, (_, i) => BigInt(i % 11)),
      [b],
    ),
  });
  const feeds = feedsOf(BATCH);
  const rate = async (s: ort.InferenceSession): Promise<number> => {
    await s.run(feeds);
    const ts: number[] = [];
    for (let r = 0; r < 2 * ROUNDS; r++) {
      const t0 = performance.now();
      await s.run(feeds);
      ts.push(performance.now() - t0);
    }
    return BATCH / (median(ts) / 1000);
  };
  const a = await rate(fm);
  const a1 = await rate(fm1);
  const b = await rate(conv);
  const ok = a >= 500;
  console.log(
    `fashion-mnist denoiser (ONNX Runtime CPU, batch ${BATCH}, ${threads} threads): ${a.toFixed(0)} images/s per NFE (goal ≥ 500) ${ok ? 'OK' : 'MISSED'}; / random-weight conv model ${b.toFixed(0)} = ${(a / b).toFixed(2)}`,
  );
  console.log(
    `  the same on 1 thread (SAMPLER_STUDIO_THREADS=1; onnxruntime-node's own default ran like this): ${a1.toFixed(0)} images/s per NFE; ${threads} threads / 1 = ${(a / a1).toFixed(2)}×`,
  );
  // Guided rollouts stack the rows with w ≠ 1 twice, so a policy's batches change size at every step
  // (256 + k rows), and over a run each size comes back many times. 20 such sizes, three rounds, on
  // fresh sessions with ONNX Runtime's memory pattern off (ours) and on (its default): rows per
  // second over all 60 calls, first ones included ([Note: memory pattern]).
  const sizes = Array.from({ length: 60 }, (_, i) => BATCH + (((i % 20) * 97) % BATCH));
  const varied = async (memPattern: boolean): Promise<number> => {
    const s = await open(fmFile, threads, memPattern);
    let ms = 0;
    for (const b of sizes) {
      const f = feedsOf(b);
      const t0 = performance.now();
      await s.run(f);
      ms += performance.now() - t0;
    }
    await s.release();
    return sizes.reduce((a, b) => a + b, 0) / (ms / 1000);
  };
  const off = await varied(false);
  const on = await varied(true);
  console.log(
    `  batches of 20 sizes in [${BATCH}, ${2 * BATCH}), 3 rounds, on fresh sessions (a guided rollout's): ${off.toFixed(0)} rows/s with the memory pattern off (ours) vs ${on.toFixed(0)} on (ONNX Runtime's default) = ${(off / on).toFixed(2)}×`,
  );
  await fm.release();
  await fm1.release();
  await conv.release();
  return ok;
}

async function benchCli(): Promise<boolean> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const cli = join(root, 'src', 'cli', 'index.ts');
  const dir = mkdtempSync(join(tmpdir(), 'ss-bench-cli-'));
  try {
    const [n, d] = [200, 16];
    const s = new Stream(7, 0);
    for (const [name, shift] of [
      ['a', 0],
      ['b', 0.5],
    ] as const) {
      writeFileSync(
        join(dir, `${name}.npy`),
        encodeNpy({
          dtype: 'float32',
          shape: [n, d],
          data: Float32Array.from({ length: n * d }, () => s.normal() + shift),
        }),
      );
    }
    const runs = [
      { name: 'bare tsx start (node --import tsx -e 0)', args: ['-e', '0'] },
      { name: 'models --json', args: [cli, 'models', '--json'] },
      {
        name: `fid on ${n} × ${d} .npy features`,
        args: [cli, 'fid', '--a', join(dir, 'a.npy'), '--b', join(dir, 'b.npy'), '--json'],
      },
    ];
    const times = runs.map((): number[] => []);
    const rounds = 7;
    // Round 0 warms tsx's transform cache and the file cache; the runs alternate so that load from
    // elsewhere on the machine falls on all three alike.
    for (let r = 0; r <= rounds; r++) {
      for (const [i, run] of runs.entries()) {
        const t0 = performance.now();
        const p = spawnSync(process.execPath, ['--import', 'tsx', ...run.args], { cwd: root, encoding: 'utf8' });
        const seconds = (performance.now() - t0) / 1000;
        if (p.status !== 0) throw new Error(`${run.name} exited with ${p.status}: ${p.stderr}`);
        if (r > 0) times[i]!.push(seconds);
      }
    }
    const bare = median(times[0]!);
    console.log(`CLI start-up, fresh processes, median of ${rounds} rounds:`);
    for (const [i, run] of runs.entries()) {
      const t = median(times[i]!);
      const goal = i === 1 ? ` (goal ≤ 2×) ${t / bare <= 2 ? 'OK' : 'MISSED'}` : '';
      console.log(`  ${run.name.padEnd(40)} ${t.toFixed(2)} s = ${(t / bare).toFixed(2)}× the bare start${goal}`);
    }
    return median(times[1]!) / bare <= 2;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchIteration(): Promise<boolean> {
  const { initTf } = await import('../src/main/engine/learner/backend');
  const { createLearner } = await import('../src/main/engine/learner/learner');
  const { defaultConfig } = await import('../src/main/engine/learner/config');
  const { dataKindOf } = await import('../src/shared/learner-config');
  const { resourcesDir } = await import('../src/main/engine/models/registry');
  const { extractorForModel } = await import('../src/main/engine/metrics/features');
  const { referenceFor } = await import('../src/main/engine/metrics/evaluate');
  const { trainingEvaluation } = await import('../src/main/engine/apps/train');
  const { backend } = await initTf();
  const model = await Model.load(join(resourcesDir(), 'models', 'fashion-mnist'), { device: 'cpu' });
  // What `train --model fashion-mnist --intervention cfg` runs: the image defaults (256 trajectories an
  // iteration, their own actions and start; src/shared/learner-config.ts).
  const config = defaultConfig('cfg', dataKindOf(model.shape));
  const learner = await createLearner(model, config);
  const pct = (v: number): string => `${(v * 100).toFixed(1).padStart(5)}%`;
  const show = (title: string, m: Record<string, number>): boolean => {
    const total = m['time/iteration_s']!;
    console.log(`  ${title}: ${total.toFixed(1)} s`);
    for (const [name, key] of [
      ['rollout', 'time/rollout_s'],
      ['discriminator', 'time/discriminator_s'],
      ['PPO', 'time/ppo_s'],
    ] as const)
      console.log(`    ${name.padEnd(24)} ${m[key]!.toFixed(1).padStart(6)} s ${pct(m[key]! / total)}`);
    for (const [name, key] of [
      ['in the denoiser ONNX', 'time/denoiser_s'],
      ['in the encoder ONNX', 'time/encoder_s'],
    ] as const)
      console.log(`      ${name.padEnd(22)} ${m[key]!.toFixed(1).padStart(6)} s ${pct(m[key]! / total)}`);
    const share = m['time/denoiser_s']! / total;
    const ok = share >= 0.75;
    console.log(`    share in denoiser calls ${pct(share)} (goal ≥ 75%) ${ok ? 'OK' : 'MISSED'}`);
    return ok;
  };
  try {
    console.log(
      `one training iteration on fashion-mnist (TensorFlow.js ${backend}, ONNX Runtime CPU), ${config.trajectories} trajectories, ${config.sampler} ${config.steps} steps, encoder ${learner.encoder.name}:`,
    );
    const it1 = await learner.step();
    const ok1 = show(
      `iteration 1 (discriminator warm-up ${config.discriminatorInitSteps} + ${config.discriminatorSteps} steps)`,
      it1,
    );
    const it2 = await learner.step();
    const ok2 = show(`iteration 2 (${config.discriminatorSteps} discriminator steps)`, it2);
    const extractor = await extractorForModel(model);
    let ok3 = false;
    try {
      const reference = await referenceFor(model, extractor); // once per run (cached on disk)
      const d0 = model.stats.modelMs;
      const t0 = performance.now();
      await trainingEvaluation(learner, { extractor, reference, n: config.evalSamplesPeriodic });
      const evalS = (performance.now() - t0) / 1000;
      const evalDenoiserS = (model.stats.modelMs - d0) / 1000;
      const perIteration = evalS / config.evalEvery;
      console.log(
        `  periodic evaluation (${config.evalSamplesPeriodic} samples, every ${config.evalEvery} iterations): ${evalS.toFixed(1)} s (${pct(evalDenoiserS / evalS)} in the denoiser) = ${perIteration.toFixed(2)} s per iteration, ${pct(perIteration / it2['time/iteration_s']!)} of iteration 2`,
      );
      // The whole run from the parts measured above: iteration 1 once (the warm-up is paid once per
      // run), the others as iteration 2, and the periodic evaluations (the final one not counted).
      const I = config.iterations;
      const evals = Math.floor((I - 1) / config.evalEvery);
      const runS = it1['time/iteration_s']! + (I - 1) * it2['time/iteration_s']! + evals * evalS;
      const runDenoiserS = it1['time/denoiser_s']! + (I - 1) * it2['time/denoiser_s']! + evals * evalDenoiserS;
      ok3 = runDenoiserS / runS >= 0.75;
      console.log(
        `  a run of ${I} iterations (the first, ${I - 1} as the second, ${evals} periodic evaluations): ${(runS / 60).toFixed(1)} min, ${pct(runDenoiserS / runS)} in denoiser calls (goal ≥ 75%) ${ok3 ? 'OK' : 'MISSED'}`,
      );
    } finally {
      await extractor.dispose();
    }
    return ok1 && ok2 && ok3;
  } finally {
    await learner.dispose();
    await model.dispose();
  }
}

async function benchScheduler(): Promise<boolean> {
  const { initTf } = await import('../src/main/engine/learner/backend');
  const { SchedulerPolicy } = await import('../src/main/engine/scheduler/rl-scheduler');
  const { DEFAULT_SCHEDULER_CONFIG } = await import('../src/shared/scheduler-config');
  const { resourcesDir } = await import('../src/main/engine/models/registry');
  await initTf();
  const model = await Model.load(join(resourcesDir(), 'models', 'fashion-mnist'), { device: 'cpu' });
  const n = 256;
  const c = { ...DEFAULT_SCHEDULER_CONFIG, sampler: 'euler' as const, nfeBudget: 10 };
  const pooled = await SchedulerPolicy.create(model, c); // the default state
  const encoder = await SchedulerPolicy.create(model, { ...c, state: 'encoder' });
  try {
    const plain = resolveSettings(model, { sampler: 'euler', steps: 10 });
    await generate(model, plain, { n: 32, batch: 32, seed: 0 }); // warm-up
    for (const p of [pooled, encoder]) await p.rollout({ n: 32, seed: 0, std: 0.5, batch: 32, record: true });
    const times: [number[], number[], number[]] = [[], [], []];
    for (let r = 0; r < 3; r++) {
      let t0 = performance.now();
      await generate(model, plain, { n, batch: n, seed: r });
      times[0].push(performance.now() - t0);
      for (const [k, p] of [pooled, encoder].entries()) {
        t0 = performance.now();
        await p.rollout({ n, seed: r, std: 0.5, batch: n, record: true });
        times[k + 1]!.push(performance.now() - t0);
      }
    }
    const [tp, tPooled, tEnc] = times.map(median) as [number, number, number];
    const ok = tp / tPooled >= 0.7;
    console.log(
      `RL step scheduler on fashion-mnist, ${n} episodes, Euler, NFE budget 10 (the stochastic policy, as training):`,
    );
    console.log(
      `  plain Euler 10 steps: ${tp.toFixed(0)} ms; scheduler in the loop, state ${pooled.encoder.name} (default): ${tPooled.toFixed(0)} ms; state ${encoder.encoder.name}: ${tEnc.toFixed(0)} ms`,
    );
    console.log(
      `  rollout throughput scheduler / plain = ${(tp / tPooled).toFixed(3)} (goal ≥ 0.70) ${ok ? 'OK' : 'MISSED'}; with the encoder state ${(tp / tEnc).toFixed(3)}`,
    );
    return ok;
  } finally {
    await pooled.dispose();
    await encoder.dispose();
    await model.dispose();
  }
}

const only = process.argv[2];
const results = [
  only && only !== 'overhead' ? true : await benchOverhead(),
  only && only !== 'learner' ? true : await benchLearner(),
  only && only !== 'fid' ? true : await benchFid(),
  only && only !== 'export' ? true : await benchExport(),
  only && only !== 'fashion-mnist' ? true : await benchFashionMnist(),
  only && only !== 'cli' ? true : await benchCli(),
  only && only !== 'iteration' ? true : await benchIteration(),
  only && only !== 'ui' ? true : await benchUi(),
  only && only !== 'scheduler' ? true : await benchScheduler(),
  only && only !== 'workers' ? true : await benchWorkers(),
];
process.exitCode = results.every(Boolean) ? 0 : 1;
