/** Hex helpers for wire tests: vectors are written as spaced hex, as the BEPs draw them. */
import { fromHex } from '../../lib/core/bytes.js';
import { DecodeError } from '../../lib/core/errors.js';

export const hex = (s: string): Uint8Array => fromHex(s.replace(/\s+/g, ''));
export const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
export const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** Run `f`, expect a DecodeError, return its code and offset. */
export function errorOf(f: () => unknown): { code: string; offset: number } {
  try {
    f();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    return { code: e.code, offset: e.offset };
  }
  throw new Error('expected a DecodeError');
}
