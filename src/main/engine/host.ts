// The engine behind the protocol: one EngineHost per UI connection's engine process. It narrows
// every incoming message (shared/protocol.ts), runs the request, and sends exactly one response
// per request; training runs in the background and streams its events. Transport-agnostic: the
// worker entry wires it to a MessagePort (Electron), child-process IPC or a WebSocket relay.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { measureSpeed, runCost } from './apps/estimate';
import { dirname, join, resolve } from 'node:path';
import { GridError, parseAxes, runGrid, type GridConfig } from './grid';
import { xyCaption, xyHtml, xyLayout } from './grid/xy';
import { writeFileAtomic } from './io/atomic';
import { DEFAULT_SAMPLER_SETTINGS } from '../../shared/sampler-settings';
import {
  parseRequest,
  PROTOCOL_VERSION,
  type Method,
  type Methods,
  type ModelReport,
  type ModelSummary,
  type PolicyExportResult,
  type RunSummary,
  type ServerMessage,
} from '../../shared/protocol';
import { VERSION } from '../../shared/version';
import type { EngineEvent, RunEvent } from '../../shared/events';
import type { RemoteTarget } from '../../shared/redis-url';
import { DEFAULT_SCHEDULER_CONFIG, parseSchedulerConfig, type SchedulerConfig } from '../../shared/scheduler-config';
import { isSchedulerRun, readLevels, readSchedulerRun } from './scheduler/run-file';
import { DEFAULT_DRIFT_CONFIG, parseDriftConfig, type DriftConfig } from '../../shared/drift-config';
import { isDriftRun, readDriftRun } from './drift/run-file';
import { bundledModels, describeModel, resolveModelDir, type ModelEntry } from './models/registry';
import { Model, ModelCache } from './models/model';
import { ModelError } from './models/manifest';
import { dataKindOf, LEARNER_FIELDS, learnerConfigFrom, type LearnerConfig } from '../../shared/learner-config';

import { runTraining } from './apps/train';
import { checkNewRunDirUnlocked } from './runs/lock';
import {
  readMetrics,
  readRunConfig,
  RunRefusedError,
  runModelDir,
  runPaths,
  uniqueRunDir,
  writeRunStatus,
} from './runs/files';
import {
  checkAnyRun,
  folderState,
  listEvaluations,
  listRuns,
  readEvaluation,
  restoreRun,
  runSummary,
  trashRun,
} from './runs/list';
import { loadRun } from './runs/load';
import { exportedFiles, exportPolicy, ExportError } from './learner/export';
import { checkRunPolicy } from './learner/onnx-policy';
import { startFromGrid } from './learner/config';
import { comparePolicy, type Comparison, type CompareProgress } from './apps/compare';
import { tfInitResult } from './learner/backend';
import { generate, resolveSettings } from './samplers/generate';
import { samplePng } from './pictures';
import { SamplingCancelled } from './samplers/loop';

/** A learner setting as the Tune form names it ("Initial action"). */
const fieldLabel = (k: string): string => (LEARNER_FIELDS as Record<string, { label?: string }>)[k]?.label ?? k;

function summary(e: ModelEntry): ModelSummary {
  const m = e.manifest;
  return {
    id: e.id,
    dir: e.dir,
    bundled: e.bundled,
    name: m?.name ?? null,
    description: m?.description ?? '',
    shape: m?.shape ?? [],
    numClasses: m?.numClasses ?? 0,
    classNames: m?.classNames ?? null,
    error: e.error,
  };
}

interface Job {
  abort: AbortController;
  done: Promise<void>;
  /** Stopped to continue later to the same target (`paused`), rather than ended (`stopped`). */
  pause: boolean;
}

export class EngineHost {
  private readonly jobs = new Map<string, Job>();
  /** Grid folders being computed for an X/Y plot (one computation per folder). */
  private readonly grids = new Set<string>();
  private readonly models = new ModelCache();
  /** Comparison rows that do not depend on the policy, across eval.policy calls ([Note: rows kept between comparisons]). */
  private readonly compareCache = new Map<string, unknown>();
  /** Network passes per second per model and batch (train.estimate). */
  private readonly speeds = new Map<string, number>();
  private onnxBackend: string | null = null;

