// A real redis-server for the distributed tests (issue 19): on a free loopback port, no persistence,
// stopped after. .ci/run installs Debian's redis-server; without one the tests that need it skip.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** Why Redis tests cannot run here, or null when redis-server is installed. */
export function redisMissing(): string | null {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'redis-server is not installed (apt-get install redis-server; .ci/run does)';
}

/** A free TCP port on 127.0.0.1 (the OS picks it; we close it and hand it on). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  port: number;
  url: string;
  /** Stops the server (SIGKILL with `kill9`, as a crash). */
  stop(kill9?: boolean): Promise<void>;
  /** Starts it again on the same port (after stop): empty, as after a crash without persistence. */
  restart(): Promise<void>;
}

export async function startRedis(port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  let child: ChildProcess | null = null;
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const onData = (b: Buffer): void => {
        out += b.toString();
        if (/Ready to accept connections/.test(out)) resolve();
      };
      child!.stdout!.on('data', onData);
      child!.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out.slice(-500)}`)));
      setTimeout(() => reject(new Error(`redis-server did not start on port ${p}: ${out.slice(-500)}`)), 10_000);
    });
  };
  await start();
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    stop: async (kill9 = false) => {
      const c = child;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill(kill9 ? 'SIGKILL' : 'SIGTERM');
      });
    },
    restart: start,
  };
}
