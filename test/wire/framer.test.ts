import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WireFramer, frameLimits, type WireFrame } from '../../lib/wire/framer.js';
import { encodeHandshake, makeReserved } from '../../lib/wire/handshake.js';
import { encodeMessage, parseMessage } from '../../lib/wire/messages.js';
import { DecodeError } from '../../lib/core/errors.js';
import { toHex } from '../../lib/core/bytes.js';
import { ascii, concat, errorOf, hex } from './vectors.js';

const handshake = encodeHandshake({ reserved: makeReserved({ extended: true, fast: true }), infoHash: hex('aa'.repeat(20)), peerId: ascii('-qB4520-abcdefghijkl') });
const messages = [
  encodeMessage({ type: 'extended', extId: 0, payload: ascii('d1:md11:ut_metadatai2eee') }),
  encodeMessage({ type: 'bitfield', bitfield: hex('ffc0') }),
  encodeMessage({ type: 'keep_alive' }),
  encodeMessage({ type: 'unchoke' }),
  encodeMessage({ type: 'piece', index: 1, begin: 0, block: new Uint8Array(16384).map((_, i) => i & 0xff) }),
  encodeMessage({ type: 'have', index: 9 }),
  encodeMessage({ type: 'unknown', id: 99, payload: hex('0102') }),
];
const stream = concat(handshake, ...messages);

/** What a framer yields for `stream` cut at `cuts`: kinds, offsets and hex of every frame. */
function frameAll(cuts: number[], framer = new WireFramer()): Array<[string, number, string]> {
  const out: WireFrame[] = [];
  let prev = 0;
  for (const c of [...cuts, stream.length]) {
    out.push(...framer.push(stream.subarray(prev, c)));
    prev = c;
  }
  framer.end();
  return out.map((f) => [f.kind, f.offset, toHex(f.bytes)]);
}

const whole = frameAll([]);

