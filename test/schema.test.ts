// One schema per object: every learner field reaches --help, the flags, the saved config.json and
// the form from its one declaration. Nothing here lists the fields by hand: the tests walk the
// schema, so a new field is covered the moment it is declared.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CONTEXT_DEPENDENT_FIELDS,
  dataKindOf,
  defaultConfig,
  INTERVENTIONS,
  LEARNER_FIELDS,
  learnerConfigFrom,
  parseLearnerConfig,
  type LearnerConfig,
} from '../src/shared/learner-config';
import { DEFAULT_SAMPLER_SETTINGS, parseSamplerSettings, SAMPLER_KNOBS } from '../src/shared/sampler-settings';
import { describeField, fieldError, flagOf, type Field } from '../src/shared/schema';
import { initActionFrom } from '../src/main/engine/learner/config';
import { EDM_STOCHASTIC_PRESETS } from '../src/main/engine/samplers/types';
import { infReplacer, infReviver } from '../src/shared/json';
import { parseTrainArgs, TRAIN_USAGE } from '../src/cli/train-cmd';
import { parseAxis } from '../src/main/engine/grid/axes';
import { UsageError } from '../src/cli/common';

/** A valid value other than the default, from the field's own description. */
function otherValue(key: string, f: Field): unknown {
  switch (f.kind) {
    case 'choice':
      return f.values.find((v) => v !== f.default)!;
    case 'boolean':
      return !f.default;
    case 'number-list':
      return key === 'actions' ? [1, 2, 3] : [...f.default, (f.default.at(-1) ?? 0) + 1];
    case 'nullable-number':
      return 1;
    case 'text-list':
      return ['region:x=1', '-region:y=2,weight=0.5'];
    case 'number': {
      const hi = f.max ?? (f.lt !== undefined ? f.lt : Infinity);
      let v = !Number.isFinite(f.default) ? 40 : f.int ? f.default + 1 : f.default * 1.5 || 0.5;
      if (!(v < hi) && !(f.max !== undefined && v <= f.max)) v = f.int ? f.default - 1 : (f.default + hi) / 2;
      return v;
    }
  }
}

const flagText = (v: unknown): string => (Array.isArray(v) ? v.join(',') : String(v));
/** A field's flag and value as words: a list of texts repeats its flag per entry. */
const flagWords = (flag: string, f: Field, v: unknown): string[] =>
  f.kind === 'text-list' ? (v as string[]).flatMap((t) => [flag, t]) : [flag, flagText(v)];
/** Settings another field's value needs beside it (objective reward needs a reward, and rewards need it). */
const COMPANIONS: Partial<Record<keyof LearnerConfig, Record<string, unknown>>> = {
  objective: { rewards: ['region:x=1'] },
  rewards: { objective: 'reward' },
};
/** … and a field read only under some choice (its readWhen) needs that choice, or train refuses its flag. */
const companionsOf = (k: keyof LearnerConfig): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...COMPANIONS[k] };
  for (const [c, allowed] of Object.entries(LEARNER_FIELDS[k].readWhen ?? {})) {
    out[c] = allowed[0];
    // objective reward needs a reward, unless the field is the rewards themselves.
    if (c === 'objective' && allowed[0] === 'reward' && k !== 'rewards') Object.assign(out, COMPANIONS.objective);
  }
  return out;
};
const companionFlags = (k: keyof LearnerConfig): string[] =>
  Object.entries(companionsOf(k)).flatMap(([c, v]) =>
    flagWords(`--${flagOf(c, LEARNER_FIELDS[c as keyof LearnerConfig])}`, LEARNER_FIELDS[c as keyof LearnerConfig], v),
  );
const fields = Object.entries(LEARNER_FIELDS) as [keyof LearnerConfig, Field][];

test('every learner field appears in train --help with its flag, its bounds and its default', () => {
  for (const [k, f] of fields) {
    const flag = flagOf(k, f);
    assert.ok(flag, `${k} has no flag`);
    const line = TRAIN_USAGE.split('\n').find(
      (l) =>
        l.trimStart().startsWith(`--${flag} `) || l.trim() === `--${flag}` || l.trimStart().startsWith(`--${flag}  `),
    );
    assert.ok(line, `--${flag} is missing from train --help`);
    assert.ok(line.includes(f.help.slice(0, 20)), `--${flag}'s help line lacks its description: ${line}`);
    if (f.kind === 'number')
      assert.ok(line.includes(describeField(f)), `--${flag}'s help line lacks its bounds: ${line}`);
  }
});

