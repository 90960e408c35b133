// The learner's math: f-divergence learning signals (the score-function identity behind −ψ), the
// PPO-clip loss against a plain-JS reference and finite differences, the heads' dense layer and its
// gradient, and TF.js backend selection.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { initTf, tf, tfInitResult, type TfInitResult } from '../src/main/engine/learner/backend';
import { DIVERGENCES, DIVERGENCE_INFO, rewardOf, type Divergence } from '../src/main/engine/learner/divergences';
import { logSoftmaxMasked, normaliseAdvantages, ppoClipLoss, ppoUpdate } from '../src/main/engine/learner/ppo';
import { dense, Mlp } from '../src/main/engine/learner/heads';
import { Stream } from '../src/main/engine/samplers/random';

let init: TfInitResult;
before(async () => {
  init = await initTf();
});

// ---------------------------------------------------------------- backend

test('initTf: falls back through node-gpu and node, and really runs on what it reports', async (t) => {
  assert.equal(tfInitResult(), init);
  const names = init.tried.map((a) => a.name);
  const chain = ['node-gpu', 'node', 'wasm', 'cpu'];
  assert.deepEqual(names, chain.slice(0, names.length), 'attempts follow the chain from the start');
  for (const a of init.tried.slice(0, -1)) {
    assert.equal(typeof a.error, 'string', `${a.name} failed, so it has a reason`);
    assert.ok(
      a.error!.length > 0 && a.error!.length <= 200 && !a.error!.includes('\n'),
      `${a.name}: short one-line error`,
    );
  }
  assert.equal(init.tried.at(-1)!.error, null, 'the last attempt is the one that succeeded');
  for (const a of init.tried) t.diagnostic(`${a.name}: ${a.error ?? 'ok'}`);

  // On this machine the native binaries are absent; then it must be wasm (or cpu, with wasm's reason).
  const nativeMissing = init.tried[0]!.error !== null && init.tried[1]?.error != null;
  if (nativeMissing) {
    assert.ok(['wasm', 'cpu'].includes(init.backend), `backend ${init.backend}`);
    assert.match(init.tried[0]!.error!, /tfjs-node-gpu|binding/);
    assert.match(init.tried[1]!.error!, /tfjs-node|binding/);
    if (init.backend === 'cpu') t.diagnostic(`wasm unavailable here: ${init.tried[2]!.error}`);
    else assert.deepEqual(init.tried[2], { name: 'wasm', error: null });
  }
  assert.equal(tf.getBackend(), init.backend);

  // A real matMul on the active backend (wasm here), against plain JS.
  const n = 33;
  const a = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: n * n }, (_, i) => Math.cos(3 * i));
  const got = tf.tidy(() => tf.matMul(tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])).dataSync());
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k]! * b[k * n + j]!;
      assert.ok(Math.abs(got[i * n + j]! - s) < 1e-4, `matMul[${i},${j}] ${got[i * n + j]} vs ${s}`);
    }
  }
});

test('initTf is idempotent: a later call, whatever it asks for, returns the first result', async () => {
  const again = await initTf('cpu');
  assert.equal(again, init);
  assert.equal(tf.getBackend(), init.backend);
  // After the first call `prefer` is not even looked at.
  assert.equal(await initTf('bogus' as never), init);
});

