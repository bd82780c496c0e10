import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { havePeers } from '../helpers/peers.js';
import { startOpentracker, type Opentracker } from './tracker-util.js';
import { startLtSeed, type LtSeed } from '../helpers/lt-seed.js';
import { captureIo } from '../../tools/io.js';
import * as metadataTool from '../../tools/commands/metadata.js';
import * as pieceTool from '../../tools/commands/piece.js';
import { torrentFromMetadata } from '../../lib/engine/metadata-fetch.js';
import { findPeers, resolveTarget } from '../../tools/peer-source.js';
import { makePeerId } from '../../lib/peer/identity.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { scrape } from '../../lib/tracker/client/announce.js';
import { startTracker, type RunningTracker } from '../../lib/tracker/server/index.js';
import { toHex } from '../../lib/core/bytes.js';

/**
 * No --peer: `piece` and `metadata` find a libtorrent seeder through a tracker
 * on loopback. opentracker lists the announcing peer in its answer, so btscope
 * gets its own entry back and must skip it; btscope's own tracker (UDP here)
 * leaves the requester out.
 */
const pieceLength = 1 << 16;

async function waitForSeeder(url: string, infoHash: Uint8Array, ms: number): Promise<void> {
  const until = Date.now() + ms;
  let last = '';
  for (let i = 0; i < 100 && Date.now() < until; i++) {
    try {
      const r = await scrape(url, [infoHash], { timeoutMs: 2000 });
      if ((r.files[0]?.complete ?? 0) >= 1) return;
      last = JSON.stringify(r.files[0] ?? null);
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the seeder did not show up at ${url} within ${ms} ms (last: ${last})`);
}

describe.skipIf(!havePeers('libtorrent', 'mktorrent', 'opentracker'))('peers from the target\'s trackers (no --peer), libtorrent seeding', () => {
  let dir: string;
  let data: Uint8Array;
  let info: Uint8Array;
  let infoHash: Uint8Array;
  const seeds: LtSeed[] = [];
  let ot: Opentracker | undefined;
  let ours: RunningTracker | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'btscope-wire-trk-'));
    data = new Uint8Array(randomBytes(3 * pieceLength + 999));
    writeFileSync(join(dir, 'data.bin'), data);
    // The info dict does not depend on the announce URL: make it once, wrap it per tracker.
    execFileSync('mktorrent', ['-l', '16', '-a', 'http://127.0.0.1:1/announce', '-o', join(dir, 'base.torrent'), join(dir, 'data.bin')], { stdio: 'ignore' });
    const base = parseTorrent(new Uint8Array(readFileSync(join(dir, 'base.torrent'))));
    info = base.info;
    infoHash = base.infoHash!;
  });
  afterAll(async () => {
    await Promise.all(seeds.map((s) => s.stop()));
    await ot?.stop();
    await ours?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function seedVia(url: string, name: string): Promise<{ torrentPath: string; port: number }> {
    const torrentPath = join(dir, `${name}.torrent`);
    writeFileSync(torrentPath, torrentFromMetadata(info, [url]));
    const seed = await startLtSeed(torrentPath, dir);
    seeds.push(seed);
    await waitForSeeder(url, infoHash, 20_000);
    return { torrentPath, port: seed.port };
  }

  it('opentracker echoes us back: piece skips our own entry and gets the piece from the seeder', async () => {
    ot = await startOpentracker([infoHash]);
    const { torrentPath, port } = await seedVia(ot.url, 'ot');
    const out = join(dir, 'p2.bin');
    const io = captureIo();
    expect(await pieceTool.handler({ target: torrentPath, index: 2, o: out, pipeline: 8, json: true, frames: false, timeout: 20, io })).toBe(0);
    const j = JSON.parse(io.text());
    expect(j.peer).toBe(`127.0.0.1:${port}`);
    expect(j.failures).toEqual([]);
    expect(j.skippedSelf).toHaveLength(1);
    expect(j.skippedSelf[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(j.skippedSelf[0]).not.toBe(`127.0.0.1:${port}`);
    expect(Buffer.compare(readFileSync(out), Buffer.from(data.subarray(2 * pieceLength, 3 * pieceLength)))).toBe(0);
  }, 50_000);

  it('findPeers: with our own addresses unknown the echo is returned, so the skip is what removes it', async () => {
    const target = await resolveTarget(join(dir, 'ot.torrent'));
    const all = await findPeers(target, { peerId: makePeerId(), timeoutMs: 5000, localAddresses: [] });
    const mine = await findPeers(target, { peerId: makePeerId(), timeoutMs: 5000 });
    expect(all.length).toBe(mine.length + 1);
    expect(mine.skippedSelf).toHaveLength(1);
  });

  it('metadata from a magnet whose only source is the tracker (tr=)', async () => {
    const out = join(dir, 'fetched.torrent');
    const io = captureIo();
    const magnet = `magnet:?xt=urn:btih:${toHex(infoHash)}&tr=${encodeURIComponent(ot!.url)}`;
    expect(await metadataTool.handler({ magnet, o: out, json: true, frames: false, timeout: 20, io })).toBe(0);
    const j = JSON.parse(io.text());
    expect(j.failures).toEqual([]);
    expect(j.skippedSelf).toHaveLength(1);
    const fetched = parseTorrent(new Uint8Array(readFileSync(out)));
    expect(toHex(fetched.info)).toBe(toHex(info));
    expect(fetched.trackers).toEqual([[ot!.url]]);
  }, 40_000);

  it('btscope\'s own tracker over UDP: the seeder is found, nothing to skip', async () => {
    ours = await startTracker({ http: false });
    const { torrentPath, port } = await seedVia(ours.udpUrl, 'ours');
    const out = join(dir, 'p3.bin');
    const io = captureIo();
    expect(await pieceTool.handler({ target: torrentPath, index: 3, o: out, pipeline: 8, json: true, frames: false, timeout: 20, io })).toBe(0);
    const j = JSON.parse(io.text());
    expect(j.peer).toBe(`127.0.0.1:${port}`);
    expect(j.skippedSelf).toEqual([]);
    expect(Buffer.compare(readFileSync(out), Buffer.from(data.subarray(3 * pieceLength)))).toBe(0);
    // The stopped announce took our entry out again: only the seeder is left.
    const swarm = ours.swarms.get(toHex(infoHash));
    expect(swarm?.list().map((p) => p.port)).toEqual([port]);
  }, 50_000);
});
