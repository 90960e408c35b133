// A target class mix (the inverse-RL paper, Appendix B.9: shift the class histogram of the samples
// toward a target distribution). With p* the target and p̂ the batch's class frequencies, a sample
// classified c gets
//
//   r = log p*_c − log p̂_c,        p̂_c = (n_c + α) / (n + K·α)
//
// the per-sample form of −KL(p̂ ‖ p*) (its mean over the batch is exactly −Σ p̂_c log(p̂_c / p*_c)
// with p̂ unsmoothed): a class the batch has more of than the target scores below 0, one it has too
// little of above 0, and every class at its target share scores 0. α (add-α smoothing) keeps an
// absent class finite. A class with target 0 is a large penalty (log of the floor 1e-12), not −∞.

import { readFileSync } from 'node:fs';

const FLOOR = 1e-12;

/** A target file: a JSON list of K shares (non-negative, summing to 1 within 1e-6), or an object of class name → share. */
export function readTarget(file: string, numClasses: number, classNames: readonly string[] | null): Float64Array {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RangeError(`class-mix target ${file}: cannot be read as JSON (${(e as Error).message})`, { cause: e });
  }
  let shares: unknown[];
  if (Array.isArray(raw)) shares = raw;
  else if (raw !== null && typeof raw === 'object') {
    if (!classNames)
      throw new RangeError(
        `class-mix target ${file}: names classes, but this model has no class names; give a list of ${numClasses} shares`,
      );
    const obj = raw as Record<string, unknown>;
    const unknown = Object.keys(obj).filter((k) => !classNames.includes(k));
    if (unknown.length > 0)
      throw new RangeError(
        `class-mix target ${file}: no class named ${unknown.map((k) => `"${k}"`).join(', ')}; the classes are ${classNames.join(', ')}`,
      );
    shares = classNames.map((n) => obj[n] ?? 0);
  } else
    throw new RangeError(
      `class-mix target ${file}: must be a list of ${numClasses} shares or an object of class shares`,
    );
  if (shares.length !== numClasses)
    throw new RangeError(`class-mix target ${file}: has ${shares.length} shares; this model has ${numClasses} classes`);
  const bad = shares.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v) || v < 0);
  if (bad >= 0)
    throw new RangeError(
      `class-mix target ${file}: share ${bad} must be a number ≥ 0, got ${JSON.stringify(shares[bad])}`,
    );
  const p = Float64Array.from(shares as number[]);
  const sum = p.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > 1e-6)
    throw new RangeError(
      `class-mix target ${file}: the shares sum to ${sum}, not 1; it must be a distribution over the ${numClasses} classes`,
    );
  return p;
}

/** log p*_c − log p̂_c for each sample's class c (the file's note). */
export function classMixRewards(labels: Int32Array, target: Float64Array, alpha: number): Float64Array {
  const k = target.length;
  const counts = new Float64Array(k);
  for (const c of labels) counts[c]!++;
  const n = labels.length;
  const logRatio = Float64Array.from(
    target,
    (t, c) => Math.log(Math.max(t, FLOOR)) - Math.log((counts[c]! + alpha) / (n + k * alpha)),
  );
  return Float64Array.from(labels, (c) => logRatio[c]!);
}
