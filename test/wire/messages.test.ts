import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, encodePieceHeader, MESSAGE_IDS, parseMessage, type Message } from '../../lib/wire/messages.js';
import { ExtensionIds, encodeExtendedHandshake } from '../../lib/wire/extended.js';
import { toHex } from '../../lib/core/bytes.js';
import { renderHexFrame } from '../../lib/render/hex-frame.js';
import { ascii, concat, errorOf, hex } from './vectors.js';

// Each row: the message, and its bytes as BEP 3 / 5 / 6 / 10 / 52 lay them out
// (<length prefix><id><payload>, integers big endian).
const root = hex('11'.repeat(32));
const VECTORS: Array<[string, Message, string]> = [
  ['keep-alive (BEP 3)', { type: 'keep_alive' }, '00000000'],
  ['choke', { type: 'choke' }, '00000001 00'],
  ['unchoke', { type: 'unchoke' }, '00000001 01'],
  ['interested', { type: 'interested' }, '00000001 02'],
  ['not interested', { type: 'not_interested' }, '00000001 03'],
  ['have piece 1', { type: 'have', index: 1 }, '00000005 04 00000001'],
  ['bitfield 0b11000000', { type: 'bitfield', bitfield: hex('c0') }, '00000002 05 c0'],
  ['request 1/16384/16384', { type: 'request', index: 1, begin: 16384, length: 16384 }, '0000000d 06 00000001 00004000 00004000'],
  ['piece 2/0 "abc"', { type: 'piece', index: 2, begin: 0, block: ascii('abc') }, '0000000c 07 00000002 00000000 616263'],
  ['cancel', { type: 'cancel', index: 0xffffffff, begin: 0, length: 1 }, '0000000d 08 ffffffff 00000000 00000001'],
  ['port 6881 (BEP 5)', { type: 'port', port: 6881 }, '00000003 09 1ae1'],
  ['suggest piece (BEP 6)', { type: 'suggest_piece', index: 7 }, '00000005 0d 00000007'],
  ['have all (BEP 6)', { type: 'have_all' }, '00000001 0e'],
  ['have none (BEP 6)', { type: 'have_none' }, '00000001 0f'],
  ['reject request (BEP 6)', { type: 'reject_request', index: 3, begin: 32768, length: 16384 }, '0000000d 10 00000003 00008000 00004000'],
  ['allowed fast (BEP 6)', { type: 'allowed_fast', index: 1059 }, '00000005 11 00000423'],
  ['extended handshake (BEP 10)', { type: 'extended', extId: 0, payload: ascii('d1:md6:ut_pexi1eee') }, '00000014 14 00' + toHex(ascii('d1:md6:ut_pexi1eee'))],
  [
    'hash request (BEP 52)',
    { type: 'hash_request', piecesRoot: root, baseLayer: 0, index: 0, length: 2, proofLayers: 1 },
    '00000031 15' + '11'.repeat(32) + '00000000 00000000 00000002 00000001',
  ],
  [
    'hashes (BEP 52)',
    { type: 'hashes', piecesRoot: root, baseLayer: 0, index: 0, length: 2, proofLayers: 0, hashes: hex('22'.repeat(64)) },
    '00000071 16' + '11'.repeat(32) + '00000000 00000000 00000002 00000000' + '22'.repeat(64),
  ],
  [
    'hash reject (BEP 52)',
    { type: 'hash_reject', piecesRoot: root, baseLayer: 1, index: 512, length: 512, proofLayers: 3 },
    '00000031 17' + '11'.repeat(32) + '00000001 00000200 00000200 00000003',
  ],
  ['unknown id 0x42 keeps its payload', { type: 'unknown', id: 0x42, payload: hex('beef') }, '00000003 42 beef'],
];

