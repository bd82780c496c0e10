import { createHash, type Hash } from 'node:crypto';
import type { Torrent } from '../metainfo/types.js';
import { PiecePicker, type BlockRequest } from './piece-picker.js';
import { PieceVerifier, blockDigests } from './piece-verifier.js';
import { WirePieces } from './wire-pieces.js';
import type { Storage } from './storage.js';
import type { ResumeJournal } from './resume.js';
import { RateMeter } from './rate.js';
import type { PeerSession } from '../peer/session.js';
import type { Message } from '../wire/messages.js';
import { decodeUtPex, encodeUtPex } from '../wire/ut-pex.js';
import { decodeUtMetadata, encodeUtMetadata, UT_METADATA_PIECE_LENGTH } from '../wire/ut-metadata.js';
import { LOCAL_EXTENSION_IDS } from '../wire/extended.js';
import { allowedFastSet } from '../wire/allowed-fast.js';
import { judgeRequest, servedWhileChoked, allowedFastIpv4, ALLOWED_FAST_COUNT } from './upload-rules.js';
import { PexSender, pexContacts, pexKey, PEX_FIRST_DELAY_MS, PEX_INTERVAL_MS, type PexLimits, type PexPeerView } from './pex-sender.js';
import { answerHashRequest, type PieceTree } from './hash-answer.js';

const DEFAULT_WRITE_BUDGET = 8 * 1024 * 1024;

/** Requests a peer may have queued with us; the reqq we advertise (BEP 10) says the same. */
export const MAX_UPLOAD_QUEUE = 2048;

/** Pieces a seeder reads ahead of the one it is sending, per peer. */
const READ_AHEAD = 32;

/** Consecutive blocks gathered into one write (16 x 16 KiB = 256 KiB). */
const WRITE_RUN = 16;

/**
 * A hashes answer that would leave more than this queued for a peer gets a
 * hash reject instead: a peer that asks and does not read cannot grow our
 * memory (each request of 53 bytes may ask for 8192 hashes, 256 KiB).
 */
const HASH_ANSWER_BUFFER = 4 * 1024 * 1024;

/**
 * One torrent's swarm as seen by btscope: every connected peer, both roles at
 * once. As a downloader it keeps each peer's request pipeline full (sized to
 * the peer's rate, never above its `reqq`), writes blocks at their offsets
 * (gathered per piece run), hashes pieces as their blocks arrive, announces
 * them with have, and bans peers whose data fails (smart ban: a peer whose
 * block differs from the block that finally verified is banned at once;
 * others after repeated failures). As a
 * seeder it answers interested peers, unchokes a few, and serves verified
 * pieces (also ut_metadata, so magnet links work against it). In both roles
 * it tells peers that offer ut_pex of its other peers (BEP 11, pex-sender.ts)
 * and hands the peers they tell of to `onPeers`.
 */
export interface SwarmOptions {
  torrent: Torrent;
  storage: Storage;
  journal?: ResumeJournal;
  /** Pieces already verified on disk. */
  have?: Iterable<number>;
  /** Peers unchoked at once (default 8). */
  uploadSlots?: number;
  /** A peer with requests outstanding and no block for this long has them cancelled (default 15 s); twice closes it. */
  requestTimeoutMs?: number;
  /** Hash failures a peer may take part in before it is banned (default 3). */
  maxStrikes?: number;
  /** Upper bound of any peer's request pipeline (default 1024). */
  maxQueue?: number;
  /**
   * Received bytes not yet on disk (held for gathered writes or being written)
   * before new requests wait for the disk (default 8 MiB): bounds memory when
   * the disk is slower than the network.
   */
  maxUnwrittenBytes?: number;
  /** Requests queued per peer before more are rejected (default MAX_UPLOAD_QUEUE; advertise it as reqq). */
  maxUploadQueue?: number;
  /** BEP 6 allowed fast pieces offered to each fast peer (default ALLOWED_FAST_COUNT; 0: none). */
  allowedFastCount?: number;
  /** Pipeline when the peer gives no reqq (BEP 10 suggests libtorrent's 250). */
  defaultReqq?: number;
  random?: () => number;
  /** Addresses learned through PEX (BEP 11). */
  onPeers?: (peers: { ip: string; port: number }[]) => void;
  /**
   * The port we accept peers on, once known (it is left out of the ut_pex we
   * send: a peer that is ourselves). Undefined: we do not listen.
   */
  listenPort?: () => number | undefined;
  /** BEP 11: at most one ut_pex message per peer per this many ms (default 60 s). */
  pexIntervalMs?: number;
  /** BEP 11: the first ut_pex message to a peer this long after its extended handshake (default 0: at once). */
  pexFirstDelayMs?: number;
  /** BEP 11: added / dropped contacts per message (default 50 each). */
  pexLimits?: PexLimits;
  onPiece?: (index: number) => void;
  onHashFailure?: (index: number, peers: string[]) => void;
  onBan?: (address: string, reason: string) => void;
  log?: (line: string) => void;
  now?: () => number;
}

