// Where models come from: the bundled ones under resources/models/<id>/, or any directory the user
// names. `resolveModelDir` turns an id or a path into a directory, with an error listing the
// bundled ids when neither fits.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelError, parseManifest, type ModelManifest } from './manifest';

/** The resources directory: $SAMPLER_STUDIO_RESOURCES, or the nearest `resources/models` above this file. */
export function resourcesDir(): string {
  const env = process.env['SAMPLER_STUDIO_RESOURCES'];
  if (env) return resolve(env);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'resources', 'models'))) return join(dir, 'resources');
    dir = dirname(dir);
  }
  return resolve('resources');
}

export interface ModelEntry {
  id: string;
  dir: string;
  bundled: boolean;
  manifest: ModelManifest | null;
  /** Why the manifest could not be read, when it could not. */
  error: string | null;
}

function entry(id: string, dir: string, bundled: boolean): ModelEntry {
  const file = join(dir, 'model.json');
  try {
    return { id, dir, bundled, manifest: parseManifest(JSON.parse(readFileSync(file, 'utf8')), file), error: null };
  } catch (e) {
    return { id, dir, bundled, manifest: null, error: (e as Error).message };
  }
}

export function bundledModels(): ModelEntry[] {
  const root = join(resourcesDir(), 'models');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => existsSync(join(root, d, 'model.json')))
    .sort()
    .map((d) => entry(d, join(root, d), true));
}

/** An id of a bundled model, or a path to a model directory (or to its model.json). */
export function resolveModelDir(idOrPath: string): string {
  const bundled = join(resourcesDir(), 'models', idOrPath);
  if (!idOrPath.includes('/') && !idOrPath.includes('\\') && existsSync(join(bundled, 'model.json'))) return bundled;
  const p = resolve(idOrPath);
  if (existsSync(p) && statSync(p).isFile() && p.endsWith('.json')) return dirname(p);
  if (existsSync(p)) return p;
  const ids = bundledModels().map((m) => m.id);
  throw new ModelError(
    `no model "${idOrPath}": not a bundled model (${ids.join(', ')}) nor an existing directory`,
    idOrPath,
  );
}

export function describeModel(dir: string, bundled: boolean): ModelEntry {
  return entry(bundled ? dir.split(/[\\/]/).pop()! : dir, dir, bundled);
}
