import * as net from 'node:net';
import { TransportError, DecodeError } from '../core/errors.js';
import type { Frame } from '../core/field.js';
import { bytesEqual, toHex } from '../core/bytes.js';
import {
  WireFramer,
  frameLimits,
  parseMessage,
  encodeMessage,
  encodePieceHeader,
  messageFrame,
  encodeHandshake,
  decodeHandshake,
  makeReserved,
  supportsExtended,
  supportsFast,
  decodeExtendedHandshake,
  encodeExtendedHandshake,
  ExtensionIds,
  LOCAL_EXTENSION_IDS,
  type Message,
  type Handshake,
  type ExtendedHandshake,
  type Direction,
} from '../wire/index.js';

/**
 * The downloader's and seeder's view of one peer connection: our handshake
 * and extended handshake out, theirs checked, then parsed messages to a
 * callback and messages out with backpressure. Built only on lib/wire's codecs
 * (framer, parseMessage, encodeMessage); annotated Frames are built only when
 * `onFrame` is set, so the hot path allocates nothing but the socket's chunks.
 * Piece blocks are views into those chunks (never reused by Node), so they can
 * go straight to an async file write.
 *
 * Why not PeerConnection (lib/engine/peer-connection.ts)? Both sit on the same
 * lib/wire codecs; no codec logic lives here. PeerConnection is the probing
 * tools' connection: it keeps its own peer state (bitfield, have-all, allowed
 * fast), queues messages for an async iterator with a high-water mark, and
 * serves one request pipeline. The swarm keeps that state once, in the piece
 * picker, and needs a plain callback per message, batched request writes,
 * corked piece sends and its own send-buffer mark; routing 16 000 blocks per
 * 256 MiB through PeerConnection's queue and state would do that work twice.
 */
export interface PeerLinkOptions {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** Pieces in the torrent (frame limits; bitfield size); unknown for a magnet before metadata. */
  pieceCount?: number;
  /** Our extended handshake values (reqq, p, metadata_size, m). */
  extended?: Parameters<typeof encodeExtendedHandshake>[0];
  /** Connect + handshake must finish within this (ms). */
  handshakeTimeoutMs?: number;
  /** Close when nothing arrives for this long (ms); keep-alives are sent at a third of it. */
  idleTimeoutMs?: number;
  /** Every frame both ways, annotated (for --frames). */
  onFrame?: (frame: Frame, direction: Direction) => void;
  /**
   * Set the BEP 52 v2 reserved bit (reserved[7] & 0x10). Only on a connection
   * for a v2 info-hash: on a hybrid's v1 hash the bit offers an upgrade to v2
   * that this link does not follow.
   */
  v2?: boolean;
}

/** Bytes a peer's outgoing buffer may hold before the seeder waits for 'drain'. */
const SEND_BUFFER = 1024 * 1024;

export class PeerLink {
  /** Their handshake. */
  remote!: Handshake;
  /** Their extended handshake, once received. */
  extended: ExtendedHandshake | undefined;
  readonly extensions = new ExtensionIds();
  /** Set by attach(); messages that arrive before are held, in order. */
  onMessage: (m: Message) => void = (m) => void this.held.push(m);
  private held: Message[] = [];
  onClose: (error?: Error) => void = () => {};
  /** The socket drained: more may be sent. */
  onDrain: () => void = () => {};
  closed = false;
  private readonly framer: WireFramer;
  private idleTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private lastIn = Date.now();
  private lastOut = Date.now();
  bytesIn = 0;
  bytesOut = 0;

  private constructor(
    readonly socket: net.Socket,
    readonly address: string,
    private readonly opts: PeerLinkOptions,
  ) {
    this.framer = new WireFramer({ ...frameLimits(opts.pieceCount !== undefined ? { pieceCount: opts.pieceCount } : {}) });
    socket.setNoDelay(true);
  }

  get fast(): boolean {
    return supportsFast(this.remote.reserved);
  }

  get remoteExtended(): boolean {
    return supportsExtended(this.remote.reserved);
  }

  get remoteIp(): string {
    return this.socket.remoteAddress ?? '';
  }

  /** Dial a peer and exchange handshakes. */
  static connect(host: string, port: number, opts: PeerLinkOptions): Promise<PeerLink> {
    const socket = net.connect({ host, port });
    const link = new PeerLink(socket, `${host.includes(':') ? `[${host}]` : host}:${port}`, opts);
    return link.start(true);
  }

  /**
   * Wrap an accepted socket: read their handshake first, ask `accept` whether
   * we serve that info-hash, then answer with ours.
   */
  static accept(socket: net.Socket, opts: PeerLinkOptions): Promise<PeerLink> {
    const link = new PeerLink(socket, `${socket.remoteAddress}:${socket.remotePort}`, opts);
    return link.start(false);
  }

