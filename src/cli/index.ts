// The Sampler Studio command line: `npm run cli -- <command> [flags]` or `sampler-studio <command>`.
// With --json the final line of stdout is the result object; progress goes to stderr (a bar on a
// TTY, JSON lines otherwise). Ctrl-C stops cleanly: nothing half-written is left behind.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { ModelError } from '../main/engine/models/manifest';
import { Model } from '../main/engine/models/model';
import { bundledModels, resolveModelDir, describeModel } from '../main/engine/models/registry';
import { generate, resolveSettings, type ClassChoice } from '../main/engine/samplers/generate';
import { SamplingCancelled } from '../main/engine/samplers/loop';
import { SAMPLERS, type SamplerName, type SamplerSettings } from '../main/engine/samplers/types';
import { NpyError, readNpy, toFloat32, writeNpy, npyFloat32, npyInt64 } from '../main/engine/io/npy';
import { imageGrid, scatterPlot, writePng, type Image } from '../main/engine/io/png';
import type { EngineEvent } from '../shared/events';
import { VERSION } from '../shared/version';

/** An error the user can fix: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}

const USAGE = `Sampler Studio ${VERSION} — tune diffusion samplers

Usage: sampler-studio <command> [flags]      (npm run cli -- <command> [flags])

Commands:
  models [--model DIR]...            list bundled models (and given directories) with their manifest facts
  sample --model ID|DIR --out F.npy  draw samples
      --sampler euler|heun|edm|ddim|restart (heun)   --steps N (18)
      --sigma-min S --sigma-max S --rho R (7)        model defaults for σ
      --churn S --s-tmin S --s-tmax S --s-noise S    EDM Alg. 2 stochasticity
      --eta E                                        DDIM η
      --restart-tmin T --restart-tmax T --restart-k K --restart-steps N
      --guidance W (1)   --class K|random|none (random)
      --n N (64)   --batch B (256)   --seed S (0)   --init-noise noise.npy
      --grid grid.png   --device auto|cpu|cuda
Global: --json (final stdout line is the result), --help`;

const SAMPLE_OPTIONS = {
  model: { type: 'string' },
  out: { type: 'string' },
  sampler: { type: 'string' },
  steps: { type: 'string' },
  'sigma-min': { type: 'string' },
  'sigma-max': { type: 'string' },
  rho: { type: 'string' },
  churn: { type: 'string' },
  's-tmin': { type: 'string' },
  's-tmax': { type: 'string' },
  's-noise': { type: 'string' },
  eta: { type: 'string' },
  'restart-tmin': { type: 'string' },
  'restart-tmax': { type: 'string' },
  'restart-k': { type: 'string' },
  'restart-steps': { type: 'string' },
  guidance: { type: 'string' },
  class: { type: 'string' },
  n: { type: 'string' },
  batch: { type: 'string' },
  seed: { type: 'string' },
  'init-noise': { type: 'string' },
  grid: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

function num(v: string | undefined, flag: string, opts: { int?: boolean; min?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const x = v === 'inf' || v === 'Infinity' ? Infinity : Number(v);
  if (Number.isNaN(x) || v.trim() === '') throw new UsageError(`--${flag} must be a number, got "${v}"`);
  if (opts.int && !Number.isInteger(x)) throw new UsageError(`--${flag} must be an integer, got "${v}"`);
  if (opts.min !== undefined && x < opts.min) throw new UsageError(`--${flag} must be ≥ ${opts.min}, got ${v}`);
  return x;
}

/** Where output goes: result objects to stdout, events to stderr. */
class Reporter {
  private lastDraw = 0;
  constructor(readonly json: boolean) {}

