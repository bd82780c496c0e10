import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { Tracer } from '../../lib/trace/engine.js';
import type { TraceEvent, TraceSummary } from '../../lib/trace/types.js';
import { readCaptureBytes } from '../../lib/capture/format.js';
import { DecodeError } from '../../lib/core/errors.js';
import { encodeHandshake, makeReserved } from '../../lib/wire/handshake.js';
import { encodeMessage, type Message } from '../../lib/wire/messages.js';
import { encodeExtendedHandshake } from '../../lib/wire/extended.js';
import { encodeUtMetadata } from '../../lib/wire/ut-metadata.js';
import { encodeUdpMessage } from '../../lib/tracker/udp.js';
import { Conversation, concatBytes } from './conv.js';

const HASH = new Uint8Array(20).fill(0xaa);
const hs = (id: string) => encodeHandshake({ reserved: makeReserved({ extended: true, fast: true }), infoHash: HASH, peerId: new TextEncoder().encode(id.padEnd(20, 'x')) });
const msg = (m: Message) => encodeMessage(m);
const ext = (extId: number, payload: Uint8Array) => msg({ type: 'extended', extId, payload });
const block = (index: number, begin: number, n = 16384) => msg({ type: 'piece', index, begin, block: new Uint8Array(n).fill(index + 1) });

function trace(file: Uint8Array): { events: TraceEvent[]; summary: TraceSummary } {
  const events: TraceEvent[] = [];
  const t = new Tracer({ onEvent: (e) => events.push(e) });
  readCaptureBytes(file, (p) => t.packet(p));
  return { events, summary: t.end() };
}

/** The same capture traced without events must count the same (summary mode builds nothing). */
function countsOnly(file: Uint8Array): Record<string, number> {
  const t = new Tracer();
  readCaptureBytes(file, (p) => t.packet(p));
  return t.end().messages;
}

function session(): { conv: Conversation; pieces: number } {
  const conv = new Conversation().handshake();
  conv.send('a', concatBytes(hs('-qB4520-'), ext(0, encodeExtendedHandshake({ m: { ut_metadata: 3 }, v: 'client A' }))), [30]);
  conv.send('b', concatBytes(hs('-lt0D80-'), ext(0, encodeExtendedHandshake({ m: { ut_metadata: 2 }, v: 'client B', metadataSize: 100 })), msg({ type: 'have_all' }), msg({ type: 'unchoke' })));
  // A asks with B's id for ut_metadata (2); B answers with A's id (3).
  conv.send('a', concatBytes(ext(2, encodeUtMetadata({ msgType: 'request', piece: 0 })), msg({ type: 'interested' }), msg({ type: 'request', index: 0, begin: 0, length: 16384 }), msg({ type: 'request', index: 0, begin: 16384, length: 16384 })));
  conv.send('b', ext(3, encodeUtMetadata({ msgType: 'reject', piece: 0 })));
  // Two pieces cut at odd places, sent out of order with a retransmission.
  conv.send('b', concatBytes(block(0, 0), block(0, 16384)), [1000, 7, 20000, 3], { order: [0, 2, 1, 3, 4], duplicate: [2] });
  conv.send('a', concatBytes(msg({ type: 'have', index: 0 }), msg({ type: 'keep_alive' })));
  return { conv, pieces: 2 };
}