  constructor(private readonly send: (m: ServerMessage) => void) {}

  /** Handles one incoming message; never throws, always answers a request exactly once. */
  async handle(raw: unknown): Promise<void> {
    const parsed = parseRequest(raw);
    if (!parsed.ok) return this.send(parsed.reply);
    const req = parsed.request;
    try {
      const handler = this.handlers[req.method] as (p: unknown) => Promise<unknown>;
      const result = await handler(req.params);
      this.send({ kind: 'response', id: req.id, ok: true, result } as ServerMessage);
    } catch (e) {
      const code = e instanceof ExportError && e.code === 'exists' ? 'exists' : 'failed';
      this.send({
        kind: 'response',
        id: req.id,
        ok: false,
        error: { code, message: e instanceof Error ? e.message : String(e) },
      });
    }
  }

  /** One handler per protocol method, its params already checked against the method's schema. */
  private readonly handlers: {
    [M in Method]: (p: Methods[M]['params']) => Promise<Methods[M]['result']> | Methods[M]['result'];
  } = {
    'engine.info': () => ({
      version: VERSION,
      protocol: PROTOCOL_VERSION,
      node: process.versions.node,
      onnxBackend: this.onnxBackend,
      tfBackend: tfInitResult()?.backend ?? null,
    }),
    'models.list': () => bundledModels().map(summary),
    'models.open': (p) => this.openModel(p.dir),
    'models.preview': (p) => this.preview(resolveModelDir(p.dir)),
    'train.start': async (p) => {
      let note: string | null = null;
      // Filled in from the defaults of the model's data kind once it is open ([Note: image defaults]),
      // then started from a grid's best when asked (as `train --init-from-grid`).
      const configFor = (m: Model): LearnerConfig => {
        const c = learnerConfigFrom(p.config, undefined, dataKindOf(m.shape));
        if (p.initFromGrid === undefined) return c;
        try {
          const r = startFromGrid(c, p.config, resolve(p.initFromGrid), fieldLabel);
          note = r.note;
          return r.config;
        } catch (e) {
          throw e instanceof RangeError
            ? new RangeError(`Start from a grid result ${p.initFromGrid}: ${e.message}`)
            : e;
        }
      };
      const runDir = p.unique === true ? uniqueRunDir(resolve(p.runDir), (d) => this.jobs.has(d)) : resolve(p.runDir);
      const { run } = await this.startTraining(p.model, runDir, configFor, false, undefined, false, p.workers);
      return { run, notes: note === null ? [] : [note] };
    },
    'scheduler.start': (p) => {
      const config = parseSchedulerConfig({ ...DEFAULT_SCHEDULER_CONFIG, ...p.config });
      const runDir = p.unique === true ? uniqueRunDir(resolve(p.runDir), (d) => this.jobs.has(d)) : resolve(p.runDir);
      return this.startScheduler(p.model, runDir, config, false);
    },
    'drift.start': (p) => {
      const config = parseDriftConfig({ ...DEFAULT_DRIFT_CONFIG, ...p.config });
      const runDir = p.unique === true ? uniqueRunDir(resolve(p.runDir), (d) => this.jobs.has(d)) : resolve(p.runDir);
      return this.startDrift(p.model, runDir, config, false);
    },
    'train.estimate': async (p) => {
      const model = await this.models.get(resolveModelDir(p.model));
      const config = learnerConfigFrom(p.config, undefined, dataKindOf(model.shape));
      const cost = runCost(config, model.numClasses > 0);
      // Measured once per model and batch in this engine (a second or so).
      const key = `${model.dir} ${config.rolloutBatch}`;
      let speed = this.speeds.get(key);
      if (speed === undefined) {
        speed = await measureSpeed(model, config.rolloutBatch);
        this.speeds.set(key, speed);
      }
      return { ...cost, passesPerSecond: speed, denoiserSeconds: cost.totalPasses / speed };
    },
    'train.resume': (p) => {
      const run = resolve(p.run);
      if (p.workers !== undefined && (isSchedulerRun(run) || isDriftRun(run)))
        throw new RangeError(
          `${run} is a ${isSchedulerRun(run) ? 'step scheduler' : 'drift policy'} run: rollouts on workers are for the inverse-RL learner's runs; resume it without workers`,
        );
      if (isSchedulerRun(run)) {
        const s = readSchedulerRun(run);
        return this.startScheduler(s.model.dir, run, s.config, true, p.iterations);
      }
      if (isDriftRun(run)) {
        const d = readDriftRun(run);
        return this.startDrift(d.model.dir, run, d.config, true, p.iterations);
      }
      const cfg = readRunConfig(run);
      return this.startTraining(cfg.model.dir, run, cfg.learner, true, p.iterations, p.restart === true, p.workers);
    },
    'train.stop': async (p) => {
      const job = this.jobs.get(resolve(p.run));
      if (!job) return { stopped: false };
      job.pause = p.pause === true;
      job.abort.abort();
      await job.done;
      return { stopped: true };
    },
    'workers.status': async (p) => {
      // Loaded when asked (BullMQ and the Redis client): an engine that never sees workers never loads them.
      const { queueStatus } = await import('./distributed/status');
      return { ...(await queueStatus(p.redis)), at: Date.now() };
    },
    'runs.list': (p) => this.listRuns(resolve(p.root)),
    'runs.metrics': (p) => {
      const run = resolve(p.run);
      const iterations = isSchedulerRun(run)
        ? readSchedulerRun(run).config.iterations
        : isDriftRun(run)
          ? readDriftRun(run).config.iterations
          : readRunConfig(run).learner.iterations;
      return { run, iterations, metrics: readMetrics(run) };
    },
    'grid.xy': async (p) => {
      const out = resolve(p.out);
      if (this.grids.has(out)) throw new RangeError(`${out} is already being computed`);
      const model = await this.models.get(resolveModelDir(p.model));
      const axes = parseAxes(p.axes); // GridError (a RangeError) names a bad axis
      const config: GridConfig = {
        model: { name: model.name, dir: model.dir },
        base: {
          ...DEFAULT_SAMPLER_SETTINGS,
          ...(p.sampler ? { sampler: p.sampler } : {}),
          ...(p.steps ? { steps: p.steps } : {}),
          ...(p.schedule ? { schedule: p.schedule } : {}),
        },
        axes,
        n: p.n ?? 500,
        seed: p.seed ?? 0,
        classes: 'random',
        metrics: ['fid'],
        metric: 'fid',
      };
      this.grids.add(out);
      let last = 0;
      try {
        const { results } = await runGrid({
          model,
          config,
          outDir: out,
          pictures: true,
          onProgress: (g) => {
            const now = performance.now();
            if (g.samplesDone > 0 && now - last < 250) return;
            last = now;
            this.send({
              kind: 'event',
              event: {
                type: 'progress',
                run: out,
                task: 'grid',
                done: g.cellsDone,
                total: g.cells,
                unit: 'cells',
                elapsedSeconds: g.elapsedSeconds,
                etaSeconds: g.etaSeconds,
                ...(g.cell !== null
                  ? { phase: { label: `cell ${g.cell + 1}`, done: g.samplesDone, total: g.n, unit: 'samples' } }
                  : {}),
              },
            });
          },
        }).catch((e: unknown) => {
          if (e instanceof GridError && e.kind === 'mismatch')
            throw new RangeError(`${e.message}; choose another folder for this plot`);
          throw e;
        });
        const html = xyHtml(results);
        await writeFileAtomic(join(out, 'xy.html'), html);
        const l = xyLayout(results);
        return {
          out,
          model: model.name,
          n: config.n,
          seed: config.seed,
          metric: l.metric,
          x: l.x,
          y: l.y,
          cells: l.cells.map((row) =>
            row.map((c) =>
              c
                ? {
                    index: c.index,
                    caption: xyCaption(c, l.metric),
                    best: c.index === l.best,
                    pngBase64: c.picture ? readFileSync(join(out, c.picture)).toString('base64') : null,
                  }
                : null,
            ),
          ),
          html: join(out, 'xy.html'),
        };
      } finally {
        this.grids.delete(out);
      }
    },
    'eval.policy': async (p) => {
      const run = resolve(p.run);
      if (isSchedulerRun(run)) return this.compareScheduler(run, p);
      if (isDriftRun(run)) return this.compareDrift(run, p);
      if (p.schedules !== undefined)
        throw new RangeError('schedule files are compared with a step scheduler run; this run is a learner run');
      const cfg = readRunConfig(run);
      const model = await this.models.get(cfg.model.dir);
      const cmp = await comparePolicy(model, run, {
        cache: this.compareCache,
        onProgress: this.compareProgress(run),
        n: p.n ?? 4000,
        seed: p.seed ?? 1_000_003,
        temperature: p.temperature,
        metrics: ['fid', 'kid', 'precision', 'recall'],
        gridResult: p.gridResult,
        // Renoise policies have their equal-NFE baselines instead of a constant.
        bestConstant: p.bestConstant === true && cfg.learner.intervention !== 'renoise',
        pictures: true,
        perClass: p.perClass === true,
      });
      const { actionByClass, ...result } = cmp;
      return p.perClass === true ? { ...result, actionByClass } : result;
    },
    'reward.trajectory': async (p) => {
      const run = resolve(p.run);
      if (isSchedulerRun(run)) throw new RangeError(`${run} is a step scheduler run; it was not trained for rewards`);
      if (isDriftRun(run))
        throw new RangeError(
          `${run} is a drift policy run: the reward along the trajectory is for learner runs; compare it with its base sampler (eval.policy) instead`,
        );
      const cfg = readRunConfig(run);
      if (cfg.learner.objective !== 'reward')
        throw new RangeError(
          `${run} was trained to match the data (objective occupancy), not for rewards: the reward along the trajectory needs a run trained with --objective reward`,
        );
      const model = await this.models.get(cfg.model.dir);
      const { analyzePolicyReward, rewardTrajectorySvg } = await import('./apps/analyze-reward');
      const { openRewards } = await import('./rewards');
      const { parseRewardSpec } = await import('../../shared/reward-spec');
      const rewards = await openRewards(
        model,
        cfg.learner.rewards.map((r) => parseRewardSpec(r)),
      );
      const learner = await loadRun(run, model);
      try {
        const n = p.n ?? 256;
        const seed = p.seed ?? 0;
        const t = await analyzePolicyReward(model, rewards, learner, { n, seed, batch: cfg.learner.rolloutBatch });
        const fin = (v: number): number | null => (Number.isFinite(v) ? v : null);
        const steps = (tr: typeof t.policy) =>
          tr.steps.map((st) => ({
            step: st.step,
            sigma: fin(st.sigma),
            noisy: { mean: fin(st.noisy.mean), p10: fin(st.noisy.p10), p90: fin(st.noisy.p90) },
            denoised: { mean: fin(st.denoised.mean), p10: fin(st.denoised.p10), p90: fin(st.denoised.p90) },
          }));
        return {
          rewards: t.policy.rewards,
          n,
          seed,
          policy: steps(t.policy),
          base: steps(t.base),
          svg: rewardTrajectorySvg(t.policy, t.base),
        };
      } finally {
        await learner.dispose();
        await rewards.dispose();
      }
    },
    'runs.open': (p) => {
      const run = resolve(p.run);
      const metrics = readMetrics(run);
      const evaluations = listEvaluations(run);
      const latest = evaluations.length > 0 ? readEvaluation(run, evaluations[evaluations.length - 1]!) : null;
      return {
        summary: runSummary(run, metrics, this.jobs.has(run)),
        metrics,
        evaluations,
        profile: latest?.profile ?? null,
        levels: isSchedulerRun(run) ? readLevels(run) : null,
      };
    },
    'runs.evaluation': (p) => {
      const run = resolve(p.run);
      checkAnyRun(run); // a clear error unless it is a run
      return readEvaluation(run, p.iteration);
    },
    'runs.delete': (p) => this.trashRun(resolve(p.run)),
    'runs.restore': (p) => restoreRun(resolve(p.trashed), resolve(p.run)),
    'runs.folder': (p) => ({ root: resolve(p.root), state: folderState(resolve(p.root)) }),
    'policy.files': (p) => {
      const f = exportedFiles(p.path);
      return {
        name: f.name,
        onnxBase64: f.onnx.toString('base64'),
        sidecarName: f.sidecarName,
        sidecar: f.sidecar,
        schedule: f.schedule,
      };
    },
    'policy.export': async (p) => {
      const run = resolve(p.run);
      if (isSchedulerRun(run)) return this.exportScheduler(run, resolve(p.out), p.force === true);
      if (isDriftRun(run)) return this.exportDrift(run, resolve(p.out), p.force === true);
      const model = await this.models.get(runModelDir(run));
      const learner = await loadRun(run, model);
      try {
        await checkRunPolicy(learner, run); // a diverged policy is refused as such, before export's own check
        return await exportPolicy(learner, { out: resolve(p.out), force: p.force === true, runDir: run });
      } finally {
        await learner.dispose();
      }
    },
  };

