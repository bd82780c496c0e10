import { describe, expect, it } from 'vitest';
import { PiecePicker, type BlockRequest } from '../../lib/engine/piece-picker.js';

/** Seeded PRNG (mulberry32) so random-first and tie-breaks are reproducible. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const K = 16 * 1024;
function picker(pieces: number, pieceLength = 4 * K, lastShort = 0, randomFirst = 0) {
  return new PiecePicker<string>({
    pieceCount: pieces,
    pieceLength,
    totalLength: pieces * pieceLength - lastShort,
    randomFirst,
    random: seeded(7),
  });
}
const bits = (n: number, set: number[]) => {
  const b = new Uint8Array(Math.ceil(n / 8));
  for (const i of set) b[i >> 3]! |= 0x80 >> (i & 7);
  return b;
};
const pieces = (reqs: BlockRequest[]) => [...new Set(reqs.map((r) => r.index))];

/** Deliver every request, verify each completed piece; returns pieces completed. */
function deliver(p: PiecePicker<string>, peer: string, reqs: BlockRequest[]): number[] {
  const done: number[] = [];
  for (const r of reqs) {
    const got = p.received(peer, r.index, r.begin, r.length);
    if (got.pieceDone) {
      p.verified(r.index);
      done.push(r.index);
    }
  }
  return done;
}