describe('trace engine on scripted TCP conversations', () => {
  it('every message, in order, with extension names learned per direction', () => {
    const { conv } = session();
    const { events, summary } = trace(conv.pcap());
    expect(summary.messages).toEqual({ handshake: 2, extended: 4, have_all: 1, unchoke: 1, interested: 1, request: 2, piece: 2, have: 1, keep_alive: 1 });
    expect(countsOnly(conv.pcap())).toEqual(summary.messages);
    const texts = events.map((e) => `${e.direction} ${e.text}`);
    expect(texts).toContain('out extended ut_metadata request piece=0');
    expect(texts).toContain('in extended ut_metadata reject piece=0');
    expect(texts.filter((t) => t.startsWith('in piece'))).toEqual(['in piece index=0 begin=0 len=16384', 'in piece index=0 begin=16384 len=16384']);
    expect(summary.streams).toHaveLength(1);
    const s = summary.streams[0]!;
    expect([s.label, s.fromStart, s.out.client, s.in.extendedClient]).toEqual(['peer wire', true, 'qBittorrent 4.5.2.0', 'client B']);
    expect(s.in.undecodedBytes + s.out.undecodedBytes).toBe(0);
  });

  it('stream offsets and the packets that carried each message', () => {
    const { conv } = session();
    const { events } = trace(conv.pcap());
    const first = events.find((e) => e.type === 'piece')!;
    const f = first.frame();
    expect(f.bytes.length).toBe(16397);
    expect(first.end - first.offset).toBe(16397);
    expect(first.packets.length).toBeGreaterThan(1);
    expect(f.meta?.['packets']).toBe(first.packets.join(','));
  });

  it('a connection whose start was not captured: frame boundaries found, the cut message reported as undecoded', () => {
    const conv = new Conversation();
    const tail = block(3, 0).subarray(5000); // the end of a piece message
    const later = concatBytes(msg({ type: 'have', index: 7 }), msg({ type: 'request', index: 8, begin: 0, length: 16384 }), block(8, 0), msg({ type: 'cancel', index: 9, begin: 0, length: 16384 }));
    conv.send('b', concatBytes(tail, later), [3000, 9000]);
    const { events, summary } = trace(conv.pcap());
    expect(summary.messages).toEqual({ have: 1, request: 1, piece: 1, cancel: 1 });
    expect(summary.streams[0]!.fromStart).toBe(false);
    expect(events[0]!.type).toBe('undecoded');
    expect(events[0]!.fields['length']).toBe(tail.length);
  });

  it('a segment never captured (acked by the other side): a gap, then decoding goes on', () => {
    const conv = new Conversation().handshake();
    conv.send('a', hs('-qB4520-')).send('b', hs('-lt0D80-'));
    const haves = concatBytes(...Array.from({ length: 40 }, (_, i) => msg({ type: 'have', index: i })));
    conv.send('b', haves, [95, 90, 90], { drop: [1] });
    conv.ack('a');
    conv.send('b', msg({ type: 'unchoke' }));
    const { events, summary } = trace(conv.pcap());
    const s = summary.streams[0]!;
    expect(s.in.gaps).toBe(1);
    expect(s.in.gapBytes).toBe(90);
    // Bytes 95..185 lost: haves 0-9 whole before it, 5 bytes of have 10 cut by it, 4 bytes of have 20
    // skipped to the next boundary (189), then haves 21-39 and the unchoke.
    expect(summary.messages).toEqual({ handshake: 2, have: 29, unchoke: 1 });
    const undecoded = events.filter((e) => e.type === 'undecoded').map((e) => [e.offset, e.fields['length'], e.fields['reason']]);
    expect(undecoded).toEqual([
      [68 + 90, 5, 'gap'],
      [68 + 185, 4, 'before_sync'],
    ]);
  });

  it('MSE/PE from the start: labelled encrypted, every byte counted, nothing shown as messages', () => {
    const conv = new Conversation().handshake();
    conv.send('a', randomBytes(96 + 300)).send('b', randomBytes(96 + 200)).send('a', randomBytes(5000)).send('b', randomBytes(70000), [30000]);
    const { summary, events } = trace(conv.pcap());
    expect(summary.streams[0]!.label).toBe('encrypted (MSE/PE)');
    expect(summary.messages).toEqual({});
    expect(summary.streams[0]!.out.undecodedBytes).toBe(5396);
    expect(summary.streams[0]!.in.undecodedBytes).toBe(70296);
    expect(events.every((e) => e.type === 'undecoded' && e.text.includes('encrypted (MSE/PE)'))).toBe(true);
  });

  it('MSE that negotiated plaintext: the handshake is found after the key exchange', () => {
    const conv = new Conversation().handshake();
    conv.send('a', concatBytes(randomBytes(150), hs('-qB4520-'), msg({ type: 'interested' })));
    conv.send('b', concatBytes(randomBytes(120), hs('-lt0D80-'), msg({ type: 'unchoke' })));
    const { summary } = trace(conv.pcap());
    expect(summary.messages).toEqual({ handshake: 2, interested: 1, unchoke: 1 });
    expect(summary.streams[0]!.label).toBe('peer wire after MSE/PE (plaintext)');
  });

  it('a mid-stream capture that never parses: unknown (probably encrypted), with its byte count', () => {
    const conv = new Conversation();
    conv.send('a', randomBytes(3000)).send('b', randomBytes(4000));
    const { summary } = trace(conv.pcap());
    expect(summary.streams[0]!.label).toBe('unknown (probably encrypted)');
    expect(summary.streams[0]!.out.undecodedBytes + summary.streams[0]!.in.undecodedBytes).toBe(7000);
  });

  it('an HTTP tracker announce and its bencoded reply on any port, with the round trip', () => {
    const conv = new Conversation({ ip: '10.0.0.5', port: 51000 }, { ip: '10.0.0.9', port: 2710 }).handshake();
    conv.send('a', new TextEncoder().encode(`GET /announce?info_hash=${'%aa'.repeat(20)}&peer_id=-qB4520-xxxxxxxxxxxx&port=6881&uploaded=0&downloaded=0&left=5&event=started&compact=1 HTTP/1.1\r\nHost: x\r\n\r\n`));
    const body = 'd8:intervali1800e5:peers6:\x0a\x00\x00\x01\x1a\xe1e';
    conv.send('b', Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 'latin1'));
    const { events, summary } = trace(conv.pcap());
    expect(events.map((e) => e.type)).toEqual(['http-tracker.announce_request', 'http-tracker.announce_response']);
    expect(events[0]!.text).toContain(`info_hash=${'aa'.repeat(20)} event=started port=6881 left=5`);
    expect(events[1]!.text).toMatch(/interval=1800 peers=1 rtt=\d/);
    expect(summary.transactions).toMatchObject([{ protocol: 'http-tracker', kind: 'announce', outcome: '1 peers' }]);
  });
});

