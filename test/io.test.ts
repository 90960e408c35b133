// Tests for the engine's file I/O: atomic writes, .npy (with an optional
// cross-check against real numpy) and PNG output (decoded independently, test/helpers/png.ts).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';

import { createFileExclusiveSync, writeFileAtomic, writeFileAtomicSync } from '../src/main/engine/io/atomic';
import {
  NpyError,
  encodeNpy,
  npyFloat32,
  npyInt64,
  parseNpy,
  readNpy,
  toFloat32,
  writeNpy,
  type NpyArray,
  type NpyData,
  type NpyDtype,
} from '../src/main/engine/io/npy';
import { encodePng, writePng, type Image } from '../src/main/engine/io/png';
import { decodePng } from './helpers/png';

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'io-test-'));
  tempDirs.push(dir);
  return dir;
}

const latin1 = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Hand-built .npy bytes: preamble for `version`, header dict padded to 64 bytes, then `data`. */
function makeNpy(dict: string, data: Uint8Array, version: 1 | 2 | 3 = 1): Uint8Array {
  const lenSize = version === 1 ? 2 : 4;
  const prefix = 8 + lenSize;
  let header = dict;
  while ((prefix + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const pre = new Uint8Array(prefix);
  pre.set(latin1('\x93NUMPY'));
  pre[6] = version;
  pre[7] = 0;
  const view = new DataView(pre.buffer);
  if (lenSize === 2) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  return concat(pre, version === 3 ? Buffer.from(header, 'utf8') : latin1(header), data);
}

/** Element values of any dtype, for deepEqual comparisons. */
function values(data: NpyData): Array<number | bigint> {
  return Array.from(data as ArrayLike<number | bigint>);
}

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

function sampleArray(dtype: NpyDtype, shape: number[]): NpyArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const idx = Array.from({ length: n }, (_, i) => i);
  switch (dtype) {
    case 'float32':
      return { dtype, shape, data: Float32Array.from(idx, (i) => i * 0.5 - 3.25) };
    case 'float64':
      return { dtype, shape, data: Float64Array.from(idx, (i) => Math.PI * (i - 2) + 1e-12) };
    case 'uint8':
      return { dtype, shape, data: Uint8Array.from(idx, (i) => (i * 37 + 250) % 256) };
    case 'int32':
      return { dtype, shape, data: Int32Array.from(idx, (i) => (i - 5) * 100000007) };
    case 'int64':
      return { dtype, shape, data: BigInt64Array.from(idx, (i) => BigInt(i - 4) * 1234567890123n) };
  }
}

/** Assert that `fn` throws an NpyError whose message contains every word. */
async function assertNpyError(fn: () => unknown, ...words: string[]): Promise<void> {
  await assert.rejects(
    async () => {
      await fn();
    },
    (err: unknown) => {
      assert.ok(err instanceof NpyError, `expected NpyError, got ${String(err)}`);
      for (const w of words) assert.ok(err.message.includes(w), `message ${JSON.stringify(err.message)} lacks '${w}'`);
      return true;
    },
  );
}

// ---------------------------------------------------------------------------
// npy

test('npy: round trip for every dtype and shape', () => {
  const dtypes: NpyDtype[] = ['float32', 'float64', 'uint8', 'int32', 'int64'];
  const shapes = [[], [5], [3, 2], [2, 3, 4], [0, 3]];
  for (const dtype of dtypes) {
    for (const shape of shapes) {
      const arr = sampleArray(dtype, shape);
      const bytes = encodeNpy(arr);
      const headerLen = new DataView(bytes.buffer).getUint16(8, true);
      assert.equal((10 + headerLen) % 64, 0, 'data starts on a 64-byte boundary');
      const back = parseNpy(bytes);
      assert.equal(back.dtype, dtype);
      assert.deepEqual(back.shape, shape);
      assert.equal(back.data.constructor, arr.data.constructor);
      assert.deepEqual(values(back.data), values(arr.data));
    }
  }
});

test('npy: golden bytes match numpy.save for float32 (3, 2) and uint8 (3,)', () => {
  const f = encodeNpy(npyFloat32([3, 2], Float32Array.from([0, 1, 2, 3, 4, 5])));
  const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
  const header = dict + ' '.repeat(128 - 10 - dict.length - 1) + '\n';
  const expected = concat(
    latin1('\x93NUMPY\x01\x00'),
    Uint8Array.from([header.length & 0xff, header.length >> 8]),
    latin1(header),
    bytesOf(Float32Array.from([0, 1, 2, 3, 4, 5])),
  );
  assert.equal(header.length, 118);
  assert.deepEqual(Buffer.from(f), Buffer.from(expected));

  const u = encodeNpy({ dtype: 'uint8', shape: [3], data: Uint8Array.from([1, 2, 3]) });
  const udict = "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }";
  const uheader = udict + ' '.repeat(128 - 10 - udict.length - 1) + '\n';
  assert.deepEqual(
    Buffer.from(u),
    Buffer.from(concat(latin1('\x93NUMPY\x01\x00v\x00' + uheader), Uint8Array.from([1, 2, 3]))),
  );

  const s = encodeNpy(npyFloat32([], Float32Array.from([1.5])));
  assert.ok(Buffer.from(s).toString('latin1').includes("'shape': (), }"));
});

test('npy: very large headers are written as version 2.0', () => {
  const shape = new Array<number>(30000).fill(1);
  const bytes = encodeNpy(npyFloat32(shape, Float32Array.from([7])));
  assert.equal(bytes[6], 2);
  const headerLen = new DataView(bytes.buffer).getUint32(8, true);
  assert.equal((12 + headerLen) % 64, 0);
  const back = parseNpy(bytes);
  assert.equal(back.shape.length, 30000);
  assert.deepEqual(values(back.data), [7]);
});

test('npy: parses version 2.0 and 3.0 headers and unaligned buffers', () => {
  const data = bytesOf(Float64Array.from([1.25, -2.5]));
  for (const version of [2, 3] as const) {
    const arr = parseNpy(makeNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data, version));
    assert.deepEqual(values(arr.data), [1.25, -2.5]);
  }
  // Same file at an odd offset inside a bigger buffer.
  const file = makeNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data);
  const big = new Uint8Array(file.length + 3);
  big.set(file, 1);
  const arr = parseNpy(big.subarray(1, 1 + file.length));
  assert.ok(arr.data instanceof Float64Array);
  assert.deepEqual(values(arr.data), [1.25, -2.5]);
  // The result must not alias the input buffer.
  big.fill(0);
  assert.deepEqual(values(arr.data), [1.25, -2.5]);
});