describe('PiecePicker', () => {
  it('splits pieces into 16 KiB blocks, the last block and piece short', () => {
    const p = picker(2, 3 * K, K + 100);
    p.peerHaveAll('a');
    const r = p.pick('a', 100);
    expect(r.map((x) => [x.index, x.begin, x.length])).toEqual([
      [0, 0, K],
      [0, K, K],
      [0, 2 * K, K],
      [1, 0, K],
      [1, K, K - 100],
    ]);
  });

  it('picks the rarest piece first', () => {
    const p = picker(4);
    p.peerBitfield('a', bits(4, [0, 1, 2, 3]));
    p.peerBitfield('b', bits(4, [0, 1, 3]));
    p.peerBitfield('c', bits(4, [1, 3]));
    // availability: 0:2, 1:3, 2:1, 3:3 -> piece 2 first, then 0
    expect(pieces(p.pick('a', 4))).toEqual([2]);
    expect(pieces(p.pick('a', 4))).toEqual([0]);
  });

  it('updates rarity on have and on a peer leaving', () => {
    const p = picker(3);
    p.peerBitfield('a', bits(3, [0, 1, 2]));
    p.peerBitfield('b', bits(3, [0, 2]));
    p.peerHave('c', 2);
    // availability 0:2, 1:1, 2:3
    expect(pieces(p.pick('a', 4))).toEqual([1]);
    p.removePeer('c');
    p.peerHave('d', 0);
    // availability 0:3, 2:2 -> 2 next
    expect(pieces(p.pick('a', 4))).toEqual([2]);
  });

  it('asks a peer only for pieces it has', () => {
    const p = picker(8);
    p.peerBitfield('a', bits(8, [5]));
    expect(pieces(p.pick('a', 100))).toEqual([5]);
    expect(p.pick('a', 100)).toEqual([]);
  });

  it('picks the first pieces at random, then rarest first', () => {
    const firsts = new Set<number>();
    for (let seed = 1; seed <= 20; seed++) {
      const p = new PiecePicker<string>({ pieceCount: 50, pieceLength: K, totalLength: 50 * K, randomFirst: 3, random: seeded(seed) });
      p.peerHaveAll('a');
      firsts.add(p.pick('a', 1)[0]!.index);
    }
    expect(firsts.size).toBeGreaterThan(5); // not always piece 0
  });

  it('hands a second peer the free blocks of a started piece before a new one', () => {
    const p = picker(4);
    p.peerHaveAll('a');
    p.peerHaveAll('b');
    const a = p.pick('a', 2); // 2 of piece X's 4 blocks
    const b = p.pick('b', 2);
    expect(pieces(a)).toEqual(pieces(b));
    expect(b.map((r) => r.begin)).toEqual([2 * K, 3 * K]);
  });

  it('while choked asks only for allowed-fast pieces (BEP 6)', () => {
    const p = picker(6);
    p.peerHaveAll('a');
    expect(p.pick('a', 10, true)).toEqual([]);
    p.peerAllowedFast('a', 4);
    expect(pieces(p.pick('a', 10, true))).toEqual([4]);
    expect(p.pick('a', 10, true)).toEqual([]);
  });

  it('returns rejected and choked-away blocks to the pool', () => {
    const p = picker(1);
    p.peerHaveAll('a');
    p.peerHaveAll('b');
    const a = p.pick('a', 4);
    expect(a).toHaveLength(4);
    p.cancelled('a', 0, K); // reject_request
    expect(p.pick('b', 1).map((r) => r.begin)).toEqual([K]);
    const dropped = p.cancelAll('a'); // choke without BEP 6
    expect(dropped.map((r) => r.begin).sort((x, y) => x - y)).toEqual([0, 2 * K, 3 * K]);
    expect(p.outstanding('a')).toBe(0);
    expect(p.pick('b', 10).map((r) => r.begin).sort((x, y) => x - y)).toEqual([0, 2 * K, 3 * K]);
  });

  it('enters endgame: duplicates the last blocks and cancels the losers', () => {
    const p = picker(2);
    p.peerHaveAll('a');
    p.peerHaveAll('b');
    const a = p.pick('a', 100); // everything
    expect(a).toHaveLength(8);
    const b = p.pick('b', 100); // endgame duplicates of a's outstanding blocks
    expect(b).toHaveLength(8);
    const first = p.received('b', 0, 0, K);
    expect(first).toEqual({ accepted: true, pieceDone: false, cancel: ['a'] });
    const late = p.received('a', 0, 0, K);
    expect(late.accepted).toBe(false);
    expect(p.pick('b', 100)).toEqual([]); // no third copy
  });

  it('on a hash failure frees the piece and names who sent each block', () => {
    const p = picker(1);
    p.peerHaveAll('a');
    p.peerHaveAll('b');
    const a = p.pick('a', 2);
    const b = p.pick('b', 2);
    deliver(p, 'a', a);
    const done = b.map((r) => p.received('b', r.index, r.begin, r.length));
    expect(done.at(-1)!.pieceDone).toBe(true);
    expect(p.pick('a', 10)).toEqual([]); // verifying: not offered again
    expect(p.failed(0)).toEqual([
      { block: 0, peer: 'a' },
      { block: 1, peer: 'a' },
      { block: 2, peer: 'b' },
      { block: 3, peer: 'b' },
    ]);
    expect(p.pick('a', 10)).toHaveLength(4);
  });

  it('ignores blocks nobody asked for, of the wrong size or offset', () => {
    const p = picker(2);
    p.peerHaveAll('a');
    p.pick('a', 1);
    expect(p.received('a', 1, 0, K).accepted).toBe(false); // piece not started
    expect(p.received('a', 0, 1, K).accepted).toBe(false); // not on a block boundary
    expect(p.received('a', 0, 0, 100).accepted).toBe(false); // wrong length
    expect(p.received('a', 0, 0, K).accepted).toBe(true);
  });

  it('downloads a whole torrent from several peers, each piece once, and is complete', () => {
    const n = 37;
    const p = new PiecePicker<string>({ pieceCount: n, pieceLength: 4 * K, totalLength: n * 4 * K - 5000, random: seeded(3) });
    const peers = ['a', 'b', 'c'];
    p.peerHaveAll('a');
    p.peerBitfield('b', bits(n, [...Array(n).keys()].filter((i) => i % 2 === 0)));
    p.peerBitfield('c', bits(n, [...Array(n).keys()].filter((i) => i % 3 === 0)));
    const completed: number[] = [];
    for (let round = 0; round < 1000 && !p.complete; round++) {
      for (const peer of peers) completed.push(...deliver(p, peer, p.pick(peer, 5)));
    }
    expect(p.complete).toBe(true);
    expect(completed.sort((x, y) => x - y)).toEqual([...Array(n).keys()]);
    expect([...p.bitfield()].every((b, i) => b === (i === Math.floor(n / 8) ? 0xff << (8 - (n % 8)) & 0xff : 0xff))).toBe(true);
  });

  it('never requests pieces we already have or did not select', () => {
    const p = picker(4);
    p.setHave(1);
    p.setWanted(3, false);
    p.peerHaveAll('a');
    expect(pieces(p.pick('a', 100)).sort()).toEqual([0, 2]);
    expect(p.interesting('a')).toBe(true);
  });

  it('is not interested in a peer with nothing we want (BEP 6 have none)', () => {
    const p = picker(4);
    p.setHave(0);
    p.peerHaveNone('a');
    expect(p.interesting('a')).toBe(false);
    expect(p.peerHave('a', 0)).toBe(false);
    expect(p.peerHave('a', 2)).toBe(true);
    expect(p.interesting('a')).toBe(true);
  });
});
