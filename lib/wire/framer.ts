import { DecodeError } from '../core/errors.js';
import { HANDSHAKE_LENGTH, checkProtocolPrefix } from './handshake.js';
import { MESSAGE_BY_ID, MESSAGE_ROWS, maxPayload, type PayloadBounds } from './message-spec.js';
import { UT_METADATA_PIECE_LENGTH } from './ut-metadata.js';

/**
 * One frame cut from a peer wire stream: the handshake (68 bytes) or a
 * length-prefixed message (`bytes` includes the 4-byte prefix). `offset` is the
 * absolute stream offset of `bytes[0]`. A frame inside one pushed chunk is a
 * view into it (no copy); a frame spanning chunks is copied once, as its parts
 * arrive. With `keepPrefix`, a message of that id carries only its first bytes
 * and `omitted` counts the rest, which were passed over without being kept.
 */
export type WireFrame =
  | { readonly kind: 'handshake'; readonly offset: number; readonly bytes: Uint8Array }
  | {
      readonly kind: 'message';
      readonly offset: number;
      readonly bytes: Uint8Array;
      /** null for keep-alive */
      readonly id: number | null;
      /** Bytes of the frame after `bytes` that were skipped (keepPrefix); absent when the frame is whole. */
      readonly omitted?: number;
    };

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
  /**
   * Keep only the first N bytes of frames with these ids (e.g. `{ 7: 13 }`:
   * a piece message's length, id, index and begin, not its block): the rest
   * is skipped as it arrives, never buffered, and the frame is delivered once
   * its last byte has passed, with `omitted` set. For tools that count or list
   * messages without needing their payloads.
   */
  readonly keepPrefix?: Readonly<Partial<Record<number, number>>>;
}

/** Default cap: 2 MiB covers 16 KiB blocks, bitfields of 16M pieces, BEP 52 hash batches. */
export const DEFAULT_MAX_FRAME_LENGTH = 2 * 1024 * 1024;
export const DEFAULT_BLOCK_LENGTH = 16 * 1024;
/** An extended frame: one 16 KiB ut_metadata piece plus its dict (frame length, prefix included). */
const DEFAULT_MAX_EXTENDED_LENGTH = 6 + UT_METADATA_PIECE_LENGTH + 1024;
const DEFAULT_MAX_HASHES = 1024;

/**
 * Limits sized from what the torrent allows, by the message table's size
 * rules: a piece message carries one block (`13 + blockLength`), a bitfield
 * `ceil(pieces / 8)` bytes, an extended message one 16 KiB metadata piece plus
 * its dict, a hashes message `maxHashes` hashes. Use before the torrent is
 * known: `frameLimits({})` (bitfield then capped by the global limit).
 *
 * Only variable-size messages get a per-id cap: a fixed-size message of the
 * wrong length is the decoder's `bad_length` (at its payload), not a framing
 * limit. Once the piece count is known, the global limit is the largest
 * frame any row allows.
 */
export function frameLimits(opts: { pieceCount?: number; maxBlockLength?: number; maxExtendedLength?: number; maxHashes?: number }): FrameLimits {
  const bounds: PayloadBounds = {
    blockLength: opts.maxBlockLength ?? DEFAULT_BLOCK_LENGTH,
    extendedPayload: (opts.maxExtendedLength ?? DEFAULT_MAX_EXTENDED_LENGTH) - 5,
    hashes: opts.maxHashes ?? DEFAULT_MAX_HASHES,
    ...(opts.pieceCount !== undefined ? { pieceCount: opts.pieceCount } : {}),
  };
  const byId: Partial<Record<number, number>> = {};
  let largest = 0;
  for (const row of MESSAGE_ROWS) {
    const max = maxPayload(row, bounds);
    if (max === undefined) continue;
    if (row.fixedPayload < 0) byId[row.id] = 5 + max;
    largest = Math.max(largest, 5 + max);
  }
  const maxFrameLength = opts.pieceCount !== undefined ? largest : DEFAULT_MAX_FRAME_LENGTH;
  return { maxFrameLength, maxLengthById: byId };
}

/** Longest prefix held before a frame's length is known: the handshake, or a kept prefix. */
const HEAD_CAPACITY = 128;

