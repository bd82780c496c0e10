import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { encode } from '../../lib/bencode/encode.js';
import { parseInfoDict, parseTorrent } from '../../lib/metainfo/parse.js';
import { merkleRoot, rootFromPieceLayer, sha256, v2PieceHash } from '../../lib/metainfo/merkle.js';
import { deterministicBytes } from '../../tools/demo-data.js';
import { download } from '../../lib/engine/downloader.js';
import { makePeerId } from '../../lib/peer/identity.js';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { PeerConnection } from '../../lib/peer/peer-connection.js';
import { fetchPieceLayers } from '../../lib/engine/piece-layer-fetch.js';
import { bytesEqual, toHex } from '../../lib/core/bytes.js';
import { makeReserved, supportsV2 } from '../../lib/wire/handshake.js';
import type { Message } from '../../lib/wire/messages.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import type { Frame } from '../../lib/core/field.js';
import { WireClient } from './wire-client.js';
import { fixture } from './helpers.js';

/**
 * BEP 52 hash requests answered by btscope's seeder (swarm.ts): a v2-only
 * torrent with its piece layers, served over loopback to our own client.
 */
const PIECE = 32768;
const FILES: [string, number][] = [
  ['big.bin', PIECE * 37 + 999], // 38 pieces: padded layer of 64, 6 levels above it
  ['mid.bin', PIECE * 3], // 3 pieces: padded to 4
  ['small.bin', 9000], // one piece: no piece layer
];

/** A v2-only .torrent (file tree + piece layers) over deterministic data, written under `dir/hashserve`. */
async function v2Fixture(dir: string): Promise<Torrent> {
  const tree: Record<string, unknown> = {};
  const layers = new Map<Uint8Array, Uint8Array>();
  let seed = 90;
  for (const [name, length] of FILES) {
    const data = deterministicBytes(length, seed++);
    await mkdir(path.join(dir, 'hashserve'), { recursive: true });
    await writeFile(path.join(dir, 'hashserve', name), data);
    const pieces = Math.ceil(length / PIECE);
    const layer = new Uint8Array(pieces * 32);
    for (let p = 0; p < pieces; p++) layer.set(v2PieceHash(data.subarray(p * PIECE, (p + 1) * PIECE), PIECE, length), p * 32);
    const root = length > PIECE ? rootFromPieceLayer(layer, PIECE) : layer.subarray(0, 32);
    if (length > PIECE) layers.set(root, layer);
    tree[name] = { '': { length, 'pieces root': root } };
  }
  const info = { 'file tree': tree, 'meta version': 2, name: 'hashserve', 'piece length': PIECE };
  return parseTorrent(encode({ info, 'piece layers': layers } as never));
}

let dir: string;
let t: Torrent;
let seeder: RunningSeeder;
const frames: { title: string; direction: string }[] = [];
const log: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-hashserve-'));
  t = await v2Fixture(dir);
  seeder = await startSeeder({
    torrent: t,
    dir,
    onFrame: (f: Frame, d) => frames.push({ title: f.title, direction: d }),
    log: (l) => log.push(l),
  });
}, 30_000);

afterAll(async () => {
  await seeder?.close();
  await rm(dir, { recursive: true, force: true });
});

const file = (name: string) => t.files.find((f) => f.path[f.path.length - 1] === name)!;

