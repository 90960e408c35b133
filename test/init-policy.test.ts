// The σ-dependent initial policy (learner/init-policy.ts): after cloning, the policy's mean
// distribution over actions at every level of a rollout of it is within 5% (total variation) of its
// target profile — a constant, a guidance interval, EDM's churn window, "continue above σ_x" — for
// policies that see σ only and (x, σ); and the per-step advantage baseline removes what only counts
// the steps left.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Model } from '../src/main/engine/models/model';
import { resourcesDir } from '../src/main/engine/models/registry';
import { Learner } from '../src/main/engine/learner/learner';
import { initTf } from '../src/main/engine/learner/backend';
import { initTargets } from '../src/main/engine/learner/init-policy';
import { normaliseAdvantages } from '../src/main/engine/learner/ppo';
import { learnerConfigFrom, type LearnerConfig } from '../src/shared/learner-config';
import { migrateLearnerSettings } from '../src/shared/run-files';
import { tinyConfig } from './helpers/config';

const tmp = mkdtempSync(join(tmpdir(), 'ss-init-'));
process.env['SAMPLER_STUDIO_CACHE'] = join(tmp, 'cache');
let ring: Model;

before(async () => {
  await initTf();
  ring = await Model.load(join(resourcesDir(), 'models', 'gmm-ring8'));
});
after(async () => {
  await ring.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

/** [N] total variation per level between the learner's mean softmax on a rollout's states and the target. */
async function rolloutDistance(l: Learner, n: number): Promise<{ tv: number[]; q: Float64Array }> {
  const ro = await l.rollout(n, 12345, { temperature: 1 });
  const c = l.config;
  const K = c.actions.length;
  const N = c.steps;
  const S = ro.H + 1;
  const dim = l.model.dim;
  // Every visited non-terminal state, first visits and jumps alike.
  const rows: number[] = [];
  for (let i = 0; i < ro.n * S; i++) if (ro.level[i]! < N) rows.push(i);
  const m = rows.length;
  const x = new Float32Array(m * dim);
  const sigma = new Float32Array(m);
  const labels = ro.labels ? new Int32Array(m) : null;
  const step = new Int32Array(m);
  rows.forEach((si, j) => {
    x.set(ro.x.subarray(si * dim, (si + 1) * dim), j * dim);
    sigma[j] = ro.sigma[si]!;
    if (labels) labels[j] = ro.labels![si]!;
    step[j] = si % S;
  });
  const logits = await l.logits({ n: m, x, sigma, labels, step });
  const mean = new Float64Array(N * K);
  const count = new Float64Array(N);
  rows.forEach((si, j) => {
    const lv = ro.level[si]!;
    let mx = -Infinity;
    for (let a = 0; a < K; a++) mx = Math.max(mx, logits[j * K + a]!);
    let z = 0;
    for (let a = 0; a < K; a++) z += Math.exp(logits[j * K + a]! - mx);
    for (let a = 0; a < K; a++) mean[lv * K + a]! += Math.exp(logits[j * K + a]! - mx) / z;
    count[lv]!++;
  });
  const q = initTargets(c, l.schedule);
  const tv = Array.from({ length: N }, (_, lv) => {
    let d = 0;
    for (let a = 0; a < K; a++) d += Math.abs(mean[lv * K + a]! / count[lv]! - q[lv * K + a]!);
    return d / 2;
  });
  return { tv, q };
}

const cases: [string, Partial<LearnerConfig>][] = [
  ['cfg constant w = 1.5, (x, σ)', { intervention: 'cfg', initAction: 2 }],
  [
    'cfg interval w = 2 on [0.3, 3], σ only',
    { intervention: 'cfg', conditioning: 'sigma', initAction: 3, initSigmaLo: 0.3, initSigmaHi: 3, initMass: 0.9 },
  ],
  [
    'cfg interval w = 2 on [0.3, 3], (x, σ, class)',
    {
      intervention: 'cfg',
      conditioning: 'state+class',
      initAction: 3,
      initSigmaLo: 0.3,
      initSigmaHi: 3,
      initMass: 0.9,
    },
  ],
  ["gamma: EDM's window (defaults)", { intervention: 'gamma' }],
  ['renoise: continue above σ = 1 (defaults)', { intervention: 'renoise' }],
];

for (const [name, extra] of cases) {
  test(`the initial policy matches its profile within 5% at every level: ${name}`, async () => {
    const l = new Learner(ring, tinyConfig(extra));
    try {
      const { tv, q } = await rolloutDistance(l, 256);
      const K = l.config.actions.length;
      assert.ok(l.initialClone, 'the window profile is cloned');
      assert.ok(
        tv.every((d) => d <= 0.05),
        `TV per level ${tv.map((d) => d.toFixed(3)).join(' ')} (clone: ${JSON.stringify(l.initialClone)})`,
      );
      // The profile is σ-dependent where asked: inside and outside the window differ.
      if ((extra.initSigmaLo ?? 0) > 0 || l.config.initSigmaHi < Infinity) {
        const favoured = new Set(
          Array.from({ length: l.config.steps }, (_, lv) => {
            const row = Array.from(q.subarray(lv * K, (lv + 1) * K));
            return `${row.indexOf(Math.max(...row))}:${Math.max(...row)}`;
          }),
        );
        assert.ok(favoured.size > 1, `one profile at every level: ${[...favoured].join(' ')}`);
      }
    } finally {
      await l.dispose();
    }
  });
}

test("the 'bias' profile is the first release's: one logit bonus at every level, no cloning", async () => {
  const l = new Learner(ring, tinyConfig({ initProfile: 'bias', initAction: 0, initBias: 3 }));
  try {
    await l.ready();
    assert.equal(l.initialClone, null);
  } finally {
    await l.dispose();
  }
});

test('a window outside which the neutral action is missing is refused naming the actions', () => {
  assert.throws(
    () => learnerConfigFrom({ intervention: 'cfg', actions: [1.5, 2, 3], initSigmaHi: 3 }),
    /actions: a window initial profile .* needs the neutral action 1 outside it/,
  );
  assert.throws(() => learnerConfigFrom({ initSigmaLo: 5, initSigmaHi: 2 }), /initSigmaLo: must be below initSigmaHi/);
  // A window covering every level needs no neutral action.
  assert.equal(learnerConfigFrom({ actions: [1.5, 2, 3] }).initSigmaHi, Infinity);
});

test('runs saved before these settings read as they trained: global baseline, bias profile', () => {
  const old = migrateLearnerSettings({ steps: 18, dreSteps: 5 }) as Record<string, unknown>;
  assert.equal(old['advantageBaseline'], 'global');
  assert.equal(old['initProfile'], 'bias');
  assert.equal(old['discriminatorSteps'], 5);
  // A saved value wins over the fill-in.
  assert.equal((migrateLearnerSettings({ initProfile: 'window' }) as Record<string, unknown>)['initProfile'], 'window');
});

test('the per-step baseline removes a trend in the steps left and keeps the action-dependent part', () => {
  // G = c·(H − t) + ε·(±1): the global baseline leaves the trend, the per-step one only ±1.
  const H = 18;
  const n = 64;
  const g = new Float64Array(n * H);
  const t = new Int32Array(n * H);
  for (let r = 0; r < n; r++)
    for (let s = 0; s < H; s++) {
      g[r * H + s] = 1.0 * (H - s) + (r % 2 === 0 ? 0.5 : -0.5);
      t[r * H + s] = s;
    }
  const level = normaliseAdvantages(g, t);
  for (let i = 0; i < g.length; i++) assert.ok(Math.abs(Math.abs(level[i]!) - 1) < 1e-6, `${level[i]}`);
  const global = normaliseAdvantages(g);
  // With one mean the early steps get the large positive advantages whatever the action.
  assert.ok(global[0]! > 1.5 && global[H - 1]! < -1.5, `${global[0]} ${global[H - 1]}`);
  // Sizes must agree.
  assert.throws(() => normaliseAdvantages(g, t.subarray(1)), /group indices/);
});
