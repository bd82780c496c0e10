import { ipText } from '../core/address.js';

// The address helpers live in lib/core/address.ts; these names stay importable from here.
export { formatEndpoint, formatIp, parseIp } from '../core/address.js';

export interface CompactPeer {
  readonly ip: string;
  readonly port: number;
  /** Offset of the entry inside the compact string (relative; add the string's data offset). */
  readonly at: number;
}

/** Compact peers: 6 bytes (IPv4 + port) or 18 bytes (IPv6 + port) each, big endian port. */
export function parseCompactPeers(bytes: Uint8Array, family: 4 | 6): { peers: CompactPeer[]; trailing: number } {
  const size = family === 4 ? 6 : 18;
  const peers: CompactPeer[] = [];
  const n = Math.floor(bytes.length / size);
  for (let i = 0; i < n; i++) {
    const at = i * size;
    const ip = ipText(bytes, at, family);
    const port = (bytes[at + size - 2]! << 8) | bytes[at + size - 1]!;
    peers.push({ ip, port, at });
  }
  return { peers, trailing: bytes.length - n * size };
}
