// Screen 3 — Train (live): progress, the learning curves (the catalogue's Train charts, one cursor
// across them), the learned profile and the fixed-seed samples of each evaluation (a slider looks
// back); for a step scheduler run, its charts and the learned step sizes (σ by step, with the spread
// over samples) of its latest evaluation; for a drift policy run, its reward (the base sampler's as
// the reference line), its KL to the base sampler and the samples of each evaluation. The events come from the app's useRunEvents (batched ~10 Hz); whether the run is training,
// paused, finished, stopped or failed is the state of its last run event.

import { memo, useEffect, useMemo, useState } from 'react';
import {
  Alert,
  Button,
  Group,
  NumberInput,
  Progress,
  SimpleGrid,
  Slider,
  Stack,
  Table,
  Text,
  Title,
  Tooltip,
} from '@mantine/core';
import { isTerminal, type MetricsEvent, type RunState } from '../../../shared/events';
import {
  DRIFT_CHARTS,
  formatReward,
  REWARD_CHARTS,
  SCHEDULER_CHARTS,
  TRAIN_CHARTS,
  type MetricInfo,
} from '../../../shared/metrics';
import type { LevelsEvent } from '../../../shared/events';
import type { ChartData } from '../components/chartData';
import type { EngineClient } from '../engine/client';
import type { Methods } from '../../../shared/protocol';
import { clock } from '../../../shared/clock';
import type { RunStatus, RunView } from '../hooks/useRunEvents';
import { useStaggered } from '../hooks/useStaggered';
import { LineChart } from '../components/LineChart';
import { SmoothingSlider, useSmoothing } from '../components/Smoothing';
import { metricChart, metricChartWithBase } from '../components/chartData';
import { ProfileHeatmap } from '../components/ProfileHeatmap';
import { Picture } from '../components/Picture';
import { wholeNumberError } from '../components/forms';
import { timeBreakdown, type TimeBreakdown } from '../components/timeBreakdown';
import { useWorkersSettings, workersParam } from '../state/workers';

/** How the progress line names each state. */
const STATE_WORDS: Record<RunState, string> = {
  started: 'training',
  paused: 'paused',
  finished: 'finished',
  stopped: 'stopped',
  failed: 'failed',
};

const CHART_HEIGHT = 150;

/** A drift run's evaluation reward is drawn with the base sampler's on the same seed as its reference line. */
const DRIFT_BASE_LINE: Record<string, { key: string; label: string }> = {
  'eval/reward_mean': { key: 'eval/reward_base', label: 'base sampler' },
};

/** One Train chart: its columns are recomputed only when the metrics change (not on every render of the screen). */
const TrainChart = memo(function TrainChart({
  info,
  metrics,
  smoothing,
}: {
  info: MetricInfo;
  metrics: MetricsEvent[];
  smoothing: number;
}) {
  const chart = useMemo(() => {
    const base = DRIFT_BASE_LINE[info.key];
    return base ? metricChartWithBase(metrics, info, base) : metricChart(metrics, info);
  }, [metrics, info]);
  return (
    <LineChart
      title={info.label}
      help={info.help}
      chart={chart}
      metric={info.key}
      bandMetric={info.band}
      log={info.log}
      height={CHART_HEIGHT}
      sync="train"
      smoothing={smoothing}
      testId={`chart-${info.key}`}
    />
  );
});

/**
 * A step scheduler's learned step sizes: σ against step at its latest evaluation, the mean over the
 * samples with their 10–90% spread as a band (the policy steps differently per sample), on a log axis.
 */
function LevelsChart({ levels }: { levels: LevelsEvent }) {
  // The last level, σ = 0, has no place on a log axis: the steps drawn are those to a positive σ.
  const chart = useMemo<ChartData>(() => {
    const steps = levels.steps.filter((s) => s.p10 > 0);
    return {
      data: [steps.map((s) => s.step), steps.map((s) => s.mean), steps.map((s) => s.p10), steps.map((s) => s.p90)],
      names: ['σ (mean)'],
      band: true,
    };
  }, [levels]);
  const fmt = (v: number): string => String(Number(v.toPrecision(3)));
  return (
    <Stack gap={4} data-testid="levels">
      <LineChart
        title={`Learned step sizes: σ by step — iteration ${levels.iteration} (${levels.n.toLocaleString('en')} samples; band: 10–90% of them)`}
        help="each step's noise level σ_k over the evaluation's samples that reach step k: the mean, and the 10% and 90% quantiles as a band; the last step goes to σ = 0"
        chart={chart}
        metric="sigma"
        log
        xLabel="step"
        bandRange
        height={220}
        testId="chart-levels"
      />
      <Text size="xs" c="dimmed" data-testid="levels-rows">
        samples reaching each step: {levels.steps.map((s) => s.rows).join(', ')}
      </Text>
      <Text size="xs" c="dimmed" data-testid="levels-schedule">
        mean schedule (schedule.json, a --sigmas file): [{levels.schedule.map(fmt).join(', ')}]
      </Text>
    </Stack>
  );
}

