/**
 * Which blocks to ask which peer for (BEP 3 piece selection as clients do it):
 * a few random pieces first so there is something to share early, then rarest
 * first, whole pieces per peer where possible, and endgame mode at the end:
 * the last outstanding blocks are requested from several peers and the others
 * cancelled when one arrives. BEP 6: while choked, only the peer's allowed-fast
 * pieces may be requested; have all / have none set availability; a reject
 * returns the block to the pool. A piece that failed its hash check is fetched
 * again from one peer alone (libtorrent's smart ban): whoever takes its first
 * block owns it until the piece is done or the owner lets it go.
 *
 * Pure state, no I/O: the downloader feeds it peer events and asks for requests.
 */
export const BLOCK_SIZE = 16 * 1024;

export interface BlockRequest {
  readonly index: number;
  readonly begin: number;
  readonly length: number;
}

export interface PickerOptions {
  pieceCount: number;
  pieceLength: number;
  /** Length of the torrent's byte stream (gives the last piece's length). */
  totalLength: number;
  blockSize?: number;
  /** Pieces picked at random before rarest-first starts (default 4). */
  randomFirst?: number;
  /** Peers a block may be requested from at once in endgame (default 2). */
  endgameDuplicates?: number;
  /** Random source in [0, 1) (tests pass a seeded one). */
  random?: () => number;
}

interface PeerState {
  /** Per-piece 0/1, or null when the peer has every piece (BEP 6 have all / a full bitfield). */
  has: Uint8Array | null;
  hasCount: number;
  allowedFast: Set<number>;
  /** Outstanding requests, by block key. */
  requested: Set<number>;
  /** Blocks this peer rejected (BEP 6): not asked of it again until it unchokes us anew. */
  rejected: Set<number>;
}

/** A piece some of whose blocks are requested or received. */
interface Partial {
  readonly index: number;
  readonly blocks: number;
  /** Per block: 0 free, 1 requested, 2 received. */
  readonly state: Uint8Array;
  /** Per block: peers it is requested from (several only in endgame). */
  readonly requesters: (unknown[] | null)[];
  /** Per block: the peer whose data was kept (for smart ban on a hash failure). */
  readonly from: unknown[];
  /** A failed piece fetched again: only `owner` is asked for its blocks (undefined: the next taker owns it). */
  readonly exclusive: boolean;
  owner: unknown;
  free: number;
  received: number;
}

const FREE = 0;
const REQUESTED = 1;
const RECEIVED = 2;

export class PiecePicker<P = unknown> {
  readonly pieceCount: number;
  readonly pieceLength: number;
  readonly totalLength: number;
  readonly blockSize: number;
  private readonly blocksPerPiece: number;
  private readonly randomFirst: number;
  private readonly endgameDuplicates: number;
  private readonly random: () => number;

  /** Per piece: 1 once verified. */
  private readonly have: Uint8Array;
  private haveCount = 0;
  /** Per piece: 1 while all blocks are in and the hash check runs. */
  private readonly verifying: Uint8Array;
  /** Per piece: 1 once it failed a hash check, until it verifies: fetched from one peer at a time. */
  private readonly exclusive: Uint8Array;
  /** Per piece: how many connected peers have it. */
  private readonly availability: Uint32Array;
  /** Peers that have every piece are counted here instead of in `availability`. */
  private seeds = 0;
  /** Per piece: the caller does not want it (BEP 53 select-only, or already known). */
  private readonly wanted: Uint8Array;
  private wantedLeft: number;
  private readonly peers = new Map<P, PeerState>();
  private readonly partials = new Map<number, Partial>();
  /** Rarest-first order of pieces not had, not started; rebuilt lazily. */
  private order: number[] = [];
  private orderDirty = true;
  private readonly tieBreak: Float64Array;

  constructor(o: PickerOptions) {
    this.pieceCount = o.pieceCount;
    this.pieceLength = o.pieceLength;
    this.totalLength = o.totalLength;
    this.blockSize = o.blockSize ?? BLOCK_SIZE;
    this.blocksPerPiece = Math.ceil(o.pieceLength / this.blockSize);
    this.randomFirst = o.randomFirst ?? 4;
    this.endgameDuplicates = Math.max(1, o.endgameDuplicates ?? 2);
    this.random = o.random ?? Math.random;
    this.have = new Uint8Array(o.pieceCount);
    this.verifying = new Uint8Array(o.pieceCount);
    this.exclusive = new Uint8Array(o.pieceCount);
    this.availability = new Uint32Array(o.pieceCount);
    this.wanted = new Uint8Array(o.pieceCount).fill(1);
    this.wantedLeft = o.pieceCount;
    this.tieBreak = new Float64Array(o.pieceCount);
    for (let i = 0; i < o.pieceCount; i++) this.tieBreak[i] = this.random();
  }

