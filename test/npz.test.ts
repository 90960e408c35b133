// Tests for .npz archives (ZIP of .npy members) and pytorch-fid statistics
// files, with a cross-check against real numpy and Python's zipfile when
// they are installed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { constants as zlibConstants, crc32, deflateRawSync, inflateRawSync } from 'node:zlib';

import { NpyError, encodeNpy, type NpyArray, type NpyData, type NpyDtype } from '../src/main/engine/io/npy';
import { encodeNpz, parseNpz, readNpz, writeNpz } from '../src/main/engine/io/npz';
import { readFidStats, writeFidStats, type FidStats } from '../src/main/engine/metrics/fid-stats';

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'npz-test-'));
  tempDirs.push(dir);
  return dir;
}

function values(data: NpyData): (number | bigint)[] {
  return Array.from(data as ArrayLike<number | bigint>);
}

function rawBytes(data: NpyData): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sampleArray(dtype: NpyDtype, shape: number[], seed = 1): NpyArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  switch (dtype) {
    case 'float32':
      return { dtype, shape, data: Float32Array.from({ length: n }, () => r() * 200 - 100) };
    case 'float64':
      return { dtype, shape, data: Float64Array.from({ length: n }, () => (r() - 0.5) * 1e6) };
    case 'uint8':
      return { dtype, shape, data: Uint8Array.from({ length: n }, () => Math.floor(r() * 256)) };
    case 'int32':
      return { dtype, shape, data: Int32Array.from({ length: n }, () => Math.floor((r() - 0.5) * 2 ** 32)) };
    case 'int64':
      return {
        dtype,
        shape,
        data: BigInt64Array.from({ length: n }, (_, i) => BigInt(Math.floor(r() * 2 ** 52)) * BigInt(i - 3)),
      };
  }
}

/** A random symmetric d×d matrix with a dominant diagonal (a plausible covariance). */
function symmetricMatrix(d: number, seed = 7): Float64Array {
  const r = rng(seed);
  const s = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    s[i * d + i] = 1 + r();
    for (let j = i + 1; j < d; j++) {
      const v = (r() - 0.5) * 0.01;
      s[i * d + j] = v;
      s[j * d + i] = v;
    }
  }
  return s;
}

function fidStats(d: number, n: number | null, seed = 3): FidStats {
  const r = rng(seed);
  return { mu: Float64Array.from({ length: d }, () => r() - 0.5), sigma: symmetricMatrix(d, seed + 1), d, n };
}

function assertSameArray(actual: NpyArray | undefined, expected: NpyArray, what: string): void {
  assert.ok(actual, `${what}: missing`);
  assert.equal(actual.dtype, expected.dtype, what);
  assert.deepEqual(actual.shape, expected.shape, what);
  assert.ok(rawBytes(actual.data).equals(rawBytes(expected.data)), `${what}: data differs`);
}

