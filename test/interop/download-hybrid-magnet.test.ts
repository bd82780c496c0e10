import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { download } from '../../lib/engine/downloader.js';
import { toHex } from '../../lib/core/bytes.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { havePeers } from '../helpers/peers.js';
import { ltMakeTorrent, writeDataset } from '../helpers/lt-make.js';
import { startLtSeed, type LtSeed } from '../helpers/lt-seed.js';

/**
 * A hybrid torrent (BEP 52 section "Upgrade path": v1 pieces and v2 piece
 * layers in one info dict) made and seeded by libtorrent, downloaded from each
 * of the magnet links that name it: both hashes, the v1 hash only, the v2 hash
 * only. Whatever the link says, the metadata must hash to every hash it names,
 * and the data must come out byte-identical.
 */
const PIECE = 32768;
const FILES: [string[], number][] = [
  [['a.bin'], 700_000],
  [['sub', 'b.bin'], 90_000],
];

describe.skipIf(!havePeers('libtorrent'))('hybrid torrent by magnet from libtorrent', () => {
  let dir: string;
  let t: Torrent;
  let seed: LtSeed | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-hymag-'));
    await writeDataset(path.join(dir, 'seed', 'hymag'), FILES, 51);
    const torrentPath = path.join(dir, 'hybrid.torrent');
    t = await ltMakeTorrent(path.join(dir, 'seed', 'hymag'), torrentPath, PIECE, 'hybrid');
    seed = await startLtSeed(torrentPath, path.join(dir, 'seed'));
  }, 60_000);
  afterAll(async () => {
    await seed?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const links = {
    'btih and btmh': () => `magnet:?xt=urn:btih:${toHex(t.infoHash!)}&xt=urn:btmh:1220${toHex(t.infoHashV2!)}`,
    'btih only': () => `magnet:?xt=urn:btih:${toHex(t.infoHash!)}`,
    'btmh only': () => `magnet:?xt=urn:btmh:1220${toHex(t.infoHashV2!)}`,
  };

  it('libtorrent made a hybrid: SHA-1 pieces and a v2 hash', () => {
    expect(t.pieces).not.toBeNull();
    expect(t.infoHash).not.toBeNull();
    expect(t.infoHashV2).not.toBeNull();
  });

  it.each(Object.keys(links) as (keyof typeof links)[])('magnet with %s: metadata, then the data byte-identical', async (which) => {
    const magnet = `${links[which]()}&x.pe=127.0.0.1:${seed!.port}`;
    const out = path.join(dir, `out-${which.replace(/ /g, '-')}`);
    const log: string[] = [];
    // Plaintext: over MSE, libtorrent takes the torrent from the SKEY and answers with the hash asked for
    // (no BEP 52 upgrade), and this test is about the upgrade.
    const r = await download({ magnet, outDir: out, stallTimeoutMs: 20_000, log: (l) => log.push(l), encryption: 'plaintext' });
    expect(r, log.join("\n")).toMatchObject({ ok: true, hashFailures: 0, bytes: t.length });
    // libtorrent answers a v1 dial that set the v2 bit with the truncated v2 hash: the BEP 52 upgrade.
    expect(log.some((l) => l.includes('handshake upgraded to the v2 info-hash'))).toBe(which === 'btih and btmh');
    expect(log.some((l) => l.startsWith('metadata: '))).toBe(true);
    for (const [p] of FILES) {
      const got = await readFile(path.join(out, 'hymag', ...p));
      expect(got.equals(await readFile(path.join(dir, 'seed', 'hymag', ...p)))).toBe(true);
    }
  }, 50_000);

  it('a link whose v2 hash does not match the metadata is refused, nothing written', async () => {
    const wrongV2 = new Uint8Array(t.infoHashV2!);
    wrongV2[31] ^= 1; // only the last byte differs: the truncated hash on the wire is still the right one
    const magnet = `magnet:?xt=urn:btih:${toHex(t.infoHash!)}&xt=urn:btmh:1220${toHex(wrongV2)}&x.pe=127.0.0.1:${seed!.port}`;
    const out = path.join(dir, 'out-wrong');
    const err = (await download({ magnet, outDir: out, stallTimeoutMs: 10_000 }).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('no_metadata');
    expect(err.message).toContain(`not the v2 info-hash ${toHex(wrongV2)}`);
    expect(existsSync(path.join(out, 'hymag'))).toBe(false);
  }, 30_000);
});