describe('btscope seed answers BEP 52 hash requests', () => {
  it('the fixture is v2-only with two piece layers, all pieces verified by the seeder', () => {
    expect(t.infoHash).toBeNull();
    expect(t.pieceLayers.size).toBe(2);
    expect(seeder.swarm.complete).toBe(true);
  });

  it('our client (v2 bit) fetches every piece layer with fetchPieceLayers: they equal the torrent\'s', async () => {
    const bare = parseInfoDict(t.info); // as after a magnet: no layers
    expect(bare.pieceLayers.size).toBe(0);
    const conn = await PeerConnection.connect(seeder.host, seeder.port, {
      infoHash: t.infoHashV2!.subarray(0, 20),
      peerId: makePeerId(),
      reserved: makeReserved({ extended: true, fast: true, v2: true }),
      extended: false,
    });
    try {
      // The seeder's handshake says v2 (reserved[7] & 0x10): the connection is for a v2 hash.
      expect(supportsV2(conn.remote.reserved)).toBe(true);
      const layers = await fetchPieceLayers(conn, bare, { timeoutMs: 10_000 });
      expect([...layers.keys()].sort()).toEqual([...t.pieceLayers.keys()].sort());
      for (const [root, layer] of layers) expect(toHex(layer)).toBe(toHex(t.pieceLayers.get(root)!));
    } finally {
      conn.close();
    }
  }, 20_000);

  it('exactly one answer per request, in order: hashes with uncles that fold to the root, rejects that echo the request', async () => {
    const big = file('big.bin');
    const mid = file('mid.bin');
    const small = file('small.bin');
    const c = await WireClient.open(seeder.port, t.infoHashV2!.subarray(0, 20), { fast: true });
    try {
      const r = (o: Partial<Extract<Message, { type: 'hash_request' }>>) =>
        ({ type: 'hash_request', piecesRoot: big.piecesRoot!, baseLayer: 1, index: 0, length: 2, proofLayers: 0, ...o }) as const;
      const reqs = [
        r({ index: 8, length: 8, proofLayers: 5 }), // hashes + 3 uncles (levels 3, 4, 5)
        r({ baseLayer: 0, index: 0, length: 2 }), // the block layer: we keep no block hashes
        r({ index: 3, length: 2 }), // index not a multiple of length
        r({ index: 0, length: 2, proofLayers: 6 }), // above the root's children
        r({ piecesRoot: sha256(new Uint8Array([1])) }), // no such file
        r({ piecesRoot: small.piecesRoot! }), // one piece: no layer
        r({ piecesRoot: mid.piecesRoot!, index: 0, length: 4, proofLayers: 1 }), // the whole (padded) layer
        r({ index: 32, length: 32, proofLayers: 5 }), // the padded half: 6 real hashes and 26 pads, + 1 uncle
      ];
      const before = c.received.length;
      c.send(...reqs);
      const isAnswer = (m: Message) => m.type === 'hashes' || m.type === 'hash_reject';
      expect(await c.until(() => c.received.slice(before).filter(isAnswer).length >= reqs.length, 10_000)).toBe(true);
      // Let anything extra arrive: there must be none.
      await new Promise((res) => setTimeout(res, 200));
      const got = c.received.slice(before).filter(isAnswer);
      expect(got.map((m) => m.type)).toEqual(['hashes', 'hash_reject', 'hash_reject', 'hash_reject', 'hash_reject', 'hash_reject', 'hashes', 'hashes']);
      got.forEach((m, i) => {
        const q = reqs[i]!;
        expect(m).toMatchObject({ baseLayer: q.baseLayer, index: q.index, length: q.length, proofLayers: q.proofLayers });
        expect(toHex((m as { piecesRoot: Uint8Array }).piecesRoot)).toBe(toHex(q.piecesRoot));
      });
      // Fold each answer (hashes, then uncles, closest to the root last) up to its pieces root.
      const fold = (m: Message, root: Uint8Array, uncles: number) => {
        if (m.type !== 'hashes') throw new Error(m.type);
        expect(m.hashes.length / 32).toBe(m.length + uncles);
        let node = merkleRoot(m.hashes.subarray(0, m.length * 32), m.length);
        let at = m.index / m.length;
        for (let u = 0; u < uncles; u++) {
          const uncle = m.hashes.subarray((m.length + u) * 32, (m.length + u + 1) * 32);
          node = at % 2 === 0 ? sha256(node, uncle) : sha256(uncle, node);
          at >>= 1;
        }
        expect(bytesEqual(node, root)).toBe(true);
      };
      fold(got[0]!, big.piecesRoot!, 3);
      fold(got[6]!, mid.piecesRoot!, 0);
      fold(got[7]!, big.piecesRoot!, 1);
      const layer = t.pieceLayers.get(toHex(big.piecesRoot!))!;
      expect(toHex((got[0] as { hashes: Uint8Array }).hashes.subarray(0, 8 * 32))).toBe(toHex(layer.subarray(8 * 32, 16 * 32)));
      expect(log.some((l) => /hash reject \(index 0, length 2, base layer 0, proof layers 0\): base_layer: /.test(l))).toBe(true);
      expect(c.closed).toBe(false);
    } finally {
      c.socket.destroy();
    }
  }, 20_000);

  it('the answers went through the frame log like every other message (what --frames hashes shows)', () => {
    const out = frames.filter((f) => f.direction === 'out').map((f) => f.title.split(' ')[0]);
    const inn = frames.filter((f) => f.direction === 'in').map((f) => f.title.split(' ')[0]);
    // fetchPieceLayers: 2 files; the scripted client: 3 hashes + 5 rejects.
    expect(out.filter((x) => x === 'hashes').length).toBe(5);
    expect(out.filter((x) => x === 'hash_reject').length).toBe(5);
    expect(inn.filter((x) => x === 'hash_request').length).toBe(10);
  });
});

