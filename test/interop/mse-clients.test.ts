import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { download } from '../../lib/engine/downloader.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { havePeers } from '../helpers/peers.js';
import { stopChild } from '../helpers/child.js';
import { freePort, waitForTcp } from './tracker-util.js';
import { startTransmissionDaemon, TR_SEEDING, type TransmissionDaemon } from '../helpers/transmission-daemon.js';
import { startSeeder } from '../../lib/engine/seeder.js';
import { torrentFromMetadata } from '../../lib/engine/metadata-fetch.js';
import { fixture, sameFiles } from '../engine/helpers.js';

/**
 * Downloads over MSE/PE from clients that insist on it: aria2c with
 * --bt-require-crypto and arc4 as the minimum level, and transmission-daemon
 * with encryption required. Each refuses plaintext, so the bytes that arrive
 * came through btscope's MSE handshake and RC4.
 */
describe.skipIf(!havePeers('aria2c', 'transmission-daemon', 'transmission-create'))('MSE/PE with aria2c and transmission requiring it', () => {
  let dir: string;
  let data: Uint8Array;
  let torrentPath: string;
  const procs: ChildProcess[] = [];
  let tr: TransmissionDaemon | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-mse-clients-'));
    data = new Uint8Array(randomBytes(3 * 262144 + 4321));
    await writeFile(path.join(dir, 'enc.bin'), data);
    torrentPath = path.join(dir, 'enc.torrent');
    execFileSync('transmission-create', ['-o', torrentPath, '-s', '256', '-t', 'http://127.0.0.1:1/announce', path.join(dir, 'enc.bin')], { stdio: 'ignore', timeout: 20_000 });
  }, 30_000);
  afterAll(async () => {
    for (const p of procs) await stopChild(p);
    await tr?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('aria2c --bt-require-crypto --bt-min-crypto-level=arc4: download --encryption require, byte-identical', async () => {
    const port = await freePort();
    const p = spawn(
      'aria2c',
      [
        '--seed-ratio=0.0', '--check-integrity=true', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
        '--bt-require-crypto=true', '--bt-min-crypto-level=arc4',
        '--interface=127.0.0.1', `--listen-port=${port}`, '--bt-external-ip=127.0.0.1', '--quiet=true', `--dir=${dir}`, '--seed-time=60', torrentPath,
      ],
      { stdio: 'ignore' },
    );
    procs.push(p);
    await waitForTcp(port, 15_000);
    const out = path.join(dir, 'out-aria');
    let mse = 0;
    const r = await download({ torrent: parseTorrent(new Uint8Array(await readFile(torrentPath))), outDir: out, peers: [{ host: '127.0.0.1', port }], encryption: 'require', onMse: () => mse++, stallTimeoutMs: 30_000, timeoutMs: 45_000 });
    expect(r).toMatchObject({ ok: true, bytes: data.length, hashFailures: 0 });
    expect(mse).toBeGreaterThanOrEqual(1);
    expect((await readFile(path.join(out, 'enc.bin'))).equals(Buffer.from(data))).toBe(true);
  }, 60_000);

  it('transmission-daemon with encryption required: download --encryption require, byte-identical', async () => {
    tr = await startTransmissionDaemon(dir, { encryption: 'required' });
    await tr.rpc('torrent-add', { metainfo: (await readFile(torrentPath)).toString('base64'), 'download-dir': dir });
    await tr.waitStatus((s) => s.status === TR_SEEDING && s.percentDone === 1, 20_000, 'seeding');
    const out = path.join(dir, 'out-tr');
    let mse = 0;
    const r = await download({ torrent: parseTorrent(new Uint8Array(await readFile(torrentPath))), outDir: out, peers: [{ host: '127.0.0.1', port: tr.peerPort }], encryption: 'require', onMse: () => mse++, stallTimeoutMs: 30_000, timeoutMs: 50_000 });
    expect(r).toMatchObject({ ok: true, bytes: data.length, hashFailures: 0 });
    expect(mse).toBeGreaterThanOrEqual(1);
    expect((await readFile(path.join(out, 'enc.bin'))).equals(Buffer.from(data))).toBe(true);
  }, 60_000);

  it('btscope seed --encryption require dials transmission-daemon (encryption required), which downloads byte-identical', async () => {
    const seedDir = path.join(dir, 'seed-for-tr');
    const fx = await fixture(seedDir, { name: 'seedme', pieceLength: 65536, files: [{ path: ['a.bin'], length: 700_000 }], seed: 11 });
    const out = path.join(dir, 'tr-from-seed');
    tr ??= await startTransmissionDaemon(dir, { encryption: 'required' });
    await tr.rpc('torrent-add', { metainfo: Buffer.from(torrentFromMetadata(fx.torrent.info)).toString('base64'), 'download-dir': out });
    let mse = 0;
    const seeder = await startSeeder({ torrent: fx.torrent, dir: seedDir, encryption: 'require', onMse: () => mse++, connectTo: [{ host: '127.0.0.1', port: tr.peerPort }] });
    try {
      await waitFor(async () => (await sameFiles(out, 'seedme', fx.files)), 40_000, 'transmission to complete');
      expect(mse).toBeGreaterThanOrEqual(1);
      expect(seeder.swarm.uploaded.total).toBeGreaterThanOrEqual(fx.torrent.length);
    } finally {
      await seeder.close();
    }
  }, 60_000);
});

/** Poll (bounded) until `ok()`. */
async function waitFor(ok: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  for (let i = 0; i < 1000 && Date.now() < until; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${ms} ms`);
}
