import { PiecePicker } from './piece-picker.js';
import { PieceVerifier } from './piece-verifier.js';
import { RateMeter } from './rate.js';
import type { PeerSession } from '../peer/session.js';
import type { Message } from '../wire/messages.js';
import { bitfieldLength } from '../wire/bitfield.js';
import { LOCAL_EXTENSION_IDS } from '../wire/extended.js';
import type { SwarmOptions } from './swarm-options.js';
import { newSwarmPeer, closeForViolation, type SwarmPeer, type KnownPeerState } from './swarm-peer.js';
import { SwarmUploads } from './swarm-uploads.js';
import { SwarmPex } from './swarm-pex.js';
import { answerMetadataRequest, HashRequestAnswers } from './swarm-answers.js';
import { BlockWriter } from './block-writer.js';
import { PieceCheck, RIGHT, type PieceCheckResult } from './swarm-verify.js';

export type { SwarmPeer, KnownPeerState } from './swarm-peer.js';
export type { SwarmOptions } from './swarm-options.js';
export { MAX_UPLOAD_QUEUE } from './swarm-uploads.js';

/**
 * One torrent's swarm as seen by btscope: every connected peer, both roles at
 * once. As a downloader it keeps each peer's request pipeline full (sized to
 * the peer's rate, never above its `reqq`), writes blocks at their offsets
 * (gathered per piece run), hashes pieces as their blocks arrive, announces
 * them with have, and bans peers whose data fails (smart ban: a failed piece
 * is fetched again from one peer alone; its sender is banned if it fails
 * again, and whoever sent a block that differs from the verified one is
 * banned when it passes; an honest peer that shared a piece with a liar is
 * never blamed). As a seeder it answers interested peers,
 * unchokes a few, and serves verified pieces (also ut_metadata, so magnet
 * links work against it). In both roles it tells peers that offer ut_pex of
 * its other peers (BEP 11) and hands the peers they tell of to `onPeers`.
 *
 * This file holds the peers, the dispatch of their messages, the request
 * pipelines and what follows a piece's check. The parts, each over the state
 * it is handed: swarm-uploads.ts (choker, requests, serving), swarm-pex.ts
 * (ut_pex), swarm-answers.ts (ut_metadata and BEP 52 hash requests),
 * block-writer.ts (blocks to disk) and swarm-verify.ts (hashing, smart ban).
 */
export class Swarm {
  readonly picker: PiecePicker<SwarmPeer>;
  readonly peers = new Set<SwarmPeer>();
  readonly banned = new Set<string>();
  readonly downloaded: RateMeter = new RateMeter();
  readonly uploaded: RateMeter = new RateMeter();
  hashFailures = 0;
  /** Bytes of verified pieces fetched in this session. */
  verifiedBytes = 0;
  /** Blocks that arrived unrequested or twice (endgame losers). */
  wastedBytes = 0;
  /** Addresses that sent at least one accepted block. */
  readonly dataPeers = new Set<string>();
  readonly completion: Promise<void>;
  private readonly uploads: SwarmUploads;
  private readonly pex: SwarmPex;
  private readonly hashRequests: HashRequestAnswers;
  private readonly writer: BlockWriter;
  private readonly check: PieceCheck<SwarmPeer>;
  private tickTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private completeResolve!: () => void;
  private failure: ((e: Error) => void) | undefined;
  private stopped = false;

  constructor(readonly o: SwarmOptions) {
    const t = o.torrent;
    const now = (this.now = o.now ?? Date.now);
    const log = o.log;
    const picker = (this.picker = new PiecePicker<SwarmPeer>({
      pieceCount: t.pieceCount,
      pieceLength: t.pieceLength,
      totalLength: t.length,
      ...(o.random ? { random: o.random } : {}),
    }));
    for (const i of o.have ?? []) picker.setHave(i);
    const peers = this.peers;
    // The parts get the options they document (their context interfaces) and the swarm's shared state.
    this.uploads = new SwarmUploads({ ...o, picker, peers, uploaded: this.uploaded, now });
    this.pex = new SwarmPex({ ...o, picker, peers, now });
    this.hashRequests = new HashRequestAnswers(t, log);
    this.writer = new BlockWriter({
      storage: o.storage,
      pieceLength: t.pieceLength,
      maxUnwrittenBytes: o.maxUnwrittenBytes,
      pieceWritten: (index) => void this.verify(index),
      caughtUp: () => {
        for (const q of this.peers) this.refill(q);
      },
      fail: (e) => this.fail(e),
    });
    this.check = new PieceCheck<SwarmPeer>(PieceVerifier.forTorrent(o.storage, t), (i) => picker.pieceSize(i), picker.blockSize);
    this.completion = new Promise<void>((res, rej) => {
      this.completeResolve = res;
      this.failure = rej;
    });
    this.completion.catch(() => {});
    if (picker.complete) this.completeResolve();
    this.tickTimer = setInterval(() => this.tick(), 250);
    this.tickTimer.unref();
  }

