// Sampling on workers (issue 19): `eval --redis` and `grid --redis` draw their samples as shards
// of one flow per draw (flows.ts); a shard is samples first … first+n−1 of the draw, each from its
// own stream (generate's `first`), so the samples are the ones one process draws, whatever worker
// drew them (test/distributed.test.ts).

import type { Model } from '../models/model';
import { scheduleFor, type GenerateOptions, type GenerateResult, type ResolvedSettings } from '../samplers/generate';
import { wireReplacer } from '../../../shared/json';
import { SHARD_QUEUE } from './redis';
import { modelFingerprint, unpack, type SampleJob, type SamplePayload } from './jobs';
import { FlowClient, SHARD_JOB_OPTIONS, type WaitState } from './flows';

export interface RemoteSamplerOptions {
  url: string;
  /** The model as the workers should open it (bundled id or a directory they share). */
  modelRef: string;
  /** Samples per shard (default: the sampler batch). */
  shardSize?: number;
  onWait?: (w: WaitState) => void;
  onLog?: (message: string) => void;
}

/** The options of one draw on workers: what `generate` takes, but classes by name or number only. */
export type RemoteGenerateOptions = Pick<GenerateOptions, 'n' | 'batch' | 'seed' | 'signal' | 'onProgress'> & {
  classes?: 'random' | 'none' | number;
};

export class RemoteSampler {
  private readonly client: FlowClient;
  private readonly modelHash: string;
  private draws = 0;

  constructor(
    readonly model: Model,
    readonly o: RemoteSamplerOptions,
  ) {
    this.client = new FlowClient(o.url, 'sampler');
    this.modelHash = modelFingerprint(model);
  }

  /** `generate(model, settings, o)` with the batches on workers. */
  async generate(settings: ResolvedSettings, g: RemoteGenerateOptions): Promise<GenerateResult> {
    const t0 = performance.now();
    const { n, batch } = g;
    const size = this.o.shardSize ?? batch;
    const count = Math.ceil(n / size);
    const draw = `d${++this.draws}`;
    const epoch = this.client.epoch;
    const children = Array.from({ length: count }, (_, s) => {
      const first = s * size;
      const data: SampleJob = {
        v: 1,
        epoch,
        draw,
        shard: s,
        model: this.o.modelRef,
        modelHash: this.modelHash,
        settings: JSON.stringify(settings, wireReplacer),
        first,
        n: Math.min(size, n - first),
        batch: Math.min(batch, size),
        seed: g.seed,
        classes: g.classes ?? 'random',
      };
      return {
        name: 'sample',
        queueName: SHARD_QUEUE,
        data,
        opts: { jobId: `${epoch}-${draw}-${s}`, ...SHARD_JOB_OPTIONS },
      };
    });
    const results = await this.client.run(draw, children, {
      what: `draw of ${n} samples`,
      onWait: (w) => {
        this.o.onWait?.(w);
        g.onProgress?.({ samplesDone: Math.min(n, w.done * size), total: n, iteration: 0, horizon: 0 });
      },
      onLog: this.o.onLog,
      signal: g.signal,
    });
    const dim = this.model.dim;
    const samples = new Float32Array(n * dim);
    const labels = this.model.numClasses > 0 ? new Int32Array(n) : null;
    const nfe = new Int32Array(n);
    const networkEvals = new Int32Array(n);
    const bySh = new Map(results.map((r) => [r.shard, r]));
    for (let s = 0; s < count; s++) {
      const r = bySh.get(s);
      const buf = r ? await this.client.redis.getBuffer(r.key) : null;
      if (!buf) throw new Error(`${draw}: shard ${s} of ${count} has no result in Redis (expired or Redis restarted)`);
      const p = unpack(buf) as SamplePayload;
      if (p.epoch !== epoch || p.draw !== draw || p.shard !== s || p.first !== s * size)
        throw new RangeError(`${draw}: shard ${s}'s stored result belongs to another draw; refused`);
      samples.set(p.samples, p.first * dim);
      if (labels && p.labels) labels.set(p.labels, p.first);
      nfe.set(p.nfe, p.first);
      networkEvals.set(p.networkEvals, p.first);
    }
    await this.client.redis.del(...results.map((r) => r.key));
    g.onProgress?.({ samplesDone: n, total: n, iteration: 0, horizon: 0 });
    return {
      samples,
      labels,
      nfe,
      networkEvals,
      schedule: scheduleFor(this.model, settings),
      settings,
      trajectories: null,
      seconds: (performance.now() - t0) / 1000,
    };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