  pieceSize(index: number): number {
    return Math.min(this.pieceLength, this.totalLength - index * this.pieceLength);
  }

  private blocksIn(index: number): number {
    return Math.ceil(this.pieceSize(index) / this.blockSize);
  }

  private key(index: number, block: number): number {
    return index * this.blocksPerPiece + block;
  }

  // ---- our own pieces ------------------------------------------------------

  /** Mark a piece as had (verified on disk at start, or just verified). */
  setHave(index: number): void {
    if (this.have[index]) return;
    this.have[index] = 1;
    this.haveCount++;
    this.verifying[index] = 0;
    this.exclusive[index] = 0;
    if (this.wanted[index]) this.wantedLeft--;
    this.dropPartial(index);
    this.orderDirty = true;
  }

  /** Skip pieces the user did not select (they stay unrequested). */
  setWanted(index: number, wanted: boolean): void {
    const w = wanted ? 1 : 0;
    if (this.wanted[index] === w) return;
    this.wanted[index] = w;
    if (!this.have[index]) this.wantedLeft += wanted ? 1 : -1;
    this.orderDirty = true;
  }

  hasPiece(index: number): boolean {
    return this.have[index] === 1;
  }

  get piecesHave(): number {
    return this.haveCount;
  }

  /** Every wanted piece is verified. */
  get complete(): boolean {
    return this.wantedLeft === 0;
  }

  /** Our bitfield, BEP 3 layout (high bit first). */
  bitfield(): Uint8Array {
    const out = new Uint8Array(Math.ceil(this.pieceCount / 8));
    for (let i = 0; i < this.pieceCount; i++) if (this.have[i]) out[i >> 3]! |= 0x80 >> (i & 7);
    return out;
  }

  // ---- peers ---------------------------------------------------------------

  addPeer(peer: P): void {
    if (this.peers.has(peer)) return;
    this.peers.set(peer, { has: new Uint8Array(this.pieceCount), hasCount: 0, allowedFast: new Set(), requested: new Set(), rejected: new Set() });
  }

  private peer(peer: P): PeerState {
    let s = this.peers.get(peer);
    if (!s) {
      this.addPeer(peer);
      s = this.peers.get(peer)!;
    }
    return s;
  }

  /** Forget a peer: its availability goes, its outstanding requests return to the pool. Returns them. */
  removePeer(peer: P): BlockRequest[] {
    const s = this.peers.get(peer);
    if (!s) return [];
    const dropped = this.cancelAll(peer);
    if (s.has === null) this.seeds--;
    else if (s.hasCount > 0) for (let i = 0; i < this.pieceCount; i++) if (s.has[i]) this.availability[i]!--;
    this.peers.delete(peer);
    this.orderDirty = true;
    return dropped;
  }

  peerHas(peer: P, index: number): boolean {
    const s = this.peers.get(peer);
    return !!s && (s.has === null || s.has[index] === 1);
  }

  /** BEP 3 have. Returns true when we want that piece (the peer is interesting). */
  peerHave(peer: P, index: number): boolean {
    if (index < 0 || index >= this.pieceCount) return false;
    const s = this.peer(peer);
    if (s.has !== null && !s.has[index]) {
      s.has[index] = 1;
      s.hasCount++;
      this.availability[index]!++;
      this.orderDirty = true;
      if (s.hasCount === this.pieceCount) this.promoteToSeed(s);
    }
    return !this.have[index] && this.wanted[index] === 1;
  }

  /** BEP 3 bitfield (high bit first); spare bits are ignored (the wire layer reports them). Replaces what was known. */
  peerBitfield(peer: P, bits: Uint8Array): void {
    const s = this.peer(peer);
    this.clearHas(s);
    let n = 0;
    const has = new Uint8Array(this.pieceCount);
    for (let i = 0; i < this.pieceCount; i++) {
      if ((i >> 3) < bits.length && bits[i >> 3]! & (0x80 >> (i & 7))) {
        has[i] = 1;
        n++;
      }
    }
    s.hasCount = n;
    if (n === this.pieceCount) {
      s.has = null;
      this.seeds++;
    } else {
      s.has = has;
      for (let i = 0; i < this.pieceCount; i++) if (has[i]) this.availability[i]!++;
    }
    this.orderDirty = true;
  }