const PART_COLORS = ['grape', 'violet', 'indigo', 'blue', 'cyan', 'teal', 'green', 'gray'];
const seconds = (s: number): string => (s < 0.1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`);

/**
 * Where the latest iteration's time went (components/timeBreakdown.ts): a stacked bar of its parts
 * and their seconds — on workers the queue's publish, wait and gather apart from the learner's own
 * discriminator and PPO.
 */
function TimeBreakdownView({ t }: { t: TimeBreakdown }) {
  return (
    <Stack gap={4} data-testid="time-breakdown" data-on-workers={t.onWorkers}>
      <Text size="sm" fw={500}>
        Where the time went — iteration {t.iteration}: {seconds(t.total)}
        {t.onWorkers ? ', rollouts on workers' : ''}
      </Text>
      <Progress.Root size={18}>
        {t.parts.map((p, i) => (
          <Tooltip key={p.label} label={`${p.label}: ${seconds(p.seconds)}`}>
            <Progress.Section value={(100 * p.seconds) / t.total} color={PART_COLORS[i % PART_COLORS.length]}>
              <Progress.Label>{p.seconds / t.total > 0.12 ? p.label : ''}</Progress.Label>
            </Progress.Section>
          </Tooltip>
        ))}
      </Progress.Root>
      <Table withRowBorders={false} verticalSpacing={0} fz="sm" w="auto" maw={520}>
        <Table.Tbody>
          {t.parts.map((p) => (
            <Table.Tr key={p.label} data-testid={`time-${p.key || 'other'}`}>
              <Table.Td>{p.label}</Table.Td>
              <Table.Td ta="right">{seconds(p.seconds)}</Table.Td>
              <Table.Td ta="right" c="dimmed">
                {((100 * p.seconds) / t.total).toFixed(1)}%
              </Table.Td>
            </Table.Tr>
          ))}
          {t.evaluation !== null && (
            <Table.Tr c="dimmed">
              <Table.Td>Evaluation (after the iteration)</Table.Td>
              <Table.Td ta="right">{seconds(t.evaluation)}</Table.Td>
              <Table.Td />
            </Table.Tr>
          )}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

/** An evaluation's development set (objective reward): its picture and each sample's reward under the base sampler and the policy. */
type DevSet = NonNullable<Methods['runs.evaluation']['result']['dev']>;

/** What an evaluation showed: its samples picture, profile and development set, from the run's events or else read from its files. */
function useEvaluation(
  engine: EngineClient,
  run: string | null,
  view: RunView,
  iteration: number | undefined,
): {
  png: string | null;
  profile: { actions: number[]; sigmas: number[]; profile: number[][] } | null;
  dev: DevSet | null;
} {
  const live = view.samples.findLast((e) => e.iteration === iteration);
  const liveProfile = view.profile?.iteration === iteration ? view.profile : null;
  const [read, setRead] = useState<(Methods['runs.evaluation']['result'] & { run: string }) | null>(null);
  const complete = live !== undefined && liveProfile !== null;
  useEffect(() => {
    if (run === null || iteration === undefined || complete) return;
    let current = true;
    engine.request('runs.evaluation', { run, iteration }).then(
      (r) => current && setRead({ ...r, run }),
      () => current && setRead(null), // its files are gone: the screen says there is nothing to show
    );
    return () => {
      current = false;
    };
  }, [engine, run, iteration, complete]);
  const fromDisk = read && read.run === run && read.iteration === iteration ? read : null;
  return {
    png: live?.pngBase64 ?? fromDisk?.pngBase64 ?? null,
    profile: liveProfile ?? fromDisk?.profile ?? null,
    dev: live?.dev ?? fromDisk?.dev ?? null,
  };
}

/**
 * The development set ([Note: the development set] in engine/apps/train.ts): the base sampler's
 * samples over the policy's from the same seeds, each column captioned with the policy's reward
 * change; the means and how many samples gained.
 */
function DevSetView({ dev, iteration }: { dev: DevSet; iteration: number | undefined }) {
  const n = dev.policy.length;
  const delta = dev.policy.map((p, i) => (p === null || dev.base[i] === null ? null : p - dev.base[i]!));
  const mean = (a: (number | null)[]): number | null =>
    a.some((v) => v === null) ? null : a.reduce<number>((s, v) => s + v!, 0) / a.length;
  const gained = delta.filter((d) => d !== null && d > 0).length;
  // A caption under each column only where there are few (an image model's 16).
  const captions = n <= 32 ? delta.map((d) => formatReward(d, { signed: true, digits: 2 })) : undefined;
  return (
    <div data-testid="dev-set">
      <Text size="sm" fw={500}>
        Development set: the same {n} seeds,{' '}
        {captions ? 'base sampler (top row) over policy' : 'base sampler and policy'}
        {iteration !== undefined && ` — iteration ${iteration}`}
      </Text>
      <Picture
        png={dev.pngBase64}
        alt={`development set at iteration ${iteration}`}
        testId="dev-picture"
        colLabels={captions}
      />
      <Text size="sm" c="dimmed" data-testid="dev-summary">
        mean reward: base {formatReward(mean(dev.base), { digits: 3 })} → policy{' '}
        {formatReward(mean(dev.policy), { digits: 3 })} (change {formatReward(mean(delta), { signed: true, digits: 3 })}
        ); higher for {gained} of {n} samples
        {captions && ". Under each column: the policy's reward minus the base sampler's for that seed"}
      </Text>
    </div>
  );
}

/**
 * The reward along the trajectory (the DDPO thesis §4.2) of a run trained for rewards: the policy's
 * and its base sampler's, drawn on request (it samples n trajectories of each).
 */
function RewardTrajectoryView({ engine, run }: { engine: EngineClient; run: string }) {
  const [n, setN] = useState<number | string>(256);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<(Methods['reward.trajectory']['result'] & { run: string }) | null>(null);
  const nError = wholeNumberError(n, 2, 10_000);
  const analyze = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      setResult({ ...(await engine.request('reward.trajectory', { run, n: Number(n) })), run });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const shown = result?.run === run ? result : null;
  const last = (t: Methods['reward.trajectory']['result']['policy']) => t.at(-1)!.noisy.mean;
  return (
    <Stack gap="xs" data-testid="reward-trajectory">
      <Text size="sm" fw={500}>
        Reward along the trajectory
      </Text>
      <Text size="xs" c="dimmed">
        At every step, the reward of the noisy state x_t and of the denoised estimate x̂₀(x_t) over n trajectories of the
        policy (bands: worst to best) and of its base sampler (dashed: means), same seed: from which step the reward is
        decided, and what the policy changes.
      </Text>
      <Group align="end">
        <NumberInput
          size="xs"
          label="Trajectories"
          value={n}
          onChange={setN}
          min={2}
          max={10000}
          clampBehavior="none"
          error={nError}
          w={140}
        />
        <Button size="xs" variant="light" loading={busy} disabled={nError !== null} onClick={() => void analyze()}>
          {shown ? 'Analyze again' : 'Analyze'}
        </Button>
      </Group>
      {error && <Alert color="red">{error}</Alert>}
      {shown && (
        <>
          <img
            src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(shown.svg)}`}
            alt={`${shown.rewards} along the trajectory`}
            data-testid="reward-trajectory-plot"
            style={{ maxWidth: '100%', height: 'auto' }}
          />
          <Text size="sm" c="dimmed" data-testid="reward-trajectory-summary">
            final sample, mean {shown.rewards}: policy {formatReward(last(shown.policy))}, base sampler{' '}
            {formatReward(last(shown.base))} ({shown.n} trajectories each, seed {shown.seed})
          </Text>
        </>
      )}
    </Stack>
  );
}

