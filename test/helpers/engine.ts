// An engine process for tests, as the app's clients run one: src/main/engine/worker.ts forked with
// an IPC channel. Several requests may be in flight at once (answers are matched by id), and every
// event it sends is kept.

import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseServerMessage, type Response } from '../../src/shared/protocol';
import type { EngineEvent } from '../../src/shared/events';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export class EngineProcess {
  readonly child: ChildProcess;
  readonly events: EngineEvent[] = [];
  private readonly waiting = new Map<number, (r: Response) => void>();
  private nextId = 1;

  constructor(env: NodeJS.ProcessEnv) {
    this.child = fork(join(ROOT, 'src/main/engine/worker.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.child.on('message', (raw) => {
      const m = parseServerMessage(raw);
      assert.ok(m, `the engine sent a message that fails the schema: ${JSON.stringify(raw).slice(0, 300)}`);
      if (m.kind === 'event') this.events.push(m.event);
      else if (typeof m.id === 'number') {
        this.waiting.get(m.id)?.(m);
        this.waiting.delete(m.id);
      }
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Sends a request and waits for its response. */
  request(method: string, params: unknown = {}, timeoutMs = 120_000): Promise<Response> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response within ${timeoutMs} ms to ${method}`)), timeoutMs);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.child.send({ kind: 'request', id, method, params });
    });
  }

  /** Waits until an event passes `pick`. */
  async until(pick: (e: EngineEvent) => boolean, timeoutMs = 120_000): Promise<EngineEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = this.events.find(pick);
      if (e) return e;
      if (Date.now() > deadline) throw new Error(`no such event within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Disconnects (the engine stops its trainings and exits) and waits for the exit. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.disconnect();
    await exited;
  }
}