  private readonly previews = new Map<string, Promise<{ pngBase64: string; source: 'file' | 'sampled' }>>();

  /** preview.png in the model directory, else 64 images (or 2,000 points) sampled once and kept. */
  private preview(dir: string): Promise<{ pngBase64: string; source: 'file' | 'sampled' }> {
    const file = join(dir, 'preview.png');
    if (existsSync(file)) return Promise.resolve({ pngBase64: readFileSync(file).toString('base64'), source: 'file' });
    let p = this.previews.get(dir);
    if (!p) {
      p = (async () => {
        const model = await this.models.get(dir);
        const n = model.shape.length === 3 ? 64 : 2000;
        const gen = await generate(model, resolveSettings(model, {}), { n, batch: 1024, seed: 0 });
        return {
          pngBase64: Buffer.from(await samplePng(model, gen.samples, gen.labels, n)).toString('base64'),
          source: 'sampled' as const,
        };
      })();
      p.catch(() => this.previews.delete(dir)); // a broken model: try again next time
      this.previews.set(dir, p);
    }
    return p;
  }

  private async openModel(dir: string): Promise<ModelReport> {
    let resolved: string;
    try {
      resolved = resolveModelDir(dir);
    } catch (e) {
      return {
        summary: summary(describeModel(dir, false)),
        ok: false,
        problem: { message: (e as Error).message, file: null, key: null },
        facts: null,
      };
    }
    const bundled = bundledModels().some((m) => resolve(m.dir) === resolve(resolved));
    const s = summary(describeModel(resolved, bundled));
    try {
      const model = await this.models.get(resolved);
      this.onnxBackend = model.backend;
      const m = model.manifest;
      return {
        summary: s,
        ok: true,
        problem: null,
        facts: {
          name: m.name,
          output: m.output,
          shape: m.shape.join('×'),
          classes: m.numClasses,
          nullClass: m.nullClass,
          sigmaMin: m.sigmaMin,
          sigmaMax: m.sigmaMax,
          sigmaData: m.sigmaData,
          data: m.data,
          features: m.features?.onnx ?? null,
          encoder: m.encoder?.onnx ?? null,
          backend: model.backend,
        },
      };
    } catch (e) {
      const err = e as Error;
      return {
        summary: s,
        ok: false,
        problem: {
          message: err.message,
          file: e instanceof ModelError ? e.file : null,
          key: e instanceof ModelError ? e.key : null,
        },
        facts: null,
      };
    }
  }

