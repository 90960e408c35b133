// Screen — X/Y plot (A1111's X/Y/Z plot, with the numbers next to the pictures): the open model
// sampled over one or two axes of sampler settings with the same seed in every cell, each cell's
// samples under its FID and NFE, the best one outlined. The engine computes it as a grid with
// pictures (grid.xy, the CLI's `grid --images`) in a folder, so a plot is never lost: the same
// settings again continue or re-read it; the form is kept per model.

import { useMemo, useState } from 'react';
import {
  Alert,
  Box,
  Button,
  Code,
  Group,
  NumberInput,
  Progress,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useLocalStorage } from '@mantine/hooks';
import type { EngineEvent, ProgressEvent } from '../../../shared/events';
import type { Methods, ModelReport } from '../../../shared/protocol';
import { SAMPLER_FIELDS, SAMPLERS, SCHEDULES } from '../../../shared/sampler-settings';
import { clock } from '../../../shared/clock';
import type { EngineClient } from '../engine/client';
import { useEventBacklog } from '../hooks/useEventBacklog';
import { Picture } from '../components/Picture';
import { wholeNumberError } from '../components/forms';

type XyPlot = Methods['grid.xy']['result'];

interface PlotForm {
  sampler: string;
  steps: number | string;
  schedule: string;
  x: string;
  y: string;
  n: number | string;
  seed: number | string;
  out: string;
}

/** The form a model starts with: guidance × churn where it is conditional, churn × steps where not. */
export function plotDefaults(conditional: boolean, runsRoot: string, id: string): PlotForm {
  return {
    sampler: 'edm',
    steps: 18,
    schedule: 'edm',
    x: conditional ? 'guidance=1,1.5,2,3' : 'churn=0,2,5,10',
    y: conditional ? 'churn=0,2' : 'steps=10,18',
    n: 500,
    seed: 0,
    out: `${runsRoot.replace(/\/+$/, '')}/xy-${id}`,
  };
}

