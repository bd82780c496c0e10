import { asBuffer, utf8 } from '../core/bytes.js';

/**
 * The token array of a decoded bencode document, read directly: what BNode
 * does, without an object per node. For hot loops over many entries (the
 * 100 000 dicts of a big torrent's `files` list), as libtorrent's bdecode_node
 * walks its token vector.
 *
 * Token layout, TOKEN_STRIDE int32s per token:
 *   kind, start, end, aux, next
 * - start/end: half-open offsets into `buf` of the whole token (`i42e`, `3:abc`, `d...e`)
 * - aux: for strings, the offset of the first data byte; for containers, the child count
 * - next: index of the token after this one and all its descendants
 */
export const TOKEN_STRIDE = 5;
export const K_INT = 1;
export const K_STR = 2;
export const K_LIST = 3;
export const K_DICT = 4;

/** What a token walk needs of a document (BencodeDocument has it). */
export interface TokenSource {
  readonly buf: Uint8Array;
  readonly tokens: Int32Array;
}

/** True when string token `i`'s data bytes are exactly `key`. */
export function strEquals(doc: TokenSource, i: number, key: Uint8Array): boolean {
  const t = i * TOKEN_STRIDE;
  const a = doc.tokens[t + 3]!;
  if (doc.tokens[t + 2]! - a !== key.length) return false;
  const buf = doc.buf;
  for (let j = 0; j < key.length; j++) if (buf[a + j] !== key[j]) return false;
  return true;
}

/** Token index of the value of `key` in dict token `dict`; the first match, as libtorrent does; -1 if absent. */
export function dictFind(doc: TokenSource, dict: number, key: Uint8Array): number {
  const tokens = doc.tokens;
  const n = tokens[dict * TOKEN_STRIDE + 3]!;
  let k = dict + 1;
  for (let c = 0; c + 1 < n; c += 2) {
    const v = tokens[k * TOKEN_STRIDE + 4]!;
    if (strEquals(doc, k, key)) return v;
    k = tokens[v * TOKEN_STRIDE + 4]!;
  }
  return -1;
}

/** True when every byte of buf[start, end) is ASCII (then latin1, ASCII and UTF-8 read the same). */
export function isAscii(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return false;
  return true;
}

/**
 * Strings out of one region of the input, for loops that make many (the path
 * components of a 100 000-file torrent): the region is read once as latin1
 * text and each ASCII string is a substring of it, made without a call into
 * the runtime; other strings go through TextDecoder as BNode.str() does.
 * V8 may share a longer substring's characters with the region's text, so the
 * strings can keep that text alive: at most one character per byte of it.
 * Regions over MAX_REGION bytes (beyond any real file list, and near V8's
 * string length limit) are not read whole: each string is read on its own.
 */
export class TextRegion {
  static readonly MAX_REGION = 64 * 1024 * 1024;
  private readonly text: string | null;
  private readonly view: Buffer;

  constructor(
    private readonly buf: Uint8Array,
    private readonly start: number,
    end: number,
  ) {
    this.view = asBuffer(buf);
    this.text = end - start <= TextRegion.MAX_REGION ? this.view.toString('latin1', start, end) : null;
  }

  /** buf[a, b) (inside the region) as UTF-8 text, invalid sequences replaced. */
  slice(a: number, b: number): string {
    if (!isAscii(this.buf, a, b)) return utf8(this.buf.subarray(a, b));
    return this.text === null ? this.view.toString('latin1', a, b) : this.text.substring(a - this.start, b - this.start);
  }
}
