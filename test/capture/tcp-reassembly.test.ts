import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TcpDirection, type GapReason } from '../../lib/capture/tcp-reassembly.js';
import { TCP_FLAGS } from '../../lib/capture/transport.js';

interface Event {
  kind: 'data' | 'gap';
  offset: number;
  text?: string;
  length?: number;
  reason?: GapReason;
}

function direction(limits = {}) {
  const events: Event[] = [];
  const dir = new TcpDirection(
    {
      data: (offset, b) => events.push({ kind: 'data', offset, text: Buffer.from(b).toString() }),
      gap: (offset, length, _p, reason) => events.push({ kind: 'gap', offset, length, reason }),
    },
    limits,
  );
  let n = 0;
  const seg = (seq: number, text: string, flags = TCP_FLAGS.ACK | TCP_FLAGS.PSH) => dir.segment({ seq: seq >>> 0, ack: 0, flags, window: 0 }, Buffer.from(text), ++n);
  return { dir, events, seg, text: () => events.filter((e) => e.kind === 'data').map((e) => e.text).join('') };
}

describe('TCP reassembly per direction', () => {
  it('SYN sets offset 0 to the next byte', () => {
    const t = direction();
    t.seg(999, '', TCP_FLAGS.SYN);
    t.seg(1000, 'abc');
    t.seg(1003, 'def');
    expect(t.events).toEqual([
      { kind: 'data', offset: 0, text: 'abc' },
      { kind: 'data', offset: 3, text: 'def' },
    ]);
  });

  it('out-of-order segments wait for the hole, then flow', () => {
    const t = direction();
    t.seg(100, 'ab');
    t.seg(104, 'ef');
    t.seg(106, 'gh');
    t.seg(102, 'cd');
    expect(t.text()).toBe('abcdefgh');
    expect(t.dir.stats.outOfOrderSegments).toBe(2);
  });

  it('retransmissions are dropped and overlaps trimmed', () => {
    const t = direction();
    t.seg(100, 'abcd');
    t.seg(100, 'abcd');
    t.seg(102, 'cdef');
    expect(t.text()).toBe('abcdef');
    expect(t.dir.stats.retransmittedBytes).toBe(4);
    expect(t.dir.stats.overlapBytes).toBe(2);
  });

  it('a hole acknowledged by the other side is a gap, and decoding goes on after it', () => {
    const t = direction();
    t.seg(100, 'ab');
    t.seg(110, 'xyz');
    t.dir.acknowledged(113, 9);
    expect(t.events).toEqual([
      { kind: 'data', offset: 0, text: 'ab' },
      { kind: 'gap', offset: 2, length: 8, reason: 'acked_unseen' },
      { kind: 'data', offset: 10, text: 'xyz' },
    ]);
  });

  it('too much waiting behind a hole gives it up (bounded memory)', () => {
    const t = direction({ maxPendingSegments: 2 });
    t.seg(100, 'a');
    t.seg(110, 'b');
    t.seg(111, 'c');
    expect(t.events.filter((e) => e.kind === 'gap')).toEqual([]);
    t.seg(112, 'd');
    expect(t.events).toContainEqual({ kind: 'gap', offset: 1, length: 9, reason: 'buffer_full' });
    expect(t.text()).toBe('abcd');
  });

  it('the end of the capture flushes what waits', () => {
    const t = direction();
    t.seg(100, 'a');
    t.seg(105, 'b');
    t.dir.flush(0);
    expect(t.events[1]).toEqual({ kind: 'gap', offset: 1, length: 4, reason: 'capture_end' });
    expect(t.text()).toBe('ab');
  });

  it('sequence numbers wrap around 2^32', () => {
    const t = direction();
    t.seg(0xfffffffe, 'ab');
    t.seg(0, 'cd');
    t.seg(2, 'ef');
    expect(t.events.map((e) => e.offset)).toEqual([0, 2, 4]);
    expect(t.text()).toBe('abcdef');
  });

  it('snaplen-cut bytes are a gap of their own', () => {
    const events: Event[] = [];
    const dir = new TcpDirection({
      data: (offset, b) => events.push({ kind: 'data', offset, text: Buffer.from(b).toString() }),
      gap: (offset, length, _p, reason) => events.push({ kind: 'gap', offset, length, reason }),
    });
    dir.segment({ seq: 0, ack: 0, flags: 0x18, window: 0 }, Buffer.from('ab'), 1, 3);
    dir.segment({ seq: 5, ack: 0, flags: 0x18, window: 0 }, Buffer.from('f'), 2);
    expect(events).toEqual([
      { kind: 'data', offset: 0, text: 'ab' },
      { kind: 'gap', offset: 2, length: 3, reason: 'snaplen' },
      { kind: 'data', offset: 5, text: 'f' },
    ]);
  });

  it('any order, duplicates and overlaps of the segments of a stream give back the stream', () => {
    const stream = 'The quick brown fox jumps over the lazy dog, 0123456789 times.';
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(stream.length - 1), fc.integer({ min: 1, max: 12 })), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (cuts, isn) => {
          const t = direction();
          t.seg(isn, '', TCP_FLAGS.SYN);
          // Every byte covered at least once: first all segments in a shuffled order, then the whole as a fallback.
          for (const [at, n] of cuts) t.seg(isn + 1 + at, stream.slice(at, at + n));
          t.seg(isn + 1, stream);
          t.dir.flush(0);
          expect(t.text()).toBe(stream);
          expect(t.events.filter((e) => e.kind === 'gap')).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
