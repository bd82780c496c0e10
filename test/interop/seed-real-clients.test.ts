import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { torrentFromMetadata } from '../../lib/engine/metadata-fetch.js';
import { startTracker, type RunningTracker } from '../../lib/tracker/server/index.js';
import { toHex } from '../../lib/core/bytes.js';
import { trackerAnnounce } from '../../tools/shared.js';
import { havePeers } from '../helpers/peers.js';
import { stopChild } from '../helpers/child.js';
import { startTransmissionDaemon, TR_SEEDING, type TransmissionDaemon } from '../helpers/transmission-daemon.js';
import { fixture, sameFiles } from '../engine/helpers.js';
import { waitForLine } from './trace-util.js';

/**
 * `btscope seed` as the only seeder for real downloaders: aria2c finds it
 * through btscope's tracker (both announce there), transmission-daemon is
 * dialled by the seeder (`connectTo`: transmission does not dial 127.0.0.1
 * peers). Each must end with the files byte for byte, every byte from us.
 * (libtorrent downloading from btscope seed: test/interop/download-v2.test.ts
 * and bench/download.ts.)
 */
let dir: string;
const seeders: RunningSeeder[] = [];
let tracker: RunningTracker | undefined;
let tr: TransmissionDaemon | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-seed-real-'));
});
afterAll(async () => {
  await Promise.all(seeders.map((s) => s.close()));
  await tr?.stop();
  await tracker?.close();
  await rm(dir, { recursive: true, force: true });
});

const files = [
  { path: ['a.bin'], length: 1_200_000 },
  { path: ['sub', 'b.bin'], length: 345_678 },
];

describe.skipIf(!havePeers('aria2c'))('aria2c downloads from btscope seed', () => {
  it('through btscope\'s tracker: byte-identical, every byte uploaded by btscope', async () => {
    tracker = await startTracker({ host: '127.0.0.1', port: 0, interval: 5 });
    const seedDir = path.join(dir, 'aria-seed');
    const fx = await fixture(seedDir, { name: 'seedme', pieceLength: 65536, files });
    const torrentPath = path.join(dir, 'aria.torrent');
    await writeFile(torrentPath, torrentFromMetadata(fx.torrent.info, [tracker.url]));
    const seeder = await startSeeder({ torrent: fx.torrent, dir: seedDir, host: '127.0.0.1', port: 0, trackers: [[tracker.url]], announce: trackerAnnounce });
    seeders.push(seeder);
    const out = path.join(dir, 'aria-out');
    const child = spawn(
      'aria2c',
      ['--dir', out, '--seed-time=0', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--interface=127.0.0.1', '--bt-stop-timeout=20', '--summary-interval=0', '--console-log-level=warn', torrentPath],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      await waitForLine(child, /Download complete|download completed/, 40_000, 'aria2c');
    } finally {
      await stopChild(child);
    }
    expect(await sameFiles(out, 'seedme', fx.files)).toBe(true);
    expect(seeder.swarm.uploaded.total).toBeGreaterThanOrEqual(fx.torrent.length);
    expect(seeder.peersServed()).toBeGreaterThanOrEqual(1);
  }, 50_000);
});

describe.skipIf(!havePeers('transmission-daemon'))('transmission-daemon downloads from btscope seed', () => {
  it('dialled by the seeder: byte-identical, every byte uploaded by btscope', async () => {
    const seedDir = path.join(dir, 'tr-seed');
    const fx = await fixture(seedDir, { name: 'seedme', pieceLength: 65536, files, seed: 7 });
    const out = path.join(dir, 'tr-out');
    tr = await startTransmissionDaemon(dir);
    await tr.rpc('torrent-add', { metainfo: Buffer.from(torrentFromMetadata(fx.torrent.info)).toString('base64'), 'download-dir': out });
    const seeder = await startSeeder({ torrent: fx.torrent, dir: seedDir, host: '127.0.0.1', port: 0, connectTo: [{ host: '127.0.0.1', port: tr.peerPort }] });
    seeders.push(seeder);
    await tr.waitStatus((s) => s.status === TR_SEEDING && s.percentDone === 1, 40_000, `complete (${toHex(fx.torrent.infoHash!)})`);
    expect(await sameFiles(out, 'seedme', fx.files)).toBe(true);
    expect(seeder.swarm.uploaded.total).toBeGreaterThanOrEqual(fx.torrent.length);
  }, 55_000);
});