/** The peer as a session's first owner saw it (PeerConnection's state). */
export interface KnownPeerState {
  readonly peerChoking: boolean;
  readonly peerInterested: boolean;
  readonly amInterested: boolean;
  /** Sized to the torrent's piece count (PeerConnection.setPieceCount). */
  readonly peerPieces: Uint8Array;
  readonly peerHasAll: boolean;
  readonly allowedFast: ReadonlySet<number>;
}

export interface SwarmPeer {
  readonly session: PeerSession;
  amChoking: boolean;
  amInterested: boolean;
  peerChoking: boolean;
  peerInterested: boolean;
  /** Target pipeline depth. */
  queue: number;
  readonly down: RateMeter;
  readonly up: RateMeter;
  lastBlockAt: number;
  stalls: number;
  strikes: number;
  /** Requests from the peer waiting to be served. */
  readonly uploads: BlockRequest[];
  /** The request being served (its piece read from disk); `cancelled` when a cancel came meanwhile. */
  inFlight: { r: BlockRequest; cancelled: boolean } | undefined;
  /** BEP 6 allowed fast pieces we offered this peer: served while it is choked. */
  readonly allowedFast: Set<number>;
  serving: boolean;
  gotData: boolean;
  /** A pipeline top-up is queued for the end of the current socket chunk. */
  refillQueued: boolean;
  /** We dialled it (its remote port is where it listens: BEP 11 "reachable"). */
  readonly outgoing: boolean;
  /** ut_pex we send it (BEP 11): set once its extended handshake offers ut_pex. */
  pex: { readonly sender: PexSender; dueAt: number; sent: number; quietAt: number } | undefined;
}

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
  private readonly verifier: PieceVerifier;
  private readonly pendingWrites = new Map<number, number>();
  private readonly awaitingVerify = new Set<number>();
  private readonly unwritten = new Map<number, { begin: number; block: Uint8Array }[]>();
  private unwrittenBytes = 0;
  private readonly suspects = new Map<number, { peer: SwarmPeer; block: number; digest: Buffer }[]>();
  /** Verified pieces read for upload, laid out as piece messages. */
  private readonly wire: WirePieces;
  /**
   * SHA-1 of each piece fed with its blocks as they arrive in order (the usual
   * case: one peer's requests go out in order), so a finished piece is checked
   * without reading it back. A block out of order drops the piece to the
   * read-back check.
   */
  private readonly running = new Map<number, { hash: Hash; next: number } | null>();
  private tickTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private completeResolve!: () => void;
  private failure: ((e: Error) => void) | undefined;
  readonly completion: Promise<void>;
  private stopped = false;
  /** Bumped when what PEX would list may have changed (a peer came, went, gave its listen port or its pieces). */
  private pexEpoch = 0;
  private pexQueued = false;
  /** BEP 52 trees above each file's piece layer, built on the first request that needs an uncle hash. */
  private readonly hashTrees = new Map<string, PieceTree>();

  constructor(readonly o: SwarmOptions) {
    const t = o.torrent;
    this.now = o.now ?? Date.now;
    this.picker = new PiecePicker<SwarmPeer>({
      pieceCount: t.pieceCount,
      pieceLength: t.pieceLength,
      totalLength: t.length,
      ...(o.random ? { random: o.random } : {}),
    });
    for (const i of o.have ?? []) this.picker.setHave(i);
    this.verifier = PieceVerifier.forTorrent(o.storage, t);
    this.wire = new WirePieces({
      pieceLength: t.pieceLength,
      pieceSize: (i) => this.picker.pieceSize(i),
      blockSize: this.picker.blockSize,
      readParts: (offset, parts) => o.storage.readParts(offset, parts),
    });
    this.completion = new Promise<void>((res, rej) => {
      this.completeResolve = res;
      this.failure = rej;
    });
    this.completion.catch(() => {});
    if (this.picker.complete) this.completeResolve();
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
    const p: SwarmPeer = {
      session,
      amChoking: true,
      amInterested: how.known?.amInterested ?? false,
      peerChoking: true,
      peerInterested: how.known?.peerInterested ?? false,
      queue: 32,
      down: new RateMeter(3000, 12),
      up: new RateMeter(3000, 12),
      lastBlockAt: this.now(),
      stalls: 0,
      strikes: 0,
      uploads: [],
      inFlight: undefined,
      allowedFast: new Set(),
      serving: false,
      gotData: false,
      refillQueued: false,
      outgoing: how.outgoing ?? false,
      pex: undefined,
    };
    this.peers.add(p);
    this.picker.addPeer(p);
    this.pexChanged();
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
      this.offerAllowedFast(p);
      if (how.known) this.learnKnown(p, how.known);
      session.attach({
        message: (m) => this.onMessage(p, m),
        close: (e) => {
          this.drop(p);
          onClose?.(e);
        },
        drain: () => this.serve(p),
      });
    } finally {
      session.uncork();
    }
    return p;
  }

  /** What a session's first owner learned of the peer, as if its messages had come here. */
  private learnKnown(p: SwarmPeer, k: KnownPeerState): void {
    if (k.peerHasAll) this.picker.peerHaveAll(p);
    else if (k.peerPieces.length === Math.ceil(this.o.torrent.pieceCount / 8)) this.picker.peerBitfield(p, k.peerPieces);
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
    this.pexChanged();
    this.o.log?.(`peer ${p.session.peer} closed`);
    for (const q of this.peers) this.fill(q);
  }

  private onMessage(p: SwarmPeer, m: Message): void {
    const t = this.o.torrent;
    switch (m.type) {
      case 'bitfield':
        if (m.bitfield.length !== Math.ceil(t.pieceCount / 8)) return this.violation(p, `bitfield of ${m.bitfield.length} bytes for ${t.pieceCount} pieces`);
        this.picker.peerBitfield(p, m.bitfield);
        this.pexChanged();
        return this.updateInterest(p);
      case 'have':
        if (m.index >= t.pieceCount) return this.violation(p, `have for piece ${m.index} of ${t.pieceCount}`);
        if (this.picker.peerHave(p, m.index) && !p.amInterested) this.updateInterest(p);
        if (!p.peerChoking) this.fill(p);
        return;
      case 'have_all':
        this.picker.peerHaveAll(p);
        this.pexChanged();
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
        return this.choker();
      case 'not_interested':
        p.peerInterested = false;
        return this.choker();
      case 'request':
        return this.onRequest(p, m);
      case 'cancel':
        return this.onCancel(p, m);
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
        return this.onHashRequest(p, m);
      case 'keep_alive':
      case 'port':
      case 'suggest_piece':
      case 'hashes':
      case 'hash_reject':
      case 'unknown':
        return;
    }
  }

  /**
   * BEP 52: a hash request "MUST be answered with either a 'hashes' or 'hash
   * reject' message": exactly one answer, from the piece layers in memory
   * (hash-answer.ts). A v1 torrent, a layer we do not have (a magnet before it
   * was fetched), the block layer, a bad range, or a peer not reading its
   * answers: hash reject, echoing the request.
   */
  private onHashRequest(p: SwarmPeer, m: Extract<Message, { type: 'hash_request' }>): void {
    const t = this.o.torrent;
    const req = { piecesRoot: m.piecesRoot, baseLayer: m.baseLayer, index: m.index, length: m.length, proofLayers: m.proofLayers };
    const a = t.infoHashV2 ? answerHashRequest(t, req, { trees: this.hashTrees }) : ({ ok: false, reason: 'v1', message: 'a v1 torrent has no merkle trees' } as const);
    const queued = p.session.transport.writableLength;
    if (a.ok && queued + a.hashes.length <= HASH_ANSWER_BUFFER) {
      p.session.send({ type: 'hashes', ...req, hashes: a.hashes });
      return;
    }
    const why = a.ok ? `${queued} bytes already queued for it` : `${a.reason}: ${a.message}`;
    this.o.log?.(`peer ${p.session.peer}: hash reject (index ${m.index}, length ${m.length}, base layer ${m.baseLayer}, proof layers ${m.proofLayers}): ${why}`);
    p.session.send({ type: 'hash_reject', ...req });
  }

  private violation(p: SwarmPeer, what: string): void {
    this.o.log?.(`peer ${p.session.peer}: protocol violation: ${what}; closing`);
    p.session.close(new Error(what));
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
    if (this.overWriteBudget && outstanding > 0) return;
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
    this.hashAlong(index, begin, block);
    this.o.journal?.markWritten(index);
    if (r.pieceDone) this.awaitingVerify.add(index);
    // Blocks wait in memory (views into the socket's chunks) and go to disk as
    // one gathered write per run of the piece: when it is complete, every
    // WRITE_RUN blocks, or when too much waits in all.
    let list = this.unwritten.get(index);
    if (!list) this.unwritten.set(index, (list = []));
    list.push({ begin, block });
    this.unwrittenBytes += block.length;
    if (r.pieceDone || list.length >= WRITE_RUN) this.flush(index);
    if (this.overWriteBudget) for (const i of [...this.unwritten.keys()]) this.flush(i);
    this.refill(p);
  }

  /** Blocks received but not yet on disk (waiting or being written) exceed the budget. */
  private get overWriteBudget(): boolean {
    return this.unwrittenBytes > (this.o.maxUnwrittenBytes ?? DEFAULT_WRITE_BUDGET);
  }

  /** Write the piece's waiting blocks: runs of consecutive blocks, each one gathered write. */
  private flush(index: number): void {
    const list = this.unwritten.get(index);
    if (!list) return;
    this.unwritten.delete(index);
    list.sort((a, b) => a.begin - b.begin);
    let start = 0;
    for (let i = 1; i <= list.length; i++) {
      if (i < list.length && list[i]!.begin === list[i - 1]!.begin + list[i - 1]!.block.length) continue;
      const run = list.slice(start, i);
      start = i;
      const bytes = run.reduce((n, b) => n + b.block.length, 0);
      this.pendingWrites.set(index, (this.pendingWrites.get(index) ?? 0) + 1);
      this.o.storage.writeParts(index * this.o.torrent.pieceLength + run[0]!.begin, run.map((b) => b.block)).then(
        () => {
          const wasOver = this.overWriteBudget;
          this.unwrittenBytes -= bytes;
          // The disk caught up: the pipelines held back by the budget may go on.
          if (wasOver && !this.overWriteBudget) for (const q of this.peers) this.refill(q);
          const n = this.pendingWrites.get(index)! - 1;
          if (n > 0) this.pendingWrites.set(index, n);
          else {
            this.pendingWrites.delete(index);
            if (this.awaitingVerify.delete(index)) void this.verify(index);
          }
        },
        (e: Error) => this.fail(e),
      );
    }
  }

  /** Every waiting block to disk, and those writes done (before stopping). */
  async flushAll(): Promise<void> {
    for (const i of [...this.unwritten.keys()]) this.flush(i);
    await this.o.storage.drain();
  }

  private hashAlong(index: number, begin: number, block: Uint8Array): void {
    if (!this.verifier.sha1Only) return; // v2 and hybrid pieces are checked by reading them back
    let r = this.running.get(index);
    if (r === undefined) {
      r = begin === 0 ? { hash: createHash('sha1'), next: 0 } : null;
      this.running.set(index, r);
    }
    if (r === null) return;
    if (r.next !== begin) {
      this.running.set(index, null);
      return;
    }
    r.hash.update(block);
    r.next += block.length;
  }

  private async verify(index: number): Promise<void> {
    const contributors = this.picker.contributors(index);
    let digests: Buffer[] | undefined;
    const suspects = this.suspects.get(index);
    const failedBefore = suspects !== undefined;
    const along = this.running.get(index);
    this.running.delete(index);
    let result: { ok: boolean };
    if (along && this.verifier.sha1Only && along.next === this.picker.pieceSize(index) && this.verifier.matches(index, along.hash.digest()) && !failedBefore) {
      // Hashed as it arrived and right: no read-back. (A wrong one is read back below for smart ban's block digests.)
      result = { ok: true };
    } else {
      try {
        result = await this.verifier.verify(index, (bytes, ok) => {
          if (!ok || failedBefore) digests = blockDigests(bytes, this.picker.blockSize);
        });
      } catch (e) {
        return this.fail(e as Error);
      }
    }
    if (this.stopped) return;
    if (result.ok) {
      if (failedBefore) {
        // Smart ban: whoever sent a block that differs from the verified one lied.
        for (const s of suspects!) if (!s.digest.equals(digests![s.block]!)) this.ban(s.peer, `sent corrupt data for piece ${index}`);
        this.suspects.delete(index);
      }
      this.picker.verified(index);
      this.verifiedBytes += this.picker.pieceSize(index);
      await this.o.journal?.markVerified(index);
      for (const q of this.peers) {
        q.session.send({ type: 'have', index });
        if (q.amInterested && !this.picker.interesting(q)) this.updateInterest(q);
      }
      this.o.onPiece?.(index);
      if (this.picker.complete) this.completeResolve();
      return;
    }
    this.hashFailures++;
    const who = this.picker.failed(index);
    const list = suspects ?? [];
    for (const w of who) list.push({ peer: w.peer, block: w.block, digest: digests![w.block]! });
    this.suspects.set(index, list);
    this.o.onHashFailure?.(index, contributors.map((c) => c.session.peer));
    for (const c of contributors) {
      c.strikes += contributors.length === 1 ? 2 : 1;
      if (c.strikes >= (this.o.maxStrikes ?? 3)) this.ban(c, `took part in ${c.strikes} strikes of failed pieces`);
    }
    for (const q of this.peers) this.fill(q);
  }

  ban(p: SwarmPeer, reason: string): void {
    if (this.banned.has(p.session.peer)) return;
    this.banned.add(p.session.peer);
    this.o.onBan?.(p.session.peer, reason);
    this.o.log?.(`banned ${p.session.peer}: ${reason}`);
    p.session.close(new Error(`banned: ${reason}`));
  }

  // ---- upload side ----------------------------------------------------------

  /** Unchoke interested peers up to the slot count (fastest uploaders to us first), choke the rest. */
  private choker(): void {
    const slots = this.o.uploadSlots ?? 8;
    const interested = [...this.peers].filter((q) => q.peerInterested && !q.session.closed);
    const now = this.now();
    interested.sort((a, b) => b.down.rate(now) - a.down.rate(now));
    const unchoke = new Set(interested.slice(0, slots));
    for (const q of this.peers) {
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

  private onRequest(p: SwarmPeer, m: BlockRequest): void {
    const r: BlockRequest = { index: m.index, begin: m.begin, length: m.length };
    const j = judgeRequest(r, {
      pieceCount: this.o.torrent.pieceCount,
      pieceSize: (i) => this.picker.pieceSize(i),
      hasPiece: (i) => this.picker.hasPiece(i),
      choking: p.amChoking,
      allowedFast: p.allowedFast,
      fast: p.session.fast,
      queued: p.uploads.length,
      maxQueued: this.o.maxUploadQueue ?? MAX_UPLOAD_QUEUE,
    });
    switch (j.verdict) {
      case 'serve':
        p.uploads.push(r);
        return this.serve(p);
      case 'reject':
        return this.reject(p, r);
      case 'close':
        return this.violation(p, j.reason!);
      case 'ignore':
        return;
    }
  }

  /** BEP 6 reject_request (only ever sent with the fast extension on). */
  private reject(p: SwarmPeer, r: BlockRequest): void {
    if (p.session.fast) p.session.send({ type: 'reject_request', index: r.index, begin: r.begin, length: r.length });
  }

  /** BEP 3 cancel; with the fast extension the cancelled request still gets its one answer, a reject (BEP 6). */
  private onCancel(p: SwarmPeer, m: BlockRequest): void {
    const same = (r: BlockRequest) => r.index === m.index && r.begin === m.begin && r.length === m.length;
    const at = p.uploads.findIndex(same);
    if (at >= 0) {
      const [r] = p.uploads.splice(at, 1);
      this.reject(p, r!);
    } else if (p.inFlight && !p.inFlight.cancelled && same(p.inFlight.r)) p.inFlight.cancelled = true;
  }

  /** BEP 6 allowed fast: the canonical set for the peer's IPv4 address, those pieces we have, offered after the bitfield. */
  private offerAllowedFast(p: SwarmPeer): void {
    const k = this.o.allowedFastCount ?? ALLOWED_FAST_COUNT;
    const ip = allowedFastIpv4(p.session.remoteIp);
    if (!p.session.fast || k <= 0 || ip === undefined || this.o.torrent.pieceCount === 0) return;
    for (const i of allowedFastSet(k, this.o.torrent.pieceCount, p.session.remote.infoHash, ip)) {
      if (!this.picker.hasPiece(i)) continue;
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
  private serve(p: SwarmPeer): void {
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
            const now = this.now();
            p.up.add(bytes, now);
            this.uploaded.add(bytes, now);
          } finally {
            piece.release();
          }
        }
      } catch (e) {
        this.o.log?.(`serving ${p.session.peer} failed: ${(e as Error).message}`);
        p.session.close(e as Error);
      } finally {
        p.inFlight = undefined;
        p.serving = false;
      }
    };
    void step();
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

  private onExtended(p: SwarmPeer, extId: number, payload: Uint8Array): void {
    if (extId === 0) {
      this.pexChanged();
      this.pexOffered(p);
      return this.updateInterest(p);
    }
    const name = p.session.extensions.nameFor('in', extId);
    if (name === 'ut_pex' && extId === LOCAL_EXTENSION_IDS.ut_pex) {
      try {
        const pex = decodeUtPex(payload).value;
        this.o.onPeers?.([...pex.added, ...pex.added6].map((x) => ({ ip: x.ip, port: x.port })));
      } catch {
        // undecodable PEX is shown by --frames; nothing to use
      }
      return;
    }
    if (name === 'ut_metadata') {
      const theirId = p.session.extensions.idFor('out', 'ut_metadata');
      if (theirId === undefined) return;
      try {
        const msg = decodeUtMetadata(payload).value;
        if (msg.msgType !== 'request') return;
        const info = this.o.torrent.info;
        const start = msg.piece * UT_METADATA_PIECE_LENGTH;
        const reply =
          start < info.length
            ? encodeUtMetadata({ msgType: 'data', piece: msg.piece, totalSize: info.length, data: info.subarray(start, start + UT_METADATA_PIECE_LENGTH) })
            : encodeUtMetadata({ msgType: 'reject', piece: msg.piece });
        p.session.send({ type: 'extended', extId: theirId, payload: reply });
      } catch {
        // ignore a broken request
      }
    }
  }

  // ---- ut_pex out (BEP 11) -----------------------------------------------------

  /**
   * What PEX would list may have changed: peers that are due hear of it once
   * this turn of the event loop is done (many changes at once make one pass),
   * not at the next tick.
   */
  private pexChanged(): void {
    this.pexEpoch++;
    if (this.pexQueued || this.stopped) return;
    this.pexQueued = true;
    setImmediate(() => {
      this.pexQueued = false;
      if (!this.stopped) this.pexTick(this.now());
    });
  }

  /** Its extended handshake (the first or a later one) offers ut_pex: from now on it hears of our other peers. */
  private pexOffered(p: SwarmPeer): void {
    if (p.pex || p.session.extensions.idFor('out', 'ut_pex') === undefined) return;
    p.pex = { sender: new PexSender(this.o.pexLimits), dueAt: this.now() + (this.o.pexFirstDelayMs ?? PEX_FIRST_DELAY_MS), sent: 0, quietAt: -1 };
  }

  private pexView(p: SwarmPeer): PexPeerView {
    const ext = p.session.remoteExtended;
    return {
      ip: p.session.remoteIp,
      remotePort: p.session.transport.remotePort,
      outgoing: p.outgoing,
      listenPort: ext?.p,
      seed: ext?.uploadOnly === true || this.peerIsSeed(p),
      holepunch: (ext?.m.get('ut_holepunch') ?? 0) > 0,
    };
  }

  private peerIsSeed(p: SwarmPeer): boolean {
    const n = this.o.torrent.pieceCount;
    if (n === 0) return false;
    for (let i = 0; i < n; i++) if (!this.picker.peerHas(p, i)) return false;
    return true;
  }

  /**
   * Send each peer that is due the ut_pex it has coming: under ITS id for
   * ut_pex, at most one a pexIntervalMs, none when nothing changed.
   */
  private pexTick(now: number): void {
    let views: Map<SwarmPeer, PexPeerView> | undefined;
    let self: Set<string> | undefined;
    for (const p of this.peers) {
      // quietAt: nothing to tell it at this epoch, and nothing changed since.
      if (!p.pex || now < p.pex.dueAt || p.pex.quietAt === this.pexEpoch || p.session.closed) continue;
      const id = p.session.extensions.idFor('out', 'ut_pex');
      if (id === undefined) continue;
      if (!views) {
        views = new Map();
        for (const q of this.peers) if (!q.session.closed) views.set(q, this.pexView(q));
        // Our own listen address as each connection sees us: a peer there is ourselves.
        self = new Set();
        const port = this.o.listenPort?.();
        if (port !== undefined) for (const q of this.peers) if (q.session.transport.localHost) self.add(pexKey(q.session.transport.localHost, port));
      }
      const message = p.pex.sender.next(pexContacts(views.values(), views.get(p)!, self!));
      if (!message) {
        p.pex.quietAt = this.pexEpoch;
        continue;
      }
      p.session.send({ type: 'extended', extId: id, payload: encodeUtPex(message) });
      p.pex.sent++;
      p.pex.dueAt = now + (this.o.pexIntervalMs ?? PEX_INTERVAL_MS);
    }
  }

  // ---- timers ---------------------------------------------------------------

  private tick(): void {
    const now = this.now();
    this.pexTick(now);
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
    for (const i of [...this.unwritten.keys()]) this.flush(i);
    this.stopped = true;
    clearInterval(this.tickTimer);
    this.wire.clear();
    for (const p of [...this.peers]) p.session.close();
    this.peers.clear();
  }
}