  get peersWithData(): number {
    return this.dataPeers.size;
  }

  get complete(): boolean {
    return this.picker.complete;
  }

  /** Bytes of the torrent we have verified (including resumed pieces). */
  get haveBytes(): number {
    let n = 0;
    const t = this.o.torrent;
    for (let i = 0; i < t.pieceCount; i++) if (this.picker.hasPiece(i)) n += this.picker.pieceSize(i);
    return n;
  }

  /**
   * Take over a handshaken session (`outgoing`: we dialled it). A session
   * that already greeted (a magnet's metadata connection) comes with what its
   * first owner learned of the peer (`known`); it gets our pieces as haves.
   */
  add(session: PeerSession, onClose?: (error?: Error) => void, how: { outgoing?: boolean; known?: KnownPeerState } = {}): SwarmPeer | undefined {
    if (this.stopped || this.banned.has(session.peer)) {
      session.close();
      onClose?.();
      return undefined;
    }
    const p = newSwarmPeer(session, this.now(), how.outgoing ?? false, how.known);
    this.peers.add(p);
    this.picker.addPeer(p);
    this.pex.changed();
    // Our greeting and the answers to what came with their handshake leave in one write.
    session.cork();
    try {
      if (!session.greeted) {
        // BEP 6: have all / have none replace the bitfield when both sides are fast; first, then the extended handshake.
        if (session.fast && this.picker.complete) session.greet({ type: 'have_all' });
        else if (session.fast && this.picker.piecesHave === 0) session.greet({ type: 'have_none' });
        else session.greet({ type: 'bitfield', bitfield: this.picker.bitfield() });
      } else {
        // Past the first message: what we have goes out as haves (BEP 3).
        for (let i = 0; i < this.o.torrent.pieceCount; i++) if (this.picker.hasPiece(i)) session.send({ type: 'have', index: i });
      }
      this.uploads.offerAllowedFast(p);
      if (how.known) this.learnKnown(p, how.known);
      session.attach({
        message: (m) => this.onMessage(p, m),
        close: (e) => {
          this.drop(p);
          onClose?.(e);
        },
        drain: () => this.uploads.serve(p),
      });
    } finally {
      session.uncork();
    }
    return p;
  }

  /** What a session's first owner learned of the peer, as if its messages had come here. */
  private learnKnown(p: SwarmPeer, k: KnownPeerState): void {
    if (k.peerHasAll) this.picker.peerHaveAll(p);
    else if (k.peerPieces.length === bitfieldLength(this.o.torrent.pieceCount)) this.picker.peerBitfield(p, k.peerPieces);
    for (const i of k.allowedFast) if (i < this.o.torrent.pieceCount) this.picker.peerAllowedFast(p, i);
    if (p.session.remoteExtended) this.onExtended(p, 0, new Uint8Array(0));
    else this.updateInterest(p);
    if (!k.peerChoking) {
      p.peerChoking = false;
      this.picker.peerUnchoked(p);
      this.fill(p);
    }
  }

  private drop(p: SwarmPeer): void {
    if (!this.peers.delete(p)) return;
    this.picker.removePeer(p);
    this.pex.changed();
    this.o.log?.(`peer ${p.session.peer} closed`);
    for (const q of this.peers) this.fill(q);
  }

