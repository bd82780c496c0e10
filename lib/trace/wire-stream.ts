import { DecodeError } from '../core/errors.js';
import { WireFramer, type WireFrame } from '../wire/framer.js';
import { MESSAGE_IDS, parseMessage, type Message } from '../wire/messages.js';
import { decodeHandshake, type Handshake } from '../wire/handshake.js';
import { findSyncPoint, handshakeAt } from './resync.js';
import { ownedCopy } from '../capture/copy.js';

/** What a peer wire direction hands the engine. */
export interface WireSink {
  handshake(h: Handshake, offset: number, bytes: Uint8Array): void;
  message(m: Message, offset: number, bytes: Uint8Array): void;
  /**
   * A piece message whose block was passed over without being kept
   * (`keepPieceBlocks: false`): `head` is its first 13 bytes (length, id,
   * index, begin); the frame is `13 + blockLength` bytes at `offset`.
   */
  pieceHead(index: number, begin: number, blockLength: number, offset: number, head: Uint8Array): void;
  /** A frame whose length was sound but whose body did not decode. */
  malformed(error: DecodeError, offset: number, bytes: Uint8Array): void;
  /** Bytes not decoded as peer wire: before a sync point, after a framing error, or never synced. */
  undecoded(offset: number, length: number, reason: UndecodedReason): void;
  /**
   * A gap, stream bytes [offset, offset + length) not captured, and how many
   * captured bytes after it were passed over before frames were found again
   * (`relocked` false: none were, up to the next gap or the end).
   */
  resynced(offset: number, length: number, skipped: number, relocked: boolean): void;
}

export type UndecodedReason = 'encrypted' | 'before_sync' | 'framing_error' | 'gap' | 'unsynced';

export interface WireStreamOptions {
  /** The stream's start was captured: offset 0 is its first byte. */
  fromStart: boolean;
  /** Resync buffer cap: bytes searched for a frame boundary before older ones are dropped. */
  maxSearchBytes?: number;
  /** Give up looking for a boundary after this many bytes (the stream is then opaque). */
  maxUnsyncedBytes?: number;
  /**
   * Hand piece blocks on (default true). False: piece messages are counted and
   * listed from their 13-byte head and their blocks are skipped as they pass,
   * never copied or buffered (the tracer when nothing shows or extracts them).
   */
  keepPieceBlocks?: boolean;
}

/** The head of a piece message: length prefix, id, index, begin (BEP 3). */
const PIECE_HEAD_LENGTH = 13;

type State = 'start' | 'framed' | 'search' | 'opaque';

/**
 * One direction of a peer wire stream (TCP or uTP), fed in stream order with
 * gaps reported. From the start, the 68-byte handshake is expected; anything
 * else at offset 0 is an encrypted (MSE/PE) stream, searched for a plaintext
 * handshake in case encryption negotiated plaintext. Mid-stream or after a
 * gap, frame boundaries are found by checking that lengths and ids make sense
 * (resync.ts); framing and decoding are lib/wire's WireFramer and parseMessage.
 */
export class WireStreamDecoder {
  private state: State;
  private framer: WireFramer | undefined;
  private search: Uint8Array[] = [];
  private searchBytes = 0;
  private searchStart = 0;
  private unsynced = 0;
  /** The direction opened with something other than a handshake. */
  encryptedStart = false;
  synced = false;
  undecodedBytes = 0;
  private readonly maxSearch: number;
  private readonly maxUnsynced: number;
  private nextOffset = 0;
  /** The last gap, until frames are found after it. */
  private pendingGap: { offset: number; length: number } | undefined;
  private readonly keepPieceBlocks: boolean;

  constructor(
    private readonly sink: WireSink,
    opts: WireStreamOptions,
  ) {
    this.keepPieceBlocks = opts.keepPieceBlocks ?? true;
    this.state = opts.fromStart ? 'start' : 'search';
    this.maxSearch = opts.maxSearchBytes ?? 256 * 1024;
    this.maxUnsynced = opts.maxUnsyncedBytes ?? 4 * 1024 * 1024;
  }

  get opaque(): boolean {
    return this.state === 'opaque';
  }

  data(offset: number, bytes: Uint8Array): void {
    if (offset > this.nextOffset) this.gap(this.nextOffset, offset - this.nextOffset);
    this.nextOffset = offset + bytes.length;
    switch (this.state) {
      case 'start': {
        const hs = handshakeAt(bytes, 0);
        if (hs === true || (hs === -1 && bytes[0] === 19)) {
          this.startFramer(offset, true);
          this.pushFramed(bytes, offset);
          return;
        }
        this.encryptedStart = true;
        this.state = 'search';
        this.searchStart = offset;
        this.addSearch(bytes);
        return;
      }
      case 'framed':
        this.pushFramed(bytes, offset);
        return;
      case 'search':
        if (this.searchBytes === 0) this.searchStart = offset;
        this.addSearch(bytes);
        return;
      case 'opaque':
        this.undecoded(offset, bytes.length, this.encryptedStart ? 'encrypted' : 'unsynced');
        return;
    }
  }

  /** Bytes [offset, offset + length) were not captured (length 0: unknown, e.g. lost uTP packets). */
  gap(offset: number, length: number): void {
    if (this.state === 'opaque') {
      this.resolveGap(offset, false);
      this.pendingGap = { offset, length };
      this.nextOffset = Math.max(this.nextOffset, offset + length);
      return;
    }
    // What was captured since the last boundary ends here: a shorter chain that the gap cuts may lock.
    if (this.state === 'search' && this.searchBytes > 0) {
      this.trySync(true);
      if (this.state === 'search' && this.searchBytes > 0) this.dropSearch(this.searchBytes, 'gap');
    }
    this.resolveGap(offset, false);
    this.pendingGap = { offset, length };
    if (this.state === 'framed' && this.framer) {
      const held = this.framer.bufferedBytes;
      if (held > 0) this.undecoded(this.framer.offset, held, 'gap');
    }
    this.framer = undefined;
    this.state = 'search';
    this.search = [];
    this.searchBytes = 0;
    this.nextOffset = Math.max(this.nextOffset, offset + length);
    this.searchStart = this.nextOffset;
  }

