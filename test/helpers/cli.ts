// Running the CLI in-process for tests: `main(argv)` with stdout/stderr captured.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/index';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `main(argv)` in this process with stdout/stderr captured. Only string writes are captured
 * (the CLI writes strings); anything else, such as the test runner's own binary reports, passes through.
 */
export async function cli(...argv: string[]): Promise<Run> {
  await new Promise((r) => setImmediate(r)); // let pending reporter output go out first
  const out: string[] = [];
  const err: string[] = [];
  const stdoutWrite = process.stdout.write;
  const stderrWrite = process.stderr.write;
  const capture = (
    sink: string[],
    original: typeof process.stdout.write,
    stream: NodeJS.WriteStream,
  ): typeof process.stdout.write =>
    ((chunk: unknown, ...rest: unknown[]): boolean => {
      if (typeof chunk === 'string') {
        sink.push(chunk);
        const cb = rest.find((a) => typeof a === 'function') as (() => void) | undefined;
        cb?.();
        return true;
      }
      return (original as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as typeof process.stdout.write;
  process.stdout.write = capture(out, stdoutWrite, process.stdout);
  process.stderr.write = capture(err, stderrWrite, process.stderr);
  try {
    const code = await main(argv);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
}

/** The last non-empty line of stdout, parsed as JSON. */
export function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  assert.ok(lines.length > 0, 'stdout is empty');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

/** A user error: exit code 2, one "error: …" message, no stack trace. */
export function assertUsageError(r: Run, message: RegExp): void {
  assert.equal(r.code, 2, `exit code ${r.code}; stderr: ${r.stderr}`);
  assert.match(r.stderr, /^error: /m);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr + r.stdout, /\n\s+at .*:\d+:\d+/, 'no stack trace');
  assert.doesNotMatch(r.stderr, /internal error/);
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildResult extends Run {
  signal: NodeJS.Signals | null;
}

/**
 * Spawns the CLI as a separate process, `node --import tsx src/cli/index.ts …` (for signals and
 * kills); `onStderr` sees stderr as it arrives, `onSpawn` the process as it starts. Killed with
 * SIGKILL after `timeoutMs`.
 */
export function spawnCli(
  args: string[],
  onStderr?: (text: string, child: ChildProcess) => void,
  timeoutMs = 45_000,
  onSpawn?: (child: ChildProcess) => void,
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'index.ts'), ...args], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const guard = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
      onStderr?.(stderr, child);
    });
    onSpawn?.(child);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code: code ?? -1, signal, stdout, stderr });
    });
  });
}
