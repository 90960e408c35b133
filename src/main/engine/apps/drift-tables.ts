// The q-learning paper's Tables 3–6 (Gao, Zha and Zhou 2024, §6.4 and §7.1) from drift policies
// on frozen models: the paper's procedure, our models and samplers.
//
//   Tables 3 and 4  KL at matched mean reward 0.7 / 0.8 / 0.9 for DDPO, DPOK and q-learning, on the
//                   good and the weak Swiss roll (swissroll-a, swissroll-b), Euler–Maruyama in the
//                   paper's 20 steps (its T = 5, Δt = 0.25); the pretrained model and DDPO (no
//                   weight to match: it maximises the reward) as their own rows.
//                   We add 0.95: the paper's claim that q-learning reaches a reward of 0.9 at a
//                   KL below DDPO's needs a row at or above 0.9, where the 0.9 row may land at 0.898.
//   Table 5         q-learning with reward weight 0 (the score alone) on the DDIM (η = 0), ODE-Euler
//                   and SDE simulators at 50, 10 and 5 steps (Δt = 0.1, 0.5, 1 of T = 5), with the
//                   frozen model's own samples on the same simulator beside each.
//   Table 6         the same simulators at matched mean reward 0.8.
//
// 1. Matching a reward. The paper tunes the weight of each method — DPOK's KL weight β, q-learning's
//    reward weight β — until the mean reward is the target. We do the same by search: a ladder of
//    weights is trained (runs shared by every target of a method, model and simulator), then for
//    each target the bracket around it is bisected geometrically, at most `refine` times, until a
//    run's evaluation is within `tol` of it; the run nearest the target is the row. The search reads
//    each run's own last evaluation (seed DRIFT_EVAL_SEED, `evalSamples` samples), never the table's.
// 2. The row's numbers, as the paper reports them: 100 batches of 300 samples of the table's seed;
//    per batch the mean reward and the k-NN KL (metrics/knn-kl.ts) of its 300 samples to the model's
//    data; mean and 95% interval over the batches. Beside it, the same KL to 3,000 samples of the
//    frozen model on the same simulator (another seed): the issue's "KL to the pretrained model".
//    A row whose reward missed its target by more than `tol` says so.
// 3. Everything is resumable: runs live in DIR/runs (a killed one continues from its checkpoint),
//    each row's evaluation in DIR/cache, and tables.md / tables.json are rewritten after each row.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Model } from '../models/model';
import { loadData } from '../models/data';
import { openRewards } from '../rewards';
import { float32Resolution, knnKl, meanInterval95 } from '../metrics/knn-kl';
import { writeFileAtomic } from '../io/atomic';
import { writeSamplePlot } from '../pictures';
import { readMetrics } from '../runs/files';
import { SamplingCancelled } from '../samplers/loop';
import { DriftPolicy } from '../drift/policy';
import { loadDriftPolicy, trainDrift } from '../drift/train';
import { sha256File } from '../learner/export';
import { isDriftRun, readDriftRun } from '../drift/run-file';
import { parseRewardSpec } from '../../../shared/reward-spec';
import { DEFAULT_DRIFT_CONFIG, DRIFT_FIELDS, type DriftConfig } from '../../../shared/drift-config';
import { reads } from '../../../shared/schema';

export const DRIFT_TABLE_IDS = [1, 3, 4, 5, 6] as const;
export type DriftTableId = (typeof DRIFT_TABLE_IDS)[number];

/** The paper's Swiss-roll reward: 1 inside the rectangle [0, 4] × [−1, 4]. */
export const SWISSROLL_REWARD = 'box:x0=0,x1=4,y0=-1,y1=4';
/** The paper's 1-D reward (its Eq. 34): a bump at 6, in the right tail of the mixture. */
export const GMM1D_REWARD = 'bump:x=6,width=1';

/** The benchmark's reward for a model: the bump on 1-D models, the rectangle otherwise. */
const rewardFor = (model: Model): string => (model.dim === 1 ? GMM1D_REWARD : SWISSROLL_REWARD);