  /** BEP 6 have all. */
  peerHaveAll(peer: P): void {
    const s = this.peer(peer);
    this.clearHas(s);
    s.has = null;
    s.hasCount = this.pieceCount;
    this.seeds++;
    this.orderDirty = true;
  }

  /** BEP 6 have none. */
  peerHaveNone(peer: P): void {
    const s = this.peer(peer);
    this.clearHas(s);
    this.orderDirty = true;
  }

  /** BEP 6 allowed fast: pieces we may request while choked by this peer. */
  peerAllowedFast(peer: P, index: number): void {
    if (index >= 0 && index < this.pieceCount) this.peer(peer).allowedFast.add(index);
  }

  /** Whether the peer has any piece we still want. */
  interesting(peer: P): boolean {
    const s = this.peers.get(peer);
    if (!s) return false;
    if (s.has === null) return this.wantedLeft > 0;
    if (s.hasCount === 0) return false;
    for (let i = 0; i < this.pieceCount; i++) if (s.has[i] && !this.have[i] && this.wanted[i]) return true;
    return false;
  }

  private clearHas(s: PeerState): void {
    if (s.has === null) this.seeds--;
    else if (s.hasCount > 0) for (let i = 0; i < this.pieceCount; i++) if (s.has[i]) this.availability[i]!--;
    s.has = new Uint8Array(this.pieceCount);
    s.hasCount = 0;
  }

  private promoteToSeed(s: PeerState): void {
    // A peer with every piece counts once in `seeds`, not in each piece's availability.
    if (s.has === null) return;
    for (let i = 0; i < this.pieceCount; i++) if (s.has[i]) this.availability[i]!--;
    s.has = null;
    s.hasCount = this.pieceCount;
    this.seeds++;
  }

  // ---- requests ------------------------------------------------------------

  /** Outstanding requests to this peer. */
  outstanding(peer: P): number {
    return this.peers.get(peer)?.requested.size ?? 0;
  }

  /**
   * Up to `max` new block requests for this peer. While `choked` only its
   * allowed-fast pieces qualify (BEP 6). Partial pieces first (this peer's
   * own, then others' free blocks), then a new piece (random for the first
   * few, then rarest first), then endgame duplicates.
   */
  pick(peer: P, max: number, choked = false): BlockRequest[] {
    const s = this.peers.get(peer);
    const out: BlockRequest[] = [];
    if (!s || max <= 0 || this.complete) return out;
    const can = (i: number): boolean =>
      !this.have[i] && !this.verifying[i] && this.wanted[i] === 1 && (s.has === null || s.has[i] === 1) && (!choked || s.allowedFast.has(i));

    // 1. Free blocks of pieces already started, the ones this peer is working on first.
    const started: Partial[] = [];
    for (const p of this.partials.values()) if (p.free > 0 && can(p.index) && this.mayTake(peer, s, p)) started.push(p);
    started.sort((a, b) => this.mine(s, b) - this.mine(s, a));
    for (const p of started) {
      this.takeFree(peer, s, p, max, out);
      if (out.length >= max) return out;
    }

    // 2. New pieces.
    while (out.length < max) {
      const i = this.pickNewPiece(can);
      if (i < 0) break;
      this.takeFree(peer, s, this.startPiece(i), max, out);
    }
    if (out.length >= max) return out;

    // 3. Endgame: no free block is left that any connected peer could send; duplicate blocks others are slow on.
    const anyone = (i: number): boolean => !this.have[i] && !this.verifying[i] && this.wanted[i] === 1 && this.availabilityOf(i) > 0;
    if (this.freeBlocksLeftFor(anyone)) return out;
    for (const p of this.partials.values()) {
      if (!can(p.index) || p.exclusive) continue; // a failed piece's re-fetch is never shared
      for (let b = 0; b < p.blocks && out.length < max; b++) {
        if (p.state[b] !== REQUESTED) continue;
        const who = p.requesters[b]!;
        if (who.length >= this.endgameDuplicates || who.includes(peer) || s.rejected.has(this.key(p.index, b))) continue;
        who.push(peer);
        s.requested.add(this.key(p.index, b));
        out.push(this.request(p.index, b));
      }
      if (out.length >= max) break;
    }
    return out;
  }

  /** True while some block is still free (not requested) in a piece that `can` admits: not endgame yet. */
  private freeBlocksLeftFor(can: (i: number) => boolean): boolean {
    for (const p of this.partials.values()) if (p.free > 0 && can(p.index)) return true;
    return this.pickNewPiece(can, false) >= 0;
  }

