import { describe, expect, it } from 'vitest';
import { WirePieces } from '../../lib/engine/wire-pieces.js';
import { WireFramer, parseMessage } from '../../lib/wire/index.js';

/** A torrent's byte stream in memory: 8 pieces of 40 000 bytes (blocks of 16 384: 3 per piece, the last short), then a last piece of 9 000 bytes. */
const PIECE = 40_000;
const LAST = 8;
const LENGTH = LAST * PIECE + 9_000;
const stream = Uint8Array.from({ length: LENGTH }, (_, i) => (i * 131 + (i >> 8)) & 0xff);
const pieceSize = (i: number) => (i === LAST ? 9_000 : PIECE);

function source(opts: { failOnce?: number } = {}) {
  const reads: number[] = [];
  let fail = opts.failOnce;
  return {
    reads,
    readParts: async (offset: number, parts: readonly Uint8Array[]) => {
      reads.push(offset / PIECE);
      await new Promise((r) => setTimeout(r, 1));
      if (fail !== undefined && offset / PIECE === fail) {
        fail = undefined;
        throw new Error('disk says no');
      }
      let at = offset;
      for (const p of parts) {
        p.set(stream.subarray(at, at + p.length));
        at += p.length;
      }
    },
  };
}

const wp = (src = source(), maxBytes?: number) => new WirePieces({ pieceLength: PIECE, pieceSize, readParts: src.readParts, ...(maxBytes ? { maxBytes } : {}) });

describe('WirePieces layout (BEP 3 piece messages back to back)', () => {
  it.each([0, 3, LAST])('piece %i parses as its piece messages, in order, carrying the right bytes', async (index) => {
    const w = wp();
    const p = await w.acquire(index);
    const framer = new WireFramer({ expectHandshake: false });
    const msgs = framer.push(p.bytes).map((f) => parseMessage(f.bytes, f.offset));
    const size = pieceSize(index);
    expect(msgs.length).toBe(Math.ceil(size / 16384));
    let begin = 0;
    for (const m of msgs) {
      if (m.type !== 'piece') throw new Error(`not a piece: ${m.type}`);
      expect([m.index, m.begin]).toEqual([index, begin]);
      const want = stream.subarray(index * PIECE + begin, index * PIECE + Math.min(size, begin + 16384));
      expect(Buffer.from(m.block).equals(Buffer.from(want))).toBe(true);
      begin += m.block.length;
    }
    expect(begin).toBe(size);
    expect(p.bytes.length).toBe(WirePieces.layoutBytes(size, 16384));
    p.release();
  });

  it.each([
    // [begin, length, span in bytes or undefined]
    [0, 16384, [0, 16397]],
    [16384, 16384, [16397, 32794]],
    [0, 40000, [0, 40039]],
    [32768, 7232, [32794, 40039]], // the short last block
    [16384, 23616, [16397, 40039]],
    [0, 8192, undefined], // half a block
    [8192, 16384, undefined], // unaligned
    [32768, 16384, undefined], // past the end
    [0, 0, undefined],
  ] as const)('span(%i, %i) = %j', async (begin, length, want) => {
    const w = wp();
    const p = await w.acquire(0);
    expect(p.span(begin, length)).toEqual(want);
    // Whatever the span covers is exactly the messages for those blocks.
    if (want) expect(p.bytes.readUInt32BE(want[0]) + 4).toBe(13 + Math.min(16384, length));
    p.release();
  });

  it.each([
    [0, 16384],
    [100, 50],
    [16000, 1000], // across two block slots: copied
    [1, 39998], // across all three
    [32768, 7232],
  ])('data(%i, %i) is the raw piece bytes', async (begin, length) => {
    const w = wp();
    const p = await w.acquire(1);
    const got = p.data(begin, length);
    expect(Buffer.from(got).equals(Buffer.from(stream.subarray(PIECE + begin, PIECE + begin + length)))).toBe(true);
    p.release();
  });
});

describe('WirePieces cache and buffer reuse', () => {
  it('reads a piece once while it is cached; concurrent acquires share the read', async () => {
    const src = source();
    const w = wp(src);
    const [a, b] = await Promise.all([w.acquire(2), w.acquire(2)]);
    expect(a).toBe(b);
    (await w.acquire(2)).release();
    expect(src.reads).toEqual([2]);
    a.release();
    b.release();
  });

  it('a buffer still referenced (a write in progress) is never reused for another piece', async () => {
    const src = source();
    // Room for the minimum of 4 pieces: reading more evicts, and freed buffers are reused.
    const w = wp(src, 1);
    const held = await w.acquire(0);
    held.retain(); // as a socket write would
    held.release(); // the caller is done, the write is not
    const copy = Buffer.from(held.bytes);
    for (let round = 0; round < 3; round++) for (let i = 1; i < LAST; i++) (await w.acquire(i)).release();
    expect(src.reads.length).toBeGreaterThan(12);
    expect(w.has(0)).toBe(false); // evicted long ago
    expect(held.bytes.equals(copy)).toBe(true); // but untouched
    held.release(); // the write finished: now it may be reused
    const reused = await w.acquire(0);
    expect(Buffer.from(reused.bytes).equals(copy)).toBe(true);
    reused.release();
  });

  it('under churn (misses, hits, evictions, buffers reused) every acquire sees its own piece\'s bytes', async () => {
    const src = source();
    const w = wp(src, 1);
    const check = async (i: number) => {
      const p = await w.acquire(i);
      const ok = Buffer.from(p.data(0, pieceSize(i))).equals(Buffer.from(stream.subarray(i * PIECE, i * PIECE + pieceSize(i))));
      p.release();
      return ok;
    };
    const results: boolean[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i <= LAST; i++) results.push(await check(i), await check(Math.max(0, i - 2)), await check((i * 5 + round) % (LAST + 1)));
    }
    expect(results.every(Boolean)).toBe(true);
    expect(src.reads.length).toBeGreaterThan(20); // evictions happened
    expect(src.reads.length).toBeLessThan(results.length); // and hits
  });

  it('freed buffers are reused (memory bounded by the cache, not the torrent)', async () => {
    const w = wp(source(), 1);
    const seen = new Set<ArrayBufferLike>();
    for (let round = 0; round < 5; round++) for (let i = 0; i < LAST; i++) {
      const p = await w.acquire(i);
      seen.add(p.bytes.buffer);
      p.release();
    }
    expect(w.maxPieces).toBe(4);
    // The cache's 4, and one more for the piece being read while the oldest is still cached.
    expect(seen.size).toBeLessThanOrEqual(5);
  });

  it('a failed read rejects, is not cached, and the next acquire reads again', async () => {
    const src = source({ failOnce: 1 });
    const w = wp(src);
    await expect(w.acquire(1)).rejects.toThrow('disk says no');
    expect(w.has(1)).toBe(false);
    const p = await w.acquire(1);
    expect(Buffer.from(p.data(0, 100)).equals(Buffer.from(stream.subarray(PIECE, PIECE + 100)))).toBe(true);
    p.release();
    expect(src.reads).toEqual([1, 1]);
  });
});
