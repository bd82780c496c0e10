import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { readCaptureBytes } from '../../lib/capture/format.js';
import { isSkipped, PacketDissector } from '../../lib/capture/transport.js';
import { looksLikeUtp } from '../../lib/capture/utp.js';
import { looksLikeLsd } from '../../lib/lsd/lsd.js';
import { decodeKrpc, looksLikeKrpc } from '../../lib/dht/krpc.js';
import {
  encodeUdpMessage,
  hasUdpTrackerMagic,
  looksLikeUdpTrackerRequest,
  looksLikeUdpTrackerResponse,
  udpTrackerRequestAction,
  udpTrackerResponseTransaction,
  UDP_PROTOCOL_ID,
} from '../../lib/tracker/udp.js';

const te = (s: string): Uint8Array => new TextEncoder().encode(s);
const HASH = new Uint8Array(20).fill(0xaa);
const announce = encodeUdpMessage({ kind: 'announce_request', connectionId: 0x1234n, transactionId: 77, infoHash: HASH, peerId: new Uint8Array(20), downloaded: 0n, left: 10n, uploaded: 0n, event: 2, ip: 0, key: 1, numWant: -1, port: 6881, options: [] });
const connect = encodeUdpMessage({ kind: 'connect_request', protocolId: UDP_PROTOCOL_ID, transactionId: 5 });
const scrape = encodeUdpMessage({ kind: 'scrape_request', connectionId: 0x99n, transactionId: 78, infoHashes: [HASH, HASH] });
const connected = encodeUdpMessage({ kind: 'connect_response', transactionId: 0xdeadbeef, connectionId: 0x99n });
const announced = encodeUdpMessage({ kind: 'announce_response', transactionId: 77, interval: 900, leechers: 1, seeders: 2, peers: [{ ip: '10.0.0.3', port: 51413 }] });
const error = encodeUdpMessage({ kind: 'error', transactionId: 78, message: 'nope' });
const withByte = (b: Uint8Array, at: number, v: number): Uint8Array => {
  const c = b.slice();
  c[at] = v;
  return c;
};
// BEP 5's own examples.
const PING = te('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe');
const PONG = te('d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re');
const KRPC_ERROR = te('d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee');

describe('UDP tracker recogniser (BEP 15, lib/tracker/udp.ts)', () => {
  it.each([
    ['connect request', connect, 'connect'],
    ['announce request', announce, 'announce'],
    ['scrape request, two hashes', scrape, 'scrape'],
    ['connect request with a wrong magic', withByte(connect, 7, 0x81), undefined],
    ['action 0 without the magic (a connect response is 16 bytes too)', connected, undefined],
    ['announce request cut to 97 bytes', announce.subarray(0, 97), undefined],
    ['announce request with event 4', withByte(announce, 83, 4), undefined],
    ['scrape request with no hash', scrape.subarray(0, 16), undefined],
    ['scrape request with a cut hash', scrape.subarray(0, 16 + 19), undefined],
    ['action 4', withByte(connect, 11, 4), undefined],
    ['15 bytes', connect.subarray(0, 15), undefined],
    ['KRPC ping', PING, undefined],
  ] as const)('%s: %s', (_name, bytes, want) => {
    expect(looksLikeUdpTrackerRequest(bytes)).toBe(want);
  });

  it('the magic alone, on 16 bytes or more', () => {
    expect(hasUdpTrackerMagic(connect)).toBe(true);
    expect(hasUdpTrackerMagic(withByte(connect, 11, 1))).toBe(true);
    expect(hasUdpTrackerMagic(connect.subarray(0, 15))).toBe(false);
    expect(hasUdpTrackerMagic(withByte(connect, 0, 1))).toBe(false);
    expect(hasUdpTrackerMagic(announce)).toBe(false);
  });

  it('request action: bytes 8-11 of 16 or more', () => {
    expect([udpTrackerRequestAction(connect), udpTrackerRequestAction(announce), udpTrackerRequestAction(scrape), udpTrackerRequestAction(connect.subarray(0, 15))]).toEqual([0, 1, 2, -1]);
  });

  it('responses: a known action first, the transaction id at 4 (read unsigned)', () => {
    expect([connected, announced, error].map(looksLikeUdpTrackerResponse)).toEqual([true, true, true]);
    expect([connected, announced, error].map(udpTrackerResponseTransaction)).toEqual([0xdeadbeef, 77, 78]);
    expect(looksLikeUdpTrackerResponse(withByte(error, 3, 4))).toBe(false);
    expect(looksLikeUdpTrackerResponse(error.subarray(0, 7))).toBe(false);
    expect(udpTrackerResponseTransaction(error.subarray(0, 7))).toBe(-1);
    // A request's connection id (0x1234) is not a known action.
    expect(looksLikeUdpTrackerResponse(announce)).toBe(true);
    expect(looksLikeUdpTrackerResponse(withByte(announce, 0, 1))).toBe(false);
  });
});

