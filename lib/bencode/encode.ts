import { compareBytes, encodeUtf8 } from '../core/bytes.js';

/** What the canonical encoder accepts. Maps and objects become dicts with sorted keys. */
export type Encodable =
  | number
  | bigint
  | string
  | Uint8Array
  | boolean
  | readonly Encodable[]
  | ReadonlyMap<string | Uint8Array, Encodable>
  | { readonly [key: string]: Encodable | undefined };

/**
 * Canonical bencode (BEP 3): integers without leading zeros, dict keys sorted as
 * raw byte strings, no duplicates. `undefined` dict values are left out.
 */
export function encode(value: Encodable): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  const put = (b: Uint8Array): void => {
    parts.push(b);
    size += b.length;
  };
  const ascii = (s: string): void => put(encodeUtf8(s));
  const walk = (v: Encodable): void => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new TypeError(`bencode integers must be whole numbers, got ${v}`);
      ascii(`i${v}e`);
    } else if (typeof v === 'bigint') {
      ascii(`i${v}e`);
    } else if (typeof v === 'boolean') {
      ascii(v ? 'i1e' : 'i0e');
    } else if (typeof v === 'string') {
      const b = encodeUtf8(v);
      ascii(`${b.length}:`);
      put(b);
    } else if (v instanceof Uint8Array) {
      ascii(`${v.length}:`);
      put(v);
    } else if (Array.isArray(v)) {
      ascii('l');
      for (const item of v as readonly Encodable[]) walk(item);
      ascii('e');
    } else {
      const entries: Array<[Uint8Array, Encodable]> = [];
      const source: Iterable<[string | Uint8Array, Encodable | undefined]> =
        v instanceof Map ? (v as ReadonlyMap<string | Uint8Array, Encodable>).entries() : Object.entries(v as object);
      for (const [k, val] of source) {
        if (val === undefined) continue;
        entries.push([typeof k === 'string' ? encodeUtf8(k) : k, val]);
      }
      entries.sort((a, b) => compareBytes(a[0], b[0]));
      ascii('d');
      for (let i = 0; i < entries.length; i++) {
        if (i > 0 && compareBytes(entries[i - 1]![0], entries[i]![0]) === 0) throw new TypeError('duplicate dict key');
        const [k, val] = entries[i]!;
        ascii(`${k.length}:`);
        put(k);
        walk(val);
      }
      ascii('e');
    }
  };
  walk(value);
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
