// Workers (issue 19): the Redis that training on many machines goes through, and what is connected
// to it — each worker's heartbeat (what it runs on, what it did, how long ago it last spoke) and the
// shard queue's depth — read through the engine (workers.status) every few seconds while this screen
// is open. Tune starts learner runs on these workers when asked (state/workers.ts keeps the choice).
// Starting workers is done on their machines: `sampler-studio worker --redis URL` (README, "Training
// on many machines").

import { useEffect, useState } from 'react';
import { Alert, Badge, Code, Group, PasswordInput, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import type { Methods } from '../../../shared/protocol';
import { splitPassword } from '../../../shared/redis-url';
import type { EngineClient } from '../engine/client';
import { redisOf, useWorkersSettings } from '../state/workers';

/** How often the panel reads the queue (a worker's heartbeat comes every 5 s). */
const EVERY_MS = 3000;

type Reading = Methods['workers.status']['result'];

/** A heartbeat's age in words: "2 s ago", "1 min 5 s ago". */
function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s ago` : `${Math.floor(s / 60)} min ${s % 60} s ago`;
}

/** Reads workers.status every EVERY_MS while `url` is set: the last reading, or why it failed. */
function useQueueStatus(
  engine: EngineClient,
  url: string | null,
): { reading: Reading | null; error: string | null; url: string | null } {
  const [state, setState] = useState<{ url: string; reading: Reading | null; error: string | null } | null>(null);
  useEffect(() => {
    if (url === null) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = (): void => {
      engine
        .request('workers.status', { redis: url })
        .then(
          (reading) => live && setState({ url, reading, error: null }),
          (e: Error) =>
            live && setState((old) => ({ url, reading: old?.url === url ? old.reading : null, error: e.message })),
        )
        .finally(() => {
          if (live) timer = setTimeout(read, EVERY_MS);
        });
    };
    read();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [engine, url]);
  return state && state.url === url ? state : { reading: null, error: null, url };
}

export function WorkersScreen({ engine }: { engine: EngineClient }) {
  const [settings, setSettings] = useWorkersSettings();
  const redis = redisOf(settings);
  const usable = redis !== null && redis.problem === null ? redis.url : null;
  const { reading, error } = useQueueStatus(engine, usable);
  const setUrl = (text: string): void => {
    // A URL pasted with its password: the password goes to its own (masked) field at once
    // ([Note: the Redis password in the app]).
    const { url, password } = splitPassword(text);
    setSettings((s) => ({ ...s, url, password: password !== '' ? password : s.password }));
  };
  return (
    <Stack gap="md">
      <Title order={2}>Workers</Title>
      <Text size="sm" c="dimmed">
        Training on many machines: the learner stays here and sends each iteration&apos;s rollouts to workers — one per
        GPU, on any machine that reaches this Redis — started there with <Code>sampler-studio worker --redis URL</Code>.
        Tune offers to run a learner on them once the Redis is set.
      </Text>
      <Group align="start">
        <TextInput
          label="Redis URL"
          description="redis://HOST:PORT[/DB] (rediss:// for TLS); a password in it moves to the field beside"
          placeholder="redis://10.0.0.5:6379"
          value={settings.url}
          onChange={(e) => setUrl(e.currentTarget.value)}
          error={redis?.problem ?? null}
          w={420}
          data-testid="redis-url"
        />
        <PasswordInput
          label="Redis password"
          description="empty: none (redis-server --requirepass)"
          value={settings.password}
          onChange={(e) => {
            const password = e.currentTarget.value;
            setSettings((s) => ({ ...s, password }));
          }}
          w={260}
          autoComplete="off"
        />
      </Group>
      <Text size="xs" c="dimmed">
        Kept in this browser&apos;s storage like the app&apos;s other settings (the password too, unencrypted). Bind
        Redis to a private interface and set a password: anyone who reaches it can read and write the queue.
      </Text>
      {redis === null && <Alert color="gray">No Redis set: training rolls out in the engine&apos;s own process.</Alert>}
      {error && (
        <Alert color="red" title="Cannot reach Redis" data-testid="workers-error">
          {error}
        </Alert>
      )}
      {usable && (
        <Stack gap="xs" data-testid="workers-panel">
          <Group gap="xs">
            <Text size="sm">
              {redis!.shown}
              {reading
                ? ` · read ${new Date(reading.at).toLocaleTimeString()} (every ${EVERY_MS / 1000} s)`
                : ' · reading…'}
            </Text>
          </Group>
          {reading && (
            <>
              <Group gap="xs" data-testid="queue-depth">
                <Text size="sm" fw={500}>
                  Shard queue:
                </Text>
                <Badge variant="light" color="gray">
                  {reading.waiting} waiting
                </Badge>
                <Badge variant="light" color="blue">
                  {reading.active} active
                </Badge>
                <Badge variant="light" color={reading.failed > 0 ? 'red' : 'gray'}>
                  {reading.failed} failed
                </Badge>
              </Group>
              {reading.workers.length === 0 ? (
                <Text c="dimmed" data-testid="no-workers">
                  No worker is connected (a worker says it is alive every 5 s; one silent for 30 s is gone).
                </Text>
              ) : (
                <Table striped withTableBorder data-testid="workers-table">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Name</Table.Th>
                      <Table.Th>Device</Table.Th>
                      <Table.Th>Backend</Table.Th>
                      <Table.Th>Concurrency</Table.Th>
                      <Table.Th>Models</Table.Th>
                      <Table.Th>Shards done</Table.Th>
                      <Table.Th>Trajectories/s</Table.Th>
                      <Table.Th>Last heartbeat</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {reading.workers.map((w) => (
                      <Table.Tr key={w.name} data-testid={`worker-${w.name}`}>
                        <Table.Td>{w.name}</Table.Td>
                        <Table.Td>{w.device}</Table.Td>
                        <Table.Td>{w.backend}</Table.Td>
                        <Table.Td>{w.concurrency}</Table.Td>
                        <Table.Td>{w.models.length > 0 ? w.models.join(', ') : '—'}</Table.Td>
                        <Table.Td>
                          {w.shards}
                          {w.duplicates > 0 && ` (+${w.duplicates} already done)`}
                        </Table.Td>
                        <Table.Td>{w.samplesPerSecond > 0 ? w.samplesPerSecond.toFixed(1) : '—'}</Table.Td>
                        <Table.Td>{age(reading.at - w.at)}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              )}
            </>
          )}
        </Stack>
      )}
    </Stack>
  );
}
