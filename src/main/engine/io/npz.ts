// NumPy .npz reading and writing: a ZIP archive whose members are .npy files,
// as written by numpy.savez (stored) and numpy.savez_compressed (deflate).
// fflate writes the archives; the reader is our own, so that every problem
// (truncation, a CRC mismatch, ZIP64, an unsupported method or encryption)
// gets a message that names the file, the member and what to do.
//
// The ZIP layout (PKWARE APPNOTE.TXT) read here:
//   [local file header + name + extra][member data][data descriptor]?  ... per member
//   [central directory file header + name + extra + comment]            ... per member
//   [ZIP64 end of central directory record + locator]?                  (large archives)
//   [end of central directory record + archive comment]
// Readers locate the end record by scanning backwards from the end of the file,
// then trust the central directory for sizes, CRCs and offsets (the local
// header's copies may be zero when bit 3 of the flags says a data descriptor
// follows the data). numpy always asks for ZIP64 local headers (force_zip64),
// so its local headers carry 0xFFFFFFFF sizes plus a ZIP64 extra field; only
// the local header's name and extra lengths are needed to find the data.
//
// [Note: headers before data]
// A member's .npy header is read from its first bytes (inflating about 1 KiB of a deflated one)
// before the member is inflated: its shape and dtype say how large the member must be, so a
// declared size that does not fit them is refused before any large allocation, and a reader of
// several arrays can check their shapes against each other first (fid-stats.ts: sigma's [d, d]
// against mu's [d]). Without it a 1 MB archive could take gigabytes and most of a minute before
// an error its first kilobyte already showed.
import { constants as bufferConstants } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { crc32, inflateRawSync } from 'node:zlib';
import { Inflate, zipSync, type ZipAttributes } from 'fflate';
import { writeFileAtomic } from './atomic';
import { NpyError, encodeNpy, npyHeaderEnd, parseNpy, parseNpyHeader, type NpyArray, type NpyHeader } from './npy';

// ---------------------------------------------------------------------------
// ZIP constants.

const SIG_LOCAL = 0x04034b50; // "PK\x03\x04"
const SIG_CENTRAL = 0x02014b50; // "PK\x01\x02"
const SIG_EOCD = 0x06054b50; // "PK\x05\x06"
const SIG_ZIP64_EOCD = 0x06064b50; // "PK\x06\x06"
const SIG_ZIP64_LOCATOR = 0x07064b50; // "PK\x06\x07"

const LOCAL_HEADER_SIZE = 30;
const CENTRAL_HEADER_SIZE = 46;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_MIN_SIZE = 56;
const MAX_COMMENT = 0xffff;
const ZIP64_EXTRA_ID = 0x0001;

const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;

const FLAG_ENCRYPTED = 0x0001;
const FLAG_STRONG_ENCRYPTION = 0x0040;
const FLAG_UTF8 = 0x0800;
const FLAG_MASKED_HEADERS = 0x2000;

const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

const SAVE_HINT = 're-save it with numpy.savez or numpy.savez_compressed';

/**
 * Bytes a member may hold past the data its header's shape calls for. numpy writes none; a little
 * is tolerated (as parseNpy tolerates trailing bytes), a declared size beyond it is refused unread.
 */
const TRAILING_SLACK = 65_536;

/** Largest .npy header read before the data: numpy's own reader refuses headers over 10,000 bytes by default. */
const MAX_HEADER = 1 << 20;

/** Compressed bytes fed at a time while reading a header: each inflates to at most ~1 MB (deflate's limit is 1032:1). */
const PEEK_CHUNK = 1024;

/** Bytes 0x80-0xFF of IBM code page 437, used for member names without the UTF-8 flag. */
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' +
  'αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

function decodeName(raw: Uint8Array, utf8: boolean): string {
  if (utf8) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  let out = '';
  for (const b of raw) out += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80];
  return out;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------
// Reading.

interface CentralEntry {
  name: string;
  rawName: Uint8Array;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

interface DirectoryLocation {
  entries: number;
  cdSize: number;
  cdOffset: number;
  /** Where the central directory must end: the ZIP64 end record, or the end record. */
  cdEnd: number;
}

class ZipReader {
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(problem: string): never {
    throw new NpyError(`${this.source}: ${problem}`);
  }