/** assert.throws/rejects matcher: an NpyError whose message matches every pattern. */
function npyError(...patterns: RegExp[]): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof NpyError, `expected an NpyError, got ${String(err)}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  };
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Offset of the first occurrence of `needle` in `hay` at or after `from`. */
function indexOf(hay: Uint8Array, needle: Uint8Array | string, from = 0): number {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(needle, from);
}

const MIXED: Record<string, NpyArray> = {
  f4: sampleArray('float32', [3, 2]),
  f8: sampleArray('float64', [2, 3, 4]),
  u1: sampleArray('uint8', [5]),
  i4: sampleArray('int32', [2, 2]),
  i8: sampleArray('int64', [7]),
  scalar: sampleArray('float64', []),
  empty: sampleArray('float32', [0, 3]),
  zeros: { dtype: 'float32', shape: [1000], data: new Float32Array(1000) },
  'ünïcode key': sampleArray('uint8', [2]),
};

// ---------------------------------------------------------------------------
// CRC-32 (node:zlib's, since Node 20.15: the reader checks every member with it).

test('npz: node:zlib crc32 is the ZIP CRC-32 (matches a bitwise reference)', () => {
  const reference = (bytes: Uint8Array): number => {
    let crc = ~0;
    for (const byte of bytes) {
      crc ^= byte;
      for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
    }
    return ~crc >>> 0;
  };
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  const r = rng(5);
  const big = Uint8Array.from({ length: 100_003 }, () => Math.floor(r() * 256));
  for (const len of [1, 2, 7, 8, 9, 15, 16, 17, 63, 1000, big.length]) {
    const part = big.subarray(3, 3 + Math.min(len, big.length - 3));
    assert.equal(crc32(part), reference(part), `length ${part.length}`);
  }
  assert.equal(crc32(big.subarray(50_000), crc32(big.subarray(0, 50_000))), crc32(big));
});

// ---------------------------------------------------------------------------
// Round trips.

test('npz: round trip, stored and compressed, several dtypes and shapes', () => {
  for (const compress of [false, true]) {
    const bytes = encodeNpz(MIXED, { compress });
    const parsed = parseNpz(bytes);
    assert.deepEqual([...parsed.keys()], Object.keys(MIXED));
    for (const [key, arr] of Object.entries(MIXED)) {
      assertSameArray(parsed.get(key), arr, `${key} (compress ${compress})`);
    }
    // Reproducible output: fixed timestamps, nothing random.
    assert.ok(Buffer.from(encodeNpz(MIXED, { compress })).equals(Buffer.from(bytes)));
    // The first local header: signature, method, DOS time 00:00 and date 1980-01-01.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    assert.equal(view.getUint32(0, true), 0x04034b50);
    assert.equal(view.getUint16(8, true), compress ? 8 : 0);
    assert.equal(view.getUint16(10, true), 0);
    assert.equal(view.getUint16(12, true), (1 << 5) | 1);
    assert.equal(Buffer.from(bytes.subarray(30, 36)).toString(), 'f4.npy');
  }
  const stored = encodeNpz({ zeros: MIXED.zeros });
  const deflated = encodeNpz({ zeros: MIXED.zeros }, { compress: true });
  assert.ok(deflated.length < stored.length / 10, `${deflated.length} vs ${stored.length}`);
  assert.equal(parseNpz(encodeNpz({})).size, 0);
});

test('npz: 2048×2048 float64 sigma round trips through files', async () => {
  const dir = tempDir();
  const sigma: NpyArray = { dtype: 'float64', shape: [2048, 2048], data: symmetricMatrix(2048) };
  const mu = sampleArray('float64', [2048]);
  for (const compress of [false, true]) {
    const path = join(dir, `big-${compress}.npz`);
    await writeNpz(path, { mu, sigma }, { compress });
    const back = await readNpz(path);
    assertSameArray(back.get('mu'), mu, 'mu');
    assertSameArray(back.get('sigma'), sigma, 'sigma');
  }
  assert.deepEqual(fs.readdirSync(dir).sort(), ['big-false.npz', 'big-true.npz']); // no temp files left
});

test('npz: writeFidStats / readFidStats round trip', async () => {
  const dir = tempDir();
  for (const [d, n] of [
    [2048, 50_000],
    [3, null],
    [1, 0],
  ] as const) {
    const stats = fidStats(d, n);
    const path = join(dir, `stats-${d}.npz`);
    await writeFidStats(path, stats);
    const back = await readFidStats(path);
    assert.equal(back.d, d);
    assert.equal(back.n, n);
    assert.ok(back.mu instanceof Float64Array && back.sigma instanceof Float64Array);
    assert.ok(rawBytes(back.mu).equals(rawBytes(stats.mu)));
    assert.ok(rawBytes(back.sigma).equals(rawBytes(stats.sigma)));
    const raw = await readNpz(path);
    assert.deepEqual([...raw.keys()], n === null ? ['mu', 'sigma'] : ['mu', 'sigma', 'n']);
    if (n !== null) assert.deepEqual([raw.get('n')?.dtype, raw.get('n')?.shape], ['int64', []]);
  }
  // float32 statistics and float 'n' are accepted and widened.
  const path = join(dir, 'f32.npz');
  await writeNpz(path, {
    mu: { dtype: 'float32', shape: [2], data: Float32Array.of(0.5, -1.25) },
    sigma: { dtype: 'float32', shape: [2, 2], data: Float32Array.of(2, 0.5, 0.5, 3) },
    n: { dtype: 'float64', shape: [1], data: Float64Array.of(1000) },
  });
  const back = await readFidStats(path);
  assert.deepEqual([Array.from(back.mu), Array.from(back.sigma), back.n], [[0.5, -1.25], [2, 0.5, 0.5, 3], 1000]);
  // Round-off level asymmetry (as from a BLAS matrix product) is tolerated.
  const sigma = symmetricMatrix(4);
  sigma[1] *= 1 + 1e-12;
  await writeNpz(path, {
    mu: { dtype: 'float64', shape: [4], data: new Float64Array(4) },
    sigma: { dtype: 'float64', shape: [4, 4], data: sigma },
  });
  assert.equal((await readFidStats(path)).sigma[1], sigma[1]);
});

test('npz: archives written with fflate: stored bytes as before, members readable without our reader', () => {
  const arrays: Record<string, NpyArray> = {
    f4: { dtype: 'float32', shape: [3, 2], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
    i8: { dtype: 'int64', shape: [2], data: BigInt64Array.of(1n, -2n) },
    'ünïcode key': { dtype: 'uint8', shape: [2], data: Uint8Array.of(7, 8) },
    'sub/x': { dtype: 'float64', shape: [], data: Float64Array.of(Math.PI) },
    zeros: { dtype: 'float32', shape: [1000], data: new Float32Array(1000) },
  };
  // The SHA-256 of what the hand-written writer produced for these arrays (stored): same input, same bytes.
  const stored = encodeNpz(arrays);
  assert.equal(
    createHash('sha256').update(stored).digest('hex'),
    '61cd63ce52224d4f08d5edc3b6da15c4029134fb8ba083f9703ccccfeaafecd5',
  );
  // Walk the local headers by hand and inflate with node:zlib: every member is its .npy, CRC and sizes agree.
  for (const [bytes, method] of [
    [stored, 0],
    [encodeNpz(arrays, { compress: true }), 8],
  ] as const) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let off = 0;
    for (const [key, arr] of Object.entries(arrays)) {
      assert.equal(view.getUint32(off, true), 0x04034b50, `${key}: local header`);
      const flags = view.getUint16(off + 6, true);
      assert.equal(
        flags,
        key === 'ünïcode key' ? 0x0800 : 0,
        `${key}: flags (UTF-8 name only when needed, no descriptor)`,
      );
      assert.equal(view.getUint16(off + 8, true), method, `${key}: method`);
      const [crc, compressedSize, size] = [14, 18, 22].map((o) => view.getUint32(off + o, true));
      const nameLength = view.getUint16(off + 26, true);
      const start = off + 30 + nameLength + view.getUint16(off + 28, true);
      assert.equal(Buffer.from(bytes.subarray(off + 30, off + 30 + nameLength)).toString('utf8'), `${key}.npy`);
      const packed = bytes.subarray(start, start + compressedSize);
      const data = method === 0 ? packed : inflateRawSync(packed);
      assert.ok(Buffer.from(data).equals(Buffer.from(encodeNpy(arr))), `${key}: member data (method ${method})`);
      assert.equal(data.length, size, `${key}: size`);
      assert.equal(crc32(data), crc, `${key}: CRC`);
      off = start + compressedSize;
    }
    assert.equal(view.getUint32(off, true), 0x02014b50, 'the central directory follows the last member');
    assert.equal(view.getUint16(off + 4, true), (3 << 8) | 20, 'made on Unix, ZIP 2.0');
    assert.equal(view.getUint32(off + 38, true), (0o100644 << 16) >>> 0, 'mode rw-r--r--');
  }
});

test('npz: tolerates an archive comment and bytes before the archive', () => {
  const bytes = encodeNpz({ a: MIXED.f4, b: MIXED.i8 }, { compress: true });
  // Archive comment: patch the EOCD comment length and append the text.
  const comment = Buffer.from('made by a test; PK\x05\x06 inside the comment');
  const withComment = concat(bytes, comment);
  new DataView(withComment.buffer).setUint16(bytes.length - 2, comment.length, true);
  assertSameArray(parseNpz(withComment).get('a'), MIXED.f4, 'with comment');
  // A stub in front of the archive (as with self-extracting archives) shifts every offset.
  const prefixed = concat(new Uint8Array(1234).fill(7), withComment);
  assertSameArray(parseNpz(prefixed).get('b'), MIXED.i8, 'with prefix');
});

// ---------------------------------------------------------------------------
// Errors.

test('npz: not an archive, truncated, corrupt', async () => {
  assert.throws(
    () => parseNpz(Buffer.from('hello, this is not a zip file at all'), 'stats.npz'),
    npyError(/^stats\.npz: not a \.npz file \(no ZIP end-of-central-directory record\); expected numpy\.savez output$/),
  );
  assert.throws(() => parseNpz(new Uint8Array(0), 'e.npz'), npyError(/^e\.npz: file is empty/));
  assert.throws(
    () => parseNpz(encodeNpy(MIXED.f4), 'x.npz'),
    npyError(/^x\.npz: is a \.npy file, not a \.npz archive/),
  );

  const bytes = encodeNpz({ mu: MIXED.f8, sigma: sampleArray('float64', [30, 30]) });
  for (const cut of [bytes.length - 1, bytes.length - 30, Math.floor(bytes.length / 2), 40]) {
    assert.throws(
      () => parseNpz(bytes.subarray(0, cut), 'stats.npz'),
      npyError(/^stats\.npz: truncated/, /re-save|download/),
      `cut at ${cut}`,
    );
  }
  // Bytes lost from the middle: the directory no longer lines up.
  const holed = concat(bytes.subarray(0, 500), bytes.subarray(600));
  assert.throws(() => parseNpz(holed, 'stats.npz'), npyError(/^stats\.npz: (corrupt|truncated)/));

  // One flipped bit in the member data.
  const flipped = Uint8Array.from(bytes);
  const sigmaData = indexOf(flipped, 'sigma.npy') + 'sigma.npy'.length + 200;
  flipped[sigmaData] ^= 0x10;
  assert.throws(
    () => parseNpz(flipped, 'stats.npz'),
    npyError(/^stats\.npz: member 'sigma\.npy' is corrupt \(CRC mismatch\)/),
  );
  const deflated = Uint8Array.from(encodeNpz({ sigma: sampleArray('float64', [30, 30]) }, { compress: true }));
  deflated[100] ^= 0x10;
  assert.throws(() => parseNpz(deflated, 'c.npz'), npyError(/^c\.npz: member 'sigma\.npy' is corrupt/));
  // A deflated member that inflates cleanly but does not match its CRC (the central directory's copy).
  const badCrc = Uint8Array.from(encodeNpz({ sigma: sampleArray('float64', [30, 30]) }, { compress: true }));
  badCrc[indexOf(badCrc, Uint8Array.of(0x50, 0x4b, 0x01, 0x02)) + 16] ^= 0x01;
  assert.throws(
    () => parseNpz(badCrc, 'c.npz'),
    npyError(/^c\.npz: member 'sigma\.npy' is corrupt \(CRC mismatch\); re-save it with numpy\.savez/),
  );

  // Unsupported compression method and encryption (patched in both headers).
  const patched = (offsetInHeader: number, value: number): Uint8Array => {
    const copy = Uint8Array.from(bytes);
    const view = new DataView(copy.buffer);
    view.setUint16(offsetInHeader - 2, value, true); // local header (method at 8, flags at 6)
    const central = indexOf(copy, Uint8Array.of(0x50, 0x4b, 0x01, 0x02));
    view.setUint16(central + offsetInHeader, value, true); // central header (method at 10, flags at 8)
    return copy;
  };
  assert.throws(
    () => parseNpz(patched(10, 12), 'b.npz'),
    npyError(/member 'mu\.npy' uses ZIP compression method 12 \(bzip2\)/),
  );
  assert.throws(() => parseNpz(patched(8, 1), 'b.npz'), npyError(/member 'mu\.npy' is encrypted/));

  // A member with a valid CRC that is not a .npy file: the error names the member.
  const bad = Uint8Array.from(encodeNpz({ mu: MIXED.f4 }));
  const badView = new DataView(bad.buffer);
  const dataStart = 30 + 'mu.npy'.length;
  const dataLength = badView.getUint32(18, true);
  bad[dataStart + 1] = 'X'.charCodeAt(0); // "\x93NUMPY" -> "\x93XUMPY"
  const crc = crc32(bad.subarray(dataStart, dataStart + dataLength));
  badView.setUint32(14, crc, true);
  badView.setUint32(indexOf(bad, Uint8Array.of(0x50, 0x4b, 0x01, 0x02)) + 16, crc, true);
  assert.throws(() => parseNpz(bad, 'b.npz'), npyError(/^b\.npz \(member 'mu\.npy'\): not a \.npy file/));

  await assert.rejects(readNpz(join(tempDir(), 'missing.npz')), npyError(/missing\.npz: file not found/));
});

test('npz: readFidStats rejects bad statistics with actionable messages', async () => {
  const dir = tempDir();
  const path = join(dir, 'stats.npz');
  const p = escape(path);
  const f8 = (shape: number[], data: number[]): NpyArray => ({
    dtype: 'float64',
    shape,
    data: Float64Array.from(data),
  });
  const check = async (arrays: Record<string, NpyArray>, ...patterns: RegExp[]): Promise<void> => {
    await writeNpz(path, arrays);
    await assert.rejects(readFidStats(path), npyError(new RegExp(`^${p}: `), ...patterns));
  };
  const sigma3 = Array.from(symmetricMatrix(3));

  await check(
    { a: MIXED.f4, b: MIXED.u1 },
    /has no 'mu' array; pytorch-fid statistics need keys 'mu' and 'sigma' \(found: a, b\)/,
  );
  await check({ mu: f8([3], [1, 2, 3]) }, /has no 'sigma' array.*\(found: mu\)/);
  await check({}, /has no 'mu' array.*\(found: no arrays\)/);
  await check(
    { mu: f8([3], [1, 2, 3]), sigma: f8([3, 4], new Array(12).fill(0)) },
    /'sigma' has shape \[3, 4\]; expected \[d, d\] = \[3, 3\]/,
  );
  await check({ mu: f8([1, 3], [1, 2, 3]), sigma: f8([3, 3], sigma3) }, /'mu' has shape \[1, 3\]; expected \[d\]/);
  await check(
    { mu: f8([3], [1, NaN, 3]), sigma: f8([3, 3], sigma3) },
    /'mu' contains non-finite values .*NaN at \[1\]/,
  );
  const inf = [...sigma3];
  inf[5] = Infinity;
  await check(
    { mu: f8([3], [1, 2, 3]), sigma: f8([3, 3], inf) },
    /'sigma' contains non-finite values .*Infinity at \[1, 2\]/,
  );
  const asym = [...sigma3];
  asym[1] += 0.5;
  await check(
    { mu: f8([3], [1, 2, 3]), sigma: f8([3, 3], asym) },
    /'sigma' is not symmetric: sigma\[0, 1\] = .* but sigma\[1, 0\] = /,
    /recompute/,
  );
  await check(
    { mu: { dtype: 'int32', shape: [3], data: Int32Array.of(1, 2, 3) }, sigma: f8([3, 3], sigma3) },
    /'mu' has dtype int32; expected float64/,
  );
  await check({ mu: f8([3], [1, 2, 3]), sigma: f8([3, 3], sigma3), n: f8([2], [1, 2]) }, /'n' has shape \[2\]/);
  await check({ mu: f8([3], [1, 2, 3]), sigma: f8([3, 3], sigma3), n: f8([], [2.5]) }, /'n' is 2\.5, not an integer/);

  // writeFidStats refuses what readFidStats would reject, and writes nothing.
  const other = join(dir, 'never.npz');
  const badStats = fidStats(3, 10);
  badStats.sigma[1] += 1;
  await assert.rejects(writeFidStats(other, badStats), npyError(/'sigma' is not symmetric/));
  await assert.rejects(
    writeFidStats(other, { ...fidStats(3, 10), d: 4 }),
    npyError(/'mu' must be a Float64Array of length d = 4/),
  );
  await assert.rejects(writeFidStats(other, { ...fidStats(3, null), n: -1 }), npyError(/n = -1/));
  assert.equal(fs.existsSync(other), false);
});

// ---------------------------------------------------------------------------
// Shapes from the headers before inflating (issue 13, item 12).

interface RawMember {
  name: string;
  /** The member's bytes as stored (deflated when `method` is 8). */
  data: Uint8Array;
  method: 0 | 8;
  crc: number;
  uncompressedSize: number;
}

/** A ZIP archive of raw members, sizes and CRCs as given (not checked): what a damaged or hostile writer makes. */
function zipOf(members: RawMember[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = Buffer.from(m.name, 'utf8');
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, m.method, true);
    lv.setUint32(14, m.crc, true);
    lv.setUint32(18, m.data.length, true);
    lv.setUint32(22, m.uncompressedSize, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, m.method, true);
    cv.setUint32(16, m.crc, true);
    cv.setUint32(20, m.data.length, true);
    cv.setUint32(24, m.uncompressedSize, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local, m.data);
    centrals.push(central);
    offset += local.length + m.data.length;
  }
  const cd = concat(...centrals);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, members.length, true);
  ev.setUint16(10, members.length, true);
  ev.setUint32(12, cd.length, true);
  ev.setUint32(16, offset, true);
  return concat(...locals, cd, eocd);
}

/** A complete deflated member holding `bytes`. */
function deflated(name: string, bytes: Uint8Array): RawMember {
  return { name, data: deflateRawSync(bytes), method: 8, crc: crc32(bytes), uncompressedSize: bytes.length };
}

test('npz: readFidStats checks sigma’s shape from its header before inflating it', async () => {
  const mu = encodeNpy({ dtype: 'float64', shape: [4], data: new Float64Array(4) });
  // sigma's header says [10000, 10000] float64 (800 MB): only its first bytes are in the archive, in
  // an unfinished deflate stream, so anything that inflates the member fails on the stream instead.
  const dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (10000, 10000), }";
  const header = concat(
    Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 118, 0), // "\x93NUMPY" v1.0, header length 118
    Buffer.from(dict.padEnd(117, ' ') + '\n', 'latin1'),
  );
  assert.match(Buffer.from(header).toString('latin1'), /'shape': \(10000, 10000\)/);
  const begun = deflateRawSync(concat(header, new Uint8Array(4096)), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  const sigma: RawMember = { name: 'sigma.npy', data: begun, method: 8, crc: 0, uncompressedSize: 128 + 8e8 };
  const path = join(tempDir(), 'big-sigma.npz');
  fs.writeFileSync(path, zipOf([deflated('mu.npy', mu), sigma]));
  await assert.rejects(
    readFidStats(path),
    npyError(/'sigma' has shape \[10000, 10000\]; expected \[d, d\] = \[4, 4\] \(d from 'mu'\)/),
  );
});

test('npz: a declared uncompressed size absurd for the header’s shape is refused before inflating', () => {
  // A header for 4 float64 (160 bytes in all) followed by 20 MB of zeros: a small archive that
  // inflates 125,000× bigger than its shape says. numpy never writes bytes after the data.
  const small = encodeNpy({ dtype: 'float64', shape: [4], data: Float64Array.of(1, 2, 3, 4) });
  const bomb = concat(small, new Uint8Array(20_000_000));
  const bytes = zipOf([deflated('mu.npy', bomb)]);
  assert.ok(bytes.length < 100_000, `${bytes.length} bytes`);
  assert.throws(
    () => parseNpz(bytes, 'bomb.npz'),
    npyError(
      /^bomb\.npz: member 'mu\.npy' declares 20000160 bytes uncompressed, but its \.npy header \(shape \[4\], float64\) accounts for 160/,
    ),
  );
  // Declared too small for the shape: a truncated member, named before inflating as well.
  const short = { ...deflated('mu.npy', small), uncompressedSize: 150 };
  assert.throws(
    () => parseNpz(zipOf([short]), 'short.npz'),
    npyError(/^short\.npz: member 'mu\.npy' declares 150 bytes uncompressed, too few for its \.npy header/),
  );
  // What numpy writes still reads.
  assert.deepEqual(values(parseNpz(zipOf([deflated('mu.npy', small)])).get('mu')!.data), [1, 2, 3, 4]);
});

// ---------------------------------------------------------------------------
// Cross-check with real numpy, when it is installed.

const PYTHON = '/usr/bin/python3';
const numpyAvailable = spawnSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

function python(code: string, ...args: string[]): string {
  const res = spawnSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(res.status, 0, `python failed: ${res.stderr}`);
  return res.stdout;
}

test('npz: reads numpy.savez and numpy.savez_compressed output exactly', async (t) => {
  if (!numpyAvailable) {
    t.skip('numpy not available');
    return;
  }
  const dir = tempDir();
  // Each archive gets a sidecar JSON with every array's dtype, shape and the
  // hex of its C-ordered little-endian bytes (or a file holding them).
  const out = python(
    `
