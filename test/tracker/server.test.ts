import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { startTracker, type RunningTracker } from '../../lib/tracker/server/index.js';
import { announce, scrape, clearConnectionIds } from '../../lib/tracker/client/announce.js';
import { decodeUdpPacket, encodeUdpMessage, UDP_PROTOCOL_ID, type UdpMessage } from '../../lib/tracker/udp.js';
import { decodeHttpAnnounceResponse } from '../../lib/tracker/http-announce.js';
import { buildAnnounceUrl } from '../../lib/tracker/http-announce.js';
import { toHex } from '../../lib/core/bytes.js';
import type { AnnounceRequest } from '../../lib/tracker/types.js';
import { randomBytes } from 'node:crypto';

const opts = { timeoutMs: 5000 };
const newHash = () => new Uint8Array(randomBytes(20));
const peer = (infoHash: Uint8Array, n: number, extra: Partial<AnnounceRequest> = {}): AnnounceRequest => ({
  infoHash,
  peerId: new TextEncoder().encode(`-BS0001-${String(n).padStart(12, '0')}`),
  port: 10000 + n,
  uploaded: 0,
  downloaded: 0,
  left: 1000,
  event: 'started',
  ...extra,
});
const ports = (peers: ReadonlyArray<{ port: number }>) => peers.map((p) => p.port).sort();

let tracker: RunningTracker;
beforeAll(async () => {
  tracker = await startTracker({ host: '127.0.0.1', port: 0, interval: 120 });
});
afterAll(async () => {
  await tracker?.close();
});

describe.each(['http', 'udp'] as const)('our client against our tracker over %s', (proto) => {
  const url = () => (proto === 'http' ? tracker.url : tracker.udpUrl);

  it('two peers with different ports see each other; counts are right', async () => {
    const h = newHash();
    const a = await announce(url(), peer(h, 1, { left: 0 }), opts);
    expect(a.peers).toEqual([]);
    expect(a.interval).toBe(120);
    const b = await announce(url(), peer(h, 2), opts);
    expect(b.peers).toEqual([{ ip: '127.0.0.1', port: 10001 }]);
    expect([b.complete, b.incomplete]).toEqual([1, 1]);
    const again = await announce(url(), peer(h, 1, { left: 0, event: undefined }), opts);
    expect(again.peers).toEqual([{ ip: '127.0.0.1', port: 10002 }]);
    expect(ports(tracker.swarms.get(toHex(h))!.list())).toEqual([10001, 10002]);
  });

  it('stopped removes the peer; completed counts downloaded once; scrape agrees', async () => {
    const h = newHash();
    await announce(url(), peer(h, 1), opts);
    await announce(url(), peer(h, 2), opts);
    await announce(url(), peer(h, 3), opts);
    await announce(url(), peer(h, 2, { event: 'completed', left: 0 }), opts);
    await announce(url(), peer(h, 2, { event: 'completed', left: 0 }), opts);
    await announce(url(), peer(h, 3, { event: 'stopped' }), opts);
    const s = await scrape(url(), [h, newHash()], opts);
    expect(s.files.map((f) => [f.complete, f.incomplete, f.downloaded])).toEqual([
      [1, 1, 1],
      [0, 0, 0],
    ]);
    const r = await announce(url(), peer(h, 4), opts);
    expect(ports(r.peers)).toEqual([10001, 10002]);
  });

  it('numwant bounds the peers handed out', async () => {
    const h = newHash();
    for (let i = 1; i <= 8; i++) await announce(url(), peer(h, i), opts);
    const r = await announce(url(), peer(h, 9, { numwant: 3 }), opts);
    expect(r.peers).toHaveLength(3);
    const all = await announce(url(), peer(h, 10, { numwant: 100 }), opts);
    expect(all.peers).toHaveLength(9);
  });

  it('every frame is named by its step', async () => {
    clearConnectionIds();
    const r = await announce(url(), peer(newHash(), 1), opts);
    const steps = r.frames.map((f) => `${f.meta!['step']}/${f.meta!['dir']}`);
    expect(steps).toEqual(proto === 'udp' ? ['connect/sent', 'connect/received', 'announce/sent', 'announce/received'] : ['announce/sent', 'announce/received']);
  });
});

