// The files of a run directory as schemas: config.json, checkpoint.json, a line of metrics.jsonl,
// a profile (profile.json, profiles/iter-NNNNN.json) and the training lock (train.lock). What is
// read from disk is `unknown` until one of these narrows it; a file that does not fit is a
// RunFileError that names the file, the field and what is wrong (`runs/x/config.json: learner.steps:
// expected a number, got "ten"`).
// The engine's run module (src/main/engine/runs/) reads and writes them; the grid's results.json
// is read with the same pieces (jsonNumber, parseFile) in src/main/engine/grid/results-file.ts.
//
// [Note: old files]
// Files written before the discriminator had one name still load: a checkpoint's `density`,
// `densityEma` and `optDensity` and a config's `dreInitSteps`, `dreSteps`, `dreBatch` and
// `lrDensity` are renamed as they are read (migrateCheckpoint, migrateLearnerSettings). New files
// are written under the new names only. A config without a setting added since (LEARNER_ADDED:
// the advantage baseline, the initial policy's profile, `discriminatorPool`, `evalSamplesPeriodic`)
// gets the value given there: the one those runs trained with, where one does.

import { z } from 'zod';
import { LEARNER_FIELDS } from './learner-config';

/** A file that does not fit its schema: the file, the field (a path such as `learner.steps`; '' for the whole file), the problem. */
export class RunFileError extends RangeError {
  override name = 'RunFileError';
  constructor(
    readonly file: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${file}: ${field ? `${field}: ` : ''}${problem}`);
  }
}

/** `learner.steps`, `cells[3].summary.fid` */
function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i > 0 ? '.' : ''}${String(k)}`)).join('');
}

const NOUNS: Record<string, string> = {
  number: 'a number',
  int: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  record: 'an object',
};

/** A value as an error message shows it. */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (v !== null && typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return String(v);
}

/** Messages that say what the field should hold and what it holds. */
const fileErrors: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      return iss.input === undefined
        ? `missing (expected ${NOUNS[iss.expected] ?? iss.expected})`
        : `expected ${NOUNS[iss.expected] ?? iss.expected}, got ${shown(iss.input)}`;
    case 'invalid_value':
      return `expected ${iss.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${shown(iss.input)}`;
    case 'too_small':
      return iss.origin === 'array'
        ? `needs at least ${iss.minimum} entries`
        : `must be ${iss.inclusive ? '≥' : '>'} ${iss.minimum}, got ${shown(iss.input)}`;
    case 'invalid_format':
      return `expected ${iss.format} text, got ${shown(iss.input)}`;
    default:
      return undefined;
  }
};

/** `raw` narrowed by `schema`, or a RunFileError naming `file` and the first field that does not fit. */
export function narrowFile<S extends z.ZodType>(schema: S, raw: unknown, file: string): z.output<S> {
  const r = schema.safeParse(raw, { error: fileErrors });
  if (r.success) return r.data;
  const [first, ...rest] = r.error.issues;
  const more = rest.length > 0 ? `; ${rest.length} more problem${rest.length > 1 ? 's' : ''} in the file` : '';
  throw new RunFileError(file, fieldPath(first!.path), first!.message + more);
}

/** A file's text parsed as JSON (with `reviver`) and narrowed by `schema` (RunFileError otherwise). */
export function parseFile<S extends z.ZodType>(
  schema: S,
  text: string,
  file: string,
  reviver?: (key: string, value: unknown) => unknown,
): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text, reviver);
  } catch (e) {
    throw new RunFileError(file, '', `not valid JSON (${(e as Error).message})`);
  }
  return narrowFile(schema, raw, file);
}

/** A JSON number, "inf" / "-inf" for ±∞, or null, as `null` reads: NaN (jsonNumber) or null itself (jsonNumberOrNull). */
function numberReading<N extends number | null>(nullAs: N) {
  return z
    .custom<number | 'inf' | '-inf' | null>((v) => typeof v === 'number' || v === 'inf' || v === '-inf' || v === null, {
      error: (iss) => `expected a number, got ${shown(iss.input)}`,
    })
    .transform((v): number | N => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === null ? nullAs : v));
}

/**
 * A number as Sampler Studio writes it (shared/json.ts): a JSON number, "inf" / "-inf" for ±∞, and
 * null for NaN (what JSON.stringify makes of it).
 */
export const jsonNumber = numberReading(NaN);

/** The same for a setting where null means "the default" (a sampler's sigmaMin, sigmaMax). */
export const jsonNumberOrNull = numberReading(null);

