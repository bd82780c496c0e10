import { DecodeError } from '../core/errors.js';
import type { Frame } from '../core/field.js';
import { asBuffer, bytesEqual, toHex } from '../core/bytes.js';
import { WireFramer, frameLimits } from '../wire/framer.js';
import { decodeHandshake, encodeHandshake, makeReserved, supportsExtended, supportsFast, type Handshake } from '../wire/handshake.js';
import { encodeMessage, encodePieceHeader, messageFrame, parseMessage, type Message, type MessageContext } from '../wire/messages.js';
import {
  decodeExtendedHandshake,
  encodeExtendedHandshake,
  ExtensionIds,
  LOCAL_EXTENSION_IDS,
  type ExtendedHandshake,
} from '../wire/extended.js';
import { decodePeerId, type PeerIdInfo } from '../wire/peer-id.js';
import type { Direction } from '../core/direction.js';
import type { Transport } from '../transport/transport.js';
import { dialTcp } from '../transport/tcp.js';
import { PeerError } from './peer-error.js';
import { CLIENT_VERSION } from './identity.js';
import type { PeerSessionOptions, SessionHandlers, SessionStats } from './session-options.js';

export type { PeerSessionOptions, SessionHandlers, SessionStats };

/** Bytes queued to a peer before `writable` says wait for drain (Node's own mark is one 16 KiB block). */
const SEND_BUFFER = 1024 * 1024;
/** Messages held for `attach` before the transport is paused. */
const HOLD_MARK = 256;

/**
 * One peer-wire session over any Transport: the handshake exchange with its
 * checks (and the BEP 52 upgrade), our extended handshake and theirs (BEP 10),
 * the push framer with limits, keep-alive and idle timers, the frame tap for
 * `--frames`, and one set of PeerError codes. Every tool builds on it: the
 * probe tools through PeerConnection (state and a request pipeline on top),
 * the swarm directly (a plain callback per message, batched and zero-copy
 * sends).
 *
 * Hot path: frames are views into transport chunks, messages go to one
 * callback, annotated Frames are built only when `onFrame` is set.
 */
export class PeerSession {
  /** The peer's handshake (copies, safe to keep). */
  remote!: Handshake;
  remoteClient!: PeerIdInfo;
  /** The peer's extended handshake, once it came. */
  remoteExtended: ExtendedHandshake | undefined;
  readonly extensions = new ExtensionIds();
  readonly stats: SessionStats = { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 };
  /** The peer answered with `upgradeInfoHash` (BEP 52): the session is for the v2 info-hash. */
  upgraded = false;
  closed = false;
  /** Set once closed: undefined when we closed it, else why. */
  closeReason: PeerError | undefined;
  /** Resolves when the session is closed, with the reason (undefined: closed by us). */
  readonly done: Promise<PeerError | undefined>;

  private readonly framer: WireFramer;
  private readonly ourReserved: Uint8Array;
  private pieceCount: number | undefined;
  private infoHash: Uint8Array | undefined;
  private established = false;
  private greetedAlready = false;
  private pending: { resolve: (s: PeerSession) => void; reject: (e: PeerError) => void } | undefined;
  private handlers: SessionHandlers | undefined;
  private held: Array<[Message, number]> = [];
  private drainWaiters: Array<() => void> = [];
  private handshakeTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private lastOut = Date.now();
  private resolveDone!: (e: PeerError | undefined) => void;

