import { useEffect, useState } from 'react';
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
import { ExportScreen } from './screens/ExportScreen';
import { TrainScreen } from './screens/TrainScreen';
import { ErrorBoundary } from './components/ErrorBoundary';
import { useEventBacklog } from './hooks/useEventBacklog';
import { useRunEvents, type OpenedRun } from './hooks/useRunEvents';

/** The screens, in the order of the flow. */
export const SCREENS = ['Model', 'Tune', 'Train', 'Compare', 'Export', 'Runs'] as const;
export type Screen = (typeof SCREENS)[number];

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
  const [active, setActive] = useState<Screen>('Model');
  const [status, setStatus] = useState<{ s: ConnectionStatus; why?: string }>({ s: 'connecting' });
  const [model, setModel] = useState<ModelReport | null>(null);
  const [run, setRun] = useState<OpenedRun | null>(null);
  const view = useRunEvents(engine, run);
  const [runsRoot, setRunsRoot] = useState('runs');
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme('light');
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
            label={screen}
            active={screen === active}
            aria-current={screen === active ? 'page' : undefined}
            onClick={() => setActive(screen)}
          />
        ))}
      </AppShell.Navbar>

      <AppShell.Main>
        <Stack gap="sm" maw={1100}>
          {/* One screen at a time, each with a boundary of its own (see ErrorBoundary's note). */}
          <ErrorBoundary key={active} what={`The ${active} screen`}>
            {active === 'Model' && (
              <ModelScreen engine={engine} onChosen={setModel} onContinue={() => setActive('Tune')} />
            )}
            {active === 'Tune' && (
              <TuneScreen
                engine={engine}
                model={model}
                onStarted={(dir, iterations) => {
                  // Its `started` event came before this answer: the run is training (see useRunEvents).
                  setRun({ dir, history: [], status: { state: 'started', iteration: 0, iterations } });
                  setActive('Train');
                }}
              />
            )}
            {active === 'Compare' && <CompareScreen engine={engine} run={run?.dir ?? null} />}
            {active === 'Export' && <ExportScreen engine={engine} run={run?.dir ?? null} />}
            {active === 'Runs' && (
              <RunsScreen
                engine={engine}
                root={runsRoot}
                setRoot={setRunsRoot}
                onOpen={(opened) => {
                  setRun(opened);
                  setActive('Train');
                }}
              />
            )}
            {active === 'Train' && <TrainScreen engine={engine} run={run?.dir ?? null} view={view} />}
          </ErrorBoundary>
          <RuntimeInfo />
        </Stack>
      </AppShell.Main>
    </AppShell>
  );
}
