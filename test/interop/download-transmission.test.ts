import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { download } from '../../lib/engine/downloader.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { toHex } from '../../lib/core/bytes.js';
import { havePeers } from '../helpers/peers.js';
import { startTransmissionDaemon, TR_SEEDING, type TransmissionDaemon } from '../helpers/transmission-daemon.js';

/**
 * A download from transmission-daemon 3.00 seeding on loopback. It unchokes on
 * its 10-second rechoke timer and uploads slowly here, so the torrent is small
 * (1.1 MiB); the whole test stays well under a minute. (Transmission as a
 * downloader is not tested: it never dials 127.0.0.1 peers a tracker gives it.)
 */
describe.skipIf(!havePeers('transmission-daemon', 'transmission-create'))('download from transmission-daemon', () => {
  let dir: string;
  let tr: TransmissionDaemon | undefined;
  let data: Uint8Array;
  let torrentPath: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-dl-tr-'));
    data = new Uint8Array(randomBytes(4 * 262144 + 54321));
    await writeFile(path.join(dir, 'tr.bin'), data);
    torrentPath = path.join(dir, 'tr.torrent');
    execFileSync('transmission-create', ['-o', torrentPath, '-s', '256', '-t', 'http://127.0.0.1:1/announce', path.join(dir, 'tr.bin')], { stdio: 'ignore', timeout: 20_000 });
    tr = await startTransmissionDaemon(dir);
    await tr.rpc('torrent-add', { metainfo: (await readFile(torrentPath)).toString('base64'), 'download-dir': dir });
    await tr.waitStatus((s) => s.status === TR_SEEDING && s.percentDone === 1, 20_000, 'seeding');
  }, 45_000);
  afterAll(async () => {
    await tr?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('byte-identical, every piece verified', async () => {
    const t = parseTorrent(new Uint8Array(await readFile(torrentPath)));
    const out = path.join(dir, 'out');
    const r = await download({ torrent: t, outDir: out, peers: [{ host: '127.0.0.1', port: tr!.peerPort }], stallTimeoutMs: 30_000, timeoutMs: 45_000 });
    expect(r).toMatchObject({ ok: true, bytes: data.length, hashFailures: 0, peersWithData: 1 });
    expect((await readFile(path.join(out, 'tr.bin'))).equals(Buffer.from(data))).toBe(true);
  }, 55_000);

  it('a magnet link: metadata from transmission (BEP 9), then the data', async () => {
    const t = parseTorrent(new Uint8Array(await readFile(torrentPath)));
    const out = path.join(dir, 'out-magnet');
    // transmission keeps one record per peer IP and swarm, and once 127.0.0.1 completed a download
    // (the test above) it counts it a seed and never unchokes it again: a fresh swarm, by taking the
    // torrent out and adding it again (its data stays and is re-checked).
    await tr!.rpc('torrent-remove', { ids: [toHex(t.infoHash!)], 'delete-local-data': false });
    await tr!.rpc('torrent-add', { metainfo: (await readFile(torrentPath)).toString('base64'), 'download-dir': dir });
    await tr!.waitStatus((s) => s.status === TR_SEEDING && s.percentDone === 1 && s.peersConnected === 0, 20_000, 'seeding again');
    const magnet = `magnet:?xt=urn:btih:${toHex(t.infoHash!)}&x.pe=127.0.0.1:${tr!.peerPort}`;
    const log: string[] = [];
    const r = await download({ magnet, outDir: out, stallTimeoutMs: 30_000, timeoutMs: 45_000, log: (l) => log.push(l) });
    expect(r, log.join('\n')).toMatchObject({ ok: true, bytes: data.length, hashFailures: 0 });
    expect(log.some((l) => l.startsWith('metadata: '))).toBe(true);
    expect((await readFile(path.join(out, 'tr.bin'))).equals(Buffer.from(data))).toBe(true);
  }, 55_000);
});