test('npy: header variants (key order, double quotes, Python 2 longs, bool)', () => {
  const data = bytesOf(Int32Array.from([1, 2, 3, 4, 5, 6]));
  const a = parseNpy(makeNpy('{"shape": (2L, 3L), "fortran_order": False, "descr": "<i4"}', data));
  assert.deepEqual(a.shape, [2, 3]);
  assert.equal(a.dtype, 'int32');
  const b = parseNpy(makeNpy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", Uint8Array.from([1, 0, 1])));
  assert.equal(b.dtype, 'uint8');
  assert.deepEqual(values(b.data), [1, 0, 1]);
});

test('npy: fortran_order input is transposed into C order', () => {
  // C array [[0,1,2],[3,4,5]] stored column-major is 0,3,1,4,2,5.
  const f2 = parseNpy(
    makeNpy(
      "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
      bytesOf(Float32Array.from([0, 3, 1, 4, 2, 5])),
    ),
  );
  assert.deepEqual(f2.shape, [2, 3]);
  assert.deepEqual(values(f2.data), [0, 1, 2, 3, 4, 5]);

  // 3-D: C value at (i, j, k) is i*12 + j*4 + k; Fortran offset is i + 2*j + 6*k.
  const [I, J, K] = [2, 3, 4];
  const fdata = new BigInt64Array(I * J * K);
  for (let i = 0; i < I; i++) {
    for (let j = 0; j < J; j++) for (let k = 0; k < K; k++) fdata[i + I * j + I * J * k] = BigInt(i * 12 + j * 4 + k);
  }
  const f3 = parseNpy(makeNpy("{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3, 4), }", bytesOf(fdata)));
  assert.deepEqual(
    values(f3.data).map(Number),
    Array.from({ length: 24 }, (_, i) => i),
  );
});

test('npy: big-endian data is byte-swapped', () => {
  const be = (values: number[], size: 4 | 8, kind: 'f' | 'i'): Uint8Array => {
    const out = new Uint8Array(values.length * size);
    const view = new DataView(out.buffer);
    values.forEach((v, i) => {
      if (kind === 'f' && size === 4) view.setFloat32(i * size, v, false);
      else if (kind === 'f') view.setFloat64(i * size, v, false);
      else if (size === 4) view.setInt32(i * size, v, false);
      else view.setBigInt64(i * size, BigInt(v), false);
    });
    return out;
  };
  const f4 = parseNpy(makeNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", be([1.5, -2, 1e6], 4, 'f')));
  assert.deepEqual(values(f4.data), [1.5, -2, 1e6]);
  const f8 = parseNpy(
    makeNpy("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", be([Math.PI, -0.1], 8, 'f')),
  );
  assert.deepEqual(values(f8.data), [Math.PI, -0.1]);
  const i4 = parseNpy(
    makeNpy("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", be([-7, 123456789], 4, 'i')),
  );
  assert.deepEqual(values(i4.data), [-7, 123456789]);
  const i8 = parseNpy(makeNpy("{'descr': '>i8', 'fortran_order': True, 'shape': (2, 2), }", be([0, 2, 1, -3], 8, 'i')));
  assert.deepEqual(values(i8.data), [0n, 1n, 2n, -3n]);
});

test('npy: errors are NpyErrors that name the source and the problem', async () => {
  const f4 = bytesOf(Float32Array.from([1, 2]));
  await assertNpyError(
    () => parseNpy(latin1('PK\x03\x04 not numpy at all'), 'samples.npy'),
    'samples.npy',
    'bad magic',
    'numpy.save',
  );
  await assertNpyError(() => parseNpy(new Uint8Array(0), 'empty.npy'), 'empty.npy', 'bad magic');
  await assertNpyError(() => parseNpy(latin1('\x93NUM'), 'short.npy'), 'short.npy', 'truncated');
  const v4 = makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f4);
  v4[6] = 4;
  await assertNpyError(() => parseNpy(v4, 'v4.npy'), 'v4.npy', 'version 4.0');
  await assertNpyError(
    () => parseNpy(makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", f4), 'bad.npy'),
    'bad.npy',
    'malformed',
  );
  await assertNpyError(
    () => parseNpy(makeNpy("{'descr': '<f4', 'shape': (2,), }", f4), 'bad.npy'),
    'malformed',
    "missing key 'fortran_order'",
  );
  await assertNpyError(
    () => parseNpy(makeNpy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), 'x.npy'),
    "x.npy: dtype '<c8' is not supported",
    'float32, float64, uint8, int32 or int64',
  );
  await assertNpyError(
    () => parseNpy(makeNpy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(16)), 'o.npy'),
    'o.npy',
    'object',
    'pickled',
    'not supported',
  );
  await assertNpyError(
    () =>
      parseNpy(
        makeNpy("{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)),
        's.npy',
      ),
    's.npy',
    'structured',
  );
  await assertNpyError(
    () =>
      parseNpy(makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (100, 2), }", new Uint8Array(400)), 'x.npy'),
    'x.npy: file is truncated: header says shape [100, 2] of float32 (800 bytes) but only 400 bytes of data follow',
  );
  await assertNpyError(() => encodeNpy(npyFloat32([3], Float32Array.from([1, 2]))), 'holds 3 elements');
  await assertNpyError(() => encodeNpy({ dtype: 'int32', shape: [1], data: Float32Array.from([1]) }), 'Float32Array');
  await assertNpyError(() => npyInt64([1], [1.5]), 'not a safe integer');
});

test('npy: readNpy of a missing file', async () => {
  const path = join(tempDir(), 'nope', 'missing.npy');
  await assertNpyError(() => readNpy(path), path, 'file not found');
});

test('npy: writeNpy/readNpy on disk, toFloat32 and helpers', async () => {
  const dir = tempDir();
  const path = join(dir, 'sub', 'a.npy');
  const arr = npyInt64([2, 2], [1, -2, 3, 2 ** 40]);
  await writeNpy(path, arr);
  const back = await readNpy(path);
  assert.equal(back.dtype, 'int64');
  assert.deepEqual(values(back.data), [1n, -2n, 3n, 2n ** 40n]);
  assert.deepEqual(Array.from(toFloat32(back)), [1, -2, 3, 2 ** 40]);

  const f = npyFloat32([2], Float32Array.from([0.5, 1]));
  assert.equal(toFloat32(f), f.data, 'float32 data is returned as is');
  const u = toFloat32({ dtype: 'uint8', shape: [2], data: Uint8Array.from([0, 255]) });
  assert.ok(u instanceof Float32Array);
  assert.deepEqual(Array.from(u), [0, 255]);
  const f8 = sampleArray('float64', [2]);
  assert.deepEqual(Array.from(toFloat32(f8)), Array.from(Float32Array.from(f8.data as Float64Array)));
});

// ---------------------------------------------------------------------------
// Cross-check with real numpy, when it is installed.

const PYTHON = '/usr/bin/python3';
const numpyAvailable = spawnSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

function python(code: string, ...args: string[]): string {
  const res = spawnSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8' });
  assert.equal(res.status, 0, `python failed: ${res.stderr}`);
  return res.stdout;
}

test('npy: reads files written by numpy', async (t) => {
  if (!numpyAvailable) {
    t.skip('numpy not available');
    return;
  }
  const dir = tempDir();
  python(
    `
import sys, numpy as np
d = sys.argv[1]
np.save(d + '/f4.npy', np.arange(6, dtype=np.float32).reshape(3, 2) / 4)
np.save(d + '/f8.npy', np.array([np.pi, -1e300, 0.1]))
np.save(d + '/u1.npy', np.array([[0, 1], [254, 255]], dtype=np.uint8))
np.save(d + '/i8.npy', np.array([-(2**62), 0, 2**53 + 1], dtype=np.int64))
np.save(d + '/fo.npy', np.asfortranarray(np.arange(24, dtype=np.float32).reshape(2, 3, 4)))
np.save(d + '/be.npy', np.arange(5, dtype='>f8') - 2.5)
np.save(d + '/b1.npy', np.array([True, False, True]))
np.save(d + '/sc.npy', np.float32(2.5))
`,
    dir,
  );
  const f4 = await readNpy(join(dir, 'f4.npy'));
  assert.equal(f4.dtype, 'float32');
  assert.deepEqual(f4.shape, [3, 2]);
  assert.deepEqual(values(f4.data), [0, 0.25, 0.5, 0.75, 1, 1.25]);
  assert.deepEqual(values((await readNpy(join(dir, 'f8.npy'))).data), [Math.PI, -1e300, 0.1]);
  const u1 = await readNpy(join(dir, 'u1.npy'));
  assert.deepEqual([u1.dtype, u1.shape, values(u1.data)], ['uint8', [2, 2], [0, 1, 254, 255]]);
  assert.deepEqual(values((await readNpy(join(dir, 'i8.npy'))).data), [-(2n ** 62n), 0n, 2n ** 53n + 1n]);
  const fo = await readNpy(join(dir, 'fo.npy'));
  assert.deepEqual(fo.shape, [2, 3, 4]);
  assert.deepEqual(
    values(fo.data),
    Array.from({ length: 24 }, (_, i) => i),
  );
  assert.deepEqual(values((await readNpy(join(dir, 'be.npy'))).data), [-2.5, -1.5, -0.5, 0.5, 1.5]);
  assert.deepEqual(values((await readNpy(join(dir, 'b1.npy'))).data), [1, 0, 1]);
  const sc = await readNpy(join(dir, 'sc.npy'));
  assert.deepEqual([sc.shape, values(sc.data)], [[], [2.5]]);
});

test('npy: files we write load in numpy, byte-identical to numpy.save', async (t) => {
  if (!numpyAvailable) {
    t.skip('numpy not available');
    return;
  }
  const dir = tempDir();
  const arrays: Record<string, NpyArray> = {
    f4: sampleArray('float32', [3, 2]),
    f8: sampleArray('float64', [2, 3, 4]),
    u1: sampleArray('uint8', [5]),
    i4: sampleArray('int32', [2, 2]),
    i8: sampleArray('int64', []),
    big: sampleArray('float32', [123456, 0]),
  };
  for (const [name, arr] of Object.entries(arrays)) await writeNpy(join(dir, `${name}.npy`), arr);
  const out = python(
    `
import sys, io, json, numpy as np
d = sys.argv[1]
res = {}
for name in sys.argv[2:]:
    with open(d + '/' + name + '.npy', 'rb') as f:
        raw = f.read()
    a = np.load(d + '/' + name + '.npy')
    buf = io.BytesIO(); np.save(buf, a)
    res[name] = {'dtype': a.dtype.str, 'shape': list(a.shape),
                 'values': [str(v) for v in a.ravel().tolist()], 'identical': buf.getvalue() == raw}
print(json.dumps(res))
`,
    dir,
    ...Object.keys(arrays),
  );
  const res = JSON.parse(out) as Record<
    string,
    { dtype: string; shape: number[]; values: string[]; identical: boolean }
  >;
  const descr: Record<NpyDtype, string> = { float32: '<f4', float64: '<f8', uint8: '|u1', int32: '<i4', int64: '<i8' };
  for (const [name, arr] of Object.entries(arrays)) {
    const r = res[name];
    assert.equal(r.dtype, descr[arr.dtype], name);
    assert.deepEqual(r.shape, arr.shape, name);
    assert.ok(r.identical, `${name}: bytes differ from numpy.save`);
    assert.deepEqual(r.values.map(Number), values(arr.data).map(Number), name);
  }
});

// ---------------------------------------------------------------------------
// PNG, checked with an independent decoder (test/helpers/png.ts).

test('png: gray, RGB and RGBA images decode to the input pixels', () => {
  const filtersSeen = new Set<number>();
  for (const channels of [1, 3, 4] as const) {
    const [width, height] = [23, 17];
    const pixels = new Uint8Array(width * height * channels);
    let seed = 12345;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < channels; c++) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          const noise = y % 4 === 3 ? seed >>> 24 : (seed >>> 29) * (y % 3);
          pixels[(y * width + x) * channels + c] = (x * 11 + y * 7 * (c + 1) + noise) & 0xff;
        }
      }
    }
    const img: Image = { width, height, channels, pixels };
    const dec = decodePng(encodePng(img));
    assert.deepEqual(dec.chunkTypes, ['IHDR', 'IDAT', 'IEND']);
    assert.deepEqual([dec.width, dec.height, dec.channels], [width, height, channels]);
    assert.deepEqual(Buffer.from(dec.pixels), Buffer.from(pixels));
    for (const f of dec.filters) filtersSeen.add(f);
  }
  assert.ok(filtersSeen.size >= 2, `expected several filter types, saw ${[...filtersSeen]}`);
  assert.throws(() => encodePng({ width: 2, height: 2, channels: 3, pixels: new Uint8Array(5) }), RangeError);
});

