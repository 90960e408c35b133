// The shape of the program, checked: no import cycle anywhere in src/, the renderer imports nothing
// from the engine, and the UI never decides state from log text. Imports are read with TypeScript's
// own pre-processor (no hand-written parsing of import syntax).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.tsx?$/.test(name) && !name.endsWith('.d.ts') ? [p] : [];
  });
}

/** A module's local imports (values and types alike), resolved to files. */
function localImports(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.flatMap(({ fileName }) => {
    if (!fileName.startsWith('.')) return [];
    const base = resolve(dirname(file), fileName);
    const hit = [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts'), join(base, 'index.tsx')].find(
      (p) => existsSync(p) && statSync(p).isFile(),
    );
    return hit ? [hit] : [];
  });
}

const files = sources(SRC);
const graph = new Map(files.map((f) => [f, localImports(f)]));

/** Strongly connected components of more than one module (Tarjan): each is an import cycle. */
function cycles(): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(relative(ROOT, w));
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc);
    }
  };
  for (const f of files) if (!idx.has(f)) visit(f);
  return out;
}

test('no import cycle in src/', () => {
  assert.ok(files.length > 50, `found ${files.length} modules`);
  assert.deepEqual(cycles(), []);
});

test('the import-cycle check finds a planted cycle', () => {
  const a = join(SRC, '__a.ts');
  const b = join(SRC, '__b.ts');
  graph.set(a, [b]);
  graph.set(b, [a]);
  files.push(a, b);
  try {
    assert.deepEqual(
      cycles()
        .filter((c) => c.includes(relative(ROOT, a)))
        .map((c) => c.sort()),
      [[relative(ROOT, a), relative(ROOT, b)].sort()],
    );
  } finally {
    graph.delete(a);
    graph.delete(b);
    files.splice(files.indexOf(a), 2);
  }
});

test('the renderer imports nothing from src/main (it talks to the engine through the protocol)', () => {
  const bad = files
    .filter((f) => f.startsWith(join(SRC, 'renderer')))
    .flatMap((f) =>
      localImports(f)
        .filter((d) => d.startsWith(join(SRC, 'main')))
        .map((d) => `${relative(ROOT, f)} → ${relative(ROOT, d)}`),
    );
  assert.deepEqual(bad, []);
});

test('the UI decides no state from message text (no regular expression or prefix test over a message)', () => {
  const bad: string[] = [];
  for (const f of files.filter((x) => x.startsWith(join(SRC, 'renderer')))) {
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        // A regex literal tested against text, or a prefix/substring test on a message or log line.
        if (
          /\/[^/\n]+\/[a-z]*\.(test|exec)\((?!\s*out\b)[^)]*\b(message|log|l|line|text)\b/.test(line) ||
          /\b(message|logs?|line)\b[\w.[\]]*\.(startsWith|endsWith|includes|match)\(/.test(line)
        ) {
          bad.push(`${relative(ROOT, f)}:${i + 1}: ${line.trim()}`);
        }
      });
  }
  assert.deepEqual(bad, []);
});
