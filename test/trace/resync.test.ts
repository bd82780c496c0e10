import { describe, expect, it } from 'vitest';
import { CAPTURE_BOUNDS, findSyncPoint, plausibleFrameAt } from '../../lib/trace/resync.js';
import { MESSAGE_BY_ID, MESSAGE_IDS, MESSAGE_ROWS, maxPayload, type MessageRow } from '../../lib/wire/message-spec.js';
import { encodeMessage } from '../../lib/wire/messages.js';
import { concat, hex } from '../wire/vectors.js';

/** The first 8 bytes of a frame of `id` whose length prefix says `plen` payload bytes (ext id 1, so no dict is expected). */
function head(id: number, plen: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setUint32(0, 1 + plen);
  out[4] = id;
  out[5] = 1;
  return out;
}

/** The payload range resync accepts for a row: the table's rule under CAPTURE_BOUNDS, and never empty when the size varies. */
function range(r: MessageRow): [number, number] {
  if ('fixed' in r.size) return [r.size.fixed, r.size.fixed];
  return [Math.max(1, r.size.min), maxPayload(r, CAPTURE_BOUNDS)!];
}

describe('resync plausibility agrees with the message table', () => {
  it.each(MESSAGE_ROWS.map((r) => [r.name, r] as const))('%s: plausible exactly within its size rule', (_n, r) => {
    const [lo, hi] = range(r);
    expect(plausibleFrameAt(head(r.id, lo), 0)).toBe(5 + lo);
    expect(plausibleFrameAt(head(r.id, hi), 0)).toBe(5 + hi);
    if (lo > 0) expect(plausibleFrameAt(head(r.id, lo - 1), 0)).toBe(0);
    expect(plausibleFrameAt(head(r.id, hi + 1), 0)).toBe(0);
  });

  it('the wide ranges, as captures need them: 128 KiB blocks, 1 MiB bitfields and extended messages, 8192 hashes', () => {
    expect(range(MESSAGE_BY_ID[MESSAGE_IDS.piece]!)).toEqual([8, 8 + 131072]);
    expect(range(MESSAGE_BY_ID[MESSAGE_IDS.bitfield]!)).toEqual([1, 1 << 20]);
    expect(range(MESSAGE_BY_ID[MESSAGE_IDS.extended]!)).toEqual([1, 1 << 20]);
    expect(range(MESSAGE_BY_ID[MESSAGE_IDS.hashes]!)).toEqual([48, 48 + 32 * 8192]);
  });

  it('an id outside the table is never a frame boundary; a keep-alive is 4 bytes', () => {
    for (let id = 0; id < 256; id++) if (!MESSAGE_BY_ID[id]) expect(plausibleFrameAt(head(id, 0), 0), `id ${id}`).toBe(0);
    expect(plausibleFrameAt(hex('00000000'), 0)).toBe(4);
  });

  it('an extended handshake must start a dict; too few bytes to tell is -1', () => {
    expect(plausibleFrameAt(hex('00000003 14 00 64'), 0)).toBe(7);
    expect(plausibleFrameAt(hex('00000003 14 00 6c'), 0)).toBe(0);
    expect(plausibleFrameAt(hex('00000003 14 00'), 0)).toBe(-1);
    expect(plausibleFrameAt(hex('000000'), 0)).toBe(-1);
  });

  it('finds the boundary after junk: a chain of table-plausible frames', () => {
    const frames = concat(
      encodeMessage({ type: 'have', index: 1 }),
      encodeMessage({ type: 'request', index: 1, begin: 0, length: 16384 }),
      encodeMessage({ type: 'have_all' }),
    );
    // Junk whose every position fails the table: a 0xff length prefix is over every range.
    expect(findSyncPoint(concat(hex('ff ff ff'), frames))).toEqual({ at: 3, handshake: false });
  });
});

describe('resync at a capture gap: a shorter chain that the gap cuts', () => {
  const piece = (index: number) => encodeMessage({ type: 'piece', index, begin: 0, block: new Uint8Array(64).fill(0xab) });
  it('one whole frame, then a head the gap cut off: locks only when the bytes end there (final)', () => {
    const b = concat(hex('ab ab ab'), piece(1), piece(2).subarray(0, 20));
    expect(findSyncPoint(b)).toBeUndefined();
    expect(findSyncPoint(b, 3, true)).toEqual({ at: 3, handshake: false });
  });
  it('a cut head must show a plausible id (5 bytes), and a keep-alive alone is no evidence', () => {
    expect(findSyncPoint(concat(hex('ab ab ab'), piece(1), hex('00 00 40')), 3, true)).toBeUndefined();
    expect(findSyncPoint(concat(hex('ab ab ab'), piece(1), hex('00 00 00 48 ff')), 3, true)).toBeUndefined();
    expect(findSyncPoint(concat(hex('ab ab ab'), hex('00000000'), piece(2).subarray(0, 20)), 3, true)).toBeUndefined();
  });
});
