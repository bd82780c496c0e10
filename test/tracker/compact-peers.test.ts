import { describe, expect, it } from 'vitest';
import { decodeCompactPeers, encodeCompactPeers, ipv6Text, parseIpv6, formatPeer, unmapIpv4 } from '../../lib/tracker/compact-peers.js';
import { fromHex } from '../../lib/core/bytes.js';

describe('compact peers (BEP 23, BEP 7)', () => {
  it('IPv4: 4 address bytes then a big-endian port, spans absolute', () => {
    const bytes = fromHex('0a000001' + '1ae1' + 'c0a80102' + '0050');
    const d = decodeCompactPeers(bytes, 100, 4);
    expect(d.peers).toEqual([
      { ip: '10.0.0.1', port: 6881 },
      { ip: '192.168.1.2', port: 80 },
    ]);
    expect(d.fields[1]!.span).toEqual({ start: 106, end: 112 });
    expect(d.fields[1]!.children!.map((c) => c.span)).toEqual([
      { start: 106, end: 110 },
      { start: 110, end: 112 },
    ]);
    expect(d.diagnostics).toEqual([]);
  });

  it('IPv6: 16 address bytes then the port', () => {
    const bytes = fromHex('20010db8000000000000000000000001' + '1ae1');
    expect(decodeCompactPeers(bytes, 0, 6).peers).toEqual([{ ip: '2001:db8::1', port: 6881 }]);
  });

  it.each([
    [7, 4, 1],
    [5, 4, 5],
    [20, 6, 2],
  ])('a %i-byte list of IPv%i entries decodes the whole entries and reports %i trailing bytes', (len, family, rest) => {
    const d = decodeCompactPeers(new Uint8Array(len), 0, family as 4 | 6);
    expect(d.peers.length).toBe(Math.floor(len / (family === 4 ? 6 : 18)));
    expect(d.diagnostics).toHaveLength(1);
    expect(d.diagnostics[0]!.code).toBe('compact_peers_length');
    expect(d.diagnostics[0]!.span).toEqual({ start: len - rest, end: len });
  });

  it('maxPeers bounds the work and says so', () => {
    const d = decodeCompactPeers(new Uint8Array(6 * 1000), 0, 4, 10);
    expect(d.peers).toHaveLength(10);
    expect(d.diagnostics.map((x) => x.code)).toEqual(['peer_list_truncated']);
  });

  it('encode is the inverse of decode, per family', () => {
    const peers = [
      { ip: '1.2.3.4', port: 1 },
      { ip: '::1', port: 65535 },
      { ip: '255.255.255.255', port: 6881 },
      { ip: 'fe80::1:2', port: 443 },
    ];
    expect(decodeCompactPeers(encodeCompactPeers(peers, 4), 0, 4).peers).toEqual([peers[0], peers[2]]);
    expect(decodeCompactPeers(encodeCompactPeers(peers, 6), 0, 6).peers).toEqual([peers[1], peers[3]]);
  });

  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329'],
    ['::ffff:1.2.3.4', '::ffff:102:304'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ])('IPv6 text %s -> %s (RFC 5952)', (input, text) => {
    expect(ipv6Text(parseIpv6(input)!, 0)).toBe(text);
  });

  it.each(['1:2:3', ':::', '1::2::3', 'g::1', '1.2.3.4', '1:2:3:4:5:6:7:8:9'])('%s is not IPv6', (s) => {
    expect(parseIpv6(s)).toBeUndefined();
  });

  it('formats and unmaps', () => {
    expect(formatPeer({ ip: '::1', port: 5 })).toBe('[::1]:5');
    expect(formatPeer({ ip: '1.2.3.4', port: 5 })).toBe('1.2.3.4:5');
    expect(unmapIpv4('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(unmapIpv4('::1')).toBe('::1');
  });
});
