// Atomic file writes: write to a temp file beside the target, fsync it, rename
// it over the target and fsync the directory, so readers (and a crash) only
// ever see the old contents or the complete new contents, never a torn file.
// A process killed while it writes leaves its temp file behind; removeStaleTemps
// clears those of a target whose writer is gone.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isProcessAlive } from './pid';

/** Temp file name in the same directory as `path`: `.<basename>.<pid>.<random>.tmp`. */
function tempPathFor(path: string): string {
  const rand = randomBytes(6).toString('hex');
  return join(dirname(path), `.${basename(path)}.${process.pid}.${rand}.tmp`);
}

/**
 * Removes the temp files that writes of `path` left behind when their process was killed: names of
 * our own pattern (`.<basename>.<pid>.<12 hex>.tmp`) whose pid is no longer a live process (a live
 * writer's, this process's included, are left alone). Returns the names removed.
 */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return []; // no folder yet: nothing left behind
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name.slice(prefix.length));
    if (!m || isProcessAlive(Number(m[1]))) continue;
    await fsp.rm(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Writes several files as one unit as far as a file system allows: every file to its temp file
 * (fsynced) first, then the renames in the order given, then the directories fsynced. A crash before
 * the first rename leaves every target as it was; one between two renames leaves the first ones new
 * and the rest old, so order them so that that state is one the reader recognises (export.ts: the
 * sidecar first, the file it describes last). On failure the temp files are removed.
 */
export async function writeFilesAtomic(files: { path: string; data: Uint8Array | string }[]): Promise<void> {
  const temps: string[] = [];
  try {
    for (const f of files) {
      await fsp.mkdir(dirname(f.path), { recursive: true });
      const tmp = tempPathFor(f.path);
      temps.push(tmp);
      const handle = await fsp.open(tmp, 'wx');
      try {
        await handle.writeFile(f.data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    for (const [i, f] of files.entries()) await fsp.rename(temps[i]!, f.path);
    for (const dir of new Set(files.map((f) => dirname(f.path)))) await fsyncDir(dir);
  } catch (err) {
    await Promise.all(temps.map((t) => fsp.rm(t, { force: true }).catch(() => undefined)));
    throw err;
  }
}

/**
 * Some platforms refuse to open or fsync a directory (Windows: EISDIR/EPERM,
 * some filesystems: EINVAL). The rename is still atomic there; only the
 * durability guarantee is weaker, so those errors are ignored.
 */
function isIgnorableDirSyncError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EISDIR' || code === 'EINVAL' || code === 'EPERM';
}

async function fsyncDir(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!isIgnorableDirSyncError(err)) throw err;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    if (!isIgnorableDirSyncError(err)) throw err;
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // closing a read-only directory handle cannot lose data
      }
    }
  }
}

/**
 * Atomically replace `path` with `data` (strings are written as UTF-8).
 * Missing parent directories are created. On failure the temp file is
 * removed and the original error is rethrown; `path` is left untouched.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  await fsp.mkdir(dir, { recursive: true });
  const tmp = tempPathFor(path);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, 'wx');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, path);
    await fsyncDir(dir);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** Synchronous version of {@link writeFileAtomic}. */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = tempPathFor(path);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx');
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, path);
    fsyncDirSync(dir);
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing; the original error is what matters
      }
    }
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // best effort cleanup
    }
    throw err;
  }
}

/**
 * Creates `path` holding `data`, unless it exists (then false), so that no reader ever sees it
 * half-written: written to a temp file beside it, fsynced, and hard-linked as `path`. link(2), like
 * O_EXCL, fails with EEXIST when `path` exists, so of two processes racing to create it exactly one
 * does. On a file system without hard links (FAT on a USB stick: EPERM, ENOTSUP) it falls back to
 * O_EXCL and then the write, where a reader may see the file empty for a moment.
 */
export function createFileExclusiveSync(path: string, data: Uint8Array | string): boolean {
  const tmp = tempPathFor(path);
  try {
    writeNewSync(tmp, data);
    try {
      fs.linkSync(tmp, path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  try {
    writeNewSync(path, data);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** Writes `data` to `path`, which must not exist, fsynced; on a failed write the file is removed. */
function writeNewSync(path: string, data: Uint8Array | string): void {
  const fd = fs.openSync(path, 'wx');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(path, { force: true });
    throw err;
  }
  fs.closeSync(fd);
}
