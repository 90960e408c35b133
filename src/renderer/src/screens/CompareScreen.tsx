// Screen 4 — Compare: the learned policy next to its baselines (same sampler, steps, seed and n; a
// step scheduler: the preset schedules at its NFE budget and any schedule file, each σ list drawn
// beside its scores; a drift policy: its base sampler on the same seeds, mean reward and KL to it):
// the evaluation metrics of the catalogue (shared/metrics.ts: labels, digits, which way is better,
// KID's ± std) and NFE, with each row's samples side by side; the temperature slider re-evaluates
// the policy.

import { useMemo, useRef, useState } from 'react';
import type { EngineEvent, ProgressEvent } from '../../../shared/events';
import { clock } from '../../../shared/clock';
import { useEventBacklog } from '../hooks/useEventBacklog';
import {
  Alert,
  Button,
  Card,
  Checkbox,
  Group,
  NumberInput,
  Progress,
  Select,
  SimpleGrid,
  Slider,
  Stack,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { ComparisonResultSchema, type ComparisonResult, type RunKind } from '../../../shared/protocol';
import { useLocalStorage } from '@mantine/hooks';
import {
  BAND_METRICS,
  EVAL_METRICS,
  evalRunKey,
  formatMetric,
  formatReward,
  metricInfo,
} from '../../../shared/metrics';
import type { EngineClient } from '../engine/client';
import { Picture } from '../components/Picture';
import { RunHeader } from '../components/RunHeader';
import { bestRow, delta } from '../state/compare';
import { download, wholeNumberError } from '../components/forms';
import { sigmasText } from '../../../shared/sigmas';
import { SigmaSpark } from '../components/SigmaSpark';

/** The columns of a comparison: the catalogue's evaluation metrics the rows report, in its order,
 * then any the catalogue does not know; a metric that is another's ± band goes beside it. */
function columns(result: ComparisonResult): string[] {
  const present = new Set(result.rows.flatMap((r) => Object.keys(r.summary)));
  const known = EVAL_METRICS.map((m) => m.key as string).filter((k) => present.has(k));
  const unknown = [...present].filter((k) => !known.includes(k));
  return [...known, ...unknown].filter((k) => !BAND_METRICS.has(k));
}

/** A table cell: the value, with its ± band when the catalogue gives it one (KID ± its std). */
function cell(summary: Record<string, number>, k: string): string {
  const band = metricInfo(k).band;
  const v = formatMetric(k, summary[k]);
  return band !== undefined && summary[band] !== undefined ? `${v} ± ${formatMetric(band, summary[band])}` : v;
}

/** The guided-evaluation counts have no summary key: they are shown the way a run's `eval/nfe` is. */
const NFE = evalRunKey('nfe');

/** A run's comparison as kept in the browser: its settings and its last result ([Note: kept comparisons]). */
interface KeptComparison {
  n: number | string;
  grid: string;
  bestConstant: boolean;
  /** Scores per class too (class-conditional models). */
  perClass: boolean;
  temperature: number;
  /** A step scheduler run's extra schedule files, comma-separated ('' = none). */
  schedules: string;
  result: ComparisonResult | null;
  /** When it was saved (ms since 1970): the oldest go first when too many are kept. */
  savedAt: number;
}
const FRESH: KeptComparison = {
  n: 2000,
  grid: '',
  bestConstant: true,
  perClass: false,
  temperature: 1,
  schedules: '',
  result: null,
  savedAt: 0,
};
const PREFIX = 'sampler-studio:compare:';
/** How many runs' comparisons are kept (each with its sample pictures, ~0.1–0.3 MB). */
const KEEP = 12;

// [Note: kept comparisons]
// A comparison is minutes of work: its settings and result are saved in localStorage under the run's
// directory, so leaving the screen or reloading shows it again. What is read back is checked by the
// protocol's own ComparisonResultSchema (anything else reads as no result). The pictures make an
// entry large, so only the KEEP most recent runs' comparisons are kept (pruneComparisons).
export function keptComparison(raw: unknown): KeptComparison {
  if (typeof raw !== 'object' || raw === null) return FRESH;
  const r = raw as Record<string, unknown>;
  const result = ComparisonResultSchema.safeParse(r['result']);
  return {
    n: typeof r['n'] === 'number' || typeof r['n'] === 'string' ? r['n'] : FRESH.n,
    grid: typeof r['grid'] === 'string' ? r['grid'] : FRESH.grid,
    bestConstant: typeof r['bestConstant'] === 'boolean' ? r['bestConstant'] : FRESH.bestConstant,
    perClass: typeof r['perClass'] === 'boolean' ? r['perClass'] : FRESH.perClass,
    temperature:
      typeof r['temperature'] === 'number' && r['temperature'] >= 0.25 && r['temperature'] <= 2
        ? r['temperature']
        : FRESH.temperature,
    schedules: typeof r['schedules'] === 'string' ? r['schedules'] : FRESH.schedules,
    result: result.success ? result.data : null,
    savedAt: typeof r['savedAt'] === 'number' ? r['savedAt'] : 0,
  };
}

/** Drops all but the KEEP most recently saved comparisons. */
function pruneComparisons(): void {
  try {
    const entries: [string, number][] = [];
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k?.startsWith(PREFIX))
        entries.push([k, keptComparison(JSON.parse(localStorage.getItem(k) ?? 'null')).savedAt]);
    }
    entries.sort((a, b) => b[1] - a[1]);
    for (const [k] of entries.slice(KEEP)) localStorage.removeItem(k);
  } catch {
    // storage blocked: nothing is kept anyway
  }
}