  private startTraining(
    modelRef: string,
    runDir: string,
    configFor: LearnerConfig | ((model: Model) => LearnerConfig),
    resume: boolean,
    iterations?: number,
    restart = false,
    /** Roll out on workers through this Redis (train.start's `workers`); in this process when absent. */
    workers?: RemoteTarget,
  ): Promise<{ run: string }> {
    return this.startJob(
      runDir,
      resume,
      async () => {
        if (!resume) checkNewRunDirUnlocked(runDir); // (again under the run's lock in runTraining)
        const model = await this.models.get(resolveModelDir(modelRef));
        const config = typeof configFor === 'function' ? configFor(model) : configFor;
        return { model, target: iterations ?? config.iterations, config };
      },
      async ({ model, config }, h) => {
        const { learner } = await runTraining({
          model,
          config,
          runDir,
          resume,
          restart,
          iterations,
          signal: h.signal,
          command: `Sampler Studio engine, ${resume ? 'train.resume' : 'train.start'}`,
          onEvent: h.onEvent, // every training event names its run (apps/train.ts)
          onStart: h.onStart,
          ...(workers ? { redis: workers } : {}),
        });
        const reached = learner.iteration;
        await learner.dispose();
        return reached;
      },
    );
  }

  /** An RL step scheduler run (scheduler/train.ts): its learned step sizes as levels events besides. */
  private startScheduler(
    modelRef: string,
    runDir: string,
    config: SchedulerConfig,
    resume: boolean,
    iterations?: number,
  ): Promise<{ run: string }> {
    return this.startOwnKind(
      'scheduler.start',
      modelRef,
      runDir,
      config.iterations,
      resume,
      iterations,
      async (model, h, common) => {
        const { trainScheduler } = await import('./scheduler/train');
        return trainScheduler(model, config, runDir, {
          ...common,
          onLevels: (l) => h.onEvent({ type: 'levels', run: runDir, ...l }),
        });
      },
    );
  }

