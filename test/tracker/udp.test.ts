import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeUdpPacket, encodeUdpMessage, UDP_PROTOCOL_ID, urlDataOptions, type UdpMessage } from '../../lib/tracker/udp.js';
import { DecodeError } from '../../lib/core/errors.js';
import { fromHex, toHex } from '../../lib/core/bytes.js';

const hash = fromHex('aa'.repeat(20));
const peerId = new TextEncoder().encode('-BS0001-abcdefghijkl');

// Packets laid out field by field as BEP 15 tabulates them.
const VECTORS: Array<[string, 'request' | 'response', string, Partial<UdpMessage> & { kind: UdpMessage['kind'] }]> = [
  ['connect request', 'request', '0000041727101980' + '00000000' + '12345678', { kind: 'connect_request', protocolId: UDP_PROTOCOL_ID, transactionId: 0x12345678 }],
  ['connect response', 'response', '00000000' + '12345678' + '0102030405060708', { kind: 'connect_response', transactionId: 0x12345678, connectionId: 0x0102030405060708n }],
  [
    'announce request',
    'request',
    '0102030405060708' + '00000001' + 'cafebabe' + 'aa'.repeat(20) + toHex(peerId) +
      '0000000000000010' + '0000000000000400' + '0000000000000020' + '00000002' + '00000000' + 'deadbeef' + 'ffffffff' + '1ae1',
    {
      kind: 'announce_request',
      connectionId: 0x0102030405060708n,
      transactionId: 0xcafebabe,
      infoHash: hash,
      peerId,
      downloaded: 16n,
      left: 1024n,
      uploaded: 32n,
      event: 2,
      ip: 0,
      key: 0xdeadbeef,
      numWant: -1,
      port: 6881,
      options: [],
    },
  ],
  [
    'announce response (IPv4)',
    'response',
    '00000001' + 'cafebabe' + '00000708' + '00000003' + '00000005' + '7f000001' + '1ae1' + '0a000002' + '1ae2',
    {
      kind: 'announce_response',
      transactionId: 0xcafebabe,
      interval: 1800,
      leechers: 3,
      seeders: 5,
      peers: [
        { ip: '127.0.0.1', port: 6881 },
        { ip: '10.0.0.2', port: 6882 },
      ],
    },
  ],
  ['scrape request', 'request', '0102030405060708' + '00000002' + '00000009' + 'aa'.repeat(20) + 'bb'.repeat(20), { kind: 'scrape_request', connectionId: 0x0102030405060708n, transactionId: 9, infoHashes: [hash, fromHex('bb'.repeat(20))] }],
  ['scrape response', 'response', '00000002' + '00000009' + '00000005' + '00000007' + '00000003', { kind: 'scrape_response', transactionId: 9, files: [{ seeders: 5, completed: 7, leechers: 3 }] }],
  ['error', 'response', '00000003' + '00000009' + toHex(new TextEncoder().encode('bad info_hash')), { kind: 'error', transactionId: 9, message: 'bad info_hash' }],
];

