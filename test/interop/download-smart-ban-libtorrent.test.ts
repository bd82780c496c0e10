import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { download } from '../../lib/engine/downloader.js';
import { havePeers } from '../helpers/peers.js';
import { startLtSeed, type LtSeed } from '../helpers/lt-seed.js';
import { startHostilePeer, type HostilePeer } from '../helpers/hostile-peer.js';
import { lyingSeeder } from '../helpers/lying-seeder.js';
import { startThrottleProxy, type ThrottleProxy } from '../helpers/throttle-proxy.js';
import { fixture, sameFiles } from '../engine/helpers.js';

/**
 * Smart ban (issue 14, item 3) against a real honest seeder: libtorrent 2.0
 * (test/helpers/lt_seed.py) beside a peer that sends wrong blocks at several
 * rates. Before smart ban, every mixed piece that failed was a strike against
 * both, and libtorrent was banned with the liar ("no peer connected (2
 * addresses known, 2 banned)"). Now only the liar is banned and the download
 * is byte-identical. The libtorrent seeder is stopped by PID.
 */
const PIECE = 65536;
const LENGTH = 3 * 1024 * 1024 + 999;

describe.skipIf(!havePeers('libtorrent'))('smart ban: a liar beside an honest libtorrent seeder', () => {
  let dir: string;
  let fx: Awaited<ReturnType<typeof fixture>>;
  let lt: LtSeed | undefined;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-smart-ban-lt-'));
    const seedDir = path.join(dir, 'seed');
    fx = await fixture(seedDir, { name: 'sb.bin', pieceLength: PIECE, files: [{ path: ['sb.bin'], length: LENGTH }], single: true });
    const torrentPath = path.join(dir, 'sb.torrent');
    await writeFile(torrentPath, fx.bytes);
    lt = await startLtSeed(torrentPath, seedDir);
  }, 40_000);
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await lt?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    // [one bad block in N, the liar answers only every second block (every piece it touches is mixed), libtorrent throttled to B/s or not]
    [1, true, 4 * 1024 * 1024],
    [2, true, 4 * 1024 * 1024],
    [8, true, 4 * 1024 * 1024],
    // libtorrent at full speed: the liar gets few requests; a smoke test that nothing else goes wrong.
    [3, false, 0],
  ] as const)('1 bad block in %i (only even blocks: %s, libtorrent at %i B/s, 0 = full speed): only the liar is banned, byte-identical', async (every, rejectOddBlocks, rate) => {
    const counts = { good: 0, bad: 0 };
    const liar: HostilePeer = await startHostilePeer(lyingSeeder(fx.torrent.infoHash!, fx.files[0]!.data, PIECE, every, counts, { rejectOddBlocks }), { timeoutMs: 20_000 });
    closers.push(() => liar.close());
    let honestPort = lt!.port;
    if (rate > 0) {
      const proxy: ThrottleProxy = await startThrottleProxy({ host: '127.0.0.1', port: lt!.port }, rate);
      closers.push(() => proxy.close());
      honestPort = proxy.port;
    }
    const out = path.join(dir, `out-${every}-${rejectOddBlocks}-${rate}`);
    const r = await download({
      torrent: fx.torrent,
      outDir: out,
      peers: [
        { host: liar.host, port: liar.port },
        { host: '127.0.0.1', port: honestPort },
      ],
      stallTimeoutMs: 15_000,
    });
    expect(r.banned).toEqual([`127.0.0.1:${liar.port}`]);
    expect(r.bytes).toBe(LENGTH);
    expect(await sameFiles(out, 'sb.bin', fx.files, true)).toBe(true);
    // Only when the liar got to send something can it have been caught.
    if (counts.bad > 0) expect(r.hashFailures).toBeGreaterThanOrEqual(1);
  }, 40_000);
});