  private mine(s: PeerState, p: Partial): number {
    let n = 0;
    for (let b = 0; b < p.blocks; b++) if (s.requested.has(this.key(p.index, b))) n++;
    return n;
  }

  /**
   * A failed piece being fetched again is only for its owner; while it has
   * none, for a peer that may be asked for every free block of it (one that
   * rejected one of them would leave the piece stuck).
   */
  private mayTake(peer: P, s: PeerState, p: Partial): boolean {
    if (!p.exclusive) return true;
    if (p.owner !== undefined) return p.owner === peer;
    if (s.rejected.size > 0) for (let b = 0; b < p.blocks; b++) if (p.state[b] === FREE && s.rejected.has(this.key(p.index, b))) return false;
    return true;
  }

  /** The owner of a failed piece lets it go: its requests in it are void, the next taker owns it. */
  private release(peer: P, p: Partial): void {
    if (!p.exclusive || p.owner !== peer) return;
    const s = this.peers.get(peer);
    if (s) for (let b = 0; b < p.blocks; b++) if (s.requested.has(this.key(p.index, b))) this.cancelled(peer, p.index, b * this.blockSize);
    p.owner = undefined;
  }

  private takeFree(peer: P, s: PeerState, p: Partial, max: number, out: BlockRequest[]): void {
    if (p.exclusive) {
      if (!this.mayTake(peer, s, p)) return;
      p.owner = peer;
    }
    for (let b = 0; b < p.blocks && out.length < max && p.free > 0; b++) {
      if (p.state[b] !== FREE || s.rejected.has(this.key(p.index, b))) continue;
      p.state[b] = REQUESTED;
      p.requesters[b] = [peer];
      p.free--;
      s.requested.add(this.key(p.index, b));
      out.push(this.request(p.index, b));
    }
  }

  private request(index: number, block: number): BlockRequest {
    const begin = block * this.blockSize;
    return { index, begin, length: Math.min(this.blockSize, this.pieceSize(index) - begin) };
  }

  private startPiece(index: number): Partial {
    const blocks = this.blocksIn(index);
    const p: Partial = {
      index,
      blocks,
      state: new Uint8Array(blocks),
      requesters: new Array(blocks).fill(null),
      from: new Array(blocks).fill(undefined),
      exclusive: this.exclusive[index] === 1,
      owner: undefined,
      free: blocks,
      received: 0,
    };
    this.partials.set(index, p);
    return p;
  }

  /** A piece not had, not started, that `can` admits: random while we have few, else rarest first. -1 if none. */
  private pickNewPiece(can: (i: number) => boolean, consume = true): number {
    if (this.orderDirty) this.rebuildOrder();
    const early = this.haveCount + this.partials.size < this.randomFirst;
    let best = -1;
    let bestAvail = Infinity;
    for (let k = 0; k < this.order.length; k++) {
      const i = this.order[k]!;
      if (this.have[i] || this.partials.has(i) || !can(i)) continue;
      if (!early || !consume) return i; // order is rarest first with random tie-breaks
      // Random first pieces: any piece the peer has, chosen uniformly among the first few found.
      const r = this.tieBreak[i]!;
      if (r < bestAvail) {
        bestAvail = r;
        best = i;
      }
    }
    return best;
  }

  private rebuildOrder(): void {
    const order: number[] = [];
    for (let i = 0; i < this.pieceCount; i++) if (!this.have[i] && this.wanted[i] && !this.partials.has(i)) order.push(i);
    const a = this.availability;
    const t = this.tieBreak;
    order.sort((x, y) => a[x]! - a[y]! || t[x]! - t[y]!);
    this.order = order;
    this.orderDirty = false;
  }

  /**
   * A block arrived from `peer`. Returns whether it was wanted (not a duplicate
   * or unrequested block), whether the piece now has every block (verify it),
   * and the other peers the same block was requested from (send them cancel).
   */
  received(peer: P, index: number, begin: number, length: number): { accepted: boolean; pieceDone: boolean; cancel: P[] } {
    const s = this.peers.get(peer);
    const p = this.partials.get(index);
    const b = begin / this.blockSize;
    const none = { accepted: false, pieceDone: false, cancel: [] as P[] };
    if (!p || !Number.isInteger(b) || b < 0 || b >= p.blocks) return none;
    const req = this.request(index, b);
    if (req.length !== length) return none;
    const k = this.key(index, b);
    s?.requested.delete(k);
    const who = p.requesters[b];
    if (who) {
      const at = who.indexOf(peer);
      if (at >= 0) who.splice(at, 1);
    }
    if (p.state[b] === RECEIVED) return none; // endgame duplicate arriving late
    if (p.exclusive && p.owner !== peer) return none; // a late block from before the piece failed: not mixed in again
    if (p.state[b] === FREE) p.free--; // unrequested but wanted (e.g. after a cancel race): keep it
    p.state[b] = RECEIVED;
    p.from[b] = peer;
    p.received++;
    const cancel: P[] = [];
    if (who) {
      for (const other of who) {
        this.peers.get(other as P)?.requested.delete(k);
        cancel.push(other as P);
      }
    }
    p.requesters[b] = null;
    const pieceDone = p.received === p.blocks;
    if (pieceDone) this.verifying[index] = 1;
    return { accepted: true, pieceDone, cancel };
  }