/**
 * Push framer for the peer wire (libp2p mplex's decoder shape): `push(chunk)`
 * returns every complete frame, in any chunking. A length prefix over the
 * limit is a DecodeError `limit_exceeded` as soon as its 4 (or 5) bytes are
 * in, before any allocation; a wrong handshake is `bad_protocol` at the first
 * wrong byte. After an error the framer stays failed (every push rethrows);
 * frames completed earlier in the same push are on the error's `partial.frames`.
 *
 * Memory: the framer never keeps a view of a pushed chunk after `push`
 * returns (a capture reader or socket may reuse it, and a view would pin it).
 * What it holds between pushes is its own: up to 128 bytes of a frame's head,
 * or the frame being assembled (allocated once at its final size, filled as
 * its parts arrive: the one copy of a frame that spans chunks), or, for
 * `keepPrefix` ids, the kept prefix and a count of bytes still to skip.
 */
export class WireFramer {
  /** Absolute offset of the frame being cut (the next frame's first byte). */
  private consumed: number;
  /** The current frame's head while its length (or its whole handshake) is not yet in. */
  private readonly head = new Uint8Array(HEAD_CAPACITY);
  private headLength = 0;
  /** The current frame, allocated at its full length once known, and how much of it is filled. */
  private assembly: Uint8Array | undefined;
  private assembled = 0;
  private assemblyId: number | null = null;
  /** A keepPrefix frame: its kept bytes, and how many of its bytes are still to pass over. */
  private skipFrame: { bytes: Uint8Array; id: number; omitted: number } | undefined;
  private skipLeft = 0;
  /** Bytes of the current frame taken in so far, for `bufferedBytes`. */
  private held = 0;
  private handshakePending: boolean;
  private failure: DecodeError | undefined;
  private limits: FrameLimits;
  private readonly keepPrefix: Readonly<Partial<Record<number, number>>> | undefined;

  constructor(options: WireFramerOptions = {}) {
    this.handshakePending = options.expectHandshake ?? true;
    this.consumed = options.startOffset ?? 0;
    this.limits = {
      maxFrameLength: options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH,
      ...(options.maxLengthById ? { maxLengthById: options.maxLengthById } : {}),
    };
    if (options.keepPrefix) {
      for (const [id, n] of Object.entries(options.keepPrefix)) {
        if (n === undefined || n < 5 || n > HEAD_CAPACITY) throw new RangeError(`keepPrefix for id ${id}: ${n} bytes, expected 5..${HEAD_CAPACITY}`);
      }
      this.keepPrefix = options.keepPrefix;
    }
  }

  /** Tighten or relax the limits (e.g. once the piece count is known). */
  setLimits(limits: FrameLimits): void {
    this.limits = limits;
  }

  /** Absolute stream offset of the next byte not yet framed (the start of the frame being cut). */
  get offset(): number {
    return this.consumed;
  }

  /** Bytes of the frame being cut that have arrived (bounded by the frame limit). */
  get bufferedBytes(): number {
    return this.held;
  }

  get awaitingHandshake(): boolean {
    return this.handshakePending;
  }

  get error(): DecodeError | undefined {
    return this.failure;
  }

