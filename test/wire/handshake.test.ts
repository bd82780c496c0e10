import { describe, expect, it } from 'vitest';
import {
  decodeHandshake,
  encodeHandshake,
  makeReserved,
  reservedNames,
  RESERVED_BITS,
  bitFromRight,
} from '../../lib/wire/handshake.js';
import { toHex } from '../../lib/core/bytes.js';
import { renderTree } from '../../lib/render/tree.js';
import { ascii, concat, errorOf, hex } from './vectors.js';

const infoHash = hex('aa'.repeat(20));
const peerId = ascii('-qB4520-abcdefghijkl');

describe('handshake (BEP 3)', () => {
  it('encodes the 68-byte layout exactly', () => {
    const bytes = encodeHandshake({ reserved: makeReserved({ extended: true, fast: true, dht: true }), infoHash, peerId });
    expect(toHex(bytes)).toBe(
      '13' + toHex(ascii('BitTorrent protocol')) + '0000000000100005' + 'aa'.repeat(20) + toHex(peerId),
    );
  });

  it('decodes with absolute spans under a base offset', () => {
    const bytes = encodeHandshake({ reserved: makeReserved({ extended: true }), infoHash, peerId });
    const { value, frame, end } = decodeHandshake(bytes, 1000);
    expect(end).toBe(1068);
    expect(toHex(value.infoHash)).toBe('aa'.repeat(20));
    expect(new TextDecoder().decode(value.peerId)).toBe('-qB4520-abcdefghijkl');
    const hs = frame.fields[0]!;
    const byId = Object.fromEntries(hs.children!.map((f) => [f.id, f.span]));
    expect(byId['bt.pstrlen']).toEqual({ start: 1000, end: 1001 });
    expect(byId['bt.pstr']).toEqual({ start: 1001, end: 1020 });
    expect(byId['bt.reserved']).toEqual({ start: 1020, end: 1028 });
    expect(byId['bt.info_hash']).toEqual({ start: 1028, end: 1048 });
    expect(byId['bt.peer_id']).toEqual({ start: 1048, end: 1068 });
    expect(hs.children!.find((f) => f.id === 'bt.peer_id')!.display).toBe('"-qB4520-abcdefghijkl" qBittorrent 4.5.2.0');
    expect(hs.children!.find((f) => f.id === 'bt.info_hash')!.display).toBe('aa'.repeat(20));
    expect(renderTree(frame)).toContain('protocol name = "BitTorrent protocol" [1001, 1020)');
  });

  it.each([
    ['pstrlen not 19 (an MSE stream starts with random bytes)', concat(hex('20'), ascii('BitTorrent protocol')), 'bad_protocol', 0],
    ['wrong protocol name', concat(hex('13'), ascii('BitTorrent protokol')), 'bad_protocol', 17],
    ['truncated after the reserved bytes', concat(hex('13'), ascii('BitTorrent protocol'), new Uint8Array(8)), 'unexpected_eof', 28],
    ['empty', new Uint8Array(0), 'unexpected_eof', 0],
  ])('rejects %s', (_name, bytes, code, offset) => {
    expect(errorOf(() => decodeHandshake(bytes, 0))).toEqual({ code, offset });
  });

  it('error offsets are absolute', () => {
    expect(errorOf(() => decodeHandshake(hex('14'), 500))).toEqual({ code: 'bad_protocol', offset: 500 });
  });
});

describe('reserved bits (BEP 4, BEP 10 "bit 20 from the right")', () => {
  it('BEP 10 bit is byte 5 & 0x10 = bit 20', () => {
    expect(bitFromRight(5, 0x10)).toBe(20);
    expect(RESERVED_BITS.find((b) => b.name === 'extended')).toMatchObject({ byte: 5, mask: 0x10, bep: 10 });
  });

  it.each([
    [{ extended: true }, '0000000000100000', ['extended']],
    [{ fast: true }, '0000000000000004', ['fast']],
    [{ dht: true }, '0000000000000001', ['dht']],
    [{ v2: true }, '0000000000000010', ['v2']],
    [{ extended: true, fast: true, dht: true, v2: true }, '0000000000100015', ['extended', 'v2', 'fast', 'dht']],
  ])('makeReserved(%j) = %s', (opts, hexStr, names) => {
    const r = makeReserved(opts);
    expect(toHex(r)).toBe(hexStr);
    expect(reservedNames(r)).toEqual(names);
  });

  it('names the other allocations and shows unknown bits by number', () => {
    expect(reservedNames(hex('800008000003000a'))).toEqual(['azureus', 'location', 'enp_a', 'enp_b', 'nat_traversal', 'xbt_pex']);
    expect(reservedNames(hex('0000000000000040'))).toEqual(['bit_6']);
    expect(reservedNames(hex('0100000000000000'))).toEqual(['bit_56']);
  });

  it('unknown bits become a note diagnostic on their byte', () => {
    const { frame } = decodeHandshake(encodeHandshake({ reserved: hex('0000000000000040'), infoHash, peerId }));
    const reserved = frame.fields[0]!.children!.find((f) => f.id === 'bt.reserved')!;
    expect(reserved.diagnostics?.[0]).toMatchObject({ code: 'unknown_reserved_bit', span: { start: 27, end: 28 } });
  });
});