/** The schedule files a comma-separated field names. */
const scheduleFiles = (text: string): string[] =>
  text
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');

export function CompareScreen({
  engine,
  run,
  kind = 'learner',
}: {
  engine: EngineClient;
  run: string | null;
  /** A step scheduler run is compared with the preset schedules at its budget (and schedule files), not with constants. */
  kind?: RunKind;
}) {
  const scheduler = kind === 'scheduler';
  // A drift policy run is compared with its base sampler on the same seeds, nothing to choose but n.
  const drift = kind === 'drift';
  const learnerRun = kind === 'learner';
  const [kept, setKept] = useLocalStorage<KeptComparison>({
    key: `${PREFIX}${run ?? ''}`,
    defaultValue: FRESH,
    getInitialValueInEffect: false,
    deserialize: (text) => {
      try {
        return keptComparison(text === undefined ? null : JSON.parse(text));
      } catch {
        return FRESH;
      }
    },
  });
  const { result, temperature, n, grid, bestConstant, perClass, schedules } = kept;
  const keep = (patch: Partial<KeptComparison>): void => setKept((k) => ({ ...k, ...patch, savedAt: Date.now() }));
  const setResult = (r: ComparisonResult): void => {
    keep({ result: r });
    pruneComparisons();
  };
  const setTemperature = (t: number): void => keep({ temperature: t });
  const setN = (v: number | string): void => keep({ n: v });
  const setGrid = (v: string): void => keep({ grid: v });
  const setBestConstant = (v: boolean): void => keep({ bestConstant: v });
  const setPerClass = (v: boolean): void => keep({ perClass: v });
  const setSchedules = (v: string): void => keep({ schedules: v });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Where a comparison under way stands (its progress events), so minutes of work are never a bare spinner.
  const [progress, setProgress] = useState<ProgressEvent | null>(null);
  const accept = useMemo(
    () =>
      run === null
        ? null
        : (e: EngineEvent): e is ProgressEvent => e.type === 'progress' && e.task === 'compare' && e.run === run,
    [run],
  );
  useEventBacklog(engine, accept, (batch) => setProgress(batch[batch.length - 1] ?? null));
  const running = useRef(false);
  const queued = useRef<number | null>(null);
  if (!run) return <Alert color="yellow">Train a policy first (Tune → Train).</Alert>;
  const nError = wholeNumberError(n, 100, 100_000);

  // One evaluation at a time; a temperature chosen meanwhile is evaluated next (the latest wins),
  // so the slider never locks (it disabled itself after the first key press while it re-ran).
  const evaluate = async (tau: number): Promise<void> => {
    if (running.current) {
      queued.current = tau;
      return;
    }
    running.current = true;
    setBusy(true);
    setProgress(null);
    setError(null);
    try {
      setResult(
        await engine.request(
          'eval.policy',
          scheduler
            ? { run, n: Number(n), schedules: scheduleFiles(schedules) }
            : drift
              ? { run, n: Number(n) }
              : {
                  run,
                  n: Number(n),
                  temperature: tau,
                  bestConstant,
                  perClass,
                  ...(grid.trim() ? { gridResult: grid.trim() } : {}),
                },
        ),
      );
    } catch (e) {
      setError((e as Error).message);
    } finally {
      running.current = false;
      setBusy(false);
      setProgress(null);
      const next = queued.current;
      queued.current = null;
      if (next !== null && next !== tau) void evaluate(next);
    }
  };
  // The table on screen no longer answers the settings (another τ, n, grid or search, or a re-run under way).
  const stale =
    result !== null && (busy || (learnerRun && result.temperature !== temperature) || result.n !== Number(n));
  const sigmaColumn = result?.rows.some((r) => r.sigmas !== undefined) ?? false;
  const keys = result ? columns(result) : [];
  const best = Object.fromEntries(keys.map((k) => [k, result ? bestRow(result, k) : -1]));
  // Rewards (a run trained for them): the highest mean reward in bold, the policy's difference under each row.
  const rewardOf = (r: ComparisonResult['rows'][number]): number => r.reward ?? NaN;
  const bestReward = result?.rewards
    ? result.rows.reduce((b, r, i) => (rewardOf(r) > rewardOf(result.rows[b]!) ? i : b), 0)
    : -1;
  const labels = (better: 'lower' | 'higher'): string =>
    keys
      .filter((k) => metricInfo(k).better === better)
      .map((k) => metricInfo(k).label)
      .join(', ');
  return (
    <Stack gap="md">
      <RunHeader title="Compare" run={run} />
      <Group align="end">
        <NumberInput
          label="Samples per row"
          value={n}
          onChange={setN}
          min={100}
          max={100000}
          clampBehavior="none"
          error={nError}
          w={180}
        />
        {scheduler ? (
          <TextInput
            label="Schedule files (optional)"
            description="comma-separated schedule files (an optimize-schedule result, a ComfyUI list) to add as rows; the presets at the run’s budget are always there"
            placeholder="runs/fm-euler-nfe10.json"
            value={schedules}
            onChange={(e) => setSchedules(e.currentTarget.value)}
            w={420}
            data-testid="compare-schedules"
          />
        ) : drift ? (
          <Text size="sm" c="dimmed" maw={520} data-testid="compare-drift-note">
            The drift policy and its base sampler (the same rollout with v = 0) from the same seed, so the same noise:
            the mean reward of each, the policy’s KL to the base sampler along the path, and their samples side by side.
          </Text>
        ) : (
          <>
            <TextInput
              label="Grid result (optional)"
              description="a `grid` output directory: adds its best constant (and best guidance interval)"
              value={grid}
              onChange={(e) => setGrid(e.currentTarget.value)}
              w={360}
            />
            <Checkbox
              label="Search the best constant"
              description="a grid over the policy’s action values (cfg, gamma; cfg also × guidance intervals), chosen by FID on another seed"
              checked={bestConstant}
              onChange={(e) => setBestConstant(e.currentTarget.checked)}
              maw={260}
            />
            <Checkbox
              label="Per-class scores"
              description="each class’s samples against that class’s data (class-conditional models)"
              checked={perClass}
              onChange={(e) => setPerClass(e.currentTarget.checked)}
              maw={220}
            />
          </>
        )}
        <Button onClick={() => void evaluate(temperature)} loading={busy} disabled={nError !== null}>
          {result ? 'Evaluate again' : 'Evaluate'}
        </Button>
      </Group>
      {learnerRun && (
        <div>
          <Text size="sm" fw={500}>
            Policy temperature τ = {temperature.toFixed(2)} (lower: more deterministic)
          </Text>
          <Slider
            min={0.25}
            max={2}
            step={0.05}
            value={temperature}
            onChange={setTemperature}
            onChangeEnd={(t) => result && void evaluate(t)}
            thumbLabel="policy temperature"
            maw={420}
          />
        </div>
      )}
      {busy && (
        <Group gap="xs" data-testid="compare-progress">
          <Text size="sm" c="dimmed">
            {progress?.phase
              ? `row ${Math.min(progress.done + 1, progress.total)} of ${progress.total}: ${progress.phase.label} · ${Math.floor(progress.phase.done).toLocaleString('en')} / ${progress.phase.total.toLocaleString('en')} ${progress.phase.unit} · elapsed ${clock(progress.elapsedSeconds)}`
              : 'starting…'}
          </Text>
          {progress?.phase && (
            <Progress
              value={(100 * progress.phase.done) / Math.max(1, progress.phase.total)}
              size="sm"
              w={160}
              aria-label="comparison progress"
            />
          )}
        </Group>
      )}
      {error && (
        <Alert color="red" title="Could not evaluate">
          {error}
        </Alert>
      )}
      {result && (
        <>
          {stale && (
            <Text size="sm" c="orange" data-testid="compare-stale">
              {busy
                ? `Evaluating${queued.current !== null ? ` (then τ = ${queued.current.toFixed(2)})` : ''}… the table below is for τ = ${result.temperature.toFixed(2)}, n = ${result.n}.`
                : `Out of date: the table is for τ = ${result.temperature.toFixed(2)}, n = ${result.n}; evaluate again for the settings above.`}
            </Text>
          )}
          <Table
            striped
            withTableBorder
            data-testid="compare-table"
            data-stale={stale}
            style={stale ? { opacity: 0.55 } : undefined}
          >
            <Table.Thead>
              <Table.Tr>
                <Table.Th>method</Table.Th>
                <Table.Th title="guided denoiser evaluations D_w per sample">NFE</Table.Th>
                <Table.Th title="network passes per sample: a guided evaluation with w ≠ 1 runs the network twice">
                  denoiser passes
                </Table.Th>
                {sigmaColumn && (
                  <Table.Th title="the σ list each row sampled, ln σ against step (hover for the numbers); the policy's: its mean σ per step over the samples">
                    schedule
                  </Table.Th>
                )}
                {keys.map((k) => (
                  <Table.Th key={k} title={metricInfo(k).help}>
                    {metricInfo(k).label}
                  </Table.Th>
                ))}
                {result.rewards && (
                  <Table.Th
                    title={`the mean over the row's samples of ${result.rewards.join(' + ')} (higher is better)`}
                  >
                    reward
                  </Table.Th>
                )}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {result.rows.map((r, i) => (
                <Table.Tr key={r.name}>
                  <Table.Td>{r.name}</Table.Td>
                  <Table.Td>{formatMetric(NFE, r.nfe)}</Table.Td>
                  <Table.Td>{formatMetric(NFE, r.networkEvals)}</Table.Td>
                  {sigmaColumn && <Table.Td>{r.sigmas ? <SigmaSpark sigmas={r.sigmas} /> : '—'}</Table.Td>}
                  {keys.map((k) => (
                    <Table.Td key={k} fw={best[k] === i ? 700 : undefined}>
                      {cell(r.summary, k)}
                      {i > 0 && delta(result, r, k) !== null && (
                        <Text span size="xs" c="dimmed" data-testid="compare-delta">
                          {' '}
                          (policy {delta(result, r, k)})
                        </Text>
                      )}
                    </Table.Td>
                  ))}
                  {result.rewards && (
                    <Table.Td fw={bestReward === i ? 700 : undefined} data-testid="compare-reward">
                      {formatReward(rewardOf(r))}
                      {i > 0 && (
                        <Text span size="xs" c="dimmed">
                          {' '}
                          (policy {formatReward(rewardOf(result.rows[0]!) - rewardOf(r), { signed: true })})
                        </Text>
                      )}
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          <Text size="xs" c="dimmed">
            n = {result.n} per row, seed {result.seed}, iteration {result.iteration}; {labels('lower')} lower is better,{' '}
            {labels('higher')} higher (best in bold). NFE counts guided evaluations D_w; denoiser passes count network
            calls (two for w ≠ 1). “policy ±x” under a row: the policy’s value minus that row’s.
            {result.rewards &&
              ` Reward: the mean of ${result.rewards.join(' + ')} over each row's samples, higher is better.`}
            {scheduler &&
              ' Presets: each named schedule with the most steps within the run’s NFE budget; the RL scheduler’s levels differ per sample (its schedule cell is their mean per step), its recipe is its mean schedule measured on seed + 2.'}
            {drift &&
              ' The base sampler is the policy’s own rollout with the drift set to 0: same seed, same noise, so the rows differ only by what the policy adds. KL to the base sampler: Σ over the steps of ½|v|² (nats), 0 for the base sampler itself.'}
            {learnerRun &&
              result.rows.some((r) => r.kind === 'recipe') &&
              ' The recipe is the policy’s mean action per noise level as a static curve (measured on seed + 2, the file `export --recipe` writes): what the policy scores beyond it is what seeing the state adds.'}
          </Text>
          <PerClassTable result={result} />
          {result.flags.length > 0 && (
            <Stack gap={0} data-testid="compare-notes">
              {result.flags.map((f) => (
                <Text key={f} size="xs" c="orange">
                  note: {f}
                </Text>
              ))}
            </Stack>
          )}
          <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
            {result.rows.map((r) => (
              <Card key={r.name} withBorder padding="xs">
                <Text size="sm" fw={500}>
                  {r.name}
                </Text>
                {r.pngBase64 && <Picture png={r.pngBase64} alt={`samples: ${r.name}`} testId="compare-samples" />}
                {r.sigmas && r.kind !== 'policy' && (
                  <Button
                    size="compact-xs"
                    variant="subtle"
                    mt={4}
                    onClick={() =>
                      download(
                        `${r.name
                          .replace(/^.*[\\/]/, '')
                          .replace(/\.json$/i, '')
                          .replace(/[^\w.-]+/g, '-')}.json`,
                        sigmasText(r.sigmas!),
                        'application/json',
                      )
                    }
                    title="this row's σ list as a schedule file (--sigmas FILE; ComfyUI SIGMAS, diffusers sigmas=)"
                    data-testid="compare-save-sigmas"
                  >
                    Save its σ list
                  </Button>
                )}
              </Card>
            ))}
          </SimpleGrid>
        </>
      )}
    </Stack>
  );
}

/** The per-class view: a row per class, a column per method (the chosen metric), and the policy's mean action. */
function PerClassTable({ result }: { result: ComparisonResult }) {
  const [metric, setMetric] = useState('fid');
  const rows = result.rows.filter((r) => r.perClass && r.perClass.length > 0);
  if (rows.length === 0) return null;
  const classes = rows[0]!.perClass!;
  const keys = [...new Set(classes.flatMap((c) => Object.keys(c.summary)))].filter((k) => !BAND_METRICS.has(k));
  const info = metricInfo(metric);
  const action = new Map((result.actionByClass ?? []).map((a) => [a.label, a]));
  return (
    <Stack gap="xs" data-testid="compare-per-class">
      <Group align="end">
        <Text size="sm" fw={500}>
          Per class
        </Text>
        <Select
          aria-label="per-class metric"
          data={keys.map((k) => ({ value: k, label: metricInfo(k).label }))}
          value={keys.includes(metric) ? metric : (keys[0] ?? null)}
          onChange={(v) => v && setMetric(v)}
          allowDeselect={false}
          w={200}
          size="xs"
        />
      </Group>
      <Table striped withTableBorder>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>class</Table.Th>
            <Table.Th title="samples of the class drawn / data of the class">n</Table.Th>
            {rows.map((r) => (
              <Table.Th key={r.name}>{r.name}</Table.Th>
            ))}
            {action.size > 0 && (
              <Table.Th title="the policy’s mean action over all levels, and below σ = 1">
                policy’s mean action (σ &lt; 1)
              </Table.Th>
            )}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {classes.map((c, k) => {
            const values = rows.map((r) => r.perClass?.[k]?.summary[metric]);
            const finite = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
            const best =
              finite.length > 1 ? (info.better === 'higher' ? Math.max(...finite) : Math.min(...finite)) : null;
            const a = action.get(c.label);
            return (
              <Table.Tr key={c.label}>
                <Table.Td>{c.name}</Table.Td>
                <Table.Td>
                  {c.nFake} / {c.nReal}
                </Table.Td>
                {values.map((v, i) => (
                  <Table.Td key={i} fw={v !== undefined && v === best ? 700 : undefined}>
                    {formatMetric(metric, v)}
                  </Table.Td>
                ))}
                {action.size > 0 && (
                  <Table.Td>{a ? `${a.mean.toFixed(3)} (${a.meanLowNoise.toFixed(3)})` : '—'}</Table.Td>
                )}
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
      <Text size="xs" c="dimmed">
        Each class rests on about n / classes samples, so its scores are noisier and (FID especially) higher than the
        whole table’s; compare rows within a class.
      </Text>
    </Stack>
  );
}
