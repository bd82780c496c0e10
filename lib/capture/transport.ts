import type { CapturedPacket } from './packet.js';
import { decodeLink } from './link.js';
import { decodeIp, IPPROTO } from './ip.js';

/** TCP flag bits (RFC 9293). */
export const TCP_FLAGS = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

export interface TcpInfo {
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
}

/**
 * A packet taken apart down to its transport payload. `payload` is a view
 * into the capture's bytes; `payloadOffset` its absolute offset in the file.
 */
export interface TransportPacket {
  readonly packet: CapturedPacket;
  readonly proto: 'tcp' | 'udp';
  readonly ipVersion: 4 | 6;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly tcp?: TcpInfo;
  readonly payload: Uint8Array;
  readonly payloadOffset: number;
  /** Payload bytes that were on the wire but not in the capture (snaplen). */
  readonly missing: number;
  readonly vlans?: number[];
}

export interface SkippedPacket {
  readonly packet: CapturedPacket;
  /** Why: `not IP (ethertype 0x0806)`, `IP fragment`, `ICMP`... */
  readonly skip: string;
}

/** Link, IP and TCP/UDP headers off; anything else is a reason to skip. */
export function dissectPacket(packet: CapturedPacket): TransportPacket | SkippedPacket {
  const d = packet.data;
  const link = decodeLink(packet.linkType, d);
  if (link.ipVersion === 0) return { packet, skip: `not IP (${link.other})` };
  const ip = decodeIp(d, link.offset, link.ipVersion);
  if ('error' in ip) return { packet, skip: ip.error };
  if (ip.fragment) return { packet, skip: 'IP fragment (not reassembled)' };
  const at = ip.payloadStart;
  const wireMissing = ip.truncated;
  if (ip.protocol === IPPROTO.TCP) {
    if (ip.payloadEnd < at + 20) return { packet, skip: 'truncated TCP header' };
    const dataOffset = (d[at + 12]! >> 4) * 4;
    if (dataOffset < 20) return { packet, skip: `TCP data offset ${dataOffset} < 20` };
    if (ip.payloadEnd < at + dataOffset) return { packet, skip: 'truncated TCP options' };
    const start = at + dataOffset;
    return {
      packet,
      proto: 'tcp',
      ipVersion: ip.version,
      src: ip.src,
      dst: ip.dst,
      srcPort: (d[at]! << 8) | d[at + 1]!,
      dstPort: (d[at + 2]! << 8) | d[at + 3]!,
      tcp: {
        seq: ((d[at + 4]! << 24) | (d[at + 5]! << 16) | (d[at + 6]! << 8) | d[at + 7]!) >>> 0,
        ack: ((d[at + 8]! << 24) | (d[at + 9]! << 16) | (d[at + 10]! << 8) | d[at + 11]!) >>> 0,
        flags: d[at + 13]!,
        window: (d[at + 14]! << 8) | d[at + 15]!,
      },
      payload: d.subarray(start, ip.payloadEnd),
      payloadOffset: packet.fileOffset + start,
      missing: wireMissing,
      ...(link.vlans ? { vlans: link.vlans } : {}),
    };
  }
  if (ip.protocol === IPPROTO.UDP) {
    if (ip.payloadEnd < at + 8) return { packet, skip: 'truncated UDP header' };
    const udpLength = (d[at + 4]! << 8) | d[at + 5]!;
    const start = at + 8;
    // The UDP length bounds the payload (Ethernet padding follows it).
    const end = udpLength >= 8 ? Math.min(ip.payloadEnd, at + udpLength) : ip.payloadEnd;
    return {
      packet,
      proto: 'udp',
      ipVersion: ip.version,
      src: ip.src,
      dst: ip.dst,
      srcPort: (d[at]! << 8) | d[at + 1]!,
      dstPort: (d[at + 2]! << 8) | d[at + 3]!,
      payload: d.subarray(start, end),
      payloadOffset: packet.fileOffset + start,
      missing: Math.max(0, at + udpLength - ip.payloadEnd),
      ...(link.vlans ? { vlans: link.vlans } : {}),
    };
  }
  return { packet, skip: `IP protocol ${ip.protocol}` };
}

export function isSkipped(p: TransportPacket | SkippedPacket): p is SkippedPacket {
  return 'skip' in p;
}
