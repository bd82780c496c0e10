import { ipText } from '../core/address.js';

/** IP protocol numbers we follow. */
export const IPPROTO = { TCP: 6, UDP: 17 } as const;

export interface IpResult {
  readonly version: 4 | 6;
  /** Offsets of the source and destination addresses (4 or 16 bytes) in the packet data; text via ipAddressText. */
  readonly srcAt: number;
  readonly dstAt: number;
  /** The transport protocol; for a fragment, that of the datagram it belongs to. */
  readonly protocol: number;
  /** Offsets of the transport header and the end of the IP payload in the packet data. */
  readonly payloadStart: number;
  readonly payloadEnd: number;
  /** Bytes of the IP payload the snaplen cut off. */
  readonly truncated: number;
  /** Part of a fragmented datagram (RFC 791 section 2.3, RFC 8200 section 4.5): reassemble before reading its transport header. */
  readonly fragment: IpFragmentInfo | undefined;
}

export interface IpFragmentInfo {
  /** Identification (16 bits in IPv4, 32 in the IPv6 fragment header). */
  readonly id: number;
  /** Where this fragment's bytes go in the datagram's payload. */
  readonly offset: number;
  /** More fragments follow (MF flag / M bit). */
  readonly more: boolean;
}

export type IpError = { readonly error: string };

/** An IpResult a caller owns and lets the decoders fill (a dissector's per-packet scratch: no allocation per packet). */
export type IpScratch = { -readonly [K in keyof IpResult]: IpResult[K] };

export function ipScratch(): IpScratch {
  return { version: 4, srcAt: 0, dstAt: 0, protocol: 0, payloadStart: 0, payloadEnd: 0, truncated: 0, fragment: undefined };
}

/**
 * IPv4 (RFC 791) or IPv6 (RFC 8200, walking extension headers) at `at`; the
 * packet ends at `end` (default: the end of `d`). With `into`, the result is
 * written there (and is that object).
 */
export function decodeIp(d: Uint8Array, at: number, version: 4 | 6, into?: IpScratch, end = d.length): IpResult | IpError {
  return version === 4 ? decodeIpv4(d, at, into, end) : decodeIpv6(d, at, into, end);
}

function fill(into: IpScratch | undefined, version: 4 | 6, srcAt: number, dstAt: number, protocol: number, payloadStart: number, payloadEnd: number, truncated: number, fragment: IpFragmentInfo | undefined): IpResult {
  if (!into) return { version, srcAt, dstAt, protocol, payloadStart, payloadEnd, truncated, fragment };
  into.version = version;
  into.srcAt = srcAt;
  into.dstAt = dstAt;
  into.protocol = protocol;
  into.payloadStart = payloadStart;
  into.payloadEnd = payloadEnd;
  into.truncated = truncated;
  into.fragment = fragment;
  return into;
}

export function decodeIpv4(d: Uint8Array, at: number, into?: IpScratch, end = d.length): IpResult | IpError {
  if (end < at + 20) return { error: 'truncated IPv4 header' };
  const ihl = (d[at]! & 0x0f) * 4;
  if ((d[at]! >> 4) !== 4) return { error: 'not IPv4' };
  if (ihl < 20) return { error: `IPv4 header length ${ihl} < 20` };
  if (end < at + ihl) return { error: 'truncated IPv4 header' };
  const totalLength = (d[at + 2]! << 8) | d[at + 3]!;
  const flagsFrag = (d[at + 6]! << 8) | d[at + 7]!;
  const more = (flagsFrag & 0x2000) !== 0;
  const fragOffset = (flagsFrag & 0x1fff) * 8;
  // Total length 0 is seen with TCP segmentation offload: trust the capture.
  const wireEnd = totalLength === 0 ? end : at + totalLength;
  const payloadEnd = Math.min(wireEnd, end);
  const fragment = more || fragOffset !== 0 ? { id: (d[at + 4]! << 8) | d[at + 5]!, offset: fragOffset, more } : undefined;
  return fill(into, 4, at + 12, at + 16, d[at + 9]!, at + ihl, Math.max(payloadEnd, at + ihl), Math.max(0, wireEnd - end), fragment);
}

export function decodeIpv6(d: Uint8Array, at: number, into?: IpScratch, end = d.length): IpResult | IpError {
  if (end < at + 40) return { error: 'truncated IPv6 header' };
  const payloadLength = (d[at + 4]! << 8) | d[at + 5]!;
  let next = d[at + 6]!;
  let p = at + 40;
  let fragment: IpFragmentInfo | undefined;
  // Hop-by-hop 0, routing 43, fragment 44, AH 51, destination options 60.
  for (let i = 0; i < 8; i++) {
    if (next === 0 || next === 43 || next === 60) {
      if (end < p + 2) return { error: 'truncated IPv6 extension header' };
      next = d[p]!;
      p += (d[p + 1]! + 1) * 8;
    } else if (next === 44) {
      if (end < p + 8) return { error: 'truncated IPv6 fragment header' };
      const off = (((d[p + 2]! << 8) | d[p + 3]!) >> 3) * 8;
      const more = (d[p + 3]! & 1) !== 0;
      // An atomic fragment (offset 0, no more: RFC 6946) is a whole datagram.
      const id = ((d[p + 4]! << 24) | (d[p + 5]! << 16) | (d[p + 6]! << 8) | d[p + 7]!) >>> 0;
      next = d[p]!;
      p += 8;
      if (off !== 0 || more) {
        // What follows is the fragmentable part, read after reassembly.
        fragment = { id, offset: off, more };
        break;
      }
    } else if (next === 51) {
      if (end < p + 2) return { error: 'truncated IPv6 AH header' };
      next = d[p]!;
      p += (d[p + 1]! + 2) * 4;
    } else break;
  }
  const wireEnd = payloadLength === 0 ? end : at + 40 + payloadLength;
  const payloadEnd = Math.min(wireEnd, end);
  if (p > payloadEnd) return { error: 'IPv6 extension headers run past the packet' };
  return fill(into, 6, at + 8, at + 24, next, p, payloadEnd, Math.max(0, wireEnd - end), fragment);
}

/** An address in the packet data as text: dotted IPv4, or IPv6 as RFC 5952 writes it (IPv4-mapped as `::ffff:1.2.3.4`). */
export function ipAddressText(d: Uint8Array, at: number, version: 4 | 6): string {
  return ipText(d, at, version);
}

/** RFC 5952 text of the 16 bytes at `at`: lower case, longest zero run compressed, IPv4-mapped as `::ffff:1.2.3.4`. */
export function ipv6Text(d: Uint8Array, at: number): string {
  return ipText(d, at, 6);
}

/** `1.2.3.4:80` or `[::1]:80`. */
export { formatEndpoint as endpointText } from '../core/address.js';
