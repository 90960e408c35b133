// Screen 3 — Train (live): progress, the learning curves, the learned profile and the fixed-seed
// samples of each evaluation (a slider looks back). Events are buffered and applied ~10 times a
// second, so thousands of points never stall the page.

import { useEffect, useMemo, useRef, useState } from 'react';
import { Alert, Button, Group, Image, NumberInput, Progress, SimpleGrid, Slider, Stack, Text, Title } from '@mantine/core';
import type { EngineEvent, MetricsEvent, ProfileEvent, SamplesEvent } from '../../../shared/events';
import type { EngineClient } from '../engine/client';
import { LineChart, type ChartPoint } from '../components/LineChart';
import { ProfileHeatmap } from '../components/ProfileHeatmap';

export interface RunView {
  metrics: MetricsEvent[];
  profile: ProfileEvent | null;
  samples: SamplesEvent[];
  logs: string[];
}

const CHARTS: [string, string][] = [
  ['charts/learning_signal_mean', 'Learning signal (mean ± std)'],
  ['losses/discriminator', 'Discriminator loss'],
  ['charts/discriminator_accuracy', 'Discriminator accuracy'],
  ['charts/entropy', 'Policy entropy'],
  ['charts/approx_kl', 'Approx. KL'],
  ['charts/clipfrac', 'Clip fraction'],
  ['charts/nfe', 'NFE per sample'],
  ['eval/fid', 'FID (evaluations)'],
  ['eval/precision', 'Precision'],
  ['eval/recall', 'Recall'],
];

/** The run's events as they arrive, on top of `history` (its metrics lines so far, for a run opened from disk). */
const NO_HISTORY: Record<string, number>[] = [];

export function useRunEvents(engine: EngineClient, run: string | null, history: Record<string, number>[] = NO_HISTORY): RunView {
  const [view, setView] = useState<RunView>({ metrics: [], profile: null, samples: [], logs: [] });
  const buffer = useRef<EngineEvent[]>([]);
  useEffect(() => {
    const past: MetricsEvent[] = run ? history.filter((m) => Number.isFinite(m['iteration'])).map((m) => ({ type: 'metrics', run, iteration: m['iteration']!, metrics: m })) : [];
    setView({ metrics: past, profile: null, samples: [], logs: [] });
    buffer.current = [];
    if (!run) return;
    const off = engine.onEvent((e) => {
      if (('run' in e && e.run === run) || (e.type === 'log' && e.message.startsWith(run))) buffer.current.push(e);
    });
    const timer = setInterval(() => {
      if (buffer.current.length === 0) return;
      const batch = buffer.current;
      buffer.current = [];
      setView((v) => {
        const next: RunView = { metrics: v.metrics, profile: v.profile, samples: v.samples, logs: v.logs };
        for (const e of batch) {
          if (e.type === 'metrics') next.metrics = next.metrics.filter((m) => m.iteration < e.iteration).concat(e);
          else if (e.type === 'profile') next.profile = e;
          else if (e.type === 'samples') next.samples = next.samples.concat(e);
          else if (e.type === 'log') next.logs = next.logs.concat(e.message);
        }
        return next;
      });
    }, 100);
    return () => {
      off();
      clearInterval(timer);
    };
  }, [engine, run, history]);
  return view;
}

