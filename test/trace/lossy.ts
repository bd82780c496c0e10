/**
 * Lossy captures made from lossless ones: TCP segments that carry payload are
 * deleted at seeded random (single losses, or bursts of consecutive ones in
 * capture order), so the true message list is the original's.
 */
import { decodeLink } from '../../lib/capture/link.js';
import { decodeIp, IPPROTO } from '../../lib/capture/ip.js';

export interface LossOptions {
  /** Fraction of payload-carrying TCP segments to delete. */
  rate: number;
  seed: number;
  /** Each loss deletes this many consecutive payload segments (default 1). */
  burst?: number;
}

/** mulberry32: a small seeded generator, so a failing case can be replayed from its seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The TCP payload length of a packet (0 when not TCP or empty). */
function tcpPayload(linkType: number, d: Uint8Array): number {
  const link = decodeLink(linkType, d);
  if (link.ipVersion === 0) return 0;
  const ip = decodeIp(d, link.offset, link.ipVersion);
  if ('error' in ip || ip.protocol !== IPPROTO.TCP || ip.fragment) return 0;
  const dataOffset = (d[ip.payloadStart + 12]! >> 4) * 4;
  return Math.max(0, ip.payloadEnd - ip.payloadStart - dataOffset);
}

/** A classic pcap file with some TCP payload segments deleted; also how many were. */
export function dropSegments(pcap: Uint8Array, opts: LossOptions): { file: Uint8Array; dropped: number; segments: number } {
  const v = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
  const magic = v.getUint32(0, true);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && v.getUint32(0, false) !== 0xa1b2c3d4 && v.getUint32(0, false) !== 0xa1b23c4d) throw new Error('not a classic pcap');
  const linkType = v.getUint32(20, le);
  const rand = seeded(opts.seed);
  const burst = opts.burst ?? 1;
  const parts: Uint8Array[] = [pcap.subarray(0, 24)];
  let left = 0;
  let dropped = 0;
  let segments = 0;
  for (let at = 24; at + 16 <= pcap.length; ) {
    const caplen = v.getUint32(at + 8, le);
    const rec = pcap.subarray(at, at + 16 + caplen);
    at += 16 + caplen;
    if (tcpPayload(linkType, rec.subarray(16)) === 0) {
      parts.push(rec);
      continue;
    }
    segments++;
    if (left === 0 && rand() < opts.rate / burst) left = burst;
    if (left > 0) {
      left--;
      dropped++;
      continue;
    }
    parts.push(rec);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return { file: out, dropped, segments };
}
