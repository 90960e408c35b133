// Cancellation of long work (sampling, a grid, a training iteration): an AbortSignal checked before
// each unit of work that cannot itself be interrupted (one ONNX Runtime session.run), so that a
// cancel costs at most the unit in flight (samplers/loop.ts, the note on cancellation).

export class SamplingCancelled extends Error {
  constructor() {
    super('sampling cancelled');
    this.name = 'SamplingCancelled';
  }
}

/** Throws SamplingCancelled when `signal` has been aborted. */
export function checkCancelled(signal: AbortSignal | null | undefined): void {
  if (signal?.aborted) throw new SamplingCancelled();
}
