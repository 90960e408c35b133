import { AppShell, Code, Group, NavLink, Stack, Text, Title } from '@mantine/core';

/** Screens planned for the app; only "Model" exists so far. */
export const SCREENS = ['Model', 'Tune', 'Train', 'Compare', 'Export', 'Runs'] as const;
export type Screen = (typeof SCREENS)[number];

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

export function App() {
  const active: Screen = 'Model';
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: 'sm' }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md">
          <Title order={3}>Sampler Studio</Title>
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
          />
        ))}
      </AppShell.Navbar>

      <AppShell.Main>
        <Stack gap="sm" maw={720}>
          <Title order={2}>Welcome</Title>
          <Text>
            Sampler Studio tunes the sampler of a pretrained diffusion model. Start by choosing a model; tuning,
            training, comparison and export screens will follow.
          </Text>
          <RuntimeInfo />
        </Stack>
      </AppShell.Main>
    </AppShell>
  );
}
