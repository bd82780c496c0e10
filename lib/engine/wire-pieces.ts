import { encodePieceHeader } from '../wire/messages.js';

/**
 * The seeder's read cache: each piece read once from disk straight into a
 * buffer laid out as the piece messages that carry it (BEP 3: `<len><7>
 * <index><begin><block>` for every 16 KiB block, back to back). A run of
 * consecutive block requests is then one contiguous slice of that buffer and
 * leaves in one socket write: no per-block header allocation, no per-block
 * write, no copy (the disk read scatters the blocks into their slots with one
 * preadv).
 *
 * Buffers are reference counted (the cache holds one reference; each caller
 * of acquire() and each socket write still in progress hold one) and go back
 * to a small pool when the last one is released, so a 256 MiB upload reuses a
 * few MiB instead of allocating (and faulting in, and collecting) 256 MiB.
 */

/** Freed piece buffers kept for reuse. */
const POOL_SPARE = 8;

export interface WirePiecesOptions {
  pieceLength: number;
  pieceSize: (index: number) => number;
  /** Block size of the layout (BEP 3: 16 KiB). */
  blockSize?: number;
  /** Read `parts` (consecutive views) from the torrent's byte stream at `offset`. */
  readParts: (offset: number, parts: readonly Uint8Array[]) => Promise<unknown>;
  /** Bytes of laid-out pieces cached (default 16 MiB, at least 4 pieces); up to 8 more are kept for reuse. */
  maxBytes?: number;
}

export class WirePiece {
  /** The piece's messages, back to back. */
  readonly bytes: Buffer;
  private refs = 1;
  failed = false;

  constructor(
    readonly index: number,
    readonly size: number,
    readonly blockSize: number,
    bytes: Buffer,
    private readonly onFree: (p: WirePiece) => void,
  ) {
    this.bytes = bytes;
  }

  /** Bytes [start, end) of `bytes` holding the piece messages for the request run [begin, begin + length), or undefined when the run does not fall on block boundaries. */
  span(begin: number, length: number): [number, number] | undefined {
    const bs = this.blockSize;
    const end = begin + length;
    if (length <= 0 || begin % bs !== 0 || end > this.size || (end % bs !== 0 && end !== this.size)) return undefined;
    const first = begin / bs;
    const blocks = Math.ceil(length / bs);
    return [first * (13 + bs), first * (13 + bs) + blocks * 13 + length];
  }

  /** Start and end (in `bytes`) of one block's message, if `begin`/`length` is exactly a block. */
  block(begin: number, length: number): [number, number] | undefined {
    const bs = this.blockSize;
    if (begin % bs !== 0 || length !== Math.min(bs, this.size - begin) || begin >= this.size) return undefined;
    const at = (begin / bs) * (13 + bs);
    return [at, at + 13 + length];
  }

  /** The raw data [begin, begin + length) as one buffer (copied when it spans block slots). */
  data(begin: number, length: number): Uint8Array {
    const bs = this.blockSize;
    const slot = (i: number) => i * (13 + bs) + 13;
    const first = Math.floor(begin / bs);
    const last = Math.floor((begin + length - 1) / bs);
    if (first === last) return this.bytes.subarray(slot(first) + (begin - first * bs), slot(first) + (begin - first * bs) + length);
    const out = Buffer.allocUnsafe(length);
    let at = 0;
    for (let b = first; b <= last; b++) {
      const from = b === first ? begin - b * bs : 0;
      const to = Math.min(bs, begin + length - b * bs, this.size - b * bs);
      this.bytes.copy(out, at, slot(b) + from, slot(b) + to);
      at += to - from;
    }
    return out;
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs === 0) this.onFree(this);
  }
}

interface Entry {
  piece: WirePiece;
  ready: Promise<WirePiece>;
}

export class WirePieces {
  private readonly cache = new Map<number, Entry>();
  private readonly pool: Buffer[] = [];
  private readonly blockSize: number;
  private readonly fullBytes: number;
  /** Pieces cached (and pooled buffers kept). */
  readonly maxPieces: number;

  constructor(private readonly o: WirePiecesOptions) {
    this.blockSize = o.blockSize ?? 16 * 1024;
    this.fullBytes = WirePieces.layoutBytes(o.pieceLength, this.blockSize);
    this.maxPieces = Math.max(4, Math.floor((o.maxBytes ?? 16 * 1024 * 1024) / this.fullBytes));
  }

  /** Size of a piece laid out as messages: a 13-byte header per block, then the data. */
  static layoutBytes(size: number, blockSize: number): number {
    return Math.ceil(size / blockSize) * 13 + size;
  }

  has(index: number): boolean {
    return this.cache.has(index);
  }

  /** Start reading a piece unless it is cached (read-ahead). */
  prefetch(index: number): void {
    if (!this.cache.has(index)) this.entry(index).ready.catch(() => {});
  }

  /**
   * The piece, read once; the caller holds a reference from this call on (so
   * the buffer is not reused while it waits) and must release() it.
   */
  acquire(index: number): Promise<WirePiece> {
    const e = this.entry(index);
    e.piece.retain();
    return e.ready.catch((err: unknown) => {
      e.piece.release();
      throw err;
    });
  }

  private entry(index: number): Entry {
    const hit = this.cache.get(index);
    if (hit) {
      // LRU: most recently used last.
      this.cache.delete(index);
      this.cache.set(index, hit);
      return hit;
    }
    const size = this.o.pieceSize(index);
    const total = WirePieces.layoutBytes(size, this.blockSize);
    const bytes = total === this.fullBytes ? (this.pool.pop() ?? Buffer.allocUnsafeSlow(total)) : Buffer.allocUnsafeSlow(total);
    const piece = new WirePiece(index, size, this.blockSize, bytes, (p) => this.free(p));
    // The slots the disk read fills, with each block's header in front.
    const parts: Uint8Array[] = [];
    for (let begin = 0, at = 0; begin < size; begin += this.blockSize) {
      const len = Math.min(this.blockSize, size - begin);
      bytes.set(encodePieceHeader(index, begin, len), at);
      parts.push(bytes.subarray(at + 13, at + 13 + len));
      at += 13 + len;
    }
    piece.retain(); // held by the read until it completes
    const ready = this.o.readParts(index * this.o.pieceLength, parts).then(
      () => {
        piece.release();
        return piece;
      },
      (err: unknown) => {
        piece.failed = true;
        if (this.cache.get(index)?.piece === piece) {
          this.cache.delete(index);
          piece.release(); // the cache's reference
        }
        piece.release();
        throw err;
      },
    );
    const e = { piece, ready };
    this.cache.set(index, e);
    while (this.cache.size > this.maxPieces) {
      const [oldest, old] = this.cache.entries().next().value as [number, Entry];
      this.cache.delete(oldest);
      old.piece.release();
    }
    return e;
  }

  private free(p: WirePiece): void {
    // In steady state each read evicts one piece and reuses its buffer: a few spare buffers suffice.
    if (!p.failed && p.bytes.length === this.fullBytes && this.pool.length < POOL_SPARE) this.pool.push(p.bytes);
  }

  /** Drop every cached piece (buffers still being written are freed when their writes finish). */
  clear(): void {
    for (const e of this.cache.values()) e.piece.release();
    this.cache.clear();
    this.pool.length = 0;
  }
}
