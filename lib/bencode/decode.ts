import { DecodeError } from '../core/errors.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import { DEFAULT_BENCODE_LIMITS, type BencodeLimits } from '../core/limits.js';
import { BNode } from './node.js';
import { K_DICT, K_INT, K_LIST, K_STR, TOKEN_STRIDE } from './tokens.js';

/**
 * Bencode (BEP 3) decoded the libtorrent way: one pass over the input builds a
 * flat token array of offsets into it; values, strings and field trees are made
 * only when asked for. Every token knows its raw bytes and absolute position.
 *
 * Token layout: see tokens.ts (kind, start, end, aux, next per token).
 */

export interface DecodeOptions extends Partial<BencodeLimits> {
  /** Absolute offset of `buf[0]` in the original input (for nested payloads). */
  base?: number;
  /**
   * Stop after the first complete value instead of reporting trailing bytes:
   * for payloads followed by raw data (ut_metadata data messages).
   */
  allowTrailing?: boolean;
}

export interface BencodeDocument {
  readonly buf: Uint8Array;
  readonly base: number;
  /** Offset into `buf` just past the root value. */
  readonly end: number;
  readonly tokens: Int32Array;
  readonly tokenCount: number;
  readonly diagnostics: Diagnostic[];
  readonly root: BNode;
}

const C_0 = 0x30;
const C_9 = 0x39;
const C_COLON = 0x3a;
const C_MINUS = 0x2d;
const C_D = 0x64;
const C_E = 0x65;
const C_I = 0x69;
const C_L = 0x6c;

