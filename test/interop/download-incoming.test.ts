import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { download } from '../../lib/engine/downloader.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { havePeers, LIBTORRENT_PYTHON } from '../helpers/peers.js';
import { stopChild } from '../helpers/child.js';
import { freePort } from './tracker-util.js';
import { makeTorrent } from './trace-util.js';

/**
 * The downloader as the side that is dialled: `listenPort` and no address to
 * dial; a libtorrent seeder connects to it (test/helpers/lt_seed_to.py) and
 * the download completes from that incoming connection alone.
 */
const LT_SEED_TO = fileURLToPath(new URL('../helpers/lt_seed_to.py', import.meta.url));

describe.skipIf(!havePeers('libtorrent'))('download over an incoming connection', () => {
  let dir: string;
  let seed: ChildProcess | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-dl-incoming-'));
  });
  afterAll(async () => {
    if (seed) await stopChild(seed);
    await rm(dir, { recursive: true, force: true });
  });

  it('libtorrent dials btscope\'s listen port and the whole torrent arrives over that connection', async () => {
    const size = 1024 * 1024 + 4321;
    const t = await makeTorrent(path.join(dir, 'in'), 'in.bin', size, 16);
    const torrent = parseTorrent(new Uint8Array(await readFile(t.torrent)));
    const listenPort = await freePort();
    const out = path.join(dir, 'out');
    const running = download({ torrent, outDir: out, peers: [], listenPort, stallTimeoutMs: 25_000, timeoutMs: 40_000 });
    seed = spawn(LIBTORRENT_PYTHON, [LT_SEED_TO, t.torrent, t.dataDir, `127.0.0.1:${listenPort}`], { stdio: ['pipe', 'ignore', 'ignore'] });
    const r = await running;
    expect(r).toMatchObject({ ok: true, bytes: size, hashFailures: 0, peersWithData: 1 });
    expect((await readFile(path.join(out, 'in.bin'))).equals(t.data)).toBe(true);
  }, 50_000);
});