  /**
   * A drift policy run (drift/train.ts): at each evaluation a samples event with the evaluation's
   * picture besides, also written to RUN/samples/iter-NNNNN.png (where the Train screen's slider and
   * runs.evaluation read a learner run's).
   */
  private startDrift(
    modelRef: string,
    runDir: string,
    config: DriftConfig,
    resume: boolean,
    iterations?: number,
  ): Promise<{ run: string }> {
    return this.startOwnKind(
      'drift.start',
      modelRef,
      runDir,
      config.iterations,
      resume,
      iterations,
      async (model, h, common) => {
        const { trainDrift } = await import('./drift/train');
        return trainDrift(model, config, runDir, {
          ...common,
          onEvaluation: async (e) => {
            const png = await samplePng(model, e.samples, e.labels, e.n);
            const path = runPaths(runDir).samplesAt(e.iteration);
            mkdirSync(dirname(path), { recursive: true });
            await writeFileAtomic(path, png);
            h.onEvent({
              type: 'samples',
              run: runDir,
              iteration: e.iteration,
              path,
              pngBase64: Buffer.from(png).toString('base64'),
            });
          },
        });
      },
    );
  }

  /**
   * A run of its own kind (the step scheduler's, a drift policy's), started or resumed like a learner
   * run: one job, its lifecycle, progress by phase and a metrics event per iteration; `train` calls
   * the kind's trainer with `common` and adds what the kind reports besides.
   */
  private startOwnKind(
    method: 'scheduler.start' | 'drift.start',
    modelRef: string,
    runDir: string,
    configIterations: number,
    resume: boolean,
    iterations: number | undefined,
    train: (
      model: Model,
      h: { onEvent: (e: EngineEvent) => void },
      common: {
        resume: boolean;
        iterations: number | undefined;
        signal: AbortSignal;
        command: string;
        onProgress: (p: { iteration: number; phase: string; done: number; total: number }) => void;
        onIteration: (e: { iteration: number; metrics: Record<string, number> }) => void;
      },
    ) => Promise<{ iteration: number }>,
  ): Promise<{ run: string }> {
    const target = iterations ?? configIterations;
    return this.startJob(
      runDir,
      resume,
      async () => {
        if (!resume) checkNewRunDirUnlocked(runDir);
        const model = await this.models.get(resolveModelDir(modelRef));
        return { model, target };
      },
      async ({ model }, h) => {
        const t0 = performance.now();
        let from: number | null = null;
        const r = await train(model, h, {
          resume,
          iterations,
          signal: h.signal,
          command: `Sampler Studio engine, ${resume ? 'train.resume' : method}`,
          onProgress: (p) => {
            if (from === null) {
              from = p.iteration - 1;
              h.onStart({ iteration: from, iterations: target });
            }
            const elapsed = (performance.now() - t0) / 1000;
            const did = p.iteration - 1 - from;
            h.onEvent({
              type: 'progress',
              run: runDir,
              task: 'train',
              done: p.iteration - 1,
              total: target,
              unit: 'iterations',
              elapsedSeconds: elapsed,
              etaSeconds: did > 0 ? (elapsed / did) * (target - p.iteration + 1) : null,
              phase: { iteration: p.iteration, label: p.phase, done: p.done, total: p.total, unit: 'samples' },
            });
          },
          onIteration: (e) => h.onEvent({ type: 'metrics', run: runDir, iteration: e.iteration, metrics: e.metrics }),
        });
        if (from === null) h.onStart({ iteration: r.iteration, iterations: target }); // (nothing was left to do)
        return r.iteration;
      },
    );
  }

