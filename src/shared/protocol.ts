// The one message protocol between the UI and the engine, whatever carries it: an Electron
// MessagePort to the utility process, a WebSocket (web mode) or a child process's IPC (tests).
//
//   UI → engine   { kind: 'request', id, method, params }
//   engine → UI   { kind: 'response', id, ok: true, result } | { kind: 'response', id, ok: false, error }
//                 { kind: 'event', event }            (streamed: progress, metrics, profile, samples, log, run)
//
// Every method is one entry of METHODS: its params' schema and its result's schema. The types
// (`Methods`), the engine's checks of incoming params and the UI's checks of results all come from it.
//
// [Note: nothing is trusted across a boundary]
// Every message is `unknown` until `parseRequest` / `parseServerMessage` narrow it. A malformed
// message gets an error reply naming what is wrong (with its id when it had a usable one) and never
// reaches the engine's handlers; the engine keeps serving.

import { z } from 'zod';
import { EngineEventSchema, Num, RUN_STATES, SchedulerLevelsSchema, type EngineEvent } from './events';
import { LEARNER_FIELDS, learnerConfigFrom } from './learner-config';
import { SAMPLERS, SCHEDULES } from './sampler-settings';
import { DEFAULT_SCHEDULER_CONFIG, parseSchedulerConfig } from './scheduler-config';
import { DEFAULT_DRIFT_CONFIG, parseDriftConfig } from './drift-config';
import { describeField, fieldError, type NumberField } from './schema';
import { checkRedisUrl, shardSizeProblem, type RemoteTarget } from './redis-url';

export const PROTOCOL_VERSION = 1;

// ---- building blocks ---------------------------------------------------------------------------

/** A path or id: a non-empty string of sane length. */
const path = (what: string) =>
  z
    .string({ error: `must be ${what}` })
    .min(1, { error: `must be ${what}` })
    .max(4096, { error: `must be ${what} (at most 4,096 characters)` });
const flag = z.boolean({ error: 'must be true or false' });
const none = z.strictObject({});

