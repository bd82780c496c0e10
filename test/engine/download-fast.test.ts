import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { download } from '../../lib/engine/downloader.js';
import { PiecePicker } from '../../lib/engine/piece-picker.js';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { TransportError } from '../../lib/core/errors.js';
import { makeReserved } from '../../lib/wire/handshake.js';
import type { Message } from '../../lib/wire/messages.js';
import { startHostilePeer, type HostilePeer, type ScriptedConnection } from '../helpers/hostile-peer.js';
import { startThrottleProxy } from '../helpers/throttle-proxy.js';
import { fixture, sameFiles } from './helpers.js';

/**
 * BEP 6 (fast extension) honoured by the downloader, against scripted peers:
 * allowed fast pieces are requested (and only they) while choked; a
 * reject_request sends the block to another peer; have none means nothing is
 * asked of that peer, have all means everything may be.
 */
let dir: string;
const closers: (() => Promise<void>)[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-fast-'));
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await rm(dir, { recursive: true, force: true });
});

const PIECE = 16384;
const PIECES = 10;
const LENGTH = PIECES * PIECE - 100;

interface Seen {
  requests: { index: number; begin: number; length: number }[];
  served: number;
  rejected: number;
  /** Messages from the downloader by type, in order. */
  types: string[];
}

interface FastScript {
  /** What the peer says it has (sent right after the handshake). */
  have: 'have_all' | 'have_none';
  allowedFast?: number[];
  unchoke?: boolean;
  /** Answer a request: serve it, reject it (BEP 6 reject_request), or ignore it. */
  answer: (m: { index: number; begin: number; length: number }) => 'serve' | 'reject' | 'ignore';
}

/** A fast-extension peer driven by `s`; everything the downloader sends is recorded in the returned `seen`. */
function fastPeer(data: Uint8Array, s: FastScript): { script: (c: ScriptedConnection) => Promise<void>; seen: Seen } {
  const seen: Seen = { requests: [], served: 0, rejected: 0, types: [] };
  const script = async (c: ScriptedConnection): Promise<void> => {
    const hs = await c.readHandshake();
    if (!hs) return;
    await c.sendHandshake({ infoHash: hs.infoHash, reserved: makeReserved({ fast: true }) });
    await c.send({ type: s.have });
    for (const index of s.allowedFast ?? []) await c.send({ type: 'allowed_fast', index });
    if (s.unchoke) await c.send({ type: 'unchoke' });
    for (;;) {
      const m: Message | undefined = await c.readMessage();
      if (!m) return;
      seen.types.push(m.type);
      if (m.type !== 'request') continue;
      seen.requests.push({ index: m.index, begin: m.begin, length: m.length });
      const what = s.answer(m);
      if (what === 'serve') {
        const start = m.index * PIECE + m.begin;
        seen.served++;
        await c.send({ type: 'piece', index: m.index, begin: m.begin, block: data.slice(start, start + m.length) });
      } else if (what === 'reject') {
        seen.rejected++;
        await c.send({ type: 'reject_request', index: m.index, begin: m.begin, length: m.length });
      }
    }
  };
  return { script, seen };
}

async function swarm() {
  const seedDir = path.join(dir, 'seed');
  const fx = await fixture(seedDir, { name: 'fast.bin', pieceLength: PIECE, files: [{ path: ['fast.bin'], length: LENGTH }], single: true });
  return { fx, seedDir, data: fx.files[0]!.data };
}

async function peer(script: (c: ScriptedConnection) => Promise<void>): Promise<HostilePeer> {
  const p = await startHostilePeer(script, { timeoutMs: 15_000 });
  closers.push(() => p.close());
  return p;
}

async function honestSeeder(torrent: Parameters<typeof startSeeder>[0]['torrent'], seedDir: string, bytesPerSecond?: number): Promise<{ seeder: RunningSeeder; host: string; port: number }> {
  const seeder = await startSeeder({ torrent, dir: seedDir });
  closers.push(() => seeder.close());
  if (!bytesPerSecond) return { seeder, host: '127.0.0.1', port: seeder.port };
  const proxy = await startThrottleProxy({ host: '127.0.0.1', port: seeder.port }, bytesPerSecond);
  closers.push(() => proxy.close());
  return { seeder, host: '127.0.0.1', port: proxy.port };
}