test('png: writePng writes a decodable file', async () => {
  const path = join(tempDir(), 'out', 'img.png');
  const img: Image = { width: 2, height: 1, channels: 1, pixels: Uint8Array.from([0, 255]) };
  await writePng(path, img);
  assert.deepEqual(Array.from(decodePng(fs.readFileSync(path)).pixels), [0, 255]);
});

// ---------------------------------------------------------------------------
// Atomic writes.

const tempLeftovers = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));

test('atomic: replaces existing files and creates parent directories', async () => {
  const dir = tempDir();
  const path = join(dir, 'a.txt');
  fs.writeFileSync(path, 'old contents that are longer');
  await writeFileAtomic(path, 'new');
  assert.equal(fs.readFileSync(path, 'utf8'), 'new');
  writeFileAtomicSync(path, Uint8Array.from([1, 2, 3]));
  assert.deepEqual(Array.from(fs.readFileSync(path)), [1, 2, 3]);
  await writeFileAtomic(join(dir, 'x', 'y', 'b.bin'), new Uint8Array(10));
  writeFileAtomicSync(join(dir, 'x', 'z', 'c.txt'), 'sync');
  assert.equal(fs.readFileSync(join(dir, 'x', 'z', 'c.txt'), 'utf8'), 'sync');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['a.txt', 'x']);
});

