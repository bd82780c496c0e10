import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handler } from '../../tools/commands/trace.js';
import { captureIo } from '../../tools/io.js';
import { havePeers } from '../helpers/peers.js';
import { ltDownload, makeTorrent, startLtSeed, type LtSeed } from './trace-util.js';

/**
 * `btscope trace --listen --forward` between two real clients: a libtorrent
 * downloader pointed at the proxy, a libtorrent seeder behind it. The bytes
 * must pass unchanged (the download completes and equals the file), and the
 * printed messages must account for the whole transfer.
 */
describe.skipIf(!havePeers('libtorrent'))('trace live proxy between libtorrent peers', () => {
  let dir: string;
  let seed: LtSeed | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'btscope-trace-live-'));
  });
  afterAll(async () => {
    await seed?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a whole download through the proxy: files equal, one piece line per block, both handshakes named', async () => {
    const size = 512 * 1024;
    const t = await makeTorrent(join(dir, 'live'), 'live.bin', size, 15);
    seed = await startLtSeed(t.torrent, t.dataDir);
    const io = captureIo();
    const ac = new AbortController();
    const done = handler({ listen: 0, forward: `127.0.0.1:${seed.port}`, json: true, frames: false, summary: false, io, signal: ac.signal });
    try {
      for (let i = 0; i < 250 && !io.stderr.some((l) => l.startsWith('listening')); i++) await new Promise((r) => setTimeout(r, 20));
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(io.stderr.find((l) => l.startsWith('listening'))!)![1]);
      await ltDownload(t.torrent, join(dir, 'dl'), `127.0.0.1:${port}`);
      // The last lines may still be on their way out of the proxy.
      for (let i = 0; i < 100 && io.stdout.filter((l) => l.includes('"piece"')).length < size / 16384; i++) await new Promise((r) => setTimeout(r, 20));
    } finally {
      ac.abort();
      expect(await done).toBe(0);
    }
    expect((await readFile(join(dir, 'dl', 'live.bin'))).equals(t.data)).toBe(true);
    const msgs = io.stdout.flatMap((l) => l.split('\n')).filter(Boolean).map((l) => JSON.parse(l) as { type?: string; message?: string });
    const typeOf = (m: { type?: string; message?: string }) => m.message ?? m.type;
    expect(msgs.filter((m) => typeOf(m) === 'handshake')).toHaveLength(2);
    expect(msgs.filter((m) => typeOf(m) === 'piece')).toHaveLength(size / 16384);
    expect(msgs.filter((m) => typeOf(m) === 'request').length).toBeGreaterThanOrEqual(size / 16384);
  }, 60_000);

  it('MSE/PE between two libtorrents forced to RC4: --torrent terminates it both ways, the download completes, the decrypted messages are printed', async () => {
    const size = 256 * 1024;
    const t = await makeTorrent(join(dir, 'live-mse'), 'live-mse.bin', size, 15);
    const encSeed = await startLtSeed(t.torrent, t.dataDir, { encrypt: true });
    const io = captureIo();
    const ac = new AbortController();
    const done = handler({ listen: 0, forward: `127.0.0.1:${encSeed.port}`, torrent: t.torrent, json: true, frames: false, summary: false, io, signal: ac.signal });
    try {
      for (let i = 0; i < 250 && !io.stderr.some((l) => l.startsWith('listening')); i++) await new Promise((r) => setTimeout(r, 20));
      const line = io.stderr.find((l) => l.startsWith('listening'))!;
      expect(line).toContain('MSE/PE terminated');
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
      await ltDownload(t.torrent, join(dir, 'dl-mse'), `127.0.0.1:${port}`, { encrypt: true });
      for (let i = 0; i < 100 && io.stdout.filter((l) => l.includes('"piece"')).length < size / 16384; i++) await new Promise((r) => setTimeout(r, 20));
    } finally {
      ac.abort();
      await encSeed.stop();
      expect(await done).toBe(0);
    }
    expect((await readFile(join(dir, 'dl-mse', 'live-mse.bin'))).equals(t.data)).toBe(true);
    const msgs = io.stdout.flatMap((l) => l.split('\n')).filter(Boolean).map((l) => JSON.parse(l) as { type?: string; message?: string });
    const typeOf = (m: { type?: string; message?: string }) => m.message ?? m.type;
    expect(msgs.filter((m) => typeOf(m) === 'handshake')).toHaveLength(2);
    expect(msgs.filter((m) => typeOf(m) === 'piece')).toHaveLength(size / 16384);
  }, 60_000);
});
