// NumPy .npy reading and writing (format versions 1.0, 2.0 and 3.0).
//
// Layout of a .npy file: the magic string "\x93NUMPY", a major and minor
// version byte, the header length (uint16 LE for 1.0, uint32 LE for 2.0/3.0),
// then a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }
// padded with spaces and a newline so the raw array data that follows starts
// at a multiple of 64 bytes. Arrays handed to callers are always C-ordered,
// native (little) endian, and backed by a fresh, properly aligned buffer.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic';

export type NpyDtype = 'float32' | 'float64' | 'uint8' | 'int32' | 'int64';
export type NpyData = Float32Array | Float64Array | Uint8Array | Int32Array | BigInt64Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
}

/** Every problem reading or encoding a .npy file is reported as an NpyError. */
export class NpyError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NpyError';
  }
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const ALIGN = 64;
/** numpy leaves room for the first axis to grow to this many digits in place. */
const GROWTH_AXIS_MAX_DIGITS = 21;
const SUPPORTED = 'use float32, float64, uint8, int32 or int64';

interface DtypeInfo {
  itemSize: number;
  descr: string; // what we write
}

const DTYPES: Record<NpyDtype, DtypeInfo> = {
  float32: { itemSize: 4, descr: '<f4' },
  float64: { itemSize: 8, descr: '<f8' },
  uint8: { itemSize: 1, descr: '|u1' },
  int32: { itemSize: 4, descr: '<i4' },
  int64: { itemSize: 8, descr: '<i8' },
};

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------
// A tiny parser for the Python literals that appear in .npy headers.

type PyValue =
  | { kind: 'str'; value: string }
  | { kind: 'int'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'none' }
  | { kind: 'tuple'; items: PyValue[] }
  | { kind: 'list'; items: PyValue[] }
  | { kind: 'dict'; entries: [PyValue, PyValue][] };

class PyLiteralParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  /** Parse the whole text as one literal (surrounding whitespace allowed). */
  parseAll(): PyValue {
    const value = this.parseValue();
    this.skipSpace();
    if (this.pos < this.text.length) this.fail(`unexpected text after the dict at offset ${this.pos}`);
    return value;
  }

  private fail(message: string): never {
    throw new SyntaxError(message);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private peek(): string {
    this.skipSpace();
    return this.text[this.pos] ?? '';
  }

  private expect(ch: string): void {
    if (this.peek() !== ch) this.fail(`expected '${ch}' at offset ${this.pos}`);
    this.pos++;
  }

  private parseValue(): PyValue {
    const ch = this.peek();
    if (ch === '{') return this.parseDict();
    if (ch === '(') {
      const { items, sawComma } = this.parseSequence('(', ')');
      // "(x)" is just a parenthesised value; "(x,)" is a 1-tuple.
      if (items.length === 1 && !sawComma) return items[0];
      return { kind: 'tuple', items };
    }
    if (ch === '[') return { kind: 'list', items: this.parseSequence('[', ']').items };
    if (ch === "'" || ch === '"') return { kind: 'str', value: this.parseString() };
    if (/[ubUB]/.test(ch) && /['"]/.test(this.text[this.pos + 1] ?? '')) {
      this.pos++; // u'...' / b'...' prefixes from Python 2 era files
      return { kind: 'str', value: this.parseString() };
    }
    if (/[-+0-9]/.test(ch)) return this.parseInt();
    const word = /^[A-Za-z_]+/.exec(this.text.slice(this.pos))?.[0] ?? '';
    this.pos += word.length;
    if (word === 'True') return { kind: 'bool', value: true };
    if (word === 'False') return { kind: 'bool', value: false };
    if (word === 'None') return { kind: 'none' };
    return this.fail(word ? `unexpected name '${word}'` : `unexpected character '${ch || 'end of header'}'`);
  }

  private parseDict(): PyValue {
    this.expect('{');
    const entries: [PyValue, PyValue][] = [];
    while (this.peek() !== '}') {
      const key = this.parseValue();
      this.expect(':');
      entries.push([key, this.parseValue()]);
      if (this.peek() === ',') this.pos++;
      else if (this.peek() !== '}') this.fail(`expected ',' or '}' at offset ${this.pos}`);
    }
    this.pos++;
    return { kind: 'dict', entries };
  }

  private parseSequence(open: string, close: string): { items: PyValue[]; sawComma: boolean } {
    this.expect(open);
    const items: PyValue[] = [];
    let sawComma = false;
    while (this.peek() !== close) {
      items.push(this.parseValue());
      if (this.peek() === ',') {
        this.pos++;
        sawComma = true;
      } else if (this.peek() !== close) {
        this.fail(`expected ',' or '${close}' at offset ${this.pos}`);
      }
    }
    this.pos++;
    return { items, sawComma };
  }

  private parseString(): string {
    const quote = this.text[this.pos++];
    let out = '';
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos++];
      if (ch === quote) return out;
      if (ch === '\\') {
        const next = this.text[this.pos++] ?? '';
        out += next === 'n' ? '\n' : next === 't' ? '\t' : next;
      } else {
        out += ch;
      }
    }
    return this.fail('unterminated string');
  }

  private parseInt(): PyValue {
    const m = /^[-+]?[0-9]+[lL]?/.exec(this.text.slice(this.pos)); // "3L": Python 2 long
    if (!m) this.fail(`malformed number at offset ${this.pos}`);
    this.pos += m[0].length;
    if (/^[.eEjJ]/.test(this.text[this.pos] ?? '')) this.fail(`non-integer number at offset ${this.pos}`);
    const value = Number(m[0].replace(/[lL]$/, ''));
    if (!Number.isSafeInteger(value)) this.fail(`integer ${m[0]} is too large`);
    return { kind: 'int', value };
  }
}

