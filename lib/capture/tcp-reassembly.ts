import { TCP_FLAGS, type TcpInfo } from './transport.js';
import { ownedCopy } from './copy.js';

/** What one direction of a TCP connection hands on, in stream order. */
export interface StreamSink {
  /** In-order bytes at stream `offset` (a view into the capture; copy it to keep it). */
  data(offset: number, bytes: Uint8Array, packet: number): void;
  /** Bytes [offset, offset + length) were never captured; decoding must resynchronise. */
  gap(offset: number, length: number, packet: number, reason: GapReason): void;
}

export type GapReason = 'acked_unseen' | 'buffer_full' | 'capture_end' | 'snaplen';

export interface ReassemblyLimits {
  /** Out-of-order bytes held per direction before the gap in front of them is given up. */
  maxPendingBytes: number;
  /** Out-of-order segments held per direction. */
  maxPendingSegments: number;
}

export const DEFAULT_REASSEMBLY_LIMITS: Readonly<ReassemblyLimits> = {
  maxPendingBytes: 8 * 1024 * 1024,
  maxPendingSegments: 512,
};

interface Pending {
  offset: number;
  bytes: Uint8Array;
  packet: number;
}

/** Counters a direction keeps, for the summary and the tests. */
export interface ReassemblyStats {
  segments: number;
  retransmittedBytes: number;
  overlapBytes: number;
  outOfOrderSegments: number;
  gaps: number;
  gapBytes: number;
}

/**
 * One direction of a TCP connection put back in order (RFC 9293 sequence
 * space, 32-bit wrapping). Stream offset 0 is the byte after the SYN, or the
 * first byte seen when the connection's start was not captured. In-order
 * segments are passed on as views (no copy); only out-of-order segments are
 * copied while they wait. Retransmissions and overlaps are trimmed; a hole is
 * given up (reported as a gap) when the other side acknowledges past it, when
 * too much waits behind it, or when the capture ends.
 */
export class TcpDirection {
  /** Sequence number of stream offset 0, once known. */
  private base: number | undefined;
  /** Stream offset of the next byte expected. */
  next = 0;
  private pending: Pending[] = [];
  private pendingBytes = 0;
  finSeen = false;
  synSeen = false;
  readonly stats: ReassemblyStats = { segments: 0, retransmittedBytes: 0, overlapBytes: 0, outOfOrderSegments: 0, gaps: 0, gapBytes: 0 };
  private readonly limits: ReassemblyLimits;

  constructor(
    private readonly sink: StreamSink,
    limits: Partial<ReassemblyLimits> = {},
  ) {
    this.limits = { ...DEFAULT_REASSEMBLY_LIMITS, ...limits };
  }

  get started(): boolean {
    return this.base !== undefined;
  }

  /** Stream offset of a sequence number, unwrapped around the next expected byte. */
  offsetOf(seq: number): number {
    if (this.base === undefined) return 0;
    const expected = (this.base + this.next) >>> 0;
    return this.next + ((seq - expected) | 0);
  }

  /**
   * A segment of this direction. `missing` is how many payload bytes the
   * snaplen cut off the end: they become a gap.
   */
  segment(tcp: TcpInfo, payload: Uint8Array, packet: number, missing = 0): void {
    const syn = (tcp.flags & TCP_FLAGS.SYN) !== 0;
    if (syn) this.synSeen = true;
    if (this.base === undefined) {
      if (syn) this.base = (tcp.seq + 1) >>> 0;
      else if (payload.length > 0 || missing > 0) this.base = tcp.seq;
      else return;
    }
    if (tcp.flags & TCP_FLAGS.FIN) this.finSeen = true;
    const len = payload.length + missing;
    if (len === 0) return;
    this.stats.segments++;
    let offset = this.offsetOf(syn ? (tcp.seq + 1) >>> 0 : tcp.seq);
    let bytes = payload;
    const end = offset + len;
    if (end <= this.next) {
      this.stats.retransmittedBytes += len;
      return;
    }
    if (offset < this.next) {
      const cut = this.next - offset;
      this.stats.overlapBytes += cut;
      if (cut >= bytes.length) {
        // Only snaplen-missing bytes remain past `next`.
        this.deliver(this.next, new Uint8Array(0), packet, end - this.next);
        return;
      }
      bytes = bytes.subarray(cut);
      offset = this.next;
    }
    if (offset === this.next) {
      this.deliver(offset, bytes, packet, missing);
      this.drain();
      return;
    }
    // A hole before this segment: wait for it.
    this.stats.outOfOrderSegments++;
    // Copied: a view would keep the reader's whole chunk alive while it waits.
    // Snaplen-cut bytes at its end become a hole reported when it is given up.
    this.insert({ offset, bytes: ownedCopy(bytes), packet });
    while (
      this.pending.length > 0 &&
      (this.pendingBytes > this.limits.maxPendingBytes || this.pending.length > this.limits.maxPendingSegments)
    ) {
      this.skipTo(this.pending[0]!.offset, this.pending[0]!.packet, 'buffer_full');
    }
  }

  /**
   * The other side acknowledged `ack`: bytes before it were received, so a hole
   * in front of it will not be filled by a retransmission.
   */
  acknowledged(ack: number, packet: number): void {
    if (this.base === undefined || this.pending.length === 0) return;
    const ackOffset = this.offsetOf(ack);
    if (ackOffset <= this.next) return;
    const first = this.pending[0]!;
    this.skipTo(Math.min(ackOffset, first.offset), packet, 'acked_unseen');
  }

  /** The capture ended: give up every hole and pass on what waits. */
  flush(packet: number): void {
    while (this.pending.length > 0) this.skipTo(this.pending[0]!.offset, packet, 'capture_end');
  }

  private deliver(offset: number, bytes: Uint8Array, packet: number, missing: number): void {
    if (bytes.length > 0) this.sink.data(offset, bytes, packet);
    this.next = offset + bytes.length;
    if (missing > 0) {
      this.stats.gaps++;
      this.stats.gapBytes += missing;
      this.sink.gap(this.next, missing, packet, 'snaplen');
      this.next += missing;
    }
  }

  private skipTo(offset: number, packet: number, reason: GapReason): void {
    if (offset > this.next) {
      this.stats.gaps++;
      this.stats.gapBytes += offset - this.next;
      this.sink.gap(this.next, offset - this.next, packet, reason);
      this.next = offset;
    }
    this.drain();
  }

  private drain(): void {
    while (this.pending.length > 0) {
      const p = this.pending[0]!;
      if (p.offset > this.next) return;
      this.pending.shift();
      this.pendingBytes -= p.bytes.length;
      const end = p.offset + p.bytes.length;
      if (end <= this.next) {
        this.stats.retransmittedBytes += p.bytes.length;
        continue;
      }
      const bytes = p.offset < this.next ? p.bytes.subarray(this.next - p.offset) : p.bytes;
      if (p.offset < this.next) this.stats.overlapBytes += this.next - p.offset;
      this.deliver(this.next, bytes, p.packet, 0);
    }
  }

  private insert(p: Pending): void {
    let i = this.pending.length;
    while (i > 0 && this.pending[i - 1]!.offset > p.offset) i--;
    this.pending.splice(i, 0, p);
    this.pendingBytes += p.bytes.length;
  }
}
