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
});
