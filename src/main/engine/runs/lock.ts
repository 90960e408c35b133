// One trainer per run: the training lock, train.lock in the run directory, held by the process that
// trains the run (the CLI's `train`, or the engine behind an app or web client) while it trains.
//
// [Note: the training lock]
// Two trainers of one run would interleave their metrics lines (1, 1, 2, 2, …) and overwrite each
// other's checkpoint. So training takes train.lock first, as git takes index.lock: the file holds
// {pid, host, started, command}, so a refused trainer names who holds the run and since when, and it
// appears whole (createFileExclusiveSync: written beside it and hard-linked, which the file system
// grants to exactly one of two processes racing for it). Creating it with O_EXCL and then writing it
// left a moment when a racing trainer read an empty lock and could only say "being written by
// another process" (CI caught it). The holder removes it when training ends — finished, stopped,
// failed, Ctrl-C — and, best effort, when its process exits.
//
// A process killed outright (kill -9, a crash, a power cut) cannot remove its lock. A lock whose pid
// is not a live process on this machine is stale: the next trainer moves it aside and takes over,
// saying so. Moving aside is a rename (atomic: of two processes taking over one stale lock, one moves
// it and the other finds nothing to move), and the mover checks that what it moved is the lock it
// judged stale, putting back a fresh one it moved by mistake. A lock that is not JSON is honoured for
// a few seconds (it may be being written) and then replaced. A lock from another machine (a shared
// file system) cannot be checked and is honoured; so is one whose pid a new program has reused. The
// refusal names the file to delete in those cases.

import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, readFileSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { createFileExclusiveSync } from '../io/atomic';
import { isProcessAlive } from '../io/pid';
import { trainLockFile, type TrainLock } from '../../../shared/run-files';
import { checkNewRunDir, RunRefusedError, runPaths } from './files';

/** How many times lockRun looks again after finding the lock gone or moved meanwhile. */
const MAX_LOCK_ATTEMPTS = 1000;

/** How long a lock file that is not a lock is taken to be one being written, in ms. */
const UNREADABLE_GRACE_MS = 10_000;

/** The run is trained by another process (or another training in this one). */
export class RunLockedError extends RunRefusedError {
  override name = 'RunLockedError';
  constructor(
    readonly runDir: string,
    readonly file: string,
    /** The holder, or null when the lock file is being written (or is damaged). */
    readonly holder: TrainLock | null,
  ) {
    super(
      holder
        ? `${runDir} is being trained by process ${holder.pid} on ${holder.host} since ${holder.started} (${holder.command}); wait for it to finish or stop it there. If no such process is running, delete ${file}`
        : `${runDir}: ${file} is being written by another process (or is damaged); try again in a moment, and if it stays, delete it`,
    );
  }
}

/** The lock file as found: absent, held, or stale (its process is gone, or it is not a lock file). */
type Found =
  | { state: 'free' }
  | { state: 'held'; holder: TrainLock | null }
  | { state: 'stale'; holder: TrainLock | null; text: string };

/** Locks this process holds: file → its text (to release them at exit, and to tell ours apart). */
const held = new Map<string, string>();
let exitHook = false;

function inspect(file: string): Found {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'free' };
    throw new RangeError(`${file}: the training lock cannot be read (${(e as Error).message})`, { cause: e });
  }
  let parsed: TrainLock | null = null;
  try {
    const r = trainLockFile.safeParse(JSON.parse(text));
    if (r.success) parsed = r.data;
  } catch {
    // not JSON: below
  }
  if (!parsed) {
    let age: number;
    try {
      age = Date.now() - statSync(file).mtimeMs;
    } catch {
      return { state: 'free' }; // gone meanwhile
    }
    return age < UNREADABLE_GRACE_MS ? { state: 'held', holder: null } : { state: 'stale', holder: null, text };
  }
  if (parsed.host !== hostname()) return { state: 'held', holder: parsed };
  // Our own pid: ours if this process holds it; otherwise left by an earlier process with our pid.
  const alive = parsed.pid === process.pid ? held.get(file) === text : isProcessAlive(parsed.pid);
  return alive ? { state: 'held', holder: parsed } : { state: 'stale', holder: parsed, text };
}