export function PlotScreen({
  engine,
  model,
  runsRoot,
}: {
  engine: EngineClient;
  model: ModelReport | null;
  runsRoot: string;
}) {
  const conditional = (model?.summary.numClasses ?? 0) > 0;
  const defaults = useMemo(
    () => plotDefaults(conditional, runsRoot, model?.summary.id ?? 'model'),
    [conditional, runsRoot, model?.summary.id],
  );
  const [form, setForm] = useLocalStorage<PlotForm>({
    key: `sampler-studio:plot:${model?.summary.dir ?? ''}`,
    defaultValue: defaults,
    getInitialValueInEffect: false,
  });
  const set = (patch: Partial<PlotForm>): void => setForm((f) => ({ ...f, ...patch }));
  const [plot, setPlot] = useState<XyPlot | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<ProgressEvent | null>(null);
  const out = form.out.trim();
  const accept = useMemo(
    () =>
      (e: EngineEvent): e is ProgressEvent =>
        e.type === 'progress' && e.task === 'grid',
    [],
  );
  useEventBacklog(engine, busy ? accept : null, (batch) => setProgress(batch[batch.length - 1] ?? null));
  if (!model) return <Alert color="yellow">Open a model first (Model screen).</Alert>;

  const nError = wholeNumberError(form.n, 2, 100_000);
  const stepsError = wholeNumberError(form.steps, 1, 1000);
  const seedError = wholeNumberError(form.seed, 0, 2 ** 31 - 1);
  const axes = [form.x, form.y].map((a) => a.trim()).filter((a) => a !== '');
  const invalid = nError !== null || stepsError !== null || seedError !== null || axes.length === 0 || out === '';
  const run = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    setProgress(null);
    try {
      setPlot(
        await engine.request('grid.xy', {
          model: model.summary.dir,
          out,
          axes,
          sampler: form.sampler as (typeof SAMPLERS)[number],
          steps: Number(form.steps),
          schedule: (form.schedule ?? 'edm') as (typeof SCHEDULES)[number],
          n: Number(form.n),
          seed: Number(form.seed),
        }),
      );
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack gap="md">
      <Title order={2}>X/Y plot</Title>
      <Text size="sm" c="dimmed">
        {model.summary.name} sampled over one or two axes of sampler settings, the same seed (the same noise and
        classes) in every cell, each cell’s samples under its FID and NFE. Axes as in <Code>grid --axis</Code>: a
        setting and its values (guidance, churn, steps, s-tmin, s-tmax, guidance-sigma-lo, …), e.g.{' '}
        <Code>guidance=1,1.5,2</Code> or <Code>churn=0:4:1</Code>.
      </Text>
      <Group align="start">
        <Select
          label="Sampler"
          data={[...SAMPLERS]}
          value={form.sampler}
          onChange={(v) => v && set({ sampler: v })}
          allowDeselect={false}
          w={120}
        />
        <NumberInput
          label="Steps"
          value={form.steps}
          onChange={(v) => set({ steps: v })}
          error={stepsError}
          clampBehavior="none"
          w={90}
        />
        <Select
          label="Schedule"
          data={SCHEDULES.map((v) => ({ value: v, label: SAMPLER_FIELDS.schedule.labels?.[v] ?? v }))}
          value={form.schedule ?? 'edm'}
          onChange={(v) => v && set({ schedule: v })}
          allowDeselect={false}
          w={170}
        />
        <TextInput label="X axis (across)" value={form.x} onChange={(e) => set({ x: e.currentTarget.value })} w={220} />
        <TextInput
          label="Y axis (down, optional)"
          value={form.y}
          onChange={(e) => set({ y: e.currentTarget.value })}
          w={220}
        />
        <NumberInput
          label="Samples per cell"
          value={form.n}
          onChange={(v) => set({ n: v })}
          error={nError}
          clampBehavior="none"
          w={140}
        />
        <NumberInput
          label="Seed"
          value={form.seed}
          onChange={(v) => set({ seed: v })}
          error={seedError}
          clampBehavior="none"
          w={100}
        />
      </Group>
      <Group align="end">
        <TextInput
          label="Folder"
          description="where the plot is kept (results.json, cells/, xy.html); the same settings again continue it"
          value={form.out}
          onChange={(e) => set({ out: e.currentTarget.value })}
          w={440}
        />
        <Button onClick={() => void run()} loading={busy} disabled={invalid}>
          Plot
        </Button>
        <Button variant="subtle" onClick={() => setForm(defaults)}>
          Reset to defaults
        </Button>
      </Group>
      {busy && (
        <Group gap="xs" data-testid="plot-progress">
          <Text size="sm" c="dimmed">
            {progress
              ? `${progress.done} of ${progress.total} cells${progress.phase ? ` · ${progress.phase.label}: ${Math.floor(progress.phase.done).toLocaleString('en')} / ${progress.phase.total.toLocaleString('en')} samples` : ''} · elapsed ${clock(progress.elapsedSeconds)}${progress.etaSeconds !== null ? ` · about ${clock(progress.etaSeconds)} left` : ''}`
              : 'starting…'}
          </Text>
          {progress && (
            <Progress
              value={(100 * progress.done) / Math.max(1, progress.total)}
              size="sm"
              w={160}
              aria-label="plot progress"
            />
          )}
        </Group>
      )}
      {error && (
        <Alert color="red" title="Could not plot">
          {error}
        </Alert>
      )}
      {plot && <XyTable plot={plot} />}
    </Stack>
  );
}

function XyTable({ plot }: { plot: XyPlot }) {
  return (
    <Stack gap="xs">
      <Box style={{ overflowX: 'auto' }}>
        <Table withTableBorder withColumnBorders data-testid="xy-plot" w="auto">
          <Table.Thead>
            <Table.Tr>
              <Table.Th />
              {plot.x.values.map((v) => (
                <Table.Th key={v} ta="center">
                  {plot.x.name}={v}
                </Table.Th>
              ))}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {plot.cells.map((row, i) => (
              <Table.Tr key={i}>
                <Table.Th w="1%" style={{ whiteSpace: 'nowrap' }}>
                  {plot.y.rows[i]}
                </Table.Th>
                {row.map((c, j) => (
                  <Table.Td
                    key={j}
                    w={240}
                    data-testid="xy-cell"
                    data-best={c?.best ?? false}
                    style={
                      c?.best ? { outline: '3px solid var(--mantine-color-green-6)', outlineOffset: -3 } : undefined
                    }
                  >
                    {c === null ? (
                      <Text size="xs" c="dimmed">
                        not computed
                      </Text>
                    ) : (
                      <>
                        {c.pngBase64 && <Picture png={c.pngBase64} alt={`cell ${c.index + 1}`} thumbnail={200} />}
                        <Text size="xs" ta="center" fw={c.best ? 700 : undefined}>
                          {c.caption}
                          {c.best && ' · best'}
                        </Text>
                      </>
                    )}
                  </Table.Td>
                ))}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Box>
      <Text size="xs" c="dimmed">
        {plot.model}: {plot.n} samples per cell, seed {plot.seed} in every cell; best by {plot.metric} outlined. Click a
        picture to open it larger. Kept as <Code>{plot.html}</Code>.
      </Text>
    </Stack>
  );
}