describe('trace engine on datagrams', () => {
  const client = { ip: '10.0.0.1', port: 6881 };
  const tracker = { ip: '10.0.0.2', port: 1337 };
  it('UDP tracker: an announce whose connect was not captured is matched to its reply by transaction id', () => {
    const conv = new Conversation();
    conv.datagram(client, tracker, encodeUdpMessage({ kind: 'announce_request', connectionId: 0x1234n, transactionId: 77, infoHash: HASH, peerId: new Uint8Array(20), downloaded: 0n, left: 10n, uploaded: 0n, event: 2, ip: 0, key: 1, numWant: -1, port: 6881, options: [] }));
    conv.datagram(tracker, client, encodeUdpMessage({ kind: 'announce_response', transactionId: 77, interval: 900, leechers: 1, seeders: 2, peers: [{ ip: '10.0.0.3', port: 51413 }] }), 0.025);
    const { events, summary } = trace(conv.pcap());
    expect(events.map((e) => e.type)).toEqual(['udp-tracker.announce_request', 'udp-tracker.announce_response']);
    expect(summary.transactions[0]).toMatchObject({ protocol: 'udp-tracker', kind: 'announce', transactionId: '0000004d', outcome: '1 peers' });
    expect(summary.transactions[0]!.rtt).toBeCloseTo(0.025, 6);
  });

  it('DHT: queries matched to responses; an unanswered query is listed as such', () => {
    const node = { ip: '10.0.0.7', port: 7000 };
    const conv = new Conversation();
    conv.datagram(client, node, new TextEncoder().encode('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe'));
    conv.datagram(node, client, new TextEncoder().encode('d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re'), 0.01);
    conv.datagram(client, node, new TextEncoder().encode('d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:bb1:y1:qe'));
    const { events, summary } = trace(conv.pcap());
    expect(events.map((e) => e.type)).toEqual(['dht.ping', 'dht.response', 'dht.find_node']);
    expect(events[1]!.text).toContain('(ping, rtt=10.0ms)');
    expect(summary.transactions.map((t) => [t.kind, t.outcome])).toEqual([
      ['ping', 'response'],
      ['find_node', 'no response'],
    ]);
  });

  it('LSD announce', () => {
    const conv = new Conversation();
    conv.datagram({ ip: '10.0.0.1', port: 6771 }, { ip: '239.192.152.143', port: 6771 }, new TextEncoder().encode(`BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: ${'aa'.repeat(20)}\r\n\r\n\r\n`));
    const { events } = trace(conv.pcap());
    expect(events.map((e) => e.text)).toEqual([`lsd announce port=6881 info_hash=${'aa'.repeat(20)}`]);
  });

  it('uTP: SYN, data out of order and duplicated, reassembled and decoded as peer wire', () => {
    const conv = new Conversation();
    const a = { ip: '10.0.0.1', port: 50000 };
    const b = { ip: '10.0.0.2', port: 6881 };
    const utp = (type: number, conn: number, seq: number, ack: number, payload: Uint8Array = new Uint8Array(0)) => {
      const h = new Uint8Array(20 + payload.length);
      const dv = new DataView(h.buffer);
      h[0] = (type << 4) | 1;
      dv.setUint16(2, conn);
      dv.setUint16(16, seq);
      dv.setUint16(18, ack);
      h.set(payload, 20);
      return h;
    };
    const stream = concatBytes(hs('-qB4520-'), msg({ type: 'interested' }), msg({ type: 'request', index: 1, begin: 0, length: 16384 }));
    conv.datagram(a, b, utp(4, 100, 1, 0));
    conv.datagram(b, a, utp(2, 100, 500, 1));
    conv.datagram(a, b, utp(0, 101, 3, 499, stream.subarray(40)));
    conv.datagram(a, b, utp(0, 101, 2, 499, stream.subarray(0, 40)));
    conv.datagram(a, b, utp(0, 101, 2, 499, stream.subarray(0, 40)));
    conv.datagram(b, a, utp(0, 100, 500, 3, concatBytes(hs('-lt0D80-'), msg({ type: 'unchoke' }))));
    const { events, summary } = trace(conv.pcap());
    expect(summary.messages).toEqual({ handshake: 2, interested: 1, request: 1, unchoke: 1 });
    expect(events.every((e) => e.transport === 'utp')).toBe(true);
    expect(summary.streams[0]!).toMatchObject({ transport: 'utp', label: 'peer wire', a: '10.0.0.1:50000', b: '10.0.0.2:6881' });
  });
});

describe('fuzzed and truncated captures: diagnostics, never a crash', () => {
  const file = session().conv.pcap();
  it('every truncation', () => {
    for (let n = 24; n < file.length; n += 97) {
      const t = new Tracer({ onEvent: () => {} });
      readCaptureBytes(file.subarray(0, n), (p) => t.packet(p));
      t.end();
    }
  });
  it('random byte flips: the tracer never throws; the reader only throws DecodeError', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 30 }), (flips) => {
        const f = file.slice();
        for (const [at, v] of flips) f[24 + (at % (f.length - 24))] = v;
        const t = new Tracer({ onEvent: (e) => void e.text });
        try {
          readCaptureBytes(f, (p) => t.packet(p), { maxRecordLength: 1 << 20 });
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
        t.end();
      }),
      { numRuns: 200 },
    );
  });
});
