import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { download } from '../../lib/engine/downloader.js';
import { toHex } from '../../lib/core/bytes.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { havePeers } from '../helpers/peers.js';
import { ltMakeTorrent, writeDataset } from '../helpers/lt-make.js';
import { startLtSeed, type LtSeed } from '../helpers/lt-seed.js';
import { behaviors, startHostilePeer } from '../helpers/hostile-peer.js';
import { captureIo } from '../../tools/io.js';
import * as downloadTool from '../../tools/commands/download.js';

/**
 * BEP 52 v2-only magnet (urn:btmh): metadata by BEP 9 from libtorrent, the
 * piece layer of the multi-piece file by hash request (21) / hashes (22), then
 * the data, verified against the fetched layer.
 */
const PIECE = 32768;
const FILES: [string[], number][] = [
  [['big.bin'], 1_500_000], // 46 pieces: needs its piece layer from the peer
  [['small.bin'], 20_000], // under a piece: its pieces root is its piece hash
];

describe.skipIf(!havePeers('libtorrent'))('v2-only magnet from libtorrent', () => {
  let dir: string;
  let t: Torrent;
  let torrentPath: string;
  let seed: LtSeed | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-v2mag-'));
    await writeDataset(path.join(dir, 'seed', 'v2mag'), FILES, 31);
    torrentPath = path.join(dir, 'v2.torrent');
    t = await ltMakeTorrent(path.join(dir, 'seed', 'v2mag'), torrentPath, PIECE, 'v2');
    seed = await startLtSeed(torrentPath, path.join(dir, 'seed'));
  }, 60_000);
  afterAll(async () => {
    await seed?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('urn:btmh magnet: metadata, piece layer by hash request, data byte-identical', async () => {
    expect(t.pieces).toBeNull();
    expect(t.pieceLayers.size).toBe(1);
    const magnet = `magnet:?xt=urn:btmh:1220${toHex(t.infoHashV2!)}&x.pe=127.0.0.1:${seed!.port}`;
    const out = path.join(dir, 'out');
    const log: string[] = [];
    const r = await download({ magnet, outDir: out, stallTimeoutMs: 20_000, log: (l) => log.push(l) });
    expect(r).toMatchObject({ ok: true, hashFailures: 0, bytes: t.length, infoHash: toHex(t.infoHashV2!) });
    expect(log).toContain(`piece layers: 1 file(s) from 127.0.0.1:${seed!.port}`);
    for (const [p] of FILES) {
      const got = await readFile(path.join(out, 'v2mag', ...p));
      expect(got.equals(await readFile(path.join(dir, 'seed', 'v2mag', ...p)))).toBe(true);
    }
  }, 50_000);

  it('btscope download MAGNET (the CLI handler): a v2-only magnet downloads, --json summary', async () => {
    const magnet = `magnet:?xt=urn:btmh:1220${toHex(t.infoHashV2!)}&x.pe=127.0.0.1:${seed!.port}`;
    const out = path.join(dir, 'out-cli');
    const io = captureIo();
    const code = await downloadTool.handler({ target: magnet, o: out, peer: [], frames: undefined, 'frames-limit': 0, 'max-peers': 30, timeout: 20, 'full-check': false, json: true, io } as never);
    expect(code).toBe(0);
    expect(JSON.parse(io.stdout.join('\n'))).toMatchObject({ ok: true, hashFailures: 0, bytes: t.length });
    const got = await readFile(path.join(out, 'v2mag', 'big.bin'));
    expect(got.equals(await readFile(path.join(dir, 'seed', 'v2mag', 'big.bin')))).toBe(true);
  }, 50_000);

  it('a peer that fails (wrong info-hash) is passed over; the next one gives metadata and layers', async () => {
    const bad = await startHostilePeer(behaviors.wrongInfoHash(), { timeoutMs: 5000 });
    try {
      const magnet = `magnet:?xt=urn:btmh:1220${toHex(t.infoHashV2!)}&x.pe=127.0.0.1:${bad.port}&x.pe=127.0.0.1:${seed!.port}`;
      const out = path.join(dir, 'out2');
      const log: string[] = [];
      const r = await download({ magnet, outDir: out, stallTimeoutMs: 20_000, log: (l) => log.push(l) });
      expect(r).toMatchObject({ ok: true, hashFailures: 0, bytes: t.length });
      expect(bad.accepted()).toBeGreaterThanOrEqual(1);
      expect(log.some((l) => l.startsWith(`magnet 127.0.0.1:${bad.port}: `))).toBe(true);
      expect(log).toContain(`piece layers: 1 file(s) from 127.0.0.1:${seed!.port}`);
      const got = await readFile(path.join(out, 'v2mag', 'big.bin'));
      expect(got.equals(await readFile(path.join(dir, 'seed', 'v2mag', 'big.bin')))).toBe(true);
    } finally {
      await bad.close();
    }
  }, 50_000);
});
