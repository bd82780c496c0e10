import { describe, expect, it } from 'vitest';
import { isSkipped, PacketDissector, type TransportPacket } from '../../lib/capture/transport.js';
import type { CapturedPacket } from '../../lib/capture/packet.js';
import { readCaptureBytes } from '../../lib/capture/format.js';
import { Tracer } from '../../lib/trace/engine.js';
import type { TraceEvent } from '../../lib/trace/types.js';
import { bytes, ethernet, ipv4, pcapFile, udp } from './build.js';

const GET_PEERS = bytes('d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe');
const DATAGRAM = udp(6881, 6882, GET_PEERS);

/** IPv4 fragments of `payload` (RFC 791): cuts at multiples of 8, MF on all but the last. */
function v4Fragments(payload: Uint8Array, cuts: number[], id = 0x1234): Uint8Array[] {
  const out: Uint8Array[] = [];
  const edges = [0, ...cuts, payload.length];
  for (let i = 0; i + 1 < edges.length; i++) {
    const [s, e] = [edges[i]!, edges[i + 1]!];
    const p = ipv4('10.0.0.1', '10.0.0.2', 17, payload.subarray(s, e));
    p[4] = id >> 8;
    p[5] = id & 0xff;
    const ff = (i + 2 < edges.length ? 0x2000 : 0) | (s / 8);
    p[6] = ff >> 8;
    p[7] = ff & 0xff;
    out.push(ethernet(p));
  }
  return out;
}

/** IPv6 fragments (RFC 8200 section 4.5): a fragment header (next header 44) in each. */
function v6Fragments(payload: Uint8Array, cuts: number[], id = 0xdeadbeef): Uint8Array[] {
  const out: Uint8Array[] = [];
  const edges = [0, ...cuts, payload.length];
  for (let i = 0; i + 1 < edges.length; i++) {
    const [s, e] = [edges[i]!, edges[i + 1]!];
    const part = payload.subarray(s, e);
    const h = new Uint8Array(40 + 8 + part.length);
    h[0] = 0x60;
    h[4] = (8 + part.length) >> 8;
    h[5] = (8 + part.length) & 0xff;
    h[6] = 44;
    h[7] = 64;
    h[23] = 1; // src ::1
    h[39] = 2; // dst ::2
    const offM = s | (i + 2 < edges.length ? 1 : 0);
    h.set([17, 0, offM >> 8, offM & 0xff, id >>> 24, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff], 40);
    h.set(part, 48);
    out.push(ethernet(h, 0x86dd));
  }
  return out;
}

const packet = (data: Uint8Array, number: number, time = 100): CapturedPacket => ({ number, time, linkType: 1, data, originalLength: data.length, interfaceId: 0, fileOffset: number * 1000 });

function feed(d: PacketDissector, frames: Uint8Array[], times?: number[]): Array<ReturnType<PacketDissector['dissect']>> {
  return frames.map((f, i) => d.dissect(packet(f, i + 1, times?.[i] ?? 100)));
}

function whole(r: ReturnType<PacketDissector['dissect']>): TransportPacket {
  if (r === undefined || isSkipped(r)) throw new Error(`not a datagram: ${r && r.skip}`);
  return r;
}

