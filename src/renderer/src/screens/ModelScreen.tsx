// Screen 1 — Model: the bundled models, any model directory opened by path, and for the chosen one
// its manifest facts or its validation report (what is wrong and how to fix it).

import { useEffect, useRef, useState } from 'react';
import {
  Alert,
  Badge,
  Button,
  Card,
  Center,
  Group,
  Box,
  Loader,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import type { ModelReport, ModelSummary } from '../../../shared/protocol';
import type { EngineClient } from '../engine/client';
import { Picture } from '../components/Picture';

/** `model`: the model open in the app (kept across screens and reloads); its facts show until another is opened here. */
export function ModelScreen({
  engine,
  model,
  onChosen,
  onContinue,
}: {
  engine: EngineClient;
  model: ModelReport | null;
  onChosen: (report: ModelReport) => void;
  onContinue: () => void;
}) {
  const [models, setModels] = useState<ModelSummary[] | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const [opened, setReport] = useState<ModelReport | null>(null);
  const report = opened ?? model;
  // What an Open did is shown where the user looks: the facts (or the problem) scroll into view.
  const outcome = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (opened) outcome.current?.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }, [opened]);
  const [opening, setOpening] = useState<string | null>(null);
  const [path, setPath] = useState('');

  useEffect(() => {
    engine.request('models.list', {}).then(setModels, (e: Error) => setListError(e.message));
  }, [engine]);

  const open = async (dir: string): Promise<void> => {
    setOpening(dir);
    try {
      const r = await engine.request('models.open', { dir });
      setReport(r);
      if (r.ok) onChosen(r);
    } catch (e) {
      setReport({
        summary: {
          id: dir,
          dir,
          bundled: false,
          name: null,
          description: '',
          shape: [],
          numClasses: 0,
          classNames: null,
          error: null,
        },
        ok: false,
        problem: { message: (e as Error).message, file: null, key: null },
        facts: null,
      });
    } finally {
      setOpening(null);
    }
  };

  return (
    <Stack gap="md">
      <Title order={2}>Model</Title>
      <Text c="dimmed">Pick a bundled model or open a model directory (a model.json with its ONNX denoiser).</Text>
      {listError && (
        <Alert color="red" title="Could not list the models">
          {listError}
        </Alert>
      )}
      {!models && !listError && <Loader aria-label="Loading models" />}
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
        {models?.map((m) => (
          <Card key={m.dir} withBorder padding="md" data-testid={`model-${m.id}`}>
            <Group justify="space-between" mb="xs">
              <Text fw={600}>{m.name ?? m.id}</Text>
              {m.bundled && <Badge variant="light">bundled</Badge>}
            </Group>
            {!m.error && <ModelPreview engine={engine} id={m.id} dir={m.dir} />}
            <Text size="sm" c="dimmed" lineClamp={3}>
              {m.error ?? m.description}
            </Text>
            <Text size="xs" mt="xs">
              shape [{m.shape.join(', ')}] · {m.numClasses > 0 ? `${m.numClasses} classes` : 'unconditional'}
            </Text>
            <Button
              mt="sm"
              variant="light"
              onClick={() => void open(m.dir)}
              loading={opening === m.dir}
              aria-label={`Open ${m.id}`}
            >
              Open
            </Button>
          </Card>
        ))}
      </SimpleGrid>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (path.trim()) void open(path.trim());
        }}
      >
        <Group align="end">
          <TextInput
            label="Open model directory"
            placeholder="/path/to/model"
            value={path}
            onChange={(e) => setPath(e.currentTarget.value)}
            style={{ flex: 1 }}
            error={path !== '' && !path.trim() ? 'enter a directory' : null}
          />
          {window.api && (
            <Button
              variant="default"
              onClick={() =>
                void window.api?.dialogs.openModelDirectory().then((dir) => {
                  if (dir) {
                    setPath(dir);
                    void open(dir);
                  }
                })
              }
            >
              Browse…
            </Button>
          )}
          <Button type="submit" loading={opening !== null && opening === path.trim()} disabled={!path.trim()}>
            Open…
          </Button>
        </Group>
      </form>
      <div ref={outcome}>
        {report && !report.ok && (
          <Alert
            color="red"
            title={`${report.summary.name ?? report.summary.id} cannot be used`}
            data-testid="model-problem"
          >
            <Text size="sm">{report.problem?.message}</Text>
            {report.problem?.key && (
              <Text size="xs" mt={4}>
                manifest key: <code>{report.problem.key}</code>
              </Text>
            )}
          </Alert>
        )}
        {report?.ok && report.facts && (
          <Card withBorder data-testid="model-facts">
            <Title order={4} mb="xs">
              {report.summary.name} — ready
            </Title>
            <Table striped>
              <Table.Tbody>
                {Object.entries(report.facts).map(([k, v]) => (
                  <Table.Tr key={k}>
                    <Table.Td>{k}</Table.Td>
                    <Table.Td>{v === null ? '—' : String(v)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
            <Button mt="md" onClick={onContinue}>
              Tune a sampler for {report.summary.name} →
            </Button>
          </Card>
        )}
      </div>
    </Stack>
  );
}

/** The model's preview grid (its preview.png, or samples the engine draws once). */
function ModelPreview({ engine, id, dir }: { engine: EngineClient; id: string; dir: string }) {
  const [src, setSrc] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    engine.request('models.preview', { dir }).then(
      (r) => live && setSrc(r.pngBase64),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [engine, dir]);
  if (failed) return null;
  return (
    <Card.Section mb="xs">
      {src ? (
        <Box bg="dark.8">
          <Picture png={src} alt={`samples from ${id}`} thumbnail={180} testId={`preview-${id}`} />
        </Box>
      ) : (
        <Center h={180}>
          <Loader size="sm" aria-label={`Drawing samples from ${id}`} />
        </Center>
      )}
    </Card.Section>
  );
}
