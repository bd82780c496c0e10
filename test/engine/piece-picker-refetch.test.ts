import { describe, expect, it } from 'vitest';
import { PiecePicker } from '../../lib/engine/piece-picker.js';

/**
 * Smart ban's side of the picker: a piece that failed its hash check is
 * fetched again from one peer alone (its owner), never shared, never
 * duplicated in endgame; an owner that leaves, stalls or rejects one of its
 * blocks lets the piece go to the next taker.
 */
const K = 16 * 1024;

/** One piece of four blocks (or `pieces` of them), peers a, b and c have everything; piece 0 failed once, mixed from a and b. */
function failedOnce(pieces = 1) {
  const p = new PiecePicker<string>({ pieceCount: pieces, pieceLength: 4 * K, totalLength: pieces * 4 * K, randomFirst: 0, random: () => 0.5 });
  for (const peer of ['a', 'b', 'c']) p.peerHaveAll(peer);
  const a = p.pick('a', 2).filter((r) => r.index === 0);
  const b = p.pick('b', 2).filter((r) => r.index === 0);
  for (const r of a) p.received('a', r.index, r.begin, r.length);
  for (const r of b) p.received('b', r.index, r.begin, r.length);
  expect(p.failed(0).map((w) => w.peer)).toEqual(['a', 'a', 'b', 'b']);
  return p;
}

describe('PiecePicker: a failed piece is fetched again from one peer alone', () => {
  it('whoever takes its first block owns it: the others get none of its blocks, even in endgame', () => {
    const p = failedOnce();
    expect(p.pick('b', 1)).toEqual([{ index: 0, begin: 0, length: K }]);
    expect(p.pick('a', 10)).toEqual([]); // not shared with a, ...
    expect(p.pick('c', 10)).toEqual([]); // ... nor duplicated in endgame
    expect(p.pick('b', 10).map((r) => r.begin)).toEqual([K, 2 * K, 3 * K]);
  });

  it('a block from anyone but the owner is not kept (a late answer to a request from before the failure)', () => {
    const p = failedOnce();
    p.pick('c', 4);
    expect(p.received('a', 0, 0, K).accepted).toBe(false);
    for (let b = 0; b < 3; b++) expect(p.received('c', 0, b * K, K).pieceDone).toBe(false);
    expect(p.received('c', 0, 3 * K, K)).toEqual({ accepted: true, pieceDone: true, cancel: [] });
    expect(p.contributors(0)).toEqual(['c']);
  });

  it('an owner that goes away lets the piece go: the next peer takes all of it', () => {
    const p = failedOnce();
    p.pick('a', 4);
    expect(p.removePeer('a')).toHaveLength(4);
    expect(p.pick('c', 10)).toHaveLength(4);
    expect(p.pick('b', 10)).toEqual([]);
  });

  it('an owner that stalls (its requests cancelled) lets the piece go', () => {
    const p = failedOnce();
    p.pick('a', 4);
    p.cancelAll('a');
    expect(p.pick('b', 10)).toHaveLength(4);
    expect(p.pick('a', 10)).toEqual([]);
  });

  it('an owner that rejects one of its blocks (BEP 6) gives the whole piece up, and does not take it back', () => {
    const p = failedOnce();
    p.pick('a', 4);
    p.rejected('a', 0, 2 * K);
    expect(p.outstanding('a')).toBe(0); // its other requests in the piece are void too
    expect(p.pick('a', 10)).toEqual([]); // it would be stuck on the block it rejected
    expect(p.pick('b', 10)).toHaveLength(4);
  });

  it('once it verifies, it is an ordinary piece again', () => {
    const p = failedOnce(2);
    for (const r of p.pick('c', 4)) p.received('c', r.index, r.begin, r.length);
    p.verified(0);
    expect(p.pick('a', 2).map((r) => r.index)).toEqual([1, 1]);
    expect(p.pick('b', 2).map((r) => r.index)).toEqual([1, 1]); // piece 1 never failed: shared
  });
});
