import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCompliance } from '../../lib/compliance/runner.js';
import type { CheckResult } from '../../lib/compliance/types.js';
import { havePeers } from '../helpers/peers.js';
import { startTransmissionDaemon, TR_SEEDING, type TransmissionDaemon } from '../helpers/transmission-daemon.js';
import { COMPLY_TORRENT as T, expectCore, result, summary } from './comply-util.js';

/**
 * The checker against transmission-daemon 3.00 seeding on loopback. It keys
 * peers by IP: a new connection from 127.0.0.1 is closed while the previous one
 * is still listed, so the runner waits (betweenConnections) until the RPC
 * lists no peer. It unchokes on a 10 s timer, so answers wait up to 12 s and
 * the battery is split over several tests (each under 60 s) on one daemon.
 */
describe.skipIf(!havePeers('transmission-daemon'))('comply vs transmission-daemon 3.00', () => {
  let dir: string;
  let tr: TransmissionDaemon;
  const all: CheckResult[] = [];
  const opts = () => ({
    host: '127.0.0.1',
    port: tr.peerPort,
    settleMs: 1500,
    answerMs: 12_000,
    timeoutMs: 52_000,
    betweenConnections: () => tr.waitStatus((s) => s.peersConnected === 0, 10_000, 'no peer listed'),
  });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-comply-tr-'));
    const torrentPath = path.join(dir, 't.torrent');
    await writeFile(torrentPath, T.torrentFile);
    await writeFile(path.join(dir, 'comply-test.bin'), T.data);
    tr = await startTransmissionDaemon(dir);
    await tr.rpc('torrent-add', { metainfo: Buffer.from(T.torrentFile).toString('base64'), 'download-dir': dir });
    await tr.waitStatus((s) => s.status === TR_SEEDING && s.percentDone === 1, 30_000, 'seeding');
  }, 50_000);
  afterAll(async () => {
    await tr?.stop();
    process.stderr.write(summary('transmission 3.00', { checks: all }));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function run(only: string[]): Promise<CheckResult[]> {
    // A connection from the previous test may still be listed.
    await tr.waitStatus((s) => s.peersConnected === 0, 10_000, 'no peer listed');
    const r = await runCompliance(T.target, { ...opts(), only });
    all.push(...r.checks);
    process.stderr.write(summary(`transmission 3.00 (${only.join(', ')})`, r));
    return [...r.checks];
  }

  it('main and plain connections: handshake, ordering, bitfield, valid requests, extensions, fast', async () => {
    const checks = await run(['handshake', 'ordering', 'bitfield', 'requests.valid', 'requests.choked', 'liveness.wellformed', 'extended', 'ut_metadata', 'ut_pex', 'fast']);
    expectCore(checks);
  }, 58_000);

  it('cancel', async () => {
    const checks = await run(['requests.cancel']);
    expect(result(checks, 'requests.cancel')).toBeDefined();
    expect(result(checks, 'requests.cancel')).not.toBe('skip');
  }, 58_000);

  it('keep-alive and unknown id', async () => {
    const checks = await run(['liveness.keepalive', 'liveness.unknown_id']);
    expect(checks.filter((c) => c.result === 'skip')).toEqual([]);
  }, 58_000);

  it('bad requests: oversize, beyond the piece, bad index', async () => {
    const checks = await run(['requests.oversize', 'requests.beyond_piece', 'requests.bad_index']);
    expect(checks.filter((c) => c.result === 'skip')).toEqual([]);
  }, 58_000);
});