  event(e: EngineEvent): void {
    if (process.stderr.isTTY && !this.json) {
      if (e.type === 'progress') {
        const now = performance.now();
        if (now - this.lastDraw < 100 && e.done < e.total) return;
        this.lastDraw = now;
        const w = 30;
        const f = e.total > 0 ? e.done / e.total : 0;
        const bar = '█'.repeat(Math.round(f * w)).padEnd(w, '·');
        const eta = e.etaSeconds === null ? '' : ` eta ${e.etaSeconds.toFixed(1)}s`;
        process.stderr.write(`\r${e.task} ${bar} ${(f * 100).toFixed(0).padStart(3)}% ${e.done}/${e.total} ${e.unit} ${e.elapsedSeconds.toFixed(1)}s${eta}  `);
        if (e.done >= e.total) process.stderr.write('\n');
      } else process.stderr.write(`${e.level}: ${e.message}\n`);
    } else {
      process.stderr.write(JSON.stringify(e) + '\n');
    }
  }

  result(obj: Record<string, unknown>, human: string): void {
    if (this.json) process.stdout.write(JSON.stringify(obj) + '\n');
    else process.stdout.write(human + '\n');
  }
}

async function cmdModels(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string', multiple: true }, json: { type: 'boolean' }, help: { type: 'boolean' } }, strict: true });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const entries = [...bundledModels(), ...(values.model ?? []).map((m) => describeModel(resolveModelDir(m), false))];
  const rows = entries.map((e) => ({
    id: e.id,
    dir: e.dir,
    bundled: e.bundled,
    error: e.error,
    ...(e.manifest
      ? {
          name: e.manifest.name,
          description: e.manifest.description,
          output: e.manifest.output,
          shape: e.manifest.shape,
          numClasses: e.manifest.numClasses,
          nullClass: e.manifest.nullClass,
          sigmaMin: e.manifest.sigmaMin,
          sigmaMax: e.manifest.sigmaMax,
          data: e.manifest.data !== null,
          features: e.manifest.features?.dim ?? null,
        }
      : {}),
  }));
  const human = rows
    .map((r) =>
      r.error
        ? `${r.id}  BROKEN: ${r.error}`
        : `${r.id.padEnd(18)} ${String(r.output).padEnd(9)} shape [${(r.shape ?? []).join(',')}]  classes ${r.numClasses}  σ ∈ [${r.sigmaMin}, ${r.sigmaMax}]${r.data ? '  data' : ''}\n${''.padEnd(19)}${r.description}`,
    )
    .join('\n');
  new Reporter(!!values.json).result({ command: 'models', models: rows }, human);
}