  /** A request will not be answered (reject, choke without BEP 6, disconnect, timeout): the block is free again. */
  cancelled(peer: P, index: number, begin: number): void {
    const p = this.partials.get(index);
    const b = begin / this.blockSize;
    const s = this.peers.get(peer);
    if (!p || !Number.isInteger(b) || b < 0 || b >= p.blocks) return;
    s?.requested.delete(this.key(index, b));
    const who = p.requesters[b];
    if (!who) return;
    const at = who.indexOf(peer);
    if (at < 0) return;
    who.splice(at, 1);
    if (who.length === 0 && p.state[b] === REQUESTED) {
      p.state[b] = FREE;
      p.requesters[b] = null;
      p.free++;
    }
  }

  /**
   * BEP 6 reject_request: the block is free again for others, and this peer is
   * not asked for it again (no request/reject ping-pong) until `peerUnchoked`.
   */
  rejected(peer: P, index: number, begin: number): void {
    const b = begin / this.blockSize;
    const s = this.peers.get(peer);
    if (!s || !Number.isInteger(b) || b < 0 || index < 0 || index >= this.pieceCount || b >= this.blocksIn(index)) return;
    // Only a block we asked this peer for counts; an unsolicited reject changes nothing.
    if (!s.requested.has(this.key(index, b))) return;
    this.cancelled(peer, index, begin);
    s.rejected.add(this.key(index, b));
    // A failed piece's owner that will not send one of its blocks gives the whole piece up (it is not shared).
    const p = this.partials.get(index);
    if (p) this.release(peer, p);
  }

  /** The peer unchoked us (again): what it rejected before may be asked of it once more. */
  peerUnchoked(peer: P): void {
    this.peers.get(peer)?.rejected.clear();
  }

  /** Every outstanding request to this peer is void (choked without BEP 6, or gone). Returns them. */
  cancelAll(peer: P): BlockRequest[] {
    const s = this.peers.get(peer);
    if (!s) return [];
    const out: BlockRequest[] = [];
    for (const k of [...s.requested]) {
      const index = Math.floor(k / this.blocksPerPiece);
      const b = k - index * this.blocksPerPiece;
      const req = this.request(index, b);
      this.cancelled(peer, req.index, req.begin);
      out.push(req);
    }
    s.requested.clear();
    for (const p of this.partials.values()) if (p.owner === peer) p.owner = undefined;
    return out;
  }

  /** The piece passed its hash check. */
  verified(index: number): void {
    this.setHave(index);
  }

  /**
   * The piece failed its hash check: every block is free again, and the piece
   * is fetched again from one peer alone (smart ban compares what each sent).
   * Returns who sent which block.
   */
  failed(index: number): { block: number; peer: P }[] {
    const p = this.partials.get(index);
    this.verifying[index] = 0;
    this.exclusive[index] = 1;
    if (!p) return [];
    const who = p.from.map((peer, block) => ({ block, peer: peer as P })).filter((x) => x.peer !== undefined);
    this.dropPartial(index);
    this.orderDirty = true;
    return who;
  }

  /** Who sent each block of a piece now being verified. */
  contributors(index: number): P[] {
    const p = this.partials.get(index);
    return p ? [...new Set(p.from.filter((x) => x !== undefined) as P[])] : [];
  }

  private dropPartial(index: number): void {
    const p = this.partials.get(index);
    if (!p) return;
    for (let b = 0; b < p.blocks; b++) {
      for (const peer of (p.requesters[b] ?? []) as P[]) this.peers.get(peer)?.requested.delete(this.key(index, b));
    }
    this.partials.delete(index);
  }

  /** Pieces started and not yet verified (for progress and tests). */
  get inProgress(): number {
    return this.partials.size;
  }

  /** How many connected peers have the piece. */
  availabilityOf(index: number): number {
    return this.availability[index]! + this.seeds;
  }
}
