import { DecodeError } from '../core/errors.js';
import { toHex } from '../core/bytes.js';
import { ipv6Text, endpointText } from '../capture/ip.js';

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
    const ip = v6 ? ipv6Text(b, at + 20) : `${b[at + 20]}.${b[at + 21]}.${b[at + 22]}.${b[at + 23]}`;
    const p = at + size - 2;
    out.push({ id: b.subarray(at, at + 20), ip, port: (b[p]! << 8) | b[p + 1]!, start: base + at, end: base + at + size });
  }
  return out;
}

/** One compact peer (6 or 18 bytes). */
export function decodeCompactPeer(b: Uint8Array, base: number): CompactPeer {
  if (b.length === 6) return { ip: `${b[0]}.${b[1]}.${b[2]}.${b[3]}`, port: (b[4]! << 8) | b[5]!, start: base, end: base + 6 };
  if (b.length === 18) return { ip: ipv6Text(b, 0), port: (b[16]! << 8) | b[17]!, start: base, end: base + 18 };
  throw new DecodeError('bad_length', base, `compact peer info of ${b.length} bytes: expected 6 or 18`, 'values');
}

export function nodeText(n: CompactNode): string {
  return `${toHex(n.id).slice(0, 8)}…@${endpointText(n.ip, n.port)}`;
}
