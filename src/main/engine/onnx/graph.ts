// A small ONNX graph builder over the official schema (npm `onnx-proto`, compiled from onnx.proto).
//
// Used by tools/ to generate the bundled models, by tests to write custom models by hand, and
// (later) by the policy exporter. It writes standard opset-17 graphs with IR version 8, which
// ONNX Runtime and the onnx checker accept.
//
// [Note: initializers as raw_data]
// Tensor values are stored little-endian in `raw_data`, the compact form every runtime reads.
//
// [Note: merging a foreign graph]
// `merge` copies another ONNX model's graph in (the policy exporter puts the model's frozen encoder
// inside the policy file): every name prefixed, its inputs wired to tensors of this graph. Only
// standard operators are accepted (the result must load in any runtime), opset ≥ 13 (older
// Unsqueeze/Reduce* take attributes where newer ones take inputs), and the result is written at the
// larger of the two opsets and IR versions.
// Node output names are generated (`<op>_<k>`) unless given, so graph code reads like algebra:
//   const d = g.op('Sub', [x, mu]);

import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type IAttributeProto = onnxProto.onnx.IAttributeProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;

export const OPSET_VERSION = 17;
export const IR_VERSION = 8;

/** A foreign graph that cannot be merged (custom ops, old opset, external data, control flow). */
export class GraphMergeError extends Error {
  override name = 'GraphMergeError';
}

export type ElemType = 'float32' | 'int64' | 'int32' | 'bool' | 'float64';

const DATA_TYPE: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** A float attribute (plain numbers are written as INT attributes). */
export class FloatAttr {
  constructor(readonly value: number) {}
}
export const float = (v: number): FloatAttr => new FloatAttr(v);
/** A list-of-floats attribute (plain number[] is written as INTS). */
export class FloatsAttr {
  constructor(readonly value: number[]) {}
}
export const floats = (v: number[]): FloatsAttr => new FloatsAttr(v);

export type AttrValue = number | number[] | string | FloatAttr | FloatsAttr;

export type Dim = number | string;

