// The reward along the trajectory (the DDPO thesis, §4.2 and Figure 4.3): n trajectories of a
// sampler, and at every step the reward of the noisy state x_t and of the sampler's denoised estimate
// x̂₀(x_t) — the D(x_t, σ_t) its step used — summed up over the samples as bands: mean, best (max),
// worst (min), 10% and 90%. The last row is the final sample (σ = 0), where both are the sample
// itself. What it shows: from which step on the reward is decided, and whether the denoised estimate
// predicts the final reward early (the thesis found x̂₀ far more informative than the noisy x_t).

import type { Model } from '../models/model';
import type { Rewards } from '../rewards';
import { generate, resolveSettings, type ResolvedSettings } from '../samplers/generate';
import type { TrajectoryStep } from '../samplers/loop';
import type { SamplingPolicy } from '../learner/rollout';

/** A reward's spread over the samples at one step. */
export interface Band {
  mean: number;
  min: number;
  max: number;
  p10: number;
  p90: number;
  /** Samples counted (rows that reached the step). */
  n: number;
}

export interface RewardTrajectory {
  model: string;
  rewards: string;
  n: number;
  seed: number;
  /** Per step k (σ_k before it), then the final sample (σ = 0). */
  steps: { step: number; sigma: number; noisy: Band; denoised: Band }[];
}

/** The band of finite values (the p-quantiles by the nearest rank). */
export function band(values: ArrayLike<number>): Band {
  const v = Array.from(values)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  if (v.length === 0) return { mean: NaN, min: NaN, max: NaN, p10: NaN, p90: NaN, n: 0 };
  const q = (p: number): number => v[Math.min(v.length - 1, Math.floor(p * v.length))]!;
  return {
    mean: v.reduce((a, b) => a + b, 0) / v.length,
    min: v[0]!,
    max: v.at(-1)!,
    p10: q(0.1),
    p90: q(0.9),
    n: v.length,
  };
}

/** What draws the trajectories: a sampler's settings, or a learned policy (at a temperature) on its own sampler. */
export type TrajectorySource = { settings: ResolvedSettings } | { policy: SamplingPolicy; temperature: number };

export async function analyzeReward(
  model: Model,
  rewards: Rewards,
  from: TrajectorySource,
  o: { n: number; seed: number; batch: number; signal?: AbortSignal; onProgress?: (done: number) => void },
): Promise<RewardTrajectory> {
  const draw = {
    batch: o.batch,
    signal: o.signal,
    onProgress: (p: { samplesDone: number }) => o.onProgress?.(p.samplesDone),
    trajectory: true,
  };
  let gen: {
    trajectories: TrajectoryStep[][];
    labels: Int32Array | null;
    samples: Float32Array;
    schedule: Float64Array;
  };
  if ('settings' in from) {
    const g = await generate(model, from.settings, { ...draw, n: o.n, seed: o.seed, classes: 'random' });
    gen = { trajectories: g.trajectories!, labels: g.labels, samples: g.samples, schedule: g.schedule };
  } else {
    const r = await from.policy.sample(o.n, o.seed, { ...draw, temperature: from.temperature });
    gen = { trajectories: r.trajectories!, labels: r.sampleLabels, samples: r.samples, schedule: from.policy.schedule };
  }
  const dim = model.dim;
  const batches = gen.trajectories;
  const stepsCount = Math.max(...batches.map((b) => b.length));
  const steps: RewardTrajectory['steps'] = [];
  for (let k = 0; k < stepsCount; k++) {
    // Every batch's state before step k, rows in sample order; rows that did not step are NaN in x̂ (skipped).
    const x = new Float32Array(o.n * dim);
    const den = new Float32Array(o.n * dim).fill(NaN);
    const level = new Int32Array(o.n).fill(-1);
    let row = 0;
    for (const b of batches) {
      const s = b[k];
      const rows = s ? s.x.length / dim : 0;
      if (s) {
        x.set(s.x, row * dim);
        den.set(s.denoised, row * dim);
        level.set(s.level, row);
      }
      row += rows > 0 ? rows : b[0]!.x.length / dim;
    }
    const stepped = Array.from({ length: o.n }, (_, i) => Number.isFinite(den[i * dim]!));
    const noisy = (await rewards.score(x, o.n, gen.labels)).total;
    // The denoised estimate where a row stepped; a row that did not is left out of the band.
    const denRows = den.map((v, i) => (stepped[Math.floor(i / dim)] ? v : 0));
    const denoised = (await rewards.score(denRows, o.n, gen.labels)).total.map((v, i) => (stepped[i] ? v : NaN));
    // σ before the step: the schedule's at the rows' level (a renoise policy's rows differ: their
    // mean, as the first row's plus the mean difference, so rows all at one level give it exactly).
    let first = NaN;
    let diff = 0;
    let m = 0;
    for (let i = 0; i < o.n; i++)
      if (stepped[i] && level[i]! >= 0) {
        const s = gen.schedule[level[i]!]!;
        if (m === 0) first = s;
        diff += s - first;
        m++;
      }
    steps.push({ step: k, sigma: m > 0 ? first + diff / m : NaN, noisy: band(noisy), denoised: band(denoised) });
  }
  const final = (await rewards.score(gen.samples, o.n, gen.labels)).total;
  steps.push({ step: stepsCount, sigma: 0, noisy: band(final), denoised: band(final) });
  return { model: model.name, rewards: rewards.description, n: o.n, seed: o.seed, steps };
}

