import type { CapturedPacket } from './packet.js';
import { decodeLink } from './link.js';
import { decodeIp, ipAddressText, ipScratch, IPPROTO, type IpResult } from './ip.js';
import { IpFragmentReassembler, type FragmentLimits } from './ip-fragments.js';

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
 * into the capture's bytes (or, for a reassembled IP datagram, into the
 * reassembled buffer); `payloadOffset` its absolute offset in the file.
 * The addresses are bytes at `srcAt`/`dstAt` in `addressBytes`; `src`/`dst`
 * make their text only when asked (most packets of a flow never need it).
 * The TCP header's fields are the packet's own (`seq`, `ack`, `flags`,
 * `window`: a TcpInfo, so reassembly takes the packet itself); `tcp` gives
 * them as an object of their own, made when asked.
 */
export class TransportPacket implements TcpInfo {
  private srcText: string | undefined;
  private dstText: string | undefined;
  private tcpInfo: TcpInfo | undefined;

  constructor(
    readonly packet: CapturedPacket,
    readonly proto: 'tcp' | 'udp',
    readonly ipVersion: 4 | 6,
    /** Where the addresses are (the bytes the packet was read from; for a reassembled datagram, its last fragment's). */
    readonly addressBytes: Uint8Array,
    readonly srcAt: number,
    readonly dstAt: number,
    readonly srcPort: number,
    readonly dstPort: number,
    /** TCP sequence number, acknowledgment number, flags and window (0 for UDP). */
    readonly seq: number,
    readonly ack: number,
    readonly flags: number,
    readonly window: number,
    readonly payload: Uint8Array,
    readonly payloadOffset: number,
    /** Payload bytes that were on the wire but not in the capture (snaplen). */
    readonly missing: number,
    readonly vlans: number[] | undefined,
    /** Frame numbers of the IP fragments this datagram was reassembled from. */
    readonly fragments: number[] | undefined,
  ) {}

  /** The TCP header's fields; undefined for UDP. */
  get tcp(): TcpInfo | undefined {
    if (this.proto !== 'tcp') return undefined;
    return (this.tcpInfo ??= { seq: this.seq, ack: this.ack, flags: this.flags, window: this.window });
  }

  get src(): string {
    return (this.srcText ??= ipAddressText(this.addressBytes, this.srcAt, this.ipVersion));
  }

  get dst(): string {
    return (this.dstText ??= ipAddressText(this.addressBytes, this.dstAt, this.ipVersion));
  }
}

export interface SkippedPacket {
  readonly packet: CapturedPacket;
  /** Why: `not IP (ethertype 0x0806)`, `IP fragment`, `ICMP`... */
  readonly skip: string;
}

/**
 * Link, IP and TCP/UDP headers off; anything else is a reason to skip.
 * Stateless: an IP fragment is skipped (PacketDissector reassembles them).
 */
export function dissectPacket(packet: CapturedPacket): TransportPacket | SkippedPacket {
  const buffer = packet.buffer;
  const d = buffer ?? packet.data;
  const start = buffer ? (packet.start ?? 0) : 0;
  const end = buffer ? (packet.end ?? d.length) : d.length;
  const link = decodeLink(packet.linkType, d, start, end);
  if (link.ipVersion === 0) return { packet, skip: `not IP (${link.other})` };
  const ip = decodeIp(d, start + link.offset, link.ipVersion, undefined, end);
  if ('error' in ip) return { packet, skip: ip.error };
  if (ip.fragment) return { packet, skip: 'IP fragment (not reassembled)' };
  return transportOf(packet, ip, d, ip.payloadStart, ip.payloadEnd, ip.truncated, packet.fileOffset - start, link.vlans, undefined);
}

/**
 * dissectPacket with IP fragments put back together: a fragment gives
 * `undefined` while its datagram waits, and the datagram is dissected when
 * its last fragment is in (bounded by FragmentLimits, in capture time).
 */
export class PacketDissector {
  readonly fragments: IpFragmentReassembler;
  /** Each packet's IP header is read into this (nothing keeps it past dissect). */
  private readonly ip = ipScratch();

  constructor(limits: Partial<FragmentLimits> = {}) {
    this.fragments = new IpFragmentReassembler(limits);
  }

