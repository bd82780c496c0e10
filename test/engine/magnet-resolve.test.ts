import { afterEach, describe, expect, it } from 'vitest';
import { resolveMagnet } from '../../lib/engine/magnet-resolve.js';
import { makePeerId } from '../../lib/peer/identity.js';
import { BtscopeError } from '../../lib/core/errors.js';
import type { MagnetLink } from '../../lib/metainfo/types.js';
import { parseMagnet } from '../../lib/magnet/parse.js';
import { behaviors, hostilePeerPool } from '../helpers/hostile-peer.js';

/**
 * resolveMagnet's time bounds: the per-peer limit alone would let 20 silent
 * peers hold a magnet for 20 × 30 s; `deadlineMs` bounds the whole search and
 * `signal` stops it, each with an error that says so.
 */
const pool = hostilePeerPool({ timeoutMs: 20_000 });
afterEach(() => pool.closeAll());

const magnet = (): MagnetLink => parseMagnet(`magnet:?xt=urn:btih:${'ab'.repeat(20)}`);

async function silentPeers(n: number): Promise<{ host: string; port: number }[]> {
  const out: { host: string; port: number }[] = [];
  for (let i = 0; i < n; i++) out.push({ host: '127.0.0.1', port: (await pool.start(behaviors.silence())).port });
  return out;
}

describe('resolveMagnet time bounds', () => {
  it('deadlineMs bounds the whole search: three silent peers, 30 s each allowed, given up at 1.5 s', async () => {
    const peers = await silentPeers(3);
    const started = performance.now();
    const err = (await resolveMagnet({ magnet: magnet(), peers, peerId: makePeerId(), timeoutMs: 30_000, deadlineMs: 1500 }).catch((e: unknown) => e)) as BtscopeError;
    const took = performance.now() - started;
    expect(err).toBeInstanceOf(BtscopeError);
    expect(err.code).toBe('no_metadata');
    expect(err.message).toContain('gave up after 1.5 s');
    // The first peer's handshake wait was cut to what was left; the others were never dialled.
    expect(err.message).toContain(`127.0.0.1:${peers[0]!.port}`);
    expect(err.message).not.toContain(`127.0.0.1:${peers[2]!.port}`);
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(10_000);
  });

  it('signal: an abort closes the peer being asked and throws aborted', async () => {
    const peers = await silentPeers(2);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const started = performance.now();
    const err = (await resolveMagnet({ magnet: magnet(), peers, peerId: makePeerId(), timeoutMs: 30_000, signal: ac.signal }).catch((e: unknown) => e)) as BtscopeError;
    expect(err).toBeInstanceOf(BtscopeError);
    expect(err.code).toBe('aborted');
    // Not the 10 s handshake wait of the peer being dialled, nor the second peer.
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
