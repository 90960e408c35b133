// Durations as people read them on a progress line: h:mm:ss.

/** Seconds as h:mm:ss ("0:04:05", "12:00:00"); negative or not finite reads as "–:––:––". */
export function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–:––:––';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}
