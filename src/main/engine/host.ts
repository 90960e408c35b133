// The engine behind the protocol: one EngineHost per UI connection's engine process. It narrows
// every incoming message (shared/protocol.ts), runs the request, and sends exactly one response
// per request; training runs in the background and streams its events. Transport-agnostic: the
// worker entry wires it to a MessagePort (Electron), child-process IPC or a WebSocket relay.

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseRequest, PROTOCOL_VERSION, type Method, type Methods, type ModelReport, type ModelSummary, type Request, type RunSummary, type ServerMessage } from '../../shared/protocol';
import { VERSION } from '../../shared/version';
import type { RunEvent } from '../../shared/events';
import { bundledModels, describeModel, resolveModelDir, type ModelEntry } from './models/registry';
import { Model, ModelCache } from './models/model';
import { ModelError } from './models/manifest';
import { defaultConfig, INTERVENTIONS, type Intervention, type LearnerConfig } from './learner/config';
import { runTraining } from './apps/train';
import { readMetrics, readRunConfig, runModelDir } from './runs/files';
import { listRuns, trashRun } from './runs/list';
import { loadRun } from './runs/load';
import { exportPolicy, ExportError } from './learner/export';
import { comparePolicy } from './apps/compare';
import { tfInitResult } from './learner/backend';
import { generate, resolveSettings } from './samplers/generate';
import { samplePng } from './io/plots';

function summary(e: ModelEntry): ModelSummary {
  const m = e.manifest;
  return { id: e.id, dir: e.dir, bundled: e.bundled, name: m?.name ?? null, description: m?.description ?? '', shape: m?.shape ?? [], numClasses: m?.numClasses ?? 0, error: e.error };
}

/** Learner settings from the UI: only known fields, on top of the intervention's defaults. */
export function configFromParams(raw: Record<string, unknown>): LearnerConfig {
  const intervention = (raw['intervention'] ?? 'cfg') as Intervention;
  if (!INTERVENTIONS.includes(intervention)) throw new RangeError(`intervention must be one of ${INTERVENTIONS.join(', ')}, got ${JSON.stringify(raw['intervention'])}`);
  const c = defaultConfig(intervention);
  for (const [k, v] of Object.entries(raw)) {
    if (!(k in c)) throw new RangeError(`unknown learner setting "${k}"`);
    const want = typeof (c as unknown as Record<string, unknown>)[k];
    const ok = k === 'actions' ? Array.isArray(v) && v.every((x) => typeof x === 'number') : k === 'nfeBudget' ? typeof v === 'number' || v === 'inf' : typeof v === want;
    if (!ok) throw new RangeError(`learner setting "${k}" must be ${k === 'actions' ? 'a list of numbers' : `a ${want}`}, got ${JSON.stringify(v)}`);
    (c as unknown as Record<string, unknown>)[k] = v === 'inf' ? Infinity : v;
  }
  return c;
}

interface Job {
  abort: AbortController;
  done: Promise<void>;
  /** Stopped to continue later to the same target (`paused`), rather than ended (`stopped`). */
  pause: boolean;
}

export class EngineHost {
  private readonly jobs = new Map<string, Job>();
  private readonly models = new ModelCache();
  private onnxBackend: string | null = null;

  constructor(private readonly send: (m: ServerMessage) => void) {}

  /** Handles one incoming message; never throws, always answers a request exactly once. */
  async handle(raw: unknown): Promise<void> {
    const parsed = parseRequest(raw);
    if (!parsed.ok) return this.send(parsed.reply);
    const req = parsed.request;
    try {
      const result = await this.dispatch(req);
      this.send({ kind: 'response', id: req.id, ok: true, result } as ServerMessage);
    } catch (e) {
      const code = e instanceof ExportError && e.code === 'exists' ? 'exists' : 'failed';
      this.send({ kind: 'response', id: req.id, ok: false, error: { code, message: e instanceof Error ? e.message : String(e) } });
    }
  }