describe('download: BEP 6 fast extension honoured', () => {
  it('choked forever with allowed_fast {2, 7}: requests only those pieces, gets them byte-exact, then stalls on the rest', async () => {
    const { fx, data } = await swarm();
    const allowed = [2, 7];
    const { script, seen } = fastPeer(data, { have: 'have_all', allowedFast: allowed, answer: (m) => (allowed.includes(m.index) ? 'serve' : 'ignore') });
    const f = await peer(script);
    const out = path.join(dir, 'out');
    const r = await download({ torrent: fx.torrent, outDir: out, peers: [{ host: f.host, port: f.port }], stallTimeoutMs: 2000, timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(r).toBeInstanceOf(TransportError);
    expect((r as TransportError).code).toBe('stalled');
    expect(f.scriptErrors).toEqual([]);
    // Only allowed-fast pieces were asked for while choked; each block of both, exactly once.
    expect(new Set(seen.requests.map((q) => q.index))).toEqual(new Set(allowed));
    expect(seen.requests.length).toBe(2);
    expect(seen.served).toBe(2);
    expect(seen.types).toContain('interested'); // have all: it has what we want
    // The two pieces are on disk, byte-exact.
    const got = await readFile(path.join(out, 'fast.bin'));
    for (const i of allowed) expect(Buffer.from(got.subarray(i * PIECE, (i + 1) * PIECE)).equals(Buffer.from(data.subarray(i * PIECE, (i + 1) * PIECE)))).toBe(true);
  }, 30_000);

  it('reject_request: every rejected block is fetched from the honest seeder instead; the rejecting peer is not asked again for it', async () => {
    const { fx, seedDir, data } = await swarm();
    const { script, seen } = fastPeer(data, { have: 'have_all', unchoke: true, answer: () => 'reject' });
    const f = await peer(script);
    const honest = await honestSeeder(fx.torrent, seedDir, 256 * 1024);
    const out = path.join(dir, 'out');
    const r = await download({ torrent: fx.torrent, outDir: out, peers: [{ host: f.host, port: f.port }, { host: honest.host, port: honest.port }], stallTimeoutMs: 10_000, timeoutMs: 25_000 });
    expect(r.ok).toBe(true);
    expect(r.bytes).toBe(LENGTH);
    expect(r.peersWithData).toBe(1);
    expect(seen.rejected).toBeGreaterThanOrEqual(1);
    expect(seen.served).toBe(0);
    // No request/reject ping-pong: a block rejected by this peer is not asked of it again.
    const keys = seen.requests.map((q) => `${q.index}:${q.begin}`);
    expect(keys.length).toBe(new Set(keys).size);
    expect(await sameFiles(out, 'fast.bin', fx.files, true)).toBe(true);
  }, 30_000);

  it('have none (even when unchoked): never asked for anything, we stay not interested; everything comes from the seeder', async () => {
    const { fx, seedDir, data } = await swarm();
    const { script, seen } = fastPeer(data, { have: 'have_none', unchoke: true, answer: () => 'serve' });
    const n = await peer(script);
    const honest = await honestSeeder(fx.torrent, seedDir);
    const out = path.join(dir, 'out');
    // Plaintext: the scripted peer speaks no MSE, and this test counts its connections.
    const r = await download({ torrent: fx.torrent, outDir: out, peers: [{ host: n.host, port: n.port }, { host: honest.host, port: honest.port }], stallTimeoutMs: 10_000, timeoutMs: 25_000, encryption: 'plaintext' });
    expect(r.ok).toBe(true);
    expect(r.peers).toBe(2);
    expect(n.accepted()).toBe(1);
    expect(seen.requests).toEqual([]);
    expect(seen.types).not.toContain('interested');
    expect(honest.seeder.peersServed()).toBe(1);
    expect(await sameFiles(out, 'fast.bin', fx.files, true)).toBe(true);
  }, 30_000);

  it('have all, then unchoke: the whole torrent is requested from and served by that one peer', async () => {
    const { fx, data } = await swarm();
    const { script, seen } = fastPeer(data, { have: 'have_all', unchoke: true, answer: () => 'serve' });
    const f = await peer(script);
    const out = path.join(dir, 'out');
    const r = await download({ torrent: fx.torrent, outDir: out, peers: [{ host: f.host, port: f.port }], stallTimeoutMs: 10_000, timeoutMs: 20_000 });
    expect(r.ok).toBe(true);
    expect(new Set(seen.requests.map((q) => q.index)).size).toBe(PIECES);
    expect(seen.requests.reduce((a, q) => a + q.length, 0)).toBe(LENGTH);
    expect(await sameFiles(out, 'fast.bin', fx.files, true)).toBe(true);
  }, 30_000);
});

describe('PiecePicker: a rejected block (BEP 6 reject_request)', () => {
  const K = 16 * 1024;
  const make = () => {
    const p = new PiecePicker<string>({ pieceCount: 1, pieceLength: 2 * K, totalLength: 2 * K, randomFirst: 0 });
    p.addPeer('a');
    p.addPeer('b');
    p.peerHaveAll('a');
    p.peerHaveAll('b');
    return p;
  };

  it('is free again for another peer, but not asked of the peer that rejected it', () => {
    const p = make();
    expect(p.pick('a', 2)).toEqual([{ index: 0, begin: 0, length: K }, { index: 0, begin: K, length: K }]);
    p.rejected('a', 0, K);
    expect(p.outstanding('a')).toBe(1);
    expect(p.pick('a', 2)).toEqual([]);
    expect(p.pick('b', 1)).toEqual([{ index: 0, begin: K, length: K }]);
  });

  it('may be asked of it again once it unchokes us anew', () => {
    const p = make();
    p.pick('a', 2);
    p.rejected('a', 0, 0);
    expect(p.pick('a', 2)).toEqual([]);
    p.peerUnchoked('a');
    expect(p.pick('a', 2)).toEqual([{ index: 0, begin: 0, length: K }]);
  });

  it('a reject for a block never requested from that peer changes nothing', () => {
    const p = make();
    p.pick('a', 1);
    p.rejected('b', 0, 0);
    p.rejected('a', 0, 3 * K); // past the piece
    p.rejected('a', 5, 0); // no such piece
    expect(p.outstanding('a')).toBe(1);
    expect(p.pick('b', 1)).toEqual([{ index: 0, begin: K, length: K }]);
  });
});