  /** The stream ended: try what is left in the search buffer with a short chain. */
  end(): void {
    if (this.state === 'search' && this.searchBytes > 0) this.trySync(true);
    if (this.state === 'search' && this.searchBytes > 0) this.dropSearch(this.searchBytes, this.encryptedStart ? 'encrypted' : 'unsynced');
    if (this.state === 'framed' && this.framer && this.framer.bufferedBytes > 0) {
      this.undecoded(this.framer.offset, this.framer.bufferedBytes, 'gap');
    }
    this.resolveGap(this.nextOffset, false);
  }

  /** The pending gap's report: frames found again at `at` (relocked), or none before `at`. */
  private resolveGap(at: number, relocked: boolean): void {
    const g = this.pendingGap;
    if (!g) return;
    this.pendingGap = undefined;
    this.sink.resynced(g.offset, g.length, Math.max(0, at - (g.offset + g.length)), relocked);
  }

  private startFramer(offset: number, handshake: boolean): void {
    this.framer = new WireFramer({
      expectHandshake: handshake,
      startOffset: offset,
      ...(this.keepPieceBlocks ? {} : { keepPrefix: { [MESSAGE_IDS.piece]: PIECE_HEAD_LENGTH } }),
    });
    this.state = 'framed';
    this.synced = true;
    if (this.pendingGap) this.resolveGap(offset, true);
  }

  private pushFramed(bytes: Uint8Array, offset: number): void {
    let frames: WireFrame[];
    try {
      frames = this.framer!.push(bytes);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      const partial = (e.partial as { frames?: WireFrame[] } | undefined)?.frames ?? [];
      for (const f of partial) this.frame(f);
      // The framer keeps what it buffered; those bytes are lost to us: resync on what follows.
      this.sink.malformed(e, e.offset, new Uint8Array(0));
      this.undecoded(e.offset, offset + bytes.length - e.offset, 'framing_error');
      this.framer = undefined;
      this.state = 'search';
      this.search = [];
      this.searchBytes = 0;
      this.searchStart = offset + bytes.length;
      return;
    }
    for (const f of frames) this.frame(f);
  }

  private frame(f: WireFrame): void {
    if (f.kind === 'handshake') {
      try {
        this.sink.handshake(decodeHandshake(f.bytes, f.offset).value, f.offset, f.bytes);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        this.sink.malformed(e, f.offset, f.bytes);
      }
      return;
    }
    if (f.omitted !== undefined && f.id === MESSAGE_IDS.piece) {
      const b = f.bytes;
      const index = ((b[5]! << 24) | (b[6]! << 16) | (b[7]! << 8) | b[8]!) >>> 0;
      const begin = ((b[9]! << 24) | (b[10]! << 16) | (b[11]! << 8) | b[12]!) >>> 0;
      this.sink.pieceHead(index, begin, f.omitted + b.length - PIECE_HEAD_LENGTH, f.offset, b);
      return;
    }
    let m: Message;
    try {
      m = parseMessage(f.bytes, f.offset);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.sink.malformed(e, f.offset, f.bytes);
      return;
    }
    this.sink.message(m, f.offset, f.bytes);
  }

  private addSearch(bytes: Uint8Array): void {
    // Copied: views would pin the capture reader's chunks while we search.
    this.search.push(ownedCopy(bytes));
    this.searchBytes += bytes.length;
    this.trySync(false);
    while (this.state === 'search' && this.searchBytes > this.maxSearch) {
      this.dropSearch(this.searchBytes - (this.maxSearch >> 1), this.encryptedStart ? 'encrypted' : 'before_sync');
      if (this.unsynced > this.maxUnsynced) {
        this.dropSearch(this.searchBytes, this.encryptedStart ? 'encrypted' : 'unsynced');
        this.state = 'opaque';
      }
    }
  }

  private trySync(final: boolean): void {
    const buf = this.flat();
    const sync = findSyncPoint(buf, 3, final);
    if (!sync) return;
    if (sync.at > 0) this.undecoded(this.searchStart, sync.at, this.encryptedStart ? 'encrypted' : 'before_sync');
    const start = this.searchStart + sync.at;
    this.search = [];
    this.searchBytes = 0;
    this.startFramer(start, sync.handshake);
    this.pushFramed(buf.subarray(sync.at), start);
  }

  private flat(): Uint8Array {
    if (this.search.length === 1) return this.search[0]!;
    const out = new Uint8Array(this.searchBytes);
    let at = 0;
    for (const c of this.search) {
      out.set(c, at);
      at += c.length;
    }
    this.search = [out];
    return out;
  }

  private dropSearch(n: number, reason: UndecodedReason): void {
    const buf = this.flat();
    this.undecoded(this.searchStart, n, reason);
    this.unsynced += n;
    this.search = n < buf.length ? [buf.subarray(n)] : [];
    this.searchBytes = buf.length - n;
    this.searchStart += n;
  }

  private undecoded(offset: number, length: number, reason: UndecodedReason): void {
    if (length <= 0) return;
    this.undecodedBytes += length;
    this.sink.undecoded(offset, length, reason);
  }
}
