// Screen 5 — Export: the run's EMA policy as one ONNX file. Pick the path (the native save dialog in
// the app, a path on the engine's machine in web mode), export, and see what was written: size,
// opset, inputs and outputs, and the check against the engine in a fresh ONNX Runtime session. An
// existing file is replaced only after a confirmation.

import { useEffect, useState } from 'react';
import { Alert, Badge, Button, Code, CopyButton, Group, Modal, Stack, Table, Text, TextInput } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import type { PolicyExportResult, RunKind } from '../../../shared/protocol';
import { EngineError, type EngineClient } from '../engine/client';
import { RunHeader } from '../components/RunHeader';
import { download } from '../components/forms';

/** A few lines of Python that load the exported file and show what it is (the README has a whole sampler). */
export function pythonSnippet(path: string): string {
  return `import json
import numpy as np
import onnxruntime as ort

policy = ort.InferenceSession(${JSON.stringify(path)}, providers=["CPUExecutionProvider"])
meta = policy.get_modelmeta().custom_metadata_map
actions = np.array(json.loads(meta["actions"]), dtype=np.float32)
print(meta["intervention"], "over", actions, "with", meta["sampler"], meta["steps"], "steps")
print("inputs:", [(i.name, i.shape) for i in policy.get_inputs()])
# probs[n, k]: the policy's probability of action k in state n (x, sigma, ...); see the README,
# "Taking it home", for EDM's Heun sampler with this policy choosing the guidance at every step.`;
}

/** A drift policy's snippet: its metadata, and how its output moves the base sampler's step. */
export function driftSnippet(path: string): string {
  return `import onnxruntime as ort

drift = ort.InferenceSession(${JSON.stringify(path)}, providers=["CPUExecutionProvider"])
meta = drift.get_modelmeta().custom_metadata_map
print(meta["objective"], "on", meta["sampler"], meta["steps"], "steps,", meta["schedule"], "on", meta["model"])
print(meta["step"])  # how to use it: v = drift.run(None, {"x": x, "sigma": sigma})[0] at every step`;
}

/** The step scheduler's snippet: its metadata, and the mean schedule beside it as a --sigmas list. */
export function schedulerSnippet(path: string, schedule: string | null): string {
  return `import json
import onnxruntime as ort

scheduler = ort.InferenceSession(${JSON.stringify(path)}, providers=["CPUExecutionProvider"])
meta = scheduler.get_modelmeta().custom_metadata_map
print(meta["sampler"], "NFE budget", meta["nfe_budget"], "on", meta["model"])
print(meta["episode"])  # how to run it: sigma_next[n] from (x, sigma, decisions, nfe_spent) at every step
${schedule ? `sigmas = json.load(open(${JSON.stringify(schedule)}))  # its mean schedule: ComfyUI SIGMAS / diffusers sigmas=` : '# (no mean schedule yet: the run had no evaluation)'}`;
}

/** `<run>/policy.onnx`, the suggested file. */
export function defaultExportPath(run: string): string {
  return `${run.replace(/[\\/]+$/, '')}/policy.onnx`;
}