  dissect(packet: CapturedPacket): TransportPacket | SkippedPacket | undefined {
    // Read in place when the reader says where the packet lies (no view per packet).
    const buffer = packet.buffer;
    const d = buffer ?? packet.data;
    const start = buffer ? (packet.start ?? 0) : 0;
    const end = buffer ? (packet.end ?? d.length) : d.length;
    const link = decodeLink(packet.linkType, d, start, end);
    if (link.ipVersion === 0) return { packet, skip: `not IP (${link.other})` };
    const ip = decodeIp(d, start + link.offset, link.ipVersion, this.ip, end);
    if ('error' in ip) return { packet, skip: ip.error };
    // File offset of d[0]: offsets below are d's.
    const fileBase = packet.fileOffset - start;
    if (!ip.fragment) return transportOf(packet, ip, d, ip.payloadStart, ip.payloadEnd, ip.truncated, fileBase, link.vlans, undefined);
    const key = `${ip.version}|${ipAddressText(d, ip.srcAt, ip.version)}|${ipAddressText(d, ip.dstAt, ip.version)}|${ip.protocol}|${ip.fragment.id}`;
    const r = this.fragments.add(key, ip.fragment, d.subarray(ip.payloadStart, ip.payloadEnd), packet.time, packet.number, fileBase + ip.payloadStart, ip.truncated > 0);
    if (r.kind === 'held') return undefined;
    if (r.kind === 'dropped') return { packet, skip: `IP fragments dropped (${r.reason})` };
    // The datagram's transport header is at 0 of the reassembled payload; file offsets are the first fragment's.
    return transportOf(packet, ip, r.payload, 0, r.payload.length, 0, r.fileOffset, link.vlans, r.packets, d);
  }

  /** The capture ended: datagrams still missing fragments are given up (counted in fragments.dropped). */
  end(): void {
    this.fragments.flush();
  }
}

/** The payload of a segment that carries none (zero bytes: nothing can write to it, so one is shared). */
const NO_PAYLOAD = new Uint8Array(0);

/** The TCP or UDP header at `at` of `d` (IP payload up to `end`). */
function transportOf(
  packet: CapturedPacket,
  ip: IpResult,
  d: Uint8Array,
  at: number,
  end: number,
  wireMissing: number,
  /** File offset of d[0] (a packet) or of the reassembled payload's first byte. */
  fileBase: number,
  vlans: number[] | undefined,
  fragments: number[] | undefined,
  addressBytes: Uint8Array = d,
): TransportPacket | SkippedPacket {
  if (ip.protocol === IPPROTO.TCP) {
    if (end < at + 20) return { packet, skip: 'truncated TCP header' };
    const dataOffset = (d[at + 12]! >> 4) * 4;
    if (dataOffset < 20) return { packet, skip: `TCP data offset ${dataOffset} < 20` };
    if (end < at + dataOffset) return { packet, skip: 'truncated TCP options' };
    const start = at + dataOffset;
    return new TransportPacket(
      packet,
      'tcp',
      ip.version,
      addressBytes,
      ip.srcAt,
      ip.dstAt,
      (d[at]! << 8) | d[at + 1]!,
      (d[at + 2]! << 8) | d[at + 3]!,
      ((d[at + 4]! << 24) | (d[at + 5]! << 16) | (d[at + 6]! << 8) | d[at + 7]!) >>> 0,
      ((d[at + 8]! << 24) | (d[at + 9]! << 16) | (d[at + 10]! << 8) | d[at + 11]!) >>> 0,
      d[at + 13]!,
      (d[at + 14]! << 8) | d[at + 15]!,
      // A bare ACK (half the packets of a transfer) carries nothing: no view made for it.
      end > start ? d.subarray(start, end) : NO_PAYLOAD,
      fileBase + start,
      wireMissing,
      vlans,
      fragments,
    );
  }
  if (ip.protocol === IPPROTO.UDP) {
    if (end < at + 8) return { packet, skip: 'truncated UDP header' };
    const udpLength = (d[at + 4]! << 8) | d[at + 5]!;
    const start = at + 8;
    // The UDP length bounds the payload (Ethernet padding follows it).
    const stop = udpLength >= 8 ? Math.min(end, at + udpLength) : end;
    return new TransportPacket(packet, 'udp', ip.version, addressBytes, ip.srcAt, ip.dstAt, (d[at]! << 8) | d[at + 1]!, (d[at + 2]! << 8) | d[at + 3]!, 0, 0, 0, 0, d.subarray(start, stop), fileBase + start, Math.max(0, at + udpLength - end), vlans, fragments);
  }
  return { packet, skip: `IP protocol ${ip.protocol}` };
}

export function isSkipped(p: TransportPacket | SkippedPacket): p is SkippedPacket {
  return 'skip' in p;
}
