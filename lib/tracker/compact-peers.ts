import { field, type Field, type FieldDef } from '../core/field.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import { COMPACT_PEER_SIZE, encodeCompactPeers as encodeCompact, parseCompactPeers, formatEndpoint, familyOf, type AddressFamily } from '../core/address.js';
import type { TrackerPeer } from './types.js';

// The address helpers live in lib/core/address.ts; these names stay importable from here.
export { familyOf, ipv4Text, ipv6Text, parseIpv6, unmapIpv4, type AddressFamily } from '../core/address.js';

/** BEP 23 (IPv4, 6 bytes a peer) and BEP 7 (IPv6, 18 bytes a peer) compact peer lists. */
export const COMPACT_PEER_FIELDS = {
  peer4: { id: 'tracker.peer', label: 'peer', bep: 23 },
  peer6: { id: 'tracker.peer6', label: 'peer (IPv6)', bep: 7 },
  ip: { id: 'tracker.peer.ip', label: 'ip', bep: 23 },
  port: { id: 'tracker.peer.port', label: 'port', bep: 23 },
} as const satisfies Record<string, FieldDef>;

export interface CompactPeersDecoded {
  readonly peers: TrackerPeer[];
  readonly fields: Field[];
  readonly diagnostics: Diagnostic[];
}

/**
 * Decode a compact peer list: 4 or 16 address bytes then a big-endian port. A
 * length that is not a multiple of the entry size is decoded as far as it goes
 * and the leftover reported (trackers do send these). `base` is the absolute
 * offset of `bytes[0]`. `maxPeers` bounds the work on hostile input.
 */
export function decodeCompactPeers(bytes: Uint8Array, base: number, family: AddressFamily, maxPeers = Infinity): CompactPeersDecoded {
  const size = COMPACT_PEER_SIZE[family];
  const decoded = parseCompactPeers(bytes, family, maxPeers);
  const peers: TrackerPeer[] = decoded.peers.map(({ ip, port }) => ({ ip, port }));
  const fields: Field[] = [];
  const diagnostics: Diagnostic[] = [];
  const whole = Math.floor(bytes.length / size);
  const n = peers.length;
  const def = family === 4 ? COMPACT_PEER_FIELDS.peer4 : COMPACT_PEER_FIELDS.peer6;
  for (const [i, { ip, port, at }] of decoded.peers.entries()) {
    const start = base + at;
    const addr = field(COMPACT_PEER_FIELDS.ip, { start, end: start + size - 2 }, ip);
    const portField = field(COMPACT_PEER_FIELDS.port, { start: start + size - 2, end: start + size }, port);
    const diags = port === 0 ? [diagnostic('peer_port_zero', 'warning', `peer ${ip} has port 0`, portField.span)] : [];
    fields.push(
      field(def, { start, end: start + size }, formatPeer({ ip, port }), {
        label: `peer ${i}`,
        display: formatPeer({ ip, port }),
        children: [addr, portField],
        diagnostics: diags,
      }),
    );
  }
  if (n < whole) {
    diagnostics.push(
      diagnostic('peer_list_truncated', 'note', `${whole - n} more peers not decoded (limit ${maxPeers})`, { start: base + n * size, end: base + whole * size }),
    );
  }
  const rest = decoded.trailing;
  if (rest > 0) {
    diagnostics.push(
      diagnostic(
        'compact_peers_length',
        'warning',
        `compact peer list of ${bytes.length} bytes is not a multiple of ${size}: ${rest} trailing bytes ignored`,
        { start: base + whole * size, end: base + bytes.length },
      ),
    );
  }
  return { peers, fields, diagnostics };
}

/** Encode peers of one family as a compact list; peers of the other family are skipped. */
export function encodeCompactPeers(peers: readonly TrackerPeer[], family: AddressFamily): Uint8Array {
  return encodeCompact(
    peers.filter((p) => familyOf(p.ip) === family),
    family,
  );
}

export function formatPeer(p: { ip: string; port: number }): string {
  return formatEndpoint(p.ip, p.port);
}