  private onMessage(p: SwarmPeer, m: Message): void {
    const t = this.o.torrent;
    switch (m.type) {
      case 'bitfield':
        if (m.bitfield.length !== bitfieldLength(t.pieceCount)) return this.violation(p, `bitfield of ${m.bitfield.length} bytes for ${t.pieceCount} pieces`);
        this.picker.peerBitfield(p, m.bitfield);
        this.pex.changed();
        return this.updateInterest(p);
      case 'have':
        if (m.index >= t.pieceCount) return this.violation(p, `have for piece ${m.index} of ${t.pieceCount}`);
        if (this.picker.peerHave(p, m.index) && !p.amInterested) this.updateInterest(p);
        if (!p.peerChoking) this.fill(p);
        return;
      case 'have_all':
        this.picker.peerHaveAll(p);
        this.pex.changed();
        return this.updateInterest(p);
      case 'have_none':
        this.picker.peerHaveNone(p);
        return this.updateInterest(p);
      case 'choke':
        p.peerChoking = true;
        // BEP 6: with the fast extension the peer rejects what it drops; without it, choke voids every request.
        if (!p.session.fast) this.picker.cancelAll(p);
        return;
      case 'unchoke':
        p.peerChoking = false;
        this.picker.peerUnchoked(p);
        return this.fill(p);
      case 'interested':
        p.peerInterested = true;
        return this.uploads.choker();
      case 'not_interested':
        p.peerInterested = false;
        return this.uploads.choker();
      case 'request':
        return this.uploads.request(p, m);
      case 'cancel':
        return this.uploads.cancel(p, m);
      case 'piece':
        return this.onBlock(p, m.index, m.begin, m.block);
      case 'reject_request':
        // BEP 6: the block goes to another peer; this one is not asked for it again until it unchokes us anew.
        this.picker.rejected(p, m.index, m.begin);
        for (const q of this.peers) if (q !== p && !q.session.closed) this.fill(q);
        return this.fill(p);
      case 'allowed_fast':
        this.picker.peerAllowedFast(p, m.index);
        return this.fill(p);
      case 'extended':
        return this.onExtended(p, m.extId, m.payload);
      case 'hash_request':
        return this.hashRequests.answer(p.session, m);
      case 'keep_alive':
      case 'port':
      case 'suggest_piece':
      case 'hashes':
      case 'hash_reject':
      case 'unknown':
        return;
    }
  }

  /** BEP 10: a later extended handshake (id 0) may offer ut_pex; BEP 11 contacts in, BEP 9 requests answered. */
  private onExtended(p: SwarmPeer, extId: number, payload: Uint8Array): void {
    if (extId === 0) {
      this.pex.changed();
      this.pex.offered(p);
      return this.updateInterest(p);
    }
    const name = p.session.extensions.nameFor('in', extId);
    if (name === 'ut_pex' && extId === LOCAL_EXTENSION_IDS.ut_pex) return this.pex.received(payload);
    if (name === 'ut_metadata') answerMetadataRequest(p.session, payload, this.o.torrent.info);
  }

  private violation(p: SwarmPeer, what: string): void {
    closeForViolation(p, what, this.o.log);
  }

  private updateInterest(p: SwarmPeer): void {
    const want = this.picker.interesting(p);
    if (want !== p.amInterested) {
      p.amInterested = want;
      p.session.send({ type: want ? 'interested' : 'not_interested' });
    }
    this.fill(p);
  }

  /**
   * Top the pipeline up once the socket chunk being parsed is done (a
   * microtask), and only when a batch's worth is missing: a 64 KiB chunk holds
   * about four blocks, so this sends requests in batches, not one small write
   * per block.
   */
  private refill(p: SwarmPeer): void {
    if (p.refillQueued) return;
    p.refillQueued = true;
    queueMicrotask(() => {
      p.refillQueued = false;
      this.fill(p, true);
    });
  }

  /** Keep the peer's pipeline at its target depth (`batched`: only when at least a batch is missing). */
  private fill(p: SwarmPeer, batched = false): void {
    if (p.session.closed || this.picker.complete) return;
    const reqq = p.session.remoteExtended?.reqq ?? this.o.defaultReqq ?? 250;
    const depth = Math.max(1, Math.min(p.queue, reqq, this.o.maxQueue ?? 1024));
    const outstanding = this.picker.outstanding(p);
    const want = depth - outstanding;
    if (want <= 0) return;
    if (batched && outstanding > 0 && want < Math.min(16, Math.ceil(depth / 4))) return;
    // Backpressure from the disk: no new requests while too much waits to be written.
    if (this.writer.overBudget && outstanding > 0) return;
    const reqs = this.picker.pick(p, want, p.peerChoking);
    if (reqs.length === 0) return;
    if (this.picker.outstanding(p) === reqs.length) p.lastBlockAt = this.now(); // the stall clock starts with the first request
    p.session.sendBatch(reqs.map((r) => ({ type: 'request' as const, ...r })));
  }

  private onBlock(p: SwarmPeer, index: number, begin: number, block: Uint8Array): void {
    const now = this.now();
    p.lastBlockAt = now;
    p.stalls = 0;
    p.down.add(block.length, now);
    this.downloaded.add(block.length, now);
    const r = this.picker.received(p, index, begin, block.length);
    if (!r.accepted) {
      this.wastedBytes += block.length;
      return this.refill(p);
    }
    p.gotData = true;
    this.dataPeers.add(p.session.peer);
    for (const other of r.cancel) other.session.send({ type: 'cancel', index, begin, length: block.length });
    this.check.along(index, begin, block);
    this.o.journal?.markWritten(index);
    this.writer.add(index, begin, block, r.pieceDone);
    this.refill(p);
  }