  /**
   * A training job of either kind: reserved, prepared (model and settings checked), then run in the
   * background with its lifecycle as run events (and status.json); answers once it has begun (its
   * `onStart`) or failed.
   */
  private async startJob<P extends { model: Model; target: number }>(
    runDir: string,
    resume: boolean,
    prepare: () => Promise<P>,
    train: (
      prepared: P,
      h: {
        signal: AbortSignal;
        onEvent: (e: EngineEvent) => void;
        onStart: (s: { iteration: number; iterations: number }) => void;
      },
    ) => Promise<number>,
  ): Promise<{ run: string }> {
    // Checked and reserved with no await in between, so two requests for one run (a double click)
    // cannot both pass; another process training it is kept out by the run's lock (runs/lock.ts).
    if (this.jobs.has(runDir)) throw new RangeError(`${runDir} is already training`);
    const abort = new AbortController();
    const job: Job = { abort, done: Promise.resolve(), pause: false };
    this.jobs.set(runDir, job);
    let prepared: P;
    try {
      prepared = await prepare();
    } catch (e) {
      this.jobs.delete(runDir);
      throw e;
    }
    this.onnxBackend = prepared.model.backend;
    // Start, and answer once the run directory exists (config checked, learner built) or it failed.
    let started!: () => void;
    let failed!: (e: unknown) => void;
    const ready = new Promise<void>((res, rej) => {
      started = res;
      failed = rej;
    });
    let target = prepared.target;
    // Iterations done: a resumed run's last metrics line until the trainer says (a run that fails
    // before its first new iteration is reported where it stood).
    let iteration = 0;
    if (resume) {
      try {
        iteration = readMetrics(runDir).at(-1)?.['iteration'] ?? 0;
      } catch {
        // a damaged metrics file: training will say what is wrong with it
      }
    }
    const lifecycle = (state: RunEvent['state'], reason?: string): void => {
      const status = { state, iteration, iterations: target, ...(reason !== undefined ? { reason } : {}) };
      this.send({ kind: 'event', event: { type: 'run', run: runDir, ...status } });
      // Kept in the run, so the Runs list knows it after the app is gone; only once it has begun
      // training here: a start refused, or a run whose files cannot be read, is left as it was.
      if (began)
        try {
          writeRunStatus(runDir, { ...status, at: new Date().toISOString() });
        } catch {
          // a folder that cannot be written: the event still says it
        }
    };
    let began = false;
    job.done = (async () => {
      try {
        iteration = await train(prepared, {
          signal: abort.signal,
          onEvent: (event) => {
            started();
            if (event.type === 'metrics') iteration = event.iteration;
            this.send({ kind: 'event', event });
          },
          onStart: (s) => {
            began = true;
            iteration = s.iteration;
            target = s.iterations;
            lifecycle('started');
            started();
          },
        });
        started();
        lifecycle(!abort.signal.aborted ? 'finished' : job.pause ? 'paused' : 'stopped');
      } catch (e) {
        failed(e);
        // A stop that lands inside an iteration cancels it: the run keeps its last checkpoint.
        if (e instanceof SamplingCancelled && abort.signal.aborted) lifecycle(job.pause ? 'paused' : 'stopped');
        // Refused (another process trains it, or the folder holds another run): its state is not ours to report.
        else if (!(e instanceof RunRefusedError)) lifecycle('failed', (e as Error).message);
      } finally {
        if (this.jobs.get(runDir) === job) this.jobs.delete(runDir);
      }
    })();
    await ready;
    return { run: runDir };
  }