/** `view`: the run's events, collected by the app (useRunEvents) so leaving this screen loses nothing. */
export function TrainScreen({ engine, run, iterations, view, onResumed }: { engine: EngineClient; run: string | null; iterations: number; view: RunView; onResumed: (iterations: number) => void }) {
  const [pick, setPick] = useState<number | null>(null);
  const [stopping, setStopping] = useState<'pause' | 'stop' | null>(null);
  // Paused: stopped with its checkpoint, to continue to the same target. Stopped: ended here.
  const [paused, setPaused] = useState(false);
  const [more, setMore] = useState<number | string>(50);
  const [resumeError, setResumeError] = useState<string | null>(null);
  // Logs before this index belong to an earlier session of the run (before a resume).
  const [since, setSince] = useState(0);
  // Each chart's points, recomputed only when metrics arrive (not on every render).
  const points = useMemo(
    () =>
      Object.fromEntries(
        CHARTS.map(([key]): [string, ChartPoint[]] => [
          key,
          view.metrics.filter((m) => m.metrics[key] !== undefined).map((m) => ({ x: m.iteration, y: m.metrics[key]!, band: key === 'charts/learning_signal_mean' ? m.metrics['charts/learning_signal_std'] : undefined })),
        ]),
      ),
    [view.metrics],
  );
  useEffect(() => {
    setSince(0);
    setPaused(false);
  }, [run]);
  if (!run) return <Alert color="yellow">Start a training run on the Tune screen.</Alert>;
  const last = view.metrics[view.metrics.length - 1];
  const done = last?.iteration ?? 0;
  const finished = view.logs.slice(since).some((l) => / (finished|stopped) at iteration/.test(l)) || (view.logs.length === 0 && done >= iterations && done > 0);
  const moreError = Number.isInteger(Number(more)) && Number(more) >= 1 && Number(more) <= 100_000 ? null : 'a whole number from 1 to 100,000';
  const halt = (how: 'pause' | 'stop'): void => {
    setStopping(how);
    void engine
      .request('train.stop', { run })
      .then(() => setPaused(how === 'pause'))
      .finally(() => setStopping(null));
  };
  const resume = async (target: number): Promise<void> => {
    setResumeError(null);
    setPaused(false);
    try {
      setSince(view.logs.length);
      await engine.request('train.resume', { run, iterations: target });
      onResumed(target);
    } catch (e) {
      setResumeError((e as Error).message);
    }
  };
  const perIt = view.metrics.length > 0 ? view.metrics.reduce((s, m) => s + (m.metrics['time/iteration_s'] ?? 0), 0) / view.metrics.length : null;
  const eta = perIt !== null && !finished ? perIt * (iterations - done) : null;
  const shown = pick === null ? view.samples[view.samples.length - 1] : view.samples[Math.min(pick, view.samples.length - 1)];
  return (
    <Stack gap="md">
      <Group justify="space-between">
        <Title order={2}>Train</Title>
        <Group gap="xs" align="end">
          {finished && paused && done < iterations && (
            <Button variant="filled" onClick={() => void resume(iterations)}>
              Continue to {iterations}
            </Button>
          )}
          {finished && !paused && (
            <>
              <NumberInput size="xs" label="More iterations" value={more} onChange={setMore} min={1} max={100000} error={moreError} w={140} />
              <Button variant="light" disabled={moreError !== null} onClick={() => void resume(done + Number(more))}>
                Resume
              </Button>
            </>
          )}
          <Button variant="light" disabled={finished} loading={stopping === 'pause'} onClick={() => halt('pause')} title="stop after the current iteration, keeping the checkpoint, to continue later">
            Pause
          </Button>
          <Button color="red" variant="light" disabled={finished} loading={stopping === 'stop'} onClick={() => halt('stop')} title="end the run after the current iteration (it can still be resumed from Runs)">
            Stop
          </Button>
        </Group>
      </Group>
      {resumeError && <Alert color="red">{resumeError}</Alert>}
      <Text size="sm" c="dimmed">
        {run}
      </Text>
      <div>
        <Progress value={(100 * done) / Math.max(1, iterations)} aria-label="training progress" />
        <Text size="sm" mt={4} data-testid="train-progress">
          iteration {done} / {iterations}
          {eta !== null && ` · about ${Math.ceil(eta)} s left`}
          {finished && (paused ? ' · paused' : ' · done')}
        </Text>
      </div>
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
        {CHARTS.map(([key, title]) => (
          <LineChart key={key} title={title} points={points[key]!} testId={`chart-${key}`} />
        ))}
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        {view.profile ? <ProfileHeatmap actions={view.profile.actions} sigmas={view.profile.sigmas} profile={view.profile.profile} /> : <Text c="dimmed">The profile appears at the first evaluation.</Text>}
        <div>
          <Text size="sm" fw={500}>
            Samples (fixed seed){shown && ` — iteration ${shown.iteration}`}
          </Text>
          {shown ? <Image src={`data:image/png;base64,${shown.pngBase64}`} alt={`samples at iteration ${shown.iteration}`} data-testid="samples" maw={420} /> : <Text c="dimmed">Samples appear at each evaluation.</Text>}
          {view.samples.length > 1 && <Slider mt="sm" min={0} max={view.samples.length - 1} value={pick ?? view.samples.length - 1} onChange={setPick} label={(i) => `iteration ${view.samples[i]?.iteration}`} aria-label="evaluation to show" />}
        </div>
      </SimpleGrid>
      {view.logs.map((l, i) => (
        <Text key={i} size="sm" c={/failed/.test(l) ? 'red' : 'dimmed'}>
          {l}
        </Text>
      ))}
    </Stack>
  );
}