async function cmdSample(argv: string[], signal: AbortSignal): Promise<void> {
  const { values: v } = parseArgs({ args: argv, options: SAMPLE_OPTIONS, strict: true });
  const rep = new Reporter(!!v.json);
  if (v.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (!v.model) throw new UsageError('sample needs --model (a bundled id, see `models`, or a model directory)');
  if (!v.out) throw new UsageError('sample needs --out samples.npy');
  if (v.sampler && !SAMPLERS.includes(v.sampler as SamplerName)) throw new UsageError(`--sampler must be one of ${SAMPLERS.join(', ')}, got "${v.sampler}"`);
  for (const [flag, path] of [['out', v.out], ['grid', v.grid]] as const) {
    if (path && existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`--${flag} ${path} is a directory; give a file name`);
  }
  if (v.device && !['auto', 'cpu', 'cuda'].includes(v.device)) throw new UsageError(`--device must be auto, cpu or cuda, got "${v.device}"`);

  const model = await Model.load(resolveModelDir(v.model), { device: (v.device as 'auto' | 'cpu' | 'cuda') ?? 'auto' });
  try {
    const partial: Partial<SamplerSettings> = {};
    const set = <K extends keyof SamplerSettings>(k: K, x: SamplerSettings[K] | undefined): void => {
      if (x !== undefined) partial[k] = x;
    };
    set('sampler', v.sampler as SamplerName | undefined);
    set('steps', num(v.steps, 'steps', { int: true, min: 1 }));
    set('sigmaMin', num(v['sigma-min'], 'sigma-min'));
    set('sigmaMax', num(v['sigma-max'], 'sigma-max'));
    set('rho', num(v.rho, 'rho'));
    set('churn', num(v.churn, 'churn', { min: 0 }));
    set('sTmin', num(v['s-tmin'], 's-tmin'));
    set('sTmax', num(v['s-tmax'], 's-tmax'));
    set('sNoise', num(v['s-noise'], 's-noise'));
    set('eta', num(v.eta, 'eta', { min: 0 }));
    set('guidance', num(v.guidance, 'guidance'));
    const restart = {
      tMin: num(v['restart-tmin'], 'restart-tmin'),
      tMax: num(v['restart-tmax'], 'restart-tmax'),
      k: num(v['restart-k'], 'restart-k', { int: true, min: 0 }),
      steps: num(v['restart-steps'], 'restart-steps', { int: true, min: 1 }),
    };
    const r = Object.fromEntries(Object.entries(restart).filter(([, x]) => x !== undefined));
    if (Object.keys(r).length > 0) partial.restart = r as unknown as SamplerSettings['restart'];
    let settings;
    try {
      settings = resolveSettings(model, partial);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }

    let classes: ClassChoice = 'random';
    if (v.class !== undefined) {
      if (v.class === 'random' || v.class === 'none') classes = v.class;
      else classes = num(v.class, 'class', { int: true, min: 0 })!;
    }

    let initNoise: Float32Array | undefined;
    let n = num(v.n, 'n', { int: true, min: 1 });
    if (v['init-noise']) {
      const arr = await readNpy(v['init-noise']);
      const want = model.shape;
      if (arr.shape.length !== want.length + 1 || want.some((d, i) => arr.shape[i + 1] !== d)) {
        throw new UsageError(`${v['init-noise']}: has shape [${arr.shape.join(', ')}], expected [n, ${want.join(', ')}] (unit-variance noise for ${model.name})`);
      }
      if (n !== undefined && n !== arr.shape[0]) throw new UsageError(`--n ${n} disagrees with ${v['init-noise']}, which holds ${arr.shape[0]} samples; drop --n`);
      n = arr.shape[0]!;
      initNoise = toFloat32(arr);
      const bad = initNoise.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new UsageError(`${v['init-noise']}: holds NaN/Inf (first at sample ${Math.floor(bad / model.dim)}); the starting noise must be finite`);
    }
    n ??= 64;
    const batch = num(v.batch, 'batch', { int: true, min: 1 }) ?? 256;
    const seed = num(v.seed, 'seed', { int: true, min: 0 }) ?? 0;

    const t0 = performance.now();
    const result = await generate(model, settings, {
      n,
      batch,
      seed,
      classes,
      initNoise,
      signal,
      onProgress: (p) => {
        const frac = (p.samplesDone + (p.horizon > 0 ? (p.iteration / p.horizon) * Math.min(batch, n - p.samplesDone) : 0)) / n;
        const elapsed = (performance.now() - t0) / 1000;
        rep.event({ type: 'progress', task: 'sample', done: Math.round(frac * n), total: n, unit: 'samples', elapsedSeconds: elapsed, etaSeconds: frac > 0 ? (elapsed * (1 - frac)) / frac : null });
      },
    });

    const outShape = [n, ...model.shape];
    const out = v.out;
    let labelsPath: string | null = null;
    let gridNote: string | null = null;
    await writeOutput(out, async () => {
      await writeNpy(out, npyFloat32(outShape, result.samples));
      if (result.labels) {
        labelsPath = out.replace(/\.npy$/i, '') + '.labels.npy';
        await writeNpy(labelsPath, npyInt64([n], BigInt64Array.from(result.labels, BigInt)));
      }
      if (v.grid) gridNote = await writeGrid(model, v.grid, result.samples, result.labels, n);
    });

    const nfe = stats(result.nfe);
    const net = stats(result.networkEvals);
    const obj = {
      command: 'sample',
      model: model.name,
      modelDir: model.dir,
      backend: model.backend,
      settings: { ...settings, sTmax: Number.isFinite(settings.sTmax) ? settings.sTmax : 'inf' },
      n,
      batch,
      seed,
      out: v.out,
      labels: labelsPath,
      grid: v.grid ?? null,
      gridNote,
      nfe,
      networkEvals: net,
      seconds: result.seconds,
      samplesPerSecond: n / result.seconds,
      modelSeconds: model.stats.modelMs / 1000,
    };
    rep.result(
      obj,
      `${n} samples from ${model.name} (${settings.sampler}, ${settings.steps} steps, w=${settings.guidance}) → ${v.out}` +
        `${labelsPath ? ` (+ ${labelsPath})` : ''}${v.grid ? `, grid → ${v.grid}` : ''}\n` +
        `NFE/sample ${nfe.mean.toFixed(2)} (network passes ${net.mean.toFixed(2)}), ${result.seconds.toFixed(2)} s, ${(n / result.seconds).toFixed(1)} samples/s on ${model.backend}` +
        (gridNote ? `\n${gridNote}` : ''),
    );
  } finally {
    await model.dispose();
  }
}

/** File-system errors while writing results are the user's to fix (a path, a permission): say so. */
async function writeOutput(what: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new UsageError(`could not write ${what}: ${(e as Error).message}`);
    throw e;
  }
}