  corrupt(problem: string): never {
    this.fail(`corrupt .npz archive (${problem}); the file may be damaged or incomplete, ${SAVE_HINT}`);
  }

  u16(off: number): number {
    return this.view.getUint16(off, true);
  }

  u32(off: number): number {
    return this.view.getUint32(off, true);
  }

  /** A 64-bit little-endian size or offset; larger than 2^53 cannot be addressed anyway. */
  u64(off: number, what: string): number {
    const value = this.view.getBigUint64(off, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.corrupt(`${what} ${value} is out of range`);
    return Number(value);
  }

  private has(off: number, length: number): boolean {
    return off >= 0 && length >= 0 && off + length <= this.bytes.length;
  }

  /** Find the end-of-central-directory record, tolerating an archive comment (and, failing that, trailing bytes). */
  private findEocd(): number {
    const len = this.bytes.length;
    const lowest = Math.max(0, len - EOCD_SIZE - MAX_COMMENT);
    let fallback = -1;
    for (let pos = len - EOCD_SIZE; pos >= lowest; pos--) {
      if (this.bytes[pos] !== 0x50 || this.u32(pos) !== SIG_EOCD) continue;
      const end = pos + EOCD_SIZE + this.u16(pos + 20);
      if (end === len) return pos;
      if (end < len && fallback < 0) fallback = pos;
    }
    if (fallback >= 0) return fallback;
    const b = this.bytes;
    if (len === 0) this.fail('file is empty; expected a .npz archive written by numpy.savez');
    if (len >= 6 && b[0] === 0x93 && String.fromCharCode(...b.subarray(1, 6)) === 'NUMPY') {
      this.fail('is a .npy file, not a .npz archive; load it as .npy, or save the arrays with numpy.savez');
    }
    if (len >= 4 && this.u32(0) === SIG_LOCAL) {
      this.fail(
        'truncated or damaged .npz archive (it starts like a ZIP file but has no end-of-central-directory record); ' +
          `the file is probably incomplete: copy or download it again, or ${SAVE_HINT}`,
      );
    }
    return this.fail('not a .npz file (no ZIP end-of-central-directory record); expected numpy.savez output');
  }

  private locateDirectory(): DirectoryLocation {
    const eocd = this.findEocd();
    const disk = this.u16(eocd + 4);
    const cdDisk = this.u16(eocd + 6);
    let entriesOnDisk = this.u16(eocd + 8);
    let entries = this.u16(eocd + 10);
    let cdSize = this.u32(eocd + 12);
    let cdOffset = this.u32(eocd + 16);
    let cdEnd = eocd;

    const locator = eocd - ZIP64_LOCATOR_SIZE;
    if (locator >= 0 && this.u32(locator) === SIG_ZIP64_LOCATOR) {
      const totalDisks = this.u32(locator + 16);
      if (totalDisks > 1) this.fail(`is a multi-volume (split) ZIP archive, which is not supported; ${SAVE_HINT}`);
      // The record normally sits right before the locator; its declared offset
      // is off by any bytes prepended to the archive, so try both.
      const declared = this.u64(locator + 8, 'ZIP64 end record offset');
      const adjacent = locator - ZIP64_EOCD_MIN_SIZE;
      let record = -1;
      for (const pos of [declared, adjacent]) {
        if (this.has(pos, ZIP64_EOCD_MIN_SIZE) && pos <= adjacent && this.u32(pos) === SIG_ZIP64_EOCD) {
          record = pos;
          break;
        }
      }
      if (record < 0) this.corrupt('the ZIP64 end-of-central-directory record is missing');
      if (this.u32(record + 16) !== 0 || this.u32(record + 20) !== 0) {
        this.fail(`is a multi-volume (split) ZIP archive, which is not supported; ${SAVE_HINT}`);
      }
      entriesOnDisk = this.u64(record + 24, 'ZIP64 entry count');
      entries = this.u64(record + 32, 'ZIP64 entry count');
      cdSize = this.u64(record + 40, 'ZIP64 central directory size');
      cdOffset = this.u64(record + 48, 'ZIP64 central directory offset');
      cdEnd = record;
    } else if (disk !== 0 || cdDisk !== 0) {
      this.fail(`is a multi-volume (split) ZIP archive, which is not supported; ${SAVE_HINT}`);
    }
    if (entriesOnDisk !== entries) {
      this.fail(`is a multi-volume (split) ZIP archive, which is not supported; ${SAVE_HINT}`);
    }
    return { entries, cdSize, cdOffset, cdEnd };
  }

  /** Parse a ZIP64 extended-information extra field, replacing the 32-bit fields that are saturated. */
  private applyZip64Extra(extraStart: number, extraLen: number, entry: CentralEntry, diskSaturated: boolean): void {
    const needUncompressed = entry.uncompressedSize === U32_MAX;
    const needCompressed = entry.compressedSize === U32_MAX;
    const needOffset = entry.localHeaderOffset === U32_MAX;
    if (!needUncompressed && !needCompressed && !needOffset && !diskSaturated) return;
    let pos = 0;
    while (pos + 4 <= extraLen) {
      const id = this.u16(extraStart + pos);
      const size = this.u16(extraStart + pos + 2);
      const body = extraStart + pos + 4;
      if (pos + 4 + size > extraLen) break;
      if (id === ZIP64_EXTRA_ID) {
        let p = body;
        const end = body + size;
        const take = (what: string): number => {
          if (p + 8 > end) this.corrupt(`member '${entry.name}' has a ZIP64 extra field without its ${what}`);
          const value = this.u64(p, `member '${entry.name}' ${what}`);
          p += 8;
          return value;
        };
        if (needUncompressed) entry.uncompressedSize = take('uncompressed size');
        if (needCompressed) entry.compressedSize = take('compressed size');
        if (needOffset) entry.localHeaderOffset = take('local header offset');
        return;
      }
      pos += 4 + size;
    }
    this.corrupt(`member '${entry.name}' has 32-bit sizes or offsets marked as ZIP64 but no ZIP64 extra field`);
  }

  readCentralDirectory(): { entries: CentralEntry[]; shift: number } {
    const loc = this.locateDirectory();
    // Bytes prepended to the archive (e.g. a self-extractor stub) shift every
    // offset; the directory must end where the end record starts.
    const shift = loc.cdEnd - loc.cdSize - loc.cdOffset;
    if (shift < 0 || !this.has(loc.cdOffset + shift, loc.cdSize)) {
      if (loc.cdOffset + loc.cdSize > this.bytes.length) {
        this.fail(
          `truncated .npz archive: its central directory lies at bytes ${loc.cdOffset}-${loc.cdOffset + loc.cdSize} ` +
            `but the file has only ${this.bytes.length} bytes; copy or download it again, or ${SAVE_HINT}`,
        );
      }
      this.corrupt('the central directory does not end where the end-of-central-directory record starts');
    }
    const entries: CentralEntry[] = [];
    let pos = loc.cdOffset + shift;
    const cdEnd = pos + loc.cdSize;
    for (let i = 0; i < loc.entries; i++) {
      if (pos + CENTRAL_HEADER_SIZE > cdEnd || this.u32(pos) !== SIG_CENTRAL) {
        this.corrupt(`central directory entry ${i + 1} of ${loc.entries} is missing or malformed`);
      }
      const flags = this.u16(pos + 8);
      const nameLen = this.u16(pos + 28);
      const extraLen = this.u16(pos + 30);
      const commentLen = this.u16(pos + 32);
      const next = pos + CENTRAL_HEADER_SIZE + nameLen + extraLen + commentLen;
      if (next > cdEnd) this.corrupt(`central directory entry ${i + 1} runs past the end of the directory`);
      const nameStart = pos + CENTRAL_HEADER_SIZE;
      const rawName = this.bytes.subarray(nameStart, nameStart + nameLen);
      const entry: CentralEntry = {
        name: decodeName(rawName, (flags & FLAG_UTF8) !== 0),
        rawName,
        flags,
        method: this.u16(pos + 10),
        crc: this.u32(pos + 16),
        compressedSize: this.u32(pos + 20),
        uncompressedSize: this.u32(pos + 24),
        localHeaderOffset: this.u32(pos + 42),
      };
      const diskSaturated = this.u16(pos + 34) === U16_MAX;
      const extraStart = nameStart + nameLen;
      this.applyZip64Extra(extraStart, extraLen, entry, diskSaturated);
      entries.push(entry);
      pos = next;
    }
    return { entries, shift };
  }

  /** The member's bytes as stored in the archive (compressed or not), after the checks that need no inflating. */
  private storedBytes(entry: CentralEntry, shift: number): Uint8Array {
    const label = `member '${entry.name}'`;
    if (entry.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADERS)) {
      this.fail(`${label} is encrypted, which is not supported; ${SAVE_HINT} without a password`);
    }
    if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATE) {
      const names: Record<number, string> = { 9: 'deflate64', 12: 'bzip2', 14: 'lzma', 93: 'zstandard', 95: 'xz' };
      const method = names[entry.method] ? `${entry.method} (${names[entry.method]})` : String(entry.method);
      this.fail(
        `${label} uses ZIP compression method ${method}; only stored (0) and deflate (8) are supported, ${SAVE_HINT}`,
      );
    }
    const header = entry.localHeaderOffset + shift;
    if (!this.has(header, LOCAL_HEADER_SIZE)) {
      this.fail(`truncated .npz archive: ${label} starts past the end of the file; ${SAVE_HINT}`);
    }
    if (this.u32(header) !== SIG_LOCAL) this.corrupt(`${label} has no local file header at offset ${header}`);
    const nameLen = this.u16(header + 26);
    const extraLen = this.u16(header + 28);
    const nameStart = header + LOCAL_HEADER_SIZE;
    if (!this.has(nameStart, nameLen + extraLen)) {
      this.fail(`truncated .npz archive: ${label} is cut off in its header; ${SAVE_HINT}`);
    }
    if (!bytesEqual(this.bytes.subarray(nameStart, nameStart + nameLen), entry.rawName)) {
      this.corrupt(`${label} has a different name in its local header`);
    }
    const dataStart = nameStart + nameLen + extraLen;
    if (!this.has(dataStart, entry.compressedSize)) {
      this.fail(
        `truncated .npz archive: ${label} needs ${entry.compressedSize} bytes at offset ${dataStart} ` +
          `but the file has only ${this.bytes.length} bytes; copy or download it again, or ${SAVE_HINT}`,
      );
    }
    return this.bytes.subarray(dataStart, dataStart + entry.compressedSize);
  }