// ---------------------------------------------------------------------------
// Header interpretation.

interface ParsedDescr {
  dtype: NpyDtype;
  itemSize: number;
  bigEndian: boolean;
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function describeDescr(descr: string, source: string): ParsedDescr {
  if (/^[|<>=]?O\d*$/.test(descr)) {
    throw new NpyError(
      `${source}: dtype '${descr}' is an object array; pickled object arrays are not supported; ` +
        `save a numeric array instead (e.g. np.save(path, arr.astype(np.float32)))`,
    );
  }
  const m = /^([|<>=]?)([a-zA-Z])(\d+)$/.exec(descr);
  const key = m ? `${m[2]}${m[3]}` : '';
  const table: Record<string, NpyDtype> = {
    f4: 'float32',
    f8: 'float64',
    u1: 'uint8',
    b1: 'uint8', // numpy bool: one byte, 0 or 1
    i4: 'int32',
    i8: 'int64',
  };
  const dtype = table[key];
  if (!m || !dtype) throw new NpyError(`${source}: dtype '${descr}' is not supported; ${SUPPORTED}`);
  const order = m[1] === '=' ? (HOST_LITTLE_ENDIAN ? '<' : '>') : m[1];
  const itemSize = DTYPES[dtype].itemSize;
  return { dtype, itemSize, bigEndian: order === '>' && itemSize > 1 };
}

interface ParsedHeader {
  descr: ParsedDescr;
  fortranOrder: boolean;
  shape: number[];
}

function interpretHeader(text: string, source: string): ParsedHeader {
  const malformed = (problem: string): NpyError =>
    new NpyError(
      `${source}: malformed .npy header (${problem}): ${JSON.stringify(text.trim().slice(0, 200))}; ` +
        `the file may be corrupt, re-save it with numpy.save`,
    );
  let value: PyValue;
  try {
    value = new PyLiteralParser(text).parseAll();
  } catch (err) {
    throw malformed(err instanceof Error ? err.message : String(err));
  }
  if (value.kind !== 'dict') throw malformed('expected a dict');
  const fields = new Map<string, PyValue>();
  for (const [k, v] of value.entries) {
    if (k.kind !== 'str') throw malformed('dict keys must be strings');
    fields.set(k.value, v);
  }
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!fields.has(key)) throw malformed(`missing key '${key}'`);
  }
  const extra = [...fields.keys()].filter((k) => !['descr', 'fortran_order', 'shape'].includes(k));
  if (extra.length > 0) throw malformed(`unexpected key '${extra[0]}'`);

  const descrValue = fields.get('descr') as PyValue;
  if (descrValue.kind === 'list') {
    throw new NpyError(
      `${source}: structured dtypes (record arrays) are not supported; ` +
        `save each field as a separate plain array (${SUPPORTED})`,
    );
  }
  if (descrValue.kind !== 'str') throw malformed("'descr' must be a string");
  const descr = describeDescr(descrValue.value, source);

  const fortran = fields.get('fortran_order') as PyValue;
  if (fortran.kind !== 'bool') throw malformed("'fortran_order' must be True or False");

  const shapeValue = fields.get('shape') as PyValue;
  if (shapeValue.kind !== 'tuple') throw malformed("'shape' must be a tuple");
  const shape = shapeValue.items.map((item) => {
    if (item.kind !== 'int' || item.value < 0) throw malformed("'shape' entries must be non-negative integers");
    return item.value;
  });
  return { descr, fortranOrder: fortran.value, shape };
}

