import { describe, expect, it } from 'vitest';
import { fixedGap, runCompliance } from '../../lib/compliance/runner.js';
import type { ScenarioName } from '../../lib/compliance/types.js';
import { makeTestTorrent, startBrokenPeer } from '../helpers/broken-peer.js';

const torrent = makeTestTorrent(2 * 32 * 1024 + 5000, 32 * 1024);
const FAST = { settleMs: 200, answerMs: 1000 };

describe('runner: spacing connections (betweenConnections)', () => {
  it('is awaited before every connection but the first, with the next scenario named', async () => {
    const peer = await startBrokenPeer(torrent);
    try {
      const calls: Array<{ next: ScenarioName; connections: number }> = [];
      const r = await runCompliance(torrent.target, {
        host: '127.0.0.1',
        port: peer.port,
        ...FAST,
        timeoutMs: 15_000,
        only: ['handshake.extended_bit', 'liveness.keepalive'],
        betweenConnections: async (next) => {
          calls.push({ next, connections: peer.connections });
          await fixedGap(50)();
        },
      });
      // main, plain, keepalive: two waits, each after the previous connection was made.
      expect(calls).toEqual([
        { next: 'plain', connections: 1 },
        { next: 'keepalive', connections: 2 },
      ]);
      expect(r.checks.map((c) => c.result)).toEqual(['pass', 'pass']);
    } finally {
      await peer.close();
    }
  }, 20_000);

  it('a wait that never ends is cut at the run deadline: the rest is skipped, not hung', async () => {
    const peer = await startBrokenPeer(torrent);
    try {
      const t0 = Date.now();
      const r = await runCompliance(torrent.target, {
        host: '127.0.0.1',
        port: peer.port,
        ...FAST,
        timeoutMs: 4000,
        only: ['handshake.protocol', 'fast.bit_off'],
        betweenConnections: () => new Promise<void>(() => undefined),
      });
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(r.checks.find((c) => c.id === 'handshake.protocol')!.result).toBe('pass');
      const off = r.checks.find((c) => c.id === 'fast.bit_off')!;
      expect(off.result).toBe('skip');
      expect(off.detail).toMatch(/plain/);
      expect(peer.connections).toBe(1);
    } finally {
      await peer.close();
    }
  }, 20_000);
});
