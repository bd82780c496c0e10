import { LINKTYPE } from './link-types.js';

/** EtherTypes we follow (IEEE 802.3, 802.1Q, 802.1ad). */
export const ETHERTYPE = { IPV4: 0x0800, IPV6: 0x86dd, VLAN: 0x8100, QINQ: 0x88a8, QINQ_OLD: 0x9100 } as const;

export interface LinkResult {
  /** 4, 6, or 0 when the packet carries no IP. */
  readonly ipVersion: 4 | 6 | 0;
  /** Offset of the IP header in the packet data. */
  readonly offset: number;
  /** VLAN ids met on the way (outermost first). */
  readonly vlans?: number[];
  /** What the link layer carried when it was not IP (ethertype or family), for counts. */
  readonly other?: string;
}

const NOT_IP = (other: string): LinkResult => ({ ipVersion: 0, offset: 0, other });

/**
 * IP at an offset, one shared result per version and offset (never changed): the
 * offsets a link layer can give are few, and every packet of a capture would
 * otherwise allocate the same answer.
 */
const IP_AT: { 4: LinkResult[]; 6: LinkResult[] } = { 4: [], 6: [] };
const ipAt = (ipVersion: 4 | 6, offset: number): LinkResult => (IP_AT[ipVersion][offset] ??= { ipVersion, offset });

/**
 * Strip the link layer: Ethernet (+ VLAN tags), Linux SLL/SLL2, BSD null/loopback, raw IP.
 * The packet is `d[base, end)` (default: all of `d`), so a reader's buffer can
 * be read in place; the offset returned is relative to `base`.
 */
export function decodeLink(linkType: number, d: Uint8Array, base = 0, end = d.length): LinkResult {
  const len = end - base;
  switch (linkType) {
    case LINKTYPE.ETHERNET:
      return afterEthertype(d, base, len, 12);
    case LINKTYPE.LINUX_SLL:
      // 16-byte header, protocol type at 14.
      if (len < 16) return NOT_IP('truncated link header');
      return byEthertype((d[base + 14]! << 8) | d[base + 15]!, 16, d, base, len);
    case LINKTYPE.LINUX_SLL2:
      // 20-byte header, protocol type first.
      if (len < 20) return NOT_IP('truncated link header');
      return byEthertype((d[base]! << 8) | d[base + 1]!, 20, d, base, len);
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP: {
      if (len < 4) return NOT_IP('truncated link header');
      // NULL is in the capturing host's byte order; LOOP is big-endian.
      const le = d[base]! | (d[base + 1]! << 8) | (d[base + 2]! << 16) | (d[base + 3]! << 24);
      const be = (d[base]! << 24) | (d[base + 1]! << 16) | (d[base + 2]! << 8) | d[base + 3]!;
      const family = linkType === LINKTYPE.LOOP ? be : (le >>> 0) <= 0xffff ? le : be;
      if (family === 2) return ipAt(4, 4);
      // AF_INET6 differs: 10 Linux, 24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS.
      if (family === 10 || family === 24 || family === 28 || family === 30) return ipAt(6, 4);
      return NOT_IP(`address family ${family}`);
    }
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_12:
    case LINKTYPE.RAW_14:
    case LINKTYPE.IPV4:
    case LINKTYPE.IPV6: {
      if (len < 1) return NOT_IP('empty packet');
      const v = d[base]! >> 4;
      return v === 4 || v === 6 ? ipAt(v, 0) : NOT_IP(`IP version ${v}`);
    }
    default:
      return NOT_IP(`link type ${linkType}`);
  }
}

/** The ethertype at `at` (relative to `base`; the packet is `len` bytes), after any VLAN tags. */
function afterEthertype(d: Uint8Array, base: number, len: number, at: number): LinkResult {
  // The common case first: an untagged IPv4 or IPv6 frame.
  if (len >= at + 2) {
    const type = (d[base + at]! << 8) | d[base + at + 1]!;
    if (type === ETHERTYPE.IPV4) return ipAt(4, at + 2);
    if (type === ETHERTYPE.IPV6) return ipAt(6, at + 2);
  }
  let vlans: number[] | undefined;
  for (let depth = 0; depth < 4; depth++) {
    if (len < at + 2) return NOT_IP('truncated link header');
    const type = (d[base + at]! << 8) | d[base + at + 1]!;
    if (type === ETHERTYPE.VLAN || type === ETHERTYPE.QINQ || type === ETHERTYPE.QINQ_OLD) {
      if (len < at + 6) return NOT_IP('truncated VLAN tag');
      (vlans ??= []).push(((d[base + at + 2]! << 8) | d[base + at + 3]!) & 0x0fff);
      at += 4;
      continue;
    }
    const r = byEthertype(type, at + 2, d, base, len);
    return vlans ? { ...r, vlans } : r;
  }
  return NOT_IP('too many VLAN tags');
}

function byEthertype(type: number, offset: number, d: Uint8Array, base: number, len: number): LinkResult {
  if (type === ETHERTYPE.IPV4) return ipAt(4, offset);
  if (type === ETHERTYPE.IPV6) return ipAt(6, offset);
  if (type === ETHERTYPE.VLAN || type === ETHERTYPE.QINQ) return afterEthertype(d, base, len, offset - 2);
  return NOT_IP(`ethertype 0x${type.toString(16).padStart(4, '0')}`);
}
