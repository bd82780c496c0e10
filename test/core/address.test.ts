import { describe, expect, it } from 'vitest';
import { encodeCompactPeers, formatEndpoint, formatIp, ipText, ipv6Text, parseCompactPeers, parseHostPort, parseIp, parseIpv6 } from '../../lib/core/address.js';

describe('IP addresses (lib/core/address.ts)', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    ['::1', '::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of two equal zero runs (RFC 5952 4.2.3)
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group is not shortened (4.2.2)
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'], // IPv4-mapped, as section 5 recommends
    ['[fe80::1%eth0]', 'fe80::1'],
  ])('formatIp(parseIp(%s)) = %s', (input, text) => {
    expect(formatIp(parseIp(input)!)).toBe(text);
  });

  it('ipv6Text writes a mapped address in hex groups; ipText as dotted IPv4', () => {
    const b = parseIpv6('::ffff:1.2.3.4')!;
    expect(ipv6Text(b, 0)).toBe('::ffff:102:304');
    expect(ipText(b, 0, 6)).toBe('::ffff:1.2.3.4');
    expect(ipText(Uint8Array.of(9, 9, 10, 0, 0, 1), 2, 4)).toBe('10.0.0.1');
  });

  it.each(['', '1.2.3', '256.1.1.1', '1:2:3:4:5:6:7', '1:2:3:4::5:6:7:8', '1::2::3', 'g::1', 'example.org'])('parseIp(%j) is undefined', (s) => {
    expect(parseIp(s)).toBeUndefined();
  });

  it('formatIp of a length that is no address says so', () => {
    expect(formatIp(new Uint8Array(5))).toBe('<5-byte address>');
  });

  it('formatEndpoint brackets IPv6', () => {
    expect(formatEndpoint('::1', 6881)).toBe('[::1]:6881');
    expect(formatEndpoint('127.0.0.1', 6881)).toBe('127.0.0.1:6881');
  });

  it.each([
    ['127.0.0.1:6881', { host: '127.0.0.1', port: 6881 }],
    ['[::1]:6881', { host: '::1', port: 6881 }],
    ['example.org:65535', { host: 'example.org', port: 65535 }],
  ])('parseHostPort(%j)', (s, want) => {
    expect(parseHostPort(s)).toEqual(want);
  });

  it.each(['', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:65536', '::1:6881', '[::1]', 'host:port', ':6881'])('parseHostPort(%j) is undefined', (s) => {
    expect(parseHostPort(s)).toBeUndefined();
  });

  it('compact peers (BEP 23, BEP 7): whole entries, their offsets, the bytes left over; encode is the inverse', () => {
    const v4 = Uint8Array.of(127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80, 9);
    expect(parseCompactPeers(v4, 4)).toEqual({ peers: [{ ip: '127.0.0.1', port: 6881, at: 0 }, { ip: '10.0.0.2', port: 80, at: 6 }], trailing: 1 });
    expect(parseCompactPeers(v4, 4, 1).peers).toHaveLength(1);
    expect(encodeCompactPeers([{ ip: '127.0.0.1', port: 6881 }, { ip: '10.0.0.2', port: 80 }], 4)).toEqual(v4.subarray(0, 12));
    const v6 = encodeCompactPeers([{ ip: '::ffff:1.2.3.4', port: 1 }], 6);
    expect(v6.length).toBe(18);
    expect(parseCompactPeers(v6, 6).peers).toEqual([{ ip: '::ffff:1.2.3.4', port: 1, at: 0 }]);
    expect(() => encodeCompactPeers([{ ip: '::1', port: 1 }], 4)).toThrow(RangeError);
    expect(() => encodeCompactPeers([{ ip: '1.2.3.4', port: 65536 }], 4)).toThrow(RangeError);
  });
});
