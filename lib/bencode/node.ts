import { DecodeError } from '../core/errors.js';
import type { Span } from '../core/span.js';
import { utf8, utf8OrUndefined, encodeUtf8 } from '../core/bytes.js';
import type { BencodeDocument } from './decode.js';
import { dictFind, K_DICT, K_INT, K_LIST, K_STR, TOKEN_STRIDE as S } from './tokens.js';

export type BKind = 'int' | 'str' | 'list' | 'dict';
const KIND_NAMES: Record<number, BKind> = { [K_INT]: 'int', [K_STR]: 'str', [K_LIST]: 'list', [K_DICT]: 'dict' };

/**
 * A view of one token of a decoded document: nothing is copied until asked for.
 * `span` is absolute; `raw` is the token's exact input bytes (hash these).
 */
export class BNode {
  constructor(
    readonly doc: BencodeDocument,
    readonly index: number,
  ) {}

  private get t(): number {
    return this.index * S;
  }

  get kind(): BKind {
    return KIND_NAMES[this.doc.tokens[this.t]!]!;
  }

  /** Absolute span of the whole token. */
  get span(): Span {
    const t = this.t;
    return { start: this.doc.base + this.doc.tokens[t + 1]!, end: this.doc.base + this.doc.tokens[t + 2]! };
  }

  /** For strings: absolute span of the data bytes (after `len:`). */
  get dataSpan(): Span {
    const t = this.t;
    const start = this.doc.tokens[t]! === K_STR ? this.doc.tokens[t + 3]! : this.doc.tokens[t + 1]!;
    return { start: this.doc.base + start, end: this.doc.base + this.doc.tokens[t + 2]! };
  }

  /** The token's exact bytes in the input. */
  get raw(): Uint8Array {
    const t = this.t;
    return this.doc.buf.subarray(this.doc.tokens[t + 1]!, this.doc.tokens[t + 2]!);
  }

  isInt(): boolean {
    return this.doc.tokens[this.t] === K_INT;
  }
  isStr(): boolean {
    return this.doc.tokens[this.t] === K_STR;
  }
  isList(): boolean {
    return this.doc.tokens[this.t] === K_LIST;
  }
  isDict(): boolean {
    return this.doc.tokens[this.t] === K_DICT;
  }

  private expect(kind: number, what: string, path: string): void {
    if (this.doc.tokens[this.t] !== kind) {
      throw new DecodeError('wrong_type', this.span.start, `${path || 'value'} should be ${what}, is ${this.kind}`, path);
    }
  }

  /** Integer value: a number when safe, a bigint beyond 2^53. */
  intValue(path = ''): number | bigint {
    this.expect(K_INT, 'an integer', path);
    const t = this.t;
    const start = this.doc.tokens[t + 1]! + 1;
    const end = this.doc.tokens[t + 2]! - 1;
    // Fast path (no string made): up to 15 digits is always a safe integer.
    if (end - start <= 15) {
      const buf = this.doc.buf;
      let i = start;
      const negative = buf[i] === 0x2d;
      if (negative) i++;
      let v = 0;
      for (; i < end; i++) v = v * 10 + (buf[i]! - 0x30);
      return negative ? -v : v;
    }
    const s = utf8(this.doc.buf.subarray(start, end));
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : BigInt(s);
  }

  /** Integer value as a number; throws `overflow` beyond 2^53. */
  int(path = ''): number {
    const v = this.intValue(path);
    if (typeof v === 'bigint') throw new DecodeError('overflow', this.span.start, `${path || 'integer'} is too large (${v})`, path);
    return v;
  }

  /** String data bytes (a view into the input). */
  bytes(path = ''): Uint8Array {
    this.expect(K_STR, 'a byte string', path);
    const t = this.t;
    return this.doc.buf.subarray(this.doc.tokens[t + 3]!, this.doc.tokens[t + 2]!);
  }

  /** String data as UTF-8 text (invalid sequences replaced). */
  str(path = ''): string {
    const b = this.bytes(path);
    // Short ASCII strings (keys, path components) skip TextDecoder: far cheaper per call.
    if (b.length <= 64) {
      let ascii = true;
      for (let i = 0; i < b.length; i++) {
        if (b[i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return String.fromCharCode.apply(null, b as unknown as number[]);
    }
    return utf8(b);
  }

  /** String data as text if it is valid UTF-8. */
  text(): string | undefined {
    return this.isStr() ? utf8OrUndefined(this.bytes()) : undefined;
  }

  /** Number of list items, or of dict entries. */
  get length(): number {
    const t = this.t;
    const kind = this.doc.tokens[t]!;
    const n = this.doc.tokens[t + 3]!;
    return kind === K_DICT ? n >> 1 : kind === K_LIST ? n : 0;
  }

  /** List items. */
  items(path = ''): BNode[] {
    this.expect(K_LIST, 'a list', path);
    return this.children();
  }

  private children(): BNode[] {
    const out: BNode[] = [];
    const tokens = this.doc.tokens;
    const n = tokens[this.t + 3]!;
    let i = this.index + 1;
    for (let k = 0; k < n; k++) {
      out.push(new BNode(this.doc, i));
      i = tokens[i * S + 4]!;
    }
    return out;
  }

  /** Dict entries as [key node, value node] in input order. */
  entries(path = ''): Array<[BNode, BNode]> {
    this.expect(K_DICT, 'a dict', path);
    const c = this.children();
    const out: Array<[BNode, BNode]> = [];
    for (let k = 0; k + 1 < c.length; k += 2) out.push([c[k]!, c[k + 1]!]);
    return out;
  }

  /** Dict lookup by key (raw bytes compared); the first match, as libtorrent does. */
  get(key: string | Uint8Array): BNode | undefined {
    if (this.doc.tokens[this.t] !== K_DICT) return undefined;
    const v = dictFind(this.doc, this.index, typeof key === 'string' ? keyBytes(key) : key);
    return v < 0 ? undefined : new BNode(this.doc, v);
  }
}

/** Encoded lookup keys, cached: the same few keys are looked up millions of times. */
const KEY_CACHE = new Map<string, Uint8Array>();
function keyBytes(key: string): Uint8Array {
  let k = KEY_CACHE.get(key);
  if (!k) {
    k = encodeUtf8(key);
    if (KEY_CACHE.size < 1024) KEY_CACHE.set(key, k);
  }
  return k;
}

/** A plain JS value of a bencoded node. */
export type BValue = number | bigint | Uint8Array | BValue[] | BDict;
/** Dicts become null-prototype objects: keys such as `__proto__` are plain data. */
export interface BDict {
  [key: string]: BValue;
}

/**
 * Convert a node to plain JS: ints to number (bigint beyond 2^53), strings to
 * Uint8Array, dicts to null-prototype objects keyed by the UTF-8 key text.
 */
export function toValue(node: BNode): BValue {
  switch (node.kind) {
    case 'int':
      return node.intValue();
    case 'str':
      return node.bytes();
    case 'list':
      return node.items().map(toValue);
    case 'dict': {
      const out = Object.create(null) as BDict;
      for (const [k, v] of node.entries()) out[k.str()] = toValue(v);
      return out;
    }
  }
}
