// Structured events the engine emits while it works. The CLI prints them (a bar on a TTY, JSON
// lines otherwise); the app receives the same objects over its message protocol. Metric values may
// be ±Infinity (never NaN); JSON carries them as "inf" (shared/json.ts).
//
// [Note: state travels as data]
// A run's lifecycle is a `run` event (started, paused, finished, stopped, failed), and progress and
// log events name the run they belong to: the UI never decides program state from message text.

import { z } from 'zod';

/** Any number but NaN (±Infinity allowed: metric values, S_tmax). */
export const Num = z.custom<number>((v) => typeof v === 'number' && !Number.isNaN(v), { message: 'must be a number' });
const NumArray = z.array(Num);

/** Where a long step stands inside one unit of its task: e.g. "discriminator warm-up", 120 of 220 steps. */
export const PhaseSchema = z.object({
  /** The unit it belongs to (a training iteration, from 1): an evaluation follows its iteration. */
  iteration: Num.optional(),
  label: z.string(),
  done: Num,
  total: Num,
  unit: z.string(),
});
export type Phase = z.infer<typeof PhaseSchema>;

export const ProgressEventSchema = z.object({
  type: z.literal('progress'),
  /** The run directory this work belongs to (training), absent for one-off work (sampling, a grid). */
  run: z.string().optional(),
  /** What is running, e.g. "sample". */
  task: z.string(),
  done: Num,
  total: Num,
  /** What `done` counts, e.g. "samples". */
  unit: z.string(),
  elapsedSeconds: Num,
  /** Estimated seconds left, null until there is a rate. */
  etaSeconds: Num.nullable(),
  /** The step under way inside the current unit (a training iteration's rollout, discriminator, PPO, evaluation). */
  phase: PhaseSchema.optional(),
});

export const LogEventSchema = z.object({
  type: z.literal('log'),
  /** The run directory the message is about, when it is about one. */
  run: z.string().optional(),
  level: z.enum(['info', 'warn']),
  message: z.string(),
});

/** A training iteration finished: its namespaced metrics (charts/…, losses/…, time/…, eval/…). */
export const MetricsEventSchema = z.object({
  type: z.literal('metrics'),
  /** The run directory. */
  run: z.string(),
  iteration: Num,
  metrics: z.record(z.string(), Num),
});

/** The learned profile at an evaluation: the share of each action per noise level (the paper's Figure 2). */
export const ProfileEventSchema = z.object({
  type: z.literal('profile'),
  run: z.string(),
  iteration: Num,
  /** The action values (guidance w, churn γ, or levels to jump back). */
  actions: NumArray,
  /** σ of each profile row. */
  sigmas: NumArray,
  /** [levels][actions] shares, each row summing to 1 (or 0 where no sample chose there). */
  profile: z.array(NumArray),
});

/** A fixed-seed sample picture at an evaluation (a grid for images, a scatter over the data in 2-D). */
export const SamplesEventSchema = z.object({
  type: z.literal('samples'),
  run: z.string(),
  iteration: Num,
  /** Where the PNG was written, and its bytes (base64) for a UI that cannot read the file. */
  path: z.string(),
  pngBase64: z.string(),
  /** Objective reward: the development set at this evaluation (RUN/dev/iter-NNNNN.*; engine/apps/train.ts). */
  dev: z
    .object({
      path: z.string(),
      pngBase64: z.string(),
      /** Each sample's reward under the base sampler, and under the policy from the same seed (null: NaN). */
      base: z.array(Num.nullable()),
      policy: z.array(Num.nullable()),
    })
    .optional(),
});

/** The RL step scheduler's levels at an evaluation (engine/scheduler/train.ts, RUN/levels.json): σ by step. */
export const SchedulerLevelsSchema = z.object({
  iteration: Num,
  /** Samples of the evaluation. */
  n: Num,
  /** Per step index k: the rows (samples) that reach it, and their σ_k: mean, 10% and 90%. */
  steps: z.array(z.object({ step: Num, rows: Num, mean: Num, p10: Num, p90: Num })),
  /** The learned mean schedule (RUN/schedule.json): a σ list ending in 0. */
  schedule: NumArray,
});
export const LevelsEventSchema = SchedulerLevelsSchema.extend({ type: z.literal('levels'), run: z.string() });

export const RUN_STATES = ['started', 'paused', 'finished', 'stopped', 'failed'] as const;
/** started: training began (or resumed); paused: stopped with its checkpoint to continue to the same
 * target; finished: reached its iterations; stopped: ended early on request; failed: an error ended it. */
export type RunState = (typeof RUN_STATES)[number];

/** A run's lifecycle. `iteration`: iterations done when the state was entered; `reason`: why it failed (or stopped). */
export const RunEventSchema = z.object({
  type: z.literal('run'),
  run: z.string(),
  state: z.enum(RUN_STATES),
  iteration: Num,
  /** The run's target number of iterations. */
  iterations: Num,
  reason: z.string().optional(),
});

export const EngineEventSchema = z.discriminatedUnion('type', [
  ProgressEventSchema,
  LogEventSchema,
  MetricsEventSchema,
  ProfileEventSchema,
  SamplesEventSchema,
  LevelsEventSchema,
  RunEventSchema,
]);

export type ProgressEvent = z.infer<typeof ProgressEventSchema>;
export type LogEvent = z.infer<typeof LogEventSchema>;
export type MetricsEvent = z.infer<typeof MetricsEventSchema>;
export type ProfileEvent = z.infer<typeof ProfileEventSchema>;
export type SamplesEvent = z.infer<typeof SamplesEventSchema>;
export type LevelsEvent = z.infer<typeof LevelsEventSchema>;
export type RunEvent = z.infer<typeof RunEventSchema>;
export type EngineEvent = z.infer<typeof EngineEventSchema>;

/** Runtime schema of every engine event: anything that crossed a process boundary is unknown until this says so. */
export function isEngineEvent(v: unknown): v is EngineEvent {
  return EngineEventSchema.safeParse(v).success;
}

/** Whether a run in this state is over (nothing is training it). */
export function isTerminal(state: RunState): boolean {
  return state !== 'started';
}