  /** The first `want` uncompressed bytes of a member (fewer when it holds fewer), inflating little past them. */
  private prefix(entry: CentralEntry, stored: Uint8Array, want: number): Uint8Array {
    if (entry.method === METHOD_STORED) return stored.subarray(0, want);
    const parts: Uint8Array[] = [];
    let have = 0;
    let ended = false;
    const inflate = new Inflate((chunk, final) => {
      parts.push(chunk.slice());
      have += chunk.length;
      ended ||= final;
    });
    try {
      // Never marked final: a stream is judged by what it yields here; readMember inflates it whole later.
      for (let at = 0; at < stored.length && have < want && !ended; at += PEEK_CHUNK)
        inflate.push(stored.subarray(at, at + PEEK_CHUNK));
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      throw new NpyError(`${this.source}: member '${entry.name}' is corrupt (deflate data: ${detail}); ${SAVE_HINT}`, {
        cause: err,
      });
    }
    const out = new Uint8Array(Math.min(have, want));
    let off = 0;
    for (const p of parts) {
      if (off >= out.length) break;
      out.set(p.subarray(0, out.length - off), off);
      off += p.length;
    }
    return out;
  }

  /**
   * A member's .npy header, read from its first bytes (see the note on headers before data), with
   * the member's declared uncompressed size checked against the shape and dtype it declares.
   */
  memberHeader(entry: CentralEntry, shift: number): NpyHeader {
    const label = `member '${entry.name}'`;
    const source = `${this.source} (${label})`;
    const stored = this.storedBytes(entry, shift);
    const size = entry.uncompressedSize;
    const end = npyHeaderEnd(this.prefix(entry, stored, Math.min(size, 12)), source);
    if (end > MAX_HEADER + 12)
      this.fail(`${label} declares a .npy header of ${end} bytes; numpy writes a few hundred, ${SAVE_HINT}`);
    const header = parseNpyHeader(this.prefix(entry, stored, Math.min(size, end)), source);
    const expected = header.dataStart + header.dataBytes;
    const what = `shape [${header.shape.join(', ')}], ${header.dtype}`;
    if (size < expected)
      this.fail(
        `${label} declares ${size} bytes uncompressed, too few for its .npy header (${what}: ${expected} bytes); ` +
          `the file is truncated or corrupt, ${SAVE_HINT}`,
      );
    if (size > expected + TRAILING_SLACK)
      this.fail(
        `${label} declares ${size} bytes uncompressed, but its .npy header (${what}) accounts for ${expected}; ` +
          `the archive is corrupt or was not written by numpy, ${SAVE_HINT}`,
      );
    return header;
  }