  /** eval.policy of a scheduler run: the policy, its mean schedule, the presets at its budget and the given files (apps/compare-schedules.ts). */
  private async compareScheduler(run: string, p: Methods['eval.policy']['params']): Promise<Comparison> {
    const unused = (['gridResult', 'bestConstant', 'perClass', 'temperature'] as const).filter(
      (k) => p[k] !== undefined && p[k] !== false,
    );
    if (unused.length > 0)
      throw new RangeError(
        `${unused.join(', ')}: not for a step scheduler run (it is compared with the preset schedules at its NFE budget, and the schedule files given)`,
      );
    const model = await this.models.get(readSchedulerRun(run).model.dir);
    const { compareScheduler } = await import('./apps/compare-schedules');
    return compareScheduler(model, run, {
      n: p.n ?? 4000,
      seed: p.seed ?? 1_000_003,
      metrics: ['fid', 'kid', 'precision', 'recall'],
      pictures: true,
      schedules: (p.schedules ?? []).map((f) => resolve(f)),
      onProgress: this.compareProgress(run),
    });
  }

  /** eval.policy of a drift run: the policy and its base sampler on the same seeds (apps/compare-drift.ts). */
  private async compareDrift(run: string, p: Methods['eval.policy']['params']): Promise<Comparison> {
    const unused = (['gridResult', 'bestConstant', 'perClass', 'temperature', 'schedules'] as const).filter(
      (k) => p[k] !== undefined && p[k] !== false,
    );
    if (unused.length > 0)
      throw new RangeError(
        `${unused.join(', ')}: not for a drift policy run (it is compared with its base sampler on the same seeds)`,
      );
    const model = await this.models.get(readDriftRun(run).model.dir);
    const { compareDrift } = await import('./apps/compare-drift');
    return compareDrift(model, run, {
      n: p.n ?? 4000,
      seed: p.seed ?? 1_000_003,
      pictures: true,
      onProgress: this.compareProgress(run),
    });
  }

