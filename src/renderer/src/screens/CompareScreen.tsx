// Screen 4 — Compare: the learned policy next to its baselines (same sampler, steps, seed and n):
// FID, KID, precision, recall and NFE, with each row's samples side by side; the temperature
// slider re-evaluates the policy.

import { useState } from 'react';
import { Alert, Button, Card, Checkbox, Group, Image, NumberInput, SimpleGrid, Slider, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import type { ComparisonResult } from '../../../shared/protocol';
import type { EngineClient } from '../engine/client';

export function CompareScreen({ engine, run }: { engine: EngineClient; run: string | null }) {
  const [result, setResult] = useState<ComparisonResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [temperature, setTemperature] = useState(1);
  const [n, setN] = useState<number | string>(2000);
  const [grid, setGrid] = useState('');
  const [bestConstant, setBestConstant] = useState(true);
  if (!run) return <Alert color="yellow">Train a policy first (Tune → Train).</Alert>;
  const nError = Number.isInteger(Number(n)) && Number(n) >= 100 && Number(n) <= 100_000 ? null : 'a whole number from 100 to 100,000';

  const evaluate = async (tau: number): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      setResult(await engine.request('eval.policy', { run, n: Number(n), temperature: tau, bestConstant, ...(grid.trim() ? { gridResult: grid.trim() } : {}) }));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const keys = result ? Object.keys(result.rows[0]!.summary).filter((k) => k !== 'kid_std') : [];
  const best = (k: string): number => {
    if (!result) return -1;
    const vals = result.rows.map((r) => r.summary[k] ?? NaN);
    const higherBetter = k === 'precision' || k === 'recall';
    let bi = 0;
    vals.forEach((v, i) => {
      if (higherBetter ? v > vals[bi]! : v < vals[bi]!) bi = i;
    });
    return bi;
  };
  return (
    <Stack gap="md">
      <Title order={2}>Compare</Title>
      <Text size="sm" c="dimmed">
        {run}
      </Text>
      <Group align="end">
        <NumberInput label="Samples per row" value={n} onChange={setN} min={100} max={100000} error={nError} w={180} />
        <TextInput label="Grid result (optional)" description="a `grid` output directory: adds its best constant" value={grid} onChange={(e) => setGrid(e.currentTarget.value)} w={360} />
        <Checkbox label="Search the best constant" description="a grid over the policy’s action values (cfg, gamma), chosen by FID on another seed" checked={bestConstant} onChange={(e) => setBestConstant(e.currentTarget.checked)} maw={260} />
        <Button onClick={() => void evaluate(temperature)} loading={busy} disabled={nError !== null}>
          {result ? 'Evaluate again' : 'Evaluate'}
        </Button>
      </Group>
      <div>
        <Text size="sm" fw={500}>
          Policy temperature τ = {temperature.toFixed(2)} (lower: more deterministic)
        </Text>
        <Slider min={0.25} max={2} step={0.05} value={temperature} onChange={setTemperature} onChangeEnd={(t) => result && void evaluate(t)} disabled={busy} thumbLabel="policy temperature" maw={420} />
      </div>
      {error && (
        <Alert color="red" title="Could not evaluate">
          {error}
        </Alert>
      )}
      {result && (
        <>
          <Table striped withTableBorder data-testid="compare-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>method</Table.Th>
                <Table.Th title="guided denoiser evaluations D_w per sample">NFE</Table.Th>
                <Table.Th title="network passes per sample: a guided evaluation with w ≠ 1 runs the network twice">denoiser passes</Table.Th>
                {keys.map((k) => (
                  <Table.Th key={k}>{k}</Table.Th>
                ))}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {result.rows.map((r, i) => (
                <Table.Tr key={r.name}>
                  <Table.Td>{r.name}</Table.Td>
                  <Table.Td>{r.nfe.toFixed(2)}</Table.Td>
                  <Table.Td>{r.networkEvals.toFixed(2)}</Table.Td>
                  {keys.map((k) => (
                    <Table.Td key={k} fw={best(k) === i ? 700 : undefined}>
                      {k === 'kid' ? (r.summary[k] ?? NaN).toExponential(2) : (r.summary[k] ?? NaN).toFixed(4)}
                    </Table.Td>
                  ))}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          <Text size="xs" c="dimmed">
            n = {result.n} per row, seed {result.seed}, iteration {result.iteration}; FID/KID lower is better, precision/recall higher (best in bold). NFE counts guided evaluations D_w; denoiser passes count network calls (two for w ≠ 1).
          </Text>
          <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
            {result.rows.map((r) => (
              <Card key={r.name} withBorder padding="xs">
                <Text size="sm" fw={500}>
                  {r.name}
                </Text>
                {r.pngBase64 && <Image src={`data:image/png;base64,${r.pngBase64}`} alt={`samples: ${r.name}`} data-testid="compare-samples" />}
              </Card>
            ))}
          </SimpleGrid>
        </>
      )}
    </Stack>
  );
}
