import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { download } from '../../lib/engine/downloader.js';
import { startSeeder } from '../../lib/engine/seeder.js';
import { PeerConnection } from '../../lib/peer/peer-connection.js';
import { PeerError } from '../../lib/peer/peer-error.js';
import { makePeerId } from '../../lib/peer/identity.js';
import { encryptedDialer, type MseInfo } from '../../lib/transport/mse.js';
import { CRYPTO_RC4 } from '../../lib/mse/constants.js';
import { bytesEqual } from '../../lib/core/bytes.js';
import { havePeers, LIBTORRENT_PYTHON } from '../helpers/peers.js';
import { startLtSeed, type LtSeed } from '../helpers/lt-seed.js';
import { fixture, sameFiles } from '../engine/helpers.js';
import { runCompliance } from '../../lib/compliance/runner.js';

/**
 * MSE/PE against libtorrent 2.0.8 forced to encryption (in_enc_policy and
 * out_enc_policy forced, allowed_enc_level rc4): it drops plaintext, so every
 * byte that gets through went over btscope's MSE handshake and RC4.
 */
describe.skipIf(!havePeers('libtorrent'))('MSE/PE with libtorrent forced to RC4', () => {
  let dir: string;
  let seed: LtSeed;
  let fx: Awaited<ReturnType<typeof fixture>>;
  let torrentPath: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-mse-'));
    const seedDir = path.join(dir, 'seed');
    fx = await fixture(seedDir, { name: 'mse.bin', pieceLength: 65536, files: [{ path: ['mse.bin'], length: 1_000_003 }], single: true });
    torrentPath = path.join(dir, 'mse.torrent');
    await writeFile(torrentPath, fx.bytes);
    seed = await startLtSeed(torrentPath, seedDir, { encrypt: true });
  }, 60_000);
  afterAll(async () => {
    await seed?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const infoHash = (): Uint8Array => fx.torrent.infoHash!;

  it('plaintext is refused by the forced peer; MSE (require) handshakes and fetches a piece that hashes right', async () => {
    const plain = await PeerConnection.connect('127.0.0.1', seed.port, { infoHash: infoHash(), peerId: makePeerId(), handshakeTimeoutMs: 3000 }).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(PeerError);

    const seen: MseInfo[] = [];
    const conn = await PeerConnection.connect('127.0.0.1', seed.port, {
      infoHash: infoHash(),
      peerId: makePeerId(),
      dial: encryptedDialer('require', infoHash(), { onMse: (i) => seen.push(i) }),
    });
    try {
      expect(conn.session.transport.kind).toBe('mse/tcp');
      expect(seen).toHaveLength(1);
      expect(seen[0]!.cryptoSelect).toBe(CRYPTO_RC4);
      expect(conn.remoteClient.client).toMatch(/libtorrent/i);
      const piece = await conn.fetchPiece(1, 65536, { timeoutMs: 10_000 });
      const want = fx.torrent.pieces!.subarray(20, 40);
      expect(bytesEqual(createHash('sha1').update(piece).digest(), want)).toBe(true);
    } finally {
      conn.close();
    }
  });

  it('download --encryption require: the whole torrent, byte-identical, over RC4', async () => {
    const out = path.join(dir, 'out-require');
    let mse = 0;
    const r = await download({
      torrent: fx.torrent,
      outDir: out,
      peers: [{ host: '127.0.0.1', port: seed.port }],
      encryption: 'require',
      onMse: () => mse++,
      stallTimeoutMs: 20_000,
    });
    expect(r.bytes).toBe(1_000_003);
    expect(mse).toBeGreaterThanOrEqual(1);
    expect(await sameFiles(out, 'mse.bin', fx.files, true)).toBe(true);
  });

  it('download with the default policy (prefer) reaches the forced peer too', async () => {
    const out = path.join(dir, 'out-prefer');
    const r = await download({ torrent: fx.torrent, outDir: out, peers: [{ host: '127.0.0.1', port: seed.port }], stallTimeoutMs: 20_000 });
    expect(r.bytes).toBe(1_000_003);
    expect(await sameFiles(out, 'mse.bin', fx.files, true)).toBe(true);
  });

  it('btscope seed --encryption require serves libtorrent forced to RC4, byte-identical', async () => {
    let mse = 0;
    const counting = await startSeeder({ torrent: fx.torrent, dir: path.join(dir, 'seed'), encryption: 'require', onMse: () => mse++ });
    try {
      const out = path.join(dir, 'lt-out');
      await promisify(execFile)(LIBTORRENT_PYTHON, [path.resolve('test/helpers/lt_download.py'), torrentPath, out, `127.0.0.1:${counting.port}`, '--encrypt', '--timeout', '30'], { timeout: 40_000 });
      expect(await sameFiles(out, 'mse.bin', fx.files, true)).toBe(true);
      expect(mse).toBeGreaterThanOrEqual(1);
    } finally {
      await counting.close();
    }
  });

  it('comply --encryption require runs the checks over RC4: the forced peer handshakes and answers as in plaintext', async () => {
    const plain = await runCompliance(fx.torrent, { host: '127.0.0.1', port: seed.port, timeoutMs: 30_000, only: ['handshake', 'requests.valid'] });
    // Plaintext: libtorrent forced to encryption hangs up; nothing passes.
    expect(plain.passed).toBe(0);
    const enc = await runCompliance(fx.torrent, { host: '127.0.0.1', port: seed.port, timeoutMs: 30_000, only: ['handshake', 'requests.valid', 'mse'], encryption: 'require' });
    expect(enc.failed).toBe(0);
    for (const id of ['mse.handshake', 'mse.select', 'mse.wrong_skey', 'mse.rc4_stream']) expect([id, enc.checks.find((c) => c.id === id)?.result]).toEqual([id, 'pass']);
    expect(enc.checks.find((c) => c.id === 'requests.valid')?.result).toBe('pass');
    expect(enc.passed).toBeGreaterThanOrEqual(3);
  }, 60_000);
});
