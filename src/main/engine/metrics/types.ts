// Feature sets as every metric takes them: row-major [n, d] arrays with their shape, checked once.

export interface Features {
  data: Float32Array | Float64Array;
  n: number;
  d: number;
}

/** Real (reference) and generated features, always passed by name so they cannot be swapped. */

/** Narrows `x` to Features: shape consistent, every value finite; errors name `what` and the fix. */
export function checkFeatures(x: unknown, what: string): Features {
  if (x === null || typeof x !== 'object') {
    throw new RangeError(`${what}: expected features { data, n, d }, got ${x === null ? 'null' : typeof x}`);
  }
  const f = x as Partial<Features>;
  if (!(f.data instanceof Float32Array) && !(f.data instanceof Float64Array)) {
    throw new RangeError(`${what}: data must be a Float32Array or Float64Array (row-major [n, d]); convert it first`);
  }
  const { n, d, data } = f as Features;
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`${what}: n must be a non-negative integer, got ${String(n)}`);
  if (!Number.isSafeInteger(d) || d < 1)
    throw new RangeError(`${what}: d must be a positive integer, got ${String(d)}`);
  if (data.length !== n * d) {
    throw new RangeError(
      `${what}: data has ${data.length} values but n×d = ${n}×${d} = ${n * d}; fix n or d to match the array`,
    );
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new RangeError(
        `${what}: non-finite value ${data[i]} at row ${Math.floor(i / d)}, column ${i % d}; remove or repair such samples before computing metrics`,
      );
    }
  }
  return f as Features;
}

/**
 * Checks a `{ real, fake }` argument: both present, well-formed and of the same dimension.
 * `fn` names the calling metric in messages.
 */