  push(chunk: Uint8Array): WireFrame[] {
    if (this.failure) throw this.failure;
    const out: WireFrame[] = [];
    let at = 0;
    try {
      for (;;) {
        const left = chunk.length - at;
        if (this.assembly) {
          const k = Math.min(left, this.assembly.length - this.assembled);
          this.assembly.set(chunk.subarray(at, at + k), this.assembled);
          this.assembled += k;
          this.held += k;
          at += k;
          if (this.assembled < this.assembly.length) break;
          const bytes = this.assembly;
          this.assembly = undefined;
          this.emit(out, bytes, this.assemblyId, bytes.length);
          continue;
        }
        if (this.skipFrame) {
          const k = Math.min(left, this.skipLeft);
          this.skipLeft -= k;
          this.held += k;
          at += k;
          if (this.skipLeft > 0) break;
          const f = this.skipFrame;
          this.skipFrame = undefined;
          out.push({ kind: 'message', offset: this.consumed, bytes: f.bytes, id: f.id, omitted: f.omitted });
          this.consumed += f.bytes.length + f.omitted;
          this.held = 0;
          continue;
        }
        // At a frame boundary: the frame's first bytes are head[0, headLength) then chunk[at, ...).
        const avail = this.headLength + left;
        if (avail === 0) break;
        if (this.handshakePending) {
          checkProtocolPrefix(this.prefix(chunk, at, Math.min(avail, 20)), this.consumed);
          if (avail < HANDSHAKE_LENGTH) {
            at = this.stash(chunk, at);
            break;
          }
          const bytes = this.prefix(chunk, at, HANDSHAKE_LENGTH);
          at += HANDSHAKE_LENGTH - this.headLength;
          this.headLength = 0;
          this.held = 0;
          out.push({ kind: 'handshake', offset: this.consumed, bytes });
          this.consumed += HANDSHAKE_LENGTH;
          this.handshakePending = false;
          continue;
        }
        if (avail < 4) {
          at = this.stash(chunk, at);
          break;
        }
        const len = this.byteAt(chunk, at, 0) * 0x1000000 + ((this.byteAt(chunk, at, 1) << 16) | (this.byteAt(chunk, at, 2) << 8) | this.byteAt(chunk, at, 3));
        const total = 4 + len;
        if (total > this.limits.maxFrameLength) {
          this.held = avail;
          throw new DecodeError('limit_exceeded', this.consumed, `length prefix ${len} exceeds the ${this.limits.maxFrameLength}-byte frame limit`, 'length');
        }
        let id: number | null = null;
        if (len > 0) {
          if (avail < 5) {
            at = this.stash(chunk, at);
            break;
          }
          id = this.byteAt(chunk, at, 4);
          const idLimit = this.limits.maxLengthById?.[id];
          if (idLimit !== undefined && total > idLimit) {
            this.held = avail;
            const name = MESSAGE_BY_ID[id]?.name ?? `id ${id}`;
            throw new DecodeError('limit_exceeded', this.consumed, `${name} frame of ${total} bytes exceeds its ${idLimit}-byte limit`, 'length');
          }
          const keep = this.keepPrefix?.[id];
          if (keep !== undefined && keep < total) {
            if (avail < keep) {
              at = this.stash(chunk, at);
              break;
            }
            const bytes = this.prefix(chunk, at, keep, true);
            at += keep - this.headLength;
            this.headLength = 0;
            this.held = keep;
            this.skipFrame = { bytes, id, omitted: total - keep };
            this.skipLeft = total - keep;
            continue;
          }
        }
        if (this.headLength === 0 && left >= total) {
          // The whole frame is in this chunk: a view, no copy.
          this.emit(out, chunk.subarray(at, at + total), id, total);
          at += total;
          continue;
        }
        // The frame spans chunks: allocate it once at its full length and fill it as parts come.
        const asm = new Uint8Array(total);
        asm.set(this.head.subarray(0, this.headLength));
        this.assembly = asm;
        this.assembled = this.headLength;
        this.held = this.headLength;
        this.assemblyId = id;
        this.headLength = 0;
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
    if (this.held === 0) return;
    const what = this.handshakePending ? `handshake (${this.held} of ${HANDSHAKE_LENGTH} bytes)` : `message (${this.held} bytes buffered)`;
    throw new DecodeError('unexpected_eof', this.consumed + this.held, `stream ended inside a ${what} that started at byte ${this.consumed}`, this.handshakePending ? 'handshake' : 'message');
  }

  private emit(out: WireFrame[], bytes: Uint8Array, id: number | null, total: number): void {
    out.push({ kind: 'message', offset: this.consumed, bytes, id });
    this.consumed += total;
    this.held = 0;
  }

  /** Byte i of the current frame (head first, then the chunk from `at`). */
  private byteAt(chunk: Uint8Array, at: number, i: number): number {
    return i < this.headLength ? this.head[i]! : chunk[at + i - this.headLength]!;
  }

  /** The current frame's first n bytes: a view when they are all in the chunk (unless `own`), else a copy. */
  private prefix(chunk: Uint8Array, at: number, n: number, own = false): Uint8Array {
    if (this.headLength === 0 && !own) return chunk.subarray(at, at + n);
    // At most HEAD_CAPACITY bytes: copied byte by byte (two views and two set() calls cost more).
    const out = new Uint8Array(n);
    const head = this.head;
    const fromHead = Math.min(n, this.headLength);
    for (let i = 0; i < fromHead; i++) out[i] = head[i]!;
    for (let i = fromHead; i < n; i++) out[i] = chunk[at + i - fromHead]!;
    return out;
  }

  /** Keep the rest of the chunk (a frame head shorter than HEAD_CAPACITY) for the next push. */
  private stash(chunk: Uint8Array, at: number): number {
    const rest = chunk.length - at;
    this.head.set(chunk.subarray(at), this.headLength);
    this.headLength += rest;
    this.held = this.headLength;
    return chunk.length;
  }
}
