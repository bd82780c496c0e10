import { EventEmitter } from 'node:events';
import type { Handshake } from '../wire/handshake.js';
import type { Message } from '../wire/messages.js';
import type { ExtendedHandshake, ExtensionIds } from '../wire/extended.js';
import { hasPiece, setPiece, makeBitfield } from '../wire/bitfield.js';
import type { PeerIdInfo } from '../wire/peer-id.js';
import type { Transport } from '../transport/transport.js';
import { PeerError } from './peer-error.js';
import { PeerSession, type PeerSessionOptions, type SessionStats } from './session.js';
import { fetchPiece, type FetchPieceOptions } from './fetch-piece.js';

export { PeerError };

export interface PeerConnectionOptions extends PeerSessionOptions {
  /** Messages received and not yet consumed by `messages()` before the transport is paused (default 256). */
  highWaterMark?: number;
}

export interface PeerState {
  /** The peer chokes us (BEP 3 initial state: choked, not interested). */
  peerChoking: boolean;
  peerInterested: boolean;
  amChoking: boolean;
  amInterested: boolean;
  /** The peer's pieces as a bitfield sized to pieceCount (or grown by `have`s when unknown). */
  peerPieces: Uint8Array;
  peerHasAll: boolean;
  /** BEP 6 allowed fast pieces the peer gave us. */
  allowedFast: Set<number>;
  /** How many bitfield messages came (BEP 3 allows one; aria2 sends many). */
  bitfieldsReceived: number;
}

interface Events {
  message: [Message];
  /** An extended message by name as learned from our `m` (payload after the ext id byte). */
  extended: [name: string | undefined, payload: Uint8Array, payloadOffset: number];
  extended_handshake: [ExtendedHandshake];
  close: [PeerError | undefined];
  drain: [];
}

/** Clear the bits past `pieceCount` (in place). */
function clearSpareBits(bitfield: Uint8Array, pieceCount: number): void {
  for (let i = pieceCount; i < bitfield.length * 8; i++) bitfield[i >> 3]! &= ~(0x80 >> (i & 7));
}

/**
 * The probe tools' view of a peer (handshake, piece, metadata, magnet
 * resolution): a PeerSession plus the peer's choke/interest/have state,
 * messages as events (`on('message')`) or as an async iterator
 * (`messages()`), and `fetchPiece`, a pipelined block requester. The
 * session underneath can be handed on (`handOver`), as a magnet's metadata
 * connection is to the swarm.
 */
export class PeerConnection extends EventEmitter<Events> {
  readonly state: PeerState;
  /** Resolves when the connection is closed, with the reason (undefined: closed by us). */
  readonly done: Promise<PeerError | undefined>;
  private pieceCount: number | undefined;
  private queue: Message[] = [];
  private waiters: Array<() => void> = [];
  private readonly highWaterMark: number;

  private constructor(
    readonly session: PeerSession,
    opts: PeerConnectionOptions,
  ) {
    super();
    this.pieceCount = opts.pieceCount;
    this.highWaterMark = opts.highWaterMark ?? 256;
    this.state = {
      peerChoking: true,
      peerInterested: false,
      amChoking: true,
      amInterested: false,
      peerPieces: makeBitfield(opts.pieceCount ?? 0),
      peerHasAll: false,
      allowedFast: new Set(),
      bitfieldsReceived: 0,
    };
    this.done = session.done;
    // Messages that came with the handshake wait one turn, so whoever awaited
    // connect()/accept() has attached its listeners before they are emitted.
    setImmediate(() => {
      if (this.handedOver) return;
      session.attach({
        message: (m, offset) => this.onMessage(m, offset),
        close: (reason) => this.onClose(reason),
        drain: () => this.emit('drain'),
      });
    });
  }

  /** Dial `host:port` and exchange handshakes. Resolves once the peer's handshake is in and checked. */
  static async connect(host: string, port: number, opts: PeerConnectionOptions): Promise<PeerConnection> {
    return new PeerConnection(await PeerSession.connect(host, port, opts), opts);
  }

  /** An incoming transport: the peer's handshake first, then ours. */
  static async accept(transport: Transport, opts: PeerConnectionOptions): Promise<PeerConnection> {
    return new PeerConnection(await PeerSession.open(transport, opts, false), opts);
  }

  private handedOver = false;