/** An object with its keys renamed old → now (in place in the key order; an old key whose new one is also there is kept as it is). */
function renameKeys(raw: unknown, renames: Record<string, string>): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const now = renames[k];
    out[now !== undefined && !(now in raw) ? now : k] = v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// config.json

/** Old names of learner settings → their names now. */
const LEARNER_RENAMES: Record<string, string> = {
  dreInitSteps: 'discriminatorInitSteps',
  dreSteps: 'discriminatorSteps',
  dreBatch: 'discriminatorBatch',
  lrDensity: 'lrDiscriminator',
};

/**
 * Learner settings added since runs were first saved, with the value an older run takes: the one
 * that reproduces how it trained (the paper's global advantage baseline, the one-logit-bonus initial
 * policy), else the default.
 */
const LEARNER_ADDED: Record<string, unknown> = {
  advantageBaseline: 'global',
  // Before explicit rewards, every run matched the data.
  objective: 'occupancy',
  rewards: [],
  klCoef: 0,
  advantageClip: LEARNER_FIELDS.advantageClip.default,
  // Runs trained for rewards before per-class statistics standardised over the batch.
  rewardStats: 'batch',
  initProfile: 'bias',
  initSigmaLo: 0,
  initSigmaHi: Infinity,
  initMass: 0.8,
  initMassOutside: 0.8,
  // Before them, the discriminator drew fresh expert states every step (no pool size matches that)
  // and periodic evaluations took evalSamples; an older run resumed takes the defaults (its later
  // evaluation points are periodic/… metrics, a series of their own anyway).
  discriminatorPool: LEARNER_FIELDS.discriminatorPool.default,
  evalSamplesPeriodic: LEARNER_FIELDS.evalSamplesPeriodic.default,
};

/** A saved learner config with its settings under today's names and the ones added since (see the note on old files). */
export function migrateLearnerSettings(raw: unknown): unknown {
  const renamed = renameKeys(raw, LEARNER_RENAMES);
  if (typeof renamed !== 'object' || renamed === null || Array.isArray(renamed)) return renamed;
  return { ...LEARNER_ADDED, ...renamed };
}

/** A run's config.json: the model it trains, the learner's settings, where it trained. */
export const runConfigFile = z.object({
  /** The Sampler Studio version that started the run. */
  version: z.string(),
  model: z.object({ name: z.string(), dir: z.string() }),
  /** The learner's settings under today's names; checked by the learner's own schema (shared/learner-config.ts) as the run is read. */
  learner: z.preprocess(migrateLearnerSettings, z.record(z.string(), z.unknown())),
  /** The TensorFlow.js backend it was started on. */
  backend: z.string().optional(),
  /** The frozen state encoder the heads see (its file name, or c_in·x). */
  encoder: z.string().optional(),
});
export type RunConfigFile = z.output<typeof runConfigFile>;

// ---------------------------------------------------------------------------------------------
// status.json

/**
 * Where a run stood at its last lifecycle change in the app's engine (the run event, kept): the
 * Runs list reads it to tell finished, paused, stopped and failed apart, with the target a resume
 * set and the reason of a failure. Runs trained by the CLI have none (the list infers from the
 * iterations).
 */
export const runStatusFile = z.object({
  state: z.enum(['started', 'paused', 'finished', 'stopped', 'failed']),
  iteration: z.number().int().nonnegative(),
  iterations: z.number().int().nonnegative(),
  reason: z.string().optional(),
  /** When, ISO 8601. */
  at: z.string(),
});
export type RunStatusFile = z.output<typeof runStatusFile>;

// ---------------------------------------------------------------------------------------------
// checkpoint.json

