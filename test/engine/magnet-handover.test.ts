import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { download } from '../../lib/engine/downloader.js';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { toHex } from '../../lib/core/bytes.js';
import type { Frame } from '../../lib/core/field.js';
import { fixture, sameFiles } from './helpers.js';

let dir: string;
const seeders: RunningSeeder[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-handover-'));
});
afterEach(async () => {
  await Promise.all(seeders.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('a magnet download keeps the connection that gave the metadata', () => {
  it('one TCP connection to the only peer: metadata (BEP 9), then every piece, no redial', async () => {
    const seedDir = path.join(dir, 'seed');
    const fx = await fixture(seedDir, { name: 'm.bin', pieceLength: 32768, files: [{ path: ['m.bin'], length: 200_000 }], single: true });
    const s = await startSeeder({ torrent: fx.torrent, dir: seedDir });
    seeders.push(s);
    const out = path.join(dir, 'out');
    const handshakesOut: string[] = [];
    const firstOut: string[] = [];
    const onFrame = (f: Frame, d: string): void => {
      // The MSE/PE exchange (the default policy, prefer) comes first; the peer wire after it.
      if (d !== 'out' || f.title.startsWith('MSE/PE')) return;
      if (f.title === 'handshake') handshakesOut.push(f.title);
      else if (firstOut.length < 2) firstOut.push(f.title);
    };
    const r = await download({
      magnet: `magnet:?xt=urn:btih:${toHex(fx.torrent.infoHash!)}&x.pe=127.0.0.1:${s.port}`,
      outDir: out,
      stallTimeoutMs: 10_000,
      onFrame,
    });
    expect(r.ok).toBe(true);
    expect(r.bytes).toBe(200_000);
    expect(await sameFiles(out, 'm.bin', fx.files, true)).toBe(true);
    // The seeder saw exactly one connection, and we sent exactly one handshake.
    expect(s.peersServed()).toBe(1);
    expect(r.peers).toBe(1);
    expect(handshakesOut).toHaveLength(1);
    // BEP 6: have none is our first message, before the extended handshake (BEP 10).
    expect(firstOut).toEqual(['have_none', 'extended handshake']);
  });
});
