// Training on workers (issue 19) as the app keeps it: the Redis the workers pull from, and whether
// Tune starts its learner runs on them. Set on the Workers screen, read by Tune and Train.
//
// [Note: the Redis password in the app]
// The address and the password are kept apart: the form shows the address and a password field
// (masked), and a URL pasted with its password has it moved into that field at once, so the
// password is never on screen. Both are kept in the browser's localStorage like the app's other
// settings (the Tune forms, the Runs folder) — on this machine, in this user's profile, in clear.
// The engine gets the whole URL with each request; its errors print it with the password hidden.

import { useLocalStorage } from '@mantine/hooks';
import { checkRedisUrl, redactedUrl, shardSizeProblem, withPassword } from '../../../shared/redis-url';
import type { Methods } from '../../../shared/protocol';

export interface WorkersSettings {
  /** The Redis URL without its password ('' = no workers configured). */
  url: string;
  password: string;
  /** Tune starts learner runs on the workers (when a URL is set). */
  onWorkers: boolean;
  /** Trajectories per shard job ('' = the rollout batch). */
  shardSize: string;
}

export const NO_WORKERS: WorkersSettings = { url: '', password: '', onWorkers: false, shardSize: '' };

/** What was kept, checked field by field over the defaults (anything else reads as the default). */
export function savedWorkers(raw: unknown): WorkersSettings {
  if (typeof raw !== 'object' || raw === null) return NO_WORKERS;
  const r = raw as Record<string, unknown>;
  const str = (k: keyof WorkersSettings): string => (typeof r[k] === 'string' ? r[k] : '');
  return {
    url: str('url'),
    password: str('password'),
    onWorkers: r['onWorkers'] === true,
    shardSize: str('shardSize'),
  };
}

/** The full URL (the password put in), or null when none is set; `problem`: why it cannot be used. */
export function redisOf(s: WorkersSettings): { url: string; shown: string; problem: string | null } | null {
  if (s.url.trim() === '') return null;
  const url = withPassword(s.url.trim(), s.password);
  try {
    checkRedisUrl(url);
    return { url, shown: redactedUrl(url), problem: null };
  } catch (e) {
    return { url, shown: s.url.trim(), problem: (e as Error).message.replace(/^--redis /, '') };
  }
}

/** The shard size's problem, or null ('' is the rollout batch). */
export function shardSizeError(v: string): string | null {
  if (v.trim() === '') return null;
  const problem = shardSizeProblem(Number(v));
  return problem === null ? null : `${problem}, or empty`;
}

/** train.start's `workers` when the user asked for workers and the settings can be used, else undefined. */
export function workersParam(s: WorkersSettings): Methods['train.start']['params']['workers'] {
  const r = redisOf(s);
  if (!s.onWorkers || r === null || r.problem !== null || shardSizeError(s.shardSize) !== null) return undefined;
  return { url: r.url, ...(s.shardSize.trim() !== '' ? { shardSize: Number(s.shardSize) } : {}) };
}

/** The kept settings, shared by every screen that reads them (Mantine syncs hooks with one key). */
export function useWorkersSettings(): [WorkersSettings, (f: (old: WorkersSettings) => WorkersSettings) => void] {
  const [s, set] = useLocalStorage<WorkersSettings>({
    key: 'sampler-studio:workers',
    defaultValue: NO_WORKERS,
    getInitialValueInEffect: false,
    deserialize: (text) => {
      try {
        return savedWorkers(text === undefined ? null : JSON.parse(text));
      } catch {
        return NO_WORKERS;
      }
    },
  });
  return [s, (f) => set((old) => f(old))];
}