/** Decode one bencoded value from `buf`. Throws DecodeError with an absolute offset. */
export function decode(buf: Uint8Array, options: DecodeOptions = {}): BencodeDocument {
  const maxDepth = options.maxDepth ?? DEFAULT_BENCODE_LIMITS.maxDepth;
  const maxTokens = options.maxTokens ?? DEFAULT_BENCODE_LIMITS.maxTokens;
  const maxStringLength = options.maxStringLength ?? DEFAULT_BENCODE_LIMITS.maxStringLength;
  const base = options.base ?? 0;
  const len = buf.length;
  const diagnostics: Diagnostic[] = [];

  // Start small and double: a 2 MB string is one token, so sizing by input length wastes a
  // zeroed allocation that can cost more than the whole decode of a 100 000-piece torrent.
  let tokens = new Int32Array(256 * TOKEN_STRIDE);
  let count = 0;
  // Open containers: token index, and for dicts the token index of the previous key.
  const stack = new Int32Array(maxDepth + 1);
  const prevKey = new Int32Array(maxDepth + 1);
  let depth = 0;
  let pos = 0;

  const fail = (code: string, at: number, message: string): never => {
    throw new DecodeError(code, base + at, message, pathAt(buf, tokens, stack, depth));
  };

  const push = (kind: number, start: number): number => {
    if (count >= maxTokens) fail('limit_exceeded', start, `more than ${maxTokens} tokens`);
    const t = count * TOKEN_STRIDE;
    if (t + TOKEN_STRIDE > tokens.length) {
      const grown = new Int32Array(tokens.length * 2);
      grown.set(tokens);
      tokens = grown;
    }
    tokens[t] = kind;
    tokens[t + 1] = start;
    tokens[t + 4] = count + 1;
    return count++;
  };

  for (;;) {
    if (pos >= len) {
      if (count === 0) fail('unexpected_eof', pos, 'empty input: expected a bencoded value');
      fail('unexpected_eof', pos, depth > 0 ? 'input ends inside an unterminated list or dict' : 'input ends early');
    }
    const c = buf[pos]!;
    const parent = depth > 0 ? stack[depth - 1]! : -1;
    const inDict = parent >= 0 && tokens[parent * TOKEN_STRIDE] === K_DICT;
    const expectingKey = inDict && (tokens[parent * TOKEN_STRIDE + 3]! & 1) === 0;

    if (c === C_E) {
      if (depth === 0) fail('unexpected_end', pos, "'e' with no open list or dict");
      const pt = parent * TOKEN_STRIDE;
      if (inDict && !expectingKey) fail('expected_value', pos, 'dict key has no value');
      pos++;
      tokens[pt + 2] = pos;
      tokens[pt + 4] = count;
      depth--;
    } else {
      if (expectingKey && (c < C_0 || c > C_9)) {
        fail('expected_string', pos, `dict key must be a byte string, found ${byteText(c)}`);
      }
      if (c >= C_0 && c <= C_9) {
        const start = pos;
        let n = 0;
        let digits = 0;
        while (pos < len && buf[pos]! >= C_0 && buf[pos]! <= C_9) {
          n = n * 10 + (buf[pos]! - C_0);
          digits++;
          pos++;
          if (n > maxStringLength) fail('limit_exceeded', start, `string length exceeds limit of ${maxStringLength} bytes`);
        }
        if (pos >= len) fail('unexpected_eof', pos, 'input ends inside a string length');
        if (buf[pos] !== C_COLON) fail('expected_colon', pos, `expected ':' after string length, found ${byteText(buf[pos]!)}`);
        if (digits > 1 && buf[start] === C_0) {
          diagnostics.push(diagnostic('non_canonical_length', 'warning', 'string length has leading zeros', { start: base + start, end: base + pos }));
        }
        pos++;
        if (n > len - pos) fail('unexpected_eof', start, `string of ${n} bytes but only ${len - pos} remain`);
        const i = push(K_STR, start);
        const t = i * TOKEN_STRIDE;
        tokens[t + 3] = pos;
        pos += n;
        tokens[t + 2] = pos;
        if (expectingKey) {
          const prev = prevKey[depth - 1]!;
          if (prev >= 0) checkKeyOrder(buf, tokens, prev, i, base, diagnostics);
          prevKey[depth - 1] = i;
        }
      } else if (c === C_I) {
        const start = pos;
        pos++;
        let negative = false;
        if (pos < len && buf[pos] === C_MINUS) {
          negative = true;
          pos++;
        }
        const digitsStart = pos;
        while (pos < len && buf[pos]! >= C_0 && buf[pos]! <= C_9) pos++;
        if (pos >= len) fail('unexpected_eof', pos, 'input ends inside an integer');
        if (pos === digitsStart) fail('expected_digit', pos, `expected a digit in integer, found ${byteText(buf[pos]!)}`);
        if (buf[pos] !== C_E) fail('expected_digit', pos, `expected a digit or 'e' in integer, found ${byteText(buf[pos]!)}`);
        const digits = pos - digitsStart;
        if (digits > 19 || (digits === 19 && exceedsInt64(buf, digitsStart, negative))) {
          fail('overflow', start, 'integer does not fit in 64 bits');
        }
        if (buf[digitsStart] === C_0 && (digits > 1 || negative)) {
          diagnostics.push(
            diagnostic(
              negative && digits === 1 ? 'negative_zero' : 'non_canonical_integer',
              'warning',
              negative && digits === 1 ? 'integer -0 is not canonical' : 'integer has leading zeros',
              { start: base + start, end: base + pos + 1 },
            ),
          );
        }
        pos++;
        const i = push(K_INT, start);
        tokens[i * TOKEN_STRIDE + 2] = pos;
      } else if (c === C_L || c === C_D) {
        if (depth >= maxDepth) fail('depth_exceeded', pos, `nesting deeper than ${maxDepth} levels`);
        const i = push(c === C_L ? K_LIST : K_DICT, pos);
        tokens[i * TOKEN_STRIDE + 3] = 0;
        if (parent >= 0) tokens[parent * TOKEN_STRIDE + 3]!++;
        stack[depth] = i;
        prevKey[depth] = -1;
        depth++;
        pos++;
        continue;
      } else {
        fail('expected_value', pos, `expected a bencoded value, found byte 0x${c.toString(16).padStart(2, '0')}`);
      }
      if (parent >= 0) tokens[parent * TOKEN_STRIDE + 3]!++;
    }
    if (depth === 0) break;
  }

  if (pos < len) {
    if (!options.allowTrailing) {
      diagnostics.push(diagnostic('trailing_bytes', 'warning', `${len - pos} bytes after the end of the bencoded value`, { start: base + pos, end: base + len }));
    }
  }
  const doc: BencodeDocument = {
    buf,
    base,
    end: pos,
    tokens,
    tokenCount: count,
    diagnostics,
    root: undefined as unknown as BNode,
  };
  (doc as { root: BNode }).root = new BNode(doc, 0);
  return doc;
}