  /** The uncompressed bytes of one member, with its size checked against its header first and its CRC after. */
  readMember(entry: CentralEntry, shift: number): Uint8Array {
    const label = `member '${entry.name}'`;
    this.memberHeader(entry, shift);
    const stored = this.storedBytes(entry, shift);
    let data: Uint8Array;
    if (entry.method === METHOD_STORED) {
      if (entry.compressedSize !== entry.uncompressedSize) {
        this.fail(`${label} is corrupt (stored member with different compressed and uncompressed sizes); ${SAVE_HINT}`);
      }
      data = stored;
    } else {
      try {
        data = inflateRawSync(stored, {
          // Refuse to inflate beyond the declared size (a corrupt or hostile archive).
          maxOutputLength: Math.max(1, Math.min(entry.uncompressedSize + 1, bufferConstants.MAX_LENGTH)),
        });
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        throw new NpyError(`${this.source}: ${label} is corrupt (deflate data: ${detail}); ${SAVE_HINT}`, {
          cause: err,
        });
      }
      if (data.length !== entry.uncompressedSize) {
        this.fail(
          `${label} is corrupt (inflates to ${data.length} bytes, the directory says ${entry.uncompressedSize}); ` +
            SAVE_HINT,
        );
      }
    }
    if (crc32(data) !== entry.crc) this.fail(`${label} is corrupt (CRC mismatch); ${SAVE_HINT}`);
    return data;
  }
}