  private async dispatch(req: Request): Promise<Methods[Method]['result']> {
    const p = req.params as Record<string, unknown>;
    switch (req.method) {
      case 'engine.info':
        return { version: VERSION, protocol: PROTOCOL_VERSION, node: process.versions.node, onnxBackend: this.onnxBackend, tfBackend: tfInitResult()?.backend ?? null };
      case 'models.list':
        return bundledModels().map(summary);
      case 'models.open':
        return this.openModel(p['dir'] as string);
      case 'models.preview':
        return this.preview(resolveModelDir(p['dir'] as string));
      case 'train.start':
        return this.startTraining(p['model'] as string, resolve(p['runDir'] as string), configFromParams(p['config'] as Record<string, unknown>), false);
      case 'train.resume': {
        const run = resolve(p['run'] as string);
        const cfg = readRunConfig(run);
        return this.startTraining(cfg.model.dir, run, cfg.learner, true, p['iterations'] as number | undefined);
      }
      case 'train.stop': {
        const job = this.jobs.get(resolve(p['run'] as string));
        if (!job) return { stopped: false };
        job.pause = p['pause'] === true;
        job.abort.abort();
        await job.done;
        return { stopped: true };
      }
      case 'runs.list':
        return this.listRuns(resolve(p['root'] as string));
      case 'runs.metrics': {
        const run = resolve(p['run'] as string);
        return { run, iterations: readRunConfig(run).learner.iterations, metrics: readMetrics(run) };
      }
      case 'eval.policy': {
        const run = resolve(p['run'] as string);
        const cfg = readRunConfig(run);
        const model = await this.models.get(cfg.model.dir);
        const cmp = await comparePolicy(model, run, {
          n: (p['n'] as number | undefined) ?? 4000,
          seed: (p['seed'] as number | undefined) ?? 1_000_003,
          temperature: p['temperature'] as number | undefined,
          metrics: ['fid', 'kid', 'precision', 'recall'],
          gridResult: p['gridResult'] as string | undefined,
          // Renoise policies have their equal-NFE baselines instead of a constant.
          bestConstant: p['bestConstant'] === true && cfg.learner.intervention !== 'renoise',
          pictures: true,
        });
        const { actionByClass: _, ...result } = cmp;
        return result; // no --per-class here, so the rows carry no per-class detail
      }
      case 'runs.delete':
        return this.trashRun(resolve(p['run'] as string));
      case 'policy.export': {
        const run = resolve(p['run'] as string);
        const model = await this.models.get(runModelDir(run));
        const learner = await loadRun(run, model);
        try {
          return await exportPolicy(learner, { out: resolve(p['out'] as string), force: p['force'] === true, runDir: run });
        } finally {
          await learner.dispose();
        }
      }
    }
  }

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
        return { pngBase64: Buffer.from(await samplePng(model, gen.samples, gen.labels, n)).toString('base64'), source: 'sampled' as const };
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
      return { summary: summary(describeModel(dir, false)), ok: false, problem: { message: (e as Error).message, file: null, key: null }, facts: null };
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
        facts: { name: m.name, output: m.output, shape: m.shape.join('×'), classes: m.numClasses, nullClass: m.nullClass, sigmaMin: m.sigmaMin, sigmaMax: m.sigmaMax, sigmaData: m.sigmaData, data: m.data, features: m.features?.onnx ?? null, encoder: m.encoder?.onnx ?? null, backend: model.backend },
      };
    } catch (e) {
      const err = e as Error;
      return { summary: s, ok: false, problem: { message: err.message, file: e instanceof ModelError ? e.file : null, key: e instanceof ModelError ? e.key : null }, facts: null };
    }
  }

  private async startTraining(modelRef: string, runDir: string, config: LearnerConfig, resume: boolean, iterations?: number): Promise<{ run: string }> {
    if (this.jobs.has(runDir)) throw new RangeError(`${runDir} is already training`);
    if (!resume && existsSync(join(runDir, 'config.json'))) throw new RangeError(`${runDir} already holds a run; resume it or choose a new directory`);
    const model: Model = await this.models.get(resolveModelDir(modelRef));
    this.onnxBackend = model.backend;
    const abort = new AbortController();
    // Start, and answer once the run directory exists (config checked, learner built) or it failed.
    let started!: () => void;
    let failed!: (e: unknown) => void;
    const ready = new Promise<void>((res, rej) => {
      started = res;
      failed = rej;
    });
    const job: Job = { abort, done: Promise.resolve(), pause: false };
    let target = iterations ?? config.iterations;
    let iteration = 0;
    const lifecycle = (state: RunEvent['state'], reason?: string): void =>
      this.send({ kind: 'event', event: { type: 'run', run: runDir, state, iteration, iterations: target, ...(reason !== undefined ? { reason } : {}) } });
    job.done = (async () => {
      try {
        const { learner } = await runTraining({
          model,
          config,
          runDir,
          resume,
          iterations,
          signal: abort.signal,
          onEvent: (event) => {
            started();
            if (event.type === 'metrics') iteration = event.iteration;
            this.send({ kind: 'event', event: event.type === 'progress' || event.type === 'log' ? { ...event, run: runDir } : event });
          },
          onStart: (s) => {
            iteration = s.iteration;
            target = s.iterations;
            lifecycle('started');
            started();
          },
        });
        iteration = learner.iteration;
        await learner.dispose();
        started();
        lifecycle(!abort.signal.aborted ? 'finished' : job.pause ? 'paused' : 'stopped');
      } catch (e) {
        failed(e);
        lifecycle('failed', (e as Error).message);
      } finally {
        this.jobs.delete(runDir);
      }
    })();
    this.jobs.set(runDir, job);
    await ready;
    return { run: runDir };
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