/** `view`: the run's events, collected by the app (useRunEvents) so leaving this screen loses nothing. */
export function TrainScreen({ engine, run, view }: { engine: EngineClient; run: string | null; view: RunView }) {
  const [pick, setPick] = useState<number | null>(null);
  const [smoothing, setSmoothing] = useSmoothing();
  // A pause, stop or resume asked for while the run was in `status`: its buttons wait until the
  // run's next event changes the status (or the request fails).
  const [asked, setAsked] = useState<{ what: 'pause' | 'stop' | 'resume'; status: RunStatus } | null>(null);
  const [more, setMore] = useState<number | string>(50);
  const [actionError, setActionError] = useState<string | null>(null);
  // A run that rolled out on workers resumes on them while a Redis is set (the Workers screen).
  const [workers] = useWorkersSettings();
  // The charts mount one per task (a long run's ten charts at once would be one long task).
  // A run trained for explicit rewards writes charts/reward_mean: its own charts (shared/metrics.ts).
  const rewardRun = view.metrics.some((m) => m.metrics['charts/reward_mean'] !== undefined);
  // A drift run draws the charts its lines carry (its objective's own; see DRIFT_METRICS).
  const driftCharts = useMemo(
    () => DRIFT_CHARTS.filter((c) => view.metrics.some((m) => m.metrics[c.key] !== undefined)),
    [view.metrics],
  );
  const chartList =
    view.kind === 'scheduler'
      ? SCHEDULER_CHARTS
      : view.kind === 'drift'
        ? driftCharts
        : rewardRun
          ? REWARD_CHARTS
          : TRAIN_CHARTS;
  const charts = useStaggered(
    Math.max(TRAIN_CHARTS.length, SCHEDULER_CHARTS.length, REWARD_CHARTS.length, DRIFT_CHARTS.length),
  );
  // The evaluation on show: the latest, or the one the slider picked (its picture and profile).
  const evals = view.evaluations;
  const shownAt = pick === null ? evals[evals.length - 1] : evals[Math.min(pick, evals.length - 1)];
  const shown = useEvaluation(engine, run, view, shownAt);
  if (!run) return <Alert color="yellow">Start a training run on the Tune screen.</Alert>;
  const { status } = view;
  const pending = asked !== null && asked.status === status ? asked.what : null;
  const training = status.state === 'started';
  const target = status.iterations;
  const last = view.metrics[view.metrics.length - 1];
  const done = last?.iteration ?? status.iteration;
  const moreError = wholeNumberError(more, 1, 100_000);
  const halt = (how: 'pause' | 'stop'): void => {
    setActionError(null);
    setAsked({ what: how, status });
    engine.request('train.stop', { run, pause: how === 'pause' }).then(
      (r) => !r.stopped && setAsked(null), // it had already ended: its run event says how
      (e: Error) => {
        setAsked(null);
        setActionError(e.message);
      },
    );
  };
  const resume = async (iterations: number): Promise<void> => {
    setActionError(null);
    setAsked({ what: 'resume', status });
    try {
      const onWorkers = workersParam({ ...workers, onWorkers: true });
      await engine.request('train.resume', {
        run,
        iterations,
        ...(view.kind === 'learner' && ranOnWorkers && onWorkers ? { workers: onWorkers } : {}),
      });
    } catch (e) {
      setAsked(null);
      setActionError((e as Error).message);
    }
  };
  const breakdown = view.kind === 'learner' && last ? timeBreakdown(last.metrics) : null;
  const ranOnWorkers = breakdown?.onWorkers === true;
  const perIt =
    view.metrics.length > 0
      ? view.metrics.reduce((s, m) => s + (m.metrics['time/iteration_s'] ?? 0), 0) / view.metrics.length
      : null;
  // While it trains here: the engine's own elapsed and ETA, and the phase under way ([Note: phases]).
  const progress = training ? view.progress : null;
  const phase = progress?.phase;
  const eta = progress?.etaSeconds ?? (perIt !== null && training ? perIt * (target - done) : null);
  return (
    <Stack gap="md">
      <Group justify="space-between">
        <Title order={2}>Train</Title>
        <Group gap="xs" align="end">
          {status.state === 'paused' && done < target && (
            <Button variant="filled" loading={pending === 'resume'} onClick={() => void resume(target)}>
              Continue to {target}
            </Button>
          )}
          {isTerminal(status.state) && status.state !== 'paused' && (
            <>
              <NumberInput
                size="xs"
                label="More iterations"
                value={more}
                onChange={setMore}
                min={1}
                max={100000}
                clampBehavior="none"
                error={moreError}
                w={140}
              />
              <Button
                variant="light"
                disabled={moreError !== null}
                loading={pending === 'resume'}
                onClick={() => void resume(done + Number(more))}
              >
                Resume
              </Button>
            </>
          )}
          <Button
            variant="light"
            disabled={!training || pending === 'stop'}
            loading={pending === 'pause'}
            onClick={() => halt('pause')}
            title="stop after the current iteration, keeping the checkpoint, to continue later"
          >
            Pause
          </Button>
          <Button
            color="red"
            variant="light"
            disabled={!training || pending === 'pause'}
            loading={pending === 'stop'}
            onClick={() => halt('stop')}
            title="end the run after the current iteration (it can still be resumed from Runs)"
          >
            Stop
          </Button>
        </Group>
      </Group>
      {/* A resume that fails says so twice (its answer and its run event): the event's alert is enough. */}
      {actionError && !(status.state === 'failed' && status.reason === actionError) && (
        <Alert color="red">{actionError}</Alert>
      )}
      {status.state === 'failed' && (
        <Alert color="red" title="Training failed" data-testid="run-failed">
          {status.reason ?? 'no reason given'}
        </Alert>
      )}
      <Text size="sm" c="dimmed">
        {run}
      </Text>
      <div>
        <Progress value={(100 * done) / Math.max(1, target)} aria-label="training progress" />
        <Text size="sm" mt={4} data-testid="train-progress" data-state={status.state}>
          iteration {done} / {target}
          {progress && ` · elapsed ${clock(progress.elapsedSeconds)}`}
          {eta !== null && ` · ETA ${clock(eta)}`} · {STATE_WORDS[status.state]}
        </Text>
        {phase && (
          <Group gap="xs" mt={4} data-testid="train-phase">
            <Text size="sm" c="dimmed">
              iteration {phase.iteration}: {phase.label} · {Math.floor(phase.done).toLocaleString('en')} /{' '}
              {phase.total.toLocaleString('en')} {phase.unit}
            </Text>
            <Progress
              value={(100 * phase.done) / Math.max(1, phase.total)}
              size="sm"
              w={160}
              aria-label={`${phase.label} progress`}
            />
          </Group>
        )}
      </div>
      {breakdown && <TimeBreakdownView t={breakdown} />}
      <SmoothingSlider value={smoothing} onChange={setSmoothing} />
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
        {chartList.map((info, i) =>
          i < charts ? (
            <TrainChart key={info.key} info={info} metrics={view.metrics} smoothing={smoothing} />
          ) : (
            <div key={info.key} style={{ height: CHART_HEIGHT + 24 }}>
              <Text size="sm" fw={500}>
                {info.label}
              </Text>
            </div>
          ),
        )}
      </SimpleGrid>
      {view.kind === 'scheduler' ? (
        view.levels ? (
          <LevelsChart levels={view.levels} />
        ) : (
          <Text c="dimmed">The learned step sizes (σ by step) appear at the first evaluation.</Text>
        )
      ) : (
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          {view.kind === 'drift' ? (
            <Text size="sm" c="dimmed" data-testid="drift-note">
              A drift policy moves the mean of each step of its base sampler by c·v (c the step’s noise); the KL to the
              base sampler is Σ ½|v|² over the steps. The samples are the evaluation’s, from the same seed every time.
            </Text>
          ) : shown.profile ? (
            <div>
              <Text size="sm" fw={500}>
                Profile: share of each action per noise level — iteration {shownAt}
              </Text>
              <ProfileHeatmap
                actions={shown.profile.actions}
                sigmas={shown.profile.sigmas}
                profile={shown.profile.profile}
              />
            </div>
          ) : (
            <Text c="dimmed">The profile appears at the first evaluation.</Text>
          )}
          <div>
            <Text size="sm" fw={500}>
              Samples (fixed seed){shownAt !== undefined && ` — iteration ${shownAt}`}
            </Text>
            {shown.png ? (
              <Picture png={shown.png} alt={`samples at iteration ${shownAt}`} testId="samples" />
            ) : (
              <Text c="dimmed">Samples appear at each evaluation.</Text>
            )}
            {evals.length > 1 && (
              <Slider
                mt="sm"
                min={0}
                max={evals.length - 1}
                value={pick ?? evals.length - 1}
                onChange={setPick}
                label={(i) => `iteration ${evals[i]}`}
                thumbLabel="evaluation to show"
              />
            )}
          </div>
        </SimpleGrid>
      )}
      {shown.dev && <DevSetView dev={shown.dev} iteration={shownAt} />}
      {rewardRun && view.kind === 'learner' && view.metrics.length > 0 && (
        <RewardTrajectoryView engine={engine} run={run} />
      )}
      <Stack gap={2} data-testid="run-journal">
        {view.journal.map((e, i) =>
          e.type === 'run' ? (
            <Text key={i} size="sm" c={e.state === 'failed' ? 'red' : 'dimmed'} data-state={e.state}>
              {e.state} at iteration {e.iteration} of {e.iterations}
              {e.reason !== undefined && `: ${e.reason}`}
            </Text>
          ) : (
            <Text key={i} size="sm" c={e.level === 'warn' ? 'orange' : 'dimmed'}>
              {e.message}
            </Text>
          ),
        )}
      </Stack>
    </Stack>
  );
}
