import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { download } from '../../lib/engine/downloader.js';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { torrentStorageFiles } from '../../lib/engine/storage.js';
import { makeTorrent } from '../../lib/metainfo/make.js';
import { deterministicBytes } from '../../tools/demo-data.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { safeFilePath } from '../../lib/metainfo/safe-path.js';
import { encodeMessage } from '../../lib/wire/messages.js';
import { makeReserved } from '../../lib/wire/handshake.js';
import { behaviors, startHostilePeer, type HostilePeer, type ScriptedConnection } from '../helpers/hostile-peer.js';
import { startThrottleProxy, type ThrottleProxy } from '../helpers/throttle-proxy.js';
import { fixture, sameFiles } from './helpers.js';

/**
 * A hostile peer among honest ones: the download still completes from the
 * honest seeder, byte-identical, and the hostile one is dealt with (banned,
 * dropped, its requests given to others). The honest seeder sits behind a
 * throttling relay so the hostile peer gets its share of requests.
 */
let dir: string;
const closers: (() => Promise<void>)[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-hostile-'));
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await rm(dir, { recursive: true, force: true });
});

const PIECE = 16384;
const LENGTH = 1024 * 1024 + 777;

async function honestSwarm(bytesPerSecond = 2 * 1024 * 1024) {
  const seedDir = path.join(dir, 'seed');
  const fx = await fixture(seedDir, { name: 'h.bin', pieceLength: PIECE, files: [{ path: ['h.bin'], length: LENGTH }], single: true });
  const seeder: RunningSeeder = await startSeeder({ torrent: fx.torrent, dir: seedDir });
  closers.push(() => seeder.close());
  const proxy: ThrottleProxy = await startThrottleProxy({ host: '127.0.0.1', port: seeder.port }, bytesPerSecond);
  closers.push(() => proxy.close());
  const data = fx.files[0]!.data;
  return { fx, data, honest: { host: '127.0.0.1', port: proxy.port } };
}

async function hostile(script: (c: ScriptedConnection) => Promise<void>): Promise<HostilePeer> {
  const h = await startHostilePeer(script, { timeoutMs: 10_000 });
  closers.push(() => h.close());
  return h;
}

/** Handshake (fast + extended), have all, unchoke; then `onRequest` for each request. */
const liar =
  (onRequest: (c: ScriptedConnection, m: { index: number; begin: number; length: number }, n: number) => Promise<void>) =>
  async (c: ScriptedConnection): Promise<void> => {
    const hs = await c.readHandshake();
    if (!hs) return;
    await c.sendHandshake({ infoHash: hs.infoHash, reserved: makeReserved({ fast: true }) });
    await c.send({ type: 'have_all' });
    await c.send({ type: 'unchoke' });
    let n = 0;
    for (;;) {
      const m = await c.readMessage();
      if (!m) return;
      if (m.type === 'request') await onRequest(c, m, n++);
    }
  };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a hostile seeder among honest ones', () => {
  it('bad pieces: the liar is banned once a piece it sent alone fails, its pieces fetched again from the honest seeder', async () => {
    const { fx, data, honest } = await honestSwarm();
    const h = await hostile(behaviors.seeder({ infoHash: fx.torrent.infoHash!, data, pieceLength: PIECE }, { corruptPieces: true }));
    const out = path.join(dir, 'out');
    const r = await download({ torrent: fx.torrent, outDir: out, peers: [{ host: h.host, port: h.port }, honest], stallTimeoutMs: 20_000 });
    expect(r.hashFailures).toBeGreaterThanOrEqual(1);
    expect(r.banned).toEqual([`127.0.0.1:${h.port}`]);
    expect(r.bytes).toBe(LENGTH);
    expect(await sameFiles(out, 'h.bin', fx.files, true)).toBe(true);
  }, 30_000);

  it('disconnects mid-block: half a piece message, then the connection drops (every time it is dialled)', async () => {
    const { fx, data, honest } = await honestSwarm();
    let halves = 0;
    const h = await hostile(
      liar(async (c, m) => {
        halves++;
        const start = m.index * PIECE + m.begin;
        const whole = encodeMessage({ type: 'piece', index: m.index, begin: m.begin, block: data.subarray(start, start + m.length) });
        await c.write(whole.subarray(0, 13 + (m.length >> 1)));
        c.close();
      }),
    );
    const out = path.join(dir, 'out');
    const r = await download({ torrent: fx.torrent, outDir: out, peers: [{ host: h.host, port: h.port }, honest], stallTimeoutMs: 20_000 });
    expect(h.accepted()).toBeGreaterThanOrEqual(1);
    expect(halves).toBeGreaterThanOrEqual(1);
    expect(r.peersWithData).toBe(1);
    expect(r.hashFailures).toBe(0);
    expect(await sameFiles(out, 'h.bin', fx.files, true)).toBe(true);
  }, 30_000);

  it('stalls: takes requests and never answers; they time out and go to the honest seeder', async () => {
    const { fx, honest } = await honestSwarm(512 * 1024);
    const log: string[] = [];
    let requests = 0;
    const h = await hostile(
      liar(async () => {
        requests++;
      }),
    );
    const out = path.join(dir, 'out');
    const r = await download({ torrent: fx.torrent, outDir: out, peers: [{ host: h.host, port: h.port }, honest], requestTimeoutMs: 300, stallTimeoutMs: 20_000, log: (l) => log.push(l) });
    expect(requests).toBeGreaterThan(0);
    expect(log.some((l) => l.startsWith(`peer 127.0.0.1:${h.port} stalled`))).toBe(true);
    expect(r.peersWithData).toBe(1);
    expect(await sameFiles(out, 'h.bin', fx.files, true)).toBe(true);
  }, 30_000);

  it.each([
    ['a bitfield of the wrong size', (pieces: number) => encodeMessage({ type: 'bitfield', bitfield: new Uint8Array(Math.ceil(pieces / 8) + 3).fill(0xff) })],
    ['a have for a piece past the end', (pieces: number) => encodeMessage({ type: 'have', index: pieces + 10 })],
    // A piece message with a 64 KiB block: over the frame limit for a 16 KiB block.
    ['an oversized piece message', () => encodeMessage({ type: 'piece', index: 0, begin: 0, block: new Uint8Array(65536) })],
    ['a 4 GiB length prefix', () => Uint8Array.of(0xff, 0xff, 0xff, 0xf0, 7)],
  ])('lies: %s; the connection is closed, the download completes from the honest seeder', async (_what, lie) => {
    const { fx, honest } = await honestSwarm();
    let closedOnUs = 0;
    const h = await hostile(async (c) => {
      const hs = await c.readHandshake();
      if (!hs) return;
      await c.sendHandshake({ infoHash: hs.infoHash, reserved: makeReserved({ fast: true }) });
      await c.send({ type: 'unchoke' });
      await c.write(lie(fx.torrent.pieceCount));
      // The client must hang up: wait for it (bounded by the script timeout).
      while (!c.ended && !c.socket.destroyed) if ((await c.readFrame()) === undefined) break;
      if (c.ended) closedOnUs++;
    });
    const out = path.join(dir, 'out');
    const r = await download({ torrent: fx.torrent, outDir: out, peers: [{ host: h.host, port: h.port }, honest], stallTimeoutMs: 20_000 });
    await sleep(50);
    expect(closedOnUs).toBeGreaterThanOrEqual(1);
    expect(r.peersWithData).toBe(1);
    expect(r.hashFailures).toBe(0);
    expect(await sameFiles(out, 'h.bin', fx.files, true)).toBe(true);
  }, 30_000);
});