describe('WireFramer', () => {
  it('cuts the handshake and every message at its absolute offset', () => {
    expect(whole.map(([k, o]) => [k, o])).toEqual([
      ['handshake', 0],
      ['message', 68],
      ['message', 68 + messages[0]!.length],
      ['message', 68 + messages[0]!.length + messages[1]!.length],
      ['message', 68 + messages[0]!.length + messages[1]!.length + 4],
      ['message', 68 + messages[0]!.length + messages[1]!.length + 4 + 5],
      ['message', stream.length - messages[6]!.length - messages[5]!.length],
      ['message', stream.length - messages[6]!.length],
    ]);
    expect(whole.slice(1).map(([, , h]) => h)).toEqual(messages.map(toHex));
  });

  it('gives the same frames fed one byte at a time', () => {
    expect(frameAll(Array.from({ length: stream.length - 1 }, (_, i) => i + 1))).toEqual(whole);
  });

  it('gives the same frames in random splits (fast-check)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }), (cuts) => {
        expect(frameAll(cuts.sort((a, b) => a - b))).toEqual(whole);
      }),
      { numRuns: 200 },
    );
  });

  it('frames inside one chunk are views, not copies', () => {
    const frames = new WireFramer().push(stream);
    expect(frames.every((f) => f.bytes.buffer === stream.buffer)).toBe(true);
  });

  it('mid-stream start (a tracer joining late): no handshake, offsets from startOffset', () => {
    const framer = new WireFramer({ expectHandshake: false, startOffset: 5000 });
    const frames = framer.push(concat(...messages.slice(1, 3)));
    expect(frames.map((f) => [f.offset, f.kind === 'message' ? f.id : -1])).toEqual([[5000, 5], [5000 + messages[1]!.length, null]]);
  });

  it('a 4 GiB length prefix is limit_exceeded at once, nothing allocated', () => {
    const framer = new WireFramer();
    framer.push(handshake);
    expect(errorOf(() => framer.push(hex('ffffffff')))).toEqual({ code: 'limit_exceeded', offset: 68 });
    expect(framer.bufferedBytes).toBe(4);
    // The framer stays failed.
    expect(errorOf(() => framer.push(hex('00')))).toEqual({ code: 'limit_exceeded', offset: 68 });
  });

  it('per-id limits from the torrent: a bitfield longer than the piece count allows', () => {
    const framer = new WireFramer({ expectHandshake: false, ...frameLimits({ pieceCount: 10 }) });
    expect(framer.push(encodeMessage({ type: 'bitfield', bitfield: hex('ffc0') }))).toHaveLength(1);
    expect(errorOf(() => framer.push(encodeMessage({ type: 'bitfield', bitfield: hex('ffc000') })))).toEqual({ code: 'limit_exceeded', offset: 7 });
  });

  it('per-id limits: a piece block over 16 KiB', () => {
    const framer = new WireFramer({ expectHandshake: false, ...frameLimits({ pieceCount: 100 }) });
    const big = encodeMessage({ type: 'piece', index: 0, begin: 0, block: new Uint8Array(16385) });
    expect(errorOf(() => framer.push(big.subarray(0, 5)))).toEqual({ code: 'limit_exceeded', offset: 0 });
  });

  it('frames completed before an error are on the error', () => {
    const framer = new WireFramer({ expectHandshake: false });
    try {
      framer.push(concat(messages[3]!, hex('ffffffff')));
      throw new Error('expected an error');
    } catch (e) {
      expect(e).toBeInstanceOf(DecodeError);
      expect(((e as DecodeError).partial as { frames: WireFrame[] }).frames).toHaveLength(1);
    }
  });

  it.each([
    ['an MSE stream (random first byte)', hex('8a'), 'bad_protocol', 0],
    ['HTTP', ascii('GET / HTTP/1.1\r\n'), 'bad_protocol', 0],
    ['wrong protocol string', concat(hex('13'), ascii('BitTorrent-protocol')), 'bad_protocol', 11],
  ])('rejects %s as soon as the bad byte arrives', (_n, bytes, code, offset) => {
    expect(errorOf(() => new WireFramer().push(bytes))).toEqual({ code, offset });
  });

  it('end() reports a truncated handshake or message with the offset where bytes stopped', () => {
    const f1 = new WireFramer();
    f1.push(handshake.subarray(0, 30));
    expect(errorOf(() => f1.end())).toEqual({ code: 'unexpected_eof', offset: 30 });
    const f2 = new WireFramer();
    f2.push(concat(handshake, messages[5]!.subarray(0, 6)));
    expect(errorOf(() => f2.end())).toEqual({ code: 'unexpected_eof', offset: 74 });
  });

  it('fuzz: arbitrary bytes in arbitrary chunks give frames or a typed error, never anything else', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }),
        (expectHandshake, chunks) => {
          const framer = new WireFramer({ expectHandshake, maxFrameLength: 4096 });
          let total = 0;
          try {
            for (const c of chunks) {
              for (const f of framer.push(c)) {
                total += f.bytes.length;
                if (f.kind === 'message') {
                  try {
                    parseMessage(f.bytes, f.offset);
                  } catch (e) {
                    if (!(e instanceof DecodeError)) throw e;
                  }
                }
              }
              expect(framer.bufferedBytes).toBeLessThanOrEqual(4096 + 64);
            }
            framer.end();
          } catch (e) {
            if (!(e instanceof DecodeError)) throw e;
            expect(typeof e.code).toBe('string');
            expect(e.offset).toBeGreaterThanOrEqual(0);
            expect(e.offset).toBeLessThanOrEqual(chunks.reduce((n, c) => n + c.length, 0));
          }
          expect(total).toBeLessThanOrEqual(chunks.reduce((n, c) => n + c.length, 0));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('fuzz: valid messages round trip through the framer in any chunking', () => {
    const msg = fc.oneof(
      fc.constant({ type: 'keep_alive' as const }),
      fc.nat({ max: 0xffffffff }).map((index) => ({ type: 'have' as const, index })),
      fc.record({ index: fc.nat(), begin: fc.nat(), length: fc.nat() }).map((r) => ({ type: 'request' as const, ...r })),
      fc.record({ index: fc.nat(), begin: fc.nat(), block: fc.uint8Array({ maxLength: 300 }) }).map((r) => ({ type: 'piece' as const, ...r })),
      fc.record({ extId: fc.nat({ max: 255 }), payload: fc.uint8Array({ maxLength: 50 }) }).map((r) => ({ type: 'extended' as const, ...r })),
    );
    fc.assert(
      fc.property(fc.array(msg, { maxLength: 10 }), fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 30 }), (msgs, sizes) => {
        const bytes = concat(...msgs.map(encodeMessage));
        const framer = new WireFramer({ expectHandshake: false });
        const got: unknown[] = [];
        let at = 0;
        for (const n of [...sizes, bytes.length]) {
          got.push(...framer.push(bytes.subarray(at, Math.min(bytes.length, at + n))).map((f) => parseMessage(f.bytes, f.offset)));
          at = Math.min(bytes.length, at + n);
        }
        framer.end();
        expect(JSON.stringify(got)).toBe(JSON.stringify(msgs));
      }),
      { numRuns: 200 },
    );
  });
});
