import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as net from 'node:net';
import * as path from 'node:path';
import { download } from '../../lib/engine/downloader.js';
import { havePeers } from '../helpers/peers.js';
import { startLtSeed } from '../helpers/lt-seed.js';
import { fixture, sameFiles } from '../engine/helpers.js';
import { toHex } from '../../lib/core/bytes.js';
import { handler as downloadHandler } from '../../tools/commands/download.js';
import { captureIo } from '../../tools/io.js';

const procs: ChildProcess[] = [];
let dir: string;

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });
}

/** libtorrent seeding (test/helpers/lt-seed.ts); resolves with its port once it is ready. */
async function ltSeed(torrentPath: string, dataDir: string): Promise<number> {
  const seed = await startLtSeed(torrentPath, dataDir);
  procs.push(seed.proc);
  return seed.port;
}

/** aria2c seeding; it needs a fixed port, so we pick a free one. */
async function ariaSeed(torrentPath: string, dataDir: string): Promise<number> {
  const port = await freePort();
  const p = spawn(
    'aria2c',
    [
      '--seed-ratio=0.0', '--check-integrity=true', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
      '--interface=127.0.0.1', `--listen-port=${port}`, '--bt-external-ip=127.0.0.1', '--quiet=true', `--dir=${dataDir}`, '--seed-time=60', torrentPath,
    ],
    { stdio: 'ignore' },
  );
  procs.push(p);
  // Ready when the port accepts connections (bounded).
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (ok) return port;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('aria2c did not listen within 10 s');
}

const haveAll = havePeers('libtorrent', 'aria2c');

describe.skipIf(!haveAll)('download from real seeders on loopback', () => {
  let fx: Awaited<ReturnType<typeof fixture>>;
  let torrentPath: string;
  let seedDir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-interop-dl-'));
    seedDir = path.join(dir, 'seed');
    fx = await fixture(seedDir, {
      name: 'interop',
      pieceLength: 65536,
      files: [
        { path: ['a.bin'], length: 1_500_000 },
        { path: ['dir', 'b.bin'], length: 2_000_001 },
        { path: ['c.txt'], length: 777 },
      ],
    });
    torrentPath = path.join(dir, 'interop.torrent');
    await writeFile(torrentPath, fx.bytes);
  });
  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('from libtorrent: byte-identical', async () => {
    const port = await ltSeed(torrentPath, seedDir);
    const out = path.join(dir, 'out-lt');
    const r = await download({ torrent: fx.torrent, outDir: out, peers: [{ host: '127.0.0.1', port }], stallTimeoutMs: 20_000 });
    expect(r.hashFailures).toBe(0);
    expect(r.bytes).toBe(fx.torrent.length);
    expect(await sameFiles(out, 'interop', fx.files)).toBe(true);
  }, 50_000);

  it('from aria2c: byte-identical', async () => {
    const port = await ariaSeed(torrentPath, seedDir);
    const out = path.join(dir, 'out-aria');
    const r = await download({ torrent: fx.torrent, outDir: out, peers: [{ host: '127.0.0.1', port }], stallTimeoutMs: 20_000 });
    expect(r.hashFailures).toBe(0);
    expect(await sameFiles(out, 'interop', fx.files)).toBe(true);
  }, 50_000);

  it('from a swarm of libtorrent + aria2c + libtorrent at once', async () => {
    const ports = [await ltSeed(torrentPath, seedDir), await ariaSeed(torrentPath, seedDir), await ltSeed(torrentPath, seedDir)];
    const out = path.join(dir, 'out-swarm');
    const r = await download({ torrent: fx.torrent, outDir: out, peers: ports.map((port) => ({ host: '127.0.0.1', port })), stallTimeoutMs: 20_000 });
    // 3.5 MB can finish before the slowest of three handshakes: at least two must have connected.
    expect(r.peers).toBeGreaterThanOrEqual(2);
    expect(r.hashFailures).toBe(0);
    expect(await sameFiles(out, 'interop', fx.files)).toBe(true);
  }, 50_000);

  it.each(['libtorrent', 'aria2c'] as const)('a magnet link from %s: metadata (BEP 9), then the data', async (client) => {
    const port = client === 'libtorrent' ? await ltSeed(torrentPath, seedDir) : await ariaSeed(torrentPath, seedDir);
    const out = path.join(dir, `out-magnet-${client}`);
    const io = captureIo();
    const magnet = `magnet:?xt=urn:btih:${toHex(fx.torrent.infoHash!)}&x.pe=127.0.0.1:${port}`;
    const code = await downloadHandler({ target: magnet, o: out, peer: [], 'frames-limit': 0, 'max-peers': 5, timeout: 20, 'full-check': false, json: true, io });
    expect(code).toBe(0);
    const summary = JSON.parse(io.text());
    expect(summary).toMatchObject({ ok: true, bytes: fx.torrent.length, hashFailures: 0 });
    expect(await sameFiles(out, 'interop', fx.files)).toBe(true);
  }, 50_000);
});