// ---------------------------------------------------------------------------
// Raw data helpers (byte-level, so they work for every dtype).

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Reorder column-major (Fortran) bytes into row-major (C) order. */
function fortranToC(src: Uint8Array, shape: readonly number[], itemSize: number): Uint8Array<ArrayBuffer> {
  const n = shape.length;
  const total = elementCount(shape);
  const out = new Uint8Array(src.length);
  if (n < 2 || total === 0) {
    out.set(src);
    return out;
  }
  // Fortran strides in elements: the first axis varies fastest.
  const fstride = new Array<number>(n);
  fstride[0] = 1;
  for (let k = 1; k < n; k++) fstride[k] = fstride[k - 1] * shape[k - 1];
  const idx = new Array<number>(n).fill(0);
  let off = 0; // Fortran element offset of the current C-order element
  for (let j = 0; j < total; j++) {
    const s = off * itemSize;
    const d = j * itemSize;
    for (let b = 0; b < itemSize; b++) out[d + b] = src[s + b];
    // Advance the C-order multi-index (last axis fastest) and track the offset.
    for (let k = n - 1; k >= 0; k--) {
      idx[k]++;
      off += fstride[k];
      if (idx[k] < shape[k]) break;
      off -= fstride[k] * shape[k];
      idx[k] = 0;
    }
  }
  return out;
}

function byteSwapInPlace(bytes: Uint8Array, itemSize: number): void {
  for (let i = 0; i < bytes.length; i += itemSize) {
    for (let a = i, b = i + itemSize - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

function typedArrayFor(dtype: NpyDtype, buffer: ArrayBuffer): NpyData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer);
    case 'float64':
      return new Float64Array(buffer);
    case 'uint8':
      return new Uint8Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'int64':
      return new BigInt64Array(buffer);
  }
}

function dtypeOfData(data: NpyData): NpyDtype | null {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  return null;
}

// ---------------------------------------------------------------------------
// Public API.

/** What a .npy header says: the array's dtype and shape, where its data start and how many bytes they take. */
export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  fortranOrder: boolean;
  /** Bytes of preamble and header: the data start here. */
  dataStart: number;
  /** Bytes of the data the shape and dtype call for (not checked against what follows). */
  dataBytes: number;
}

/**
 * Preamble and header of a .npy file from its first bytes (`bytes` may be a prefix: an archive
 * member's first bytes, read before inflating the rest). Throws on a bad magic string or version, or
 * when `bytes` ends before the header does ("truncated", as of a whole file).
 */
