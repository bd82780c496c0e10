import type { Torrent } from '../metainfo/types.js';
import type { PiecePicker, BlockRequest } from './piece-picker.js';
import { WirePieces } from './wire-pieces.js';
import type { Storage } from './storage.js';
import type { RateMeter } from './rate.js';
import { allowedFastSet } from '../wire/allowed-fast.js';
import { judgeRequest, servedWhileChoked, allowedFastIpv4, ALLOWED_FAST_COUNT, type RequestRuleContext } from './upload-rules.js';
import { closeForViolation, type SwarmPeer } from './swarm-peer.js';

/** Requests a peer may have queued with us; the reqq we advertise (BEP 10) says the same. */
export const MAX_UPLOAD_QUEUE = 2048;

/** Pieces a seeder reads ahead of the one it is sending, per peer. */
const READ_AHEAD = 32;

/** What the upload side needs of its swarm. */
export interface UploadContext {
  readonly torrent: Torrent;
  readonly storage: Storage;
  /** Our pieces (hasPiece, pieceSize, blockSize); the upload side never changes it. */
  readonly picker: PiecePicker<SwarmPeer>;
  /** Every connected peer (the choker ranks them). */
  readonly peers: ReadonlySet<SwarmPeer>;
  /** The swarm's upload meter, fed with every byte sent. */
  readonly uploaded: RateMeter;
  /** Peers unchoked at once (default 8). */
  readonly uploadSlots?: number;
  /** Requests queued per peer before more are rejected (default MAX_UPLOAD_QUEUE). */
  readonly maxUploadQueue?: number;
  /** BEP 6 allowed fast pieces offered to each fast peer (default ALLOWED_FAST_COUNT; 0: none). */
  readonly allowedFastCount?: number;
  readonly now: () => number;
  readonly log?: (line: string) => void;
}

/**
 * The swarm's upload side (BEP 3 with BEP 6): the choker, each peer's request
 * queue (judged by upload-rules.ts, rejected and cancelled as BEP 6 says), the
 * allowed fast set we offer, and serving verified pieces from the wire-layout
 * cache in batched, corked, zero-copy writes.
 */
export class SwarmUploads {
  /** Verified pieces read for upload, laid out as piece messages. */
  private readonly wire: WirePieces;
  private readonly pieceSize: (index: number) => number;
  private readonly hasPiece: (index: number) => boolean;
  private stopped = false;

  constructor(private readonly c: UploadContext) {
    const { picker, storage } = c;
    this.pieceSize = (i) => picker.pieceSize(i);
    this.hasPiece = (i) => picker.hasPiece(i);
    this.wire = new WirePieces({
      pieceLength: c.torrent.pieceLength,
      pieceSize: this.pieceSize,
      blockSize: picker.blockSize,
      readParts: (offset, parts) => storage.readParts(offset, parts),
    });
  }

  /** Unchoke interested peers up to the slot count (fastest uploaders to us first), choke the rest. */
  choker(): void {
    const slots = this.c.uploadSlots ?? 8;
    const interested = [...this.c.peers].filter((q) => q.peerInterested && !q.session.closed);
    const now = this.c.now();
    interested.sort((a, b) => b.down.rate(now) - a.down.rate(now));
    const unchoke = new Set(interested.slice(0, slots));
    for (const q of this.c.peers) {
      const should = unchoke.has(q);
      if (should && q.amChoking) {
        q.amChoking = false;
        q.session.send({ type: 'unchoke' });
      } else if (!should && !q.amChoking) {
        q.amChoking = true;
        q.session.send({ type: 'choke' });
        // BEP 6: every request dropped on choke is rejected; allowed fast ones are still served.
        // (One being read from disk is judged when the read completes, in serve().)
        const keep = q.uploads.filter((r) => servedWhileChoked(r, q.session.fast, q.allowedFast));
        if (q.session.fast) for (const r of q.uploads) if (!keep.includes(r)) this.reject(q, r);
        q.uploads.splice(0, q.uploads.length, ...keep);
      }
    }
  }

  request(p: SwarmPeer, m: BlockRequest): void {
    const r: BlockRequest = { index: m.index, begin: m.begin, length: m.length };
    const rules: RequestRuleContext = {
      pieceCount: this.c.torrent.pieceCount,
      pieceSize: this.pieceSize,
      hasPiece: this.hasPiece,
      choking: p.amChoking,
      allowedFast: p.allowedFast,
      fast: p.session.fast,
      queued: p.uploads.length,
      maxQueued: this.c.maxUploadQueue ?? MAX_UPLOAD_QUEUE,
    };
    const j = judgeRequest(r, rules);
    switch (j.verdict) {
      case 'serve':
        p.uploads.push(r);
        return this.serve(p);
      case 'reject':
        return this.reject(p, r);
      case 'close':
        return closeForViolation(p, j.reason!, this.c.log);
      case 'ignore':
        return;
    }
  }

