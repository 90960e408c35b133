// `models`: list bundled models and given directories with their manifest facts.

import { bundledModels, describeModel, resolveModelDir } from '../main/engine/models/registry';
import { parseFlags, printUsage, Reporter } from './common';

export async function cmdModels(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, {
    model: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (values.help) {
    await printUsage('models');
    return;
  }
  const entries = [...bundledModels(), ...(values.model ?? []).map((m) => describeModel(resolveModelDir(m), false))];
  const rows = entries.map((e) => ({
    id: e.id,
    dir: e.dir,
    bundled: e.bundled,
    error: e.error,
    ...(e.manifest
      ? {
          name: e.manifest.name,
          description: e.manifest.description,
          output: e.manifest.output,
          shape: e.manifest.shape,
          numClasses: e.manifest.numClasses,
          nullClass: e.manifest.nullClass,
          sigmaMin: e.manifest.sigmaMin,
          sigmaMax: e.manifest.sigmaMax,
          data: e.manifest.data !== null,
          features: e.manifest.features?.dim ?? null,
        }
      : {}),
  }));
  const human = rows
    .map((r) =>
      r.error
        ? `${r.id}  BROKEN: ${r.error}`
        : `${r.id.padEnd(18)} ${String(r.output).padEnd(9)} shape [${(r.shape ?? []).join(',')}]  classes ${r.numClasses}  σ ∈ [${r.sigmaMin}, ${r.sigmaMax}]${r.data ? '  data' : ''}\n${''.padEnd(19)}${r.description}`,
    )
    .join('\n');
  new Reporter(!!values.json).result({ command: 'models', models: rows }, human);
}
