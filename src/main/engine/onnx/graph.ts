// A small ONNX graph builder over the official schema (npm `onnx-proto`, compiled from onnx.proto).
//
// Used by tools/ to generate the bundled models, by tests to write custom models by hand, and
// (later) by the policy exporter. It writes standard opset-17 graphs with IR version 8, which
// ONNX Runtime and the onnx checker accept.
//
// [Note: initializers as raw_data]
// Tensor values are stored little-endian in `raw_data`, the compact form every runtime reads.
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
  opN(opType: string, inputs: string[], count: number, attrs: Record<string, AttrValue> = {}, outNames?: string[]): string[] {
    const output = outNames ? outNames.map((n) => this.claim(n)) : Array.from({ length: count }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({
      opType,
      input: inputs,
      output,
      name: this.fresh(`n_${opType}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** Serialises the model (opset 17, IR 8). */
  toBytes(options: ModelOptions = {}): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET_VERSION }],
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
