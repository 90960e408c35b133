// What stands between a form and its start, said the same way on both Tune forms: the settings'
// problem across fields (the engine's own words), and why the last start failed.

import { Alert } from '@mantine/core';

export function StartProblems({ config, start }: { config: string | null; start: string | null }) {
  return (
    <>
      {config && (
        <Alert color="orange" data-testid="config-error">
          {config}
        </Alert>
      )}
      {start && (
        <Alert color="red" title="Could not start" data-testid="tune-error">
          {start}
        </Alert>
      )}
    </>
  );
}
