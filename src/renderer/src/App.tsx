import { useCallback, useEffect, useState } from 'react';
import { useHash, useLocalStorage } from '@mantine/hooks';
import {
  AppShell,
  Badge,
  Button,
  Code,
  Group,
  NavLink,
  Stack,
  Text,
  Title,
  useComputedColorScheme,
  useMantineColorScheme,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import type { ModelReport } from '../../shared/protocol';
import { isTerminal, type EngineEvent, type RunEvent, type RunState } from '../../shared/events';
import type { ConnectionStatus, EngineClient } from './engine/client';
import { ModelScreen } from './screens/ModelScreen';
import { TuneScreen } from './screens/TuneScreen';
import { CompareScreen } from './screens/CompareScreen';
import { RunsScreen } from './screens/RunsScreen';
import { openedRunFrom } from './state/runs';
import { formatRoute, parseRoute, SCREEN_LABELS, SCREENS, type Route } from './state/route';
import { PlotScreen } from './screens/PlotScreen';
import { ExportScreen } from './screens/ExportScreen';
import { TrainScreen } from './screens/TrainScreen';
import { WorkersScreen } from './screens/WorkersScreen';
import { ErrorBoundary } from './components/ErrorBoundary';
import { useEventBacklog } from './hooks/useEventBacklog';
import { useRunEvents, type OpenedRun } from './hooks/useRunEvents';

/** A model or run the address names could not be opened again: say so (the address stays, to retry). */
function notifyRestore(what: 'model' | 'run', dir: string, why: string): void {
  notifications.show({
    color: 'red',
    title: `Could not open the ${what} again`,
    message: `${dir}: ${why}`,
    autoClose: false,
    ...({ 'data-testid': 'restore-problem' } as object),
  });
}

/** A run ending (paused, finished, stopped or failed), whichever run it is. */
const isRunEnd = (e: EngineEvent): e is RunEvent => e.type === 'run' && isTerminal(e.state);
const RUN_END_COLORS: Record<Exclude<RunState, 'started'>, string> = {
  paused: 'blue',
  finished: 'green',
  stopped: 'yellow',
  failed: 'red',
};

/** A short note about a run ending, wherever the user is; a failure (with its reason) stays until dismissed. */
function notifyRunEnd(e: RunEvent): void {
  const name = e.run.split(/[\\/]/).pop();
  const state = e.state as Exclude<RunState, 'started'>;
  notifications.show({
    color: RUN_END_COLORS[state],
    title: e.state === 'failed' ? 'Training failed' : 'Training',
    message: `${name}: ${e.state} at iteration ${e.iteration} of ${e.iterations}${e.reason !== undefined ? ` — ${e.reason}` : ''}`,
    autoClose: e.state === 'failed' ? false : 6000,
    ...({ 'data-testid': 'run-notice', 'data-state': e.state } as object),
  });
}

function RuntimeInfo() {
  const api = window.api;
  if (!api) {
    return <Text c="dimmed">Running in web mode (no Electron preload).</Text>;
  }
  const { electron, chrome, node } = api.versions;
  return (
    <Text c="dimmed" size="sm">
      Electron <Code>{electron}</Code> · Chromium <Code>{chrome}</Code> · Node <Code>{node}</Code> · {api.platform}
    </Text>
  );
}

export function App({ engine }: { engine: EngineClient }) {
  // Where the app is lives in the address ([Note: the hash, and no router] in state/route.ts).
  const [hash, setHash] = useHash({ getInitialValueInEffect: false });
  const route = parseRoute(hash);
  const go = useCallback(
    (patch: Partial<Route>) => setHash(formatRoute({ ...parseRoute(window.location.hash), ...patch })),
    [setHash],
  );
  const active = route.screen;
  // Another screen starts at its top (as a page does), not where the last one was scrolled to: after
  // Start on a long Tune form, Train's progress line was below the fold. (A block body: Chromium's
  // scrollTo returns a value, which React would take for a cleanup function and call.)
  useEffect(() => {
    window.scrollTo(0, 0);
  }, [active]);
  const [status, setStatus] = useState<{ s: ConnectionStatus; why?: string }>({ s: 'connecting' });
  const [opened, setOpened] = useState<ModelReport | null>(null);
  const [openedRun, setOpenedRun] = useState<OpenedRun | null>(null);
  // What is being opened again from the address (shown in the header until it is).
  const [restoringModel, setRestoringModel] = useState<string | null>(null);
  const [restoringRun, setRestoringRun] = useState<string | null>(null);
  const restoring = restoringModel ?? restoringRun;
  // What the address names is what is open: after Back to a route without a run, no run is shown.
  const model = opened && opened.summary.dir === route.model ? opened : null;
  const run = openedRun && openedRun.dir === route.run ? openedRun : null;
  const view = useRunEvents(engine, run);
  const [runsRoot, setRunsRoot] = useLocalStorage({
    key: 'sampler-studio:runs-folder',
    defaultValue: 'runs',
    getInitialValueInEffect: false,
  });
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme('light');
  // The model and run the address names, opened again after a reload, Back or a pasted address.
  useEffect(() => {
    const dir = route.model;
    if (dir === null || opened?.summary.dir === dir) return;
    let live = true;
    setRestoringModel(`model ${dir}`);
    engine
      .request('models.open', { dir })
      .then(
        (r) => live && (r.ok ? setOpened(r) : notifyRestore('model', dir, r.problem?.message ?? 'cannot be used')),
        (e: Error) => live && notifyRestore('model', dir, e.message),
      )
      .finally(() => live && setRestoringModel(null));
    return () => {
      live = false;
      setRestoringModel(null);
    };
  }, [engine, route.model, opened]);
  useEffect(() => {
    const dir = route.run;
    if (dir === null || openedRun?.dir === dir) return;
    let live = true;
    setRestoringRun(`run ${dir}`);
    engine
      .request('runs.open', { run: dir })
      .then(
        (r) => live && setOpenedRun(openedRunFrom(dir, r)),
        (e: Error) => live && notifyRestore('run', dir, e.message),
      )
      .finally(() => live && setRestoringRun(null));
    return () => {
      live = false;
      setRestoringRun(null);
    };
  }, [engine, route.run, openedRun]);
  useEffect(
    () =>
      engine.onStatus((s, why) => {
        setStatus({ s, why });
        // The line to the engine dropped (in the desktop app: its utility process died and a new one is starting).
        if (s === 'lost')
          notifications.show({
            id: 'engine-lost',
            color: 'red',
            title: 'Engine',
            message: why ?? 'the connection to the engine was lost',
            autoClose: false,
            ...({ 'data-testid': 'engine-warning' } as object),
          });
      }),
    [engine],
  );
  // Warnings from the engine (e.g. a crash and its restart) stay up until dismissed.
  useEffect(
    () =>
      engine.onEvent((e) => {
        if (e.type === 'log' && e.level === 'warn')
          notifications.show({
            color: 'orange',
            title: 'Engine',
            message: e.message,
            autoClose: false,
            ...({ 'data-testid': 'engine-warning' } as object),
          });
      }),
    [engine],
  );
  // Runs ending are worth a note wherever the user is (from their run events).
  useEventBacklog(engine, isRunEnd, (batch) => batch.forEach(notifyRunEnd));
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: 'sm' }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Title order={3}>Sampler Studio</Title>
          <Group gap="xs">
            {restoring && (
              <Text size="sm" c="dimmed" data-testid="restoring">
                opening {restoring}…
              </Text>
            )}
            {model && <Badge variant="outline">{model.summary.name}</Badge>}
            <Button
              size="compact-sm"
              variant="subtle"
              onClick={() => setColorScheme(scheme === 'dark' ? 'light' : 'dark')}
              aria-label={`Switch to the ${scheme === 'dark' ? 'light' : 'dark'} theme`}
            >
              {scheme === 'dark' ? 'Light' : 'Dark'} theme
            </Button>
            <Badge
              color={status.s === 'open' ? 'green' : status.s === 'lost' ? 'red' : 'gray'}
              title={status.why}
              data-testid="engine-status"
            >
              engine {status.s}
            </Badge>
          </Group>
        </Group>
      </AppShell.Header>

      <AppShell.Navbar p="xs" aria-label="Screens">
        {SCREENS.map((screen) => (
          <NavLink
            key={screen}
            component="button"
            type="button"
            label={SCREEN_LABELS[screen] ?? screen}
            active={screen === active}
            aria-current={screen === active ? 'page' : undefined}
            onClick={() => go({ screen })}
          />
        ))}
      </AppShell.Navbar>

      <AppShell.Main>
        <Stack gap="sm" maw={1100}>
          {/* One screen at a time, each with a boundary of its own (see ErrorBoundary's note). */}
          <ErrorBoundary key={active} what={`The ${active} screen`}>
            {active === 'Model' && (
              <ModelScreen
                engine={engine}
                model={model}
                onChosen={(r) => {
                  setOpened(r);
                  go({ model: r.summary.dir });
                }}
                onContinue={() => go({ screen: 'Tune' })}
              />
            )}
            {active === 'Tune' && (
              <TuneScreen
                key={model?.summary.dir ?? 'no model'}
                engine={engine}
                model={model}
                onStarted={(dir, iterations, notes, kind) => {
                  // Its `started` event came before this answer: the run is training (see useRunEvents);
                  // how it was set up (its start from a grid) opens its journal.
                  const journal = notes.map((message) => ({
                    type: 'log' as const,
                    run: dir,
                    level: 'info' as const,
                    message,
                  }));
                  setOpenedRun({
                    dir,
                    kind,
                    history: [],
                    journal,
                    status: { state: 'started', iteration: 0, iterations },
                  });
                  go({ screen: 'Train', run: dir });
                }}
              />
            )}
            {active === 'Compare' && (
              <CompareScreen engine={engine} run={run?.dir ?? null} kind={run?.kind ?? 'learner'} />
            )}
            {active === 'Plot' && (
              <PlotScreen key={model?.summary.dir ?? 'no model'} engine={engine} model={model} runsRoot={runsRoot} />
            )}
            {active === 'Export' && (
              <ExportScreen engine={engine} run={run?.dir ?? null} kind={run?.kind ?? 'learner'} />
            )}
            {active === 'Runs' && (
              <RunsScreen
                engine={engine}
                root={runsRoot}
                setRoot={setRunsRoot}
                onOpen={(opened) => {
                  setOpenedRun(opened);
                  go({ screen: 'Train', run: opened.dir });
                }}
              />
            )}
            {active === 'Train' && <TrainScreen engine={engine} run={run?.dir ?? null} view={view} />}
            {active === 'Workers' && <WorkersScreen engine={engine} />}
          </ErrorBoundary>
          <RuntimeInfo />
        </Stack>
      </AppShell.Main>
    </AppShell>
  );
}