function stats(a: Int32Array): { mean: number; min: number; max: number } {
  let s = 0;
  let mn = Infinity;
  let mx = -Infinity;
  for (const x of a) {
    s += x;
    mn = Math.min(mn, x);
    mx = Math.max(mx, x);
  }
  return { mean: s / a.length, min: mn, max: mx };
}

/** Images → a PNG grid (first 64); vectors → a scatter plot over the data (first two coordinates). */
async function writeGrid(model: Model, path: string, samples: Float32Array, labels: Int32Array | null, n: number): Promise<string | null> {
  const shape = model.shape;
  let img: Image;
  let note: string | null = null;
  if (shape.length === 3 && (shape[0] === 1 || shape[0] === 3)) {
    const count = Math.min(n, 64);
    img = imageGrid(samples.subarray(0, count * model.dim), count, shape as [number, number, number], { cols: Math.ceil(Math.sqrt(count)) });
  } else if (shape.length === 1) {
    const d = shape[0]!;
    const project = (x: Float32Array, m: number): Float32Array => {
      if (d === 2) return x;
      const out = new Float32Array(m * 2);
      for (let i = 0; i < m; i++) {
        out[2 * i] = x[i * d]!;
        out[2 * i + 1] = x[i * d + 1]!;
      }
      return out;
    };
    let background: Float32Array | null = null;
    if (model.manifest.data && existsSync(join(model.dir, model.manifest.data))) {
      const data = toFloat32(await readNpy(join(model.dir, model.manifest.data)));
      background = project(data, data.length / d);
    }
    if (d !== 2) note = `${model.name} is ${d}-dimensional: the scatter plot shows the first two coordinates`;
    img = scatterPlot(project(samples, n), { labels, background });
  } else {
    throw new UsageError(`--grid: cannot draw samples of shape [${shape.join(', ')}]; grids need [1|3, H, W] images or vectors`);
  }
  await writePng(path, img);
  return note;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\ninterrupted: stopping after the current step (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    switch (command) {
      case 'models':
        await cmdModels(rest);
        break;
      case 'sample':
        await cmdSample(rest, controller.signal);
        break;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n');
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"; commands: models, sample (see --help)`);
    }
    return 0;
  } catch (e) {
    if (e instanceof SamplingCancelled) {
      process.stderr.write('cancelled; no output was written\n');
      if (argv.includes('--json')) process.stdout.write(JSON.stringify({ cancelled: true }) + '\n');
      return 130;
    }
    if (e instanceof UsageError || e instanceof ModelError || e instanceof NpyError || e instanceof RangeError) {
      process.stderr.write(`error: ${e.message}\n`);
      if (argv.includes('--json')) process.stdout.write(JSON.stringify({ error: e.message, kind: e.name }) + '\n');
      return 2;
    }
    if (e instanceof TypeError && String((e as { code?: string }).code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${e.message} (see --help)\n`);
      return 2;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

const isMain = process.argv[1] && /(?:cli[\\/]index\.ts|sampler-studio(?:\.js)?)$/.test(process.argv[1]);
if (isMain) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`internal error: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