describe('KRPC recogniser (BEP 5, lib/dht/krpc.ts)', () => {
  it.each([
    ['ping query', PING, true],
    ['response', PONG, true],
    ['error', KRPC_ERROR, true],
    ['a bencoded list', te('l1:ae'), false],
    ['a dict cut before its end', PING.subarray(0, PING.length - 1), false],
    ['one byte "d"', te('d'), false],
    ['empty', new Uint8Array(0), false],
    ['text', te('hello world'), false],
    ['UDP tracker connect', connect, false],
  ] as const)('%s: %s', (_name, bytes, want) => {
    expect(looksLikeKrpc(bytes)).toBe(want);
  });

  it('a dict-shaped datagram is only a candidate: decodeKrpc decides', () => {
    expect(looksLikeKrpc(te('d1:xi1ee'))).toBe(true);
    expect(() => decodeKrpc(te('d1:xi1ee'))).toThrow();
  });
});

/** Every UDP payload of a capture. */
function udpPayloads(path: string): Uint8Array[] {
  const d = new PacketDissector();
  const out: Uint8Array[] = [];
  readCaptureBytes(new Uint8Array(readFileSync(path)), (p) => {
    const t = d.dissect(p);
    if (t && !isSkipped(t) && t.proto === 'udp') out.push(t.payload.slice());
  });
  return out;
}

type Kind = 'utp' | 'krpc' | 'lsd' | 'udp-tracker';
function kinds(b: Uint8Array): Kind[] {
  const k: Kind[] = [];
  if (looksLikeUtp(b)) k.push('utp');
  if (looksLikeKrpc(b)) k.push('krpc');
  if (looksLikeLsd(b)) k.push('lsd');
  if (looksLikeUdpTrackerRequest(b) !== undefined) k.push('udp-tracker');
  return k;
}

const REALWORLD = new URL('../../../shared/captures/realworld/', import.meta.url).pathname;
const CAPTURES = new URL('../../captures/', import.meta.url).pathname;

describe('recognisers on real captures: each datagram is what its capture holds, and nothing else', () => {
  it('libtorrent uTP (captures/libtorrent-utp.pcap): every uTP packet is only uTP', () => {
    const all = udpPayloads(CAPTURES + 'libtorrent-utp.pcap');
    const utp = all.filter((b) => looksLikeUtp(b));
    expect(utp.length).toBe(130);
    for (const b of utp) expect(kinds(b)).toEqual(['utp']);
  });

  it.skipIf(!existsSync(REALWORLD))('real-world DHT, uTP and LSD captures', () => {
    const dht = udpPayloads(REALWORLD + 'incc_torrent-dht.pcap').filter((b) => looksLikeKrpc(b));
    expect(dht.length).toBeGreaterThan(10);
    for (const b of dht) {
      expect(kinds(b)).toEqual(['krpc']);
      expect(() => decodeKrpc(b)).not.toThrow();
    }
    const lsd = udpPayloads(REALWORLD + 'ndpi_bt_search.pcap').filter((b) => looksLikeLsd(b));
    expect(lsd.length).toBe(2);
    for (const b of lsd) expect(kinds(b)).toEqual(['lsd']);
    const utp = udpPayloads(REALWORLD + 'ndpi_bittorrent_utp.pcap').filter((b) => looksLikeUtp(b));
    expect(utp.length).toBeGreaterThan(10);
    for (const b of utp) expect(kinds(b)).toEqual(['utp']);
  });
});