/** Who trains a run now: its lock's live holder (null while the lock is being written), or null when no process does. */
export function runLockedBy(runDir: string): { holder: TrainLock | null } | null {
  try {
    const found = inspect(runPaths(runDir).lock);
    return found.state === 'held' ? { holder: found.holder } : null;
  } catch {
    return { holder: null }; // a lock that cannot be read: honoured
  }
}

export interface RunLock {
  readonly file: string;
  readonly holder: TrainLock;
  /** What this lock replaced: a stale lock (`holder`: whose process is gone; null: it was not a lock file), or null. */
  readonly replaced: { holder: TrainLock | null } | null;
  /** Removes the lock, if it is still this one. */
  release(): void;
}

/** The message that says a stale lock was replaced. */
export function replacedMessage(lock: RunLock): string | null {
  if (!lock.replaced) return null;
  const h = lock.replaced.holder;
  return h
    ? `took over ${lock.file} from process ${h.pid} (since ${h.started}), which is no longer running: it was stopped without releasing the run`
    : `replaced ${lock.file}, which was not a lock file (a lock cut short by a crash)`;
}

/** Takes the training lock of `runDir` (an existing folder) for this process; a RunLockedError when another holds it. */
export function lockRun(runDir: string, command: string): RunLock {
  const file = runPaths(runDir).lock;
  const holder: TrainLock = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command };
  const text = JSON.stringify(holder, null, 2) + '\n';
  let replaced: RunLock['replaced'] = null;
  // Each retry follows a lock released (or moved) since the last look, so another look is right; the
  // bound only stops a livelock. 8 was too few: three processes taking and releasing one lock 2,000
  // times each (run-lock.test.ts) once found it gone 8 times in a row and refused without a holder.
  for (let attempt = 0; attempt < MAX_LOCK_ATTEMPTS; attempt++) {
    let created: boolean;
    try {
      created = createFileExclusiveSync(file, text);
    } catch (e) {
      throw new RangeError(`cannot lock ${runDir} for training: ${(e as Error).message}`, { cause: e });
    }
    if (!created) {
      const found = inspect(file);
      if (found.state === 'free') continue; // released meanwhile
      if (found.state === 'held') throw new RunLockedError(runDir, file, found.holder);
      // Stale: move it aside, and make sure that what moved is the lock judged stale.
      const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
      try {
        renameSync(file, aside);
      } catch {
        continue; // another process moved it first
      }
      let moved = '';
      try {
        moved = readFileSync(aside, 'utf8');
      } catch {
        // unreadable: treated as not the one judged
      }
      if (moved === found.text) replaced = { holder: found.holder };
      else {
        // Another process took over in between and locked: put its lock back.
        try {
          linkSync(aside, file);
        } catch {
          // a third lock is there already: it holds the run
        }
      }
      rmSync(aside, { force: true });
      continue;
    }
    held.set(file, text);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', releaseAll);
    }
    return { file, holder, replaced, release: () => release(file, text) };
  }
  throw new RunLockedError(runDir, file, null); // (taken and released over and over meanwhile)
}

function release(file: string, text: string): void {
  if (held.get(file) !== text) return;
  held.delete(file);
  try {
    if (readFileSync(file, 'utf8') === text) unlinkSync(file);
  } catch {
    // gone already (its run folder moved or deleted): nothing to release
  }
}

/** At process exit (Ctrl-C twice, process.exit): the locks still held, released. */
function releaseAll(): void {
  for (const [file, text] of [...held]) release(file, text);
}

/**
 * checkNewRunDir for a process that does not hold the run's lock: first, whether another process
 * trains (or is just creating) a run there. Its lock names it, where the folder's half-written files
 * (config.json's temporary, before it is renamed) would only say "holds no run" (two app clients
 * starting one run at once met that: run-lock.test.ts).
 */
export function checkNewRunDirUnlocked(dir: string): void {
  // Only a folder has a lock to look at (a file in the folder's place is checkNewRunDir's to name).
  const held = existsSync(dir) && statSync(dir).isDirectory() ? runLockedBy(dir) : null;
  if (held) throw new RunLockedError(dir, runPaths(dir).lock, held.holder);
  checkNewRunDir(dir);
}