test('every learner field is accepted as a flag, and a bad value is refused naming the flag', () => {
  for (const [k, f] of fields) {
    const value = otherValue(k, f);
    assert.equal(fieldError(f, value), null, `${k}: the test's value ${String(value)} is not valid`);
    const flag = `--${flagOf(k, f)}`;
    const args = [
      '--model',
      'gmm-ring8',
      '--run-dir',
      '/nonexistent/run',
      ...(f.kind === 'boolean' ? (value ? [flag] : []) : flagWords(flag, f, value)),
      ...companionFlags(k),
    ];
    if (f.kind === 'boolean' && !value) continue; // a boolean flag only turns its field on
    const parsed = parseTrainArgs(args);
    assert.ok(!parsed.help);
    assert.deepEqual(
      parsed.config[k],
      value,
      `${flag} ${flagText(value)} → ${k} = ${JSON.stringify(parsed.config[k])}`,
    );
    if (f.kind === 'number') {
      const bad = f.min !== undefined ? f.min - 1 : f.gt !== undefined ? f.gt : NaN;
      assert.throws(
        () => parseTrainArgs(['--model', 'gmm-ring8', '--run-dir', '/x', `${flag}=${bad}`]),
        (e: Error) => e instanceof UsageError && e.message.startsWith(`${flag} must be ${describeField(f)}`),
        `${flag}=${bad} was not refused clearly`,
      );
    }
  }
});

