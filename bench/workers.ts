// npm run bench -- workers: rollouts on workers through Redis + BullMQ (issue 19), on a real
// redis-server on a free loopback port (Debian's; skipped without one).
//
// 1. Scaling: a learner's rollout of 256 trajectories on gmm-ring8 in shards of 32, with every
//    denoiser call waiting 40 ms on the workers (`worker --simulate-call-ms`: a GPU-bound denoiser,
//    whose calls wait on the device, not the CPU), on 1, 2 and 4 local worker processes, next to
//    the same rollout in process with the same wait per call. Goal: 4 workers ≥ 3× one worker.
// 2. The queue's own cost on fashion-mnist: one training iteration (256 trajectories, the default
//    CFG learner with its classifier encoder) on one local worker, with the results as φ plus the
//    unencoded states (the default) and as every state too: bytes per iteration, and the time to
//    publish and to gather against the iteration. Goal: publish + gather ≤ 5% of an iteration.
//
// [Note: a model of throughput]
// With W workers, S shards per iteration of rollout time r each on a worker, and an overhead o per
// shard (job pick-up, result SET and GET: ms), the rollout takes ≈ ⌈S/W⌉·(r + o) + p + g (publish
// and gather, once per iteration); the learner's own part (discriminator, PPO) L does not shrink.
// An iteration is then ⌈S/W⌉·(r + o) + p + g + L: past W = S more workers do nothing, so shards
// should be ≥ workers (--shard-size); and L bounds the speed-up (Amdahl). Part 1 measures r, o and
// the speed-up; part 2 measures p + g and the bytes that set them.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redisMissing, startRedis } from '../test/helpers/redis';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WAIT_MS = 40;

