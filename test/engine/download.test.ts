import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { download } from '../../lib/engine/downloader.js';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { fixture, sameFiles } from './helpers.js';

let dir: string;
const seeders: RunningSeeder[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-dl-'));
});
afterEach(async () => {
  await Promise.all(seeders.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('download from btscope seeders on loopback', () => {
  it('single-file torrent, last piece short', async () => {
    const seedDir = path.join(dir, 'seed');
    const fx = await fixture(seedDir, { name: 'one.bin', pieceLength: 32768, files: [{ path: ['one.bin'], length: 300_001 }], single: true });
    const s = await startSeeder({ torrent: fx.torrent, dir: seedDir });
    seeders.push(s);
    const out = path.join(dir, 'out');
    const r = await download({ torrent: fx.torrent, outDir: out, peers: [{ host: '127.0.0.1', port: s.port }], stallTimeoutMs: 10_000 });
    expect(r.ok).toBe(true);
    expect(r.bytes).toBe(300_001);
    expect(r.hashFailures).toBe(0);
    expect(await sameFiles(out, 'one.bin', fx.files, true)).toBe(true);
  });

  it('multi-file torrent with pieces spanning files, pad files not written, an empty file created', async () => {
    const seedDir = path.join(dir, 'seed');
    const spec = {
      name: 'multi',
      pieceLength: 16384,
      pad: true,
      files: [
        { path: ['a.bin'], length: 5000 },
        { path: ['sub', 'b.bin'], length: 40_000 },
        { path: ['empty'], length: 0 },
        { path: ['sub', 'c.bin'], length: 70_000 },
      ],
    };
    const fx = await fixture(seedDir, spec);
    expect(fx.torrent.files.some((f) => f.pad)).toBe(true);
    const s = await startSeeder({ torrent: fx.torrent, dir: seedDir });
    seeders.push(s);
    const out = path.join(dir, 'out');
    const r = await download({ torrent: fx.torrent, outDir: out, peers: [{ host: '127.0.0.1', port: s.port }], stallTimeoutMs: 10_000 });
    expect(r.ok).toBe(true);
    expect(await sameFiles(out, 'multi', fx.files)).toBe(true);
    expect((await readdir(path.join(out, 'multi'))).sort()).toEqual(['a.bin', 'empty', 'sub']);
  });

  it('multi-file without padding: pieces span several files', async () => {
    const seedDir = path.join(dir, 'seed');
    const fx = await fixture(seedDir, {
      name: 'span',
      pieceLength: 65536,
      files: [1, 70_000, 3, 20_000, 100_000].map((length, i) => ({ path: [`f${i}`], length })),
    });
    const s = await startSeeder({ torrent: fx.torrent, dir: seedDir });
    seeders.push(s);
    const out = path.join(dir, 'out');
    await download({ torrent: fx.torrent, outDir: out, peers: [{ host: '127.0.0.1', port: s.port }], stallTimeoutMs: 10_000 });
    expect(await sameFiles(out, 'span', fx.files)).toBe(true);
  });

  it('from a swarm of three seeders at once, each sending data', async () => {
    const seedDir = path.join(dir, 'seed');
    const fx = await fixture(seedDir, { name: 'swarm.bin', pieceLength: 16384, files: [{ path: ['swarm.bin'], length: 4 * 1024 * 1024 }], single: true });
    for (let i = 0; i < 3; i++) seeders.push(await startSeeder({ torrent: fx.torrent, dir: seedDir }));
    const out = path.join(dir, 'out');
    const r = await download({
      torrent: fx.torrent,
      outDir: out,
      peers: seeders.map((s) => ({ host: '127.0.0.1', port: s.port })),
      stallTimeoutMs: 10_000,
    });
    expect(r.peers).toBe(3);
    expect(r.peersWithData).toBeGreaterThanOrEqual(2);
    expect(await sameFiles(out, 'swarm.bin', fx.files, true)).toBe(true);
  });

  it('a second run finds everything on disk and fetches nothing', async () => {
    const seedDir = path.join(dir, 'seed');
    const fx = await fixture(seedDir, { name: 'again.bin', pieceLength: 16384, files: [{ path: ['again.bin'], length: 100_000 }], single: true });
    const s = await startSeeder({ torrent: fx.torrent, dir: seedDir });
    seeders.push(s);
    const out = path.join(dir, 'out');
    const peers = [{ host: '127.0.0.1', port: s.port }];
    await download({ torrent: fx.torrent, outDir: out, peers, stallTimeoutMs: 10_000 });
    const again = await download({ torrent: fx.torrent, outDir: out, peers, stallTimeoutMs: 10_000 });
    expect(again.bytes).toBe(0);
    expect(again.resumedBytes).toBe(100_000);
    expect(again.checkedPieces).toBe(7);
  });

  it('stops with a clear error when no peer answers', async () => {
    const seedDir = path.join(dir, 'seed');
    const fx = await fixture(seedDir, { name: 'x', pieceLength: 16384, files: [{ path: ['x'], length: 10 }], single: true });
    const s = await startSeeder({ torrent: fx.torrent, dir: seedDir });
    const port = s.port;
    await s.close(); // nobody listens there now
    await expect(
      download({ torrent: fx.torrent, outDir: path.join(dir, 'out'), peers: [{ host: '127.0.0.1', port }], stallTimeoutMs: 1500 }),
    ).rejects.toMatchObject({ code: 'stalled' });
  });
});
