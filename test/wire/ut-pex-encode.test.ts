import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeUtPex, encodeUtPex, PEX_FLAGS, type PexPeer } from '../../lib/wire/ut-pex.js';
import { decode } from '../../lib/bencode/decode.js';
import { ascii, concat, errorOf, hex } from './vectors.js';

/** BEP 11 ut_pex as btscope sends it: canonical bencode, compact 6 / 18 byte entries, one flag byte per added peer. */
describe('encodeUtPex (BEP 11)', () => {
  it('writes the exact bytes: keys sorted, compact entries big endian, flags one byte each', () => {
    const bytes = encodeUtPex({
      added: [{ ip: '127.0.0.1', port: 6881, flags: PEX_FLAGS.seed | PEX_FLAGS.reachable }, { ip: '10.0.0.2', port: 1 }],
      dropped: [{ ip: '192.168.1.1', port: 80 }],
    });
    const want = concat(
      ascii('d5:added12:'), hex('7f000001 1ae1  0a000002 0001'),
      ascii('7:added.f2:'), hex('12 00'),
      ascii('7:dropped6:'), hex('c0a80101 0050'),
      ascii('e'),
    );
    expect(Buffer.from(bytes).toString('hex')).toBe(Buffer.from(want).toString('hex'));
    // Canonical: the strict decoder has nothing to say about it.
    expect(decode(bytes).diagnostics).toEqual([]);
  });

  it('nothing to say is still a dict: empty added, added.f and dropped, no IPv6 keys', () => {
    expect(new TextDecoder().decode(encodeUtPex({}))).toBe('d5:added0:7:added.f0:7:dropped0:e');
  });

  it('IPv6 peers go in added6 (with added6.f) and dropped6, 18 bytes each', () => {
    const bytes = encodeUtPex({ added6: [{ ip: '2001:db8::1', port: 6881, flags: PEX_FLAGS.reachable }], dropped6: [{ ip: '::1', port: 443 }] });
    const want = concat(
      ascii('d5:added0:7:added.f0:6:added618:'), hex('20010db8000000000000000000000001 1ae1'),
      ascii('8:added6.f1:'), hex('10'),
      ascii('7:dropped0:8:dropped618:'), hex('00000000000000000000000000000001 01bb'),
      ascii('e'),
    );
    expect(Buffer.from(bytes).toString('hex')).toBe(Buffer.from(want).toString('hex'));
  });

  it('a dropped entry carries no flags; an added one without flags gets 0', () => {
    const { value, diagnostics } = decodeUtPex(encodeUtPex({ added: [{ ip: '1.2.3.4', port: 5 }], dropped: [{ ip: '5.6.7.8', port: 9, flags: 0x02 }] }));
    expect(diagnostics).toEqual([]);
    expect(value.added).toEqual([{ ip: '1.2.3.4', port: 5, flags: 0 }]);
    expect(value.dropped).toEqual([{ ip: '5.6.7.8', port: 9 }]);
  });

  it('50 added and 50 dropped (the BEP 11 maximum) round trip in order', () => {
    const peers = (n: number, base: number): PexPeer[] => Array.from({ length: n }, (_, i) => ({ ip: `10.${base}.${i >> 8}.${i & 255}`, port: 1000 + i }));
    const added = peers(50, 1).map((p, i) => ({ ...p, flags: i % 2 ? PEX_FLAGS.seed : PEX_FLAGS.reachable }));
    const dropped = peers(50, 2);
    const { value } = decodeUtPex(encodeUtPex({ added, dropped }));
    expect(value.added).toEqual(added);
    expect(value.dropped).toEqual(dropped);
  });

  it('round trips any peers of both families (property)', () => {
    const v4 = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map((b) => b.join('.'));
    const v6 = fc.array(fc.integer({ min: 1, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));
    const port = fc.integer({ min: 0, max: 65535 });
    const peer = (ip: fc.Arbitrary<string>, flags: boolean): fc.Arbitrary<PexPeer> =>
      flags ? fc.record({ ip, port, flags: fc.integer({ min: 0, max: 255 }) }) : fc.record({ ip, port });
    fc.assert(
      fc.property(
        fc.array(peer(v4, true), { maxLength: 60 }),
        fc.array(peer(v4, false), { maxLength: 60 }),
        fc.array(peer(v6, true), { maxLength: 10 }),
        fc.array(peer(v6, false), { maxLength: 10 }),
        (added, dropped, added6, dropped6) => {
          const { value, diagnostics } = decodeUtPex(encodeUtPex({ added, dropped, added6, dropped6 }));
          expect(diagnostics).toEqual([]);
          expect(value).toEqual({ added, dropped, added6, dropped6 });
        },
      ),
      { numRuns: 200 },
    );
  });

  it.each([
    ['an IPv6 address in added', { added: [{ ip: '::1', port: 1 }] }, /not an IPv4 address: ::1/],
    ['an IPv4 address in added6', { added6: [{ ip: '1.2.3.4', port: 1 }] }, /not an IPv6 address: 1\.2\.3\.4/],
    ['a host name', { dropped: [{ ip: 'example.org', port: 1 }] }, /not an IPv4 address/],
    ['a port past 65535', { added: [{ ip: '1.2.3.4', port: 65536 }] }, /not a port: 65536/],
    ['a negative port', { dropped: [{ ip: '1.2.3.4', port: -1 }] }, /not a port: -1/],
    ['a flag past one byte', { added: [{ ip: '1.2.3.4', port: 1, flags: 256 }] }, /not a flag byte: 256/],
  ])('refuses %s (RangeError, not wrong bytes)', (_n, pex, message) => {
    expect(() => encodeUtPex(pex)).toThrow(RangeError);
    expect(() => encodeUtPex(pex)).toThrow(message);
  });

  it('its decoder still answers bad input with (code, offset)', () => {
    expect(errorOf(() => decodeUtPex(ascii('le'), 40))).toEqual({ code: 'wrong_type', offset: 40 });
    expect(errorOf(() => decodeUtPex(ascii('d5:added'), 40))).toEqual({ code: 'unexpected_eof', offset: 48 }); // the value that never comes
  });

  it('the field tree names each added.f byte: hex and BEP 11 flag names', () => {
    const { field } = decodeUtPex(encodeUtPex({ added: [{ ip: '127.0.0.1', port: 1, flags: 0x12 }, { ip: '127.0.0.2', port: 2 }, { ip: '127.0.0.3', port: 3, flags: 0x80 }] }));
    const flags = field.children!.find((c) => c.label.startsWith('added.f'))!;
    const value = flags.children!.find((c) => c.label === 'added.f (flags)')!;
    expect(value.display).toBe('0x12 (seed+reachable), 0x00, 0x80 (reserved bits)');
  });
});
