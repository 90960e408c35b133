// A model's data samples and their classes, as its manifest names them: "data" (.npy, [M, ...shape])
// and "dataLabels" (.npy, int [M]). The learner's expert states, the metrics' reference set and the
// background of scatter plots all come from here.
//
// [Note: not cached]
// Nothing is kept between calls: the learner holds its copy for as long as it trains, evaluation
// caches the reference features and statistics on disk, and pictures read only vector data (small).
// A cache here would keep a large image data set in memory for as long as the model is open.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy, toFloat32 } from '../io/npy';
import { ModelError } from './manifest';
import type { Model } from './model';

export interface ModelData {
  /** [n, ...shape] row-major; uint8 data (images) is mapped to [-1, 1], the EDM convention for samples. */
  x: Float32Array;
  n: number;
  /** Class of each sample ("dataLabels"), or null when the manifest names none. */
  labels: Int32Array | null;
}

/** The file named by `key` in model.json, which must exist; null when the manifest names none. */
function namedFile(model: Model, key: 'data' | 'dataLabels'): string | null {
  const name = model.manifest[key];
  if (!name) return null;
  const path = join(model.dir, name);
  if (!existsSync(path)) throw new ModelError(`${path}: not found ("${key}" in model.json)`, path, key);
  return path;
}

/** The data samples' file ("data" in model.json); null when the manifest names none. */
export function dataFile(model: Model): string | null {
  return namedFile(model, 'data');
}

/** The class of each data sample ("dataLabels" in model.json); null when the manifest names none. */
export async function loadDataLabels(model: Model): Promise<Int32Array | null> {
  const path = namedFile(model, 'dataLabels');
  if (!path) return null;
  return Int32Array.from((await readNpy(path)).data as ArrayLike<number | bigint>, (v) => Number(v));
}

/**
 * The model's data samples and their classes, checked against the model's sample shape and each
 * other; null when the manifest names no data. A named file that is missing is a ModelError.
 */
export async function loadData(model: Model): Promise<ModelData | null> {
  const path = dataFile(model);
  if (!path) return null;
  const arr = await readNpy(path);
  const m = model.manifest;
  const per = arr.shape.slice(1).reduce((a, b) => a * b, 1);
  if (arr.shape.length === 0 || per !== model.dim) {
    throw new ModelError(
      `${path}: samples have shape [${arr.shape.slice(1).join(', ')}], but the model's are [${m.shape.join(', ')}]`,
      path,
      'data',
    );
  }
  const n = arr.shape[0]!;
  const x = arr.dtype === 'uint8' ? Float32Array.from(arr.data as Uint8Array, (v) => v / 127.5 - 1) : toFloat32(arr);
  const labels = await loadDataLabels(model);
  if (labels && labels.length !== n) {
    const labelsPath = join(model.dir, m.dataLabels!);
    throw new ModelError(`${labelsPath}: ${labels.length} labels for ${n} data samples`, labelsPath, 'dataLabels');
  }
  return { x, n, labels };
}