/** Starts `worker` processes and resolves once each listens. */
async function startWorkers(url: string, k: number, extra: string[]): Promise<ChildProcess[]> {
  return Promise.all(
    Array.from(
      { length: k },
      (_, i) =>
        new Promise<ChildProcess>((resolve, reject) => {
          const c = spawn(
            process.execPath,
            [
              '--import',
              'tsx',
              join(ROOT, 'src/cli/index.ts'),
              'worker',
              '--redis',
              url,
              '--name',
              `bench${i}`,
              ...extra,
            ],
            { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
          );
          let err = '';
          c.stderr!.setEncoding('utf8').on('data', (s: string) => {
            err += s;
            if (err.includes(`worker bench${i} on`)) resolve(c);
          });
          c.once('exit', (code) => reject(new Error(`worker exited (${code}): ${err.slice(-500)}`)));
        }),
    ),
  );
}

async function stopWorkers(ws: ChildProcess[]): Promise<void> {
  await Promise.all(
    ws.map(
      (w) =>
        new Promise<void>((r) => {
          if (w.exitCode !== null) return r();
          w.removeAllListeners('exit');
          w.once('exit', () => r());
          w.kill('SIGINT');
        }),
    ),
  );
}

export async function benchWorkers(): Promise<boolean> {
  const missing = redisMissing();
  if (missing) {
    console.log(`workers: skipped — ${missing}`);
    return true;
  }
  const { initTf } = await import('../src/main/engine/learner/backend');
  const { Model } = await import('../src/main/engine/models/model');
  const { resourcesDir } = await import('../src/main/engine/models/registry');
  const { defaultConfig } = await import('../src/main/engine/learner/config');
  const { createLearner } = await import('../src/main/engine/learner/learner');
  const { RemoteRollouts } = await import('../src/main/engine/distributed/rollouts');
  await initTf();
  const redis = await startRedis();
  const tmp = mkdtempSync(join(tmpdir(), 'ss-bench-workers-'));
  process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
  let ok = true;
  try {
    // 1. Scaling on a denoiser whose calls wait.
    const ring = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'), { device: 'cpu' });
    const n = 256;
    const shard = 32;
    const config = { ...defaultConfig('cfg'), trajectories: n, rolloutBatch: shard, conditioning: 'state' as const };
    const learner = await createLearner(ring, config);
    try {
      ring.simulatedCallMs = WAIT_MS;
      let t0 = performance.now();
      await learner.rollout(n, 1, { temperature: 1 });
      const inProcess = (performance.now() - t0) / 1000;
      ring.simulatedCallMs = 0;
      const remote = new RemoteRollouts(ring, config, { url: redis.url, modelRef: 'gmm-ring8', shardSize: shard });
      learner.remote = remote;
      const seconds: Record<number, number> = {};
      for (const k of [1, 2, 4]) {
        const ws = await startWorkers(redis.url, k, ['--simulate-call-ms', String(WAIT_MS)]);
        try {
          await learner.rollout(n, 0, { temperature: 1 }); // workers open the model
          t0 = performance.now();
          await learner.rollout(n, 1, { temperature: 1 });
          seconds[k] = (performance.now() - t0) / 1000;
        } finally {
          await stopWorkers(ws);
        }
      }
      await remote.close();
      learner.remote = null;
      const shards = n / shard;
      const perShard = seconds[1]! / shards;
      console.log(
        `workers: a rollout of ${n} trajectories on gmm-ring8 in ${shards} shards of ${shard}, every denoiser call waiting ${WAIT_MS} ms (a GPU-bound denoiser):`,
      );
      console.log(
        `  in process ${inProcess.toFixed(2)} s; on 1 worker ${seconds[1]!.toFixed(2)} s (${perShard.toFixed(2)} s a shard, ${((seconds[1]! / inProcess - 1) * 100).toFixed(1)}% over in process: o ≈ ${(((seconds[1]! - inProcess) / shards) * 1000).toFixed(0)} ms a shard), 2 workers ${seconds[2]!.toFixed(2)} s, 4 workers ${seconds[4]!.toFixed(2)} s`,
      );
      const speedup = seconds[1]! / seconds[4]!;
      const good = speedup >= 3;
      ok &&= good;
      console.log(
        `  throughput 2 workers / 1 = ${(seconds[1]! / seconds[2]!).toFixed(2)}×, 4 workers / 1 = ${speedup.toFixed(2)}× (goal ≥ 3×) ${good ? 'OK' : 'MISSED'}`,
      );
    } finally {
      await learner.dispose();
      await ring.dispose();
    }

    // 2. The queue's cost per iteration on fashion-mnist, one worker, both ways of sending states.
    const fm = await Model.load(join(resourcesDir(), 'models', 'fashion-mnist'), { device: 'cpu' });
    const fmConfig = { ...defaultConfig('cfg'), trajectories: 256, rolloutBatch: 256 };
    console.log(
      `  one training iteration on fashion-mnist (${fmConfig.trajectories} trajectories, 1 shard, 1 worker):`,
    );
    const ws = await startWorkers(redis.url, 1, []);
    try {
      for (const send of ['features', 'states'] as const) {
        const l = await createLearner(fm, fmConfig);
        try {
          const remote = new RemoteRollouts(fm, fmConfig, { url: redis.url, modelRef: 'fashion-mnist', send });
          l.remote = remote;
          await l.step(); // the discriminator's warm-up and the worker's model loading
          const m = await l.step();
          const last = remote.last!;
          await remote.close();
          l.remote = null;
          const it = m['time/iteration_s']!;
          const share = (last.publishSeconds + last.gatherSeconds) / it;
          const good = share <= 0.05;
          if (send === 'features') ok &&= good;
          console.log(
            `    results as ${send === 'features' ? 'φ + the unencoded states (default)' : 'φ + every state'}: ${(last.bytes / 1e6).toFixed(1)} MB; iteration ${it.toFixed(1)} s, of it waiting for the shard ${last.waitSeconds.toFixed(1)} s, publish ${(last.publishSeconds * 1000).toFixed(0)} ms + gather ${(last.gatherSeconds * 1000).toFixed(0)} ms = ${(share * 100).toFixed(2)}% (goal ≤ 5%) ${good ? 'OK' : 'MISSED'}`,
          );
        } finally {
          await l.dispose();
        }
      }
    } finally {
      await stopWorkers(ws);
      await fm.dispose();
    }
  } finally {
    await redis.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  return ok;
}