function exceedsInt64(buf: Uint8Array, start: number, negative: boolean): boolean {
  const limit = negative ? '9223372036854775808' : '9223372036854775807';
  for (let i = 0; i < 19; i++) {
    const d = buf[start + i]! - C_0;
    const l = limit.charCodeAt(i) - C_0;
    if (d !== l) return d > l;
  }
  return false;
}

function checkKeyOrder(buf: Uint8Array, tokens: Int32Array, prev: number, cur: number, base: number, out: Diagnostic[]): void {
  const p = prev * TOKEN_STRIDE;
  const c = cur * TOKEN_STRIDE;
  const pa = tokens[p + 3]!;
  const pl = tokens[p + 2]! - pa;
  const ca = tokens[c + 3]!;
  const cl = tokens[c + 2]! - ca;
  const n = Math.min(pl, cl);
  let cmp = 0;
  for (let i = 0; i < n && cmp === 0; i++) cmp = buf[pa + i]! - buf[ca + i]!;
  if (cmp === 0) cmp = pl - cl;
  if (cmp === 0) {
    out.push(diagnostic('duplicate_key', 'warning', `duplicate dict key ${keyText(buf, ca, cl)}`, { start: base + tokens[c + 1]!, end: base + tokens[c + 2]! }));
  } else if (cmp > 0) {
    out.push(
      diagnostic('unsorted_keys', 'warning', `dict key ${keyText(buf, ca, cl)} comes after ${keyText(buf, pa, pl)}: keys are not sorted`, {
        start: base + tokens[c + 1]!,
        end: base + tokens[c + 2]!,
      }),
    );
  }
}

function keyText(buf: Uint8Array, at: number, n: number): string {
  let s = '';
  for (let i = 0; i < Math.min(n, 40); i++) {
    const b = buf[at + i]!;
    s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return JSON.stringify(n > 40 ? s + '…' : s);
}

/** The path of keys and indices leading to the value being decoded, for errors. */
function pathAt(buf: Uint8Array, tokens: Int32Array, stack: Int32Array, depth: number): string {
  const parts: string[] = [];
  for (let d = 0; d < depth; d++) {
    const t = stack[d]! * TOKEN_STRIDE;
    // Children already counted; an open container child below this level is counted too.
    const n = tokens[t + 3]! - (d < depth - 1 ? 1 : 0);
    if (tokens[t] === K_LIST) {
      parts.push(`[${n}]`);
    } else if (n % 2 === 1) {
      let i = stack[d]! + 1;
      for (let k = 0; k < n - 1; k++) i = tokens[i * TOKEN_STRIDE + 4]!;
      const k = i * TOKEN_STRIDE;
      let key = '';
      for (let j = tokens[k + 3]!; j < tokens[k + 2]! && j - tokens[k + 3]! < 40; j++) key += String.fromCharCode(buf[j]!);
      parts.push(parts.length ? `.${key}` : key);
    }
  }
  const path = parts.join('');
  return path.length > 80 ? `…${path.slice(-79)}` : path;
}

function byteText(b: number): string {
  return b >= 0x21 && b < 0x7f ? `'${String.fromCharCode(b)}'` : `byte 0x${b.toString(16).padStart(2, '0')}`;
}