  /**
   * Give the session to someone else (the swarm): this connection stops
   * listening and its state stays as it was; messages that arrive meanwhile
   * are held by the session for the next `attach`.
   */
  handOver(): PeerSession {
    this.handedOver = true;
    this.session.detach();
    return this.session;
  }

  get remote(): Handshake {
    return this.session.remote;
  }

  get remoteClient(): PeerIdInfo {
    return this.session.remoteClient;
  }

  get remoteExtended(): ExtendedHandshake | undefined {
    return this.session.remoteExtended;
  }

  get extensions(): ExtensionIds {
    return this.session.extensions;
  }

  get stats(): SessionStats {
    return this.session.stats;
  }

  get closed(): boolean {
    return this.session.closed;
  }

  get closeReason(): PeerError | undefined {
    return this.session.closeReason;
  }

  /** The peer answered with `upgradeInfoHash` (BEP 52): the connection is for the v2 info-hash. */
  get upgraded(): boolean {
    return this.session.upgraded;
  }

  /** `host:port` of the peer. */
  get peer(): string {
    return this.session.peer;
  }

  /** The info-hash this connection is for (for `accept`, the one the peer asked for). */
  get torrentInfoHash(): Uint8Array {
    return this.session.torrentInfoHash;
  }

  get fast(): boolean {
    return this.session.fast;
  }

  get extendedSupported(): boolean {
    return this.session.extendedSupported;
  }

  /** Our first message (a bitfield, have all or have none) then the extended handshake, for `greeting: 'later'`. */
  greet(first: Message | undefined): void {
    this.session.greet(first);
  }

  private onMessage(m: Message, offset: number): void {
    this.track(m, offset);
    this.deliver(m);
    if (m.type === 'extended' && m.extId !== 0) this.emit('extended', this.extensions.nameFor('in', m.extId), m.payload, offset + 6);
  }

