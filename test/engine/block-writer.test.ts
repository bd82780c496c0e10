import { describe, expect, it } from 'vitest';
import { BlockWriter } from '../../lib/engine/block-writer.js';
import type { Storage } from '../../lib/engine/storage.js';

const PIECE = 16 * 16_384;
const block = (n: number, fill = n) => new Uint8Array(n === 0 ? 0 : 16_384).fill(fill);

/** A storage whose writes finish when the test says so. */
function writer(opts: { maxUnwrittenBytes?: number; failWrites?: boolean } = {}) {
  const writes: { offset: number; lengths: number[]; done: () => void }[] = [];
  const written: number[] = [];
  const failures: Error[] = [];
  let caughtUp = 0;
  const storage = {
    writeParts: (offset: number, parts: readonly Uint8Array[]) =>
      opts.failWrites
        ? Promise.reject(new Error('disk full'))
        : new Promise<void>((done) => writes.push({ offset, lengths: parts.map((p) => p.length), done })),
  } as unknown as Storage;
  const w = new BlockWriter({
    storage,
    pieceLength: PIECE,
    ...(opts.maxUnwrittenBytes !== undefined ? { maxUnwrittenBytes: opts.maxUnwrittenBytes } : {}),
    pieceWritten: (i) => written.push(i),
    caughtUp: () => caughtUp++,
    fail: (e) => failures.push(e),
  });
  const settle = async () => {
    for (const x of writes.splice(0)) x.done();
    await new Promise((r) => setImmediate(r));
  };
  return { w, writes, written, failures, settle, caughtUp: () => caughtUp };
}

describe('BlockWriter', () => {
  it('writes a piece as one gathered write per run of consecutive blocks, sorted, once the piece is done', async () => {
    const { w, writes, written, settle } = writer();
    w.add(2, 3 * 16_384, block(1, 3), false);
    w.add(2, 0, block(1, 0), false);
    w.add(2, 16_384, block(1, 1), false);
    expect(writes).toHaveLength(0); // waits in memory
    w.add(2, 5 * 16_384, block(1, 5), true);
    expect(writes.map((x) => [x.offset - 2 * PIECE, x.lengths.length])).toEqual([
      [0, 2],
      [3 * 16_384, 1],
      [5 * 16_384, 1],
    ]);
    writes[0]!.done();
    await new Promise((r) => setImmediate(r));
    expect(written).toEqual([]); // two writes still pending
    await settle();
    expect(written).toEqual([2]);
  });

  it('writes every 16 blocks of a piece without waiting for its end; a piece not done is never reported written', async () => {
    const { w, writes, written, settle } = writer();
    for (let b = 0; b < 16; b++) w.add(0, b * 16_384, block(1), false);
    expect(writes).toHaveLength(1);
    expect(writes[0]!.lengths).toHaveLength(16);
    await settle();
    expect(written).toEqual([]);
  });

  it('over the budget: every waiting block goes to disk, and the disk catching up is told once', async () => {
    const { w, writes, settle, caughtUp } = writer({ maxUnwrittenBytes: 3 * 16_384 });
    w.add(0, 0, block(1), false);
    w.add(1, 0, block(1), false);
    w.add(2, 0, block(1), false);
    expect(writes).toHaveLength(0);
    expect(w.overBudget).toBe(false);
    w.add(3, 0, block(1), false);
    expect(w.overBudget).toBe(true);
    expect(writes.map((x) => x.offset / PIECE).sort()).toEqual([0, 1, 2, 3]);
    await settle();
    expect(w.overBudget).toBe(false);
    expect(caughtUp()).toBe(1);
  });

  it('flushAll starts the writes of whatever waits; a failed write goes to fail', async () => {
    const a = writer();
    a.w.add(4, 0, block(1), false);
    a.w.flushAll();
    expect(a.writes).toHaveLength(1);
    const b = writer({ failWrites: true });
    b.w.add(0, 0, block(1), true);
    await new Promise((r) => setImmediate(r));
    expect(b.failures.map((e) => e.message)).toEqual(['disk full']);
  });
});