/**
 * A .npz archive whose arrays are read one at a time: its keys (member names without `.npy`, in
 * archive order) from the central directory, an array's header without inflating its data, an array.
 */
export class NpzArchive {
  private readonly reader: ZipReader;
  private readonly members = new Map<string, CentralEntry>();
  private readonly shift: number;

  constructor(
    bytes: Uint8Array,
    readonly source = '<buffer>',
  ) {
    this.reader = new ZipReader(bytes, source);
    const { entries, shift } = this.reader.readCentralDirectory();
    this.shift = shift;
    for (const entry of entries) {
      if (entry.name.endsWith('/')) continue; // a directory entry carries no data
      const key = entry.name.endsWith('.npy') ? entry.name.slice(0, -'.npy'.length) : entry.name;
      if (this.members.has(key)) {
        this.reader.fail(`contains the array '${key}' twice (member '${entry.name}'); ${SAVE_HINT}`);
      }
      this.members.set(key, entry);
    }
  }

  get keys(): string[] {
    return [...this.members.keys()];
  }

  has(key: string): boolean {
    return this.members.has(key);
  }

  private entry(key: string): CentralEntry {
    const e = this.members.get(key);
    if (!e) return this.reader.fail(`has no array '${key}'`);
    return e;
  }

  /** The array's dtype and shape from its header, its data not inflated (see the note on headers before data). */
  header(key: string): NpyHeader {
    return this.reader.memberHeader(this.entry(key), this.shift);
  }

  array(key: string): NpyArray {
    const entry = this.entry(key);
    return parseNpy(this.reader.readMember(entry, this.shift), `${this.source} (member '${entry.name}')`);
  }
}

/**
 * Parse the bytes of a .npz archive. Keys are member names without the `.npy`
 * suffix, in archive order. `source` names the file in error messages.
 */
export function parseNpz(bytes: Uint8Array, source = '<buffer>'): Map<string, NpyArray> {
  const archive = new NpzArchive(bytes, source);
  return new Map(archive.keys.map((key) => [key, archive.array(key)]));
}

// ---------------------------------------------------------------------------
// Writing.

/**
 * What every member gets, the same on every machine so that equal input gives equal bytes: made on
 * Unix (3) with mode rw-r--r--, dated 1980-01-01 00:00 (the earliest a ZIP can hold). fflate stores
 * the local calendar fields of `mtime`, hence a Date in local time, made when it is used (the time
 * zone may change while the process runs).
 */
