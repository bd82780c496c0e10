import { field, type Field, type FieldDef } from '../core/field.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import type { TrackerPeer } from './types.js';

/** BEP 23 (IPv4, 6 bytes a peer) and BEP 7 (IPv6, 18 bytes a peer) compact peer lists. */
export const COMPACT_PEER_FIELDS = {
  peer4: { id: 'tracker.peer', label: 'peer', bep: 23 },
  peer6: { id: 'tracker.peer6', label: 'peer (IPv6)', bep: 7 },
  ip: { id: 'tracker.peer.ip', label: 'ip', bep: 23 },
  port: { id: 'tracker.peer.port', label: 'port', bep: 23 },
} as const satisfies Record<string, FieldDef>;

export type AddressFamily = 4 | 6;

export const COMPACT_PEER_SIZE: Record<AddressFamily, number> = { 4: 6, 6: 18 };

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
  const peers: TrackerPeer[] = [];
  const fields: Field[] = [];
  const diagnostics: Diagnostic[] = [];
  const whole = Math.floor(bytes.length / size);
  const n = Math.min(whole, maxPeers);
  const def = family === 4 ? COMPACT_PEER_FIELDS.peer4 : COMPACT_PEER_FIELDS.peer6;
  for (let i = 0; i < n; i++) {
    const at = i * size;
    const ip = family === 4 ? ipv4Text(bytes, at) : ipv6Text(bytes, at);
    const port = (bytes[at + size - 2]! << 8) | bytes[at + size - 1]!;
    peers.push({ ip, port });
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
  const rest = bytes.length - whole * size;
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
  const size = COMPACT_PEER_SIZE[family];
  const chosen = peers.filter((p) => familyOf(p.ip) === family);
  const out = new Uint8Array(chosen.length * size);
  chosen.forEach((p, i) => {
    const at = i * size;
    out.set(family === 4 ? parseIpv4(p.ip)! : parseIpv6(p.ip)!, at);
    out[at + size - 2] = (p.port >> 8) & 0xff;
    out[at + size - 1] = p.port & 0xff;
  });
  return out;
}

export function formatPeer(p: { ip: string; port: number }): string {
  return p.ip.includes(':') ? `[${p.ip}]:${p.port}` : `${p.ip}:${p.port}`;
}

export function familyOf(ip: string): AddressFamily | undefined {
  if (parseIpv4(ip)) return 4;
  if (parseIpv6(ip)) return 6;
  return undefined;
}

export function ipv4Text(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** RFC 5952 text: lower case, the longest run of zero groups as `::`. */
export function ipv6Text(b: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[at + i * 2]! << 8) | b[at + i * 2 + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function parseIpv4(ip: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return Uint8Array.from(parts);
}

export function parseIpv6(ip: string): Uint8Array | undefined {
  let text = ip;
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(':')) return undefined;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIpv4(last);
    if (!v4) return undefined;
    text = `${text.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string): number[] | undefined => {
    if (s === '') return [];
    const gs = s.split(':');
    const out: number[] = [];
    for (const g of gs) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const groups = [...head, ...rest];
  let all: number[];
  if (halves.length === 2) {
    const fill = 8 - groups.length;
    if (fill < 1) return undefined;
    all = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    if (groups.length !== 8) return undefined;
    all = groups;
  }
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** `::ffff:1.2.3.4` (a v4 peer on a dual-stack socket) as plain IPv4. */
export function unmapIpv4(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip;
}
