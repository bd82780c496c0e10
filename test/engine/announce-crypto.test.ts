import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { download } from '../../lib/engine/downloader.js';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { buildAnnounceUrl, decodeAnnounceQuery } from '../../lib/tracker/http-announce.js';
import { fixture } from './helpers.js';

let dir: string;
const seeders: RunningSeeder[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-announce-crypto-'));
});
afterEach(async () => {
  await Promise.all(seeders.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('announces say what MSE/PE we speak (supportcrypto / requirecrypto)', () => {
  it('the HTTP announce URL carries the keys, and a tracker reads them back', () => {
    const req = { infoHash: new Uint8Array(20).fill(1), peerId: new Uint8Array(20).fill(2), port: 6881, uploaded: 0, downloaded: 0, left: 5 };
    const target = (u: string): string => u.slice(u.indexOf('/announce'));
    expect(buildAnnounceUrl('http://127.0.0.1:1/announce', req)).not.toContain('crypto');
    const support = decodeAnnounceQuery(target(buildAnnounceUrl('http://127.0.0.1:1/announce', { ...req, crypto: 'support' })));
    expect(support.value.params.map((p) => p.key)).toContain('supportcrypto');
    expect(support.value.params.map((p) => p.key)).not.toContain('requirecrypto');
    const require = decodeAnnounceQuery(target(buildAnnounceUrl('http://127.0.0.1:1/announce', { ...req, crypto: 'require' })));
    expect(require.value.params.filter((p) => /crypto/.test(p.key)).map((p) => p.key).sort()).toEqual(['requirecrypto', 'supportcrypto']);
  });

  it('download and seed announce with the key of their policy (prefer: support, require: require, plaintext: none)', async () => {
    const seedDir = path.join(dir, 'seed');
    const fx = await fixture(seedDir, { name: 'c.bin', pieceLength: 16384, files: [{ path: ['c.bin'], length: 40_000 }], single: true });
    const seen: Record<string, Array<string | undefined>> = {};
    const announcer = (who: string) => async (_url: string, req: { crypto?: string }) => {
      (seen[who] ??= []).push(req.crypto);
      return { interval: 60, peers: [] };
    };
    const s = await startSeeder({ torrent: fx.torrent, dir: seedDir, trackers: [['http://127.0.0.1:1/announce']], announce: announcer('seed'), encryption: 'require' });
    seeders.push(s);
    for (const encryption of ['prefer', 'require'] as const) {
      const r = await download({ torrent: fx.torrent, outDir: path.join(dir, `out-${encryption}`), peers: [{ host: '127.0.0.1', port: s.port }], trackers: [['http://127.0.0.1:1/announce']], announce: announcer(encryption), encryption, stallTimeoutMs: 10_000 });
      expect(r.bytes).toBe(40_000);
    }
    // Plaintext: nothing said (the seeder requires MSE, so no data either; the announce is what counts here).
    await download({ torrent: fx.torrent, outDir: path.join(dir, 'out-plain'), peers: [], trackers: [['http://127.0.0.1:1/announce']], announce: announcer('plaintext'), encryption: 'plaintext', stallTimeoutMs: 300 }).catch(() => undefined);
    expect(seen['seed']![0]).toBe('require');
    expect(seen['prefer']![0]).toBe('support');
    expect(seen['require']![0]).toBe('require');
    expect(seen['plaintext']![0]).toBeUndefined();
  });
});