  private onClose(reason: PeerError | undefined): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
    this.emit('close', reason);
  }

  /** Update choke/interest/have state from an incoming message. */
  private track(m: Message, offset: number): void {
    const s = this.state;
    switch (m.type) {
      case 'choke':
        s.peerChoking = true;
        break;
      case 'unchoke':
        s.peerChoking = false;
        break;
      case 'interested':
        s.peerInterested = true;
        break;
      case 'not_interested':
        s.peerInterested = false;
        break;
      case 'have':
        if (m.index >= s.peerPieces.length * 8) {
          if (this.pieceCount !== undefined) break; // out of range: shown by the compliance checker, ignored here
          const grown = new Uint8Array(Math.max((m.index >> 3) + 1, s.peerPieces.length * 2));
          grown.set(s.peerPieces);
          s.peerPieces = grown;
        }
        setPiece(s.peerPieces, m.index);
        break;
      case 'bitfield':
        s.bitfieldsReceived++;
        // A copy: `have`s set bits in it, and the message (a view into the socket chunk) must keep what the peer sent.
        s.peerPieces = new Uint8Array(m.bitfield);
        // Spare bits are a protocol error (shown as a diagnostic on the frame), not pieces.
        if (this.pieceCount !== undefined) clearSpareBits(s.peerPieces, this.pieceCount);
        break;
      case 'have_all':
        s.peerHasAll = true;
        if (this.pieceCount !== undefined) s.peerPieces = makeBitfield(this.pieceCount, true);
        break;
      case 'have_none':
        s.peerHasAll = false;
        s.peerPieces = makeBitfield(this.pieceCount ?? 0);
        break;
      case 'allowed_fast':
        s.allowedFast.add(m.index);
        break;
      case 'extended':
        // The session decoded it (a broken one is shown in --frames and ignored).
        if (m.extId === 0 && this.session.remoteExtended) this.emit('extended_handshake', this.session.remoteExtended);
        break;
      default:
        break;
    }
  }

  /**
   * The piece count became known after connecting (metadata fetched for a
   * magnet): from now on frames are limited by it (unless `limits` were
   * given), bitfields are checked against it and the peer's pieces are sized to it.
   */
  setPieceCount(pieceCount: number): void {
    if (this.pieceCount !== undefined) return;
    this.pieceCount = pieceCount;
    this.session.setPieceCount(pieceCount);
    const s = this.state;
    const sized = makeBitfield(pieceCount, s.peerHasAll);
    if (!s.peerHasAll) sized.set(s.peerPieces.subarray(0, sized.length));
    clearSpareBits(sized, pieceCount);
    s.peerPieces = sized;
  }

  /** Does the peer have piece `index` (bitfield, haves, have all)? */
  peerHas(index: number): boolean {
    if (index < 0 || (this.pieceCount !== undefined && index >= this.pieceCount)) return false;
    return this.state.peerHasAll || hasPiece(this.state.peerPieces, index);
  }

  private deliver(m: Message): void {
    this.emit('message', m);
    if (this.waiters.length > 0 || this.iterating) {
      this.queue.push(m);
      if (this.queue.length >= this.highWaterMark) this.session.pause();
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
  }

  private iterating = 0;

  /**
   * Messages as an async iterator (ends when the connection closes; throws the
   * close reason if it was an error). The socket is paused while the consumer
   * lags `highWaterMark` messages behind, so memory stays bounded.
   */
  async *messages(): AsyncGenerator<Message, void, undefined> {
    this.iterating++;
    try {
      for (;;) {
        if (this.queue.length > 0) {
          const m = this.queue.shift()!;
          if (this.queue.length < this.highWaterMark / 2) this.session.resume();
          yield m;
          continue;
        }
        if (this.closed) {
          if (this.closeReason && this.closeReason.code !== 'closed') throw this.closeReason;
          return;
        }
        await new Promise<void>((r) => this.waiters.push(r));
      }
    } finally {
      this.iterating--;
      if (this.iterating === 0) this.queue = [];
    }
  }

  /**
   * Wait for the next message matching `match` (messages before it are passed
   * over); rejects with `timeout` after `timeoutMs`, or with the close reason.
   */
  waitFor<M extends Message>(match: (m: Message) => m is M, timeoutMs: number, what?: string): Promise<M>;
  waitFor(match: (m: Message) => boolean, timeoutMs: number, what?: string): Promise<Message>;
  waitFor(match: (m: Message) => boolean, timeoutMs: number, what = 'the expected message'): Promise<Message> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(this.closeReason ?? new PeerError('closed', 'connection closed', this.peer));
      const onMessage = (m: Message): void => {
        if (!match(m)) return;
        cleanup();
        resolve(m);
      };
      const onClose = (e: PeerError | undefined): void => {
        cleanup();
        reject(e ?? new PeerError('closed', `connection closed while waiting for ${what}`, this.peer));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new PeerError('timeout', `no ${what} within ${timeoutMs} ms`, this.peer));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('message', onMessage);
        this.off('close', onClose);
      };
      this.on('message', onMessage);
      this.on('close', onClose);
    });
  }

  /** Wait for the peer's extended handshake (undefined if the peer does not do BEP 10, or on timeout). */
  async waitForExtendedHandshake(timeoutMs: number): Promise<ExtendedHandshake | undefined> {
    if (this.remoteExtended || !this.extendedSupported) return this.remoteExtended;
    try {
      await this.waitFor((m) => m.type === 'extended' && m.extId === 0, timeoutMs, 'extended handshake');
    } catch (e) {
      if (e instanceof PeerError && e.code === 'timeout') return undefined;
      throw e;
    }
    return this.remoteExtended;
  }

  /**
   * Send a message. Returns false when the send buffer is full: wait for
   * `drain()` before sending more bulk data.
   */
  send(m: Message): boolean {
    if (this.closed) return false;
    switch (m.type) {
      case 'interested':
        this.state.amInterested = true;
        break;
      case 'not_interested':
        this.state.amInterested = false;
        break;
      case 'choke':
        this.state.amChoking = true;
        break;
      case 'unchoke':
        this.state.amChoking = false;
        break;
      default:
        break;
    }
    return this.session.send(m);
  }

  /** A piece message without copying the block. */
  sendPiece(index: number, begin: number, block: Uint8Array): boolean {
    return this.session.sendPiece(index, begin, block);
  }

  /** Send an extended message by extension name, with the id the peer asked for; false if the peer did not offer it. */
  sendExtended(name: string, payload: Uint8Array): boolean {
    return this.session.sendExtended(name, payload);
  }

  /** Resolves when the transport can take more (immediately if it can now). */
  drain(): Promise<void> {
    return this.session.drain();
  }

  /**
   * Fetch one piece in blocks with `pipeline` requests outstanding (see
   * fetch-piece.ts). The caller checks the piece hash.
   */
  fetchPiece(index: number, pieceLength: number, opts: FetchPieceOptions = {}): Promise<Uint8Array> {
    return fetchPiece(this, index, pieceLength, opts);
  }

  /** Close the connection (no error). */
  close(): void {
    this.session.close();
  }
}
