// `export`: a run's EMA policy as one self-contained ONNX file (+ a JSON sidecar), verified against
// the engine before it is written.

import { parseArgs } from 'node:util';
import { Model } from '../main/engine/models/model';
import { resolveModelDir } from '../main/engine/models/registry';
import { exportPolicy, ExportError } from '../main/engine/learner/export';
import { runModelDir } from '../main/engine/runs/files';
import { loadRun } from '../main/engine/runs/load';
import { checkRunPolicy } from '../main/engine/learner/onnx-policy';
import { checkOutputPath, deviceFromFlag, printUsage, Reporter, UsageError, writeOutput } from './common';

const EXPORT_OPTIONS = {
  run: { type: 'string' },
  checkpoint: { type: 'string' },
  out: { type: 'string' },
  force: { type: 'boolean' },
  model: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

export async function cmdExport(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({ args: argv, options: EXPORT_OPTIONS, strict: true });
  if (v.help) {
    await printUsage();
    return;
  }
  if (!v.run) throw new UsageError('export needs --run RUN_DIR (a training run directory)');
  if (!v.out) throw new UsageError('export needs --out policy.onnx');
  checkOutputPath('out', v.out);
  const rep = new Reporter(!!v.json);
  const model = await Model.load(resolveModelDir(v.model ?? runModelDir(v.run)), { device: deviceFromFlag(v.device) });
  try {
    const learner = await loadRun(v.run, model, v.checkpoint);
    try {
      await checkRunPolicy(learner, v.run);
      let res: Awaited<ReturnType<typeof exportPolicy>> | undefined;
      await writeOutput(v.out, async () => {
        try {
          res = await exportPolicy(learner, { out: v.out!, force: !!v.force, runDir: v.run! });
        } catch (e) {
          if (e instanceof ExportError) throw new UsageError(e.message);
          throw e;
        }
      });
      const r = res!;
      const io = (xs: typeof r.inputs): string =>
        xs.map((t) => `${t.name} ${t.type} [${t.shape.join(', ')}]`).join(', ');
      rep.result(
        { command: 'export', run: v.run, ...r },
        `${r.path} (${(r.bytes / 1024).toFixed(1)} KiB, opset ${r.opset}, IR ${r.irVersion}) from ${v.run} at iteration ${learner.iteration}, in ${r.seconds.toFixed(2)} s\n` +
          `  inputs:  ${io(r.inputs)}\n  outputs: ${io(r.outputs)}\n` +
          `  verified: ${r.verification.states} states, max |Δlogit| ${r.verification.maxAbsDiff.toExponential(2)} (≤ ${r.verification.tolerance}) in a fresh ONNX Runtime session\n` +
          `  sidecar: ${r.sidecar}`,
      );
    } finally {
      await learner.dispose();
    }
  } finally {
    await model.dispose();
  }
}
