// Module hooks for record-modules.ts (they run on Node's loader thread): append each resolved URL to
// the file named in `data.file`.

import { appendFileSync } from 'node:fs';

let file = '';

export function initialize(data: { file: string }): void {
  file = data.file;
}

type Resolved = { url: string };
export async function resolve(
  specifier: string,
  context: unknown,
  nextResolve: (specifier: string, context: unknown) => Promise<Resolved>,
): Promise<Resolved> {
  const resolved = await nextResolve(specifier, context);
  appendFileSync(file, resolved.url + '\n');
  return resolved;
}