import sys, io, json, zipfile, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(0)
arrays = {
    'f4': (np.arange(6, dtype=np.float32).reshape(3, 2) / 7),
    'f8': np.array([np.pi, -1e300, 0.1, 5e-324]),
    'u1': np.array([[0, 1], [254, 255]], dtype=np.uint8),
    'i4': np.array([-2**31, 2**31 - 1, 0], dtype=np.int32),
    'i8': np.array([-(2**62), 0, 2**53 + 1], dtype=np.int64),
    'fortran': np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4)),
    'bigendian': np.arange(5, dtype='>f8') - 2.5,
    'bool': np.array([True, False, True]),
    'scalar': np.float32(2.5),
    'empty': np.zeros((0, 4)),
    'ключ': np.array([1.5]),
}
def expected(arrs):
    res = {}
    for k, v in arrs.items():
        v = np.asarray(v)
        le = v.astype(v.dtype.newbyteorder('<')) if v.dtype.byteorder == '>' else v
        res[k] = {'shape': list(v.shape), 'hex': np.ascontiguousarray(le).tobytes().hex()}
    return res
class Unseekable:  # forces data descriptors (flag bit 3), as when writing to a pipe
    def __init__(self): self.buf = bytearray()
    def write(self, b): self.buf += b; return len(b)
    def flush(self): pass
    def read(self, *a): raise OSError('write only')
