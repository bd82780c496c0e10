import type { IpFragmentInfo } from './ip.js';
import { ownedCopy } from './copy.js';

/**
 * Bounds on IP fragment reassembly, for hostile or lossy captures. Time is
 * capture time (packet timestamps), not the wall clock.
 */
export interface FragmentLimits {
  /** Largest reassembled IP payload (RFC 791: total length is 16 bits; IPv6 without jumbograms likewise). */
  maxDatagramBytes: number;
  /** Datagrams waiting for fragments at once; beyond it the oldest is given up. */
  maxPendingDatagrams: number;
  /** Fragment bytes held at once; beyond it the oldest datagram is given up. */
  maxPendingBytes: number;
  /** A datagram not complete this many seconds after its first fragment is given up (Linux ipfrag_time: 30 s). */
  timeoutSeconds: number;
}

export const DEFAULT_FRAGMENT_LIMITS: Readonly<FragmentLimits> = {
  maxDatagramBytes: 65535,
  maxPendingDatagrams: 1024,
  maxPendingBytes: 16 * 1024 * 1024,
  timeoutSeconds: 30,
};

/** Why a datagram was given up (these are counted as skipped packets). */
export type FragmentDrop = 'timed out' | 'too many pending' | 'too large' | 'overlapping fragments' | 'truncated fragment' | 'incomplete at capture end';

export type FragmentResult =
  | { readonly kind: 'held' }
  | {
      readonly kind: 'complete';
      /** The reassembled IP payload (transport header first): a new buffer. */
      readonly payload: Uint8Array;
      /** Frame numbers of the fragments, in payload order. */
      readonly packets: number[];
      /** File offset of the first fragment's payload (spans past its end do not map to file bytes). */
      readonly fileOffset: number;
    }
  | { readonly kind: 'dropped'; readonly reason: FragmentDrop };

interface Piece {
  offset: number;
  bytes: Uint8Array;
  packet: number;
  fileOffset: number;
}

interface Datagram {
  firstTime: number;
  pieces: Piece[];
  /** Payload length, known once the last fragment (more = false) is in. */
  total: number | undefined;
  covered: number;
  failed: FragmentDrop | undefined;
}

/**
 * IPv4 and IPv6 fragment reassembly (RFC 791 section 3.2, RFC 8200 section
 * 4.5), keyed by the caller on (version, addresses, protocol, id). Fragments
 * are copied while they wait (never views into the reader's chunks); a
 * datagram is handed on when its last fragment is in and no hole remains.
 * Overlapping fragments drop the datagram (RFC 5722: overlap is an attack,
 * not a retransmission to merge); a retransmitted identical fragment is
 * ignored. Memory is bounded by the limits, whatever the capture holds.
 */
export class IpFragmentReassembler {
  private readonly pending = new Map<string, Datagram>();
  private pendingBytes = 0;
  private readonly limits: FragmentLimits;
  /** Datagrams given up, by reason (an incomplete datagram is counted once). */
  readonly dropped: Partial<Record<FragmentDrop, number>> = {};
  reassembled = 0;

  constructor(limits: Partial<FragmentLimits> = {}) {
    this.limits = { ...DEFAULT_FRAGMENT_LIMITS, ...limits };
  }

  get pendingDatagrams(): number {
    return this.pending.size;
  }

  /**
   * One fragment. `bytes` is its part of the payload (a view is fine: it is
   * copied if held); `truncated` when the snaplen cut it (the datagram can
   * then never be whole).
   */
  add(key: string, frag: IpFragmentInfo, bytes: Uint8Array, time: number, packet: number, fileOffset: number, truncated: boolean): FragmentResult {
    this.expire(time);
    let d = this.pending.get(key);
    if (!d) {
      d = { firstTime: time, pieces: [], total: undefined, covered: 0, failed: undefined };
      this.pending.set(key, d);
    }
    if (d.failed) return { kind: 'held' };
    const end = frag.offset + bytes.length;
    if (truncated) return this.fail(key, d, 'truncated fragment');
    if (end > this.limits.maxDatagramBytes) return this.fail(key, d, 'too large');
    if (!frag.more) {
      if (d.total !== undefined && d.total !== end) return this.fail(key, d, 'overlapping fragments');
      d.total = end;
    }
    if (d.total !== undefined && end > d.total) return this.fail(key, d, 'overlapping fragments');
    let i = 0;
    while (i < d.pieces.length && d.pieces[i]!.offset < frag.offset) i++;
    const before = d.pieces[i - 1];
    const after = d.pieces[i];
    if (after && after.offset === frag.offset && after.bytes.length === bytes.length && sameBytes(after.bytes, bytes)) return { kind: 'held' };
    if ((before && before.offset + before.bytes.length > frag.offset) || (after && after.offset < end)) return this.fail(key, d, 'overlapping fragments');
    d.pieces.splice(i, 0, { offset: frag.offset, bytes: ownedCopy(bytes), packet, fileOffset });
    d.covered += bytes.length;
    this.pendingBytes += bytes.length;
    if (d.total !== undefined && d.covered === d.total) {
      this.forget(key, d);
      const payload = new Uint8Array(d.total);
      for (const p of d.pieces) payload.set(p.bytes, p.offset);
      this.reassembled++;
      return { kind: 'complete', payload, packets: d.pieces.map((p) => p.packet), fileOffset: d.pieces[0]!.fileOffset };
    }
    while (this.pending.size > this.limits.maxPendingDatagrams || this.pendingBytes > this.limits.maxPendingBytes) {
      const [oldKey, old] = this.pending.entries().next().value as [string, Datagram];
      if (oldKey === key) break;
      this.giveUp(oldKey, old, 'too many pending');
    }
    return { kind: 'held' };
  }

  /** Give up datagrams whose first fragment is older than the timeout (capture time). */
  expire(now: number): void {
    for (const [key, d] of this.pending) {
      if (now - d.firstTime <= this.limits.timeoutSeconds) return;
      this.giveUp(key, d, 'timed out');
    }
  }

  /** The capture ended: every datagram still waiting is given up. */
  flush(): void {
    for (const [key, d] of this.pending) this.giveUp(key, d, 'incomplete at capture end');
  }

  private fail(key: string, d: Datagram, reason: FragmentDrop): FragmentResult {
    // Keep the key (failed, bytes released) so its later fragments are swallowed, not counted again.
    this.pendingBytes -= d.pieces.reduce((n, p) => n + p.bytes.length, 0);
    d.pieces = [];
    d.failed = reason;
    this.count(reason);
    return { kind: 'dropped', reason };
  }

  private giveUp(key: string, d: Datagram, reason: FragmentDrop): void {
    this.forget(key, d);
    if (!d.failed) this.count(reason);
  }

  private forget(key: string, d: Datagram): void {
    this.pending.delete(key);
    for (const p of d.pieces) this.pendingBytes -= p.bytes.length;
  }

  private count(reason: FragmentDrop): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
