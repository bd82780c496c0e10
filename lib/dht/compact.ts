import { DecodeError } from '../core/errors.js';
import { toHex } from '../core/bytes.js';
import { compactPeerAt, formatEndpoint } from '../core/address.js';

/** A node from a compact node info string (BEP 5: 26 bytes IPv4; BEP 32: 38 bytes IPv6). */
export interface CompactNode {
  readonly id: Uint8Array;
  readonly ip: string;
  readonly port: number;
  /** Absolute span of this entry. */
  readonly start: number;
  readonly end: number;
}

/** A peer from compact peer info (BEP 5 `values`: 6 bytes IPv4, 18 bytes IPv6). */
export interface CompactPeer {
  readonly ip: string;
  readonly port: number;
  readonly start: number;
  readonly end: number;
}

/** `nodes` (26-byte entries) or `nodes6` (38-byte entries); the base is the data's absolute offset. */
export function decodeCompactNodes(b: Uint8Array, base: number, v6 = false): CompactNode[] {
  const size = v6 ? 38 : 26;
  if (b.length % size !== 0) {
    throw new DecodeError('bad_length', base, `compact node info of ${b.length} bytes is not a multiple of ${size}`, v6 ? 'nodes6' : 'nodes');
  }
  const out: CompactNode[] = [];
  for (let at = 0; at < b.length; at += size) {
    out.push({ id: b.subarray(at, at + 20), ...compactPeerAt(b, at + 20, v6 ? 6 : 4), start: base + at, end: base + at + size });
  }
  return out;
}

/** One compact peer (6 or 18 bytes). */
export function decodeCompactPeer(b: Uint8Array, base: number): CompactPeer {
  if (b.length === 6 || b.length === 18) return { ...compactPeerAt(b, 0, b.length === 6 ? 4 : 6), start: base, end: base + b.length };
  throw new DecodeError('bad_length', base, `compact peer info of ${b.length} bytes: expected 6 or 18`, 'values');
}

export function nodeText(n: CompactNode): string {
  return `${toHex(n.id).slice(0, 8)}…@${formatEndpoint(n.ip, n.port)}`;
}