np.savez(d + '/stored.npz', **arrays)
np.savez_compressed(d + '/compressed.npz', **arrays)
np.savez(d + '/positional.npz', np.arange(3.0), np.arange(2))
w = Unseekable(); np.savez_compressed(w, **arrays)
open(d + '/descriptor.npz', 'wb').write(bytes(w.buf))
with zipfile.ZipFile(d + '/compressed.npz', 'a') as z:
    z.comment = b'an archive comment'
import shutil; shutil.copy(d + '/compressed.npz', d + '/commented.npz')
# Hand-made with zipfile: a directory entry, a nested member, a member without '.npy'.
with zipfile.ZipFile(d + '/handmade.npz', 'w', compression=zipfile.ZIP_DEFLATED) as z:
    z.mkdir('sub')
    for name, key in [('sub/x.npy', 'f4'), ('plain', 'i8')]:
        buf = io.BytesIO(); np.save(buf, arrays[key]); z.writestr(name, buf.getvalue())
# Saturate the 32-bit fields: ZIP64 extra fields in the central directory
# and a ZIP64 end-of-central-directory record and locator.
zipfile.ZIP64_LIMIT = 16
zipfile.ZIP_FILECOUNT_LIMIT = 1
np.savez(d + '/zip64.npz', **arrays)
np.savez_compressed(d + '/zip64c.npz', **arrays)
# pytorch-fid style statistics from a real covariance (d = 2048).
act = rng.standard_normal((2100, 2048))
mu, sigma = np.mean(act, axis=0), np.cov(act, rowvar=False)
np.savez(d + '/fid.npz', mu=mu, sigma=sigma)
np.savez_compressed(d + '/fidc.npz', mu=mu, sigma=sigma, n=np.int64(2100))
open(d + '/fid_mu.raw', 'wb').write(mu.tobytes())
open(d + '/fid_sigma.raw', 'wb').write(sigma.tobytes())
raw = open(d + '/zip64.npz', 'rb').read()
print(json.dumps({'arrays': expected(arrays), 'positional': expected({'arr_0': np.arange(3.0), 'arr_1': np.arange(2)}),
                  'zip64': raw.find(b'PK\\x06\\x06') >= 0 and raw.find(b'PK\\x06\\x07') >= 0,
                  'descriptor': (open(d + '/descriptor.npz', 'rb').read()[6] & 8) != 0}))
