import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { download } from '../../lib/engine/downloader.js';
import { PieceVerifier, wireInfoHash } from '../../lib/engine/piece-verifier.js';
import { checkPieceLayers } from '../../lib/metainfo/piece-check.js';
import { Storage, torrentStorageFiles } from '../../lib/engine/storage.js';
import { safeFilePath } from '../../lib/metainfo/safe-path.js';
import { toHex } from '../../lib/core/bytes.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { havePeers, LIBTORRENT_PYTHON } from '../helpers/peers.js';
import { startLtSeed } from '../helpers/lt-seed.js';
import { ltMakeTorrent, writeDataset } from '../helpers/lt-make.js';
import { behaviors, startHostilePeer } from '../helpers/hostile-peer.js';
import { startSeeder } from '../../lib/engine/seeder.js';
import { startThrottleProxy, type ThrottleProxy } from '../helpers/throttle-proxy.js';

/**
 * BEP 52: v2-only and hybrid torrents made by libtorrent, seeded by libtorrent,
 * downloaded by btscope and verified from the piece layers (v2) or from both
 * the SHA-1 pieces and the piece layers (hybrid).
 */
const PIECE = 65536;
const FILES: [string[], number][] = [
  [['big.bin'], 3_000_000], // many pieces: checked against its piece layer
  [['sub', 'small.bin'], 40_000], // less than a piece: checked against its pieces root
  [['tiny.txt'], 100],
  [['exact.bin'], PIECE * 2], // ends on a piece boundary
];

let dir: string;
const procs: ChildProcess[] = [];
const torrents: Record<'v2' | 'hybrid', { path: string; t: Torrent }> = {} as never;

async function ltSeed(torrentPath: string, dataDir: string): Promise<number> {
  const seed = await startLtSeed(torrentPath, dataDir);
  procs.push(seed.proc);
  return seed.port;
}

