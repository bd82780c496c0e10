import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerConnection } from '../../lib/peer/peer-connection.js';
import { makePeerId } from '../../lib/peer/identity.js';
import { fetchMetadata } from '../../lib/engine/metadata-fetch.js';
import { fetchPieceLayers } from '../../lib/engine/piece-layer-fetch.js';
import { parseInfoDict } from '../../lib/metainfo/parse.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { havePeers } from '../helpers/peers.js';
import { startLtSeed, type LtSeed } from '../helpers/lt-seed.js';
import { ltMakeTorrent, writeDataset } from '../helpers/lt-make.js';
import { btscopeLines, btscopeSummary, startCapture } from './trace-util.js';

/**
 * The tracer on real BEP 52 traffic: a v2-only magnet's metadata, piece layer
 * (hash request / hashes) and pieces fetched from libtorrent over one
 * connection, captured with tcpdump. tshark does not know messages 21-23, so
 * the reference is the connection's own frame log: every message both ways,
 * counted by type, must be what `btscope trace --summary` finds in the capture.
 */
const PIECE = 16384;

describe.skipIf(!havePeers('libtorrent', 'tcpdump'))('trace: BEP 52 hash request / hashes from libtorrent, captured', () => {
  let dir: string;
  let t: Torrent;
  let seed: LtSeed | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'btscope-trace-v2-'));
    await writeDataset(join(dir, 'seed', 'tv2'), [[['big.bin'], 40 * PIECE + 123], [['small.bin'], 5000]], 91);
    t = await ltMakeTorrent(join(dir, 'seed', 'tv2'), join(dir, 'v2.torrent'), PIECE, 'v2');
    seed = await startLtSeed(join(dir, 'v2.torrent'), join(dir, 'seed'));
  }, 60_000);
  afterAll(async () => {
    await seed?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('every message type, both ways, counted as the live connection logged it; hash_request and hashes named', async () => {
    const pcap = join(dir, 'v2.pcap');
    const cap = await startCapture(pcap, [seed!.port]);
    const logged: Record<string, number> = {};
    const wire = t.infoHashV2!.subarray(0, 20);
    const conn = await PeerConnection.connect('127.0.0.1', seed!.port, {
      infoHash: wire,
      peerId: makePeerId(),
      onFrame: (f) => {
        const type = f.title.split(' ')[0]!;
        logged[type] = (logged[type] ?? 0) + 1;
      },
    });
    try {
      const r = await fetchMetadata(conn, wire, { timeoutMs: 10_000, infoHashV2: t.infoHashV2! });
      const layers = await fetchPieceLayers(conn, parseInfoDict(r.info), { timeoutMs: 10_000 });
      expect(layers.size).toBe(1);
      conn.setPieceCount(t.pieceCount);
      for (const index of [0, 39]) await conn.fetchPiece(index, PIECE, { timeoutMs: 10_000 });
    } finally {
      conn.close();
    }
    const capture = await cap.stop();
    expect(capture.droppedByKernel, 'tcpdump lost packets: the comparison would be meaningless').toBe(0);
    const ours = await btscopeSummary(pcap);
    expect(logged['hash_request']).toBeGreaterThanOrEqual(1);
    expect(logged['hashes']).toBe(logged['hash_request']);
    expect(ours.streams).toBe(1);
    expect(ours.messages).toEqual(logged);
    const lines = await btscopeLines(pcap, { type: ['hash_request', 'hashes'] });
    expect(lines.some((l) => / hash_request /.test(l))).toBe(true);
    expect(lines.some((l) => / hashes /.test(l))).toBe(true);
  }, 40_000);
});
