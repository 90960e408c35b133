// [Note: error boundaries]
// An error thrown while a screen renders (or in one of its effects) would otherwise unmount the whole
// app: a blank page, and a reload loses its state. The app gives each screen a boundary of its own
// (App.tsx, keyed by the screen, so leaving and coming back starts afresh) and one around itself:
// the failure is shown in place of what failed, with its message and a "Try again" that remounts
// it, while the header, the navigation and the other screens go on working. React catches these
// errors only in a class component; it logs each one, with its component stack, to the console.

import { Component, Fragment, type ReactNode } from 'react';
import { Alert, Button, Code, Group, Stack, Text } from '@mantine/core';

interface Props {
  /** What failed, as the title says it: "The Train screen". */
  what: string;
  children: ReactNode;
}

interface State {
  error: Error | null;
  /** Bumped by "Try again": the children mount anew. */
  attempt: number;
}

export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null, attempt: 0 };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override render(): ReactNode {
    const { error, attempt } = this.state;
    if (!error) return <Fragment key={attempt}>{this.props.children}</Fragment>;
    return (
      <Alert color="red" title={`${this.props.what} failed`} data-testid="screen-error">
        <Stack gap="xs" align="flex-start">
          <Code block data-testid="screen-error-message">
            {error.name}: {error.message}
          </Code>
          <Text size="sm">
            The rest of the app still works. Try again, or report this message (the browser console has the details).
          </Text>
          <Group>
            <Button variant="default" onClick={() => this.setState({ error: null, attempt: attempt + 1 })}>
              Try again
            </Button>
          </Group>
        </Stack>
      </Alert>
    );
  }
}