function readHeader(bytes: Uint8Array, source: string): NpyHeader & { descr: ParsedDescr } {
  const dataStart = npyHeaderEnd(bytes, source);
  const major = bytes[6];
  const headerStart = major === 1 ? 10 : 12;
  const headerLen = dataStart - headerStart;
  if (dataStart > bytes.length) {
    throw new NpyError(
      `${source}: file is truncated: the header is declared as ${headerLen} bytes ` +
        `but only ${bytes.length - headerStart} bytes follow the preamble`,
    );
  }
  const headerBytes = Buffer.from(bytes.buffer, bytes.byteOffset + headerStart, headerLen);
  const headerText = headerBytes.toString(major === 3 ? 'utf8' : 'latin1');
  const { descr, fortranOrder, shape } = interpretHeader(headerText, source);
  const dataBytes = elementCount(shape) * descr.itemSize;
  if (!Number.isSafeInteger(dataBytes))
    throw new NpyError(`${source}: header says shape ${formatShape(shape)}, too large to address; re-save it`);
  return { dtype: descr.dtype, shape, fortranOrder, dataStart, dataBytes, descr };
}

/**
 * Where the data of a .npy file start (preamble + header length), from its first 12 bytes (10 for
 * version 1.0), the magic string and version checked; throws when fewer bytes are given.
 */
