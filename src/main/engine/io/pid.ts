// Whether a process is alive, for files that name the process that wrote them (a run's training
// lock, an atomic write's temp file): one whose process is gone is stale and may be cleared away.

/** Whether a process with this pid runs on this machine (one we may not signal counts as running). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false; // 0 and negatives would name process groups
  try {
    process.kill(pid, 0); // signal 0: only checks that the process exists
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
