// A screen's title over the run it works on (Compare, Export).

import { Text, Title } from '@mantine/core';

export function RunHeader({ title, run }: { title: string; run: string }) {
  return (
    <>
      <Title order={2}>{title}</Title>
      <Text size="sm" c="dimmed">
        {run}
      </Text>
    </>
  );
}