  private start(initiator: boolean): Promise<PeerLink> {
    const { socket, opts } = this;
    return new Promise<PeerLink>((resolve, reject) => {
      let settled = false;
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        this.closed = true;
        reject(e);
      };
      const timer = setTimeout(
        () => fail(new TransportError('timeout', `${this.address}: no handshake within ${opts.handshakeTimeoutMs ?? 10_000} ms`)),
        opts.handshakeTimeoutMs ?? 10_000,
      );
      const sendHandshake = (): void => {
        const reserved = makeReserved({ extended: true, fast: true, v2: opts.v2 ?? false });
        const hs = encodeHandshake({ reserved, infoHash: opts.infoHash, peerId: opts.peerId });
        const at = this.bytesOut;
        this.writeRaw(hs);
        if (opts.onFrame) opts.onFrame({ ...decodeHandshake(asBuffer(hs), at).frame, meta: { direction: 'out', peer: this.address } }, 'out');
      };
      if (initiator) socket.once('connect', sendHandshake);
      socket.on('error', (e) => {
        if (!settled) fail(new TransportError('connect', `${this.address}: ${e.message}`));
        else this.shutdown(new TransportError('socket', `${this.address}: ${e.message}`));
      });
      socket.on('close', () => {
        if (!settled) fail(new TransportError('closed', `${this.address}: connection closed during the handshake`));
        else this.shutdown();
      });
      socket.on('drain', () => this.onDrain());
      // What we answer to one chunk (unchoke, rejects, haves, metadata) leaves in one write.
      socket.on('data', (chunk: Buffer) => {
        socket.cork();
        try {
          onData(chunk);
        } finally {
          socket.uncork();
        }
      });
      const onData = (chunk: Buffer): void => {
        this.lastIn = Date.now();
        this.bytesIn += chunk.length;
        let frames;
        try {
          frames = this.framer.push(chunk);
        } catch (e) {
          const err = e instanceof DecodeError ? new TransportError('protocol', `${this.address}: ${e.describe()}`, { cause: e }) : (e as Error);
          if (!settled) return fail(err);
          return this.shutdown(err);
        }
        for (const f of frames) {
          if (this.closed) return;
          if (f.kind === 'handshake') {
            try {
              const hs = decodeHandshake(f.bytes, f.offset);
              this.remote = { reserved: hs.value.reserved.slice(), infoHash: hs.value.infoHash.slice(), peerId: hs.value.peerId.slice() };
              opts.onFrame?.({ ...hs.frame, meta: { direction: 'in', peer: this.address } }, 'in');
            } catch (e) {
              return fail(e instanceof DecodeError ? new TransportError('protocol', `${this.address}: ${e.describe()}`) : (e as Error));
            }
            if (!bytesEqual(this.remote.infoHash, opts.infoHash)) {
              return fail(new TransportError('wrong_info_hash', `${this.address}: handshake for info-hash ${toHex(this.remote.infoHash)}, not ours`));
            }
            if (!initiator) sendHandshake();
            // Our extended handshake goes out in greet(), after the bitfield (BEP 3: bitfield first).
            settled = true;
            clearTimeout(timer);
            this.armTimers();
            resolve(this);
            continue;
          }
          let m: Message;
          try {
            m = parseMessage(f.bytes, f.offset);
          } catch (e) {
            return this.shutdown(e instanceof DecodeError ? new TransportError('protocol', `${this.address}: ${e.describe()}`) : (e as Error));
          }
          if (m.type === 'extended' && m.extId === 0) {
            try {
              this.extended = decodeExtendedHandshake(m.payload, f.offset + 6).value;
              this.extensions.learn('in', this.extended);
            } catch {
              // A broken extended handshake is shown in --frames; the connection goes on without extensions.
            }
          }
          if (opts.onFrame) {
            opts.onFrame({ ...messageFrame(f.bytes, f.offset, m, this.ctx('in')), meta: { direction: 'in', peer: this.address } }, 'in');
          }
          this.onMessage(m);
        }
      };
    });
  }

  private ctx(direction: Direction) {
    return { direction, extensions: this.extensions, ...(this.opts.pieceCount !== undefined ? { pieceCount: this.opts.pieceCount } : {}) };
  }

  private sendExtended(init: Parameters<typeof encodeExtendedHandshake>[0]): void {
    const payload = encodeExtendedHandshake({ v: 'btscope 0.1', ...init });
    // Our own ids, as encodeExtendedHandshake wrote them (no need to decode what we just encoded).
    this.extensions.learn('out', init?.m ?? LOCAL_EXTENSION_IDS);
    this.send({ type: 'extended', extId: 0, payload });
  }

  /**
   * Our first messages after the handshake: `first` (bitfield, have all or
   * have none: BEP 3 has the bitfield "only ever sent as the first message",
   * BEP 6 the same for have all / have none), then our extended handshake
   * (BEP 10) when the peer supports it. Called once, by the swarm.
   */
  greet(first: Message | undefined): void {
    if (this.greeted) return;
    this.greeted = true;
    if (first) this.send(first);
    if (this.remoteExtended) this.sendExtended(this.opts.extended ?? {});
  }

  private greeted = false;

  /** Install the handlers and deliver the messages that arrived with the handshake. */
  attach(handlers: { onMessage: (m: Message) => void; onClose: (error?: Error) => void; onDrain?: () => void }): void {
    this.onMessage = handlers.onMessage;
    this.onClose = handlers.onClose;
    if (handlers.onDrain) this.onDrain = handlers.onDrain;
    const held = this.held;
    this.held = [];
    for (const m of held) {
      if (this.closed) break;
      this.onMessage(m);
    }
  }

  /** Send a message; false when the socket's buffer is full (wait for onDrain). */
  send(m: Message): boolean {
    if (this.closed) return false;
    const bytes = encodeMessage(m);
    if (this.opts.onFrame) this.opts.onFrame({ ...messageFrame(asBuffer(bytes), this.bytesOut, m, this.ctx('out')), meta: { direction: 'out', peer: this.address } }, 'out');
    return this.writeRaw(bytes);
  }

  /** Several messages in one socket write (a batch of requests). */
  sendBatch(ms: readonly Message[]): boolean {
    if (this.closed || ms.length === 0) return !this.closed;
    const parts = ms.map((m) => encodeMessage(m));
    if (this.opts.onFrame) {
      let at = this.bytesOut;
      ms.forEach((m, i) => {
        this.opts.onFrame!({ ...messageFrame(asBuffer(parts[i]!), at, m, this.ctx('out')), meta: { direction: 'out', peer: this.address } }, 'out');
        at += parts[i]!.length;
      });
    }
    return this.writeRaw(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }

  /** A piece message without copying the block: header then block. */
  sendPiece(index: number, begin: number, block: Uint8Array): boolean {
    if (this.closed) return false;
    const head = encodePieceHeader(index, begin, block.length);
    if (this.opts.onFrame) {
      const whole = Buffer.alloc(13 + block.length);
      whole.set(head, 0);
      whole.set(block, 13);
      this.opts.onFrame({ ...messageFrame(whole, this.bytesOut, { type: 'piece', index, begin, block }, this.ctx('out')), meta: { direction: 'out', peer: this.address } }, 'out');
    }
    this.socket.cork();
    this.writeRaw(head);
    const ok = this.writeRaw(block);
    process.nextTick(() => this.socket.uncork());
    return ok;
  }

  /**
   * Piece messages already encoded back to back (a run of blocks laid out by
   * WirePieces) in one socket write. `blocks` says which they are (for
   * --frames); `written` runs once the socket is done with `bytes` (written
   * to the kernel, or the connection gone), so their buffer may be reused.
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
        this.opts.onFrame({ ...messageFrame(asBuffer(msg), this.bytesOut + at, m, this.ctx('out')), meta: { direction: 'out', peer: this.address } }, 'out');
        at += msg.length;
      }
    }
    this.lastOut = Date.now();
    this.bytesOut += bytes.length;
    return this.socket.write(bytes, () => written());
  }

  /**
   * Room for more outgoing data. Node's socket buffer reports "full" past
   * 16 KiB (one block), which would make a seeder ping-pong one block per
   * 'drain'; we keep up to SEND_BUFFER bytes queued instead (memory per peer
   * stays bounded by it).
   */
  get writable(): boolean {
    return !this.closed && this.socket.writableLength < SEND_BUFFER;
  }

  /** Hold writes until uncork() so a batch of pieces leaves in few system calls. */
  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  private writeRaw(bytes: Uint8Array): boolean {
    this.lastOut = Date.now();
    this.bytesOut += bytes.length;
    return this.socket.write(bytes);
  }

  private armTimers(): void {
    const idle = this.opts.idleTimeoutMs ?? 120_000;
    const tick = Math.max(250, Math.min(idle / 3, 30_000));
    this.idleTimer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastIn > idle) this.shutdown(new TransportError('idle', `${this.address}: nothing received for ${idle} ms`));
      else if (now - this.lastOut > Math.min(idle / 2, 60_000)) this.send({ type: 'keep_alive' });
    }, tick);
    this.idleTimer.unref();
  }

  close(error?: Error): void {
    this.shutdown(error);
  }

  private shutdown(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.idleTimer);
    clearInterval(this.keepAliveTimer);
    this.socket.destroy();
    this.onClose(error);
  }
}

/** Frames over a Buffer view: the hex renderer (hexy) reads plain Uint8Arrays as text. */
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
