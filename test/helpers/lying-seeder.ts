import { makeReserved } from '../../lib/wire/handshake.js';
import type { ScriptedConnection } from './hostile-peer.js';

/** What a lying seeder sent: blocks right and blocks corrupted. */
export interface LiarCounts {
  good: number;
  bad: number;
}

/**
 * A script for `startHostilePeer`: a seeder that answers every request at once
 * (fast and extended bits, have all, unchoke) and corrupts one block in
 * `every` (the n-th block it answers, n % every === 0), so a re-request of a
 * block may come back right, as a liar's might. With `rejectOddBlocks` it
 * rejects (BEP 6) requests for every second block, so every piece it sends
 * into also holds blocks from someone else. For smart ban tests.
 */
export function lyingSeeder(
  infoHash: Uint8Array,
  data: Uint8Array,
  pieceLength: number,
  every: number,
  counts: LiarCounts,
  opts: { rejectOddBlocks?: boolean } = {},
) {
  return async (c: ScriptedConnection): Promise<void> => {
    const hs = await c.readHandshake();
    if (!hs) return;
    await c.sendHandshake({ infoHash, reserved: makeReserved({ fast: true, extended: true }) });
    await c.send({ type: 'have_all' });
    await c.send({ type: 'unchoke' });
    let n = 0;
    for (;;) {
      const m = await c.readMessage();
      if (!m) return;
      if (m.type !== 'request') continue;
      if (opts.rejectOddBlocks && (m.begin / 16384) % 2 === 1) {
        await c.send({ type: 'reject_request', index: m.index, begin: m.begin, length: m.length });
        continue;
      }
      const start = m.index * pieceLength + m.begin;
      let block = data.subarray(start, start + m.length);
      if (n++ % every === 0) {
        block = block.map((b) => b ^ 0x5a);
        counts.bad++;
      } else counts.good++;
      await c.send({ type: 'piece', index: m.index, begin: m.begin, block });
    }
  };
}