test('every learner field round-trips through a saved config (JSON with "inf"), and a corrupted one names the field', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ss-schema-'));
  try {
    for (const [k, f] of fields) {
      const cfg = learnerConfigFrom({ [k]: otherValue(k, f), ...COMPANIONS[k] });
      const file = join(tmp, 'config.json');
      writeFileSync(file, JSON.stringify({ learner: cfg }, infReplacer));
      const back = parseLearnerConfig(
        (JSON.parse(readFileSync(file, 'utf8'), infReviver) as { learner: unknown }).learner,
      );
      assert.deepEqual(back, cfg, k);
      // The same file with this field broken: the error names it and says what it must be.
      const broken = { ...cfg, [k]: f.kind === 'choice' ? 'nonsense' : 'x' };
      assert.throws(
        () => parseLearnerConfig(broken),
        (e: Error) => e.message.startsWith(`${k} must be ${describeField(f)}`),
        k,
      );
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('defaults per intervention: gamma starts from EDM’s published churn, renoise from “continue”, unknown settings are refused', () => {
  const g = defaultConfig('gamma');
  assert.equal(g.initAction, initActionFrom(g, { churn: EDM_STOCHASTIC_PRESETS.imagenet64.churn }));
  assert.equal(defaultConfig('renoise').actions[defaultConfig('renoise').initAction], 0);
  assert.equal(defaultConfig('cfg').actions[defaultConfig('cfg').initAction], 1.5);
  assert.throws(
    () => learnerConfigFrom({ lrDensity: 1 }),
    /unknown setting "lrDensity"; known: intervention, objective, rewards, klCoef, rewardStats, advantageClip, divergence/,
  );
  // Giving the actions makes the initial policy favour the first (the default index may not exist).
  assert.equal(learnerConfigFrom({ actions: [1, 2] }).initAction, 0);
  // A smaller batch of trajectories brings the rollout batch down with it.
  assert.equal(learnerConfigFrom({ trajectories: 64 }).rolloutBatch, 64);
});

test('image models have their own defaults: a CPU-sized budget, for cfg fine guidance scales from w = 1.5, for renoise 9 levels', () => {
  assert.equal(dataKindOf([2]), 'points');
  assert.equal(dataKindOf([1, 28, 28]), 'images');
  for (const i of INTERVENTIONS) {
    const d = defaultConfig(i, 'images');
    assert.deepEqual([d.trajectories, d.rolloutBatch, d.iterations], [256, 256, 100], i);
    assert.equal(defaultConfig(i).trajectories, 1024, `${i} on points keeps the paper-sized batch`);
    // Everything but the image fields is the intervention's default.
    for (const k of Object.keys(d) as (keyof typeof d)[])
      if (!CONTEXT_DEPENDENT_FIELDS.has(k)) assert.deepEqual(d[k], defaultConfig(i)[k], `${i}.${k}`);
  }
  const c = defaultConfig('cfg', 'images');
  assert.deepEqual(c.actions, [1, 1.125, 1.25, 1.375, 1.5, 1.625, 1.75, 2, 2.5]);
  assert.equal(c.actions[c.initAction], 1.5);
  assert.equal(c.entropyCoef, 0.01, 'cfg on images trains with the entropy bonus (it collapsed without)');
  assert.equal(defaultConfig('cfg').entropyCoef, 0, 'the 2-D benchmarks keep PPO as the paper runs it');
  assert.equal(defaultConfig('gamma', 'images').entropyCoef, 0);
  assert.deepEqual(defaultConfig('gamma', 'images').actions, defaultConfig('gamma').actions);
  const r = defaultConfig('renoise', 'images');
  assert.deepEqual([r.steps, r.nfeBudget, r.initMass, r.actions[r.initAction]], [9, 21, 0.9, 0]);
  assert.deepEqual([defaultConfig('renoise').steps, defaultConfig('renoise').nfeBudget], [6, 17]);
  // A partial config is completed with the kind's defaults; what it gives wins.
  assert.equal(learnerConfigFrom({}, undefined, 'images').trajectories, 256);
  assert.equal(learnerConfigFrom({ trajectories: 512 }, undefined, 'images').rolloutBatch, 256);
  assert.equal(learnerConfigFrom({ iterations: 7 }, undefined, 'images').iterations, 7);
  // The CLI picks the kind from the model's manifest.
  const fm = parseTrainArgs(['--model', 'fashion-mnist', '--run-dir', '/x']);
  const ring = parseTrainArgs(['--model', 'gmm-ring8', '--run-dir', '/x']);
  assert.ok(!fm.help && !ring.help);
  assert.deepEqual([fm.config.trajectories, fm.config.actions[fm.config.initAction]], [256, 1.5]);
  assert.equal(ring.config.trajectories, 1024);
  assert.match(TRAIN_USAGE, /image models .* default to 256 trajectories/s);
  assert.match(TRAIN_USAGE, /renoise to 9 levels, NFE budget 21/);
  const rf = parseTrainArgs(['--model', 'fashion-mnist', '--run-dir', '/x', '--intervention', 'renoise']);
  assert.ok(!rf.help);
  assert.deepEqual([rf.config.steps, rf.config.nfeBudget], [9, 21]);
});

test('sampler settings: every knob (flag, grid axis) checks its bounds with the field’s words', () => {
  assert.deepEqual(parseSamplerSettings(structuredClone(DEFAULT_SAMPLER_SETTINGS)), DEFAULT_SAMPLER_SETTINGS);
  for (const knob of SAMPLER_KNOBS) {
    const s = structuredClone(DEFAULT_SAMPLER_SETTINGS);
    knob.set(s, knob.field.min !== undefined ? knob.field.min - 1 : knob.field.gt !== undefined ? knob.field.gt : NaN);
    assert.throws(
      () => parseSamplerSettings(s),
      (e: Error) => e.message.includes(`${knob.name} must be ${describeField(knob.field)}`),
      knob.name,
    );
  }
});

// ---- bounds (issue 13, items 7, 10 and 11) -------------------------------------------------------

/** A finite value above the field's upper bound (its max + something, or its exclusive bound itself). */
function overValue(f: Field): number | null {
  if (f.kind !== 'number' && f.kind !== 'nullable-number') return null;
  if (f.max !== undefined) return f.int ? f.max + 1 : f.max * 2 + 1;
  if (f.lt !== undefined) return f.lt;
  return null;
}

test('every numeric setting has a finite upper bound, and a value above it is refused naming the flag', () => {
  const unbounded: string[] = [];
  for (const [k, f] of fields) {
    if (f.kind !== 'number' && f.kind !== 'nullable-number') continue;
    const over = overValue(f);
    if (over === null) {
      unbounded.push(`--${flagOf(k, f)}`);
      continue;
    }
    const flag = `--${flagOf(k, f)}`;
    assert.throws(
      () => parseTrainArgs(['--model', 'gmm-ring8', '--run-dir', '/x', `${flag}=${over}`]),
      (e: Error) => e instanceof UsageError && e.message.startsWith(`${flag} must be ${describeField(f)}`),
      `${flag}=${over} was not refused`,
    );
  }
  for (const knob of SAMPLER_KNOBS) {
    const over = overValue(knob.field);
    if (over === null) {
      unbounded.push(`--${knob.name}`);
      continue;
    }
    const s = structuredClone(DEFAULT_SAMPLER_SETTINGS);
    knob.set(s, over);
    assert.throws(
      () => parseSamplerSettings(s),
      (e: Error) => e.message.includes(`${knob.name} must be ${describeField(knob.field)}`),
      `${knob.name}=${over} was not refused`,
    );
    // The same bound on the grid axis of that name.
    assert.throws(
      () => parseAxis(`${knob.name}=${over}`),
      (e: Error) => e.message.startsWith(`--axis ${knob.name}: values must be`),
      `--axis ${knob.name}=${over} was not refused`,
    );
  }
  assert.deepEqual(unbounded, [], 'settings without an upper bound');
});

test('the issue’s absurd values are refused, each naming its flag and saying what is valid', () => {
  const train = (...args: string[]): Error => {
    try {
      parseTrainArgs(['--model', 'gmm-ring8', '--run-dir', '/x', ...args]);
    } catch (e) {
      assert.ok(e instanceof UsageError, `${args.join(' ')}: ${String(e)}`);
      return e;
    }
    assert.fail(`${args.join(' ')} was accepted`);
  };
  assert.match(train('--lr-discriminator', 'inf').message, /^--lr-discriminator must be a number in \(0, 1\]/);
  assert.match(train('--lr-policy', '1e30').message, /^--lr-policy must be a number in \(0, 1\], got 1e\+30/);
  assert.match(train('--trajectories', '1e9').message, /^--trajectories must be a whole number in \[2, /);
  assert.match(
    train('--actions', '1,1e30').message,
    /^--actions: guidance scales must be in \[-100, 100\], got 1e\+30/,
  );
  assert.match(
    train('--actions', '1,1').message,
    /^--actions must be 2 to 64 distinct numbers, separated by commas, got \[1, 1\]$/,
  );
  assert.match(train('--actions', '').message, /^--actions must be .*got \[\]$/);
  assert.match(
    train('--intervention', 'gamma', '--actions', '0,5').message,
    /^--actions: churn γ values must be in \[0, √2−1 ≈ 0\.4142\]/,
  );
  assert.match(
    train('--intervention', 'renoise', '--steps', '6', '--actions', '0,1,7').message,
    /^--actions: .*at most the 6 steps/,
  );
  const sampler = (s: Record<string, unknown>): Error => {
    const merged = { ...structuredClone(DEFAULT_SAMPLER_SETTINGS), ...s };
    try {
      parseSamplerSettings(merged);
    } catch (e) {
      return e as Error;
    }
    assert.fail(`${JSON.stringify(s)} was accepted`);
  };
  assert.match(sampler({ eta: 1e9 }).message, /eta must be a number in \[0, 1\]/);
  assert.match(sampler({ guidance: 1e30 }).message, /guidance must be a number in \[-100, 100\]/);
  assert.match(sampler({ steps: 1e9 }).message, /steps must be a whole number in \[1, 1000\]/);
  assert.match(sampler({ sTmin: 10, sTmax: 1 }).message, /s-tmin must be ≤ s-tmax/);
  assert.match(
    sampler({ restart: { ...DEFAULT_SAMPLER_SETTINGS.restart, k: 1_000_000 } }).message,
    /restart-k must be a whole number in \[0, 100\]/,
  );
  assert.match(
    sampler({ restart: { ...DEFAULT_SAMPLER_SETTINGS.restart, tMin: 3, tMax: 2 } }).message,
    /restart-tmin must be < restart-tmax/,
  );
  assert.match(sampler({ sigmaMin: 5, sigmaMax: 1 }).message, /sigma-min must be < sigma-max/);
});