  /** Every waiting block to disk, and those writes done (before stopping). */
  async flushAll(): Promise<void> {
    this.writer.flushAll();
    await this.o.storage.drain();
  }

  /** A complete piece is on disk: check it; have to every peer, or strikes and smart ban's suspects. */
  private async verify(index: number): Promise<void> {
    const contributors = this.picker.contributors(index);
    let result: PieceCheckResult<SwarmPeer>;
    if (this.check.verifiedAlong(index)) result = RIGHT;
    else {
      try {
        result = await this.check.readBack(index);
      } catch (e) {
        return this.fail(e as Error);
      }
    }
    if (this.stopped) return;
    if (result.ok) return this.verified(index, result.liars);
    this.hashFailed(index, contributors, result.digests);
  }

  /** A piece passed: ban who lied about it before (smart ban), have to every peer. */
  private async verified(index: number, liars: readonly SwarmPeer[]): Promise<void> {
    for (const l of liars) this.ban(l, `sent corrupt data for piece ${index}`);
    this.picker.verified(index);
    this.verifiedBytes += this.picker.pieceSize(index);
    await this.o.journal?.markVerified(index);
    for (const q of this.peers) {
      q.session.send({ type: 'have', index });
      if (q.amInterested && !this.picker.interesting(q)) this.updateInterest(q);
    }
    this.o.onPiece?.(index);
    if (this.picker.complete) this.completeResolve();
  }

  /**
   * A piece failed. Sent by one peer alone, that peer lied: banned. Mixed
   * (libtorrent's smart ban): nobody is blamed yet; each sender's block
   * digests are kept and the piece is fetched again from one peer alone; when
   * it verifies, the senders whose blocks differ are banned (`verified`), and
   * if it fails again, its one sender is.
   */
  private hashFailed(index: number, contributors: SwarmPeer[], digests: Buffer[]): void {
    this.hashFailures++;
    this.check.suspect(index, this.picker.failed(index), digests);
    this.o.onHashFailure?.(index, contributors.map((c) => c.session.peer));
    if (contributors.length === 1) this.ban(contributors[0]!, `sent piece ${index} alone and it failed its hash check`);
    for (const q of this.peers) this.fill(q);
  }

  ban(p: SwarmPeer, reason: string): void {
    if (this.banned.has(p.session.peer)) return;
    this.banned.add(p.session.peer);
    this.o.onBan?.(p.session.peer, reason);
    this.o.log?.(`banned ${p.session.peer}: ${reason}`);
    p.session.close(new Error(`banned: ${reason}`));
  }

  // ---- timers ---------------------------------------------------------------

  private tick(): void {
    const now = this.now();
    this.pex.tick(now);
    const timeout = this.o.requestTimeoutMs ?? 15_000;
    for (const p of this.peers) {
      // Pipeline depth: about 1.5 s of this peer's current rate, at least 16 blocks.
      const rate = p.down.rate(now);
      p.queue = Math.max(16, Math.ceil((rate * 1.5) / this.picker.blockSize));
      if (this.picker.outstanding(p) > 0 && now - p.lastBlockAt > timeout) {
        p.stalls++;
        this.o.log?.(`peer ${p.session.peer} stalled (${p.stalls}); its requests go to others`);
        const dropped = this.picker.cancelAll(p);
        if (p.session.fast || !p.peerChoking) p.session.sendBatch(dropped.map((r) => ({ type: 'cancel' as const, ...r })));
        p.lastBlockAt = now;
        if (p.stalls >= 2) p.session.close(new Error('stalled twice'));
        for (const q of this.peers) if (q !== p) this.fill(q);
      } else this.fill(p);
    }
  }

  private fail(e: Error): void {
    this.o.log?.(`fatal: ${e.message}`);
    this.failure?.(e);
  }

  /** Tell peers we are done downloading (not interested), keep serving. */
  finishedDownloading(): void {
    for (const p of this.peers) if (p.amInterested) this.updateInterest(p);
  }

  /** Close every peer and stop the timers. */
  async stop(): Promise<void> {
    this.writer.flushAll();
    this.stopped = true;
    this.pex.stop();
    clearInterval(this.tickTimer);
    this.uploads.stop();
    for (const p of [...this.peers]) p.session.close();
    this.peers.clear();
  }
}