describe('HTTP specifics', () => {
  it('compact=0 gets the BEP 3 dict model with peer ids; no_peer_id=1 drops them', async () => {
    const h = newHash();
    await announce(tracker.url, peer(h, 1), opts);
    const r = await announce(tracker.url, peer(h, 2, { compact: false }), opts);
    expect(r.peers).toEqual([{ ip: '127.0.0.1', port: 10001, peerId: peer(h, 1).peerId }]);
    const res = await fetch(buildAnnounceUrl(tracker.url, peer(h, 3, { compact: false })).replace('no_peer_id=0', 'no_peer_id=1'));
    const body = new Uint8Array(await res.arrayBuffer());
    const peers = decodeHttpAnnounceResponse(body).value.peers;
    expect(peers.every((p) => p.peerId === undefined)).toBe(true);
    expect(peers).toHaveLength(2);
  });

  it('bad requests get a failure reason, not a crash', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/announce?peer_id=x', /missing info_hash/],
      ['/announce?info_hash=abc', /info_hash is 3 bytes/],
      ['/nothing', /no such path/],
    ];
    for (const [path, re] of cases) {
      const body = new Uint8Array(await (await fetch(`http://127.0.0.1:${tracker.httpPort}${path}`)).arrayBuffer());
      expect(decodeHttpAnnounceResponse(body).value.failureReason).toMatch(re);
    }
  });

  it('scrape with no info_hash lists every swarm (BEP 48) with flags', async () => {
    const h = newHash();
    await announce(tracker.url, peer(h, 1), opts);
    const s = await scrape(tracker.url, [], opts);
    expect(s.files.some((f) => toHex(f.infoHash) === toHex(h))).toBe(true);
    expect(s.minRequestInterval).toBe(60);
  });
});

/** Raw UDP exchange with the tracker, for what our client never sends. */
async function udpRaw(msg: UdpMessage | Uint8Array): Promise<UdpMessage> {
  const sock = createSocket('udp4');
  try {
    const answer = new Promise<Uint8Array>((resolve, reject) => {
      sock.once('message', (m) => resolve(new Uint8Array(m)));
      setTimeout(() => reject(new Error('no answer in 3 s')), 3000).unref();
    });
    sock.send(msg instanceof Uint8Array ? msg : encodeUdpMessage(msg), tracker.udpPort, '127.0.0.1');
    return decodeUdpPacket(await answer, 0, 'response').message;
  } finally {
    sock.close();
  }
}

describe('UDP specifics (BEP 15)', () => {
  it('announce with an unknown connection id is refused with an error packet', async () => {
    const m = await udpRaw({ kind: 'scrape_request', connectionId: 12345n, transactionId: 77, infoHashes: [newHash()] });
    expect(m).toMatchObject({ kind: 'error', transactionId: 77 });
    expect((m as { message: string }).message).toMatch(/connection id/);
  });

  it('a connect with the wrong protocol id is refused; a truncated announce gets an error', async () => {
    expect(await udpRaw({ kind: 'connect_request', protocolId: 1n, transactionId: 5 })).toMatchObject({ kind: 'error', transactionId: 5 });
    const c = await udpRaw({ kind: 'connect_request', protocolId: UDP_PROTOCOL_ID, transactionId: 6 });
    expect(c).toMatchObject({ kind: 'connect_response', transactionId: 6 });
    const connectionId = (c as { connectionId: bigint }).connectionId;
    const full = encodeUdpMessage({ ...(await fullAnnounce(connectionId)) });
    const m = await udpRaw(full.subarray(0, 60));
    expect(m).toMatchObject({ kind: 'error', transactionId: 9 });
    expect((m as { message: string }).message).toMatch(/needs at least 98/);
  });

  it('the client reuses its connection id within a minute', async () => {
    clearConnectionIds();
    await announce(tracker.udpUrl, peer(newHash(), 1), opts);
    const second = await announce(tracker.udpUrl, peer(newHash(), 1), opts);
    expect(second.frames.map((f) => f.meta!['step'])).toEqual(['announce', 'announce']);
  });
});

async function fullAnnounce(connectionId: bigint): Promise<UdpMessage> {
  return {
    kind: 'announce_request',
    connectionId,
    transactionId: 9,
    infoHash: newHash(),
    peerId: newHash(),
    downloaded: 0n,
    left: 0n,
    uploaded: 0n,
    event: 2,
    ip: 0,
    key: 1,
    numWant: -1,
    port: 1,
    options: [],
  };
}

describe('IPv6 tracker on ::1', () => {
  it('hands out 18-byte peers over UDP and peers6 over HTTP', async () => {
    let t6: RunningTracker;
    try {
      t6 = await startTracker({ host: '::1', port: 0 });
    } catch (e) {
      // No IPv6 loopback on this machine: say so rather than pass silently.
      console.warn(`IPv6 loopback unavailable, skipping: ${(e as Error).message}`);
      return;
    }
    try {
      const h = newHash();
      await announce(t6.udpUrl, peer(h, 1), opts);
      const u = await announce(t6.udpUrl, peer(h, 2), opts);
      expect(u.peers).toEqual([{ ip: '::1', port: 10001 }]);
      const hp = await announce(t6.url, peer(h, 3), opts);
      expect(ports(hp.peers)).toEqual([10001, 10002]);
      expect(hp.peers.every((p) => p.ip === '::1')).toBe(true);
    } finally {
      await t6.close();
    }
  });
});