describe.skipIf(!havePeers('libtorrent'))('v2 (BEP 52) and hybrid torrents from libtorrent', () => {
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-v2-'));
    await writeDataset(path.join(dir, 'seed', 'v2set'), FILES, 11);
    for (const mode of ['v2', 'hybrid'] as const) {
      const out = path.join(dir, `${mode}.torrent`);
      torrents[mode] = { path: out, t: await ltMakeTorrent(path.join(dir, 'seed', 'v2set'), out, PIECE, mode) };
    }
  }, 60_000);
  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('libtorrent made what we expect: v2-only has no SHA-1 pieces, hybrid has both', () => {
    expect(torrents.v2.t.pieces).toBeNull();
    expect(torrents.v2.t.infoHash).toBeNull();
    expect(torrents.v2.t.infoHashV2).not.toBeNull();
    expect(torrents.hybrid.t.pieces).not.toBeNull();
    expect(torrents.hybrid.t.infoHashV2).not.toBeNull();
  });

  for (const mode of ['v2', 'hybrid'] as const) {
    it(`${mode}: downloaded from a libtorrent seeder, verified, byte-identical, no pad files written`, async () => {
      const { path: torrentPath, t } = torrents[mode];
      const port = await ltSeed(torrentPath, path.join(dir, 'seed'));
      const out = path.join(dir, `out-${mode}`);
      const r = await download({ torrent: t, outDir: out, peers: [{ host: '127.0.0.1', port }], stallTimeoutMs: 20_000 });
      expect(r).toMatchObject({ ok: true, hashFailures: 0, bytes: t.length, infoHash: toHex(t.infoHash ?? t.infoHashV2!) });
      for (const [p] of FILES) {
        const got = await readFile(path.join(out, 'v2set', ...p));
        const want = await readFile(path.join(dir, 'seed', 'v2set', ...p));
        expect(got.equals(want)).toBe(true);
      }
      const written = execFileSync('find', [out, '-type', 'f', '-not', '-name', '.btscope-*'], { encoding: 'utf8' }).trim().split('\n').sort();
      expect(written).toEqual(FILES.map(([p]) => path.join(out, 'v2set', ...p)).sort());
    }, 50_000);
  }

  for (const mode of ['v2', 'hybrid'] as const) {
    it(`${mode}: btscope seed checks the data and serves it to a libtorrent downloader`, async () => {
      const { path: torrentPath, t } = torrents[mode];
      const seeder = await startSeeder({ torrent: t, dir: path.join(dir, 'seed') });
      try {
        expect(seeder.swarm.picker.piecesHave).toBe(t.pieceCount);
        const out = path.join(dir, `lt-from-btscope-${mode}`);
        // Asynchronously: the seeder runs in this process.
        await promisify(execFile)(LIBTORRENT_PYTHON, [path.resolve('test/helpers/lt_download.py'), torrentPath, out, `127.0.0.1:${seeder.port}`, '--timeout', '30'], { timeout: 40_000 });
        for (const [p] of FILES) {
          expect((await readFile(path.join(out, 'v2set', ...p))).equals(await readFile(path.join(dir, 'seed', 'v2set', ...p)))).toBe(true);
        }
        expect(seeder.swarm.uploaded.total).toBeGreaterThanOrEqual(FILES.reduce((n, [, len]) => n + len, 0));
      } finally {
        await seeder.close();
      }
    }, 50_000);
  }

  it('v2 checks can fail: a flipped byte fails its piece (piece layer and pieces-root paths), a tampered layer is refused', async () => {
    const { t } = torrents.v2;
    const copy = path.join(dir, 'tamper');
    await cp(path.join(dir, 'seed'), copy, { recursive: true });
    const storage = new Storage(torrentStorageFiles(t.files, copy, safeFilePath), { root: copy });
    const v = PieceVerifier.forTorrent(storage, t);
    for (let i = 0; i < t.pieceCount; i++) expect((await v.verify(i)).ok).toBe(true);
    const flip = async (rel: string[], at: number): Promise<void> => {
      const f = path.join(copy, 'v2set', ...rel);
      const b = await readFile(f);
      b[at]! ^= 0x01;
      await writeFile(f, b);
    };
    await flip(['big.bin'], PIECE * 3 + 5); // 4th piece of big.bin
    await flip(['sub', 'small.bin'], 39_999); // small.bin's only piece
    const bad: number[] = [];
    for (let i = 0; i < t.pieceCount; i++) if (!(await v.verify(i)).ok) bad.push(i);
    const startOf = (name: string) => t.files.find((f) => f.path.at(-1) === name)!.offset / PIECE;
    expect(bad).toEqual([startOf('big.bin') + 3, startOf('small.bin')].sort((a, b) => a - b));
    await storage.close();

    const [root, layer] = [...t.pieceLayers][0]!;
    const tampered = new Uint8Array(layer);
    tampered[0]! ^= 1;
    expect(() => checkPieceLayers({ ...t, pieceLayers: new Map([...t.pieceLayers, [root, tampered]]) })).toThrow(expect.objectContaining({ code: 'bad_piece_layer' }));
    expect(() => checkPieceLayers({ ...t, pieceLayers: new Map() })).toThrow(expect.objectContaining({ code: 'no_piece_layer' }));
  });

  it('v2: a seeder sending corrupt data among honest libtorrent is banned; the download completes from libtorrent', async () => {
    const { path: torrentPath, t } = torrents.v2;
    // The byte stream the pieces cover: files with libtorrent's implicit padding between them.
    const stream = new Uint8Array(t.length);
    for (const f of t.files) if (!f.pad) stream.set(await readFile(path.join(dir, 'seed', ...f.path)), f.offset);
    const h = await startHostilePeer(behaviors.seeder({ infoHash: wireInfoHash(t), data: stream, pieceLength: PIECE }, { corruptPieces: true }), { timeoutMs: 10_000 });
    let slow: ThrottleProxy | undefined;
    try {
      const port = await ltSeed(torrentPath, path.join(dir, 'seed'));
      // Slow the honest seeder (loopback libtorrent could otherwise serve all 3 MB before
      // the liar is asked for a single piece, and the test would prove nothing).
      slow = await startThrottleProxy({ host: '127.0.0.1', port }, 1024 * 1024);
      const out = path.join(dir, 'out-v2-hostile');
      const r = await download({ torrent: t, outDir: out, peers: [{ host: h.host, port: h.port }, { host: '127.0.0.1', port: slow.port }], stallTimeoutMs: 20_000 });
      expect(h.accepted()).toBeGreaterThanOrEqual(1);
      expect(r.hashFailures).toBeGreaterThanOrEqual(1);
      expect(r.banned).toContain(`127.0.0.1:${h.port}`);
      const got = await readFile(path.join(out, 'v2set', 'big.bin'));
      expect(got.equals(await readFile(path.join(dir, 'seed', 'v2set', 'big.bin')))).toBe(true);
    } finally {
      await slow?.close();
      await h.close();
    }
  }, 50_000);
});