  private constructor(
    readonly transport: Transport,
    private readonly opts: PeerSessionOptions,
  ) {
    this.pieceCount = opts.pieceCount;
    this.framer = new WireFramer(opts.limits ?? frameLimits(opts.pieceCount !== undefined ? { pieceCount: opts.pieceCount } : {}));
    this.ourReserved = opts.reserved ?? makeReserved({ extended: true, fast: true });
    if (typeof opts.infoHash !== 'function') this.infoHash = opts.infoHash;
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /** Dial `host:port` (TCP unless `dial` says otherwise) and exchange handshakes. */
  static async connect(host: string, port: number, opts: PeerSessionOptions): Promise<PeerSession> {
    if (typeof opts.infoHash === 'function') throw new TypeError('connect needs the info-hash itself');
    const peer = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    let transport: Transport;
    try {
      transport = await (opts.dial ?? dialTcp)(host, port, { timeoutMs: opts.connectTimeoutMs ?? 10_000, ...(opts.signal ? { signal: opts.signal } : {}) });
    } catch (e) {
      const err = e as Error & { code?: string; offset?: number };
      if (err.code === 'aborted') throw e;
      throw new PeerError(err.code ?? 'socket_error', err.message, peer, err.offset, { cause: e });
    }
    return PeerSession.open(transport, opts, true);
  }

  /** Run the handshake over an open transport: ours first when we dialled, else theirs first. */
  static open(transport: Transport, opts: PeerSessionOptions, initiator: boolean): Promise<PeerSession> {
    return new PeerSession(transport, opts).start(initiator);
  }

  /** `host:port` of the peer. */
  get peer(): string {
    return this.transport.peer;
  }

  get remoteIp(): string {
    return this.transport.remoteHost;
  }

  /** The info-hash this session is for (for an incoming one, the one the peer asked for). */
  get torrentInfoHash(): Uint8Array {
    return this.infoHash!;
  }

  /** Both sides set the BEP 6 bit. */
  get fast(): boolean {
    return supportsFast(this.remote.reserved) && supportsFast(this.ourReserved);
  }

  /** The peer set the BEP 10 bit. */
  get extendedSupported(): boolean {
    return supportsExtended(this.remote.reserved);
  }

  private ctx(direction: Direction): MessageContext {
    return { direction, extensions: this.extensions, ...(this.pieceCount !== undefined ? { pieceCount: this.pieceCount } : {}) };
  }

  /** The frame tap: every frame both ways, with who and which way (and, over MSE/PE, that it was decrypted). */
  private tap(frame: Frame, direction: Direction): void {
    const carried = this.carried;
    const meta: Record<string, string> = carried ? { direction, peer: this.peer, carried } : { direction, peer: this.peer };
    this.opts.onFrame!({ ...frame, meta }, direction);
  }

  /** `decrypted (RC4)` when an MSE transport carries the session; shown with each frame. */
  private get carried(): string | undefined {
    return this.transport.kind.startsWith('mse/') ? 'MSE/PE, decrypted' : undefined;
  }

  private start(initiator: boolean): Promise<PeerSession> {
    const handshakeMs = this.opts.handshakeTimeoutMs ?? 10_000;
    const p = new Promise<PeerSession>((resolve, reject) => (this.pending = { resolve, reject }));
    this.handshakeTimer = setTimeout(() => {
      const got = this.framer.bufferedBytes;
      this.shutdown(new PeerError('handshake_timeout', `no complete handshake within ${handshakeMs} ms (${got} of 68 bytes came)`, this.peer));
    }, handshakeMs);
    this.transport.setHandlers({
      data: (chunk) => this.onData(chunk, initiator),
      drain: () => this.onDrain(),
      close: (e) => this.onTransportClose(e),
    });
    // The transport's own exchange (an MSE handshake) comes first in --frames.
    if (this.opts.onFrame && this.transport.handshakeFrames) {
      for (const f of this.transport.handshakeFrames()) this.tap(f, f.meta?.['direction'] === 'in' ? 'in' : 'out');
    }
    if (initiator && !this.closed) this.sendHandshake();
    return p;
  }

  private onData(chunk: Uint8Array, initiator: boolean): void {
    this.stats.bytesIn += chunk.length;
    this.idleTimer?.refresh();
    // What we answer to one chunk (unchoke, rejects, haves, metadata) leaves in one write.
    this.transport.cork();
    try {
      let frames: ReturnType<WireFramer['push']>;
      try {
        frames = this.framer.push(chunk);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        // Frames completed before the violation still count (a handshake makes the session).
        this.handleFrames((e.partial as { frames?: ReturnType<WireFramer['push']> } | undefined)?.frames ?? [], initiator);
        const hint = e.code === 'bad_protocol' ? ' (the peer may insist on MSE/PE encryption, which btscope does not speak)' : '';
        this.shutdown(new PeerError(e.code, `${e.message}${hint} (at byte ${e.offset} of the incoming stream)`, this.peer, e.offset, { cause: e }));
        return;
      }
      this.handleFrames(frames, initiator);
    } finally {
      this.transport.uncork();
    }
  }

  private handleFrames(frames: ReturnType<WireFramer['push']>, initiator: boolean): void {
    for (const f of frames) {
      if (this.closed) return;
      if (f.kind === 'handshake') {
        this.onHandshake(f.bytes, f.offset, initiator);
        continue;
      }
      let m: Message;
      try {
        m = parseMessage(f.bytes, f.offset);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        return this.shutdown(PeerError.fromDecode(e, this.peer, 'malformed message'));
      }
      this.stats.messagesIn++;
      if (m.type === 'extended' && m.extId === 0) {
        try {
          this.remoteExtended = decodeExtendedHandshake(m.payload, f.offset + 6).value;
          this.extensions.learn('in', this.remoteExtended);
        } catch {
          // A broken extended handshake shows in --frames; the session goes on without extensions.
        }
      }
      if (this.opts.onFrame) this.tap(messageFrame(f.bytes, f.offset, m, this.ctx('in')), 'in');
      if (this.handlers) this.handlers.message(m, f.offset);
      else if (this.held.push([m, f.offset]) === HOLD_MARK) this.transport.pause();
    }
  }

  private onHandshake(bytes: Uint8Array, offset: number, initiator: boolean): void {
    const hs = decodeHandshake(bytes, offset);
    // new Uint8Array(x) copies; Buffer#slice (transport chunks are Buffers) would not.
    this.remote = { reserved: new Uint8Array(hs.value.reserved), infoHash: new Uint8Array(hs.value.infoHash), peerId: new Uint8Array(hs.value.peerId) };
    this.remoteClient = decodePeerId(this.remote.peerId);
    if (this.opts.onFrame) this.tap(hs.frame, 'in');
    const want = this.opts.infoHash;
    const upgraded = this.opts.upgradeInfoHash !== undefined && bytesEqual(this.opts.upgradeInfoHash, this.remote.infoHash);
    const ok = upgraded || (typeof want === 'function' ? want(this.remote.infoHash) : bytesEqual(want, this.remote.infoHash));
    if (!ok) {
      const expected = typeof want === 'function' ? 'one we serve' : toHex(want);
      return this.shutdown(new PeerError('wrong_info_hash', `handshake for info-hash ${toHex(this.remote.infoHash)}, expected ${expected}`, this.peer, offset + 28));
    }
    if (!this.infoHash || upgraded) this.infoHash = this.remote.infoHash;
    this.upgraded = upgraded;
    if (!initiator) this.sendHandshake();
    this.established = true;
    clearTimeout(this.handshakeTimer);
    this.armTimers();
    if ((this.opts.greeting ?? 'now') === 'now') this.greet(undefined);
    const p = this.pending!;
    this.pending = undefined;
    p.resolve(this);
  }

  private onDrain(): void {
    this.releaseDrainWaiters();
    this.handlers?.drain?.();
  }

  private releaseDrainWaiters(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  private onTransportClose(e: (Error & { code?: string }) | undefined): void {
    if (this.closed) return;
    if (e) return this.shutdown(new PeerError(e.code ?? 'socket_error', e.message, this.peer, undefined, { cause: e }));
    if (!this.established) {
      const got = this.framer.bufferedBytes;
      const why = got > 0 ? `closed during the handshake after ${got} of 68 bytes (truncated handshake)` : 'closed before sending a handshake';
      return this.shutdown(new PeerError('closed', why, this.peer, got));
    }
    let reason: PeerError;
    try {
      this.framer.end();
      reason = new PeerError('closed', 'the peer closed the connection', this.peer);
    } catch (err) {
      reason = err instanceof DecodeError ? PeerError.fromDecode(err, this.peer) : new PeerError('closed', String(err), this.peer);
    }
    this.shutdown(reason);
  }

  /**
   * Install the handlers and deliver the messages that arrived since the
   * handshake, in order (and the close, if it came meanwhile). Called again,
   * it hands the session to new handlers (a magnet's metadata session joins
   * the swarm).
   */
  attach(handlers: SessionHandlers): void {
    this.handlers = handlers;
    const held = this.held;
    this.held = [];
    // Held messages are delivered even when the session closed meanwhile: they did arrive.
    for (const [m, offset] of held) {
      if (this.handlers !== handlers) break;
      handlers.message(m, offset);
    }
    if (!this.closed && this.transport.paused && this.handlers === handlers) this.transport.resume();
    if (this.closed && this.handlers === handlers) handlers.close(this.closeReason);
  }

  /** Our first message and extended handshake went out. */
  get greeted(): boolean {
    return this.greetedAlready;
  }

  /** Hold incoming messages (in order, up to a mark, then pause the transport) until the next `attach`. */
  detach(): void {
    this.handlers = undefined;
  }

  /**
   * Our first messages after the handshake: `first` (a bitfield, have all or
   * have none), then our extended handshake when both sides do BEP 10. Once.
   */
  greet(first: Message | undefined): void {
    if (this.greetedAlready || this.closed) return;
    this.greetedAlready = true;
    if (first) this.send(first);
    if (this.extendedSupported && this.opts.extended !== false && supportsExtended(this.ourReserved)) {
      const init = this.opts.extended ?? {};
      const payload = encodeExtendedHandshake({ v: CLIENT_VERSION, reqq: 500, ...init });
      // Our own ids, as encodeExtendedHandshake wrote them (no need to decode what we just encoded).
      this.extensions.learn('out', init.m ?? LOCAL_EXTENSION_IDS);
      this.send({ type: 'extended', extId: 0, payload });
    }
  }

  private sendHandshake(): void {
    const bytes = encodeHandshake({ reserved: this.ourReserved, infoHash: this.infoHash ?? this.remote.infoHash, peerId: this.opts.peerId });
    const at = this.stats.bytesOut;
    this.write(bytes);
    if (this.opts.onFrame) this.tap(decodeHandshake(asBuffer(bytes), at).frame, 'out');
  }

  private write(bytes: Uint8Array, written?: () => void): boolean {
    this.stats.bytesOut += bytes.length;
    this.lastOut = Date.now();
    return this.transport.write(bytes, written);
  }

  /** Send a message; false when the send buffer is full (wait for `drain`). */
  send(m: Message): boolean {
    if (this.closed) return false;
    if (m.type === 'piece') return this.sendPiece(m.index, m.begin, m.block);
    const bytes = encodeMessage(m);
    const at = this.stats.bytesOut;
    const ok = this.write(bytes);
    this.stats.messagesOut++;
    if (this.opts.onFrame) this.tap(messageFrame(asBuffer(bytes), at, m, this.ctx('out')), 'out');
    return ok;
  }

  /** Several messages in one write (a batch of requests). */
  sendBatch(ms: readonly Message[]): boolean {
    if (this.closed || ms.length === 0) return !this.closed;
    const parts = ms.map((m) => encodeMessage(m));
    if (this.opts.onFrame) {
      let at = this.stats.bytesOut;
      ms.forEach((m, i) => {
        this.tap(messageFrame(asBuffer(parts[i]!), at, m, this.ctx('out')), 'out');
        at += parts[i]!.length;
      });
    }
    this.stats.messagesOut += ms.length;
    return this.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }

  /** A piece message without copying the block: the 13-byte head, then the block, in one write. */
  sendPiece(index: number, begin: number, block: Uint8Array): boolean {
    if (this.closed) return false;
    const head = encodePieceHeader(index, begin, block.length);
    const at = this.stats.bytesOut;
    this.transport.cork();
    this.write(head);
    const ok = this.write(block);
    process.nextTick(() => this.transport.uncork());
    this.stats.messagesOut++;
    if (this.opts.onFrame) {
      const bytes = Buffer.concat([head, block]);
      this.tap(messageFrame(bytes, at, { type: 'piece', index, begin, block: bytes.subarray(13) }, this.ctx('out')), 'out');
    }
    return ok;
  }

  /**
   * Piece messages already encoded back to back (a run of blocks laid out by
   * WirePieces) in one write. `blocks` says which they are (for --frames);
   * `written` runs once the transport is done with `bytes`, so their buffer
   * may be reused.
   */
  sendPieceMessages(bytes: Uint8Array, blocks: readonly { index: number; begin: number; length: number }[], written: () => void): boolean {
    if (this.closed) {
      written();
      return false;
    }
    if (this.opts.onFrame) {
      let at = 0;
      for (const b of blocks) {
        const msg = bytes.subarray(at, at + 13 + b.length);
        const m = { type: 'piece' as const, index: b.index, begin: b.begin, block: msg.subarray(13) };
        this.tap(messageFrame(asBuffer(msg), this.stats.bytesOut + at, m, this.ctx('out')), 'out');
        at += msg.length;
      }
    }
    this.stats.messagesOut += blocks.length;
    return this.write(bytes, written);
  }

  /** An extended message by extension name, with the id the peer asked for; false if the peer did not offer it. */
  sendExtended(name: string, payload: Uint8Array): boolean {
    const id = this.extensions.idFor('out', name);
    if (id === undefined) return false;
    this.send({ type: 'extended', extId: id, payload });
    return true;
  }

  /**
   * Room for more outgoing data. A transport reports "full" past one block,
   * which would make a seeder ping-pong one block per drain; up to
   * SEND_BUFFER bytes stay queued instead (memory per peer bounded by it).
   */
  get writable(): boolean {
    return !this.closed && this.transport.writableLength < SEND_BUFFER;
  }

  /** Resolves when the transport can take more (at once if it can now, or once closed). */
  drain(): Promise<void> {
    if (this.closed || !this.transport.needsDrain) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  cork(): void {
    this.transport.cork();
  }

  uncork(): void {
    this.transport.uncork();
  }

  /** Stop reading from the peer (the consumer is behind) / read again. */
  pause(): void {
    this.transport.pause();
  }

  resume(): void {
    if (!this.closed) this.transport.resume();
  }

  /**
   * The piece count became known after connecting (metadata fetched for a
   * magnet): from now on frames are limited by it (unless `limits` were given).
   */
  setPieceCount(pieceCount: number): void {
    if (this.pieceCount !== undefined) return;
    this.pieceCount = pieceCount;
    if (!this.opts.limits) this.framer.setLimits(frameLimits({ pieceCount }));
  }

  private armTimers(): void {
    const idleMs = this.opts.idleTimeoutMs ?? 120_000;
    this.idleTimer = setTimeout(() => this.shutdown(new PeerError('idle_timeout', `nothing received for ${idleMs} ms`, this.peer)), idleMs);
    this.idleTimer.unref();
    const keepAliveMs = this.opts.keepAliveMs ?? Math.min(60_000, Math.max(250, idleMs / 2));
    if (keepAliveMs > 0) {
      this.keepAliveTimer = setInterval(() => {
        if (Date.now() - this.lastOut >= keepAliveMs - 5) this.send({ type: 'keep_alive' });
      }, keepAliveMs);
      this.keepAliveTimer.unref();
    }
  }

  /** Close the session: no error when we are done with it; an Error says why we dropped the peer. */
  close(why?: Error): void {
    if (why === undefined || why instanceof PeerError) return this.shutdown(why);
    this.shutdown(new PeerError((why as Error & { code?: string }).code ?? 'dropped', why.message, this.peer, undefined, { cause: why }));
  }

  private shutdown(reason: PeerError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.idleTimer);
    clearInterval(this.keepAliveTimer);
    this.transport.close();
    this.releaseDrainWaiters();
    if (this.pending) {
      const p = this.pending;
      this.pending = undefined;
      p.reject(reason ?? new PeerError('closed', 'closed during the handshake', this.peer));
    } else this.handlers?.close(reason);
    this.resolveDone(reason);
  }
}