describe('peer wire messages: vectors', () => {
  it.each(VECTORS)('%s encodes to its bytes', (_n, message, bytes) => {
    expect(toHex(encodeMessage(message))).toBe(toHex(hex(bytes)));
  });

  it.each(VECTORS)('%s decodes from its bytes', (_n, message, bytes) => {
    const { message: got, frame, end } = decodeMessage(hex(bytes), 100);
    expect(got).toEqual(message);
    expect(end).toBe(100 + hex(bytes).length);
    // Every field lies inside the frame, and the fields tile it with no byte unaccounted for.
    const spans = frame.fields.map((f) => f.span).sort((a, b) => a.start - b.start);
    expect(spans[0]!.start).toBe(100);
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBe(spans[i - 1]!.end);
    expect(spans[spans.length - 1]!.end).toBe(end);
  });

  it('every id in MESSAGE_IDS has a vector', () => {
    const covered = new Set(VECTORS.map(([, m]) => m.type));
    for (const name of Object.keys(MESSAGE_IDS)) expect(covered, name).toContain(name);
  });

  it('a piece block is a view into the frame, not a copy', () => {
    const bytes = hex('0000000c 07 00000002 00000000 616263');
    const m = parseMessage(bytes);
    if (m.type !== 'piece') throw new Error('not a piece');
    expect(m.block.buffer).toBe(bytes.buffer);
    expect(m.block.byteOffset).toBe(13);
  });

  it('encodePieceHeader + block equals encodeMessage(piece)', () => {
    const block = new Uint8Array(16384).fill(7);
    expect(concat(encodePieceHeader(5, 16384, block.length), block)).toEqual(encodeMessage({ type: 'piece', index: 5, begin: 16384, block }));
  });

  it('a 16 KiB piece frame renders a few rows, not 16 KiB of hex', () => {
    const { frame } = decodeMessage(encodeMessage({ type: 'piece', index: 0, begin: 0, block: new Uint8Array(16384) }));
    const text = renderHexFrame(frame);
    expect(text.split('\n').length).toBeLessThan(20);
    expect(text).toContain('block data = 16384 bytes');
  });
});

describe('peer wire messages: bad input gives (code, offset)', () => {
  it.each([
    ['shorter than the prefix', '000000', 'unexpected_eof', 3],
    ['shorter than its prefix says', '00000005 04 0000', 'unexpected_eof', 7],
    ['have with 3 payload bytes', '00000004 04 000000', 'bad_length', 5],
    ['choke with a payload', '00000002 00 00', 'bad_length', 5],
    ['request with 8 bytes', '00000009 06 00000000 00000000', 'bad_length', 5],
    ['piece shorter than index+begin', '00000005 07 00000000', 'bad_length', 5],
    ['port with 4 bytes', '00000005 09 00001ae1', 'bad_length', 5],
    ['extended with no ext id', '00000001 14', 'bad_length', 5],
    ['hash request 47 bytes', '00000030 15' + '00'.repeat(47), 'bad_length', 5],
    ['hashes not a multiple of 32', '00000032 16' + '00'.repeat(49), 'bad_length', 53],
  ])('%s', (_n, bytes, code, offset) => {
    expect(errorOf(() => parseMessage(hex(bytes)))).toEqual({ code, offset });
    expect(errorOf(() => parseMessage(hex(bytes), 1000))).toEqual({ code, offset: offset + 1000 });
  });

  it('encoders refuse values that do not fit the wire', () => {
    expect(() => encodeMessage({ type: 'have', index: -1 })).toThrow(RangeError);
    expect(() => encodeMessage({ type: 'port', port: 70000 })).toThrow(RangeError);
    expect(() => encodeMessage({ type: 'extended', extId: 256, payload: new Uint8Array() })).toThrow(RangeError);
  });
});

describe('extended messages in frames are named per direction', () => {
  it('names ut_metadata by the RECEIVER\'s m dict', () => {
    const ids = new ExtensionIds();
    // We (out) announce ut_metadata=2; the peer (in) announces ut_metadata=3.
    ids.learn('out', { ut_metadata: 2 });
    ids.learn('in', { ut_metadata: 3 });
    const payload = ascii('d8:msg_typei0e5:piecei0ee');
    const toPeer = encodeMessage({ type: 'extended', extId: 3, payload });
    const fromPeer = encodeMessage({ type: 'extended', extId: 2, payload });
    expect(decodeMessage(toPeer, 0, { extensions: ids, direction: 'out' }).frame.title).toBe('extended ut_metadata');
    expect(decodeMessage(fromPeer, 0, { extensions: ids, direction: 'in' }).frame.title).toBe('extended ut_metadata');
    expect(decodeMessage(toPeer, 0, { extensions: ids, direction: 'in' }).frame.title).toBe('extended #3');
  });

  it('an extended handshake frame shows the dict with absolute spans', () => {
    const payload = encodeExtendedHandshake({ m: { ut_metadata: 2 }, v: 'btscope', metadataSize: 1234 });
    const { frame } = decodeMessage(encodeMessage({ type: 'extended', extId: 0, payload }), 50);
    const dict = frame.fields.find((f) => f.id === 'bt.extended.handshake')!;
    expect(dict.span).toEqual({ start: 56, end: 50 + 6 + payload.length });
  });

  it('a malformed extended payload is a diagnostic, the frame still renders', () => {
    const { frame } = decodeMessage(encodeMessage({ type: 'extended', extId: 0, payload: ascii('d1:mi') }), 0);
    expect(frame.diagnostics?.[0]).toMatchObject({ code: 'bad_handshake', span: { start: 11 } });
  });
});