`,
    dir,
  );
  type Expected = Record<string, { shape: number[]; hex: string }>;
  const info = JSON.parse(out) as { arrays: Expected; positional: Expected; zip64: boolean; descriptor: boolean };
  assert.ok(info.zip64, 'python wrote no ZIP64 end record');
  assert.ok(info.descriptor, 'python wrote no data descriptor');
  const dtypes: Record<string, NpyDtype> = {
    f4: 'float32',
    f8: 'float64',
    u1: 'uint8',
    i4: 'int32',
    i8: 'int64',
    fortran: 'float64',
    bigendian: 'float64',
    bool: 'uint8',
    scalar: 'float32',
    empty: 'float64',
    ключ: 'float64',
  };
  for (const file of ['stored', 'compressed', 'commented', 'descriptor', 'zip64', 'zip64c']) {
    const got = await readNpz(join(dir, `${file}.npz`));
    assert.deepEqual([...got.keys()], Object.keys(info.arrays), file);
    for (const [key, exp] of Object.entries(info.arrays)) {
      const arr = got.get(key) as NpyArray;
      assert.equal(arr.dtype, dtypes[key], `${file}/${key}`);
      assert.deepEqual(arr.shape, exp.shape, `${file}/${key}`);
      assert.equal(rawBytes(arr.data).toString('hex'), exp.hex, `${file}/${key}`);
    }
  }
  const handmade = await readNpz(join(dir, 'handmade.npz'));
  assert.deepEqual([...handmade.keys()], ['sub/x', 'plain']);
  assert.equal(rawBytes((handmade.get('sub/x') as NpyArray).data).toString('hex'), info.arrays.f4.hex);
  assert.equal(rawBytes((handmade.get('plain') as NpyArray).data).toString('hex'), info.arrays.i8.hex);
  const positional = await readNpz(join(dir, 'positional.npz'));
  assert.deepEqual([...positional.keys()], ['arr_0', 'arr_1']);
  assert.deepEqual(values((positional.get('arr_0') as NpyArray).data), [0, 1, 2]);
  assert.deepEqual(values((positional.get('arr_1') as NpyArray).data), [0n, 1n]);

  const mu = fs.readFileSync(join(dir, 'fid_mu.raw'));
  const sigma = fs.readFileSync(join(dir, 'fid_sigma.raw'));
  for (const [file, n] of [
    ['fid.npz', null],
    ['fidc.npz', 2100],
  ] as const) {
    const stats = await readFidStats(join(dir, file));
    assert.equal(stats.d, 2048, file);
    assert.equal(stats.n, n, file);
    assert.ok(rawBytes(stats.mu).equals(mu), `${file}: mu differs`);
    assert.ok(rawBytes(stats.sigma).equals(sigma), `${file}: sigma differs`);
  }
});

test('npz: numpy and zipfile read the archives we write', async (t) => {
  if (!numpyAvailable) {
    t.skip('numpy not available');
    return;
  }
  const dir = tempDir();
  const arrays: Record<string, NpyArray> = {
    ...MIXED,
    sigma: { dtype: 'float64', shape: [512, 512], data: symmetricMatrix(512) },
  };
  await writeNpz(join(dir, 'stored.npz'), arrays);
  await writeNpz(join(dir, 'compressed.npz'), arrays, { compress: true });
  const stats = fidStats(2048, 12345);
  await writeFidStats(join(dir, 'fid.npz'), stats);
  const out = python(
    `
