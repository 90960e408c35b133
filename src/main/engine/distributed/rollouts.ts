// The learner's side of distributed rollouts (issue 19): each iteration's rollout goes out as one
// BullMQ flow — children = shards in the shared shard queue, parent = this learner's gather job —
// and comes back as the same Rollout a single process would have drawn.
//
//   1. publish the policy weights of the iteration under policyKey(epoch, iteration) (by reference:
//      jobs carry the key's coordinates, not the weights)
//   2. add the flow: shard s = rows [s·size, min(n, (s+1)·size)); row streams derive from (seed,
//      row) as in one process, so which worker runs a shard does not change its numbers
//   3. wait for the gather job (this process's own gather worker runs it when every shard is done),
//      reporting progress and the workers while it waits
//   4. read each shard's stored result once, check it is this (epoch, iteration, shard), merge in
//      row order (mergeRollouts restores the one-process order of transitions), delete the keys
//
// [Note: same numbers as one process]
// A shard's rows draw from their own streams (generate's `first`), so a shard is the same samples
// whatever its size. A shard's sampler batches are its own rows (at most rolloutBatch), and the
// denoiser's, encoder's and policy head's output for a row does not depend on which other rows
// share its batch (row-wise networks on CPU), so shards reproduce the one-process rollout exactly;
// test/distributed.test.ts checks a run against a single-process one.

import type { Model } from '../models/model';
import type { LearnerConfig } from '../learner/config';
import {
  mergeRollouts,
  type Rollout,
  type RolloutRequest,
  type RolloutService,
  type RolloutTiming,
} from '../learner/rollout';
import { wireReplacer } from '../../../shared/json';
import { KEY_TTL_S, policyKey, SHARD_QUEUE } from './redis';
import { modelFingerprint, pack, unpackShard, type ShardJob } from './jobs';
import { FlowClient, SHARD_JOB_OPTIONS, type WaitState } from './flows';

export type { WaitState };

export interface RemoteOptions {
  url: string;
  /** The model as the workers should open it (bundled id or a directory they share). */
  modelRef: string;
  /** Trajectories per shard (default: the rollout batch). */
  shardSize?: number;
  /**
   * What comes back of the visited states when the policy sees them: 'features' (default) φ, and x
   * only of the states without one; 'states' every x as well (`npm run bench -- workers` weighs both).
   */
  send?: 'features' | 'states';
  /** Called while the learner waits (about once a second). */
  onWait?: (w: WaitState) => void;
  /** Things worth a line in the run's log. */
  onLog?: (message: string) => void;
}

export class RemoteRollouts implements RolloutService {
  private readonly client: FlowClient;
  private readonly modelHash: string;
  last: RolloutTiming | null = null;

  constructor(
    readonly model: Model,
    readonly config: LearnerConfig,
    readonly o: RemoteOptions,
  ) {
    this.client = new FlowClient(o.url, 'learner');
    this.modelHash = modelFingerprint(model);
  }

  /** This learner process's id in Redis ([Note: keys and versions] in redis.ts). */
  get epoch(): string {
    return this.client.epoch;
  }

  async rollout(
    req: RolloutRequest,
  ): Promise<{ rollout: Rollout; features: { phi: Float32Array; filled: Uint8Array } | null }> {
    const { iteration, n } = req;
    const size = this.o.shardSize ?? this.config.rolloutBatch;
    const count = Math.ceil(n / size);
    const epoch = this.epoch;
    const redis = this.client.redis;
    const t0 = performance.now();
    let tPublished = t0;

    // 1–3. Publish the policy of this iteration, then the flow of its shards; wait for them.
    const pkey = policyKey(epoch, iteration);
    const results = await this.client.run(String(iteration), this.shardJobs(req, size, count), {
      what: `iteration ${iteration + 1}`,
      prepare: async () => {
        await redis.set(pkey, pack(req.weights), 'EX', KEY_TTL_S);
      },
      onPublished: () => (tPublished = performance.now()),
      onWait: (w) => {
        this.o.onWait?.(w);
        req.onProgress?.({ samplesDone: Math.min(n, w.done * size), total: n, iteration: 0, horizon: 0 });
      },
      onLog: this.o.onLog,
      signal: req.signal,
    });
    const tDone = performance.now();

    // 4. Read each shard once, in row order.
    const bySh = new Map(results.map((r) => [r.shard, r]));
    const parts: Rollout[] = [];
    let phi: Float32Array | null = null;
    let filled: Uint8Array | null = null;
    let bytes = 0;
    for (let s = 0; s < count; s++) {
      const r = bySh.get(s);
      if (!r) throw new Error(`iteration ${iteration + 1}: shard ${s} of ${count} has no result`);
      const buf = await redis.getBuffer(r.key);
      if (!buf)
        throw new Error(
          `iteration ${iteration + 1}: shard ${s}'s result is gone from Redis (expired or Redis restarted)`,
        );
      bytes += buf.length;
      const p = unpackShard(buf, { epoch: this.epoch, iteration, shard: s });
      if (p.first !== s * size)
        throw new Error(`iteration ${iteration + 1}: shard ${s} holds rows from ${p.first}, not ${s * size}`);
      parts.push({ ...p.rollout, trajectories: null });
      if (req.features && p.phi && p.filled) {
        const rows = p.rollout.n * (p.rollout.H + 1);
        const E = p.phi.length / rows;
        phi ??= new Float32Array(n * (p.rollout.H + 1) * E);
        filled ??= new Uint8Array(n * (p.rollout.H + 1));
        phi.set(p.phi, p.first * (p.rollout.H + 1) * E);
        filled.set(p.filled, p.first * (p.rollout.H + 1));
      }
    }
    await redis.del(pkey, ...results.map((r) => r.key));
    const rollout = mergeRollouts(parts, this.config.rolloutBatch);
    this.last = {
      publishSeconds: (tPublished - t0) / 1000,
      waitSeconds: (tDone - tPublished) / 1000,
      gatherSeconds: (performance.now() - tDone) / 1000,
      bytes,
    };
    return { rollout, features: phi && filled ? { phi, filled } : null };
  }

  /** The flow's children: shard s holds rows [s·size, min(n, (s+1)·size)). */
  private shardJobs(req: RolloutRequest, size: number, count: number) {
    return Array.from({ length: count }, (_, s) => {
      const first = s * size;
      const data: ShardJob = {
        v: 1,
        epoch: this.epoch,
        iteration: req.iteration,
        shard: s,
        model: this.o.modelRef,
        modelHash: this.modelHash,
        config: JSON.stringify(this.config, wireReplacer),
        first,
        n: Math.min(size, req.n - first),
        seed: req.seed,
        temperature: req.temperature,
        features: req.features,
        states: this.o.send === 'states' ? ('all' as const) : ('unencoded' as const),
      };
      return {
        name: 'rollout',
        queueName: SHARD_QUEUE,
        data,
        opts: { jobId: `${this.epoch}-${req.iteration}-${s}`, ...SHARD_JOB_OPTIONS },
      };
    });
  }

  /** What an earlier learner process of the run left in the queue goes (FlowClient.discard). */
  discard(epoch: string): Promise<number> {
    return this.client.discard(epoch);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
