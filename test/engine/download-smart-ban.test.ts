import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { download } from '../../lib/engine/downloader.js';
import { startSeeder } from '../../lib/engine/seeder.js';
import { startThrottleProxy } from '../helpers/throttle-proxy.js';
import { startHostilePeer, type HostilePeer } from '../helpers/hostile-peer.js';
import { lyingSeeder } from '../helpers/lying-seeder.js';
import { fixture, sameFiles } from './helpers.js';

/**
 * Smart ban (issue 14, item 3): a fast peer sending wrong blocks beside an
 * honest, slower seeder. Pieces mix blocks from both; a failed piece must not
 * count against the honest seeder. Only the liar is banned, and the download
 * completes byte-identical, whatever share of its blocks the liar corrupts.
 */
let dir: string;
const closers: (() => Promise<void>)[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-smart-ban-'));
});
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await rm(dir, { recursive: true, force: true });
});

/** 64 KiB pieces of four 16 KiB blocks, so one piece can hold blocks from both peers. */
const PIECE = 65536;
const LENGTH = 2 * 1024 * 1024 + 4321;

describe('smart ban: a liar beside an honest btscope seeder', () => {
  it.each([
    [1, false],
    [2, false],
    [8, false],
    [1, true],
    [2, true],
    [8, true],
  ] as const)('the liar corrupts 1 block in %i (only even blocks: %s): only the liar is banned, the download is byte-identical', async (every, rejectOddBlocks) => {
    const seedDir = path.join(dir, 'seed');
    const fx = await fixture(seedDir, { name: 'm.bin', pieceLength: PIECE, files: [{ path: ['m.bin'], length: LENGTH }], single: true });
    const seeder = await startSeeder({ torrent: fx.torrent, dir: seedDir });
    closers.push(() => seeder.close());
    // The honest seeder slower than the liar, so the liar gets its share of every piece.
    const proxy = await startThrottleProxy({ host: '127.0.0.1', port: seeder.port }, 2 * 1024 * 1024);
    closers.push(() => proxy.close());
    const served = { good: 0, bad: 0 };
    const liar: HostilePeer = await startHostilePeer(lyingSeeder(fx.torrent.infoHash!, fx.files[0]!.data, PIECE, every, served, { rejectOddBlocks }), { timeoutMs: 20_000 });
    closers.push(() => liar.close());

    const out = path.join(dir, 'out');
    const log: string[] = [];
    const r = await download({
      torrent: fx.torrent,
      outDir: out,
      peers: [
        { host: liar.host, port: liar.port },
        { host: '127.0.0.1', port: proxy.port },
      ],
      stallTimeoutMs: 20_000,
      log: (l) => log.push(l),
    });
    expect(served.bad).toBeGreaterThan(0);
    expect(r.hashFailures).toBeGreaterThanOrEqual(1);
    expect(r.banned).toEqual([`127.0.0.1:${liar.port}`]);
    expect(r.bytes).toBe(LENGTH);
    expect(await sameFiles(out, 'm.bin', fx.files, true)).toBe(true);
  }, 40_000);
});