  /** BEP 3 cancel; with the fast extension the cancelled request still gets its one answer, a reject (BEP 6). */
  cancel(p: SwarmPeer, m: BlockRequest): void {
    let at = -1;
    for (let i = 0; i < p.uploads.length && at < 0; i++) if (sameRequest(p.uploads[i]!, m)) at = i;
    if (at >= 0) {
      const [r] = p.uploads.splice(at, 1);
      this.reject(p, r!);
    } else if (p.inFlight && !p.inFlight.cancelled && sameRequest(p.inFlight.r, m)) p.inFlight.cancelled = true;
  }

  /** BEP 6 allowed fast: the canonical set for the peer's IPv4 address, those pieces we have, offered after the bitfield. */
  offerAllowedFast(p: SwarmPeer): void {
    const { torrent } = this.c;
    const k = this.c.allowedFastCount ?? ALLOWED_FAST_COUNT;
    const ip = allowedFastIpv4(p.session.remoteIp);
    if (!p.session.fast || k <= 0 || ip === undefined || torrent.pieceCount === 0) return;
    for (const i of allowedFastSet(k, torrent.pieceCount, p.session.remote.infoHash, ip)) {
      if (!this.hasPiece(i)) continue;
      p.allowedFast.add(i);
      p.session.send({ type: 'allowed_fast', index: i });
    }
  }

  /**
   * Send what the peer asked for while its socket has room. Each piece comes
   * from the wire-layout cache (read once, laid out as piece messages), and
   * a run of queued requests for consecutive blocks of that piece leaves as
   * one slice in one write; everything sent in one go is corked into one
   * writev. Disk reads for the next pieces in the queue start while this one
   * is sent.
   */
  serve(p: SwarmPeer): void {
    if (p.serving) return;
    p.serving = true;
    const step = async (): Promise<void> => {
      let corked = false;
      try {
        while (p.uploads.length > 0 && p.session.writable && !this.stopped) {
          const r = p.uploads.shift()!;
          const flight = { r, cancelled: false };
          p.inFlight = flight;
          this.readAhead(p, r.index);
          const piece = await this.wire.acquire(r.index);
          try {
            p.inFlight = undefined;
            if (p.session.closed) break;
            // Cancelled, or we choked the peer, while the piece was read: still one answer (BEP 6).
            if (flight.cancelled || (p.amChoking && !servedWhileChoked(r, p.session.fast, p.allowedFast))) {
              this.reject(p, r);
              continue;
            }
            // What goes out until the next tick leaves in one writev.
            if (!corked) {
              p.session.cork();
              corked = true;
              process.nextTick(() => {
                corked = false;
                p.session.uncork();
              });
            }
            let bytes = r.length;
            const span = piece.span(r.begin, r.length);
            if (span) {
              // The queued requests for the blocks right after this one join its write.
              const run = [r];
              let end = span[1];
              let next = r.begin + r.length;
              for (;;) {
                const q = p.uploads[0];
                if (q === undefined || q.index !== r.index || q.begin !== next) break;
                const more = piece.block(q.begin, q.length);
                if (!more || more[0] !== end) break;
                run.push(p.uploads.shift()!);
                end = more[1];
                next += q.length;
                bytes += q.length;
              }
              piece.retain();
              p.session.sendPieceMessages(piece.bytes.subarray(span[0], end), run, () => piece.release());
            } else {
              p.session.sendPiece(r.index, r.begin, piece.data(r.begin, r.length));
            }
            const now = this.c.now();
            p.up.add(bytes, now);
            this.c.uploaded.add(bytes, now);
          } finally {
            piece.release();
          }
        }
      } catch (e) {
        this.c.log?.(`serving ${p.session.peer} failed: ${(e as Error).message}`);
        p.session.close(e as Error);
      } finally {
        p.inFlight = undefined;
        p.serving = false;
      }
    };
    void step();
  }

  /** Stop serving (a read in progress ends its peer's loop) and drop the cached pieces. */
  stop(): void {
    this.stopped = true;
    this.wire.clear();
  }

  /** BEP 6 reject_request (only ever sent with the fast extension on). */
  private reject(p: SwarmPeer, r: BlockRequest): void {
    if (p.session.fast) p.session.send({ type: 'reject_request', index: r.index, begin: r.begin, length: r.length });
  }

  /** Start reading the next few pieces this peer asked for, so the disk works while the socket sends. */
  private readAhead(p: SwarmPeer, current: number): void {
    let last = current;
    let started = 0;
    const ahead = Math.min(READ_AHEAD, this.wire.maxPieces >> 1);
    for (const r of p.uploads) {
      if (r.index === last) continue;
      last = r.index;
      this.wire.prefetch(r.index);
      if (++started >= ahead) break;
    }
  }
}

function sameRequest(a: BlockRequest, b: BlockRequest): boolean {
  return a.index === b.index && a.begin === b.begin && a.length === b.length;
}
