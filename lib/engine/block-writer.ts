import type { Storage } from './storage.js';

/** Default of `maxUnwrittenBytes`. */
export const DEFAULT_WRITE_BUDGET = 8 * 1024 * 1024;

/** Consecutive blocks gathered into one write (16 x 16 KiB = 256 KiB). */
const WRITE_RUN = 16;

export interface BlockWriterOptions {
  readonly storage: Storage;
  readonly pieceLength: number;
  /** Received bytes not yet on disk (held for gathered writes or being written) that put us over budget (default 8 MiB). */
  readonly maxUnwrittenBytes?: number;
  /** A complete piece is on disk (its last write is done): it can be verified. */
  readonly pieceWritten: (index: number) => void;
  /** The bytes not yet on disk fell back under the budget. */
  readonly caughtUp: () => void;
  readonly fail: (e: Error) => void;
}

/**
 * Received blocks on their way to disk. They wait in memory (views into the
 * socket's chunks) and go to disk as one gathered write per run of
 * consecutive blocks of a piece: when the piece is complete, every WRITE_RUN
 * blocks, or when too much waits in all. The bytes not yet on disk are
 * counted against a budget, which holds new requests back when the disk is
 * slower than the network.
 */
export class BlockWriter {
  private readonly unwritten = new Map<number, { begin: number; block: Uint8Array }[]>();
  private unwrittenBytes = 0;
  /** Writes started and not yet done, per piece. */
  private readonly pendingWrites = new Map<number, number>();
  /** Complete pieces whose last writes are not done yet. */
  private readonly awaitingVerify = new Set<number>();
  private readonly budget: number;

  constructor(private readonly o: BlockWriterOptions) {
    this.budget = o.maxUnwrittenBytes ?? DEFAULT_WRITE_BUDGET;
  }

  /** A block accepted for piece `index` (`pieceDone`: it was the piece's last). */
  add(index: number, begin: number, block: Uint8Array, pieceDone: boolean): void {
    if (pieceDone) this.awaitingVerify.add(index);
    let list = this.unwritten.get(index);
    if (!list) this.unwritten.set(index, (list = []));
    list.push({ begin, block });
    this.unwrittenBytes += block.length;
    if (pieceDone || list.length >= WRITE_RUN) this.flush(index);
    if (this.overBudget) this.flushAll();
  }

  /** Blocks received but not yet on disk (waiting or being written) exceed the budget. */
  get overBudget(): boolean {
    return this.unwrittenBytes > this.budget;
  }

  /** Start the writes of every waiting block (Storage.drain waits for them). */
  flushAll(): void {
    for (const i of [...this.unwritten.keys()]) this.flush(i);
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
      this.o.storage.writeParts(index * this.o.pieceLength + run[0]!.begin, run.map((b) => b.block)).then(
        () => this.written(index, bytes),
        (e: Error) => this.o.fail(e),
      );
    }
  }

  private written(index: number, bytes: number): void {
    const wasOver = this.overBudget;
    this.unwrittenBytes -= bytes;
    // The disk caught up: the pipelines held back by the budget may go on.
    if (wasOver && !this.overBudget) this.o.caughtUp();
    const n = this.pendingWrites.get(index)! - 1;
    if (n > 0) this.pendingWrites.set(index, n);
    else {
      this.pendingWrites.delete(index);
      if (this.awaitingVerify.delete(index)) this.o.pieceWritten(index);
    }
  }
}