function memberAttributes(): ZipAttributes {
  return { os: 3, attrs: (0o100644 << 16) >>> 0, mtime: new Date(1980, 0, 1) };
}
/** zlib's default level, as numpy.savez_compressed (zipfile.ZIP_DEFLATED) uses. */
const DEFLATE_LEVEL = 6;

function zip64Error(arrays: number, bytes: number): NpyError {
  return new NpyError(
    `encodeNpz: the archive would need ZIP64 (${arrays} arrays, ${bytes} bytes), which is not written; ` +
      'split the arrays over several files',
  );
}

/**
 * Encode arrays as a .npz archive: members `<key>.npy`, stored (the default,
 * like numpy.savez) or deflated (`compress: true`, like numpy.savez_compressed).
 * Timestamps are fixed at 1980-01-01 00:00, so equal input gives equal bytes.
 */
export function encodeNpz(arrays: Record<string, NpyArray>, opts: { compress?: boolean } = {}): Uint8Array {
  const compress = opts.compress ?? false;
  // Member names end in '.npy', so the object keeps insertion order (no integer-like keys).
  const members: Record<string, Uint8Array> = {};
  let count = 0;
  let storedSize = EOCD_SIZE; // the archive's size when stored: exact for numpy.savez, a bound otherwise
  let tooBig = false;
  for (const [key, arr] of Object.entries(arrays)) {
    if (key.length === 0 || key.includes('\0')) {
      throw new NpyError(`encodeNpz: array name ${JSON.stringify(key)} is not usable as a member name`);
    }
    const name = `${key}.npy`;
    const nameLength = Buffer.byteLength(name, 'utf8');
    if (nameLength > U16_MAX) throw new NpyError(`encodeNpz: array name '${key.slice(0, 40)}...' is too long`);
    let payload: Uint8Array;
    try {
      payload = encodeNpy(arr);
    } catch (err) {
      if (err instanceof NpyError) throw new NpyError(`encodeNpz: array '${key}': ${err.message}`, { cause: err });
      throw err;
    }
    members[name] = payload;
    count++;
    storedSize += LOCAL_HEADER_SIZE + CENTRAL_HEADER_SIZE + 2 * nameLength + payload.length;
    if (payload.length >= U32_MAX) tooBig = true;
  }
  // Sizes, offsets and the member count must fit the 32- and 16-bit fields of a plain ZIP.
  if (tooBig || count >= U16_MAX || (!compress && storedSize - EOCD_SIZE >= U32_MAX)) {
    throw zip64Error(count, storedSize);
  }
  const out = zipSync(members, { ...memberAttributes(), level: compress ? DEFLATE_LEVEL : 0 });
  if (out.length - EOCD_SIZE >= U32_MAX) throw zip64Error(count, out.length);
  return out;
}

async function readFileFor(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new NpyError(`${path}: file not found; check the path and that the file was saved`, { cause: err });
    }
    if (code === 'EISDIR') throw new NpyError(`${path}: is a directory, expected ${what}`, { cause: err });
    if (code === 'ERR_FS_FILE_TOO_LARGE') {
      throw new NpyError(`${path}: file is too large to load into memory (over 2 GiB)`, { cause: err });
    }
    const detail = err instanceof Error ? err.message : String(err);
    throw new NpyError(`${path}: cannot read the file (${detail})`, { cause: err });
  }
}

/** Open a .npz archive to read its arrays one at a time, headers first (see NpzArchive). */
export async function openNpz(path: string): Promise<NpzArchive> {
  return new NpzArchive(await readFileFor(path, 'a .npz file'), path);
}

/** Read and parse a .npz archive (keys without `.npy`). */
export async function readNpz(path: string): Promise<Map<string, NpyArray>> {
  return parseNpz(await readFileFor(path, 'a .npz file'), path);
}

/** Write arrays to a .npz archive atomically (see {@link encodeNpz}). */
export async function writeNpz(
  path: string,
  arrays: Record<string, NpyArray>,
  opts: { compress?: boolean } = {},
): Promise<void> {
  await writeFileAtomic(path, encodeNpz(arrays, opts));
}
