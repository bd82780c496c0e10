import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WireStreamDecoder, type WireSink } from '../../lib/trace/wire-stream.js';
import { encodeMessage, type Message } from '../../lib/wire/messages.js';
import { encodeHandshake } from '../../lib/wire/handshake.js';
import { toHex } from '../../lib/core/bytes.js';

/** Messages a peer sends, blocks of random bytes (sometimes 16 KiB, as clients send them). */
const message: fc.Arbitrary<Message> = fc.oneof(
  fc.constant<Message>({ type: 'keep_alive' }),
  fc.constantFrom<Message>({ type: 'choke' }, { type: 'unchoke' }, { type: 'interested' }, { type: 'have_all' }),
  fc.nat(5000).map<Message>((index) => ({ type: 'have', index })),
  fc.tuple(fc.nat(5000), fc.nat(64)).map<Message>(([index, b]) => ({ type: 'request', index, begin: b * 16384, length: 16384 })),
  fc.tuple(fc.nat(5000), fc.nat(64), fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.uint8Array({ minLength: 16384, maxLength: 16384 }))).map<Message>(([index, b, block]) => ({ type: 'piece', index, begin: b * 16384, block })),
  fc.uint8Array({ minLength: 1, maxLength: 200 }).map<Message>((bitfield) => ({ type: 'bitfield', bitfield })),
);

interface Seen {
  offset: number;
  bytes: string;
}

/** A sink that keeps where each message was and its bytes (a piece head stands for its whole frame). */
function recorder(): { sink: WireSink; seen: Seen[]; pieceHeads: Array<{ offset: number; length: number; head: string }> } {
  const seen: Seen[] = [];
  const pieceHeads: Array<{ offset: number; length: number; head: string }> = [];
  const sink: WireSink = {
    handshake: (_h, offset, bytes) => seen.push({ offset, bytes: toHex(bytes) }),
    message: (_m, offset, bytes) => seen.push({ offset, bytes: toHex(bytes) }),
    pieceHead: (_i, _b, blockLength, offset, head) => pieceHeads.push({ offset, length: 13 + blockLength, head: toHex(head) }),
    malformed: () => {},
    undecoded: () => {},
    resynced: () => {},
  };
  return { sink, seen, pieceHeads };
}

describe('resync after capture gaps never invents a message', () => {
  it('every message decoded from a stream with segments deleted is a frame of the original, at its offset', () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        (messages, cuts, keep, keepBlocks) => {
          const frames = [encodeHandshake({ infoHash: new Uint8Array(20).fill(1), peerId: new Uint8Array(20).fill(2) }), ...messages.map(encodeMessage)];
          const truth = new Map<number, Uint8Array>();
          let total = 0;
          for (const f of frames) {
            truth.set(total, f);
            total += f.length;
          }
          const stream = new Uint8Array(total);
          let o = 0;
          for (const f of frames) {
            stream.set(f, o);
            o += f.length;
          }
          const { sink, seen, pieceHeads } = recorder();
          const dec = new WireStreamDecoder(sink, { fromStart: true, keepPieceBlocks: keepBlocks });
          // Segments of the cut sizes (the last size repeats); those with keep false are lost, the first never.
          let at = 0;
          for (let i = 0; at < total; i++) {
            const n = Math.min(cuts[Math.min(i, cuts.length - 1)]!, total - at);
            if (i === 0 || keep[i % keep.length]) dec.data(at, stream.subarray(at, at + n));
            at += n;
          }
          dec.end();
          for (const s of seen) expect(s.bytes, `message at ${s.offset}`).toBe(toHex(truth.get(s.offset) ?? new Uint8Array(0)));
          for (const p of pieceHeads) {
            const t = truth.get(p.offset);
            expect(t && [t.length, toHex(t.subarray(0, 13))], `piece at ${p.offset}`).toEqual([p.length, p.head]);
          }
        },
      ),
      { numRuns: 300, seed: 16 },
    );
  });
});

describe('gaps are reported with the bytes passed over before frames were found again', () => {
  it('a gap in the middle of a block: the rest of the block is skipped, the next piece relocks', () => {
    const frames = [1, 2, 3].map((i) => encodeMessage({ type: 'piece', index: i, begin: 0, block: new Uint8Array(1000).fill(i) }));
    const stream = new Uint8Array(3 * 1013);
    frames.forEach((f, i) => stream.set(f, i * 1013));
    const reports: Array<[number, number, number, boolean]> = [];
    const { sink, seen } = recorder();
    sink.resynced = (offset, length, skipped, relocked) => reports.push([offset, length, skipped, relocked]);
    const dec = new WireStreamDecoder(sink, { fromStart: false });
    dec.data(0, stream.subarray(0, 500));
    dec.data(700, stream.subarray(700, 2500));
    dec.data(2600, stream.subarray(2600));
    dec.end();
    // The first gap cuts piece 1's block; piece 2 is whole, locked on by the cut head of piece 3; the second gap cuts piece 3.
    expect(seen.map((s) => s.offset)).toEqual([1013]);
    expect(reports).toEqual([
      [500, 200, 1013 - 700, true],
      [2500, 100, stream.length - 2600, false],
    ]);
  });
});