export function npyHeaderEnd(bytes: Uint8Array, source = '<buffer>'): number {
  const magicOk = MAGIC.every((b, i) => i >= bytes.length || bytes[i] === b);
  if (!magicOk || bytes.length === 0) {
    throw new NpyError(`${source}: not a .npy file (bad magic string); expected a file written by numpy.save`);
  }
  if (bytes.length < 10) {
    throw new NpyError(
      `${source}: file is truncated: only ${bytes.length} bytes, too short for a .npy preamble; re-save it with numpy.save`,
    );
  }
  const major = bytes[6];
  const minor = bytes[7];
  if (!((major === 1 || major === 2 || major === 3) && minor === 0)) {
    throw new NpyError(
      `${source}: unsupported .npy format version ${major}.${minor}; ` +
        `only versions 1.0, 2.0 and 3.0 can be read (re-save it with numpy.save)`,
    );
  }
  const lenSize = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenSize) {
    throw new NpyError(`${source}: file is truncated inside the .npy preamble; re-save it with numpy.save`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return 8 + lenSize + (major === 1 ? view.getUint16(8, true) : view.getUint32(8, true));
}

/** The header of a .npy file from its first npyHeaderEnd(bytes) bytes (or all of it). */
export function parseNpyHeader(bytes: Uint8Array, source = '<buffer>'): NpyHeader {
  const { descr: _descr, ...header } = readHeader(bytes, source);
  return header;
}

/** Parse the bytes of a .npy file. `source` names the file in error messages. */
export function parseNpy(bytes: Uint8Array, source = '<buffer>'): NpyArray {
  const { descr, fortranOrder, shape, dataStart, dataBytes: byteLength } = readHeader(bytes, source);
  const available = bytes.length - dataStart;
  if (byteLength > available) {
    throw new NpyError(
      `${source}: file is truncated: header says shape ${formatShape(shape)} of ${descr.dtype} ` +
        `(${byteLength} bytes) but only ${available} bytes of data follow`,
    );
  }

  // Copy into a fresh buffer: the data offset in `bytes` need not be aligned
  // for the element type, and callers should not alias the file buffer.
  // (Explicit copy: Buffer#slice would return a view, not a copy.)
  let raw = new Uint8Array(byteLength);
  raw.set(bytes.subarray(dataStart, dataStart + byteLength));
  if (fortranOrder) raw = fortranToC(raw, shape, descr.itemSize);
  if (descr.bigEndian === HOST_LITTLE_ENDIAN && descr.itemSize > 1) byteSwapInPlace(raw, descr.itemSize);
  return { dtype: descr.dtype, shape, data: typedArrayFor(descr.dtype, raw.buffer) };
}

/** Python repr of a shape tuple: (), (3,), (3, 2). */
function shapeRepr(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

function validateArray(arr: NpyArray, what: string): void {
  const info = DTYPES[arr.dtype];
  if (!info) throw new NpyError(`${what}: dtype '${String(arr.dtype)}' is not supported; ${SUPPORTED}`);
  const actual = dtypeOfData(arr.data);
  if (actual !== arr.dtype) {
    throw new NpyError(`${what}: dtype is '${arr.dtype}' but the data is a ${arr.data.constructor.name}`);
  }
  for (const d of arr.shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new NpyError(`${what}: shape ${formatShape(arr.shape)} must contain non-negative integers`);
    }
  }
  const count = elementCount(arr.shape);
  if (count !== arr.data.length) {
    throw new NpyError(
      `${what}: shape ${formatShape(arr.shape)} holds ${count} elements but the data has ${arr.data.length}`,
    );
  }
}

/** Build the preamble + padded header exactly as numpy.save does. */
function encodeHeader(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  let dict = `{'descr': '${DTYPES[dtype].descr}', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0) dict += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  const hlen = dict.length + 1; // + trailing newline
  for (const [major, lenSize] of [
    [1, 2],
    [2, 4],
  ] as const) {
    const padLen = ALIGN - ((MAGIC.length + 2 + lenSize + hlen) % ALIGN);
    const total = hlen + padLen;
    if (major === 1 && total > 0xffff) continue;
    const out = new Uint8Array(MAGIC.length + 2 + lenSize + total);
    out.set(MAGIC, 0);
    out[6] = major;
    out[7] = 0;
    const view = new DataView(out.buffer);
    if (lenSize === 2) view.setUint16(8, total, true);
    else view.setUint32(8, total, true);
    const text = dict + ' '.repeat(padLen) + '\n';
    out.set(Buffer.from(text, 'latin1'), MAGIC.length + 2 + lenSize);
    return out;
  }
  throw new NpyError(`array header is too large to encode (${hlen} bytes)`);
}

/** Encode an array as the bytes of a .npy file (C order, little endian). */
export function encodeNpy(arr: NpyArray): Uint8Array {
  validateArray(arr, 'encodeNpy');
  const header = encodeHeader(arr.dtype, arr.shape);
  const out = new Uint8Array(header.length + arr.data.byteLength);
  out.set(header, 0);
  const payload = new Uint8Array(out.buffer, header.length, arr.data.byteLength);
  payload.set(new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength));
  if (!HOST_LITTLE_ENDIAN) byteSwapInPlace(payload, DTYPES[arr.dtype].itemSize);
  return out;
}

/** Read and parse a .npy file. */
export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new NpyError(`${path}: file not found; check the path and that the file was saved`, { cause: err });
    }
    if (code === 'EISDIR') throw new NpyError(`${path}: is a directory, expected a .npy file`, { cause: err });
    const detail = err instanceof Error ? err.message : String(err);
    throw new NpyError(`${path}: cannot read the file (${detail})`, { cause: err });
  }
  return parseNpy(bytes, path);
}

/** Write an array to a .npy file atomically. */
export async function writeNpy(path: string, arr: NpyArray): Promise<void> {
  validateArray(arr, path);
  await writeFileAtomic(path, encodeNpy(arr));
}

/** Convert any supported array to float32 (returns the data itself if already float32). */
export function toFloat32(arr: NpyArray): Float32Array {
  const data = arr.data;
  if (data instanceof Float32Array) return data;
  const out = new Float32Array(data.length);
  if (data instanceof BigInt64Array) {
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  } else {
    out.set(data);
  }
  return out;
}

/** Wrap float32 data with a shape (the length must match). */
export function npyFloat32(shape: number[], data: Float32Array): NpyArray {
  const arr: NpyArray = { dtype: 'float32', shape: [...shape], data };
  validateArray(arr, 'npyFloat32');
  return arr;
}

/** Wrap int64 data with a shape; plain numbers must be safe integers. */
export function npyInt64(shape: number[], data: BigInt64Array | number[]): NpyArray {
  let values: BigInt64Array;
  if (data instanceof BigInt64Array) {
    values = data;
  } else {
    values = new BigInt64Array(data.length);
    data.forEach((v, i) => {
      if (!Number.isSafeInteger(v)) throw new NpyError(`npyInt64: data[${i}] = ${v} is not a safe integer`);
      values[i] = BigInt(v);
    });
  }
  const arr: NpyArray = { dtype: 'int64', shape: [...shape], data: values };
  validateArray(arr, 'npyInt64');
  return arr;
}