export function ExportScreen({
  engine,
  run,
  kind = 'learner',
}: {
  engine: EngineClient;
  run: string | null;
  /** A step scheduler run exports its policy and, beside it, its mean schedule (NAME.schedule.json). */
  kind?: RunKind;
}) {
  const scheduler = kind === 'scheduler';
  const drift = kind === 'drift';
  const snippet = (r: PolicyExportResult): string =>
    scheduler ? schedulerSnippet(r.path, r.schedule) : drift ? driftSnippet(r.path) : pythonSnippet(r.path);
  const [out, setOut] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<PolicyExportResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<string | null>(null);
  useEffect(() => {
    setOut(run ? defaultExportPath(run) : '');
    setResult(null);
    setError(null);
  }, [run]);
  if (!run) return <Alert color="yellow">Train a policy first (Tune → Train), or open a run on the Runs screen.</Alert>;
  const outError =
    out.trim() === ''
      ? 'enter where to write the file'
      : !/\.onnx$/i.test(out.trim())
        ? 'the file name must end in .onnx'
        : null;

  const doExport = async (force: boolean): Promise<void> => {
    setBusy(true);
    setError(null);
    setConfirm(null);
    // What is on screen is what the last export did: a failed one takes the earlier result away.
    setResult(null);
    try {
      const r = await engine.request('policy.export', { run, out: out.trim(), force });
      setResult(r);
      notifications.show({
        color: 'green',
        title: 'Policy exported',
        message: `${r.path} (${(r.bytes / 1024).toFixed(1)} KiB)`,
      });
    } catch (e) {
      if (e instanceof EngineError && e.code === 'exists') setConfirm(out.trim());
      else setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const fetchFiles = async (): Promise<void> => {
    if (!result) return;
    try {
      const f = await engine.request('policy.files', { path: result.path });
      download(
        f.name,
        Uint8Array.from(atob(f.onnxBase64), (c) => c.charCodeAt(0)),
        'application/octet-stream',
      );
      download(f.sidecarName, f.sidecar, 'application/json');
      if (f.schedule) download(f.schedule.name, f.schedule.text, 'application/json');
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const choose = async (): Promise<void> => {
    const picked = await window.api?.dialogs.chooseExportPath(out.trim() || defaultExportPath(run));
    if (picked) setOut(picked);
  };
  const io = (rows: PolicyExportResult['inputs'], kind: string) =>
    rows.map((t) => (
      <Table.Tr key={kind + t.name}>
        <Table.Td>{kind}</Table.Td>
        <Table.Td>
          <Code>{t.name}</Code>
        </Table.Td>
        <Table.Td>
          {t.type} [{t.shape.join(', ')}]
        </Table.Td>
        <Table.Td>{t.doc}</Table.Td>
      </Table.Tr>
    ));
  return (
    <Stack gap="md">
      <RunHeader title="Export" run={run} />
      {drift ? (
        <Text size="sm">
          Writes the run’s drift policy as one self-contained ONNX file (inputs x, σ; output the drift v that moves the
          base sampler’s step mean) and a JSON sidecar with its metadata. The file is checked against the engine before
          it is written.
        </Text>
      ) : scheduler ? (
        <Text size="sm">
          Writes the run’s step scheduler as one self-contained ONNX file (inputs x, σ, decisions, NFE spent; outputs
          the Gaussian’s mean and std, Δ and the next σ), a JSON sidecar, and its mean schedule beside them
          (NAME.schedule.json: a list ComfyUI’s SIGMAS and diffusers’ sigmas= take as it is). The file is checked
          against the engine before it is written.
        </Text>
      ) : (
        <Text size="sm">
          Writes the run’s EMA policy as one self-contained ONNX file (its encoder and embeddings inside) plus a JSON
          sidecar with its metadata and evaluation. The file is checked against the engine before it is written. See the
          README for a Python sampler that uses it.
        </Text>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!outError) void doExport(false);
        }}
      >
        <Group align="end">
          <TextInput
            label="Export to"
            description={window.api ? 'a file on this computer' : 'a path on the machine that runs the engine'}
            value={out}
            onChange={(e) => setOut(e.currentTarget.value)}
            error={outError}
            w={520}
          />
          {window.api && (
            <Button variant="default" onClick={() => void choose()}>
              Choose…
            </Button>
          )}
          <Button type="submit" loading={busy} disabled={outError !== null}>
            Export ONNX
          </Button>
        </Group>
      </form>
      <Modal opened={confirm !== null} onClose={() => setConfirm(null)} title="Replace the existing file?">
        <Text size="sm">
          <Code>{confirm}</Code> already exists. Replace it (and its .json sidecar) with this run’s policy?
        </Text>
        <Group justify="end" mt="md">
          <Button variant="default" onClick={() => setConfirm(null)}>
            Keep it
          </Button>
          <Button color="red" onClick={() => void doExport(true)}>
            Replace
          </Button>
        </Group>
      </Modal>
      {error && (
        <Alert color="red" title="Could not export">
          {error}
        </Alert>
      )}
      {result && (
        <Stack gap="xs" data-testid="export-result">
          <Group gap="xs">
            <Badge color={result.verification.maxAbsDiff <= result.verification.tolerance ? 'green' : 'red'}>
              verified
            </Badge>
            <Text size="sm">
              {result.verification.states} states, max |Δ{scheduler ? 'mean' : drift ? 'drift' : 'logit'}|{' '}
              {result.verification.maxAbsDiff.toExponential(2)} (≤ {result.verification.tolerance}) against the engine
              in a fresh ONNX Runtime session
            </Text>
          </Group>
          <Text size="sm">
            <Code>{result.path}</Code> — {(result.bytes / 1024).toFixed(1)} KiB, opset {result.opset}, IR{' '}
            {result.irVersion}, written in {result.seconds.toFixed(2)} s; metadata and evaluation in{' '}
            <Code>{result.sidecar}</Code>
          </Text>
          {result.schedule && (
            <Text size="sm" data-testid="export-schedule">
              mean schedule: <Code>{result.schedule}</Code>
            </Text>
          )}
          <Table withTableBorder striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th />
                <Table.Th>name</Table.Th>
                <Table.Th>type</Table.Th>
                <Table.Th>meaning</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {io(result.inputs, 'input')}
              {io(result.outputs, 'output')}
            </Table.Tbody>
          </Table>
          <Group gap="xs">
            {!window.api && (
              <Button variant="light" onClick={() => void fetchFiles()} data-testid="export-download">
                Download {result.path.split(/[\\/]/).pop()} and its .json{result.schedule ? ' and its schedule' : ''}
              </Button>
            )}
            <CopyButton value={snippet(result)}>
              {({ copied, copy }) => (
                <Button variant="default" onClick={copy} data-testid="export-copy-python">
                  {copied ? 'Copied' : 'Copy Python snippet'}
                </Button>
              )}
            </CopyButton>
          </Group>
          <Code block data-testid="export-python">
            {snippet(result)}
          </Code>
          {drift ? (
            <Text size="xs" c="dimmed">
              drift policy, {result.metadata['objective']} on {result.metadata['sampler']} {result.metadata['steps']}{' '}
              steps, rewards {result.metadata['rewards']} on {result.metadata['model']}, iteration{' '}
              {result.metadata['iteration']}.
            </Text>
          ) : scheduler ? (
            <Text size="xs" c="dimmed">
              step scheduler, {result.metadata['sampler']} with an NFE budget of {result.metadata['nfe_budget']}, reward{' '}
              {result.metadata['reward']}, state {result.metadata['state']} on {result.metadata['model']}, iteration{' '}
              {result.metadata['iteration']}.
            </Text>
          ) : (
            <Text size="xs" c="dimmed">
              {result.metadata['intervention']} policy, actions {result.metadata['actions']},{' '}
              {result.metadata['divergence']}, {result.metadata['conditioning']}; {result.metadata['sampler']}{' '}
              {result.metadata['steps']} steps on {result.metadata['model']}, iteration {result.metadata['iteration']}.{' '}
              {result.metadata['action_mask']}
            </Text>
          )}
        </Stack>
      )}
    </Stack>
  );
}
