// Screen 2 — Tune: what the policy controls, the divergence, what it sees, the base sampler and the
// training budget. Defaults come from the learner's own hyper-parameter object.

import { useMemo, useState } from 'react';
import { Alert, Button, Group, NumberInput, SegmentedControl, Select, SimpleGrid, Stack, Text, TextInput, Title } from '@mantine/core';
import type { ModelReport } from '../../../shared/protocol';
import { ACTION_PRESETS, CONDITIONINGS, defaultConfig, INTERVENTIONS, type Intervention } from '../../../main/engine/learner/config';
import { DIVERGENCES } from '../../../main/engine/learner/divergences';
import type { EngineClient } from '../engine/client';

const DIVERGENCE_HELP: Record<string, string> = {
  kl: 'KL — covers modes: favours recall (diversity)',
  rkl: 'reverse KL — seeks modes: favours precision (fidelity)',
  tv: 'total variation — bounded signal, robust to outliers',
  hellinger: 'squared Hellinger — between KL and reverse KL',
  js: 'Jensen–Shannon — symmetric, GAN-like',
  chi2: 'Pearson χ² — strongly penalises under-covered regions',
};
const CONDITIONING_HELP: Record<string, string> = { sigma: 'σ only', state: 'the noisy sample and σ', 'state+class': 'sample, σ and class' };

export function TuneScreen({ engine, model, onStarted }: { engine: EngineClient; model: ModelReport | null; onStarted: (run: string, iterations: number) => void }) {
  const [intervention, setIntervention] = useState<Intervention>('cfg');
  const d = useMemo(() => defaultConfig(intervention), [intervention]);
  const [divergence, setDivergence] = useState<string>('kl');
  const [conditioning, setConditioning] = useState<string>('state');
  const [actions, setActions] = useState(ACTION_PRESETS.cfg.join(', '));
  const [steps, setSteps] = useState<number | string>(d.steps);
  const [budget, setBudget] = useState<number | string>(17);
  const [iterations, setIterations] = useState<number | string>(d.iterations);
  const [trajectories, setTrajectories] = useState<number | string>(d.trajectories);
  const [evalEvery, setEvalEvery] = useState<number | string>(d.evalEvery);
  const [evalSamples, setEvalSamples] = useState<number | string>(d.evalSamples);
  const [seed, setSeed] = useState<number | string>(0);
  const [runDir, setRunDir] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);

  const actionValues = actions.split(',').map((s) => Number(s.trim()));
  const actionsError = actionValues.length < 2 || actionValues.some((v) => !Number.isFinite(v)) ? 'at least two numbers, separated by commas' : null;
  const int = (v: number | string, min: number): string | null => (Number.isInteger(Number(v)) && Number(v) >= min ? null : `a whole number ≥ ${min}`);
  const errors = { steps: int(steps, 1), budget: intervention === 'renoise' ? int(budget, 1) : null, iterations: int(iterations, 1), trajectories: int(trajectories, 2), evalEvery: int(evalEvery, 0), evalSamples: int(evalSamples, 100), seed: int(seed, 0) };
  const conditional = (model?.summary.numClasses ?? 0) > 0;
  const invalid = !model || actionsError !== null || Object.values(errors).some((e) => e !== null) || (intervention === 'cfg' && !conditional);
  const defaultRunDir = model ? `runs/${model.summary.id}-${intervention}-${divergence}-s${seed}` : '';

  const choose = (i: Intervention): void => {
    setIntervention(i);
    setActions(ACTION_PRESETS[i].join(', '));
    setSteps(defaultConfig(i).steps);
  };

  const start = async (): Promise<void> => {
    if (!model) return;
    setStarting(true);
    setError(null);
    const config: Record<string, unknown> = {
      intervention,
      divergence,
      conditioning,
      actions: actionValues,
      steps: Number(steps),
      iterations: Number(iterations),
      trajectories: Number(trajectories),
      rolloutBatch: Math.min(1024, Number(trajectories)),
      evalEvery: Number(evalEvery),
      evalSamples: Number(evalSamples),
      seed: Number(seed),
    };
    if (intervention === 'renoise') config['nfeBudget'] = Number(budget);
    try {
      const { run } = await engine.request('train.start', { model: model.summary.dir, runDir: runDir.trim() || defaultRunDir, config });
      onStarted(run, Number(iterations));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setStarting(false);
    }
  };

  return (
    <Stack gap="md" maw={900}>
      <Title order={2}>Tune</Title>
      {!model && <Alert color="yellow">Open a model first (Model screen).</Alert>}
      {model && intervention === 'cfg' && !conditional && <Alert color="yellow">{model.summary.name} is unconditional: guidance needs a class-conditional model. Choose gamma or renoise.</Alert>}
      <div>
        <Text size="sm" fw={500} mb={4}>
          What the policy controls
        </Text>
        <SegmentedControl value={intervention} onChange={(v) => choose(v as Intervention)} data={INTERVENTIONS.map((i) => ({ value: i, label: i === 'cfg' ? 'guidance (cfg)' : i === 'gamma' ? 'stochasticity (γ)' : 'renoise' }))} aria-label="Intervention" />
      </div>
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <Select label="Divergence" value={divergence} onChange={(v) => v && setDivergence(v)} data={DIVERGENCES.map((x) => ({ value: x, label: DIVERGENCE_HELP[x] ?? x }))} allowDeselect={false} />
        <Select label="The policy sees" value={conditioning} onChange={(v) => v && setConditioning(v)} data={CONDITIONINGS.filter((c) => c !== 'state+class' || conditional).map((c) => ({ value: c, label: CONDITIONING_HELP[c]! }))} allowDeselect={false} />
        <TextInput label="Action values" description={intervention === 'cfg' ? 'guidance scales w' : intervention === 'gamma' ? 'churn γ in [0, √2−1]' : 'levels to jump back (0 = continue)'} value={actions} onChange={(e) => setActions(e.currentTarget.value)} error={actionsError} />
        <NumberInput label="Sampler steps" value={steps} onChange={setSteps} min={1} error={errors.steps} />
        {intervention === 'renoise' && <NumberInput label="NFE budget per sample" value={budget} onChange={setBudget} min={1} error={errors.budget} />}
        <NumberInput label="Training iterations" value={iterations} onChange={setIterations} min={1} error={errors.iterations} />
        <NumberInput label="Trajectories per iteration" value={trajectories} onChange={setTrajectories} min={2} error={errors.trajectories} />
        <NumberInput label="Evaluate every (iterations)" value={evalEvery} onChange={setEvalEvery} min={0} error={errors.evalEvery} />
        <NumberInput label="Samples per evaluation" description="FID / precision / recall and the sample grid" value={evalSamples} onChange={setEvalSamples} min={100} error={errors.evalSamples} />
        <NumberInput label="Seed" value={seed} onChange={setSeed} min={0} error={errors.seed} />
        <TextInput label="Run directory" placeholder={defaultRunDir} value={runDir} onChange={(e) => setRunDir(e.currentTarget.value)} />
      </SimpleGrid>
      {error && (
        <Alert color="red" title="Could not start" data-testid="tune-error">
          {error}
        </Alert>
      )}
      <Group>
        <Button onClick={() => void start()} disabled={invalid} loading={starting}>
          Start training
        </Button>
      </Group>
    </Stack>
  );
}
