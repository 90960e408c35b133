// Web mode: the renderer and the engine served on 127.0.0.1, the protocol over a WebSocket.
// Plain Node (no electron import), so it runs where Electron cannot (a GPU server, CI, here).
//
// [Note: who may drive the engine]
// The engine reads and writes files and burns compute, so a page from another site, or another
// local user, must not reach it. As Jupyter does: a random token in the printed URL is exchanged
// for an HttpOnly, SameSite=Strict cookie named for the port; every HTTP request and WebSocket
// upgrade needs the cookie (or the token), a Host header naming this server (no DNS rebinding),
// and — when the browser sends one, always for WebSockets — an Origin of this server. Anything
// else: 401/403.
//
// One engine child process serves every connection, so a reloaded page finds its runs still
// going; request ids are remapped per connection and events go to all. If the engine dies, every
// page is told why and a new one starts; runs keep their checkpoints and can be resumed.

import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, openSync, realpathSync, type ReadStream } from 'node:fs';
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import { pipeline, type Duplex } from 'node:stream';
import { inspect } from 'node:util';
import { extname, join, resolve, sep } from 'node:path';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { fromWire, wireReplacer } from '../../shared/json';
import { parseServerMessage, type ServerMessage } from '../../shared/protocol';
import { contentSecurityPolicy } from '../window-policy';

export interface WebServerOptions {
  /** Port to listen on (0: a free one). */
  port?: number;
  /** The built renderer (index.html and assets). */
  staticDir: string;
  /** The engine worker entry and how to start it (a .ts entry needs `--import tsx`). */
  engineEntry: string;
  engineExecArgv?: string[];
  engineEnv?: NodeJS.ProcessEnv;
  /** Fixed token (tests); random otherwise. */
  token?: string;
  log?: (line: string) => void;
}

export interface WebServer {
  url: string;
  port: number;
  token: string;
  /** The engine process's pid (it changes when a crashed engine is replaced). */
  enginePid(): number | null;
  close(): Promise<void>;
}

/** The session cookie's name, per port: a browser keeps cookies per host whatever the port, so a
 * second instance on 127.0.0.1 with the same name would replace the first one's (logging its tab out). */
const cookieName = (port: number): string => `sampler_studio_token_${port}`;
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};

function sameToken(a: string | undefined | null, token: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(token);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** How deep a message may nest objects and arrays. The protocol's deepest message nests a few
 * levels; relaying one nested thousands deep would overflow the stack when it is serialized for the
 * engine (JSON.parse, which builds it, does not overflow). */
export const MAX_MESSAGE_DEPTH = 64;

/** Whether `value` nests objects and arrays deeper than `limit` (walked without recursion). */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const todo: [unknown, number][] = [[value, 1]];
  for (let next = todo.pop(); next; next = todo.pop()) {
    const [v, depth] = next;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(v)) todo.push([child, depth + 1]);
  }
  return false;
}

/** The request-target as a URL (its path and query are what count), or null when it is not one (`http://[`). */
function parseTarget(target: string | undefined): URL | null {
  try {
    return new URL(target ?? '/', 'http://127.0.0.1');
  } catch {
    return null;
  }
}

function cookieToken(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return null;
}

