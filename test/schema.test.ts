// One schema per object: every learner field reaches --help, the flags, the saved config.json and
// the form from its one declaration. Nothing here lists the fields by hand: the tests walk the
// schema, so a new field is covered the moment it is declared.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defaultConfig,
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
    case 'number': {
      const hi = f.max ?? (f.lt !== undefined ? f.lt : Infinity);
      let v = !Number.isFinite(f.default) ? 40 : f.int ? f.default + 1 : f.default * 1.5 || 0.5;
      if (!(v < hi) && !(f.max !== undefined && v <= f.max)) v = f.int ? f.default - 1 : (f.default + hi) / 2;
      return v;
    }
  }
}

const flagText = (v: unknown): string => (Array.isArray(v) ? v.join(',') : String(v));
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
      ...(f.kind === 'boolean' ? (value ? [flag] : []) : [flag, flagText(value)]),
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
      const cfg = learnerConfigFrom({ [k]: otherValue(k, f) });
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
    /unknown setting "lrDensity"; known: intervention, divergence/,
  );
  // Giving the actions makes the initial policy favour the first (the default index may not exist).
  assert.equal(learnerConfigFrom({ actions: [1, 2] }).initAction, 0);
  // A smaller batch of trajectories brings the rollout batch down with it.
  assert.equal(learnerConfigFrom({ trajectories: 64 }).rolloutBatch, 64);
});

test('sampler settings: every knob (flag, grid axis) checks its bounds with the field’s words', () => {
  assert.deepEqual(parseSamplerSettings(structuredClone(DEFAULT_SAMPLER_SETTINGS)), DEFAULT_SAMPLER_SETTINGS);
  for (const knob of SAMPLER_KNOBS) {
    const s = structuredClone(DEFAULT_SAMPLER_SETTINGS);
    knob.set(s, knob.field.min !== undefined ? knob.field.min - 1 : knob.field.gt !== undefined ? knob.field.gt : NaN);
    if (knob.name === 'guidance') continue; // any finite w is valid
    assert.throws(
      () => parseSamplerSettings(s),
      (e: Error) => e.message.includes(`${knob.name} must be ${describeField(knob.field)}`),
      knob.name,
    );
  }
});