describe('IP fragment reassembly', () => {
  it.each([
    ['IPv4, in order', v4Fragments(DATAGRAM, [32, 64]), [0, 1, 2]],
    ['IPv4, last fragment first', v4Fragments(DATAGRAM, [32, 64]), [2, 0, 1]],
    ['IPv6 fragment headers', v6Fragments(DATAGRAM, [48]), [0, 1]],
    ['IPv6, reversed', v6Fragments(DATAGRAM, [16, 40, 72]), [3, 2, 1, 0]],
  ])('%s: held, then the whole UDP datagram', (_n, frags, order) => {
    const d = new PacketDissector();
    const got = feed(d, order.map((i) => frags[i]!));
    expect(got.slice(0, -1)).toEqual(order.slice(0, -1).map(() => undefined));
    const t = whole(got[got.length - 1]);
    expect([t.proto, t.srcPort, t.dstPort]).toEqual(['udp', 6881, 6882]);
    expect(t.payload).toEqual(GET_PEERS);
    // Frame numbers in payload order.
    expect(t.fragments).toEqual(order.map((_, k) => order.indexOf(k) + 1));
    expect(d.fragments.pendingDatagrams).toBe(0);
  });

  it('a retransmitted identical fragment is ignored; an overlapping one drops the datagram', () => {
    const frags = v4Fragments(DATAGRAM, [32, 64]);
    const d1 = new PacketDissector();
    const r1 = feed(d1, [frags[0]!, frags[0]!, frags[1]!, frags[2]!]);
    expect(whole(r1[3]).payload).toEqual(GET_PEERS);

    const overlap = v4Fragments(DATAGRAM, [24, 64]);
    const d2 = new PacketDissector();
    const r2 = feed(d2, [frags[0]!, overlap[1]!, frags[1]!, frags[2]!]);
    expect(r2[1]).toMatchObject({ skip: 'IP fragments dropped (overlapping fragments)' });
    // Later fragments of the dropped datagram are swallowed, and counted once.
    expect(r2.slice(2)).toEqual([undefined, undefined]);
    expect(d2.fragments.dropped).toEqual({ 'overlapping fragments': 1 });
  });

  it('timeout in capture time: a datagram whose fragments come 31 s apart is given up', () => {
    const frags = v4Fragments(DATAGRAM, [32]);
    const d = new PacketDissector({ timeoutSeconds: 30 });
    const r = feed(d, [frags[0]!, frags[1]!], [100, 131]);
    expect(r).toEqual([undefined, undefined]);
    expect(d.fragments.dropped).toEqual({ 'timed out': 1 });
    d.end();
    expect(d.fragments.dropped).toEqual({ 'timed out': 1, 'incomplete at capture end': 1 });
  });

  it('bounded: pending datagrams, datagram size, snaplen-cut fragments', () => {
    const d1 = new PacketDissector({ maxPendingDatagrams: 2 });
    feed(d1, [1, 2, 3].map((id) => v4Fragments(DATAGRAM, [32], id)[0]!));
    expect(d1.fragments.pendingDatagrams).toBe(2);
    expect(d1.fragments.dropped).toEqual({ 'too many pending': 1 });

    const d2 = new PacketDissector({ maxDatagramBytes: 64 });
    expect(feed(d2, v4Fragments(DATAGRAM, [32, 64]))[2]).toMatchObject({ skip: 'IP fragments dropped (too large)' });

    const d3 = new PacketDissector();
    const first = v4Fragments(DATAGRAM, [32])[0]!;
    expect(d3.dissect({ ...packet(first.subarray(0, first.length - 4), 1), originalLength: first.length })).toMatchObject({ skip: 'IP fragments dropped (truncated fragment)' });
  });

  it('held fragments are copies: the reader may reuse its buffer', () => {
    const frags = v4Fragments(DATAGRAM, [32]);
    const d = new PacketDissector();
    const buf = new Uint8Array(frags[0]!);
    expect(d.dissect(packet(buf, 1))).toBeUndefined();
    buf.fill(0xee);
    expect(whole(d.dissect(packet(frags[1]!, 2))).payload).toEqual(GET_PEERS);
  });

  it('the tracer decodes a DHT query carried in fragments, naming the packets', () => {
    const frags = v4Fragments(DATAGRAM, [40, 80]);
    const file = pcapFile(1, frags.map((data, i) => ({ time: 1700000000 + i / 1000, data })));
    const events: TraceEvent[] = [];
    const t = new Tracer({ onEvent: (e) => events.push(e) });
    readCaptureBytes(file, (p) => t.packet(p));
    const s = t.end();
    expect(events.map((e) => [e.type, e.packets])).toEqual([['dht.get_peers', [1, 2, 3]]]);
    expect(s.other['ip.reassembled']).toBe(1);
    expect(s.skipped).toEqual({});
  });
});