import sys, json, hashlib, zipfile, numpy as np
d = sys.argv[1]
res = {}
for name in ['stored', 'compressed', 'fid']:
    path = d + '/' + name + '.npz'
    with zipfile.ZipFile(path) as z:
        bad = z.testzip()  # reads every member and checks its CRC
        infos = [(i.filename, i.compress_type, list(i.date_time)) for i in z.infolist()]
    arrs = {}
    with np.load(path) as f:  # the way pytorch-fid loads statistics: f['mu'][:], f['sigma'][:]
        for k in f.files:
            a = f[k]
            arrs[k] = {'dtype': a.dtype.str, 'shape': list(a.shape),
                       'sha256': hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest(),
                       'values': [str(v) for v in a.ravel()[:8].tolist()]}
    res[name] = {'bad': bad, 'infos': infos, 'arrays': arrs}
print(json.dumps(res))
`,
    dir,
  );
  type Result = {
    bad: string | null;
    infos: [string, number, number[]][];
    arrays: Record<string, { dtype: string; shape: number[]; sha256: string; values: string[] }>;
  };
  const res = JSON.parse(out) as Record<string, Result>;
  const descr: Record<NpyDtype, string> = { float32: '<f4', float64: '<f8', uint8: '|u1', int32: '<i4', int64: '<i8' };
  const check = (r: Result, expected: Record<string, NpyArray>, method: number, what: string): void => {
    assert.equal(r.bad, null, `${what}: zipfile found a bad member`);
    assert.deepEqual(
      r.infos,
      Object.keys(expected).map((k) => [`${k}.npy`, method, [1980, 1, 1, 0, 0, 0]]),
      what,
    );
    assert.deepEqual(Object.keys(r.arrays), Object.keys(expected), what);
    for (const [key, arr] of Object.entries(expected)) {
      const got = r.arrays[key];
      assert.equal(got.dtype, descr[arr.dtype], `${what}/${key}`);
      assert.deepEqual(got.shape, arr.shape, `${what}/${key}`);
      assert.equal(got.sha256, createHash('sha256').update(rawBytes(arr.data)).digest('hex'), `${what}/${key}`);
      assert.deepEqual(got.values.map(Number), values(arr.data).slice(0, 8).map(Number), `${what}/${key}`);
    }
  };
  check(res.stored, arrays, 0, 'stored');
  check(res.compressed, arrays, 8, 'compressed');
  check(
    res.fid,
    {
      mu: { dtype: 'float64', shape: [2048], data: stats.mu },
      sigma: { dtype: 'float64', shape: [2048, 2048], data: stats.sigma },
      n: { dtype: 'int64', shape: [], data: BigInt64Array.of(12345n) },
    },
    0,
    'fid',
  );
});
