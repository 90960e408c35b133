// Tune's form for a reward-directed drift policy (intervention "drift"; engine/drift/): the objective
// (ddpo, dpok, q-learning), the base sampler, steps, rewards and β weights up front, every other
// setting under "Advanced". Every field, its bounds, default and help come from the drift policy's
// one schema (shared/drift-config.ts), as `train --intervention drift` takes them; the rewards are
// the learner form's control (a text list, one specification a line). The form is kept per model
// like the others ([Note: kept settings] in TuneScreen.tsx).

import { useKeptForm } from '../components/useKeptForm';
import { Button, Group, Stack, Text } from '@mantine/core';
import type { ModelReport } from '../../../shared/protocol';
import { DEFAULT_DRIFT_CONFIG, DRIFT_FIELDS, driftCost, parseDriftConfig } from '../../../shared/drift-config';
import type { EngineClient } from '../engine/client';
import { KeptFormFields } from '../components/KeptFormFields';
import { count } from '../components/forms';

export function DriftTune({
  engine,
  model,
  onStarted,
}: {
  engine: EngineClient;
  model: ModelReport;
  onStarted: (run: string, iterations: number) => void;
}) {
  const form = useKeptForm({
    fields: DRIFT_FIELDS,
    defaultConfig: DEFAULT_DRIFT_CONFIG,
    parse: parseDriftConfig,
    storageKey: `sampler-studio:tune-drift:${model.summary.dir}`,
  });
  // Only the settings this objective and sampler read (the schema's readWhen): DDIM's η beside the
  // sampler when it samples with ddim, DPOK's β with dpok, q-learning's settings with q-learning.
  const { shown, values, runDir, checked, set } = form;
  const basic = shown.filter((k) => DRIFT_FIELDS[k].group === 'basic' || k === 'eta');
  const rest = shown.filter((k) => !basic.includes(k));
  const defaultRunDir = `runs/${model.summary.id}-drift-${String(values['objective'])}-s${String(values['seed'])}`;
  const cost = checked.config ? driftCost(checked.config) : null;
  const start = () =>
    form.start((p) => engine.request('drift.start', { model: model.summary.dir, ...p }), defaultRunDir, onStarted);
  return (
    <Stack gap="md" data-testid="drift-form">
      <Text size="sm" c="dimmed">
        A drift policy v(x, σ) moves the mean of each step of a stochastic base sampler by c·v (c: the step’s own
        noise), trained for the rewards of the final sample: DDPO (PPO on the terminal reward), DPOK (the same with β
        times the KL to the base sampler) or continuous-time q-learning (an actor–critic that also keeps near the data’s
        score). The initial policy is the base sampler, exactly.
      </Text>
      <KeptFormFields
        fields={DRIFT_FIELDS}
        basic={basic}
        advanced={rest}
        values={values}
        onChange={set}
        runDir={runDir}
        defaultRunDir={defaultRunDir}
        onRunDir={form.setRunDir}
        configError={checked.error}
        startError={form.startError}
      />
      <Text size="sm" data-testid="tune-estimate" c={cost ? undefined : 'dimmed'}>
        {cost
          ? `Cost: ${count(cost.totalPasses)} denoiser passes (${count(cost.trainingPasses)} in training trajectories, ${count(cost.evaluationPasses)} in evaluations and the base sampler's reference); the policy's network and its updates come on top.`
          : 'Cost: fix the settings above to see it.'}
      </Text>
      <Group>
        <Button onClick={() => void start()} disabled={checked.config === null} loading={form.starting}>
          Start training
        </Button>
        <Button
          variant="subtle"
          onClick={form.reset}
          title="every setting back to its default (the form is kept per model)"
        >
          Reset to defaults
        </Button>
      </Group>
    </Stack>
  );
}
