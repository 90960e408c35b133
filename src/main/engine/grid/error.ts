// The grid's user-facing error: one the user can fix, with what kind of problem it is.

/** A grid the user can fix: a bad axis, a saved grid that does not match, a damaged results file. */
export class GridError extends RangeError {
  constructor(
    message: string,
    /** 'axis': bad axes; 'mismatch': the directory holds another grid; 'corrupt': results.json is damaged. */
    readonly kind: 'axis' | 'mismatch' | 'corrupt' | 'invalid' = 'invalid',
  ) {
    super(message);
    this.name = 'GridError';
  }
}
