// Screen 6 — Runs: every run directory under a folder, with its progress and last evaluation; open
// one (its curves load into Train, Compare and Export), resume it, save its metrics as CSV, compare
// the curves of several, or delete one (moved into .trash beside it, after a confirmation).

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  Alert,
  Badge,
  Button,
  Checkbox,
  Code,
  Group,
  Modal,
  NumberInput,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  UnstyledButton,
} from '@mantine/core';
import { clock } from '../../../shared/clock';
import { download, wholeNumberError } from '../components/forms';
import { notifications } from '@mantine/notifications';
import type { RunSummary } from '../../../shared/protocol';
import { COMPARABLE_RUN_METRICS, formatMetric, HEADLINE_METRIC, metricInfo } from '../../../shared/metrics';
import type { EngineClient } from '../engine/client';
import type { OpenedRun, RunStatus } from '../hooks/useRunEvents';
import { HEADLINE, listedStatus, openedRunFrom, sortRuns, type RunSort } from '../state/runs';
import { LineChart } from '../components/LineChart';
import { SmoothingSlider, useSmoothing } from '../components/Smoothing';
import { comparisonChart } from '../components/chartData';

/** The comparison's choices, from the catalogue. */
const COMPARABLE = COMPARABLE_RUN_METRICS.map((m) => ({ value: m.key, label: m.label }));
const STATUS_COLORS: Record<RunStatus['state'], string> = {
  started: 'green',
  finished: 'blue',
  paused: 'cyan',
  stopped: 'yellow',
  failed: 'red',
};

/** "2026-12-01 06:16" in local time. */
const when = (iso: string): string => {
  const d = new Date(iso);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
};

/** Metrics lines → CSV (one column per metric name, in first-seen order). */
export function metricsCsv(lines: Record<string, number>[]): string {
  const cols: string[] = [];
  for (const l of lines) for (const k of Object.keys(l)) if (!cols.includes(k)) cols.push(k);
  const cell = (v: unknown): string => (typeof v === 'number' && Number.isFinite(v) ? String(v) : '');
  return [cols.join(','), ...lines.map((l) => cols.map((c) => cell(l[c])).join(','))].join('\n') + '\n';
}

