import { DecodeError } from '../core/errors.js';
import { HANDSHAKE_LENGTH, checkProtocolPrefix } from './handshake.js';
import { MESSAGE_IDS, MESSAGE_NAMES } from './messages.js';
import { UT_METADATA_PIECE_LENGTH } from './ut-metadata.js';

/**
 * One frame cut from a peer wire stream: the handshake (68 bytes) or a
 * length-prefixed message (`bytes` includes the 4-byte prefix). `offset` is the
 * absolute stream offset of `bytes[0]`. Frames inside one pushed chunk are
 * views into it (no copy); frames spanning chunks are copied once.
 */
export type WireFrame =
  | { readonly kind: 'handshake'; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly kind: 'message'; readonly offset: number; readonly bytes: Uint8Array; /** null for keep-alive */ readonly id: number | null };

export interface FrameLimits {
  /** Largest frame accepted, length prefix included. */
  readonly maxFrameLength: number;
  /** Tighter limits per message id (frame length, prefix included). */
  readonly maxLengthById?: Readonly<Partial<Record<number, number>>>;
}

export interface WireFramerOptions extends Partial<FrameLimits> {
  /** Expect the 68-byte handshake first (default true); false to start at a message boundary mid-stream. */
  readonly expectHandshake?: boolean;
  /** Absolute offset of the first byte pushed (default 0). */
  readonly startOffset?: number;
}

/** Default cap: 2 MiB covers 16 KiB blocks, bitfields of 16M pieces, BEP 52 hash batches. */
export const DEFAULT_MAX_FRAME_LENGTH = 2 * 1024 * 1024;
export const DEFAULT_BLOCK_LENGTH = 16 * 1024;

/**
 * Limits sized from what the torrent allows: a piece message carries one block
 * (`13 + blockLength`), a bitfield `ceil(pieces / 8)` bytes, an extended message
 * one 16 KiB metadata piece plus its dict. Use before the torrent is known:
 * `frameLimits({})` (bitfield then capped by the global limit).
 */
export function frameLimits(opts: { pieceCount?: number; maxBlockLength?: number; maxExtendedLength?: number; maxHashes?: number }): FrameLimits {
  const block = opts.maxBlockLength ?? DEFAULT_BLOCK_LENGTH;
  const extended = opts.maxExtendedLength ?? 6 + UT_METADATA_PIECE_LENGTH + 1024;
  const hashes = 5 + 48 + 32 * (opts.maxHashes ?? 1024);
  const byId: Partial<Record<number, number>> = {
    [MESSAGE_IDS.piece]: 13 + block,
    [MESSAGE_IDS.extended]: extended,
    [MESSAGE_IDS.hashes]: hashes,
  };
  if (opts.pieceCount !== undefined) byId[MESSAGE_IDS.bitfield] = 5 + Math.ceil(opts.pieceCount / 8);
  const known = Object.values(byId) as number[];
  const maxFrameLength = opts.pieceCount !== undefined ? Math.max(...known, 17 + 48) : DEFAULT_MAX_FRAME_LENGTH;
  return { maxFrameLength, maxLengthById: byId };
}

/**
 * Push framer for the peer wire (libp2p mplex's decoder shape): `push(chunk)`
 * returns every complete frame, in any chunking. A length prefix over the
 * limit is a DecodeError `limit_exceeded` as soon as its 4 (or 5) bytes are
 * in, before any allocation; a wrong handshake is `bad_protocol` at the first
 * wrong byte. After an error the framer stays failed (every push rethrows);
 * frames completed earlier in the same push are on the error's `partial.frames`.
 */
export class WireFramer {
  private readonly chunks: Uint8Array[] = [];
  private head = 0;
  private buffered = 0;
  private consumed: number;
  private handshakePending: boolean;
  private failure: DecodeError | undefined;
  private limits: FrameLimits;

  constructor(options: WireFramerOptions = {}) {
    this.handshakePending = options.expectHandshake ?? true;
    this.consumed = options.startOffset ?? 0;
    this.limits = {
      maxFrameLength: options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH,
      ...(options.maxLengthById ? { maxLengthById: options.maxLengthById } : {}),
    };
  }

  /** Tighten or relax the limits (e.g. once the piece count is known). */
  setLimits(limits: FrameLimits): void {
    this.limits = limits;
  }

  /** Absolute stream offset of the next byte not yet framed. */
  get offset(): number {
    return this.consumed;
  }

  /** Bytes held waiting for the rest of a frame (bounded by the frame limit plus one chunk). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  get awaitingHandshake(): boolean {
    return this.handshakePending;
  }

  get error(): DecodeError | undefined {
    return this.failure;
  }

  push(chunk: Uint8Array): WireFrame[] {
    if (this.failure) throw this.failure;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: WireFrame[] = [];
    try {
      for (;;) {
        if (this.handshakePending) {
          if (this.buffered === 0) break;
          checkProtocolPrefix(this.peek(Math.min(this.buffered, 20)), this.consumed);
          if (this.buffered < HANDSHAKE_LENGTH) break;
          const offset = this.consumed;
          out.push({ kind: 'handshake', offset, bytes: this.take(HANDSHAKE_LENGTH) });
          this.handshakePending = false;
          continue;
        }
        if (this.buffered < 4) break;
        const len = this.byteAt(0) * 0x1000000 + ((this.byteAt(1) << 16) | (this.byteAt(2) << 8) | this.byteAt(3));
        const total = 4 + len;
        if (total > this.limits.maxFrameLength) {
          throw new DecodeError('limit_exceeded', this.consumed, `length prefix ${len} exceeds the ${this.limits.maxFrameLength}-byte frame limit`, 'length');
        }
        let id: number | null = null;
        if (len > 0) {
          if (this.buffered < 5) break;
          id = this.byteAt(4);
          const idLimit = this.limits.maxLengthById?.[id];
          if (idLimit !== undefined && total > idLimit) {
            const name = MESSAGE_NAMES[id] ?? `id ${id}`;
            throw new DecodeError('limit_exceeded', this.consumed, `${name} frame of ${total} bytes exceeds its ${idLimit}-byte limit`, 'length');
          }
        }
        if (this.buffered < total) break;
        const offset = this.consumed;
        out.push({ kind: 'message', offset, bytes: this.take(total), id });
      }
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.failure = new DecodeError(e.code, e.offset, e.message, e.path, { frames: out });
      throw this.failure;
    }
    return out;
  }

  /**
   * The stream ended: throws `unexpected_eof` if a frame was cut short (at the
   * offset where bytes stopped), otherwise nothing.
   */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.buffered === 0) return;
    const what = this.handshakePending ? `handshake (${this.buffered} of ${HANDSHAKE_LENGTH} bytes)` : `message (${this.buffered} bytes buffered)`;
    throw new DecodeError('unexpected_eof', this.consumed + this.buffered, `stream ended inside a ${what} that started at byte ${this.consumed}`, this.handshakePending ? 'handshake' : 'message');
  }

  private byteAt(i: number): number {
    let idx = this.head + i;
    for (const c of this.chunks) {
      if (idx < c.length) return c[idx]!;
      idx -= c.length;
    }
    throw new RangeError('framer: byteAt past the buffer');
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.byteAt(i);
    return out;
  }

  private take(n: number): Uint8Array {
    this.buffered -= n;
    this.consumed += n;
    const first = this.chunks[0]!;
    const avail = first.length - this.head;
    if (avail >= n) {
      const view = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length - this.head, n - filled);
      out.set(c.subarray(this.head, this.head + k), filled);
      filled += k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return out;
  }
}
