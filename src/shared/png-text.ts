// Reads the text chunks of a PNG (tEXt, and uncompressed iTXt) without decoding its pixels: the app
// finds a sample grid's layout and row labels there (engine/io/png.ts writes them; the keyword is
// GRID_TEXT_KEY). Pure: bytes in, strings out, in the browser and in Node alike.

/** keyword → text of each tEXt / uncompressed iTXt chunk before the image data ends. */
export function pngText(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 8 || sig.some((b, i) => bytes[i] !== b)) return out;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: false });
  const latin1 = new TextDecoder('latin1');
  let off = 8;
  while (off + 12 <= bytes.length) {
    const len = view.getUint32(off);
    const type = String.fromCharCode(...bytes.subarray(off + 4, off + 8));
    const data = bytes.subarray(off + 8, off + 8 + len);
    if (data.length < len || type === 'IEND') break;
    const nul = data.indexOf(0);
    if (nul > 0 && type === 'tEXt') out[latin1.decode(data.subarray(0, nul))] = latin1.decode(data.subarray(nul + 1));
    if (nul > 0 && type === 'iTXt' && data[nul + 1] === 0) {
      // flag 0 (uncompressed), method, language NUL-terminated, translated keyword NUL-terminated, text
      const lang = data.indexOf(0, nul + 3);
      const translated = lang < 0 ? -1 : data.indexOf(0, lang + 1);
      if (translated >= 0) out[latin1.decode(data.subarray(0, nul))] = utf8.decode(data.subarray(translated + 1));
    }
    off += 12 + len;
  }
  return out;
}

/** Bytes of a base64 string (a data: URL's payload). */
export function base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A PNG's width and height from its IHDR chunk, or null when the bytes are not a PNG. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes.length < 24 || bytes[12] !== 0x49 || bytes[13] !== 0x48 || bytes[14] !== 0x44 || bytes[15] !== 0x52)
    return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}
