// Tune's form for the RL step scheduler (intervention "schedule"): its NFE budget, solver, reward and
// state up front, every other setting under "Advanced". Every field, its bounds, default and help
// come from the scheduler's one schema (shared/scheduler-config.ts), as `train --intervention
// schedule` takes them; the form is kept per model like the learner's ([Note: kept settings]).

import { useKeptForm } from '../components/useKeptForm';
import { Button, Group, Stack, Text } from '@mantine/core';
import type { ModelReport } from '../../../shared/protocol';
import {
  DEFAULT_SCHEDULER_CONFIG,
  parseSchedulerConfig,
  SCHEDULER_FIELDS,
  schedulerCost,
} from '../../../shared/scheduler-config';
import type { EngineClient } from '../engine/client';
import { KeptFormFields } from '../components/KeptFormFields';
import { count } from '../components/forms';

export function SchedulerTune({
  engine,
  model,
  onStarted,
}: {
  engine: EngineClient;
  model: ModelReport;
  onStarted: (run: string, iterations: number) => void;
}) {
  const form = useKeptForm({
    fields: SCHEDULER_FIELDS,
    defaultConfig: DEFAULT_SCHEDULER_CONFIG,
    parse: parseSchedulerConfig,
    storageKey: `sampler-studio:tune-schedule:${model.summary.dir}`,
  });
  // Only the settings the chosen reward reads (the schema's readWhen): the occupancy reward's divergence
  // and discriminator, the explicit rewards' list, the real samples the others score against.
  const { shown, values, runDir, checked, set } = form;
  const basic = shown.filter((k) => SCHEDULER_FIELDS[k].group === 'basic');
  const rest = shown.filter((k) => !basic.includes(k));
  const defaultRunDir = `runs/${model.summary.id}-schedule-${String(values['sampler'])}-nfe${String(values['nfeBudget'])}-s${String(values['seed'])}`;
  const cost = checked.config ? schedulerCost(checked.config) : null;
  const start = () =>
    form.start((p) => engine.request('scheduler.start', { model: model.summary.dir, ...p }), defaultRunDir, onStarted);
  return (
    <Stack gap="md" data-testid="scheduler-form">
      <Text size="sm" c="dimmed">
        The RL step scheduler learns, per sample, how far to step next under the NFE budget: an action Δ ∈ [0, 1], the
        fraction of the remaining log-σ range (Δ = sigmoid(u), u from a Gaussian whose std decays over training), PPO on
        a terminal reward. It samples unguided (w = 1). Its mean schedule is a --sigmas file.
      </Text>
      <KeptFormFields
        fields={SCHEDULER_FIELDS}
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
          ? `Cost: at most ${count(cost.totalPasses)} denoiser passes (${count(cost.trainingPasses)} in training episodes, ${count(cost.evaluationPasses)} in evaluations): each sample spends at most its budget of ${String(values['nfeBudget'])} evaluations${values['state'] === 'encoder' ? ', and the encoder state one more pass per decision' : ''}.`
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
