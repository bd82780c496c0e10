import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTracker, SwarmRegistry, type RunningTracker, type TrackerNotice } from '../../lib/tracker/server/index.js';
import { ConnectionIds, CONNECTION_ID_LIFETIME_MS } from '../../lib/tracker/server/connection-ids.js';
import { PeerTable } from '../../lib/tracker/server/peer-table.js';
import { announce, scrape, clearConnectionIds } from '../../lib/tracker/client/announce.js';
import { decodeUdpPacket, encodeUdpMessage, UDP_PROTOCOL_ID, type UdpMessage } from '../../lib/tracker/udp.js';
import { decodeCompactPeers } from '../../lib/tracker/compact-peers.js';
import { fromHex, toHex } from '../../lib/core/bytes.js';
import type { AnnounceRequest } from '../../lib/tracker/types.js';
import { handler as serveTool } from '../../tools/commands/tracker-serve.js';
import { captureIo } from '../../tools/io.js';

const opts = { timeoutMs: 3000 };
const newHash = () => new Uint8Array(randomBytes(20));
const id = (n: number) => new TextEncoder().encode(`-BS0001-${String(n).padStart(12, '0')}`);
const peer = (infoHash: Uint8Array, n: number, extra: Partial<AnnounceRequest> = {}): AnnounceRequest => ({
  infoHash,
  peerId: id(n),
  port: 10000 + n,
  uploaded: 0,
  downloaded: 0,
  left: 1000,
  event: 'started',
  ...extra,
});
const swarmAnnounce = (infoHash: Uint8Array, n: number, extra: Record<string, unknown> = {}) => ({
  infoHash,
  peerId: id(n),
  ip: '10.0.0.1',
  port: n,
  uploaded: 0,
  downloaded: 0,
  left: 1,
  numwant: 50,
  ...extra,
});

const running: RunningTracker[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  for (const t of running.splice(0)) await t.close();
});
async function tracker(o: Parameters<typeof startTracker>[0] = {}): Promise<RunningTracker> {
  const t = await startTracker({ host: '127.0.0.1', ...o });
  running.push(t);
  return t;
}