export interface DriftTablesOptions {
  out: string;
  tables: readonly DriftTableId[];
  /** Training iterations of every run. */
  iterations: number;
  /** Training seed of every run. */
  seed: number;
  /** The table's sample seed, and the frozen model's reference samples' (never a training or search seed). */
  evalSeed: number;
  batches: number;
  batchSize: number;
  /** Samples of each run's own evaluation, which the weight search reads. */
  evalSamples: number;
  /** Reference samples of the frozen model for the KL to it. */
  baseSamples: number;
  /** How near a target a run's reward must come, and how many bisections it may take. */
  tol: number;
  refine: number;
  /** The good and the weak model (tables 3 and 4; table 5 and 6 use the good one). */
  models: { good: string; weak: string };
  /** The 1-D good and weak model (table 1). */
  models1d: { good: string; weak: string };
  /**
   * Learning settings for every run beyond the tables' own (e.g. the critic's learning rate, for an
   * ablation): any of DRIFT_TABLE_SETTINGS (shared/drift-config.ts). Each run's folder keeps its
   * settings, so a table with other ones needs its own --out.
   */
  settings?: Partial<DriftConfig>;
  /** Write the tables from what is done only: nothing trained or evaluated; rows not done yet are left out. */
  report?: boolean;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** A row --report cannot show yet: a run or an evaluation is still to do. */
class NotDone extends Error {}

export const DEFAULT_DRIFT_TABLES: Omit<DriftTablesOptions, 'out'> = {
  tables: DRIFT_TABLE_IDS,
  iterations: 100,
  seed: 0,
  evalSeed: 7,
  batches: 100,
  batchSize: 300,
  evalSamples: 1000,
  baseSamples: 3000,
  tol: 0.02,
  refine: 3,
  models: { good: 'swissroll-a', weak: 'swissroll-b' },
  models1d: { good: 'gmm1d-a', weak: 'gmm1d-b' },
};

type Objective = DriftConfig['objective'];
type Simulator = { sampler: DriftConfig['sampler']; eta: number; steps: number };

/** A method on a simulator; its weight ladder when it matches a reward. */
interface Method {
  objective: Objective;
  sim: Simulator;
  /** The weight that trades reward for KL, and whether raising it raises the reward. */
  weight: 'klWeight' | 'rewardWeight' | null;
  ladder: number[];
}

const SIM_NAMES: Record<DriftConfig['sampler'], string> = {
  'euler-maruyama': 'SDE',
  ddim: 'DDIM',
  'ode-euler': 'ODE-Euler',
};
const EM20: Simulator = { sampler: 'euler-maruyama', eta: 1, steps: 20 };
const SIMULATORS_5_6: Simulator[] = [50, 10, 5].flatMap((steps) => [
  { sampler: 'ddim' as const, eta: 0, steps },
  { sampler: 'ode-euler' as const, eta: 0, steps },
  { sampler: 'euler-maruyama' as const, eta: 1, steps },
]);
// Starting ladders, from probes on swissroll-a (seed 0): DPOK β = 0.1 reached a mean reward of about
// 0.8, q-learning β = 10 about 0.85. The search extends a ladder by ×10 when a target lies beyond it.
const DPOK_LADDER = [1, 0.3, 0.1, 0.03];
const Q_LADDER = [1, 3, 10, 30];

/** One row of a table: what it shows and how it is found. */
interface RowSpec {
  table: DriftTableId;
  model: string;
  label: string;
  method: Method | 'base';
  sim: Simulator;
  /** The mean reward to match (null: none — the base sampler, DDPO, q-learning at weight 0). */
  target: number | null;
  /** A fixed weight (q-learning at 0 in table 5). */
  fixed?: number;
}

function planRows(o: DriftTablesOptions): RowSpec[] {
  const rows: RowSpec[] = [];
  for (const table of o.tables) {
    if (table === 1) {
      // The paper's Figure 1: q-learning at β = 0, 0.1 and 1 on the 1-D mixture (good and weak model).
      for (const model of [o.models1d.good, o.models1d.weak]) {
        rows.push({ table, model, label: 'frozen model', method: 'base', sim: EM20, target: null });
        for (const w of [0, 0.1, 1]) {
          const method: Method = { objective: 'q-learning', sim: EM20, weight: 'rewardWeight', ladder: [] };
          rows.push({ table, model, label: `q-learning, β = ${w}`, method, sim: EM20, target: null, fixed: w });
        }
      }
    } else if (table === 3 || table === 4) {
      const model = table === 3 ? o.models.good : o.models.weak;
      rows.push({ table, model, label: 'pretrained (frozen model)', method: 'base', sim: EM20, target: null });
      rows.push({
        table,
        model,
        label: 'DDPO',
        method: { objective: 'ddpo', sim: EM20, weight: null, ladder: [] },
        sim: EM20,
        target: null,
      });
      for (const target of [0.7, 0.8, 0.9, 0.95])
        for (const objective of ['dpok', 'q-learning'] as const)
          rows.push({
            table,
            model,
            label: objective === 'dpok' ? 'DPOK' : 'q-learning',
            method: {
              objective,
              sim: EM20,
              weight: objective === 'dpok' ? 'klWeight' : 'rewardWeight',
              ladder: objective === 'dpok' ? DPOK_LADDER : Q_LADDER,
            },
            sim: EM20,
            target,
          });
    } else {
      for (const sim of SIMULATORS_5_6) {
        const method: Method = { objective: 'q-learning', sim, weight: 'rewardWeight', ladder: Q_LADDER };
        if (table === 5) {
          rows.push({ table, model: o.models.good, label: 'frozen model', method: 'base', sim, target: null });
          rows.push({ table, model: o.models.good, label: 'q-learning, β = 0', method, sim, target: null, fixed: 0 });
        } else rows.push({ table, model: o.models.good, label: 'q-learning', method, sim, target: 0.8 });
      }
    }
  }
  return rows;
}

/** What the table shows of one row. */
export interface DriftTableRow {
  table: DriftTableId;
  model: string;
  label: string;
  simulator: string;
  steps: number;
  target: number | null;
  /** The weight of the chosen run (null: the base sampler or DDPO). */
  weight: number | null;
  run: string | null;
  reward: { mean: number; half: number };
  klData: { mean: number; half: number };
  klModel: { mean: number; half: number };
  /** The search's own reading of the chosen run (its last evaluation; null for the base sampler). */
  searchReward: number | null;
  missed: boolean;
}

const fmtW = (w: number): string => (w === 0 ? '0' : Number(w.toPrecision(3)).toString());

function runName(model: string, m: Method, w: number | null): string {
  const sim = `${m.sim.sampler === 'euler-maruyama' ? 'sde' : m.sim.sampler}${m.sim.steps}`;
  return `${model}-${m.objective}-${sim}${w === null ? '' : `-w${fmtW(w)}`}`;
}

function driftConfig(o: DriftTablesOptions, model: Model, m: Method, w: number | null): DriftConfig {
  const c: DriftConfig = {
    ...DEFAULT_DRIFT_CONFIG,
    objective: m.objective,
    sampler: m.sim.sampler,
    eta: m.sim.eta,
    steps: m.sim.steps,
    rewards: [rewardFor(model)],
    iterations: o.iterations,
    seed: o.seed,
    // Four passes over each batch for every method: at one, q-learning's last iterate swung between
    // mean rewards 0.47 and 0.86 (swissroll-a, β = 10); at four it settled at 0.98 (lr annealed).
    ppoEpochs: 4,
    ...o.settings,
    evalEvery: 0,
    evalSamples: o.evalSamples,
  };
  if (m.weight && w !== null) c[m.weight] = w;
  if (m.objective === 'ddpo') c.klWeight = 0;
  return c;
}

/**
 * Refuses a kept run trained with other settings than the table's (a default changed since, or
 * another command's run under the same name): its row would not be what the table says.
 */
function checkSameRun(dir: string, want: DriftConfig): void {
  const saved = readDriftRun(dir).config;
  // A setting the run does not read (DPOK's β in a q-learning run) cannot make it another run.
  const differ = (Object.keys(want) as (keyof DriftConfig)[]).filter(
    (k) => reads(DRIFT_FIELDS[k], want) && JSON.stringify(saved[k]) !== JSON.stringify(want[k]),
  );
  if (differ.length > 0)
    throw new RangeError(
      `${dir} was trained with ${differ.map((k) => `${k} = ${JSON.stringify(saved[k])}`).join(', ')}; this table trains ${differ
        .map((k) => `${k} = ${JSON.stringify(want[k])}`)
        .join(', ')}. Give the tables a new --out folder, or delete that run to train it again`,
    );
}

/** Trains (or finishes) the run of a method at weight w; returns its last evaluation's mean reward. */
async function trainedRun(
  model: Model,
  o: DriftTablesOptions,
  m: Method,
  w: number | null,
): Promise<{ dir: string; reward: number }> {
  const dir = join(o.out, 'runs', runName(model.name, m, w));
  const c = driftConfig(o, model, m, w);
  if (isDriftRun(dir)) checkSameRun(dir, c);
  const lines = existsSync(join(dir, 'metrics.jsonl')) ? readMetrics(dir) : [];
  const last = lines.at(-1);
  if (!last || last.iteration !== c.iterations || last['eval/reward_mean'] === undefined) {
    if (o.report) throw new NotDone(dir);
    const resume = existsSync(join(dir, 'checkpoint.json'));
    o.log?.(`${resume ? 'resume' : 'train'} ${dir}`);
    const r = await trainDrift(model, c, dir, { resume, iterations: c.iterations, signal: o.signal });
    if (r.stopped) throw new SamplingCancelled();
    return { dir, reward: r.last['eval/reward_mean']! };
  }
  return { dir, reward: last['eval/reward_mean']! };
}

/**
 * Step 1's next move: given the weights tried and their rewards, the next weight to train for
 * `target`, or null when done — a reward within `tol`, `refine` bisections spent, or the next
 * weight already tried. `up`: whether raising the weight raises the reward (q-learning's reward
 * weight; DPOK's KL weight lowers it). Beyond the ladder's ends it steps ×10.
 */
export function nextWeight(
  tried: ReadonlyMap<number, number>,
  target: number,
  up: boolean,
  o: { tol: number; refine: number; bisections: number },
): number | null {
  if (tried.size === 0) throw new RangeError('nextWeight: train the ladder first');
  const ws = [...tried.keys()].sort((a, b) => (up ? a - b : b - a)); // in the direction of rising reward
  const reward = (w: number) => tried.get(w)!;
  if (ws.some((w) => Math.abs(reward(w) - target) <= o.tol)) return null;
  let next: number;
  const i = ws.findIndex((w, k) => k + 1 < ws.length && reward(w) < target && reward(ws[k + 1]!) >= target);
  if (i >= 0) {
    if (o.bisections >= o.refine) return null;
    next = Math.sqrt(ws[i]! * ws[i + 1]!);
  } else if (ws.every((w) => reward(w) < target)) next = up ? ws.at(-1)! * 10 : ws.at(-1)! / 10;
  else if (ws.every((w) => reward(w) >= target)) next = up ? ws[0]! / 10 : ws[0]! * 10;
  else return null; // rewards cross the target only against the weights' order: nothing to bisect
  next = Number(next.toPrecision(3));
  return next === 0 || tried.has(next) ? null : next;
}

/** Step 1: the run of `m` whose reward is nearest `target` (see the header and nextWeight). */
async function matchReward(
  model: Model,
  o: DriftTablesOptions,
  m: Method,
  target: number,
): Promise<{ dir: string; weight: number; reward: number }> {
  const runs = new Map<number, { dir: string; reward: number }>();
  const train = async (w: number) => runs.set(w, await trainedRun(model, o, m, w));
  for (const w of m.ladder) await train(Number(w.toPrecision(3)));
  const up = m.weight === 'rewardWeight';
  // At most two extensions beyond the ladder, then `refine` bisections.
  for (let bisections = 0, steps = 0; steps < o.refine + 2; steps++) {
    const rewards = new Map([...runs].map(([w, r]) => [w, r.reward]));
    const w = nextWeight(rewards, target, up, { tol: o.tol, refine: o.refine, bisections });
    if (w === null) break;
    const bracketed = [...rewards.values()].some((r) => r < target) && [...rewards.values()].some((r) => r >= target);
    if (bracketed) bisections++;
    await train(w);
  }
  const [weight, r] = [...runs].reduce((a, b) =>
    Math.abs(b[1].reward - target) < Math.abs(a[1].reward - target) ? b : a,
  );
  return { dir: r.dir, weight, reward: r.reward };
}

interface CachedEval {
  reward: number[];
  klData: number[];
  klModel: number[];
  /** What was evaluated, and how (absent in files written before 2 December 2026, taken as they are). */
  stamp?: EvalStamp;
}

/**
 * What an evaluation depends on besides its name: the run's weights (the SHA-256 of its
 * checkpoint.json; null for the frozen model) and the evaluation's own settings. A cached evaluation
 * with another stamp — the run deleted and trained again, other --batches — is evaluated again.
 */
interface EvalStamp {
  run: string | null;
  batches: number;
  batchSize: number;
  baseSamples: number;
  evalSeed: number;
}

function evalStamp(o: DriftTablesOptions, dir: string | null): EvalStamp {
  const run = dir === null ? null : sha256File(join(dir, 'checkpoint.json'));
  return { run, batches: o.batches, batchSize: o.batchSize, baseSamples: o.baseSamples, evalSeed: o.evalSeed };
}

/** Step 2: the table's evaluation of a policy (or of the frozen model), cached; also its picture (300 samples). */
async function evaluateRow(
  model: Model,
  o: DriftTablesOptions,
  policy: DriftPolicy,
  key: string,
  zero: boolean,
  stamp: EvalStamp,
): Promise<CachedEval> {
  const file = join(o.out, 'cache', `${key}.json`);
  if (existsSync(file)) {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as CachedEval;
    if (kept.stamp === undefined || JSON.stringify(kept.stamp) === JSON.stringify(stamp)) return kept;
    o.log?.(`${key}: the cached evaluation is of another run or other settings; evaluating again`);
  }
  if (o.report) throw new NotDone(key);
  const data = await loadData(model);
  if (!data) throw new RangeError(`${model.name} has no data ("data" in model.json) to measure the KL against`);
  const rewards = await openRewards(model, [parseRewardSpec(rewardFor(model))]);
  try {
    const dim = model.dim;
    const B = o.batchSize;
    const base = await policy.rollout(
      { n: o.baseSamples, seed: o.evalSeed + 1, batch: 1000, record: false, signal: o.signal },
      true,
    );
    const ep = await policy.rollout(
      { n: o.batches * B, seed: o.evalSeed, batch: 1000, record: false, signal: o.signal },
      zero,
    );
    const scores = (await rewards.score(ep.samples, ep.n, ep.labels)).total;
    const out: CachedEval = { reward: [], klData: [], klModel: [], stamp };
    // Ties at float32's resolution count as that far apart (metrics/knn-kl.ts, the note on ties).
    const r = float32Resolution(ep.samples, base.samples, data.x);
    for (let b = 0; b < o.batches; b++) {
      const xs = ep.samples.subarray(b * B * dim, (b + 1) * B * dim);
      let s = 0;
      for (let j = b * B; j < (b + 1) * B; j++) s += scores[j]!;
      out.reward.push(s / B);
      out.klData.push(knnKl(xs, data.x, dim, 1, r));
      out.klModel.push(knnKl(xs, base.samples, dim, 1, r));
    }
    mkdirSync(join(o.out, 'cache'), { recursive: true });
    mkdirSync(join(o.out, 'pictures'), { recursive: true });
    await writeSamplePlot(model, join(o.out, 'pictures', `${key}.png`), ep.samples.slice(0, B * dim), null, B);
    await writeFileAtomic(file, JSON.stringify(out) + '\n');
    return out;
  } finally {
    await rewards.dispose();
  }
}

const TITLES: Record<DriftTableId, string> = {
  1: 'Figure 1 as a table: q-learning on the 1-D mixture (%GOOD1D%, %WEAK1D%), SDE simulator, 20 steps, reward weight β = 0, 0.1, 1',
  3: 'Table 3: the good model (%GOOD%), SDE simulator, 20 steps — KL at matched mean reward',
  4: 'Table 4: the weak model (%WEAK%), SDE simulator, 20 steps — KL at matched mean reward',
  5: 'Table 5: q-learning with reward weight 0 (%GOOD%) on three simulators',
  6: 'Table 6: q-learning at matched mean reward 0.8 (%GOOD%) on three simulators',
};

const pm = (v: { mean: number; half: number }, digits: number): string =>
  `${v.mean.toFixed(digits)} ± ${v.half.toFixed(digits)}`;

/** tables.md: one table per id, the paper's columns and ours. */
export function driftTablesMarkdown(
  rows: DriftTableRow[],
  o: Pick<
    DriftTablesOptions,
    'models' | 'models1d' | 'batches' | 'batchSize' | 'baseSamples' | 'evalSeed' | 'tol' | 'settings'
  >,
): string {
  const out: string[] = [];
  for (const id of DRIFT_TABLE_IDS) {
    const rs = rows.filter((r) => r.table === id);
    if (rs.length === 0) continue;
    out.push(
      `### ${TITLES[id].replace('%GOOD%', o.models.good).replace('%WEAK%', o.models.weak).replace('%GOOD1D%', o.models1d.good).replace('%WEAK1D%', o.models1d.weak)}`,
      '',
    );
    out.push('| model | method | simulator | steps | target | weight | reward | KL to data | KL to the frozen model |');
    out.push('|---|---|---|---|---|---|---|---|---|');
    for (const r of rs)
      out.push(
        `| ${r.model} | ${r.label} | ${r.simulator} | ${r.steps} | ${r.target ?? '—'} | ${r.weight === null ? '—' : fmtW(r.weight)} | ${pm(r.reward, 3)}${r.missed ? ' (missed)' : ''} | ${pm(r.klData, 3)} | ${pm(r.klModel, 3)} |`,
      );
    out.push('');
  }
  out.push(
    `Each row: ${o.batches} batches of ${o.batchSize} samples (seed ${o.evalSeed}); mean and 95% interval over the batches of the batch's mean reward and of its k-NN KL (k = 1) to the model's data and to ${o.baseSamples} samples of the frozen model on the same simulator. Weights were matched on each run's own evaluation (another seed); "(missed)": no run came within ${o.tol} of the target.${settingsNote(o.settings)}`,
  );
  return out.join('\n') + '\n';
}

/** The runs' settings beyond the tables' defaults, said under the tables (empty when none). */
function settingsNote(settings: Partial<DriftConfig> | undefined): string {
  const set = Object.entries(settings ?? {});
  return set.length === 0
    ? ''
    : ` Every run trained with ${set.map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(', ')} (not the defaults).`;
}

/**
 * Writes DIR/tables.md and tables.json: this call's rows, and the rows of other tables that an
 * earlier or a concurrent call wrote there (each call owns the rows of its --tables).
 */
async function writeTables(o: DriftTablesOptions, rows: DriftTableRow[]): Promise<void> {
  const file = join(o.out, 'tables.json');
  let others: DriftTableRow[];
  try {
    others = (JSON.parse(readFileSync(file, 'utf8')) as { rows: DriftTableRow[] }).rows.filter(
      (r) => !o.tables.includes(r.table),
    );
  } catch {
    others = []; // none yet, or a file this version cannot read: this call's rows only
  }
  const all = [...others, ...rows].sort((a, b) => DRIFT_TABLE_IDS.indexOf(a.table) - DRIFT_TABLE_IDS.indexOf(b.table));
  await writeFileAtomic(join(o.out, 'tables.md'), driftTablesMarkdown(all, o));
  const { signal: _s, log: _l, ...options } = o;
  await writeFileAtomic(file, JSON.stringify({ options, rows: all }, null, 1) + '\n');
}

/** One row: its run (trained or matched), then its evaluation (steps 1 and 2); NotDone under --report when either is missing. */
async function tableRow(model: Model, o: DriftTablesOptions, spec: RowSpec): Promise<DriftTableRow> {
  let dir: string | null = null;
  let weight: number | null = null;
  let searchReward: number | null = null;
  if (spec.method !== 'base') {
    const m = spec.method;
    if (spec.target !== null) ({ dir, weight, reward: searchReward } = await matchReward(model, o, m, spec.target));
    else {
      weight = spec.fixed ?? null;
      ({ dir, reward: searchReward } = await trainedRun(model, o, m, weight));
    }
  }
  const simName = `${SIM_NAMES[spec.sim.sampler]}`;
  const key = dir
    ? `${dir.split('/').at(-1)}-seed${o.evalSeed}`
    : `${spec.model}-base-${spec.sim.sampler}${spec.sim.steps}-seed${o.evalSeed}`;
  o.log?.(`evaluate ${key}`);
  let ev: CachedEval;
  if (dir) {
    const { policy } = await loadDriftPolicy(model, dir);
    try {
      ev = await evaluateRow(model, o, policy, key, false, evalStamp(o, dir));
    } finally {
      policy.dispose();
    }
  } else {
    const policy = DriftPolicy.create(
      model,
      driftConfig(o, model, { objective: 'dpok', sim: spec.sim, weight: null, ladder: [] }, null),
    );
    try {
      ev = await evaluateRow(model, o, policy, key, true, evalStamp(o, null));
    } finally {
      policy.dispose();
    }
  }
  const reward = meanInterval95(ev.reward);
  return {
    table: spec.table,
    model: spec.model,
    label: spec.label,
    simulator: simName,
    steps: spec.sim.steps,
    target: spec.target,
    weight,
    run: dir,
    reward,
    klData: meanInterval95(ev.klData),
    klModel: meanInterval95(ev.klModel),
    searchReward,
    missed: spec.target !== null && Math.abs(reward.mean - spec.target) > o.tol,
  };
}

/** Runs (or continues) the tables; writes DIR/tables.md and DIR/tables.json after every row. */
export async function driftTables(
  open: (name: string) => Promise<Model>,
  o: DriftTablesOptions,
): Promise<DriftTableRow[]> {
  mkdirSync(o.out, { recursive: true });
  const rows: DriftTableRow[] = [];
  const models = new Map<string, Model>();
  let pending = 0;
  try {
    for (const spec of planRows(o)) {
      if (!models.has(spec.model)) models.set(spec.model, await open(spec.model));
      const model = models.get(spec.model)!;
      try {
        rows.push(await tableRow(model, o, spec));
      } catch (e) {
        if (!(e instanceof NotDone)) throw e;
        pending++;
        continue;
      }
      await writeTables(o, rows);
    }
    if (o.report) {
      await writeTables(o, rows);
      o.log?.(`${rows.length} rows done, ${pending} still to train or evaluate`);
    }
    return rows;
  } finally {
    for (const m of models.values()) await m.dispose();
  }
}
