// How a sample grid is laid out, for the engine that draws it (engine/pictures.ts) and the app that
// labels and scales it (renderer SampleGrid): one function, so the row labels and the tiles cannot
// disagree.
//
// A class-conditional image model with at most MAX_CLASS_ROWS classes gets one row per class, in
// class order, CLASS_COLS samples each (the first ones drawn with that class; a class drawn fewer
// times leaves grey cells), so a class that the sampler gets wrong shows as a row. Other image models
// get the first MAX_TILES samples in a square-ish grid. Tiles are separated by GRID_PAD pixels.

import { z } from 'zod';

export const GRID_PAD = 2;
export const MAX_TILES = 64;
export const MAX_CLASS_ROWS = 16;
export const CLASS_COLS = 10;

export interface GridModel {
  shape: readonly number[];
  numClasses: number;
  classNames?: readonly string[] | null;
}

export interface GridLayout {
  /** Tile height and width in pixels (the sample's H and W). */
  tile: [h: number, w: number];
  pad: number;
  cols: number;
  rows: number;
  /** Row r shows class rowClasses[r] (class-row layout), or null (first samples, row-major). */
  rowClasses: number[] | null;
}

/** The name of class k: the manifest's, else "class k". */
export function className(m: GridModel, k: number): string {
  return m.classNames?.[k] ?? `class ${k}`;
}

/** True for a model whose samples are drawn as an image grid ([1|3, H, W]). */
export function isImageModel(m: GridModel): boolean {
  return m.shape.length === 3 && (m.shape[0] === 1 || m.shape[0] === 3);
}

/**
 * The grid for `count` samples of an image model (null for other shapes). `classRows`: whether the
 * samples carry class labels (an unconditional draw of a conditional model does not).
 */
export function gridLayout(m: GridModel, count: number, classRows = m.numClasses > 0): GridLayout | null {
  if (!isImageModel(m)) return null;
  const tile: [number, number] = [m.shape[1]!, m.shape[2]!];
  if (classRows && m.numClasses > 0 && m.numClasses <= MAX_CLASS_ROWS) {
    const rowClasses = Array.from({ length: m.numClasses }, (_, k) => k);
    return { tile, pad: GRID_PAD, cols: CLASS_COLS, rows: m.numClasses, rowClasses };
  }
  const shown = Math.max(1, Math.min(count, MAX_TILES));
  const cols = Math.ceil(Math.sqrt(shown));
  return { tile, pad: GRID_PAD, cols, rows: Math.ceil(shown / cols), rowClasses: null };
}

/**
 * Which sample fills each cell of a class-row layout: cells[r·cols + c] = the index of the c-th sample
 * whose label is rowClasses[r], or −1 where there are fewer.
 */
export function classRowCells(layout: GridLayout, labels: ArrayLike<number>, count: number): Int32Array {
  const cells = new Int32Array(layout.rows * layout.cols).fill(-1);
  const row = new Map(layout.rowClasses!.map((k, r) => [k, r]));
  const filled = new Int32Array(layout.rows);
  for (let i = 0; i < count; i++) {
    const r = row.get(labels[i]!);
    if (r === undefined || filled[r]! >= layout.cols) continue;
    cells[r * layout.cols + filled[r]!++] = i;
  }
  return cells;
}

// ---------------------------------------------------------------------------
// What a picture says about itself: the engine writes this JSON into the PNG (an iTXt chunk under
// PICTURE_TEXT_KEY), so a picture from an event, a run folder or a comparison carries its own row
// labels or legend wherever it is shown.

export const PICTURE_TEXT_KEY = 'sampler-studio:picture';

export const PictureInfoSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('grid'),
    cols: z.number().int().positive(),
    rows: z.number().int().positive(),
    tile: z.tuple([z.number().int().positive(), z.number().int().positive()]),
    pad: z.number().int().nonnegative(),
    /** A label per row (class names), or null. */
    rowLabels: z.array(z.string()).nullable(),
  }),
  z.object({
    kind: z.literal('scatter'),
    /** The coloured series: a label and its colour (r, g, b). */
    series: z.array(z.object({ label: z.string(), rgb: z.tuple([z.number(), z.number(), z.number()]) })),
    /** What the grey points behind are ("data, n = 10,000"), or null. */
    background: z.string().nullable(),
    /** The axes' names ("x₁", "PC 1 (38% of variance)"). */
    axes: z.tuple([z.string(), z.string()]),
  }),
]);
export type PictureInfo = z.infer<typeof PictureInfoSchema>;

/** The picture's own description from its PNG text (shared/png-text.ts), or null (none, or unreadable). */
export function pictureInfo(text: Record<string, string>): PictureInfo | null {
  const raw = text[PICTURE_TEXT_KEY];
  if (raw === undefined) return null;
  try {
    const r = PictureInfoSchema.safeParse(JSON.parse(raw));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}
