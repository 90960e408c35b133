// JSON has no Infinity: Sampler Studio writes ±Infinity (e.g. EDM's S_tmax) as the strings "inf" /
// "-inf" in every file it saves (run configs, grid results, CLI results) and reads them back here.

export function infReplacer(_key: string, v: unknown): unknown {
  return v === Infinity ? 'inf' : v === -Infinity ? '-inf' : v;
}

export function infReviver(_key: string, v: unknown): unknown {
  return v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v;
}
