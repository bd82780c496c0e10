import { describe, expect, it } from 'vitest';
import { dissectPacket, isSkipped, type TransportPacket } from '../../lib/capture/transport.js';
import { ipv6Text } from '../../lib/capture/ip.js';
import type { CapturedPacket } from '../../lib/capture/packet.js';
import { bytes, ethernet, ipv4, ipv6, tcp, udp } from './build.js';

const pkt = (linkType: number, data: Uint8Array): CapturedPacket => ({ number: 1, time: 0, linkType, data, originalLength: data.length, interfaceId: 0, fileOffset: 100 });
const seg = tcp({ srcPort: 51413, dstPort: 6881, seq: 0xfffffff0, ack: 7, payload: bytes('BT') });
const v4 = ipv4('192.168.1.2', '10.0.0.9', 6, seg);
const LO6 = new Uint8Array(16);
LO6[15] = 1;

function ok(linkType: number, data: Uint8Array): TransportPacket {
  const r = dissectPacket(pkt(linkType, data));
  if (isSkipped(r)) throw new Error(r.skip);
  return r;
}

describe('link layers down to TCP/UDP', () => {
  const sll = new Uint8Array(16 + v4.length);
  sll.set([0, 0, 0, 1, 0, 6], 0);
  sll[14] = 0x08;
  sll.set(v4, 16);
  const sll2 = new Uint8Array(20 + v4.length);
  sll2[0] = 0x08;
  sll2.set(v4, 20);
  const nullLe = new Uint8Array([2, 0, 0, 0, ...v4]);
  const nullBe = new Uint8Array([0, 0, 0, 2, ...v4]);
  const loop6 = new Uint8Array([0, 0, 0, 24, ...ipv6(LO6, LO6, 6, seg)]);
  it.each([
    ['Ethernet', 1, ethernet(v4)],
    ['Ethernet + 802.1Q', 1, ethernet(v4, 0x0800, 42)],
    ['Linux SLL', 113, sll],
    ['Linux SLL2', 276, sll2],
    ['BSD null, little-endian family', 0, nullLe],
    ['BSD null, big-endian family', 0, nullBe],
    ['raw IP', 101, v4],
    ['raw IPv4', 228, v4],
  ])('%s', (_name, linkType, data) => {
    const t = ok(linkType, data);
    expect([t.proto, t.src, t.srcPort, t.dst, t.dstPort]).toEqual(['tcp', '192.168.1.2', 51413, '10.0.0.9', 6881]);
    expect(t.tcp).toEqual({ seq: 0xfffffff0, ack: 7, flags: 0x18, window: 65535 });
    expect(t.payload).toEqual(bytes('BT'));
    expect(data.subarray(t.payloadOffset - 100, t.payloadOffset - 100 + 2)).toEqual(bytes('BT'));
  });

  it('VLAN ids are kept', () => {
    expect(ok(1, ethernet(v4, 0x0800, 42)).vlans).toEqual([42]);
  });

  it('OpenBSD loopback with IPv6', () => {
    const t = ok(108, loop6);
    expect([t.ipVersion, t.src, t.dst]).toEqual([6, '::1', '::1']);
  });

  it('IPv6 extension headers are walked (hop-by-hop)', () => {
    const hbh = new Uint8Array(8);
    const t = ok(229, ipv6(LO6, LO6, 17, udp(6881, 6882, bytes('d1:ad2:id20:')), hbh));
    expect([t.proto, t.srcPort, t.dstPort]).toEqual(['udp', 6881, 6882]);
    expect(t.payload).toEqual(bytes('d1:ad2:id20:'));
  });

  it('Ethernet padding after a short UDP datagram is not payload', () => {
    const frame = ethernet(ipv4('1.2.3.4', '5.6.7.8', 17, udp(1, 2, bytes('x'))));
    const padded = new Uint8Array(60);
    padded.set(frame);
    expect(ok(1, padded).payload).toEqual(bytes('x'));
  });

  it('snaplen: payload bytes missing from the capture are counted', () => {
    const frame = ethernet(v4);
    const t = ok(1, frame.subarray(0, frame.length - 1));
    expect(t.payload).toEqual(bytes('B'));
    expect(t.missing).toBe(1);
  });

  it.each([
    ['ARP', 1, ethernet(new Uint8Array(28), 0x0806), 'not IP (ethertype 0x0806)'],
    ['ICMP', 101, ipv4('1.1.1.1', '2.2.2.2', 1, new Uint8Array(8)), 'IP protocol 1'],
    ['truncated IPv4', 101, v4.subarray(0, 10), 'truncated IPv4 header'],
    ['unknown link type', 147, v4, 'not IP (link type 147)'],
  ])('%s is skipped with a reason', (_n, linkType, data, reason) => {
    const r = dissectPacket(pkt(linkType, data));
    expect(isSkipped(r) && r.skip).toBe(reason);
  });

  describe('read in place: a packet that is buffer[start, end) of a reader\'s buffer dissects as its bytes alone', () => {
    const frame = ethernet(v4);
    const padded = new Uint8Array(60);
    padded.set(ethernet(ipv4('1.2.3.4', '5.6.7.8', 17, udp(1, 2, bytes('x')))));
    const view = (r: ReturnType<typeof dissectPacket>): unknown =>
      isSkipped(r) ? r.skip : [r.proto, r.src, r.srcPort, r.dst, r.dstPort, r.tcp, [...r.payload], r.payloadOffset, r.missing, r.vlans];
    it.each([
      ['Ethernet', 1, frame],
      ['Ethernet + 802.1Q', 1, ethernet(v4, 0x0800, 42)],
      ['Linux SLL2', 276, (() => { const b = new Uint8Array(20 + v4.length); b[0] = 0x08; b.set(v4, 20); return b; })()],
      ['BSD null', 0, new Uint8Array([2, 0, 0, 0, ...v4])],
      ['IPv6 with a hop-by-hop header', 229, ipv6(LO6, LO6, 17, udp(6881, 6882, bytes('d1:ad2:id20:')), new Uint8Array(8))],
      ['Ethernet padding', 1, padded],
      ['snaplen cut', 1, frame.subarray(0, frame.length - 1)],
      ['truncated IPv4 header', 101, v4.subarray(0, 10)],
      ['truncated link header', 113, v4.subarray(0, 10)],
      ['truncated TCP header', 101, v4.subarray(0, 30)],
    ])('%s', (_name, linkType, data) => {
      const alone = dissectPacket(pkt(linkType, data));
      // The same bytes at 37 in a buffer full of 0xee: reading before start or past end would show.
      const buffer = new Uint8Array(37 + data.length + 64).fill(0xee);
      buffer.set(data, 37);
      const inPlace = dissectPacket({ ...pkt(linkType, new Uint8Array(0)), fileOffset: 100, buffer, start: 37, end: 37 + data.length });
      expect(view(inPlace)).toEqual(view(alone));
    });
  });

  it.each([
    ['2001:db8::1', [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ['::1', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ['::ffff:1.2.3.4', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]],
    ['1:0:2:0:3:0:4:0', [0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0]],
  ])('IPv6 text %s (RFC 5952)', (text, b) => {
    expect(ipv6Text(new Uint8Array(b), 0)).toBe(text);
  });
});
