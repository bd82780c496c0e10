import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startSeeder } from '../../lib/engine/seeder.js';
import { toHex } from '../../lib/core/bytes.js';
import type { Frame } from '../../lib/core/field.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { havePeers, LIBTORRENT_PYTHON } from '../helpers/peers.js';
import { ltMakeTorrent, writeDataset } from '../helpers/lt-make.js';

/**
 * BEP 52 from the serving side: libtorrent 2.0 fetches a v2-only torrent BY
 * MAGNET (urn:btmh) from `btscope seed`: the info dict by BEP 9, the piece
 * layers by hash request (21), answered with hashes (22) by btscope, then the
 * data. The seeder's frame log shows the requests it got and the answers it sent.
 */
const PIECE = 32768;
const FILES: [string[], number][] = [
  [['big.bin'], 1_500_000], // 46 pieces: its piece layer comes by hash request
  [['more.bin'], PIECE * 5 + 7], // 6 pieces
  [['small.bin'], 20_000], // under a piece: its pieces root is its piece hash
];

describe.skipIf(!havePeers('libtorrent'))('libtorrent downloads a v2-only magnet from btscope seed', () => {
  let dir: string;
  let t: Torrent;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-v2serve-'));
    await writeDataset(path.join(dir, 'seed', 'v2serve'), FILES, 51);
    t = await ltMakeTorrent(path.join(dir, 'seed', 'v2serve'), path.join(dir, 'v2.torrent'), PIECE, 'v2');
  }, 60_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('urn:btmh magnet: libtorrent asks for the piece layers, btscope answers them, the data is byte-identical', async () => {
    expect(t.infoHash).toBeNull();
    expect(t.pieceLayers.size).toBe(2);
    const frames: { type: string; direction: string; title: string }[] = [];
    const log: string[] = [];
    const seeder = await startSeeder({
      torrent: t,
      dir: path.join(dir, 'seed'),
      onFrame: (f: Frame, d) => frames.push({ type: f.title.split(' ')[0]!, direction: d, title: f.title }),
      log: (l) => log.push(l),
    });
    try {
      const magnet = `magnet:?xt=urn:btmh:1220${toHex(t.infoHashV2!)}`;
      const out = path.join(dir, 'lt-out');
      await promisify(execFile)(LIBTORRENT_PYTHON, [path.resolve('test/helpers/lt_download.py'), magnet, out, `127.0.0.1:${seeder.port}`, '--timeout', '30'], {
        timeout: 40_000,
      });
      for (const [p] of FILES) {
        expect((await readFile(path.join(out, 'v2serve', ...p))).equals(await readFile(path.join(dir, 'seed', 'v2serve', ...p)))).toBe(true);
      }
      const handshakes = frames.filter((f) => f.type === 'handshake');
      const requests = frames.filter((f) => f.direction === 'in' && f.type === 'hash_request');
      const hashes = frames.filter((f) => f.direction === 'out' && f.type === 'hashes');
      const rejects = frames.filter((f) => f.direction === 'out' && f.type === 'hash_reject');
      // libtorrent asked, and every request got exactly one answer, none a reject.
      expect(handshakes.length).toBeGreaterThanOrEqual(2);
      expect(requests.length).toBeGreaterThanOrEqual(2);
      expect(hashes.length).toBe(requests.length);
      expect(rejects).toEqual([]);
      expect(log.filter((l) => l.includes('hash reject'))).toEqual([]);
    } finally {
      await seeder.close();
    }
  }, 50_000);
});