describe('a torrent whose paths try to escape -o', () => {
  it('every file lands below -o, nothing is written outside', async () => {
    const files = [
      { path: ['..', '..', 'escape-1.txt'], data: deterministicBytes(20_000, 1) },
      { path: ['sub', '..', '..', 'escape-2.txt'], data: deterministicBytes(30_000, 2) },
      { path: ['/etc', 'escape-3.txt'], data: deterministicBytes(5_000, 3) },
      { path: ['C:', 'escape-4.txt'], data: deterministicBytes(5_000, 4) },
      { path: ['ok.txt'], data: deterministicBytes(7_000, 5) },
    ];
    const torrent = parseTorrent(makeTorrent({ name: '..', pieceLength: PIECE, files }).bytes);
    // The seeder's data where its own safe paths put it.
    const seedDir = path.join(dir, 'box', 'seed');
    const layout = torrentStorageFiles(torrent.files, seedDir, safeFilePath);
    for (let i = 0; i < files.length; i++) {
      const f = layout.find((l) => !l.pad && l.offset === torrent.files[i]!.offset)!;
      await mkdir(path.dirname(f.path), { recursive: true });
      await writeFile(f.path, files[i]!.data);
    }
    const seeder = await startSeeder({ torrent, dir: seedDir });
    closers.push(() => seeder.close());
    expect(seeder.swarm.picker.piecesHave).toBe(torrent.pieceCount);

    const box = path.join(dir, 'box');
    const out = path.join(box, 'out');
    const before = await listTree(dir);
    const r = await download({ torrent, outDir: out, peers: [{ host: '127.0.0.1', port: seeder.port }], stallTimeoutMs: 10_000 });
    expect(r.bytes).toBe(torrent.length);
    const after = await listTree(dir);
    const added = after.filter((p) => !before.includes(p));
    expect(added.length).toBeGreaterThan(0);
    for (const p of added) expect(p.startsWith(`box${path.sep}out${path.sep}`) || p === `box${path.sep}out`).toBe(true);
    // And each file's bytes are where the safe path says.
    const outLayout = torrentStorageFiles(torrent.files, out, safeFilePath);
    for (let i = 0; i < files.length; i++) {
      const f = outLayout.find((l) => l.offset === torrent.files[i]!.offset && !l.pad)!;
      expect(path.relative(out, f.path).startsWith('..')).toBe(false);
    }
  }, 30_000);
});

async function listTree(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const p = path.join(rel, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...(await listTree(root, p)));
  }
  return out;
}