function valueInfo(name: string, type: ElemType, dims: Dim[]): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (v instanceof FloatAttr) return { name, type: T.FLOAT, f: v.value };
  if (v instanceof FloatsAttr) return { name, type: T.FLOATS, floats: v.value };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer; wrap floats in float()`);
  return { name, type: T.INT, i: v };
}

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

function tensorProto(name: string, type: ElemType, dims: number[], data: TensorData): ITensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new Error(`tensor ${name}: ${data.length} values for shape [${dims.join(', ')}] (${count})`);
  }
  // Copy into a fresh buffer so the bytes are exactly this view's (little-endian on every host we run).
  const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return { name, dims, dataType: DATA_TYPE[type], rawData };
}

export interface ModelOptions {
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** Written to `metadata_props`: what the file is, readable by any runtime. */
  metadata?: Record<string, string>;
}

export class GraphBuilder {
  private readonly nodes: INodeProto[] = [];
  private readonly inputs: IValueInfoProto[] = [];
  private readonly outputs: IValueInfoProto[] = [];
  private readonly initializers: ITensorProto[] = [];
  private readonly used = new Set<string>();
  private counter = 0;
  /** Raised by merge() to the merged graph's, when larger. */
  opset = OPSET_VERSION;
  irVersion = IR_VERSION;

  constructor(readonly name: string) {}

  private fresh(base: string): string {
    let n = `${base}_${this.counter++}`;
    while (this.used.has(n)) n = `${base}_${this.counter++}`;
    this.used.add(n);
    return n;
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new Error(`graph ${this.name}: name '${name}' used twice`);
    this.used.add(name);
    return name;
  }

  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), type, dims));
    return name;
  }

  /** An optional input: `value` is used when the caller feeds none (an initializer of the same name). */
  inputWithDefault(name: string, type: ElemType, dims: number[], value: TensorData): string {
    this.input(name, type, dims);
    this.initializers.push(tensorProto(name, type, dims, value));
    return name;
  }

  /**
   * Copies the graph of the ONNX model `bytes` in, its names prefixed with `prefix`, each of its
   * inputs fed by the tensor `feeds[input]`; returns the name of its output `output` here.
   */
  merge(bytes: Uint8Array, prefix: string, feeds: Record<string, string>, output: string): string {
    let m: onnxProto.onnx.ModelProto;
    try {
      m = onnx.ModelProto.decode(bytes);
    } catch (e) {
      throw new GraphMergeError(`not a readable ONNX model (${(e as Error).message})`);
    }
    const g = m.graph;
    if (!g) throw new GraphMergeError('has no graph');
    const [inputs, outputs, inits, nodes] = [g.input ?? [], g.output ?? [], g.initializer ?? [], g.node ?? []];
    for (const o of m.opsetImport) {
      const domain = o.domain ?? '';
      const version = Number(o.version);
      if (domain !== '' && domain !== 'ai.onnx')
        throw new GraphMergeError(
          `imports the operator domain "${domain}" (custom operators); export it with standard ONNX operators only`,
        );
      if (version < 13)
        throw new GraphMergeError(
          `uses opset ${version}; re-export it with opset 13 or newer (e.g. torch.onnx.export(..., opset_version=17))`,
        );
      this.opset = Math.max(this.opset, version);
    }
    this.irVersion = Math.max(this.irVersion, Number(m.irVersion));
    if ((g.sparseInitializer ?? []).length > 0)
      throw new GraphMergeError('has sparse initializers; save it with dense weights');
    const rename = new Map<string, string>();
    const initNames = new Set(inits.map((t) => t.name ?? ''));
    for (const inp of inputs) {
      const n = inp.name ?? '';
      if (initNames.has(n)) continue; // an input with a default value: keep the default
      const f = feeds[n];
      if (f === undefined)
        throw new GraphMergeError(
          `has an input "${n}" that nothing feeds (expected ${Object.keys(feeds)
            .map((k) => `"${k}"`)
            .join(', ')})`,
        );
      rename.set(n, f);
    }
    const to = (n: string): string => {
      if (n === '') return n; // an omitted optional input
      let r = rename.get(n);
      if (r === undefined) {
        r = this.claim(prefix + n);
        rename.set(n, r);
      }
      return r;
    };
    for (const t of inits) {
      if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)
        throw new GraphMergeError(
          `keeps the tensor "${t.name}" in an external data file; save it as one self-contained file`,
        );
      this.initializers.push({ ...t, name: to(t.name ?? '') } as ITensorProto);
    }
    for (const node of nodes) {
      const domain = node.domain ?? '';
      if (domain !== '' && domain !== 'ai.onnx')
        throw new GraphMergeError(
          `uses the custom operator ${domain}.${node.opType}; export it with standard ONNX operators only`,
        );
      const T = onnx.AttributeProto.AttributeType;
      if ((node.attribute ?? []).some((a) => a.type === T.GRAPH || a.type === T.GRAPHS))
        throw new GraphMergeError(
          `uses control flow (${node.opType} with a subgraph), which export does not merge; export it without If/Loop/Scan`,
        );
      this.nodes.push({
        ...node,
        name: this.fresh(prefix + (node.name || node.opType)),
        input: (node.input ?? []).map(to),
        output: (node.output ?? []).map(to),
      } as INodeProto);
    }
    if (!outputs.some((o) => o.name === output))
      throw new GraphMergeError(
        `has no output "${output}"; its outputs are ${outputs.map((o) => `"${o.name}"`).join(', ')}`,
      );
    return to(output);
  }

  /** Declares `value` (a node output) as a graph output called `name` (through Identity if renamed). */
  output(value: string, name: string, type: ElemType, dims: Dim[]): string {
    if (value !== name) this.nodes.push({ opType: 'Identity', input: [value], output: [this.claim(name)], name });
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** A named constant tensor (initializer). */
  tensor(base: string, data: TensorData, dims: number[], type: ElemType = 'float32'): string {
    const name = this.fresh(base);
    this.initializers.push(tensorProto(name, type, dims, data));
    return name;
  }

  /** A float32 constant; a plain number gives a scalar. */
  const(values: number | number[] | Float32Array, dims?: number[]): string {
    const data = typeof values === 'number' ? new Float32Array([values]) : Float32Array.from(values);
    return this.tensor('const', data, dims ?? (typeof values === 'number' ? [] : [data.length]));
  }

  /** An int64 constant (shapes, axes, indices). */
  ints(values: number[], dims?: number[]): string {
    return this.tensor('ints', BigInt64Array.from(values.map(BigInt)), dims ?? [values.length], 'int64');
  }

  /** Adds a node with one output and returns that output's name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outName?: string): string {
    return this.opN(opType, inputs, 1, attrs, outName ? [outName] : undefined)[0]!;
  }

  /** Adds a node with `count` outputs. */
  opN(
    opType: string,
    inputs: string[],
    count: number,
    attrs: Record<string, AttrValue> = {},
    outNames?: string[],
  ): string[] {
    const output = outNames
      ? outNames.map((n) => this.claim(n))
      : Array.from({ length: count }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({
      opType,
      input: inputs,
      output,
      name: this.fresh(`n_${opType}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** Serialises the model (opset 17 and IR 8, or a merged graph's newer ones). */
  toBytes(options: ModelOptions = {}): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: this.irVersion,
      opsetImport: [{ domain: '', version: this.opset }],
      producerName: options.producerName ?? 'sampler-studio',
      producerVersion: options.producerVersion ?? '',
      docString: options.docString ?? '',
      graph: {
        name: this.name,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
      },
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** Reads the metadata_props of an ONNX file (for checks and tests). */
export function readMetadata(bytes: Uint8Array): Record<string, string> {
  const m = onnx.ModelProto.decode(bytes);
  const out: Record<string, string> = {};
  for (const p of m.metadataProps) out[p.key ?? ''] = p.value ?? '';
  return out;
}
