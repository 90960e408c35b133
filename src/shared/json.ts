// JSON has no Infinity: Sampler Studio writes ±Infinity (e.g. EDM's S_tmax) as the strings "inf" /
// "-inf" in every file it saves (run configs, grid results, CLI results) and reads them back here.

export function infReplacer(_key: string, v: unknown): unknown {
  return v === Infinity ? 'inf' : v === -Infinity ? '-inf' : v;
}

export function infReviver(_key: string, v: unknown): unknown {
  return v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v;
}

// [Note: ∞ on the wire]
// The web mode's WebSocket carries JSON, where ±Infinity and NaN would turn into null (and a metrics
// event holding one would then fail its schema and be dropped). On that socket, both ways, every
// non-finite number travels as {"$float": "inf" | "-inf" | "nan"}: no protocol object has that key,
// so, unlike the "inf" strings of files, it cannot be mistaken for a user's text. The server
// decodes what pages send before the engine sees it, and the engine's IPC channel carries numbers
// as they are (fork's serialization: 'advanced'); Electron's own channels are structured clones.

const FLOAT_KEY = '$float';
const FLOAT_NAMES: Record<string, number> = { inf: Infinity, '-inf': -Infinity, nan: NaN };

/** JSON.stringify's replacer for the web socket: a non-finite number as {"$float": "inf" | "-inf" | "nan"}. */
export function wireReplacer(_key: string, v: unknown): unknown {
  if (typeof v !== 'number' || Number.isFinite(v)) return v;
  return { [FLOAT_KEY]: Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf' };
}

function wireFloat(v: unknown): number | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  const name = (v as Record<string, unknown>)[FLOAT_KEY];
  return keys.length === 1 && typeof name === 'string' ? FLOAT_NAMES[name] : undefined;
}

/** JSON.parse's reviver for the web socket (wireReplacer's inverse). */
export function wireReviver(_key: string, v: unknown): unknown {
  return wireFloat(v) ?? v;
}

/** wireReviver applied to a value already parsed (recursive: for messages whose depth is bounded). */
export function fromWire(v: unknown): unknown {
  const f = wireFloat(v);
  if (f !== undefined) return f;
  if (Array.isArray(v)) return v.map(fromWire);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromWire(x)]));
}

/** NaN as null (what a wire schema of finite numbers takes), in a list of numbers. */
export function nanAsNull(a: readonly number[]): (number | null)[] {
  return a.map((v) => (Number.isNaN(v) ? null : v));
}