/**
 * A policy's reward along its trajectories beside its base sampler's (its sampler and steps, no
 * intervention) on the same seed and count: what the policy changes, and from which step on.
 */
export async function analyzePolicyReward(
  model: Model,
  rewards: Rewards,
  policy: SamplingPolicy,
  o: {
    n: number;
    seed: number;
    batch: number;
    temperature?: number;
    signal?: AbortSignal;
    onProgress?: (done: number, of: 'policy' | 'base') => void;
  },
): Promise<{ policy: RewardTrajectory; base: RewardTrajectory }> {
  const temperature = o.temperature ?? policy.spec.temperature;
  const mine = await analyzeReward(
    model,
    rewards,
    { policy, temperature },
    { ...o, onProgress: (d) => o.onProgress?.(d, 'policy') },
  );
  const settings = resolveSettings(model, { sampler: policy.spec.sampler, steps: policy.spec.steps });
  const base = await analyzeReward(
    model,
    rewards,
    { settings },
    { ...o, onProgress: (d) => o.onProgress?.(d, 'base') },
  );
  return { policy: mine, base };
}

/** The bands as CSV: step, σ, then mean, min, max, p10, p90 of the noisy and of the denoised reward. */
export function rewardTrajectoryCsv(t: RewardTrajectory): string {
  const cols = ['mean', 'min', 'max', 'p10', 'p90'] as const;
  const head = ['step', 'sigma', ...cols.map((c) => `noisy_${c}`), ...cols.map((c) => `denoised_${c}`), 'n'];
  const rows = t.steps.map((s) =>
    [s.step, s.sigma, ...cols.map((c) => s.noisy[c]), ...cols.map((c) => s.denoised[c]), s.denoised.n].join(','),
  );
  return [head.join(','), ...rows].join('\n') + '\n';
}

