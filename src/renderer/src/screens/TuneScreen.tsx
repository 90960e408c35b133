// Screen 2 — Tune: what the policy controls, the divergence, what it sees, the base sampler and the
// training budget; every other learner setting under "Advanced". "schedule" is the RL step
// scheduler, with its own settings and form (SchedulerTune.tsx); "drift" a reward-directed drift
// policy, with its own (DriftTune.tsx). Every field, its bounds, default
// and help come from the learner's one schema (shared/learner-config.ts).

import { useEffect, useMemo, useState } from 'react';
import { useLocalStorage } from '@mantine/hooks';
import {
  Alert,
  Button,
  Checkbox,
  Collapse,
  Group,
  SegmentedControl,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import type { Methods, ModelReport, RunKind } from '../../../shared/protocol';
import { clock } from '../../../shared/clock';
import { infReplacer } from '../../../shared/json';
import { reads } from '../../../shared/schema';
import {
  CONDITIONINGS,
  CONTEXT_DEPENDENT_FIELDS,
  dataKindOf,
  defaultConfig,
  INTERVENTIONS,
  LEARNER_FIELDS,
  learnerConfigFrom,
  type DataKind,
  type Intervention,
} from '../../../shared/learner-config';
import type { EngineClient } from '../engine/client';
import { StartProblems } from '../components/StartProblems';
import { count } from '../components/forms';
import { formError, formValueOf, parseFormValue, SchemaFields, type FormValue } from '../components/SchemaFields';
import { SchedulerTune } from './SchedulerTune';
import { DriftTune } from './DriftTune';
import { redisOf, shardSizeError, useWorkersSettings, workersParam } from '../state/workers';

type Key = keyof typeof LEARNER_FIELDS;
const FIELD_KEYS = Object.keys(LEARNER_FIELDS) as Key[];
function formValues(intervention: Intervention, kind: DataKind): Record<string, FormValue> {
  const d = defaultConfig(intervention, kind);
  return Object.fromEntries(FIELD_KEYS.map((k) => [k, formValueOf(LEARNER_FIELDS[k], d[k])]));
}

/** What the form held for a model, as saved: kept per model across screens and reloads ([Note: kept settings]). */
interface SavedTune {
  values: Record<string, FormValue>;
  runDir: string;
  /** A grid result directory whose best sets the initial policy ('' = none). */
  grid: string;
}

// [Note: kept settings]
// The form is saved in the browser's localStorage under the model's directory, on every change, and
// read back when the screen opens for that model (Mantine's useLocalStorage). What is read is
// unknown until checked: only the schema's fields, each a string, number, boolean or null, over the
// defaults; an intervention the model cannot take (cfg on an unconditional model) falls back to the
// defaults.
export function savedTune(raw: unknown, defaults: SavedTune, conditional: boolean): SavedTune {
  if (typeof raw !== 'object' || raw === null) return defaults;
  const r = raw as { values?: unknown; runDir?: unknown; grid?: unknown };
  const values = { ...defaults.values };
  if (typeof r.values === 'object' && r.values !== null)
    for (const k of FIELD_KEYS) {
      const v = (r.values as Record<string, unknown>)[k];
      if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) values[k] = v as FormValue;
    }
  if (!INTERVENTIONS.includes(values['intervention'] as Intervention)) return defaults;
  if (values['intervention'] === 'cfg' && !conditional) return defaults;
  return {
    values,
    runDir: typeof r.runDir === 'string' ? r.runDir : '',
    grid: typeof r.grid === 'string' ? r.grid : '',
  };
}

/**
 * "Quick test": a run small enough to see every part work in a minute or two (a few iterations, few
 * trajectories, a short warm-up, small evaluations), on top of whatever else the form holds.
 */
export const QUICK_TEST = {
  iterations: 5,
  trajectories: 64,
  rolloutBatch: 64,
  discriminatorInitSteps: 50,
  evalEvery: 5,
  evalSamplesPeriodic: 256,
  evalSamples: 512,
} as const satisfies Partial<Record<Key, number>>;

