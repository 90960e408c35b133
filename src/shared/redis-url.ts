// A --redis URL, checked before anything connects (no Redis client loads here: the CLI checks
// its flags with this alone, the protocol the app's requests, and the app's Workers screen keeps
// the password apart from the address it shows).

/** Where a producer sends its work (`--redis URL [--shard-size N]`, the app's `workers`): the Redis and the shard size. */
export interface RemoteTarget {
  url: string;
  /** Trajectories (or samples) per shard job; default: the producer's batch. */
  shardSize?: number;
}

/** The largest shard size taken (a shard is one job's payload; larger ones are a typo, not a plan). */
export const SHARD_SIZE_MAX = 1_000_000;

/** Why a shard size cannot be used, or null: the one check the CLI, the protocol and the app's form share. */
export function shardSizeProblem(n: number): string | null {
  return Number.isInteger(n) && n >= 1 && n <= SHARD_SIZE_MAX ? null : 'must be a whole number in [1, 1000000]';
}

/** A --redis URL that cannot be used: says what is wrong and what it should look like. */
export class RedisUrlError extends RangeError {
  override name = 'RedisUrlError';
}

const URL_FORM = 'redis://[:PASSWORD@]HOST:PORT[/DB] (or rediss:// for TLS)';

/** Checks a Redis URL before anything connects: scheme, host, port and database. */
export function checkRedisUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RedisUrlError(`--redis "${url}" is not a URL; give ${URL_FORM}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new RedisUrlError(
      `--redis "${url}": the scheme must be redis:// or rediss://, not ${u.protocol}//; give ${URL_FORM}`,
    );
  if (!u.hostname) throw new RedisUrlError(`--redis "${url}" names no host; give ${URL_FORM}`);
  if (u.port && !(Number(u.port) > 0 && Number(u.port) < 65536))
    throw new RedisUrlError(`--redis "${url}": port ${u.port} is not a TCP port`);
  const db = u.pathname.replace(/^\//, '');
  if (db && !/^\d+$/.test(db)) throw new RedisUrlError(`--redis "${url}": the database "${db}" must be a number`);
  return u;
}

/** The URL with its password hidden, for logs and errors. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * A URL's password taken out, for a form that shows the address and hides the password (the Workers
 * screen): `{ url: 'redis://host:6379', password: 'secret' }` from 'redis://:secret@host:6379'. An
 * unparsable URL comes back as it is, with no password.
 */
export function splitPassword(url: string): { url: string; password: string } {
  try {
    const u = new URL(url);
    if (!u.password) return { url, password: '' };
    const password = decodeURIComponent(u.password);
    u.password = '';
    return { url: u.toString().replace(/\/$/, ''), password };
  } catch {
    return { url, password: '' };
  }
}

/** The URL with this password put in (splitPassword's inverse); '' leaves it as it is. */
export function withPassword(url: string, password: string): string {
  if (password === '') return url;
  try {
    const u = new URL(url);
    u.password = encodeURIComponent(password);
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