describe('a v1 torrent has no merkle trees', () => {
  it('btscope seed of a v1 torrent rejects a hash request (one answer, echoing it) and keeps the connection', async () => {
    const v1dir = await mkdtemp(path.join(tmpdir(), 'btscope-hashserve-v1-'));
    const { torrent } = await fixture(v1dir, { name: 'v1set', pieceLength: PIECE, files: [{ path: ['a.bin'], length: PIECE * 3 }] });
    const s = await startSeeder({ torrent, dir: v1dir });
    const c = await WireClient.open(s.port, torrent.infoHash!, { fast: true });
    try {
      // The v1 seeder's handshake does not set the v2 bit.
      expect(supportsV2(c.remote!.reserved)).toBe(false);
      const q = { type: 'hash_request', piecesRoot: sha256(new Uint8Array([2])), baseLayer: 1, index: 0, length: 2, proofLayers: 0 } as const;
      c.send(q);
      expect(await c.until(() => c.received.some((m) => m.type === 'hash_reject'), 5000)).toBe(true);
      await new Promise((res) => setTimeout(res, 100));
      const answers = c.received.filter((m) => m.type === 'hashes' || m.type === 'hash_reject');
      expect(answers).toHaveLength(1);
      expect(answers[0]).toMatchObject({ type: 'hash_reject', baseLayer: 1, index: 0, length: 2, proofLayers: 0 });
      expect(c.closed).toBe(false);
    } finally {
      c.socket.destroy();
      await s.close();
      await rm(v1dir, { recursive: true, force: true });
    }
  }, 20_000);

  it('btscope download of a urn:btmh magnet from btscope seed: metadata, both piece layers by hash request, data byte-identical', async () => {
    const out = path.join(dir, 'from-magnet');
    const dlLog: string[] = [];
    const r = await download({ magnet: `magnet:?xt=urn:btmh:1220${toHex(t.infoHashV2!)}&x.pe=127.0.0.1:${seeder.port}`, outDir: out, stallTimeoutMs: 10_000, log: (l) => dlLog.push(l) });
    expect(r, dlLog.join('\n')).toMatchObject({ ok: true, hashFailures: 0 });
    expect(dlLog).toContain(`piece layers: 2 file(s) from 127.0.0.1:${seeder.port}`);
    for (const [name] of FILES) {
      expect((await readFile(path.join(out, 'hashserve', name))).equals(await readFile(path.join(dir, 'hashserve', name)))).toBe(true);
    }
  }, 20_000);
});