describe('UDP tracker packets (BEP 15)', () => {
  it.each(VECTORS)('%s decodes and re-encodes to the same bytes', (_name, direction, hex, expected) => {
    const bytes = fromHex(hex);
    const { message, frame } = decodeUdpPacket(bytes, 0, direction);
    expect(message).toEqual(expected);
    expect(frame.diagnostics).toEqual([]);
    expect(toHex(encodeUdpMessage(message))).toBe(hex);
    // Fields tile the packet: every byte belongs to exactly one top-level field.
    let cursor = 0;
    for (const f of frame.fields) {
      expect(f.span.start).toBe(cursor);
      cursor = f.span.end;
    }
    expect(cursor).toBe(bytes.length);
  });

  it('spans are absolute under a base offset', () => {
    const { frame } = decodeUdpPacket(fromHex(VECTORS[1]![2]), 42, 'response');
    expect(frame.fields.map((f) => [f.id, f.span.start, f.span.end])).toEqual([
      ['udp_tracker.action', 42, 46],
      ['udp_tracker.transaction_id', 46, 50],
      ['udp_tracker.connection_id', 50, 58],
    ]);
  });

  it('IPv6 announce answers carry 18-byte peers, chosen by the tracker address family', () => {
    const hex = '00000001' + '00000001' + '00000708' + '00000000' + '00000001' + '00000000000000000000000000000001' + '1ae1';
    const v6 = decodeUdpPacket(fromHex(hex), 0, 'response', { family: 6 }).message;
    expect(v6).toMatchObject({ kind: 'announce_response', peers: [{ ip: '::1', port: 6881 }] });
    // The packet alone cannot tell (18 is a multiple of 6): without the family it reads as IPv4.
    const v4 = decodeUdpPacket(fromHex(hex), 0, 'response').message;
    expect(v4).toMatchObject({ peers: [{ ip: '0.0.0.0', port: 0 }, { ip: '0.0.0.0', port: 0 }, { ip: '0.0.0.1', port: 6881 }] });
    const encoded = encodeUdpMessage(v6, 6);
    expect(toHex(encoded)).toBe(hex);
  });

  it('BEP 41 URLData options: decoded, and long paths split at 255 bytes', () => {
    const path = '/announce?passkey=' + 'x'.repeat(300);
    const opts = urlDataOptions(path);
    expect(opts.map((o) => o.data.length)).toEqual([255, path.length - 255]);
    const msg = { ...(VECTORS[2]![3] as Extract<UdpMessage, { kind: 'announce_request' }>), options: opts };
    const bytes = encodeUdpMessage(msg);
    expect(bytes.length).toBe(98 + 2 + 255 + 2 + (path.length - 255) + 1);
    const back = decodeUdpPacket(bytes, 0, 'request');
    expect(back.message).toEqual(msg);
    expect(back.frame.diagnostics).toEqual([]);
    expect(new TextDecoder().decode(Buffer.concat((back.message as typeof msg).options.map((o) => o.data)))).toBe(path);
  });

  it.each([
    ['request shorter than 16 bytes', 'request', '00000417271019', 'unexpected_eof', 7],
    ['announce request cut at 97 bytes', 'request', VECTORS[2]![2].slice(0, 194), 'unexpected_eof', 97],
    ['response shorter than 8 bytes', 'response', '000000', 'unexpected_eof', 3],
    ['connect response cut at 12 bytes', 'response', VECTORS[1]![2].slice(0, 24), 'unexpected_eof', 12],
    ['announce response cut at 19 bytes', 'response', VECTORS[3]![2].slice(0, 38), 'unexpected_eof', 19],
  ])('%s: %s at byte %i', (_name, direction, hex, code, offset) => {
    try {
      decodeUdpPacket(fromHex(hex), 0, direction as 'request' | 'response');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DecodeError);
      expect([(e as DecodeError).code, (e as DecodeError).offset]).toEqual([code, offset]);
    }
  });

  it('sloppy packets decode with diagnostics: partial peer, scrape leftovers, unknown action, bad magic', () => {
    const partial = decodeUdpPacket(fromHex(VECTORS[3]![2] + 'ffff'), 0, 'response');
    expect(partial.message).toMatchObject({ peers: [{}, {}] });
    expect(partial.frame.diagnostics!.map((d) => [d.code, d.span.start, d.span.end])).toEqual([['compact_peers_length', 32, 34]]);

    const scrape = decodeUdpPacket(fromHex(VECTORS[5]![2] + '0000'), 0, 'response');
    expect(scrape.frame.diagnostics!.map((d) => [d.code, d.span.start])).toEqual([['trailing_bytes', 20]]);

    const unknown = decodeUdpPacket(fromHex('00000009' + '00000001' + 'abcd'), 0, 'response');
    expect(unknown.message).toEqual({ kind: 'unknown', direction: 'response', action: 9, transactionId: 1, payload: fromHex('abcd') });

    const magic = decodeUdpPacket(fromHex('0000000000000001' + '00000000' + '00000001'), 0, 'request');
    expect(magic.message.kind).toBe('connect_request');
    expect(magic.frame.fields[0]!.diagnostics!.map((d) => d.code)).toEqual(['bad_magic']);
  });

  it('more than 74 hashes in a scrape request is reported', () => {
    const msg: UdpMessage = { kind: 'scrape_request', connectionId: 1n, transactionId: 1, infoHashes: Array.from({ length: 75 }, () => hash) };
    const { frame } = decodeUdpPacket(encodeUdpMessage(msg), 0, 'request');
    expect(frame.diagnostics!.map((d) => d.code)).toEqual(['too_many_hashes']);
  });

  it('any bytes either decode or throw a DecodeError inside the packet, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, req) => {
        try {
          const { frame } = decodeUdpPacket(bytes, 0, req ? 'request' : 'response');
          for (const f of frame.fields) expect(f.span.end).toBeLessThanOrEqual(bytes.length);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
          expect((e as DecodeError).offset).toBeLessThanOrEqual(bytes.length);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
