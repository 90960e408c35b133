// A user's reward model as ONNX: x [N, …shape] float32 in the model's data range (and, when the
// file declares it, class_labels [N] int64: the class each sample was drawn for, the null class when
// unconditional), out comes reward [N] (or [N, 1]) float32. Checked on load as a denoiser is — its
// inputs, their types and shapes, its output, and a probe on two samples — so a wrong file is one
// error naming what is wrong, not a failure mid-training; a NaN or infinite reward while scoring is
// an error naming the sample.

import { existsSync } from 'node:fs';
import { createSession, ort, type OrtSession } from '../onnx/runtime';

const BATCH = 256;

export class OnnxReward {
  private constructor(
    readonly path: string,
    private readonly session: OrtSession,
    private readonly shape: readonly number[],
    private readonly takesLabels: boolean,
  ) {}

  /** Opens and checks `path` for samples of `shape` (see the file's note). */
  static async open(path: string, shape: readonly number[], nullClass: number | null): Promise<OnnxReward> {
    if (!existsSync(path)) throw new RangeError(`onnx reward ${path}: the file does not exist`);
    const { session } = await createSession(path, 'cpu');
    const fail = async (msg: string): Promise<never> => {
      await session.release();
      throw new RangeError(`onnx reward ${path}: ${msg}`);
    };
    const inputs = session.inputNames;
    if (!inputs.includes('x'))
      await fail(
        `has no input "x"; its inputs are ${inputs.join(', ')} (it must take x [N, ${shape.join(', ')}] float32)`,
      );
    const extra = inputs.filter((n) => n !== 'x' && n !== 'class_labels');
    if (extra.length > 0)
      await fail(`has inputs the engine cannot feed: ${extra.join(', ')} (it may take x and class_labels only)`);
    if (!session.outputNames.includes('reward'))
      await fail(`has no output "reward"; its outputs are ${session.outputNames.join(', ')}`);
    for (const m of session.inputMetadata) {
      if (!m.isTensor) continue;
      if (m.name === 'x') {
        if (m.type !== 'float32') await fail(`input x is ${m.type}; it must be float32`);
        const dims = m.shape.slice(1);
        if (
          m.shape.length > 0 &&
          (m.shape.length !== shape.length + 1 || dims.some((d, i) => typeof d === 'number' && d > 0 && d !== shape[i]))
        )
          await fail(`input x has shape [${m.shape.join(', ')}]; the samples are [N, ${shape.join(', ')}]`);
      } else if (m.type !== 'int64') await fail(`input class_labels is ${m.type}; it must be int64`);
    }
    const r = new OnnxReward(path, session, shape, inputs.includes('class_labels'));
    try {
      const dim = shape.reduce((a, b) => a * b, 1);
      const probe = await r.score(
        Float32Array.from({ length: 2 * dim }, (_, i) => Math.sin(i) * 0.5),
        2,
        null,
        nullClass,
      );
      if (probe.length !== 2) await fail(`gave ${probe.length} rewards for 2 samples; reward must be [N] or [N, 1]`);
    } catch (e) {
      await session.release();
      throw e instanceof RangeError && e.message.startsWith('onnx reward')
        ? e
        : new RangeError(`onnx reward ${path}: ${(e as Error).message}`);
    }
    return r;
  }

  /** The reward of each of `n` samples (labels: their classes, or null). */
  async score(
    samples: Float32Array,
    n: number,
    labels: Int32Array | null,
    nullClass: number | null,
  ): Promise<Float64Array> {
    const dim = this.shape.reduce((a, b) => a * b, 1);
    const out = new Float64Array(n);
    for (let s = 0; s < n; s += BATCH) {
      const b = Math.min(BATCH, n - s);
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
        x: new ort.Tensor('float32', samples.subarray(s * dim, (s + b) * dim), [b, ...this.shape]),
      };
      if (this.takesLabels)
        feeds['class_labels'] = new ort.Tensor(
          'int64',
          BigInt64Array.from({ length: b }, (_, i) => BigInt(labels ? labels[s + i]! : (nullClass ?? 0))),
          [b],
        );
      const res = await this.session.run(feeds);
      const r = res['reward']!;
      const data = r.data as Float32Array;
      if (data.length !== b)
        throw new RangeError(
          `onnx reward ${this.path}: gave ${data.length} rewards for ${b} samples; reward must be [N] or [N, 1]`,
        );
      for (let i = 0; i < b; i++) {
        if (!Number.isFinite(data[i]!))
          throw new RangeError(
            `onnx reward ${this.path}: gave ${data[i]} for sample ${s + i}; a reward must be a finite number (check the model on inputs in the data range)`,
          );
        out[s + i] = data[i]!;
      }
      r.dispose();
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
