import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { startTracker, type AnnounceEventInfo, type RunningTracker } from '../../lib/tracker/server/index.js';
import { announce, clearConnectionIds } from '../../lib/tracker/client/announce.js';
import { toHex } from '../../lib/core/bytes.js';
import type { AnnounceRequest } from '../../lib/tracker/types.js';

/**
 * Our client against our tracker through a NAME: `localhost`, which resolves from
 * /etc/hosts (no DNS server, nothing leaves the machine). No other name is resolved.
 * The tracker listens on 127.0.0.1 and, where the machine has it, on ::1 at the same
 * port numbers, so whichever address `localhost` gives first, the announce lands.
 */
const opts = { timeoutMs: 5000 };
const newHash = () => new Uint8Array(randomBytes(20));
const peer = (infoHash: Uint8Array, n: number, extra: Partial<AnnounceRequest> = {}): AnnounceRequest => ({
  infoHash,
  peerId: new TextEncoder().encode(`-BS0001-${String(n).padStart(12, '0')}`),
  port: 20000 + n,
  uploaded: 0,
  downloaded: 0,
  left: 1000,
  event: 'started',
  ...extra,
});

const seen: AnnounceEventInfo[] = [];
const trackers: RunningTracker[] = [];
let v4: RunningTracker;
/** The addresses `localhost` resolves to here, in the order the resolver gives them. */
let localhost: string[];

beforeAll(async () => {
  localhost = (await lookup('localhost', { all: true, verbatim: true })).map((a) => a.address);
  v4 = await startTracker({ host: '127.0.0.1', port: 0, interval: 120, onAnnounce: (a) => seen.push(a) });
  trackers.push(v4);
  if (localhost.includes('::1')) {
    // Same numbers on ::1 (HTTP and UDP separately: a fixed port serves both on one number).
    trackers.push(await startTracker({ host: '::1', port: v4.httpPort, udp: false, interval: 120, onAnnounce: (a) => seen.push(a) }));
    trackers.push(await startTracker({ host: '::1', port: v4.udpPort, http: false, interval: 120, onAnnounce: (a) => seen.push(a) }));
  }
});
afterAll(async () => {
  await Promise.all(trackers.map((t) => t.close()));
});

describe('localhost resolves from /etc/hosts to loopback only', () => {
  it('every address of localhost is a loopback address', () => {
    expect(localhost.length).toBeGreaterThan(0);
    for (const a of localhost) expect(a === '::1' || a.startsWith('127.')).toBe(true);
  });
});

describe.each(['http', 'udp'] as const)('announce to %s://localhost:PORT/announce', (proto) => {
  const url = () => (proto === 'http' ? `http://localhost:${v4.httpPort}/announce` : `udp://localhost:${v4.udpPort}/announce`);

  it('resolves, reaches our tracker, and two peers see each other', async () => {
    clearConnectionIds();
    const h = newHash();
    const before = seen.length;
    const a = await announce(url(), peer(h, 1, { left: 0 }), opts);
    expect(a.peers).toEqual([]);
    expect(a.interval).toBe(120);
    const b = await announce(url(), peer(h, 2), opts);
    expect([b.complete, b.incomplete]).toEqual([1, 1]);
    expect(b.peers.map((p) => p.port)).toEqual([20001]);
    // The tracker saw both announces, over this protocol, from an address localhost stands for.
    const mine = seen.slice(before).filter((s) => toHex(s.infoHash) === toHex(h));
    expect(mine.map((s) => [s.protocol, s.port])).toEqual([
      [proto, 20001],
      [proto, 20002],
    ]);
    for (const s of mine) expect(localhost).toContain(s.ip);
    expect(b.peers[0]!.ip).toBe(mine[0]!.ip);
  });
});
