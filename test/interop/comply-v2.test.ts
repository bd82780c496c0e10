import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCompliance } from '../../lib/compliance/runner.js';
import type { ComplianceReport } from '../../lib/compliance/types.js';
import { startSeeder } from '../../lib/engine/seeder.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { ltMakeTorrent, writeDataset } from '../helpers/lt-make.js';
import { startLtSeed, type LtSeed } from '../helpers/lt-seed.js';
import { havePeers } from '../helpers/peers.js';
import { summary } from './comply-util.js';

/**
 * The BEP 52 checks against real peers seeding a v2-only torrent libtorrent
 * made (a 5 MiB file in 256 KiB pieces: 20 pieces, a piece layer padded to
 * 32, so the answer carries padding hashes and an uncle): libtorrent 2.0 and
 * btscope's own seeder must both pass v2.hash_answer and v2.hash_invalid.
 */
const OPTS = { settleMs: 1000, answerMs: 4000, timeoutMs: 30_000 };
const PIECE = 256 * 1024;
let dir: string;
let data: string;
let torrentPath: string;
let torrent: Torrent;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-comply-v2-'));
  data = path.join(dir, 'data');
  await writeDataset(data, [[['big.bin'], 5 * 1024 * 1024 + 4321], [['small.txt'], 1000]], 52);
  torrentPath = path.join(dir, 'v2.torrent');
  if (havePeers('libtorrent')) torrent = await ltMakeTorrent(path.join(data), torrentPath, PIECE, 'v2');
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const verdict = (r: ComplianceReport, id: string) => r.checks.find((c) => c.id === id)!;

describe.skipIf(!havePeers('libtorrent'))('comply v2 (BEP 52) against real peers', () => {
  it('libtorrent 2.0 seeding a v2-only torrent: hashes right, invalid requests rejected, but a length of 3 answered', async () => {
    let seed: LtSeed | undefined;
    try {
      seed = await startLtSeed(torrentPath, dir);
      const r = await runCompliance(torrent, { host: '127.0.0.1', port: seed.port, ...OPTS, only: ['v2', 'requests.valid'] });
      // Pieces of a v2-only torrent are checked against their BEP 52 merkle hashes.
      expect(verdict(r, 'requests.valid').result, verdict(r, 'requests.valid').detail).toBe('pass');
      expect(verdict(r, 'requests.valid').detail).toMatch(/[1-9]\d* pieces? hash-checked/);
      console.log(summary('libtorrent v2-only', r) + r.checks.map((c) => `  ${c.id}: ${c.detail}`).join('\n'));
      expect(verdict(r, 'v2.hash_answer').result, summary('lt', r)).toBe('pass');
      // The 21-piece layer is padded to 32: hashes 16..31 are 5 real and 11 padding hashes, and one uncle.
      expect(verdict(r, 'v2.hash_answer').detail).toMatch(/^16 hashes = the piece layer, 1 uncle fold to the pieces root/);
      // libtorrent 2.0.8 rejects a request past the layer and an unknown root, but answers length 3 with 3 hashes.
      const inv = verdict(r, 'v2.hash_invalid');
      expect(inv.result, inv.detail).toBe('warn');
      expect(inv.detail).toMatch(/answered with 3 hashes though length 3 is not a power of two/);
      expect(inv.detail).toMatch(/rejected: index 32 is past the padded piece layer.*no file of the torrent/);
      expect(verdict(r, 'v2.reserved_bit').result).toBe('skip');
    } finally {
      await seed?.stop();
    }
  }, 60_000);

  it('btscope seed of the same torrent passes both hash checks', async () => {
    const seeder = await startSeeder({ torrent, dir, host: '127.0.0.1', port: 0 });
    try {
      const r = await runCompliance(torrent, { host: '127.0.0.1', port: seeder.port, ...OPTS, only: ['v2', 'requests.valid'] });
      expect(verdict(r, 'requests.valid').detail).toMatch(/[1-9]\d* pieces? hash-checked/);
      console.log(summary('btscope seed v2-only', r) + r.checks.map((c) => `  ${c.id}: ${c.detail}`).join('\n'));
      expect(verdict(r, 'v2.hash_answer').result, summary('seed', r)).toBe('pass');
      expect(verdict(r, 'v2.hash_invalid').result, summary('seed', r)).toBe('pass');
      expect(verdict(r, 'v2.hash_invalid').detail).toMatch(/rejected: .*index 32.*length 3.*no file of the torrent/);
    } finally {
      await seeder.close();
    }
  }, 60_000);

  it('a hybrid: libtorrent 2.0.8 does not set the v2 bit on the v1 info-hash, so no hash request is sent', async () => {
    const hybridPath = path.join(dir, 'hybrid.torrent');
    const hybrid = await ltMakeTorrent(data, hybridPath, PIECE, 'hybrid');
    let seed: LtSeed | undefined;
    try {
      seed = await startLtSeed(hybridPath, dir);
      const r = await runCompliance(hybrid, { host: '127.0.0.1', port: seed.port, ...OPTS, only: ['v2'] });
      console.log(summary('libtorrent hybrid', r));
      expect(verdict(r, 'v2.reserved_bit').result, summary('hybrid', r)).toBe('warn');
      expect(verdict(r, 'v2.hash_answer').result).toBe('skip');
      expect(verdict(r, 'v2.hash_answer').detail).toMatch(/did not set the v2 reserved bit/);
      const s = r.sessions.find((x) => x.scenario === 'v2_hashes')!;
      expect(s.handshake?.reserved[7]! & 0x10).toBe(0);
    } finally {
      await seed?.stop();
    }
  }, 60_000);

  it('a v1 torrent: the v2 checks skip without connecting', async () => {
    const v1 = await ltMakeTorrent(data, path.join(dir, 'v1.torrent'), PIECE, 'v1');
    // Port 1 on loopback: nothing listens, and nothing must be dialled.
    const r = await runCompliance(v1, { host: '127.0.0.1', port: 1, ...OPTS, only: ['v2'] });
    expect(r.checks.map((c) => [c.id, c.result])).toEqual([
      ['v2.hash_answer', 'skip'],
      ['v2.hash_invalid', 'skip'],
      ['v2.reserved_bit', 'skip'],
    ]);
    expect(verdict(r, 'v2.hash_answer').detail).toMatch(/v1 torrent/);
  }, 30_000);
});
