// npm run bench: speed goals, measured side by side in one run and printed as ratios.
//
// 1. Engine overhead: Heun sampling of a 28×28 conv denoiser of realistic cost (tools/lib/conv.ts)
//    at batch 256, against bare session.run calls on the same batches, same session options.
//    Goal: the engine's time beyond the model's own is ≤ 5%.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Model } from '../src/main/engine/models/model';
import { generate, resolveSettings } from '../src/main/engine/samplers/generate';
import { convDenoiserGraph } from '../tools/lib/conv';

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
    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({ name: 'conv-bench', onnx: 'denoiser.onnx', output: 'denoised', shape: [1, 28, 28], numClasses: 10, nullClass: 10, sigmaMin: 0.002, sigmaMax: 80, sigmaData: 0.5 }),
    );
    const model = await Model.load(dir, { device: 'cpu' });
    const bare = await ort.InferenceSession.create(join(dir, 'denoiser.onnx'), { graphOptimizationLevel: 'all', executionProviders: ['cpu'] });
    const settings = resolveSettings(model, { sampler: 'heun', steps: STEPS });
    const calls = 2 * STEPS - 1;
    const dim = 784;
    // The bare loop sees the same shapes and the same σ sequence as the sampler.
    const x = Float32Array.from({ length: BATCH * dim }, (_, i) => Math.sin(i) * 0.5);
    const labels = BigInt64Array.from({ length: BATCH }, (_, i) => BigInt(i % 10));
    const sigmas = Array.from({ length: calls }, (_, k) => 80 * Math.pow(0.002 / 80, k / (calls - 1)));

    // Warm-up both paths.
    await generate(model, settings, { n: BATCH, batch: BATCH, seed: 0 });
    await bare.run({ x: new ort.Tensor('float32', x, [BATCH, 1, 28, 28]), sigma: new ort.Tensor('float32', new Float32Array(BATCH).fill(1), [BATCH]), class_labels: new ort.Tensor('int64', labels, [BATCH]) });

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
    console.log(`conv-bench 28×28 (${(params / 1e6).toFixed(2)} M params), batch ${BATCH}, Heun ${STEPS} steps = ${calls} calls, median of ${ROUNDS} rounds:`);
    console.log(`  bare session.run : ${bareMs.toFixed(0)} ms  (${imgPerSec.toFixed(0)} images/s per NFE)`);
    console.log(`  engine (generate): ${engMs.toFixed(0)} ms  (time inside session.run ${(median(modelShare) * 100).toFixed(1)}%)`);
    const ok = ratio <= 1.05;
    console.log(`  engine / bare = ${ratio.toFixed(3)}  → overhead ${((ratio - 1) * 100).toFixed(1)}% (goal ≤ 5%) ${ok ? 'OK' : 'MISSED'}`);
    await bare.release();
    await model.dispose();
    return ok;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [await benchOverhead()];
process.exitCode = results.every(Boolean) ? 0 : 1;