/** The bytes of base64 text (Buffer in Node; atob where there is none). */
function base64Bytes(b64: string): Uint8Array {
  return typeof Buffer === 'function' ? Buffer.from(b64, 'base64') : Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** How many of the little-endian float32s in base64 text are NaN or ±Inf (all exponent bits set). */
function nonFiniteFloat32s(b64: string): number {
  const bytes = base64Bytes(b64);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let bad = 0;
  for (let i = 0; i + 4 <= bytes.byteLength; i += 4) if ((view.getUint32(i, true) & 0x7f800000) === 0x7f800000) bad++;
  return bad;
}

/**
 * float32 values as base64 of their bytes, all finite. A checkpoint with NaN weights comes from a
 * run that diverged under an older version (today training stops before writing one: the note on
 * stopping on NaN in learner/learner.ts); restoring it would only sample, export or train NaN.
 */
const finiteFloat32s = z.base64().superRefine((b64, ctx) => {
  const bad = nonFiniteFloat32s(b64);
  if (bad > 0)
    ctx.addIssue({
      code: 'custom',
      message: `holds ${bad} NaN/Inf values: the run had diverged when this checkpoint was written, so it cannot be used; train a new run, with smaller learning rates`,
    });
});

/** One Float32Array per parameter tensor, as base64 of its bytes. */
const weights = z.array(finiteFloat32s);

/** An Adam optimizer's variables (its moments per parameter, and the step count `iter`). */
const optimizerState = z.array(
  z.object({ name: z.string(), data: finiteFloat32s, shape: z.array(z.number().int().nonnegative()) }),
);
export type OptimizerState = z.output<typeof optimizerState>;

/** Old checkpoint keys → their names now. */
const CHECKPOINT_RENAMES: Record<string, string> = {
  density: 'discriminator',
  densityEma: 'discriminatorEma',
  optDensity: 'optDiscriminator',
};

/** A saved checkpoint with the discriminator's state under today's keys (see the note on old files). */
export function migrateCheckpoint(raw: unknown): unknown {
  return renameKeys(raw, CHECKPOINT_RENAMES);
}

/**
 * Everything a run needs to continue: both heads' weights and EMA copies, both optimizers' state,
 * the number of finished iterations.
 */
export const checkpointFile = z.preprocess(
  migrateCheckpoint,
  z.object({
    version: z.string(),
    iteration: z.number().int().nonnegative(),
    policy: weights,
    discriminator: weights,
    policyEma: weights,
    discriminatorEma: weights,
    optPolicy: optimizerState,
    optDiscriminator: optimizerState,
    /** Objective reward: π_init's weights, for the KL penalty (learner.ts). */
    policyInit: weights.optional(),
  }),
);
export type Checkpoint = z.output<typeof checkpointFile>;

// ---------------------------------------------------------------------------------------------
// metrics.jsonl

/**
 * One line of metrics.jsonl: the iteration it finished and its metrics (shared/metrics.ts names).
 * A NaN metric is written as null (JSON has no NaN) and read back as not measured: the key is dropped.
 */
export const metricsLine = z
  .object({ iteration: z.number().int().nonnegative() })
  .catchall(z.number().nullable())
  .transform(
    (m) =>
      Object.fromEntries(Object.entries(m).filter((e): e is [string, number] => e[1] !== null)) as {
        iteration: number;
      } & Record<string, number>,
  );
export type MetricsLine = z.output<typeof metricsLine>;

// ---------------------------------------------------------------------------------------------
// train.lock

/** Who trains a run now (src/main/engine/runs/lock.ts): the process, its machine, since when, its command line. */
export const trainLockFile = z.object({
  pid: z.number().int().positive(),
  host: z.string(),
  /** ISO 8601 time the lock was taken. */
  started: z.string(),
  command: z.string(),
});
export type TrainLock = z.output<typeof trainLockFile>;

// ---------------------------------------------------------------------------------------------
// profile.json, profiles/iter-NNNNN.json

/** The policy's action shares per noise level at an evaluation (the paper's Figure 2). */
export const profileFile = z.object({
  iteration: z.number().int().nonnegative(),
  /** The action values, K. */
  actions: z.array(z.number()),
  /** [N] σ of each level. */
  sigmas: z.array(z.number()),
  /** [N][K] share of each action at each level. */
  profile: z.array(z.array(z.number())),
});
export type ProfileFile = z.output<typeof profileFile>;

// ---------------------------------------------------------------------------------------------
// dev/iter-NNNNN.json (objective reward: the development set; apps/train.ts, [Note: the development set])

/** The development set at an evaluation: each fixed seed's reward under the base sampler and under the policy. */
export const devSetFile = z.object({
  iteration: z.number().int().nonnegative(),
  /** The seed the set is drawn from (every evaluation of every run the same). */
  seed: z.number().int(),
  /** [n] the base sampler's weighted reward of each sample (the same at every evaluation). */
  base: z.array(jsonNumber),
  /** [n] the policy's, from the same initial noise and class. */
  policy: z.array(jsonNumber),
  /** [n] each sample's class, or null for an unconditional model. */
  labels: z.array(z.number().int()).nullable(),
});
export type DevSetFile = z.output<typeof devSetFile>;