/** What the settings would cost (train.estimate), asked for a moment after the form stops changing. */
function useEstimate(
  engine: EngineClient,
  model: ModelReport | null,
  config: Record<string, unknown> | null,
): Methods['train.estimate']['result'] | null {
  const [estimate, setEstimate] = useState<{ key: string; r: Methods['train.estimate']['result'] } | null>(null);
  const key = model && config ? JSON.stringify([model.summary.dir, config], infReplacer) : null;
  useEffect(() => {
    if (!model || !config || key === null) return;
    let live = true;
    const t = setTimeout(() => {
      engine.request('train.estimate', { model: model.summary.dir, config }).then(
        (r) => live && setEstimate({ key, r }),
        () => live && setEstimate(null), // the settings' own errors are shown by the form
      );
    }, 300);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [engine, key]); // key holds the model and the config
  return estimate && estimate.key === key ? estimate.r : null;
}

export function TuneScreen({
  engine,
  model,
  onStarted,
}: {
  engine: EngineClient;
  model: ModelReport | null;
  onStarted: (run: string, iterations: number, notes: string[], kind: RunKind) => void;
}) {
  // Image models have their own defaults ([Note: image defaults] in shared/learner-config.ts); an
  // unconditional model starts on gamma (it cannot take guidance).
  const kind = dataKindOf(model?.summary.shape ?? []);
  const conditional = (model?.summary.numClasses ?? 0) > 0;
  const defaults = useMemo<SavedTune>(
    () => ({ values: formValues(conditional ? 'cfg' : 'gamma', kind), runDir: '', grid: '' }),
    [conditional, kind],
  );
  // Kept per model (the screen is keyed by it in App): [Note: kept settings].
  const [saved, setSaved] = useLocalStorage<SavedTune>({
    key: `sampler-studio:tune:${model?.summary.dir ?? ''}`,
    defaultValue: defaults,
    getInitialValueInEffect: false,
    deserialize: (text) => {
      try {
        return savedTune(text === undefined ? null : JSON.parse(text), defaults, conditional);
      } catch {
        return defaults;
      }
    },
  });
  const { values, runDir, grid } = saved;
  const setGrid = (g: string): void => setSaved((s) => ({ ...s, grid: g }));
  const setValues = (f: (old: Record<string, FormValue>) => Record<string, FormValue>): void =>
    setSaved((s) => ({ ...s, values: f(s.values) }));
  const setRunDir = (d: string): void => setSaved((s) => ({ ...s, runDir: d }));
  // Rollouts on workers (the Workers screen sets the Redis; state/workers.ts keeps the choice).
  const [workers, setWorkers] = useWorkersSettings();
  const redis = redisOf(workers);
  const onWorkers = workersParam(workers);
  const [advanced, setAdvanced] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const intervention = values['intervention'] as Intervention;
  // The step scheduler and the drift policy have their own settings (shared/scheduler-config.ts,
  // shared/drift-config.ts) and forms; which one shows is kept per model.
  const [mode, setMode] = useLocalStorage<'policy' | 'schedule' | 'drift'>({
    key: `sampler-studio:tune-mode:${model?.summary.dir ?? ''}`,
    defaultValue: 'policy',
    getInitialValueInEffect: false,
  });
  const scheduling = mode === 'schedule';
  const drifting = mode === 'drift';
  const learner = !scheduling && !drifting;

  // Only the settings this objective, initial profile and intervention read are on the form (the
  // schema's readWhen); a hidden one keeps its value but is neither sent nor checked.
  const shownKeys = FIELD_KEYS.filter((k) => reads(LEARNER_FIELDS[k], values));
  // What differs from the intervention's defaults is what the user chose: only that is sent, and the
  // engine fills in the rest from the same schema.
  const chosen = useMemo(() => {
    const d = formValues(intervention, kind);
    return Object.fromEntries(
      shownKeys
        .filter((k) => k === 'intervention' || String(values[k]) !== String(d[k]))
        .map((k) => [k, parseFormValue(LEARNER_FIELDS[k], values[k]!)]),
    );
  }, [values, intervention, kind]);
  const fieldErrors = shownKeys.filter((k) => formError(LEARNER_FIELDS[k], values[k]!) !== null);
  // Checks across fields (e.g. renoise's actions), the engine's own words.
  const configError = useMemo(() => {
    if (fieldErrors.length > 0) return null;
    try {
      learnerConfigFrom(chosen, undefined, kind);
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  }, [chosen, fieldErrors.length, kind]);

  const basic = shownKeys.filter((k) => (LEARNER_FIELDS[k].group ?? 'advanced') === 'basic');
  const rest = shownKeys.filter((k) => (LEARNER_FIELDS[k].group ?? 'advanced') === 'advanced');
  const gridClash = grid.trim() !== '' && chosen['initAction'] !== undefined;
  const workersError =
    workers.onWorkers && redis !== null ? (redis.problem ?? shardSizeError(workers.shardSize)) : null;
  const invalid =
    !model ||
    fieldErrors.length > 0 ||
    configError !== null ||
    (intervention === 'cfg' && !conditional) ||
    gridClash ||
    workersError !== null;
  // Named by what the policy is trained for: the divergence, or "reward" for explicit rewards.
  const target = values['objective'] === 'reward' ? 'reward' : String(values['divergence']);
  const defaultRunDir = model ? `runs/${model.summary.id}-${intervention}-${target}-s${String(values['seed'])}` : '';

  const set = (key: string, v: FormValue): void => setValues((old) => ({ ...old, [key]: v }));
  // Fields whose default depends on the intervention or the data kind follow them when they change.
  const follow = (i: Intervention, k: DataKind): void => {
    const d = formValues(i, k);
    setValues((old) => ({
      ...Object.fromEntries(Object.entries(old).map(([f, v]) => [f, CONTEXT_DEPENDENT_FIELDS.has(f) ? d[f]! : v])),
      intervention: i,
    }));
  };
  const choose = (i: Intervention): void => follow(i, kind);

  const start = async (): Promise<void> => {
    if (!model) return;
    setStarting(true);
    setError(null);
    try {
      // The suggested name gets a free suffix (-2, -3, …) when an earlier run has it; a typed one is refused if taken.
      const { run, notes } = await engine.request('train.start', {
        model: model.summary.dir,
        runDir: runDir.trim() || defaultRunDir,
        config: chosen,
        unique: runDir.trim() === '',
        ...(grid.trim() ? { initFromGrid: grid.trim() } : {}),
        ...(onWorkers ? { workers: onWorkers } : {}),
      });
      onStarted(run, Number(parseFormValue(LEARNER_FIELDS.iterations, values['iterations']!)), notes, 'learner');
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setStarting(false);
    }
  };

  const estimate = useEstimate(engine, invalid ? null : model, invalid ? null : chosen);
  const quickTest = (): void =>
    setValues((old) => ({
      ...old,
      ...Object.fromEntries(Object.entries(QUICK_TEST).map(([k, v]) => [k, formValueOf(LEARNER_FIELDS[k as Key], v)])),
    }));
  const conditionings = CONDITIONINGS.filter((c) => c !== 'state+class' || conditional);
  return (
    <Stack gap="md" maw={900}>
      <Title order={2}>Tune</Title>
      {!model && <Alert color="yellow">Open a model first (Model screen).</Alert>}
      {model && learner && intervention === 'cfg' && !conditional && (
        <Alert color="yellow">
          {model.summary.name} is unconditional: guidance needs a class-conditional model. Choose gamma or renoise.
        </Alert>
      )}
      <div>
        <Text size="sm" fw={500} mb={4}>
          What the policy controls
        </Text>
        <SegmentedControl
          value={learner ? intervention : mode}
          onChange={(v) => {
            setMode(v === 'schedule' || v === 'drift' ? v : 'policy');
            if (v !== 'schedule' && v !== 'drift') choose(v as Intervention);
          }}
          data={[
            ...INTERVENTIONS.map((i) => ({ value: i, label: LEARNER_FIELDS.intervention.labels?.[i] ?? i })),
            { value: 'schedule', label: 'schedule (RL step scheduler)' },
            { value: 'drift', label: 'drift (reward-directed drift policy)' },
          ]}
          aria-label="Intervention"
          data-testid="field-intervention"
        />
      </div>
      {scheduling && model && (
        <SchedulerTune engine={engine} model={model} onStarted={(run, n) => onStarted(run, n, [], 'scheduler')} />
      )}
      {drifting && model && (
        <DriftTune engine={engine} model={model} onStarted={(run, n) => onStarted(run, n, [], 'drift')} />
      )}
      {learner && (
        <>
          <SchemaFields
            fields={LEARNER_FIELDS}
            keys={basic}
            values={values}
            onChange={set}
            options={{ conditioning: conditionings }}
          />
          <TextInput
            label="Start from a grid result (optional)"
            description="a `grid` output directory: its best constant (or best guidance interval) becomes the initial policy, instead of the initial action above"
            placeholder="runs/grid-w"
            value={grid}
            onChange={(e) => setGrid(e.currentTarget.value)}
            error={
              gridClash
                ? 'give either an initial action or a grid to start from, not both (reset the initial action)'
                : null
            }
            maw={440}
          />
          <TextInput
            label="Run directory"
            placeholder={defaultRunDir}
            description="empty: the name shown, with -2, -3, … added if an earlier run has it"
            value={runDir}
            onChange={(e) => setRunDir(e.currentTarget.value)}
            maw={440}
          />
          <div>
            <Button variant="subtle" px={0} onClick={() => setAdvanced((a) => !a)} aria-expanded={advanced}>
              {advanced ? '▾' : '▸'} Advanced ({rest.length} settings)
            </Button>
            <Collapse expanded={advanced}>
              <div data-testid="advanced">
                <SchemaFields fields={LEARNER_FIELDS} keys={rest} values={values} onChange={set} cols={3} />
              </div>
            </Collapse>
          </div>
          {redis !== null && (
            <Group align="start" data-testid="on-workers">
              <Checkbox
                mt={4}
                label={`Run on workers (${redis.shown})`}
                description="the rollouts go to the workers listed on the Workers screen; the same numbers as here"
                checked={workers.onWorkers}
                error={workers.onWorkers && redis.problem ? `the Redis URL: ${redis.problem} (Workers screen)` : null}
                onChange={(e) => {
                  const checked = e.currentTarget.checked;
                  setWorkers((w) => ({ ...w, onWorkers: checked }));
                }}
              />
              {workers.onWorkers && (
                <TextInput
                  size="xs"
                  label="Trajectories per shard"
                  placeholder={String(values['rolloutBatch'])}
                  description="empty: the rollout batch"
                  value={workers.shardSize}
                  onChange={(e) => {
                    const shardSize = e.currentTarget.value;
                    setWorkers((w) => ({ ...w, shardSize }));
                  }}
                  error={shardSizeError(workers.shardSize)}
                  w={180}
                />
              )}
            </Group>
          )}
          <StartProblems config={configError} start={error} />
          <Text size="sm" data-testid="tune-estimate" c={estimate ? undefined : 'dimmed'}>
            {estimate
              ? `Cost: ${estimate.upperBound ? 'at most ' : ''}${count(estimate.totalPasses)} denoiser passes (${estimate.nfePerTrajectory} NFE × ${estimate.passesPerNfe} per trajectory; ${count(estimate.evaluationPasses)} of them in evaluations), ≈ ${estimate.denoiserSeconds < 60 ? `${estimate.denoiserSeconds.toPrecision(2)} s` : clock(estimate.denoiserSeconds)} in the denoiser alone on this machine (measured: ${count(estimate.passesPerSecond)} passes/s); the encoder, discriminator and PPO come on top.`
              : invalid
                ? 'Cost: fix the settings above to see it.'
                : 'Cost: measuring…'}
          </Text>
          <Group>
            <Button onClick={() => void start()} disabled={invalid} loading={starting}>
              Start training
            </Button>
            <Button
              variant="default"
              onClick={quickTest}
              title="5 iterations of 64 trajectories, a short warm-up and small evaluations: every part of a run in a minute or two"
            >
              Quick test settings
            </Button>
            <Button
              variant="subtle"
              onClick={() => setSaved(defaults)}
              title="every setting back to its default for this model (the form is kept per model)"
            >
              Reset to defaults
            </Button>
          </Group>
        </>
      )}
    </Stack>
  );
}