/** Learner settings from the UI: known fields only, each within its bounds, consistent together (shared/learner-config.ts). */
const learnerSettings = z
  .record(z.string(), z.unknown(), { error: 'must be an object of learner settings' })
  .superRefine((v, ctx) => {
    try {
      learnerConfigFrom(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  });

/** RL step scheduler settings from the UI, over the defaults: known fields only, each within its bounds (shared/scheduler-config.ts). */
const schedulerSettings = z
  .record(z.string(), z.unknown(), { error: 'must be an object of scheduler settings' })
  .superRefine((v, ctx) => {
    try {
      parseSchedulerConfig({ ...DEFAULT_SCHEDULER_CONFIG, ...v });
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  });

/** Drift policy settings from the UI, over the defaults: known fields only, each within its bounds, consistent together (shared/drift-config.ts). */
const driftSettings = z
  .record(z.string(), z.unknown(), { error: 'must be an object of drift settings' })
  .superRefine((v, ctx) => {
    try {
      parseDriftConfig({ ...DEFAULT_DRIFT_CONFIG, ...v });
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  });

/** A Redis URL as `train --redis` takes it (shared/redis-url.ts): scheme, host, port and database checked before anything connects. */
const redisUrl = z
  .string({ error: 'must be a Redis URL (redis://[:PASSWORD@]HOST:PORT[/DB])' })
  .max(4096, { error: 'must be a Redis URL (at most 4,096 characters)' })
  .superRefine((v, ctx) => {
    try {
      checkRedisUrl(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  });

/** Rollouts on workers (`train --redis URL [--shard-size N]`, engine/distributed/rollouts.ts): the inverse-RL learner's only. */
const onWorkers = z.strictObject({
  url: redisUrl,
  /** Trajectories per shard job (default: the rollout batch). */
  shardSize: z
    .number()
    .superRefine((n, ctx) => {
      const problem = shardSizeProblem(n);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
}) satisfies z.ZodType<RemoteTarget>;

/** A number within a learner field's bounds, said in the field's words (shared/schema.ts). */
const byField = (f: NumberField) =>
  z.custom<number>((v) => fieldError(f, v) === null, { error: `must be ${describeField(f)}` });

// ---- results -----------------------------------------------------------------------------------

/** An X/Y plot as the app draws it (engine/grid/xy.ts xyLayout): pictures by row and column, each under its caption. */
export const XyPlotSchema = z.object({
  out: z.string(),
  model: z.string(),
  n: z.number(),
  seed: z.number(),
  /** The summary key the grid ranks by, and its label. */
  metric: z.string(),
  x: z.object({ name: z.string(), values: z.array(Num) }),
  y: z.object({ names: z.array(z.string()), rows: z.array(z.string()) }),
  cells: z.array(
    z.array(
      z
        .object({
          index: z.number(),
          caption: z.string(),
          best: z.boolean(),
          pngBase64: z.string().nullable(),
        })
        .nullable(),
    ),
  ),
  /** The page `grid --images` writes, for a browser. */
  html: z.string(),
});

/** What the engine says about itself. */
export const EngineInfoSchema = z.object({
  version: z.string(),
  protocol: z.number(),
  node: z.string(),
  /** ONNX Runtime execution provider used for models opened so far, e.g. "onnxruntime-node/cpu". */
  onnxBackend: z.string().nullable(),
  /** TensorFlow.js backend of the learner once it has started, e.g. "wasm". */
  tfBackend: z.string().nullable(),
});

/** A worker as its heartbeat says (engine/distributed/worker.ts writes it every 5 s; it expires 30 s after the last). */
export const WorkerInfoSchema = z.object({
  name: z.string(),
  device: z.string(),
  backend: z.string(),
  concurrency: z.number(),
  /** The models it has open (bundled names, or the directories the learners loaded them from). */
  models: z.array(z.string()),
  /** Shards it ran, their trajectories and seconds, and shards it found already done (delivered twice). */
  shards: z.number(),
  samples: z.number(),
  seconds: z.number(),
  duplicates: z.number(),
  /** Trajectories per second over the shards it ran. */
  samplesPerSecond: Num,
  /** Epoch milliseconds of the heartbeat (the worker's clock). */
  at: z.number(),
});

/** The work queue seen from outside (engine/distributed/status.ts): the workers alive and the shard queue's depth. */
export const QueueStatusSchema = z.object({
  workers: z.array(WorkerInfoSchema),
  /** Shard jobs waiting, running and failed (kept for inspection). */
  waiting: z.number(),
  active: z.number(),
  failed: z.number(),
});

/** A model in the list: bundled or opened from a directory. */
export const ModelSummarySchema = z.object({
  id: z.string(),
  dir: z.string(),
  bundled: z.boolean(),
  name: z.string().nullable(),
  description: z.string(),
  shape: z.array(z.number()),
  numClasses: z.number(),
  /** A name per class from the manifest (sample grids label their rows with them), or null. */
  classNames: z.array(z.string()).nullable(),
  /** Why the manifest could not be read (the model is listed, but cannot be used). */
  error: z.string().nullable(),
});

/** A model opened and checked: its manifest facts, or what is wrong and how to fix it. */
export const ModelReportSchema = z.object({
  summary: ModelSummarySchema,
  ok: z.boolean(),
  /** The validation error (file, manifest key, message with the fix) when not ok. */
  problem: z.object({ message: z.string(), file: z.string().nullable(), key: z.string().nullable() }).nullable(),
  facts: z.record(z.string(), z.union([z.string(), Num, z.boolean(), z.null()])).nullable(),
});

/** A run directory as the Runs screen lists it. */
export const RunSummarySchema = z.object({
  dir: z.string(),
  /** learner: the inverse-RL learner's run (config.json); scheduler: the RL step scheduler's (scheduler.json); drift: a reward-directed drift policy's (drift.json). */
  kind: z.enum(['learner', 'scheduler', 'drift']),
  model: z.string(),
  intervention: z.string(),
  divergence: z.string(),
  conditioning: z.string(),
  iteration: z.number(),
  iterations: z.number(),
  /** The last metrics line, or null before the first iteration. */
  last: z.record(z.string(), Num).nullable(),
  /** Whether it is training right now: in this engine, or in another process that holds its train.lock. */
  active: z.boolean(),
  /** When it was started (its config.json is written once, at the start), ISO 8601. */
  started: z.string(),
  /** Seconds spent training and evaluating (the sum of its iterations' time/… metrics). */
  seconds: z.number(),
  /** Samples behind its last FID: the final evaluation's, else the periodic ones', else null. */
  evalSamples: z.number().nullable(),
  /** Its last lifecycle change in the app (status.json), or null (a CLI run; the list infers). */
  lastState: z.enum(RUN_STATES).nullable(),
  /** Why it failed (or stopped), when status.json says. */
  reason: z.string().nullable(),
});

/** A profile as a run's profiles/iter-NNNNN.json holds it (the paper's Figure 2): [levels][actions] shares. */
export const EvaluationProfileSchema = z.object({
  iteration: z.number(),
  actions: z.array(Num),
  sigmas: z.array(Num),
  profile: z.array(z.array(Num)),
});

/** What a comparison row is: the policy, its recipe (its mean action per level as a static curve; a
 * scheduler's: its mean schedule), a named schedule (preset) or a schedule file at the scheduler's budget,
 * plain sampling, EDM's stochastic settings, EDM with the most steps within / fewest steps above the
 * policy's NFE and the two mixed at exactly its NFE, the best constant action or guidance interval
 * searched now, or a grid result's best constant or interval. */
export const ROW_KINDS = [
  'policy',
  'recipe',
  'plain',
  'edm-stochastic',
  'equal-nfe-below',
  'equal-nfe-above',
  'equal-nfe-mixed',
  'best-constant',
  'best-interval',
  'grid-best',
  'grid-best-interval',
  'preset',
  'schedule-file',
] as const;
export type RowKind = (typeof ROW_KINDS)[number];

/** The policy next to its baselines (same sampler, steps, seed and n), as `eval --policy` prints it. */
export const ComparisonResultSchema = z.object({
  run: z.string(),
  model: z.string(),
  iteration: z.number(),
  n: z.number(),
  seed: z.number(),
  temperature: z.number(),
  /** nfe: guided denoiser evaluations D_w per sample; networkEvals: network passes per sample (a guided D_w with w ≠ 1 costs two). */
  rows: z.array(
    z.object({
      kind: z.enum(ROW_KINDS),
      name: z.string(),
      nfe: Num,
      networkEvals: Num,
      summary: z.record(z.string(), Num),
      pngBase64: z.string().optional(),
      /** With rewards (a run trained on them, or asked for): the mean weighted reward of the row's samples. */
      reward: Num.optional(),
      /** A scheduler comparison's rows: the σ list sampled (the policy's: its mean σ per step; it varies per sample). */
      sigmas: z.array(Num).optional(),
      /** With `perClass`: each class's samples against the data of that class (n of each, its scores). */
      perClass: z
        .array(
          z.object({
            label: z.number(),
            /** The class's name (the manifest's classNames, else "class k"). */
            name: z.string(),
            nReal: z.number(),
            nFake: z.number(),
            summary: z.record(z.string(), Num),
          }),
        )
        .optional(),
    }),
  ),
  /** With `perClass`, for a class-conditional model: the policy's mean action per class (all levels, and below σ = 1). */
  actionByClass: z
    .array(z.object({ label: z.number(), mean: Num, meanLowNoise: Num }))
    .nullable()
    .optional(),
  profile: z.array(z.array(Num)),
  sigmas: z.array(Num),
  actions: z.array(Num),
  /** The evaluations' notes (small n, …), each once. */
  flags: z.array(z.string()),
  /** The reward specifications every row was scored with (rows' `reward`), or none. */
  rewards: z.array(z.string()).optional(),
});

/** One step of a reward trajectory: the noisy state's and the denoised estimate's reward over the samples. */
const RewardBandSchema = z.object({ mean: Num.nullable(), p10: Num.nullable(), p90: Num.nullable() });
const RewardStepSchema = z.object({
  step: z.number(),
  sigma: Num.nullable(),
  noisy: RewardBandSchema,
  denoised: RewardBandSchema,
});

/** An input or output of an exported policy file. */
export const TensorInfoSchema = z.object({
  name: z.string(),
  type: z.enum(['float32', 'int64']),
  shape: z.array(z.union([z.number(), z.string()])),
  doc: z.string(),
});

/** What `export` wrote and how it was checked. */
export const PolicyExportResultSchema = z.object({
  path: z.string(),
  /** The JSON sidecar beside it (metadata + evaluation metrics). */
  sidecar: z.string(),
  bytes: z.number(),
  opset: z.number(),
  irVersion: z.number(),
  inputs: z.array(TensorInfoSchema),
  outputs: z.array(TensorInfoSchema),
  metadata: z.record(z.string(), z.string()),
  /** The file's logits against the engine's EMA heads on states of a rollout, in a fresh ONNX Runtime session. */
  verification: z.object({ states: z.number(), maxAbsDiff: Num, tolerance: z.number(), runtime: z.string() }),
  seconds: z.number(),
  /** A step scheduler's mean schedule written beside it (NAME.schedule.json, a --sigmas file), else null. */
  schedule: z.string().nullable(),
});

// ---- methods -----------------------------------------------------------------------------------

/** Every method: its params and its result. */
export const METHOD_SCHEMAS = {
  'engine.info': { params: none, result: EngineInfoSchema },
  'models.list': { params: none, result: z.array(ModelSummarySchema) },
  'models.open': {
    params: z.strictObject({ dir: path('a non-empty string (a model directory)') }),
    result: ModelReportSchema,
  },
  /** A model's preview picture: its preview.png, else samples drawn now (Heun 18, w = 1, seed 0). */
  'models.preview': {
    params: z.strictObject({ dir: path('a non-empty string (a model directory)') }),
    result: z.object({ pngBase64: z.string(), source: z.enum(['file', 'sampled']) }),
  },
  'train.start': {
    params: z.strictObject({
      model: path('a bundled model id or a model directory'),
      runDir: path('a non-empty string (where the run is written)'),
      config: learnerSettings,
      /** The run directory is a suggested name: if taken, the first free `runDir-2`, `runDir-3`, … is used. */
      unique: z.boolean().optional(),
      /** A `grid` result directory whose best (constant, or guidance interval) sets the initial policy. */
      initFromGrid: path('a grid result directory').optional(),
      /** Roll out on workers through this Redis (`train --redis URL [--shard-size N]`); in the engine's process when absent. */
      workers: onWorkers.optional(),
    }),
    /** notes: how the run was set up (where its initial policy came from), for its journal. */
    result: z.object({ run: z.string(), notes: z.array(z.string()) }),
  },
  /** Starts an RL step scheduler run (`train --intervention schedule`); stopped and resumed with train.stop / train.resume. */
  'scheduler.start': {
    params: z.strictObject({
      model: path('a bundled model id or a model directory'),
      runDir: path('a non-empty string (where the run is written)'),
      config: schedulerSettings,
      unique: z.boolean().optional(),
    }),
    result: z.object({ run: z.string() }),
  },
  /** Starts a drift policy run (`train --intervention drift`); stopped and resumed with train.stop / train.resume. */
  'drift.start': {
    params: z.strictObject({
      model: path('a bundled model id or a model directory'),
      runDir: path('a non-empty string (where the run is written)'),
      config: driftSettings,
      unique: z.boolean().optional(),
    }),
    result: z.object({ run: z.string() }),
  },
  /** What a run with these settings would cost: denoiser passes and their time on this machine (apps/estimate.ts). */
  'train.estimate': {
    params: z.strictObject({
      model: path('a bundled model id or a model directory'),
      config: learnerSettings,
    }),
    result: z.object({
      nfePerTrajectory: z.number(),
      passesPerNfe: z.number(),
      upperBound: z.boolean(),
      trainingPasses: z.number(),
      evaluationPasses: z.number(),
      totalPasses: z.number(),
      /** Network passes per second of this model here, measured at the rollout batch. */
      passesPerSecond: z.number(),
      /** totalPasses / passesPerSecond: the denoiser's time alone. */
      denoiserSeconds: z.number(),
    }),
  },
  'train.resume': {
    params: z.strictObject({
      run: path('a run directory'),
      iterations: byField(LEARNER_FIELDS.iterations).optional(),
      /** Train a run whose checkpoint.json is missing again from iteration 0 (its metrics are dropped); refused otherwise. */
      restart: flag.optional(),
      /** A learner run: roll out on workers through this Redis (`train --resume DIR --redis URL`); refused for other kinds. */
      workers: onWorkers.optional(),
    }),
    result: z.object({ run: z.string() }),
  },
  /** Stops a training after its current iteration; `pause`: to continue to the same target later (its run event says paused). */
  'train.stop': {
    params: z.strictObject({ run: path('a run directory'), pause: flag.optional() }),
    result: z.object({ stopped: z.boolean() }),
  },
  /**
   * The workers alive and the shard queue's depth at this Redis, read once (the Workers screen asks
   * every few seconds); a Redis that cannot be reached is an error naming the URL (password hidden).
   * `at`: the engine's clock when it was read (epoch ms), to age the heartbeats by.
   */
  'workers.status': {
    params: z.strictObject({ redis: redisUrl }),
    result: QueueStatusSchema.extend({ at: z.number() }),
  },
  'runs.list': {
    params: z.strictObject({ root: path('a directory holding runs') }),
    result: z.array(RunSummarySchema),
  },
  'runs.metrics': {
    params: z.strictObject({ run: path('a run directory') }),
    result: z.object({ run: z.string(), iterations: z.number(), metrics: z.array(z.record(z.string(), Num)) }),
  },
  /** Everything a run holds for the Train screen: where it stands, its metrics, its evaluations (iterations) and the latest profile. */
  'runs.open': {
    params: z.strictObject({ run: path('a run directory') }),
    result: z.object({
      summary: RunSummarySchema,
      metrics: z.array(z.record(z.string(), Num)),
      /** Iterations with an evaluation on disk (profiles/, samples/), in order: fetch one with runs.evaluation. */
      evaluations: z.array(z.number()),
      /** The last evaluation's profile, or null. */
      profile: EvaluationProfileSchema.nullable(),
      /** A scheduler run's last evaluation's σ by step and mean schedule, or null (a learner run, or none yet). */
      levels: SchedulerLevelsSchema.nullable(),
    }),
  },
  /** One evaluation of a run: its profile and its samples picture, each null when missing. */
  'runs.evaluation': {
    params: z.strictObject({ run: path('a run directory'), iteration: z.number().int().nonnegative() }),
    result: z.object({
      iteration: z.number(),
      profile: EvaluationProfileSchema.nullable(),
      pngBase64: z.string().nullable(),
      /** Objective reward: the development set then (its picture, each sample's reward under the base sampler and the policy), or null. */
      dev: z
        .object({ pngBase64: z.string(), base: z.array(Num.nullable()), policy: z.array(Num.nullable()) })
        .nullable(),
    }),
  },
  /** Undoes runs.delete: the trashed folder back to where the run was. */
  'runs.restore': {
    params: z.strictObject({ trashed: path('the trashed run folder'), run: path('where the run was') }),
    result: z.object({ run: z.string() }),
  },
  /** Whether a Runs folder exists (the list of a missing one is empty, and a typo should not read as "no runs yet"). */
  'runs.folder': {
    params: z.strictObject({ root: path('a folder') }),
    result: z.object({ root: z.string(), state: z.enum(['missing', 'file', 'folder']) }),
  },
  /** An exported policy's files (its .onnx and .json), for a download in web mode; only files `policy.export` wrote. */
  'policy.files': {
    params: z.strictObject({ path: path('an exported policy file (.onnx)') }),
    result: z.object({
      name: z.string(),
      onnxBase64: z.string(),
      sidecarName: z.string(),
      sidecar: z.string(),
      /** A step scheduler's mean schedule beside it (NAME.schedule.json), else null. */
      schedule: z.object({ name: z.string(), text: z.string() }).nullable(),
    }),
  },
  /** Moves a run directory into `.trash/` beside it (recoverable), unless it is training. */
  'runs.delete': {
    params: z.strictObject({ run: path('a run directory') }),
    result: z.object({ trashed: z.string() }),
  },
  /**
   * The X/Y plot: a grid search with pictures (`grid --images`) over up to three axes in the CLI's
   * syntax ("guidance=1,1.5,2"), written to `out` (an existing grid there with the same settings is
   * continued); progress as events with run = out, task 'grid'.
   */
  'grid.xy': {
    params: z.strictObject({
      model: path('a bundled model id or a model directory'),
      out: path('a folder for the grid (results.json, cells/, xy.html)'),
      axes: z
        .array(path('an axis such as guidance=1,1.5,2'))
        .min(1, { error: 'needs an axis' })
        .max(3, { error: 'takes at most three axes' }),
      sampler: z.enum(SAMPLERS).optional(),
      steps: byField(LEARNER_FIELDS.steps).optional(),
      schedule: z.enum(SCHEDULES).optional(),
      n: byField(LEARNER_FIELDS.evalSamples).optional(),
      seed: byField(LEARNER_FIELDS.seed).optional(),
    }),
    result: XyPlotSchema,
  },
  'eval.policy': {
    params: z.strictObject({
      run: path('a run directory'),
      // The bounds of the learner's evaluation settings (shared/learner-config.ts).
      n: byField(LEARNER_FIELDS.evalSamples).optional(),
      seed: byField(LEARNER_FIELDS.seed).optional(),
      temperature: byField(LEARNER_FIELDS.temperature).optional(),
      gridResult: path('a grid result directory').optional(),
      bestConstant: flag.optional(),
      /** Scores per class too (a class-conditional model whose data has labels). */
      perClass: flag.optional(),
      /** A scheduler run: schedule files (an optimised one, say) to add as rows, each at its own NFE. */
      schedules: z
        .array(path('a schedule file (.json)'))
        .max(16, { error: 'takes at most 16 schedule files' })
        .optional(),
    }),
    result: ComparisonResultSchema,
  },
  /**
   * The reward along the trajectory (the DDPO thesis §4.2; engine/apps/analyze-reward.ts) of a run
   * trained for rewards: at every step, the reward of the noisy state and of the denoised estimate as
   * bands over n samples, the policy's and its base sampler's on the same seed, and their plot (SVG).
   */
  'reward.trajectory': {
    params: z.strictObject({
      run: path('a run directory'),
      n: z.number().int().min(2).max(10_000).optional(),
      seed: byField(LEARNER_FIELDS.seed).optional(),
    }),
    result: z.object({
      rewards: z.string(),
      n: z.number(),
      seed: z.number(),
      /** Per step: its σ (the mean over rows at a renoise policy's step) and the two bands' mean, 10% and 90%. */
      policy: z.array(RewardStepSchema),
      base: z.array(RewardStepSchema),
      svg: z.string(),
    }),
  },
  /** Exports the run's EMA policy as ONNX; an existing file is an `exists` error unless `force`. */
  'policy.export': {
    params: z.strictObject({
      run: path('a run directory'),
      out: path('a file path ending in .onnx'),
      force: flag.optional(),
    }),
    result: PolicyExportResultSchema,
  },
} as const;

export type Method = keyof typeof METHOD_SCHEMAS;
/** Requests: method → params and result (from the schemas). */
export type Methods = {
  [M in Method]: {
    params: z.input<(typeof METHOD_SCHEMAS)[M]['params']>;
    result: z.output<(typeof METHOD_SCHEMAS)[M]['result']>;
  };
};
export const METHODS = Object.keys(METHOD_SCHEMAS) as Method[];

export type EngineInfo = z.infer<typeof EngineInfoSchema>;
export type ModelSummary = z.infer<typeof ModelSummarySchema>;
export type ModelReport = z.infer<typeof ModelReportSchema>;
export type RunSummary = z.infer<typeof RunSummarySchema>;
/** A run's kind: the inverse-RL learner's, the RL step scheduler's, or a drift policy's. */
export type RunKind = RunSummary['kind'];
export type ComparisonResult = z.infer<typeof ComparisonResultSchema>;
export type TensorInfo = z.infer<typeof TensorInfoSchema>;
export type PolicyExportResult = z.infer<typeof PolicyExportResultSchema>;
export type WorkerInfo = z.infer<typeof WorkerInfoSchema>;
export type QueueStatus = z.infer<typeof QueueStatusSchema>;

export interface Request<M extends Method = Method> {
  kind: 'request';
  id: number;
  method: M;
  params: Methods[M]['params'];
}

/** `exists`: the target file is there already (ask, then retry with force). */
export type ErrorCode = 'bad-message' | 'unknown-method' | 'bad-params' | 'failed' | 'exists';

export type Response<M extends Method = Method> =
  | { kind: 'response'; id: number; ok: true; result: Methods[M]['result'] }
  | { kind: 'response'; id: number | null; ok: false; error: { code: ErrorCode; message: string } };

export interface EventMessage {
  kind: 'event';
  event: EngineEvent;
}

export type ServerMessage = Response | EventMessage;

// ---- narrowing ---------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** "params.dir must be …": one sentence per problem, naming the field. */
function paramsProblem(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      if (i.code === 'unrecognized_keys')
        return `unknown ${i.keys.length > 1 ? 'params' : 'param'} ${i.keys.map((k) => `"${k}"`).join(', ')}`;
      const where = ['params', ...i.path.map(String)].join('.');
      return i.code === 'custom' ? `${where}: ${i.message}` : `${where} ${i.message}`;
    })
    .join('; ');
}

export type Parsed = { ok: true; request: Request } | { ok: false; reply: Response };

/** Narrows an incoming message to a request, or gives the error reply to send back. */
export function parseRequest(msg: unknown): Parsed {
  const fail = (id: number | null, code: ErrorCode, message: string): Parsed => ({
    ok: false,
    reply: { kind: 'response', id, ok: false, error: { code, message } },
  });
  if (!isObj(msg))
    return fail(
      null,
      'bad-message',
      `a message must be a JSON object, got ${msg === null ? 'null' : Array.isArray(msg) ? 'an array' : typeof msg}`,
    );
  const id = Number.isSafeInteger(msg['id']) ? (msg['id'] as number) : null;
  if (msg['kind'] !== 'request') return fail(id, 'bad-message', 'kind must be "request"');
  if (id === null) return fail(null, 'bad-message', 'id must be an integer');
  const method = msg['method'];
  if (typeof method !== 'string' || !Object.hasOwn(METHOD_SCHEMAS, method)) {
    return fail(
      id,
      'unknown-method',
      `unknown method ${JSON.stringify(method)}; the engine knows ${METHODS.join(', ')}`,
    );
  }
  const params = msg['params'] ?? {};
  if (!isObj(params)) return fail(id, 'bad-params', 'params must be an object');
  const r = METHOD_SCHEMAS[method as Method].params.safeParse(params);
  if (!r.success) return fail(id, 'bad-params', `${method}: ${paramsProblem(r.error)}`);
  return { ok: true, request: { kind: 'request', id, method: method as Method, params: r.data as Request['params'] } };
}

const ResponseSchema = z.union([
  z.object({ kind: z.literal('response'), id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({
    kind: z.literal('response'),
    id: z.number().int().nullable(),
    ok: z.literal(false),
    error: z.object({ code: z.string(), message: z.string() }),
  }),
]);
const EventMessageSchema = z.object({ kind: z.literal('event'), event: EngineEventSchema });

/** Narrows a message from the engine (the UI side's check); a response's result is checked by `parseResult`. */
export function parseServerMessage(msg: unknown): ServerMessage | null {
  if (!isObj(msg)) return null;
  const r = msg['kind'] === 'event' ? EventMessageSchema.safeParse(msg) : ResponseSchema.safeParse(msg);
  return r.success && (msg['ok'] !== true || 'result' in msg) ? (msg as unknown as ServerMessage) : null;
}

/** Checks a method's result against its schema; the problem when it does not fit (an engine of another version, say). */
export function parseResult<M extends Method>(
  method: M,
  result: unknown,
): { ok: true; result: Methods[M]['result'] } | { ok: false; problem: string } {
  const r = METHOD_SCHEMAS[method].result.safeParse(result);
  return r.success
    ? { ok: true, result: result as Methods[M]['result'] }
    : {
        ok: false,
        problem: `${method}: the engine's result does not fit the protocol: ${r.error.issues.map((i) => `${i.path.join('.') || 'result'} ${i.message}`).join('; ')}`,
      };
}