test('initTf(prefer) in a fresh process: starts the chain there and keeps the later fallbacks', () => {
  const backendTs = fileURLToPath(new URL('../src/main/engine/learner/backend.ts', import.meta.url));
  const run = (prefer: string): TfInitResult => {
    const code = `const { initTf } = await import(${JSON.stringify(backendTs)}); const r = await initTf('${prefer}'); const again = await initTf('auto'); process.stdout.write(JSON.stringify({ ...r, same: r === again }));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const r = JSON.parse(out.slice(out.indexOf('{'))) as TfInitResult & { same: boolean };
    assert.equal(r.same, true, 'idempotent');
    return r;
  };
  assert.deepEqual(run('cpu'), { backend: 'cpu', tried: [{ name: 'cpu', error: null }], same: true });
  const wasm = run('wasm');
  assert.equal(wasm.tried[0]!.name, 'wasm');
  assert.equal(wasm.backend, init.backend === 'cpu' ? 'cpu' : 'wasm');
});

// ---------------------------------------------------------------- divergences

/** Deterministic uniform(0,1) stream. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
}

function softmax(theta: number[]): number[] {
  const m = Math.max(...theta);
  const e = theta.map((x) => Math.exp(x - m));
  const z = e.reduce((u, v) => u + v, 0);
  return e.map((x) => x / z);
}

test('divergences: ∇θ E_Q[f(P/Q)] (central differences) = E_Q[∇θ log Q · ψ(P/Q)], ψ = −reward', () => {
  const S = 5;
  for (const div of DIVERGENCES) {
    const d = DIVERGENCE_INFO[div];
    let ran = 0;
    for (let seed = 1; seed <= 4; seed++) {
      const u = lcg(seed * 7919 + div.length);
      const theta = Array.from({ length: S }, () => 2 * u() - 1);
      const P = softmax(Array.from({ length: S }, () => 2 * (2 * u() - 1)));
      const Q = softmax(theta);
      // Keep away from TV's kink at r = 1 (finite differences are meaningless across it).
      if (P.some((p, s) => Math.abs(p / Q[s]! - 1) < 1e-3)) continue;
      const F = (th: number[]): number => {
        const q = softmax(th);
        return q.reduce((acc, qs, s) => acc + qs * d.f(P[s]! / qs), 0);
      };
      const h = 1e-5;
      for (let j = 0; j < S; j++) {
        const tp = theta.slice();
        const tm = theta.slice();
        tp[j]! += h;
        tm[j]! -= h;
        const fd = (F(tp) - F(tm)) / (2 * h);
        // ∂ log Q(s)/∂θ_j = δ_sj − Q_j; per-state cost ψ(r) = −reward(r).
        let sf = 0;
        for (let s = 0; s < S; s++) sf += Q[s]! * ((s === j ? 1 : 0) - Q[j]!) * -d.reward(P[s]! / Q[s]!);
        assert.ok(
          Math.abs(fd - sf) < 1e-6,
          `${div} seed ${seed} θ_${j}: finite differences ${fd} vs score-function ${sf}`,
        );
      }
      ran++;
    }
    assert.ok(ran >= 3, `${div}: only ${ran} examples away from r = 1`);
  }
});

test('divergences: reward = r f′(r) − f(r), f(1) = 0, and the table of −ψ', () => {
  const table: Record<Divergence, (r: number) => number> = {
    kl: (r) => r,
    rkl: (r) => Math.log(r) - 1, // the table's "log r", shifted by the exact constant −1
    tv: (r) => 0.5 * Math.sign(r - 1),
    hellinger: (r) => Math.sqrt(r) - 1,
    js: (r) => Math.log((1 + r) / 2),
    chi2: (r) => r * r - 1,
  };
  for (const div of DIVERGENCES) {
    const d = DIVERGENCE_INFO[div];
    assert.equal(d.name, div);
    assert.ok(d.label.length > 0 && d.summary.length > 0 && !d.summary.includes('\n'));
    assert.ok(Math.abs(d.f(1)) < 1e-15, `${div}: f(1) = ${d.f(1)}`);
    for (const r of [0.01, 0.25, 0.5, 1, 1.7, 2, 7.5, 40]) {
      const want = table[div](r);
      assert.ok(
        Math.abs(d.reward(r) - want) < 1e-12 * Math.max(1, Math.abs(want)),
        `${div} reward(${r}) = ${d.reward(r)}, table ${want}`,
      );
      const viaF = r * d.fPrime(r) - d.f(r);
      assert.ok(
        Math.abs(d.reward(r) - viaF) < 1e-12 * Math.max(1, Math.abs(want)),
        `${div}: r f′ − f at ${r} = ${viaF}`,
      );
    }
    // f′ against central differences away from kinks.
    for (const r of [0.3, 0.8, 1.4, 3]) {
      const h = 1e-6;
      const fd = (d.f(r + h) - d.f(r - h)) / (2 * h);
      assert.ok(Math.abs(fd - d.fPrime(r)) < 1e-6, `${div} f′(${r}) = ${d.fPrime(r)} vs ${fd}`);
    }
  }
  // A few values written out.
  assert.equal(DIVERGENCE_INFO.kl.reward(2), 2);
  assert.equal(DIVERGENCE_INFO.rkl.reward(1), -1);
  assert.equal(DIVERGENCE_INFO.tv.reward(0.3), -0.5);
  assert.equal(DIVERGENCE_INFO.tv.reward(1), 0);
  assert.equal(DIVERGENCE_INFO.hellinger.reward(4), 1);
  assert.ok(Math.abs(DIVERGENCE_INFO.js.reward(3) - Math.log(2)) < 1e-15);
  assert.equal(DIVERGENCE_INFO.chi2.reward(3), 8);
});

test('divergences: r = 0, huge and infinite r stay finite; rewardOf is the vectorised reward', () => {
  const rs = [0, 1e-300, 1e-20, 1, 1e20, 1e300, Infinity, -1];
  for (const div of DIVERGENCES) {
    const d = DIVERGENCE_INFO[div];
    for (const r of rs) {
      for (const [k, v] of [
        ['f', d.f(r)],
        ['fPrime', d.fPrime(r)],
        ['reward', d.reward(r)],
      ] as const) {
        assert.ok(Number.isFinite(v), `${div}.${k}(${r}) = ${v}`);
      }
    }
    const r32 = Float32Array.from([0, 0.5, 1, 2, 3.4e38]);
    const out = rewardOf(div, r32);
    assert.ok(out instanceof Float64Array && out.length === r32.length);
    r32.forEach((r, i) => assert.equal(out[i], d.reward(r)));
    assert.ok(out.every(Number.isFinite));
    assert.deepEqual(
      Array.from(rewardOf(div, Float64Array.from(rs))),
      rs.map((r) => d.reward(r)),
    );
  }
  assert.equal(DIVERGENCE_INFO.kl.f(0), 0);
  assert.ok(Math.abs(DIVERGENCE_INFO.js.f(0) - Math.log(2)) < 1e-15);
  assert.equal(DIVERGENCE_INFO.hellinger.f(0), 1);
  assert.ok(Math.abs(DIVERGENCE_INFO.rkl.reward(0) - (Math.log(1e-12) - 1)) < 1e-12);
  assert.ok(Number.isNaN(DIVERGENCE_INFO.kl.reward(NaN)), 'NaN ratios are not hidden');
  assert.throws(() => rewardOf('nope' as Divergence, new Float64Array(1)), RangeError);
});

// ---------------------------------------------------------------- PPO

const B = 6;
const K = 4;
const EPS = 0.2;
const LOGITS = [
  [0.2, -0.4, 1.1, 0.0],
  [1.5, 0.3, -0.8, 0.6],
  [0.1, 0.3, -1.2, 0.9], // action 1 masked (its raw logit must not matter)
  [-0.5, 0.0, 0.5, 1.0],
  [2.0, -Infinity, 0.4, -0.3], // action 1 masked and already −∞
  [0.0, 0.0, 0.0, 0.0],
];
const MASK = [
  [1, 1, 1, 1],
  [1, 1, 1, 1],
  [1, 0, 1, 1],
  [1, 1, 1, 1],
  [1, 0, 1, 1],
  [1, 1, 1, 1],
];
const ACTIONS = [2, 0, 3, 1, 0, 2];
const ADV = [1.2, -0.7, 0.3, 0.8, -1.1, -0.4];
// Target ratios: inside (0.9, 1.05) and outside (0.5, 0.7 below 1−ε; 1.3, 1.5 above 1+ε) the clip range.
const RATIOS = [0.5, 0.9, 1.05, 1.5, 0.7, 1.3];

/** Plain-JS masked log-softmax of one row (masked entries −Infinity). */
function refLogSoftmax(row: number[], mask: number[]): number[] {
  let m = -Infinity;
  row.forEach((x, a) => {
    if (mask[a]) m = Math.max(m, x);
  });
  let z = 0;
  row.forEach((x, a) => {
    if (mask[a]) z += Math.exp(x - m);
  });
  const lse = m + Math.log(z);
  return row.map((x, a) => (mask[a] ? x - lse : -Infinity));
}

const OLD = LOGITS.map((row, i) => refLogSoftmax(row, MASK[i]!)[ACTIONS[i]!]! - Math.log(RATIOS[i]!));

/** The whole PPO computation in float64 plain JS. */
function refPpo(logits: number[][]): { loss: number; approxKl: number; clipFrac: number; entropy: number } {
  let loss = 0;
  let kl = 0;
  let cf = 0;
  let ent = 0;
  logits.forEach((row, i) => {
    const lp = refLogSoftmax(row, MASK[i]!);
    const lr = lp[ACTIONS[i]!]! - OLD[i]!;
    const rho = Math.exp(lr);
    const A = ADV[i]!;
    loss += -Math.min(rho * A, Math.min(Math.max(rho, 1 - EPS), 1 + EPS) * A);
    kl += rho - 1 - lr;
    cf += Math.abs(rho - 1) > EPS ? 1 : 0;
    lp.forEach((l, a) => {
      if (MASK[i]![a]) ent -= Math.exp(l) * l;
    });
  });
  return { loss: loss / B, approxKl: kl / B, clipFrac: cf / B, entropy: ent / B };
}

function ppoInputs(logits: number[][] = LOGITS) {
  return {
    logits: tf.tensor2d(logits.flat(), [B, K]),
    actions: tf.tensor1d(ACTIONS, 'int32'),
    oldLogProbs: tf.tensor1d(OLD),
    advantages: tf.tensor1d(ADV),
    mask: tf.tensor2d(MASK.flat(), [B, K]),
    clip: EPS,
  };
}

function tfPpoValues(logits: number[][] = LOGITS): number[] {
  return tf.tidy(() => {
    const r = ppoClipLoss(ppoInputs(logits));
    return [r.loss, r.approxKl, r.clipFrac, r.entropy].map((s) => s.dataSync()[0]!);
  });
}

test('ppoClipLoss: loss, approx KL, clip fraction and entropy match a hand-computed batch', () => {
  const ref = refPpo(LOGITS);
  // By hand: min(ρA, clip(ρ)A) per row = 0.6, −0.63, 0.315, 0.96 (clipped), −0.88 (clipped), −0.52.
  assert.ok(Math.abs(ref.loss - -(0.6 - 0.63 + 0.315 + 0.96 - 0.88 - 0.52) / 6) < 1e-12);
  assert.equal(ref.clipFrac, 4 / 6);
  const [loss, kl, cf, ent] = tfPpoValues();
  assert.ok(Math.abs(loss! - ref.loss) < 1e-5, `loss ${loss} vs ${ref.loss}`);
  assert.ok(Math.abs(kl! - ref.approxKl) < 1e-5, `approxKl ${kl} vs ${ref.approxKl}`);
  assert.ok(Math.abs(cf! - 4 / 6) < 1e-6, `clipFrac ${cf}`);
  assert.ok(Math.abs(ent! - ref.entropy) < 1e-5, `entropy ${ent} vs ${ref.entropy}`);
  // Entropy of the uniform last row alone is log 4, of a 3-action masked row at most log 3.
  assert.ok(ref.entropy < Math.log(4));
});

test('ppoClipLoss: gradient w.r.t. logits matches central differences; masked entries get 0, nothing is NaN', () => {
  const inputs = ppoInputs();
  const grad = tf.tidy(() => {
    const g = tf.grad((z: tf.Tensor) => ppoClipLoss({ ...inputs, logits: z as tf.Tensor2D }).loss);
    return g(inputs.logits).dataSync();
  });
  Object.values(inputs).forEach((v) => (typeof v === 'number' ? null : v.dispose()));
  assert.ok(grad.every(Number.isFinite), 'finite gradient');
  for (let i = 0; i < B; i++) {
    for (let a = 0; a < K; a++) {
      const g = grad[i * K + a]!;
      if (!MASK[i]![a]) {
        assert.equal(g, 0, `masked (${i},${a}) gets no gradient`);
        continue;
      }
      const at = (h: number): number[][] => LOGITS.map((row, r) => row.map((x, c) => (r === i && c === a ? x + h : x)));
      // Against the float64 reference (tight) and against the float32 TF.js loss itself (loose).
      const h64 = 1e-6;
      const fd64 = (refPpo(at(h64)).loss - refPpo(at(-h64)).loss) / (2 * h64);
      assert.ok(Math.abs(g - fd64) < 2e-5, `(${i},${a}) grad ${g} vs float64 finite differences ${fd64}`);
      const h32 = 1e-2;
      const fd32 = (tfPpoValues(at(h32))[0]! - tfPpoValues(at(-h32))[0]!) / (2 * h32);
      assert.ok(Math.abs(g - fd32) < 5e-4, `(${i},${a}) grad ${g} vs TF.js finite differences ${fd32}`);
    }
  }
  // Clipped rows (3: ρ = 1.5 with A > 0; 4: ρ = 0.7 with A < 0) take no gradient at all.
  for (const i of [3, 4]) for (let a = 0; a < K; a++) assert.equal(grad[i * K + a], 0, `clipped row ${i}`);
  // Unclipped rows do.
  for (const i of [0, 1, 2, 5])
    assert.ok(
      grad.slice(i * K, i * K + K).some((g) => Math.abs(g) > 1e-4),
      `row ${i}`,
    );
});

test('ppoClipLoss: the entropy bonus c subtracts c·H from the loss, and its gradient matches finite differences', () => {
  const c = 0.3;
  const ref = (z: number[][]): number => {
    const r = refPpo(z);
    return r.loss - c * r.entropy;
  };
  const inputs = { ...ppoInputs(), entropyCoef: c };
  const [loss, grad] = tf.tidy(() => {
    const l = ppoClipLoss(inputs).loss.dataSync()[0]!;
    const g = tf.grad((z: tf.Tensor) => ppoClipLoss({ ...inputs, logits: z as tf.Tensor2D }).loss)(inputs.logits);
    return [l, g.dataSync()] as const;
  });
  assert.ok(Math.abs(loss - ref(LOGITS)) < 1e-5, `loss ${loss} vs ${ref(LOGITS)}`);
  for (let i = 0; i < B; i++)
    for (let a = 0; a < K; a++) {
      if (!MASK[i]![a]) continue;
      const h = 1e-6;
      const at = (d: number) => LOGITS.map((row, r) => row.map((x, k) => (r === i && k === a ? x + d : x)));
      const fd = (ref(at(h)) - ref(at(-h))) / (2 * h);
      assert.ok(Math.abs(grad[i * K + a]! - fd) < 2e-5, `(${i},${a}) grad ${grad[i * K + a]} vs ${fd}`);
    }
  // The clipped rows, which take no gradient from the clip term, now take the entropy's.
  assert.ok(grad.slice(3 * K, 4 * K).some((g) => Math.abs(g) > 1e-4));
  assert.throws(() => ppoClipLoss({ ...inputs, entropyCoef: -1 }), /entropyCoef must be ≥ 0/);
  Object.values(inputs).forEach((v) => (typeof v === 'number' ? null : v.dispose()));
});

test('ppoUpdate: with advantages of pure noise the bonus keeps a peaked policy from collapsing further', () => {
  // [Note: entropy bonus]: a policy 0.8 on one of 9 actions, updated on advantages that carry no
  // signal. Without the bonus its entropy drifts (here it falls); with c = 0.05 it rises towards log 9.
  const K9 = 9;
  const T = 512;
  const entropyAfter = (c: number): number => {
    const bias = new Float32Array(K9).fill(0);
    bias[4] = Math.log(0.8 / (0.2 / 8)); // π(4) = 0.8, the rest 0.025 each
    const policy = new Mlp(3, 16, 1, K9, 7, { outScale: 1e-3, outBias: bias });
    const opt = tf.train.adam(3e-3);
    const rng = new Stream(11, 0);
    const input = new Float32Array(T * 3).map(() => rng.normal());
    let last = 0;
    for (let it = 0; it < 30; it++) {
      const actions = new Int32Array(T);
      const oldLogProbs = new Float32Array(T);
      const logp = tf.tidy(() => logSoftmaxMasked(policy.apply(tf.tensor2d(input, [T, 3])) as tf.Tensor2D).arraySync());
      for (let t = 0; t < T; t++) {
        let u = rng.uniform();
        let a = 0;
        while (a < K9 - 1 && (u -= Math.exp(logp[t]![a]!)) > 0) a++;
        actions[t] = a;
        oldLogProbs[t] = logp[t]![a]!;
      }
      const advantages = normaliseAdvantages(Float64Array.from({ length: T }, () => rng.normal()));
      const batch = { input, actions, oldLogProbs, mask: new Uint8Array(T * K9).fill(1), advantages };
      const cfg = { ppoEpochs: 4, ppoMinibatch: 128, clip: 0.2, temperature: 1, entropyCoef: c };
      last = ppoUpdate(policy, opt, batch, cfg, rng).entropy;
    }
    policy.dispose();
    opt.dispose();
    return last;
  };
  const start = -(0.8 * Math.log(0.8) + 8 * 0.025 * Math.log(0.025));
  const without = entropyAfter(0);
  const withBonus = entropyAfter(0.05);
  assert.ok(withBonus > start + 0.2, `with the bonus the entropy rises: ${start.toFixed(3)} → ${withBonus.toFixed(3)}`);
  assert.ok(withBonus > without + 0.2, `bonus ${withBonus.toFixed(3)} vs none ${without.toFixed(3)}`);
});

test('logSoftmaxMasked / ppoClipLoss: −∞ and masked logits give no NaN, with or without the mask', () => {
  const vals = tf.tidy(() => {
    const z = tf.tensor2d([0.5, -Infinity, 1.0, -1e9, 2.0, 0.1, -0.3, 0.0], [2, 4]);
    const m = tf.tensor2d([1, 0, 1, 0, 1, 1, 1, 1], [2, 4]);
    const lpMasked = logSoftmaxMasked(z, m).dataSync();
    const lpPlain = logSoftmaxMasked(z).dataSync();
    const args = {
      logits: z,
      actions: tf.tensor1d([2, 0], 'int32'),
      oldLogProbs: tf.tensor1d([-0.5, -1.2]),
      advantages: tf.tensor1d([1, -1]),
      clip: 0.2,
    };
    const noMask = ppoClipLoss(args);
    const withMask = ppoClipLoss({ ...args, mask: m });
    const g = tf
      .grad((x: tf.Tensor) => ppoClipLoss({ ...args, logits: x as tf.Tensor2D, mask: m }).loss)(z)
      .dataSync();
    const gPlain = tf
      .grad((x: tf.Tensor) => ppoClipLoss({ ...args, logits: x as tf.Tensor2D }).loss)(z)
      .dataSync();
    const scalars = [
      noMask.loss,
      noMask.approxKl,
      noMask.entropy,
      withMask.loss,
      withMask.approxKl,
      withMask.entropy,
    ].map((s) => s.dataSync()[0]!);
    return { lpMasked, lpPlain, g, gPlain, scalars };
  });
  for (const lp of [vals.lpMasked, vals.lpPlain]) {
    assert.ok(lp.every((x) => !Number.isNaN(x)));
    const p = Array.from(lp, Math.exp);
    assert.ok(Math.abs(p[0]! + p[1]! + p[2]! + p[3]! - 1) < 1e-6);
    assert.equal(p[1], 0);
    assert.equal(p[3], 0);
  }
  assert.ok(vals.g.every(Number.isFinite) && vals.gPlain.every(Number.isFinite));
  assert.equal(vals.g[1], 0);
  assert.equal(vals.g[3], 0);
  assert.ok(vals.scalars.every(Number.isFinite), `scalars ${vals.scalars}`);
  // Both ways of masking row 0 agree: same loss and entropy (row 1 has no masked entries).
  assert.ok(Math.abs(vals.scalars[0]! - vals.scalars[3]!) < 1e-6);
  assert.ok(Math.abs(vals.scalars[2]! - vals.scalars[5]!) < 1e-6);
  const ent0 = (() => {
    const l = refLogSoftmax([0.5, 0, 1.0, 0], [1, 0, 1, 0]);
    return -(Math.exp(l[0]!) * l[0]! + Math.exp(l[2]!) * l[2]!);
  })();
  const ent1 = (() => {
    const l = refLogSoftmax([2.0, 0.1, -0.3, 0.0], [1, 1, 1, 1]);
    return -l.reduce((s, x) => s + Math.exp(x) * x, 0);
  })();
  assert.ok(Math.abs(vals.scalars[5]! - (ent0 + ent1) / 2) < 1e-5);
});

test('ppoClipLoss: no tensors leak over 50 calls, plain or under optimizer.minimize', () => {
  const inputs = ppoInputs();
  const v = tf.variable(inputs.logits.clone());
  const opt = tf.train.sgd(0.01);
  const step = (): number =>
    tf.tidy(() => {
      const loss = opt.minimize(() => ppoClipLoss({ ...inputs, logits: v as tf.Tensor2D }).loss, true, [
        v,
      ]) as tf.Scalar;
      return loss.dataSync()[0]!;
    });
  step(); // warm-up (optimizer state, if any)
  const before = tf.memory().numTensors;
  for (let k = 0; k < 50; k++) {
    tf.tidy(() => {
      const r = ppoClipLoss(inputs);
      return r.loss.dataSync()[0]! + r.entropy.dataSync()[0]!;
    });
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => ppoClipLoss({ ...inputs, logits: v as tf.Tensor2D }).loss, [v]);
      return value.dataSync()[0]! + grads[v.name]!.dataSync()[0]!;
    });
    assert.ok(Number.isFinite(step()));
  }
  assert.equal(tf.memory().numTensors, before);
  // Descending the loss moved the variable: the loss is differentiable through the logits.
  const moved = tf.tidy(
    () => tf.max(tf.abs(tf.sub(tf.maximum(v, -1e9), tf.maximum(inputs.logits, -1e9)))).dataSync()[0]!,
  );
  assert.ok(moved > 0);
  v.dispose();
  opt.dispose();
  Object.values(inputs).forEach((x) => (typeof x === 'number' ? null : x.dispose()));
});

test('dense: h·W + b with the gradient tfjs gives matMul, to float32 round-off, and no tensors leak', () => {
  const [n, i, o] = [300, 37, 19];
  const h = tf.randomNormal([n, i], 0, 1, 'float32', 1) as tf.Tensor2D;
  const W = tf.randomNormal([i, o], 0, 1, 'float32', 2) as tf.Tensor2D;
  const b = tf.randomNormal([o], 0, 1, 'float32', 3) as tf.Tensor1D;
  const dy = tf.randomNormal([n, o], 0, 1, 'float32', 4) as tf.Tensor2D;
  // A scalar whose gradient w.r.t. the layer's output is dy, through each layer.
  const loss = (f: (h: tf.Tensor2D, W: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D) =>
    tf.grads((x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.mul(f(x as tf.Tensor2D, w as tf.Tensor2D, c as tf.Tensor1D), dy)),
    );
  const maxDiff = (a: tf.Tensor, c: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, c))).dataSync()[0]!);
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const plain = (x: tf.Tensor2D, w: tf.Tensor2D, c: tf.Tensor1D): tf.Tensor2D => tf.add(tf.matMul(x, w), c);
    assert.ok(maxDiff(dense(h, W, b), plain(h, W, b)) < 1e-5, 'value');
    const want = loss(plain)([h, W, b]);
    const got = loss(dense)([h, W, b]);
    ['∂/∂h', '∂/∂W', '∂/∂b'].forEach((what, k) => {
      const scale = tf.max(tf.abs(want[k]!)).dataSync()[0]!;
      assert.deepEqual(got[k]!.shape, want[k]!.shape, what);
      assert.ok(maxDiff(got[k]!, want[k]!) <= 1e-5 * scale, `${what} differs by ${maxDiff(got[k]!, want[k]!)}`);
    });
  });
  assert.equal(tf.memory().numTensors, before);
  [h, W, b, dy].forEach((t) => t.dispose());
});

test('normaliseAdvantages: zero mean, unit (population) std; degenerate batches give zeros', () => {
  const g = Float64Array.from([3, -1, 4, 1, -5, 9, 2, 6]);
  const a = normaliseAdvantages(g);
  const mean = a.reduce((s, x) => s + x, 0) / a.length;
  const std = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length);
  assert.ok(Math.abs(mean) < 1e-12);
  assert.ok(Math.abs(std - 1) < 1e-7);
  const m0 = g.reduce((s, x) => s + x, 0) / g.length;
  const s0 = Math.sqrt(g.reduce((s, x) => s + (x - m0) ** 2, 0) / g.length);
  g.forEach((x, i) => assert.ok(Math.abs(a[i]! - (x - m0) / (s0 + 1e-8)) < 1e-12));
  assert.deepEqual(Array.from(normaliseAdvantages(Float64Array.from([7, 7, 7]))), [0, 0, 0]);
  assert.deepEqual(Array.from(normaliseAdvantages(Float64Array.from([5]))), [0]);
  assert.equal(normaliseAdvantages(new Float64Array(0)).length, 0);
});

// ---------------------------------------------------------------- NFE arithmetic

test('NFE arithmetic: N steps cost N (Euler) or 2N − 1 (Heun, EDM), and budgets buy whole steps', async () => {
  const { nfeToFinish, samplerNfe, stepsReaching, stepsWithin } = await import('../src/main/engine/samplers/cost');
  for (const N of [1, 2, 5, 18]) {
    assert.equal(samplerNfe('euler', N), N);
    assert.equal(samplerNfe('heun', N), 2 * N - 1);
    assert.equal(samplerNfe('edm', N), 2 * N - 1);
    assert.equal(nfeToFinish('heun', N, N), 0, 'nothing left from the terminal level');
  }
  assert.equal(nfeToFinish('heun', 3, 5), 3, 'one full step, then the last without its correction');
  // stepsWithin / stepsReaching against a brute-force search over N, for integer and mean budgets.
  for (const sampler of ['euler', 'heun'] as const) {
    for (const nfe of [1, 2, 9, 10, 11.3, 16.5, 35]) {
      let within = 0;
      while (samplerNfe(sampler, within + 1) <= nfe) within++;
      let reaching = 1;
      while (samplerNfe(sampler, reaching) < nfe) reaching++;
      assert.equal(stepsWithin(sampler, nfe), within, `${sampler} within ${nfe}`);
      assert.equal(stepsReaching(sampler, nfe), reaching, `${sampler} reaching ${nfe}`);
    }
  }
});
