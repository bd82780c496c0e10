import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { toHex } from '../../lib/core/bytes.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { captureIo } from '../../tools/io.js';
import * as pieceTool from '../../tools/commands/piece.js';
import * as metadataTool from '../../tools/commands/metadata.js';
import { execFileSync } from 'node:child_process';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { LIBTORRENT_PYTHON } from '../helpers/peers.js';
import { havePeers } from '../helpers/peers.js';
import { startLtSeed, type LtSeed } from '../helpers/lt-seed.js';
import { ltMakeTorrent, writeDataset } from '../helpers/lt-make.js';
import { behaviors, startHostilePeer } from '../helpers/hostile-peer.js';

/**
 * `btscope metadata` and `btscope piece` on a v2-only torrent (BEP 52) made and seeded by libtorrent:
 * each piece checked against its merkle hash, from the piece layer of a
 * multi-piece file or the pieces root of a file that fits in one piece; from a
 * urn:btmh magnet the layer comes from the peer by hash request first.
 */
const PIECE = 32768;
const FILES: [string[], number][] = [
  [['big.bin'], 200_000], // 7 pieces, the last one short of the file's end (padded)
  [['small.bin'], 9_000], // under a piece: its pieces root is its hash
];

describe.skipIf(!havePeers('libtorrent'))('metadata and piece: v2-only torrents from libtorrent', () => {
  let dir: string;
  let torrentPath: string;
  let t: Torrent;
  let seed: LtSeed | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-piece-v2-'));
    await writeDataset(path.join(dir, 'seed', 'pv2'), FILES, 71);
    torrentPath = path.join(dir, 'v2.torrent');
    t = await ltMakeTorrent(path.join(dir, 'seed', 'pv2'), torrentPath, PIECE, 'v2');
    seed = await startLtSeed(torrentPath, path.join(dir, 'seed'));
  }, 60_000);
  afterAll(async () => {
    await seed?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (target: string, index: number, peer: string) => {
    const io = captureIo();
    const out = path.join(dir, `p-${index}-${Math.random().toString(36).slice(2)}.bin`);
    const code = await pieceTool.handler({ target, index, peer: [peer], o: out, pipeline: 8, json: true, frames: false, timeout: 20, io });
    return { code, io, out };
  };

  /** Piece `index`'s bytes as seeded: the file's bytes, zeros past its end up to the piece length (BEP 52 pads files). */
  async function expected(index: number): Promise<Buffer> {
    const big = await readFile(path.join(dir, 'seed', 'pv2', 'big.bin'));
    const bigPieces = Math.ceil(big.length / PIECE);
    const [data, k] = index < bigPieces ? [big, index] : [await readFile(path.join(dir, 'seed', 'pv2', 'small.bin')), index - bigPieces];
    const out = Buffer.alloc(index === t.pieceCount - 1 ? t.lastPieceLength : PIECE);
    data.copy(out, 0, k * PIECE, Math.min(data.length, (k + 1) * PIECE));
    return out;
  }

  it('from the .torrent: every piece, first, middle, a file\'s padded last and the one-piece file, checked by its v2 hash', async () => {
    expect(t.pieces).toBeNull();
    for (const index of [0, 3, 6, 7]) {
      const { code, io, out } = await run(torrentPath, index, `127.0.0.1:${seed!.port}`);
      expect(code, io.stderr.join('\n')).toBe(0);
      const j = JSON.parse(io.text());
      expect(j).toMatchObject({ index, hashOk: true, hashType: 'v2', sha1: null });
      expect((await readFile(out)).equals(await expected(index))).toBe(true);
    }
  }, 40_000);

  it('from a urn:btmh magnet: metadata, then the piece layer by hash request, then the piece', async () => {
    const magnet = `magnet:?xt=urn:btmh:1220${toHex(t.infoHashV2!)}`;
    const { code, io, out } = await run(magnet, 4, `127.0.0.1:${seed!.port}`);
    expect(code, io.stderr.join('\n')).toBe(0);
    expect(JSON.parse(io.text())).toMatchObject({ index: 4, hashOk: true, hashType: 'v2' });
    expect((await readFile(out)).equals(await expected(4))).toBe(true);
  }, 30_000);

  it('a peer that sends wrong data for a v2 piece: exit 1, nothing written', async () => {
    const content = { infoHash: t.infoHashV2!.subarray(0, 20), pieceLength: PIECE, data: new Uint8Array(t.length).fill(0x5a) };
    const bad = await startHostilePeer(behaviors.seeder(content), { timeoutMs: 10_000 });
    try {
      const { code, io, out } = await run(torrentPath, 2, `127.0.0.1:${bad.port}`);
      expect(code).toBe(1);
      expect(io.stderr.join('\n') + io.text()).toMatch(/SHA-256 merkle \(BEP 52\)\), the torrent says [0-9a-f]{64} \(hash_mismatch\)/);
      await expect(readFile(out)).rejects.toThrow();
    } finally {
      await bad.close();
    }
  }, 30_000);

  it('metadata from a urn:btmh magnet: the .torrent carries the piece layers (equal to libtorrent\'s), and libtorrent loads it', async () => {
    const out = path.join(dir, 'm.torrent');
    const io = captureIo();
    const code = await metadataTool.handler({ magnet: `magnet:?xt=urn:btmh:1220${toHex(t.infoHashV2!)}`, peer: [`127.0.0.1:${seed!.port}`], o: out, json: true, frames: false, timeout: 20, io });
    expect(code, io.stderr.join('\n')).toBe(0);
    expect(JSON.parse(io.text())).toMatchObject({ infoHashV2: toHex(t.infoHashV2!), pieceLayers: 1 });
    const got = parseTorrent(new Uint8Array(await readFile(out)));
    expect([...got.pieceLayers.entries()].map(([k, v]) => [k, Buffer.from(v).toString('hex')])).toEqual(
      [...t.pieceLayers.entries()].map(([k, v]) => [k, Buffer.from(v).toString('hex')]),
    );
    const lt = execFileSync(LIBTORRENT_PYTHON, ['-c', 'import sys, libtorrent as lt; ti = lt.torrent_info(sys.argv[1]); print(str(ti.info_hashes().v2), ti.num_pieces())', out], { encoding: 'utf8', timeout: 20_000 });
    expect(lt.trim()).toBe(`${toHex(t.infoHashV2!)} ${t.pieceCount}`);
  }, 30_000);
});
