// What travels through the queues (issue 19): a shard job's data and its result, each with one
// schema that checks it where it arrives (everything from Redis is `unknown` until then), and the
// binary payloads kept under our own keys (redis.ts), packed with msgpackr — the encoder BullMQ
// itself uses — whose `moreTypes` keeps typed arrays typed and copies them as raw bytes.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { z } from 'zod';
import type { Model } from '../models/model';
import type { Rollout } from '../learner/rollout';

const packr = new Packr({ moreTypes: true });
export const pack = (v: unknown): Buffer => packr.pack(v);
export const unpack = (b: Buffer): unknown => packr.unpack(b);

const count = z.number().int().nonnegative();

/** A shard: rows first … first+n−1 of iteration `iteration`'s rollout of one learner (`epoch`). */
export const ShardJobSchema = z.object({
  v: z.literal(1),
  epoch: z.string().min(1),
  iteration: count,
  shard: count,
  /** The model as the learner named it (a bundled id or a directory) and its fingerprint. */
  model: z.string().min(1),
  modelHash: z.string().min(1),
  /** The learner's config as JSON, ±∞ and NaN as {"$float": …} (shared/json.ts wireReplacer); the worker checks it. */
  config: z.string(),
  first: count,
  n: z.number().int().positive(),
  seed: z.number().int(),
  temperature: z.number().positive(),
  /** Send φ of the states as the policy saw them (else the learner encodes them again). */
  features: z.boolean(),
  /**
   * With `features`: 'unencoded' sends the states x only where no φ comes with them (the learner
   * reads x only to encode those: Learner.encodeVisited), 'all' sends every state too.
   */
  states: z.enum(['all', 'unencoded']),
});
export type ShardJob = z.infer<typeof ShardJobSchema>;

/**
 * A sampling shard (eval, grid: sampler.ts): samples first … first+n−1 of a draw of `seed` with
 * these sampler settings — each from its own stream, so the parts are the draw made in one piece.
 */
export const SampleJobSchema = z.object({
  v: z.literal(1),
  epoch: z.string().min(1),
  /** The draw this shard belongs to (unique in its producer). */
  draw: z.string().min(1),
  shard: count,
  model: z.string().min(1),
  modelHash: z.string().min(1),
  /** ResolvedSettings as JSON, ±∞ and NaN as {"$float": …} (shared/json.ts wireReplacer). */
  settings: z.string(),
  first: count,
  n: z.number().int().positive(),
  batch: z.number().int().positive(),
  seed: z.number().int(),
  classes: z.union([z.literal('random'), z.literal('none'), count]),
});
export type SampleJob = z.infer<typeof SampleJobSchema>;

/** A sampling shard's result as stored. */
export interface SamplePayload {
  epoch: string;
  draw: string;
  shard: number;
  first: number;
  samples: Float32Array;
  labels: Int32Array | null;
  nfe: Int32Array;
  networkEvals: Int32Array;
}

/** A shard that failed on its workers, with their reason. */
export class ShardFailed extends RangeError {
  override name = 'ShardFailed';
}

/** A finished shard as its job returns it (BullMQ keeps it for the parent); the rollout is under `key`. */
export const ShardDoneSchema = z.object({
  key: z.string(),
  shard: count,
  bytes: count,
  seconds: z.number().nonnegative(),
  worker: z.string(),
  /** Another delivery of this shard had already stored its result: this one was dropped. */
  duplicate: z.boolean(),
});
export type ShardDone = z.infer<typeof ShardDoneSchema>;

/** A shard's result as stored: the rollout of its rows (indexed from 0) and, when asked, φ. */
export interface ShardPayload {
  epoch: string;
  iteration: number;
  shard: number;
  first: number;
  rollout: Omit<Rollout, 'trajectories'>;
  phi: Float32Array | null;
  filled: Uint8Array | null;
}

/**
 * Packs a shard's result; the transition arrays are cut to their `count`. `unencodedOnly`: the
 * states x only where `filled` is 0 (ShardJob.states 'unencoded'); unpackShard puts them back in
 * place, zeros where φ stands for the state.
 */
export function packShard(p: ShardPayload, unencodedOnly = false): Buffer {
  const r = p.rollout;
  const K = r.tRow.length > 0 ? r.tMask.length / r.tRow.length : 0;
  let x = r.x;
  let xAt: Int32Array | null = null;
  if (unencodedOnly && p.filled && r.x.length > 0) {
    const dim = r.x.length / p.filled.length;
    const keep: number[] = [];
    p.filled.forEach((f, i) => f === 0 && keep.push(i));
    xAt = Int32Array.from(keep);
    x = new Float32Array(keep.length * dim);
    keep.forEach((si, k) => x.set(r.x.subarray(si * dim, (si + 1) * dim), k * dim));
  }
  return pack({
    ...p,
    xAt,
    rollout: {
      ...r,
      x,
      tRow: r.tRow.subarray(0, r.count),
      tStep: r.tStep.subarray(0, r.count),
      tAction: r.tAction.subarray(0, r.count),
      tLogp: r.tLogp.subarray(0, r.count),
      tMask: r.tMask.subarray(0, r.count * K),
      trajectories: undefined,
    },
  });
}

/** Unpacks a stored result and checks that it is the one asked for (else: a stale or foreign result). */
export function unpackShard(b: Buffer, want: { epoch: string; iteration: number; shard: number }): ShardPayload {
  const p = unpack(b) as ShardPayload & { xAt: Int32Array | null };
  if (p.xAt) {
    const states = p.rollout.sigma.length;
    const dim = p.rollout.samples.length / p.rollout.n;
    const x = new Float32Array(states * dim);
    p.xAt.forEach((si, k) => x.set(p.rollout.x.subarray(k * dim, (k + 1) * dim), si * dim));
    p.rollout.x = x;
  }
  if (p.epoch !== want.epoch || p.iteration !== want.iteration || p.shard !== want.shard)
    throw new RangeError(
      `shard result for (${p.epoch}, iteration ${p.iteration}, shard ${p.shard}) where (${want.epoch}, ${want.iteration}, ${want.shard}) was asked: a stale result, refused`,
    );
  return p;
}

/**
 * A model's fingerprint: SHA-256 of its manifest and of the ONNX files a rollout runs (denoiser,
 * encoder). A worker refuses a shard for a model whose copy differs from the learner's.
 */
export function modelFingerprint(model: Model): string {
  const h = createHash('sha256');
  const files = ['model.json', model.manifest.onnx, model.manifest.encoder?.onnx].filter(
    (f): f is string => typeof f === 'string',
  );
  for (const f of files) {
    h.update(f);
    h.update(readFileSync(join(model.dir, f)));
  }
  return h.digest('hex').slice(0, 16);
}