/** `root` and `setRoot` live in the app, so the folder stays chosen across screens. */
export function RunsScreen({
  engine,
  onOpen,
  root,
  setRoot,
}: {
  engine: EngineClient;
  onOpen: (run: OpenedRun) => void;
  root: string;
  setRoot: (r: string) => void;
}) {
  const [smoothing, setSmoothing] = useSmoothing();
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [more, setMore] = useState<number | string>(50);
  const [selected, setSelected] = useState<string[]>([]);
  const [metric, setMetric] = useState<string>(HEADLINE);
  const [curves, setCurves] = useState<Record<string, Record<string, number>[]>>({});
  const [trash, setTrash] = useState<RunSummary | null>(null);
  const [sort, setSort] = useState<{ by: RunSort; descending: boolean }>({ by: 'started', descending: true });
  const [folder, setFolder] = useState<'missing' | 'file' | 'folder' | null>(null);
  const moreError = wholeNumberError(more, 1, 1_000_000);

  const refresh = useCallback(async (): Promise<void> => {
    setError(null);
    try {
      const r = root.trim() || 'runs';
      // A folder that does not exist lists no runs: say which it is, so a typo does not read as "no runs yet".
      setFolder((await engine.request('runs.folder', { root: r })).state);
      setRuns(await engine.request('runs.list', { root: r }));
    } catch (e) {
      setError((e as Error).message);
    }
  }, [engine, root]);
  useEffect(() => void refresh(), [refresh]);
  // The metrics of every selected run, asked for once each.
  const asked = useRef(new Set<string>());
  useEffect(() => {
    for (const dir of selected) {
      if (asked.current.has(dir)) continue;
      asked.current.add(dir);
      engine.request('runs.metrics', { run: dir }).then(
        (h) => setCurves((c) => ({ ...c, [dir]: h.metrics })),
        (e: Error) => {
          asked.current.delete(dir);
          setError(e.message);
        },
      );
    }
  }, [engine, selected]);
  const chart = useMemo(
    () =>
      comparisonChart(
        selected.map((dir) => ({
          name: dir.split(/[\\/]/).pop()!,
          lines: (curves[dir] ?? [])
            .filter((m) => Number.isFinite(m['iteration']))
            .map((m) => ({ iteration: m['iteration']!, metrics: m })),
        })),
        metric,
      ),
    [selected, curves, metric],
  );
  const info = metricInfo(metric);
  const remove = async (r: RunSummary): Promise<void> => {
    setTrash(null);
    try {
      const { trashed } = await engine.request('runs.delete', { run: r.dir });
      setSelected((s) => s.filter((d) => d !== r.dir));
      const id = `trashed-${trashed}`;
      const undo = async (): Promise<void> => {
        notifications.hide(id);
        try {
          await engine.request('runs.restore', { trashed, run: r.dir });
          await refresh();
        } catch (e) {
          setError((e as Error).message);
        }
      };
      notifications.show({
        id,
        title: 'Run moved to the trash',
        message: (
          <Group gap="xs" justify="space-between" wrap="nowrap">
            <Text size="sm">
              {r.dir.split(/[\\/]/).pop()} → {trashed.split(/[\\/]/).slice(-2).join('/')}
            </Text>
            <Button size="compact-xs" variant="light" onClick={() => void undo()}>
              Undo
            </Button>
          </Group>
        ),
        autoClose: 15_000,
        ...({ 'data-testid': 'trash-notice' } as object),
      });
      await refresh();
    } catch (e) {
      setError((e as Error).message);
    }
  };

  const open = async (r: RunSummary): Promise<void> => {
    try {
      onOpen(openedRunFrom(r.dir, await engine.request('runs.open', { run: r.dir })));
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const resume = async (r: RunSummary): Promise<void> => {
    try {
      const h = await engine.request('runs.open', { run: r.dir });
      const target = Math.max(r.iterations, r.iteration + Number(more));
      await engine.request('train.resume', { run: r.dir, iterations: target });
      // Its `started` event came before this answer: the run is training (see useRunEvents).
      onOpen({
        ...openedRunFrom(r.dir, h),
        status: { state: 'started', iteration: r.iteration, iterations: target },
      });
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const csv = async (r: RunSummary): Promise<void> => {
    const h = await engine.request('runs.metrics', { run: r.dir });
    download(`${r.dir.split(/[\\/]/).pop()}-metrics.csv`, metricsCsv(h.metrics), 'text/csv');
  };

  return (
    <Stack gap="md">
      <Title order={2}>Runs</Title>
      <Group align="end">
        <TextInput label="Runs folder" value={root} onChange={(e) => setRoot(e.currentTarget.value)} w={420} />
        <Button variant="light" onClick={() => void refresh()}>
          Refresh
        </Button>
        <NumberInput
          label="Resume for (iterations)"
          value={more}
          onChange={setMore}
          min={1}
          max={1_000_000}
          clampBehavior="none"
          error={moreError}
          w={200}
        />
      </Group>
      {error && <Alert color="red">{error}</Alert>}
      {runs && runs.length === 0 && (
        <Text c={folder === 'folder' ? 'dimmed' : 'orange'} data-testid="runs-empty">
          {folder === 'missing'
            ? `There is no folder ${root.trim() || 'runs'} (yet): check the path; runs started from Tune create it.`
            : folder === 'file'
              ? `${root.trim()} is a file, not a folder.`
              : 'No runs in this folder yet.'}
        </Text>
      )}
      {runs && runs.length > 0 && (
        <Table striped withTableBorder data-testid="runs-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>compare</Table.Th>
              <SortTh label="run" by="run" sort={sort} setSort={setSort} />
              <SortTh label="model" by="model" sort={sort} setSort={setSort} />
              <Table.Th>policy</Table.Th>
              <SortTh label="status" by="status" sort={sort} setSort={setSort} />
              <SortTh label="started" by="started" sort={sort} setSort={setSort} />
              <SortTh label="duration" by="duration" sort={sort} setSort={setSort} />
              <SortTh label="iteration" by="iteration" sort={sort} setSort={setSort} />
              <SortTh
                label={`last ${metricInfo(HEADLINE_METRIC).label}`}
                by="fid"
                sort={sort}
                setSort={setSort}
                help={metricInfo(HEADLINE).help}
              />
              <Table.Th title="samples behind the last FID (the final evaluation's, else the periodic ones')">
                eval n
              </Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {sortRuns(runs, sort.by, sort.descending).map((r) => {
              const name = r.dir.split(/[\\/]/).pop()!;
              const status = listedStatus(r);
              const state = status.state;
              return (
                <Table.Tr key={r.dir}>
                  <Table.Td>
                    <Checkbox
                      aria-label={`Compare ${name}`}
                      checked={selected.includes(r.dir)}
                      onChange={(e) => {
                        // Read now: React may run the updater after the event (currentTarget is null by then).
                        const checked = e.currentTarget.checked;
                        setSelected((s) => (checked ? s.concat(r.dir) : s.filter((d) => d !== r.dir)));
                      }}
                    />
                  </Table.Td>
                  <Table.Td title={r.dir}>{name}</Table.Td>
                  <Table.Td>{r.model}</Table.Td>
                  <Table.Td>
                    {r.intervention} · {r.divergence} · {r.conditioning}
                  </Table.Td>
                  <Table.Td>
                    <Badge
                      variant="light"
                      color={STATUS_COLORS[state]}
                      title={status.reason}
                      data-testid={`status-${name}`}
                    >
                      {state === 'started' ? 'training' : state}
                    </Badge>
                  </Table.Td>
                  <Table.Td title={r.started}>{when(r.started)}</Table.Td>
                  <Table.Td>{clock(r.seconds)}</Table.Td>
                  <Table.Td>
                    {r.iteration} / {r.iterations}
                  </Table.Td>
                  <Table.Td>{formatMetric(HEADLINE, r.last?.[HEADLINE])}</Table.Td>
                  <Table.Td>{r.evalSamples?.toLocaleString('en') ?? '—'}</Table.Td>
                  <Table.Td>
                    <Group gap="xs">
                      <Button size="xs" variant="light" onClick={() => void open(r)} aria-label={`Open ${name}`}>
                        Open
                      </Button>
                      <Button
                        size="xs"
                        variant="light"
                        disabled={r.active || moreError !== null}
                        onClick={() => void resume(r)}
                        aria-label={`Resume ${name}`}
                      >
                        Resume
                      </Button>
                      <Button size="xs" variant="subtle" onClick={() => void csv(r)} aria-label={`CSV of ${name}`}>
                        CSV
                      </Button>
                      <Button
                        size="xs"
                        variant="subtle"
                        color="red"
                        disabled={r.active}
                        onClick={() => setTrash(r)}
                        aria-label={`Delete ${name}`}
                      >
                        Delete
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      )}
      {selected.length > 0 && (
        <Stack gap="xs" data-testid="runs-compare">
          <Select
            label="Compare curves of the selected runs"
            data={COMPARABLE}
            value={metric}
            onChange={(v) => v && setMetric(v)}
            allowDeselect={false}
            w={320}
          />
          <SmoothingSlider value={smoothing} onChange={setSmoothing} />
          <LineChart
            title={info.label}
            help={info.help}
            chart={chart}
            metric={metric}
            log={info.log}
            height={220}
            smoothing={smoothing}
            testId="runs-compare-chart"
          />
        </Stack>
      )}
      <Modal opened={trash !== null} onClose={() => setTrash(null)} title="Delete this run?">
        <Text size="sm">
          <Code>{trash?.dir}</Code> moves into <Code>.trash</Code> in its folder: it disappears from this list, and
          nothing is erased (move it back to restore it).
        </Text>
        <Group justify="end" mt="md">
          <Button variant="default" onClick={() => setTrash(null)}>
            Keep it
          </Button>
          <Button color="red" onClick={() => trash && void remove(trash)}>
            Delete
          </Button>
        </Group>
      </Modal>
    </Stack>
  );
}

/** A column header that sorts the table by its column (again: the other way). */
function SortTh({
  label,
  by,
  sort,
  setSort,
  help,
}: {
  label: string;
  by: RunSort;
  sort: { by: RunSort; descending: boolean };
  setSort: (s: { by: RunSort; descending: boolean }) => void;
  help?: string;
}) {
  const on = sort.by === by;
  return (
    <Table.Th
      title={help}
      aria-sort={on ? (sort.descending ? 'descending' : 'ascending') : 'none'}
      style={{ whiteSpace: 'nowrap' }}
    >
      <UnstyledButton
        onClick={() => setSort({ by, descending: on ? !sort.descending : false })}
        fw={on ? 700 : 500}
        fz="sm"
        aria-label={`Sort by ${label}`}
      >
        {label} {on ? (sort.descending ? '↓' : '↑') : ''}
      </UnstyledButton>
    </Table.Th>
  );
}