/** A UDP socket bound to `address` (any of 127.0.0.0/8 is loopback on Linux) that collects answers. */
async function udpFrom(address: string): Promise<{ send(m: UdpMessage | Uint8Array, port: number): void; answers: UdpMessage[]; raw: Uint8Array[] }> {
  const sock = createSocket('udp4');
  sockets.push(sock);
  await new Promise<void>((r) => sock.bind(0, address, r));
  const answers: UdpMessage[] = [];
  const raw: Uint8Array[] = [];
  sock.on('message', (m) => {
    raw.push(new Uint8Array(m));
    answers.push(decodeUdpPacket(new Uint8Array(m), 0, 'response').message);
  });
  return { send: (m, port) => sock.send(m instanceof Uint8Array ? m : encodeUdpMessage(m), port, '127.0.0.1'), answers, raw };
}
/** Waits until `f()` holds or `ms` pass (bounded; no timing is asserted). */
async function until(f: () => boolean, ms = 2000): Promise<void> {
  for (const end = Date.now() + ms; !f() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
}
/** Lets answers in flight arrive. */
const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

describe('expiry: after 2 x interval, and on stopped', () => {
  it('a peer silent for longer than 2 x interval is dropped by the sweep; one that re-announced stays', () => {
    const reg = new SwarmRegistry({ peerTimeoutMs: 2 * 60_000, maxSwarms: 10, maxPeersPerSwarm: 100 });
    const h = newHash();
    const t0 = Date.now();
    reg.announce(swarmAnnounce(h, 1), t0);
    reg.announce(swarmAnnounce(h, 2), t0);
    reg.announce(swarmAnnounce(h, 2), t0 + 90_000);
    expect(reg.expire(t0 + 119_000)).toBe(0);
    expect(reg.expire(t0 + 122_000)).toBe(1);
    expect(reg.get(toHex(h))!.list().map((p) => p.port)).toEqual([2]);
    expect(reg.peerCount).toBe(1);
    expect(reg.expire(t0 + 300_000)).toBe(1);
    // An empty swarm with nobody completed is forgotten.
    expect(reg.has(toHex(h))).toBe(false);
  });

  it('the server default is 2 x interval, swept on its own; stopped removes at once', async () => {
    let now = Date.now();
    const t = await tracker({ interval: 60, now: () => now });
    const h = newHash();
    await announce(t.url, peer(h, 1), opts);
    await announce(t.udpUrl, peer(h, 2), opts);
    await announce(t.url, peer(h, 3), opts);
    await announce(t.url, peer(h, 3, { event: 'stopped' }), opts);
    expect(t.swarms.get(toHex(h))!.size).toBe(2);
    now += 119_000;
    expect(t.expire()).toBe(0);
    now += 2_000;
    expect(t.expire()).toBe(2);
    expect(t.stats.expired).toBe(2);
  });
});

describe('caps', () => {
  it('per swarm: new peers refused with a failure reason, known ones still served, the notice said once', () => {
    const notices: TrackerNotice[] = [];
    const reg = new SwarmRegistry({ peerTimeoutMs: 60_000, maxSwarms: 10, maxPeersPerSwarm: 3, maxPeers: 100 });
    reg.onNotice = (n) => notices.push(n);
    const h = newHash();
    for (let i = 1; i <= 3; i++) expect(reg.announce(swarmAnnounce(h, i))).not.toHaveProperty('error');
    expect(reg.announce(swarmAnnounce(h, 4))).toEqual({ error: 'swarm is full' });
    expect(reg.announce(swarmAnnounce(h, 5))).toEqual({ error: 'swarm is full' });
    expect(reg.announce(swarmAnnounce(h, 2))).not.toHaveProperty('error');
    expect(notices).toEqual([{ kind: 'swarm_full', infoHash: toHex(h), limit: 3 }]);
  });

  it('in total and in torrents, each said once', () => {
    const notices: TrackerNotice[] = [];
    const reg = new SwarmRegistry({ peerTimeoutMs: 60_000, maxSwarms: 3, maxPeersPerSwarm: 100, maxPeers: 4 });
    reg.onNotice = (n) => notices.push(n);
    const [a, b, c, d] = [newHash(), newHash(), newHash(), newHash()];
    for (const [h, n] of [[a, 1], [a, 2], [b, 3], [c, 4]] as const) expect(reg.announce(swarmAnnounce(h, n))).not.toHaveProperty('error');
    expect(reg.announce(swarmAnnounce(b, 5))).toEqual({ error: 'tracker is full (too many peers)' });
    expect(reg.announce(swarmAnnounce(c, 6))).toEqual({ error: 'tracker is full (too many peers)' });
    expect(reg.announce(swarmAnnounce(d, 7))).toEqual({ error: 'tracker is full (too many torrents)' });
    expect(notices).toEqual([
      { kind: 'tracker_full', what: 'peers', limit: 4 },
      { kind: 'tracker_full', what: 'torrents', limit: 3 },
    ]);
    reg.announce(swarmAnnounce(a, 1, { event: 'stopped' }));
    expect(reg.announce(swarmAnnounce(b, 5))).not.toHaveProperty('error');
  });

  it('tracker-serve logs the cap once as a line', async () => {
    const io = captureIo();
    const stop = new AbortController();
    const serving = serveTool({ host: '127.0.0.1', port: 0, http: true, udp: false, interval: 60, json: true, log: 'none', 'max-peers-per-swarm': 2, io, signal: stop.signal });
    const lines = () => io.stdout.flatMap((c) => c.split('\n')).map((l) => JSON.parse(l));
    await until(() => lines().some((l) => l.type === 'listening'));
    const url = lines().find((l) => l.type === 'listening').url;
    const h = newHash();
    await announce(url, peer(h, 1), opts);
    await announce(url, peer(h, 2), opts);
    for (const n of [3, 4]) await expect(announce(url, peer(h, n), opts)).rejects.toMatchObject({ code: 'failure_reason' });
    stop.abort();
    expect(await serving).toBe(0);
    expect(lines().filter((l) => l.type === 'limit')).toEqual([expect.objectContaining({ kind: 'swarm_full', infoHash: toHex(h), limit: 2 })]);
    expect(lines().some((l) => l.type === 'announce')).toBe(false);
  });
});

describe('peer selection', () => {
  it('a sample is a run of distinct peers without the asker, whatever the table size', () => {
    const t = new PeerTable(4);
    for (let i = 0; i < 1000; i++) t.add(id(i), new Uint8Array([10, 0, i >> 8, i & 255]), 1000 + i, 0);
    for (let round = 0; round < 50; round++) {
      const skip = Math.floor(Math.random() * 1000);
      const got = decodeCompactPeers(t.sample(50, skip), 0, 4).peers.map((p) => p.port - 1000);
      expect(got).toHaveLength(50);
      expect(new Set(got).size).toBe(50);
      expect(got).not.toContain(skip);
    }
    // Asking for more than there are: everyone else, once.
    const all = decodeCompactPeers(t.sample(5000, 7), 0, 4).peers.map((p) => p.port - 1000);
    expect(all.sort((a, b) => a - b)).toEqual([...Array(1000).keys()].filter((i) => i !== 7));
  });

  it('the id index agrees with a plain Map through random adds, removals and expiries', () => {
    const t = new PeerTable(6);
    const model = new Map<string, number>(); // id hex -> last seen
    const idOf = (n: number) => {
      const b = new Uint8Array(20);
      new DataView(b.buffer).setUint32(16, n);
      return b;
    };
    let clock = 0;
    for (let step = 0; step < 10_000; step++) {
      const n = Math.floor(Math.random() * 3000);
      const peerId = idOf(n);
      const slot = t.slotOf(peerId);
      expect(slot >= 0).toBe(model.has(toHex(peerId)));
      if (Math.random() < 0.3 && slot >= 0) {
        t.remove(slot);
        model.delete(toHex(peerId));
      } else if (slot < 0) {
        t.add(peerId, new Uint8Array(16), n, clock);
        model.set(toHex(peerId), clock);
      }
      if (step % 2000 === 1999) {
        clock += 10;
        const cutoff = clock - 15;
        const gone = [...model].filter(([, seen]) => seen < cutoff).length;
        expect(t.expire(cutoff)).toBe(gone);
        for (const [k, seen] of [...model]) if (seen < cutoff) model.delete(k);
      }
      expect(t.count).toBe(model.size);
    }
    for (const k of model.keys()) expect(t.slotOf(fromHex(k))).toBeGreaterThanOrEqual(0);
  });

  it('removal keeps the columns dense and the id map right', () => {
    const reg = new SwarmRegistry({ peerTimeoutMs: 60_000, maxSwarms: 10, maxPeersPerSwarm: 1000 });
    const h = newHash();
    for (let i = 1; i <= 100; i++) reg.announce(swarmAnnounce(h, i, { left: i % 2 }));
    for (let i = 1; i <= 100; i += 3) reg.announce(swarmAnnounce(h, i, { event: 'stopped' }));
    const swarm = reg.get(toHex(h))!;
    const left = [...Array(100).keys()].map((i) => i + 1).filter((i) => (i - 1) % 3 !== 0);
    expect(swarm.list().map((p) => p.port).sort((a, b) => a - b)).toEqual(left);
    expect(swarm.complete).toBe(left.filter((i) => i % 2 === 0).length);
    for (const p of swarm.list()) expect(toHex(p.peerId!)).toBe(toHex(id(p.port)));
  });
});

describe('BEP 15 connection ids', () => {
  it('valid for 2 minutes for the address they were sent to, and nowhere else', () => {
    const ids = new ConnectionIds();
    const t0 = Date.now();
    const a = ids.issue('127.0.0.1', t0);
    expect(ids.check('127.0.0.1', a.hi, a.lo, t0 + 60_000)).toBe(true);
    expect(ids.check('127.0.0.1', a.hi, a.lo, t0 + CONNECTION_ID_LIFETIME_MS - 1000)).toBe(true);
    expect(ids.check('127.0.0.1', a.hi, a.lo, t0 + CONNECTION_ID_LIFETIME_MS + 1000)).toBe(false);
    const b = ids.issue('127.0.0.1', t0);
    expect(ids.check('127.0.0.2', b.hi, b.lo, t0)).toBe(false);
    expect(ids.check('127.0.0.1', b.hi, b.lo ^ 1, t0)).toBe(false);
    // Another tracker (another secret) does not take them.
    expect(new ConnectionIds().check('127.0.0.1', b.hi, b.lo, t0)).toBe(false);
  });

  it('the server refuses an expired id with a short error, then takes a new one', async () => {
    let now = Date.now();
    const t = await tracker({ http: false, now: () => now });
    const c = await udpFrom('127.0.0.1');
    c.send({ kind: 'connect_request', protocolId: UDP_PROTOCOL_ID, transactionId: 1 }, t.udpPort);
    await until(() => c.answers.length === 1);
    const connectionId = (c.answers[0] as { connectionId: bigint }).connectionId;
    const ann = (transactionId: number, cid: bigint): UdpMessage => ({
      kind: 'announce_request', connectionId: cid, transactionId, infoHash: newHash(), peerId: id(1), downloaded: 0n, left: 0n, uploaded: 0n, event: 2, ip: 0, key: 0, numWant: -1, port: 1,
      options: [],
    });
    c.send(ann(2, connectionId), t.udpPort);
    await until(() => c.answers.length === 2);
    expect(c.answers[1]).toMatchObject({ kind: 'announce_response', transactionId: 2 });
    now += CONNECTION_ID_LIFETIME_MS + 1000;
    c.send(ann(3, connectionId), t.udpPort);
    await until(() => c.answers.length === 3);
    expect(c.answers[2]).toMatchObject({ kind: 'error', transactionId: 3, message: 'bad connection id, connect again' });
    expect(t.stats.badConnectionIds).toBe(1);
  });
});

describe('a flood from one address', () => {
  it('connects beyond the burst are dropped; another address is still answered; no answer is larger than its request', async () => {
    const t = await tracker({ http: false, connectRate: 1, connectBurst: 20 });
    const flood = await udpFrom('127.0.0.2');
    for (let i = 0; i < 500; i++) flood.send({ kind: 'connect_request', protocolId: UDP_PROTOCOL_ID, transactionId: i }, t.udpPort);
    // Unverified: a forged connection id on a 16-byte scrape head gets at most 16 bytes back.
    for (let i = 0; i < 100; i++) flood.send({ kind: 'scrape_request', connectionId: 42n, transactionId: 1000 + i, infoHashes: [] }, t.udpPort);
    // The kernel may drop some of the flood before the tracker reads it; what it reads is limited.
    await until(() => t.stats.connects + t.stats.rateLimited >= 500, 1000);
    await settle();
    const answered = flood.answers.filter((a) => a.kind === 'connect_response').length;
    expect(answered).toBeGreaterThanOrEqual(1);
    expect(answered).toBeLessThanOrEqual(22);
    expect(t.stats.rateLimited).toBeGreaterThan(0);
    // Its errors to forged ids come from the same bucket.
    expect(flood.raw.length).toBeLessThanOrEqual(22);
    expect(flood.raw.every((r) => r.length <= 16)).toBe(true);
    const other = await udpFrom('127.0.0.1');
    other.send({ kind: 'connect_request', protocolId: UDP_PROTOCOL_ID, transactionId: 7 }, t.udpPort);
    await until(() => other.answers.length === 1);
    expect(other.answers[0]).toMatchObject({ kind: 'connect_response', transactionId: 7 });
  });

  it('an error to a forged id is cut to the request size', async () => {
    const t = await tracker({ http: false });
    const c = await udpFrom('127.0.0.1');
    c.send({ kind: 'scrape_request', connectionId: 99n, transactionId: 5, infoHashes: [newHash()] }, t.udpPort);
    await until(() => c.raw.length === 1);
    expect(c.raw[0]!.length).toBeLessThanOrEqual(36);
    expect(c.answers[0]).toMatchObject({ kind: 'error', transactionId: 5 });
  });
});

describe('scrape of many info-hashes', () => {
  it('UDP: 74 in one packet, more split by the client; HTTP: 500 in one request (BEP 48)', async () => {
    const t = await tracker({ interval: 60 });
    const hashes = Array.from({ length: 500 }, newHash);
    for (let i = 0; i < 500; i += 50) await announce(t.url, peer(hashes[i]!, i, { left: i % 100 === 0 ? 0 : 1 }), opts);
    const want = hashes.map((_, i) => (i % 50 === 0 ? [i % 100 === 0 ? 1 : 0, i % 100 === 0 ? 0 : 1] : [0, 0]));
    clearConnectionIds();
    for (const url of [t.udpUrl, t.url]) {
      const s = await scrape(url, hashes, opts);
      expect(s.files.map((f) => toHex(f.infoHash))).toEqual(hashes.map(toHex));
      expect(s.files.map((f) => [f.complete, f.incomplete])).toEqual(want);
    }
    // One UDP packet of 74 hashes gets one answer of 74 entries.
    const c = await udpFrom('127.0.0.1');
    c.send({ kind: 'connect_request', protocolId: UDP_PROTOCOL_ID, transactionId: 1 }, t.udpPort);
    await until(() => c.answers.length === 1);
    const connectionId = (c.answers[0] as { connectionId: bigint }).connectionId;
    c.send({ kind: 'scrape_request', connectionId, transactionId: 2, infoHashes: hashes.slice(0, 74) }, t.udpPort);
    await until(() => c.answers.length === 2);
    const answer = c.answers[1]!;
    expect(answer.kind === 'scrape_response' && answer.files.length).toBe(74);
  });
});

describe('IPv6 peers (BEP 7)', () => {
  it('v4 and v6 peers of one swarm: each family gets its own over UDP, HTTP gets peers and peers6', async () => {
    const reg = new SwarmRegistry({ peerTimeoutMs: 60_000, maxSwarms: 10, maxPeersPerSwarm: 100 });
    const h = newHash();
    reg.announce(swarmAnnounce(h, 1, { ip: '10.0.0.1' }));
    reg.announce(swarmAnnounce(h, 2, { ip: '2001:db8::2' }));
    // One peer id on both families is two entries (BEP 7).
    reg.announce(swarmAnnounce(h, 3, { ip: '10.0.0.3' }));
    reg.announce(swarmAnnounce(h, 3, { ip: '2001:db8::3' }));
    const swarm = reg.get(toHex(h))!;
    expect([swarm.v4.count, swarm.v6.count]).toEqual([2, 2]);
    expect(decodeCompactPeers(swarm.v6.sample(10, -1), 0, 6).peers.map((p) => p.ip).sort()).toEqual(['2001:db8::2', '2001:db8::3']);
    expect(swarm.list().map((p) => p.ip).sort()).toEqual(['10.0.0.1', '10.0.0.3', '2001:db8::2', '2001:db8::3']);
  });

  it('over ::1: UDP hands out 18-byte peers; HTTP from 127.0.0.1 gets the v6 peer in peers6', async () => {
    let t6: RunningTracker;
    try {
      t6 = await tracker({ host: '::1' });
    } catch (e) {
      console.warn(`IPv6 loopback unavailable, skipping: ${(e as Error).message}`);
      return;
    }
    const h = newHash();
    await announce(t6.udpUrl, peer(h, 1), opts);
    const u = await announce(t6.udpUrl, peer(h, 2), opts);
    expect(u.peers).toEqual([{ ip: '::1', port: 10001 }]);
    const t4 = t6.swarms;
    // The same registry seen from a v4 client: put one v4 peer in and ask over HTTP on ::1.
    t4.announce({ ...swarmAnnounce(h, 9, { ip: '127.0.0.9' }), port: 10009 });
    const hp = await announce(t6.url, peer(h, 3), opts);
    expect(hp.peers.map((p) => `${p.ip}:${p.port}`).sort()).toEqual(['127.0.0.9:10009', '::1:10001', '::1:10002'].sort());
  });
});

describe('dual stack (--host ::)', () => {
  it('IPv4 clients over UDP get IPv4 peers, IPv6 ones IPv6 peers; HTTP gets both families', async () => {
    let t: RunningTracker;
    try {
      t = await tracker({ host: '::' });
    } catch (e) {
      console.warn(`IPv6 unavailable, skipping: ${(e as Error).message}`);
      return;
    }
    const h = newHash();
    const udp4 = `udp://127.0.0.1:${t.udpPort}/announce`;
    const udp6 = `udp://[::1]:${t.udpPort}/announce`;
    await announce(udp4, peer(h, 1), opts);
    await announce(udp6, peer(h, 2), opts);
    expect((await announce(udp4, peer(h, 3), opts)).peers).toEqual([{ ip: '127.0.0.1', port: 10001 }]);
    expect((await announce(udp6, peer(h, 4), opts)).peers).toEqual([{ ip: '::1', port: 10002 }]);
    const http = await announce(`http://127.0.0.1:${t.httpPort}/announce`, peer(h, 5), opts);
    expect(http.peers.map((p) => `${p.ip} ${p.port}`).sort()).toEqual(['127.0.0.1 10001', '127.0.0.1 10003', '::1 10002', '::1 10004']);
  });
});

describe('whitelist (opentracker -w), reloaded on SIGHUP', () => {
  it('serves listed hashes only; SIGHUP reads the file again; a bad line is named', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'btscope-wl-'));
    try {
      const [a, b] = ['aa'.repeat(20), 'bb'.repeat(20)];
      const file = join(dir, 'whitelist.txt');
      await writeFile(file, `# allowed\n${a.toUpperCase()}\nnot-a-hash\n`);
      const io = captureIo();
      const stop = new AbortController();
      const serving = serveTool({ host: '127.0.0.1', port: 0, http: true, udp: true, interval: 60, json: true, whitelist: file, io, signal: stop.signal });
      const lines = () => io.stdout.flatMap((c) => c.split('\n')).map((l) => JSON.parse(l));
      await until(() => lines().some((l) => l.type === 'listening'));
      const { url, udpUrl } = lines().find((l) => l.type === 'listening');
      expect(io.stderr.join('\n')).toMatch(/whitelist\.txt:3: not a 40-hex info-hash, skipped: not-a-hash/);
      await announce(url, peer(fromHex(a), 1), opts);
      await expect(announce(url, peer(fromHex(b), 1), opts)).rejects.toMatchObject({ code: 'failure_reason', message: expect.stringMatching(/not authorized/) });
      await expect(announce(udpUrl, peer(fromHex(b), 1), opts)).rejects.toMatchObject({ code: 'tracker_error' });
      await writeFile(file, `${b}\n`);
      process.emit('SIGHUP', 'SIGHUP');
      await until(() => lines().some((l) => l.reloaded));
      await announce(udpUrl, peer(fromHex(b), 2), opts);
      await expect(announce(url, peer(fromHex(a), 3), opts)).rejects.toMatchObject({ code: 'failure_reason' });
      stop.abort();
      expect(await serving).toBe(0);
      expect(lines().filter((l) => l.type === 'whitelist').map((l) => l.hashes)).toEqual([1, 1]);
      expect(process.listenerCount('SIGHUP')).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('--log summary', () => {
  it('one JSON line a second with the counts, no line per announce', async () => {
    const io = captureIo();
    const stop = new AbortController();
    const serving = serveTool({ host: '127.0.0.1', port: 0, http: true, udp: true, interval: 60, json: true, log: 'summary', io, signal: stop.signal });
    const lines = () => io.stdout.flatMap((c) => c.split('\n')).map((l) => JSON.parse(l));
    await until(() => lines().some((l) => l.type === 'listening'));
    const { url, udpUrl } = lines().find((l) => l.type === 'listening');
    const h = newHash();
    for (let i = 0; i < 5; i++) await announce(i % 2 ? url : udpUrl, peer(h, i), opts);
    await until(() => lines().some((l) => l.type === 'summary'), 3000);
    stop.abort();
    expect(await serving).toBe(0);
    const sums = lines().filter((l) => l.type === 'summary');
    expect(sums.reduce((n, l) => n + l.udpAnnounces + l.httpAnnounces, 0)).toBe(5);
    expect(sums.at(-1)).toMatchObject({ torrents: 1, peers: 5 });
    expect(lines().some((l) => l.type === 'announce')).toBe(false);
    expect(lines().at(-1)).toMatchObject({ type: 'stopped', totals: { udpAnnounces: 3, httpAnnounces: 2 } });
  });
});
