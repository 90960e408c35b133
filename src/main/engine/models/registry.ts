// Where models come from: the bundled ones under resources/models/<id>/, or any directory the user
// names. `resolveModelDir` turns an id or a path into a directory, with an error listing the
// bundled ids when neither fits.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
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

/**
 * Reads and checks `dir/model.json`, with errors that say what a model directory is: `models` lists a
 * broken directory with this message, and loading one fails with it.
 */
export function readManifestFile(dir: string): { manifest: ModelManifest; path: string } {
  const path = join(dir, 'model.json');
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new ModelError(
      `${dir}: no such model directory; give a bundled model id (see 'models') or a directory holding model.json`,
      dir,
    );
  if (!existsSync(path))
    throw new ModelError(
      `${dir} is not a model directory: it has no model.json (a model directory holds a model.json manifest next to its ONNX denoiser; see README, "Models")`,
      path,
    );
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ModelError(`${path}: is not valid JSON (${(e as Error).message}); fix the syntax`, path);
  }
  return { manifest: parseManifest(json, path), path };
}

function entry(id: string, dir: string, bundled: boolean): ModelEntry {
  try {
    return { id, dir, bundled, manifest: readManifestFile(dir).manifest, error: null };
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

/**
 * How another machine opens this model (workers, distributed/): a bundled model by its id — each
 * install has its own copy — and any other by its directory, which must be the same path there.
 */
export function portableModelRef(model: { dir: string }): string {
  const id = basename(model.dir);
  return resolve(join(resourcesDir(), 'models', id)) === resolve(model.dir) ? id : model.dir;
}
