import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WireFramer, type WireFrame } from '../../lib/wire/framer.js';
import { encodeHandshake, makeReserved } from '../../lib/wire/handshake.js';
import { encodeMessage, MESSAGE_IDS } from '../../lib/wire/messages.js';
import { toHex } from '../../lib/core/bytes.js';
import { ascii, concat, errorOf, hex } from './vectors.js';

// The framer's memory contract (lib/wire/framer.ts): no view of a pushed chunk
// survives the push, a frame spanning chunks is assembled once, and keepPrefix
// ids are passed over without being buffered.

const handshake = encodeHandshake({ reserved: makeReserved({ extended: true, fast: true }), infoHash: hex('bb'.repeat(20)), peerId: ascii('-LT2080-abcdefghijkl') });
const block = new Uint8Array(16384).map((_, i) => (i * 7) & 0xff);
const piece = encodeMessage({ type: 'piece', index: 3, begin: 16384, block });
const have = encodeMessage({ type: 'have', index: 5 });
const stream = concat(handshake, have, piece, have, piece, encodeMessage({ type: 'keep_alive' }));

/** Push `bytes` in chunks of `size`, each chunk a reused buffer overwritten after the push (as a reader reusing its buffer would). */
function pushReused(framer: WireFramer, bytes: Uint8Array, size: number): Array<[string, number, string, number | undefined]> {
  const scratch = new Uint8Array(size);
  const out: WireFrame[] = [];
  const seen: Array<[string, number, string, number | undefined]> = [];
  for (let at = 0; at < bytes.length; at += size) {
    const n = Math.min(size, bytes.length - at);
    scratch.set(bytes.subarray(at, at + n));
    const frames = framer.push(scratch.subarray(0, n));
    // Frames are read now (a view into this chunk is fine until the next push).
    for (const f of frames) seen.push([f.kind, f.offset, toHex(f.bytes), f.kind === 'message' ? f.omitted : undefined]);
    out.push(...frames);
    scratch.fill(0xee);
  }
  framer.end();
  return seen;
}

describe('WireFramer memory', () => {
  const expected = (() => {
    const f = new WireFramer();
    return f.push(stream).map((x) => [x.kind, x.offset, toHex(x.bytes), undefined]);
  })();

  it.each([1, 7, 1448, 4096, 16397])('chunks of %i bytes in a reused buffer: the same frames (nothing held as a view)', (size) => {
    expect(pushReused(new WireFramer(), stream, size)).toEqual(expected);
  });

  it('a frame spanning chunks is one buffer of its final size; a frame inside a chunk is a view', () => {
    const framer = new WireFramer();
    const first = stream.subarray(0, 68 + have.length + 100);
    const frames = framer.push(first);
    expect(frames.map((f) => f.bytes.buffer === stream.buffer)).toEqual([true, true]);
    const rest = framer.push(stream.subarray(first.length));
    const spanning = rest[0]!;
    expect(spanning.bytes.length).toBe(piece.length);
    expect(spanning.bytes.buffer).not.toBe(stream.buffer);
    expect(spanning.bytes.byteLength).toBe(spanning.bytes.buffer.byteLength);
    expect(rest.slice(1).every((f) => f.bytes.buffer === stream.buffer)).toBe(true);
  });

  it('keepPrefix: pieces come as their 13-byte head and an omitted count, at the same offsets', () => {
    const framer = new WireFramer({ keepPrefix: { [MESSAGE_IDS.piece]: 13 } });
    const got = pushReused(framer, stream, 1448);
    expect(got.map(([k, o, , om]) => [k, o, om])).toEqual(expected.map(([k, o, h]) => (String(h).slice(8, 10) === '07' ? [k, o, 16384] : [k, o, undefined])));
    const pieces = got.filter(([, , , om]) => om !== undefined);
    expect(pieces.map(([, , h]) => h)).toEqual([toHex(piece.subarray(0, 13)), toHex(piece.subarray(0, 13))]);
  });

  it('keepPrefix: while a block is skipped only the frame counts as buffered; end() inside it is unexpected_eof where bytes stopped', () => {
    const framer = new WireFramer({ expectHandshake: false, keepPrefix: { [MESSAGE_IDS.piece]: 13 } });
    expect(framer.push(piece.subarray(0, 5000))).toEqual([]);
    expect(framer.bufferedBytes).toBe(5000);
    expect(framer.offset).toBe(0);
    expect(errorOf(() => framer.end())).toEqual({ code: 'unexpected_eof', offset: 5000 });
  });

  it('keepPrefix does not lift the limits: an oversized piece is still limit_exceeded at its start', () => {
    const framer = new WireFramer({ expectHandshake: false, maxLengthById: { [MESSAGE_IDS.piece]: 13 + 16384 }, keepPrefix: { [MESSAGE_IDS.piece]: 13 } });
    const big = encodeMessage({ type: 'piece', index: 0, begin: 0, block: new Uint8Array(16385) });
    expect(errorOf(() => framer.push(concat(have, big.subarray(0, 20))))).toEqual({ code: 'limit_exceeded', offset: have.length });
  });

  it('fuzz: any chunking, with or without keepPrefix, gives the same offsets and heads', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { maxLength: 40 }), fc.boolean(), (sizes, keep) => {
        const framer = new WireFramer(keep ? { keepPrefix: { [MESSAGE_IDS.piece]: 13 } } : {});
        const got: Array<[number, string]> = [];
        let at = 0;
        for (const n of [...sizes, stream.length]) {
          const chunk = new Uint8Array(stream.subarray(at, Math.min(stream.length, at + n)));
          for (const f of framer.push(chunk)) got.push([f.offset, toHex(f.bytes.subarray(0, 13))]);
          chunk.fill(0);
          at = Math.min(stream.length, at + n);
        }
        framer.end();
        expect(got).toEqual(expected.map(([, o, h]) => [o, String(h).slice(0, 26)]));
      }),
      { numRuns: 300 },
    );
  });
});