test('atomic: createFileExclusiveSync creates a file whole once, then refuses and keeps it; failures throw', () => {
  const dir = tempDir();
  const path = join(dir, 'lock');
  assert.equal(createFileExclusiveSync(path, 'first\n'), true);
  assert.equal(createFileExclusiveSync(path, 'second\n'), false);
  assert.equal(fs.readFileSync(path, 'utf8'), 'first\n');
  assert.deepEqual(fs.readdirSync(dir), ['lock'], 'no temp file left');
  assert.throws(() => createFileExclusiveSync(join(dir, 'missing', 'lock'), 'x'), { code: 'ENOENT' });
  assert.deepEqual(fs.readdirSync(dir), ['lock']);
});

test('atomic: failing writes throw and leave no temp files', async () => {
  const dir = tempDir();
  const file = join(dir, 'plain-file');
  fs.writeFileSync(file, 'x');
  // Parent "directory" is a regular file.
  await assert.rejects(writeFileAtomic(join(file, 'child.txt'), 'data'));
  assert.throws(() => writeFileAtomicSync(join(file, 'child.txt'), 'data'));
  // Target is a directory: the temp file is written, then the rename fails.
  const target = join(dir, 'a-directory');
  fs.mkdirSync(target);
  fs.writeFileSync(join(target, 'inside'), 'keep');
  await assert.rejects(writeFileAtomic(target, 'data'));
  assert.throws(() => writeFileAtomicSync(target, 'data'));
  assert.deepEqual(tempLeftovers(dir), []);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['a-directory', 'plain-file']);
  assert.equal(fs.readFileSync(file, 'utf8'), 'x');
  assert.equal(fs.readFileSync(join(target, 'inside'), 'utf8'), 'keep');
});