  /** A comparison's progress as progress events of the run (at most four a second, each row's start always). */
  private compareProgress(run: string): (p: CompareProgress) => void {
    const t0 = performance.now();
    let last = 0;
    return (p) => {
      const now = performance.now();
      if (p.step.done > 0 && now - last < 250) return;
      last = now;
      this.send({
        kind: 'event',
        event: {
          type: 'progress',
          run,
          task: 'compare',
          done: p.done,
          total: p.total,
          unit: 'rows',
          elapsedSeconds: (now - t0) / 1000,
          etaSeconds: null,
          phase: { label: p.label, ...p.step },
        },
      });
    };
  }

  /** policy.export of a scheduler run: its ONNX file, sidecar and mean schedule (scheduler/export.ts). */
  private async exportScheduler(run: string, out: string, force: boolean): Promise<PolicyExportResult> {
    if (this.jobs.has(run)) throw new RangeError(`${run} is training; export it once it stops (or pause it)`);
    const model = await this.models.get(readSchedulerRun(run).model.dir);
    const { loadSchedulerPolicy } = await import('./scheduler/train');
    const { exportScheduler } = await import('./scheduler/export');
    const t0 = performance.now();
    const policy = await loadSchedulerPolicy(model, run);
    try {
      const r = await exportScheduler(policy, run, policy.iteration!, { out, force });
      return { ...r, seconds: (performance.now() - t0) / 1000 };
    } finally {
      await policy.dispose();
    }
  }

  /** policy.export of a drift run: its ONNX file (x, σ → drift) and sidecar (drift/export.ts), as `export --run` writes them. */
  private async exportDrift(run: string, out: string, force: boolean): Promise<PolicyExportResult> {
    if (this.jobs.has(run)) throw new RangeError(`${run} is training; export it once it stops (or pause it)`);
    const model = await this.models.get(readDriftRun(run).model.dir);
    const { loadDriftPolicy } = await import('./drift/train');
    const { exportDrift } = await import('./drift/export');
    const t0 = performance.now();
    const { policy, iteration } = await loadDriftPolicy(model, run);
    try {
      const r = await exportDrift(policy, run, iteration, { out, force });
      return { ...r, seconds: (performance.now() - t0) / 1000 };
    } finally {
      policy.dispose();
    }
  }

  private listRuns(root: string): RunSummary[] {
    return listRuns(root, (dir) => this.jobs.has(dir));
  }

  /** Moves a run into `.trash/` beside it (a rename: nothing is lost, the user can move it back). */
  private trashRun(run: string): { trashed: string } {
    return trashRun(run, this.jobs.has(run));
  }

  /** Stops every training (each keeps its last checkpoint) and closes the models. */
  async dispose(): Promise<void> {
    for (const j of this.jobs.values()) j.abort.abort();
    await Promise.allSettled([...this.jobs.values()].map((j) => j.done));
    await this.models.dispose();
  }
}