/** The bands as an SVG plot: reward against step, the noisy state's and the denoised estimate's, each mean with its 10–90% band (a base sampler's means dashed beside a policy's). */
export function rewardTrajectorySvg(t: RewardTrajectory, base?: RewardTrajectory): string {
  const W = 640;
  const H = 360;
  const m = { l: 64, r: 16, t: 28, b: 40 };
  // The y range: the denoised estimates' 10–90% bands (the final sample's included), 10% more each
  // side. A noisy state's reward at high σ can be far outside (a 2-D region's at σ = 80): its curve
  // leaves the plot there rather than squash everything else flat.
  const all = [...t.steps, ...(base?.steps ?? [])]
    .flatMap((s) => [s.denoised.p10, s.denoised.p90])
    .filter(Number.isFinite);
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (!(hi > lo)) [lo, hi] = [lo - 1, hi + 1];
  [lo, hi] = [lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)];
  const last = t.steps.length - 1;
  const X = (k: number): number => m.l + ((W - m.l - m.r) * k) / Math.max(1, last);
  const Y = (v: number): number => m.t + ((H - m.t - m.b) * (hi - v)) / (hi - lo);
  const series = (pick: (s: RewardTrajectory['steps'][number]) => Band, color: string, name: string): string => {
    const ok = t.steps.filter((s) => pick(s).n > 0);
    const area =
      ok.map((s) => `${X(s.step).toFixed(1)},${Y(pick(s).p90).toFixed(1)}`).join(' ') +
      ' ' +
      [...ok]
        .reverse()
        .map((s) => `${X(s.step).toFixed(1)},${Y(pick(s).p10).toFixed(1)}`)
        .join(' ');
    const line = ok.map((s) => `${X(s.step).toFixed(1)},${Y(pick(s).mean).toFixed(1)}`).join(' ');
    return `<polygon points="${area}" fill="${color}" fill-opacity="0.15" clip-path="url(#plot)"/><polyline points="${line}" fill="none" stroke="${color}" stroke-width="2" clip-path="url(#plot)"><title>${name}</title></polyline>`;
  };
  // The base sampler's means, dashed (a policy's analysis).
  const dashed = (pick: (s: RewardTrajectory['steps'][number]) => Band, color: string, name: string): string => {
    const ok = (base?.steps ?? []).filter((s) => pick(s).n > 0);
    const line = ok.map((s) => `${X(s.step).toFixed(1)},${Y(pick(s).mean).toFixed(1)}`).join(' ');
    return `<polyline points="${line}" fill="none" stroke="${color}" stroke-width="1.5" stroke-dasharray="5 3" clip-path="url(#plot)"><title>${name}</title></polyline>`;
  };
  const ticks = [lo, (lo + hi) / 2, hi]
    .map((v) => `<text x="${m.l - 6}" y="${Y(v) + 4}" text-anchor="end">${Number(v.toPrecision(3))}</text>`)
    .join('');
  const xt = t.steps
    .filter((s) => s.step % Math.max(1, Math.ceil(last / 8)) === 0 || s.step === last)
    .map((s) => `<text x="${X(s.step)}" y="${H - m.b + 16}" text-anchor="middle">${s.step}</text>`)
    .join('');
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  // A reward's description names its files in full: the title keeps the file names only.
  const short = (d: string): string => d.replace(/(?:[^\s/]*\/)+([^\s/]+)/g, '$1');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="system-ui, sans-serif" font-size="11">
<rect width="${W}" height="${H}" fill="white"/>
<defs><clipPath id="plot"><rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}"/></clipPath></defs>
<text x="${m.l}" y="16" font-size="12">${esc(short(t.rewards))} along the trajectory — ${esc(t.model)}${base ? ', policy (bands) and base sampler (dashed)' : ''}, ${t.n} samples (seed ${t.seed})</text>
<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#888"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#888"/>
${ticks}${xt}<text x="${(W + m.l) / 2}" y="${H - 6}" text-anchor="middle">step (the last: the final sample, σ = 0)</text>
${series((s) => s.noisy, '#e8590c', 'noisy state x_t')}
${series((s) => s.denoised, '#1971c2', 'denoised estimate x̂₀(x_t)')}
<text x="${W - m.r - 170}" y="${m.t + 12}" fill="#e8590c">— noisy state x_t (10–90%)</text><text x="${W - m.r - 170}" y="${m.t + 26}" fill="#1971c2">— denoised estimate x̂₀(x_t)</text>${
    base
      ? `
${dashed((s) => s.noisy, '#e8590c', 'base sampler: noisy state x_t (mean)')}
${dashed((s) => s.denoised, '#1971c2', 'base sampler: denoised estimate (mean)')}
<text x="${W - m.r - 170}" y="${m.t + 40}" fill="#555">- - base sampler (means)</text>`
      : ''
  }
</svg>
`;
}