export async function startWebServer(o: WebServerOptions): Promise<WebServer> {
  const token = o.token ?? randomBytes(32).toString('hex');
  const log = o.log ?? (() => {});
  let port = 0;
  const hosts = (): string[] => [`127.0.0.1:${port}`, `localhost:${port}`];
  const origins = (): string[] => hosts().map((h) => `http://${h}`);

  // [Note: errors]
  // Every way in answers its own failures and only its own. A request that cannot be understood
  // gets a 4xx before anything else looks at it (a request-target that is not a URL, a bad
  // percent-escape). An error nobody foresaw — a bug — is logged with its stack and answers 500
  // (an HTTP request) or closes that one socket (an upgrade, a WebSocket message); the server, its
  // engine and any training go on. (serve.ts adds a process-wide last resort; tests do not, so a
  // bug that escapes fails them.)
  const fault = (where: string, e: unknown): void =>
    log(
      `internal error in ${where} (a bug; the server goes on): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
    );

  /** null when the request may proceed, else the status and why. */
  const check = (req: IncomingMessage, url: URL, requireOrigin: boolean): [number, string] | null => {
    if (!hosts().includes(req.headers.host ?? ''))
      return [403, `foreign Host header ${JSON.stringify(req.headers.host ?? '')}`];
    const origin = req.headers.origin;
    if (origin !== undefined ? !origins().includes(origin) : requireOrigin)
      return [403, `foreign Origin ${JSON.stringify(origin ?? '')}`];
    if (!sameToken(cookieToken(req, cookieName(port)), token) && !sameToken(url.searchParams.get('token'), token))
      return [401, 'missing or wrong session token: open the URL that `npm run serve` printed'];
    return null;
  };

  // ---- the engine, shared by every connection ----------------------------------------------
  let engine: ChildProcess | null = null;
  let nextId = 1;
  const routes = new Map<number, { ws: WebSocket; id: number }>();
  const sockets = new Set<WebSocket>();
  let closing = false;
  const broadcast = (m: ServerMessage): void => {
    const text = JSON.stringify(m, wireReplacer);
    for (const ws of sockets) ws.send(text);
  };
  const startEngine = (): ChildProcess => {
    const child = fork(o.engineEntry, [], {
      execArgv: o.engineExecArgv ?? [],
      env: o.engineEnv ?? process.env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced', // ∞ and NaN arrive as numbers [Note: ∞ on the wire]
    });
    child.on('message', (raw) => {
      const m = parseServerMessage(raw);
      // inspect, not JSON: the advanced channel can carry what JSON.stringify throws on (BigInt, cycles).
      if (!m) return log(`engine sent a malformed message: ${inspect(raw, { depth: 4 }).slice(0, 200)}`);
      if (m.kind === 'event') return broadcast(m);
      const route = m.id === null ? undefined : routes.get(m.id);
      if (!route) return; // a reply to a message that could not be routed (id refused by the engine)
      routes.delete(m.id!);
      if (route.ws.readyState === route.ws.OPEN) route.ws.send(JSON.stringify({ ...m, id: route.id }, wireReplacer));
    });
    child.on('exit', (code, signal) => {
      if (engine === child) engine = null;
      if (closing) return;
      const why = `the engine stopped (${signal ?? `exit code ${code}`}); a new one is starting — runs keep their checkpoints and can be resumed`;
      log(why);
      for (const [gid, r] of routes) {
        if (r.ws.readyState === r.ws.OPEN)
          r.ws.send(JSON.stringify({ kind: 'response', id: r.id, ok: false, error: { code: 'failed', message: why } }));
        routes.delete(gid);
      }
      broadcast({ kind: 'event', event: { type: 'log', level: 'warn', message: why } });
      engine = startEngine();
    });
    return child;
  };
  engine = startEngine();

  // ---- HTTP: the renderer's files ------------------------------------------------------------
  // [Note: only real files under the root]
  // A path is resolved, then its links followed (realpath), and only then checked to lie under the
  // root's own real path: a link inside the folder that leads out of it is not followed (404), one
  // that stays inside is. The file is opened without blocking (a FIFO would wait for a writer) and
  // checked to be a regular file through the open descriptor, the one that is then read.
  const root = ((dir: string): string => {
    try {
      return realpathSync(dir);
    } catch {
      return dir; // not there (yet): nothing under it will be found
    }
  })(resolve(o.staticDir));
  const under = (p: string): boolean => p === root || p.startsWith(root + sep);
  /** The file `path` names under the root, open, when it is a regular file there; null otherwise. */
  const openUnderRoot = (path: string): { fd: number; real: string } | null => {
    const file = resolve(join(root, path));
    if (!under(file)) return null;
    let fd: number | null = null;
    try {
      const real = realpathSync(file);
      if (!under(real)) return null;
      fd = openSync(real, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
      if (fstatSync(fd).isFile()) return { fd, real };
    } catch {
      // missing, not a directory, a loop of links, a name too long, unreadable: not found
    }
    if (fd !== null) closeSync(fd);
    return null;
  };
  const csp = contentSecurityPolicy({ dev: false }); // connect-src 'self' covers this server's WebSocket
  /** A short plain-text answer. */
  const answer = (res: ServerResponse, status: number, text: string, headers: OutgoingHttpHeaders = {}): void => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(text + '\n');
  };
  const serveFile = (req: IncomingMessage, res: ServerResponse): void => {
    const url = parseTarget(req.url);
    if (!url) return answer(res, 400, 'bad request-target: not a URL', { connection: 'close' });
    const refused = check(req, url, false);
    if (refused) return answer(res, ...refused);
    if (url.searchParams.has('token')) {
      // Trade the token for a cookie and drop it from the address bar. The path keeps one leading
      // slash: `/.//evil.example/` has the pathname `//evil.example/`, a protocol-relative Location.
      url.searchParams.delete('token');
      res
        .writeHead(302, {
          'set-cookie': `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`,
          location: url.pathname.replace(/^\/+/, '/') + url.search,
        })
        .end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return answer(res, 400, 'bad percent-escape in the path');
    }
    if (path.includes('\0')) return answer(res, 400, 'NUL in the path');
    if (path.endsWith('/')) path += 'index.html';
    const found = openUnderRoot(path);
    if (!found) return answer(res, 404, 'not found');
    const { fd, real } = found;
    let stream: ReadStream | null = null;
    try {
      if (req.method !== 'HEAD') stream = createReadStream(real, { fd });
    } finally {
      if (!stream) closeSync(fd);
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(real)] ?? 'application/octet-stream',
      'content-security-policy': csp,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    });
    // pipeline, not pipe: a client that goes away mid-file closes the file too.
    if (stream) pipeline(stream, res, () => {});
    else res.end();
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      serveFile(req, res);
    } catch (e) {
      fault(`${req.method} ${JSON.stringify(req.url)}`, e);
      if (res.headersSent) res.destroy();
      else answer(res, 500, 'internal error (the server logged it)', { connection: 'close' });
    }
  };

  // ---- WebSocket: the protocol ----------------------------------------------------------------
  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  /** A connection that passed the door: its messages go to the engine, the answers come back to it. */
  const accept = (ws: WebSocket): void => {
    sockets.add(ws);
    // A frame that breaks the protocol (unmasked, a reserved opcode or bit, invalid UTF-8, over
    // maxPayload): ws closes this connection with 1002, 1007 or 1009 and reports it here. Without a
    // listener the report would be an unhandled 'error' event, ending the process.
    ws.on('error', (e) => log(`a WebSocket was closed: ${e.message}`));
    ws.on('close', () => {
      sockets.delete(ws);
      for (const [gid, r] of routes) if (r.ws === ws) routes.delete(gid);
    });
    const onMessage = (data: RawData, isBinary: boolean): void => {
      let msg: unknown;
      try {
        msg = isBinary ? undefined : JSON.parse(data.toString());
      } catch {
        msg = undefined;
      }
      const id =
        typeof msg === 'object' && msg !== null && Number.isSafeInteger((msg as { id?: unknown }).id)
          ? (msg as { id: number }).id
          : null;
      const tooDeep = msg !== undefined && nestsDeeperThan(msg, MAX_MESSAGE_DEPTH);
      if (msg === undefined || tooDeep || id === null || !engine?.connected) {
        // Unparseable, too deep or id-less messages are refused here; the engine checks everything else.
        const message =
          msg === undefined
            ? 'a message must be JSON text'
            : tooDeep
              ? `a message may nest objects and arrays at most ${MAX_MESSAGE_DEPTH} deep`
              : id === null
                ? 'id must be an integer'
                : 'the engine is restarting; try again';
        ws.send(JSON.stringify({ kind: 'response', id, ok: false, error: { code: 'bad-message', message } }));
        return;
      }
      const gid = nextId++;
      routes.set(gid, { ws, id });
      engine.send({ ...(fromWire(msg) as object), id: gid });
    };
    ws.on('message', (data, isBinary) => {
      try {
        onMessage(data, isBinary);
      } catch (e) {
        fault('a WebSocket message', e);
        ws.close(1011, 'internal error (the server logged it)');
      }
    });
  };
  const refuseUpgrade = (socket: Duplex, status: number, why: string): void => {
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n\r\n${why}\n`,
    );
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Node hands the socket over without an error listener: a client that resets it while it is
    // being refused must not take the server down (ws adds its own listener once it takes over).
    socket.on('error', () => socket.destroy());
    try {
      const url = parseTarget(req.url);
      const refused: [number, string] | null = !url
        ? [400, 'bad request-target: not a URL']
        : url.pathname !== '/ws'
          ? [404, 'not found']
          : check(req, url, true);
      if (refused) return refuseUpgrade(socket, ...refused);
      wss.handleUpgrade(req, socket, head, (ws) => {
        try {
          accept(ws);
        } catch (e) {
          fault('accepting a WebSocket', e);
          ws.terminate();
        }
      });
    } catch (e) {
      fault(`upgrading ${JSON.stringify(req.url)}`, e);
      if (!socket.destroyed) refuseUpgrade(socket, 500, 'internal error (the server logged it)');
    }
  };

  const server: Server = createServer(onRequest);
  server.on('upgrade', onUpgrade);
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(o.port ?? 0, '127.0.0.1', () => res());
  });
  port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    enginePid: () => engine?.pid ?? null,
    async close() {
      closing = true;
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((res) => server.close(() => res()));
      if (engine) {
        const e = engine;
        await new Promise<void>((res) => {
          e.once('exit', () => res());
          e.disconnect?.();
          setTimeout(() => e.kill(), 5000).unref();
        });
      }
    },
  };
}
