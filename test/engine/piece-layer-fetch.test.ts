import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '../../lib/bencode/encode.js';
import { parseInfoDict } from '../../lib/metainfo/parse.js';
import { rootFromPieceLayer, v2PieceHash, zeroHash } from '../../lib/metainfo/merkle.js';
import { deterministicBytes } from '../../tools/demo-data.js';
import { makePeerId } from '../../lib/peer/identity.js';
import { fetchPieceLayers, layerRequests, withPieceLayers } from '../../lib/engine/piece-layer-fetch.js';
import { PeerConnection } from '../../lib/peer/peer-connection.js';
import { checkPieceLayers } from '../../lib/metainfo/piece-check.js';
import { toHex } from '../../lib/core/bytes.js';
import { makeReserved } from '../../lib/wire/handshake.js';
import type { Message } from '../../lib/wire/messages.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { startHostilePeer, type HostilePeer, type ScriptedConnection } from '../helpers/hostile-peer.js';

const PIECE = 32768;

/** A real v2-only info dict (BEP 52 file tree) over `files`, parsed; and each big file's true piece layer. */
function v2Torrent(files: [string, number][]): { t: Torrent; layers: Map<string, Uint8Array> } {
  const tree: Record<string, unknown> = {};
  const layers = new Map<string, Uint8Array>();
  files.forEach(([name, length], i) => {
    const data = deterministicBytes(length, 40 + i);
    const pieces = Math.ceil(length / PIECE);
    const layer = new Uint8Array(pieces * 32);
    for (let p = 0; p < pieces; p++) layer.set(v2PieceHash(data.subarray(p * PIECE, (p + 1) * PIECE), PIECE, length), p * 32);
    const root = length > PIECE ? rootFromPieceLayer(layer, PIECE) : layer.subarray(0, 32);
    if (length > PIECE) layers.set(toHex(root), layer);
    tree[name] = { '': { length, 'pieces root': root } };
  });
  const info = encode({ 'file tree': tree, 'meta version': 2, name: 'v2unit', 'piece length': PIECE } as never);
  return { t: parseInfoDict(info), layers };
}

/** The requested slice of `layer` padded with zero-subtree roots, as a seeder answers (BEP 52). */
function answerFor(m: Extract<Message, { type: 'hash_request' }>, layer: Uint8Array, tamper = false): Message {
  const hashes = new Uint8Array(m.length * 32);
  for (let i = 0; i < m.length; i++) {
    const at = (m.index + i) * 32;
    hashes.set(at < layer.length ? layer.subarray(at, at + 32) : zeroHash(m.baseLayer), i * 32);
  }
  if (tamper) hashes[40]! ^= 1;
  return { type: 'hashes', piecesRoot: m.piecesRoot, baseLayer: m.baseLayer, index: m.index, length: m.length, proofLayers: m.proofLayers, hashes };
}

/** A scripted v2 seeder that answers hash requests with `reply` and records them. */
function layerPeer(infoHash: Uint8Array, reply: (m: Extract<Message, { type: 'hash_request' }>) => Message, seen: Message[], reserved = makeReserved({ extended: true, fast: true })) {
  return async (c: ScriptedConnection): Promise<void> => {
    const hs = await c.readHandshake();
    if (!hs) return;
    await c.sendHandshake({ infoHash, reserved });
    for (let n = 0; n < 50 && !c.ended; n++) {
      const m = await c.readMessage();
      if (!m) return;
      if (m.type !== 'hash_request') continue;
      seen.push(m);
      await c.send(reply(m));
    }
  };
}

let peer: HostilePeer | undefined;
let conn: PeerConnection | undefined;
afterEach(async () => {
  conn?.close();
  await peer?.close();
  conn = peer = undefined;
});

async function connectTo(t: Torrent, script: (c: ScriptedConnection) => Promise<void>): Promise<PeerConnection> {
  peer = await startHostilePeer(script, { timeoutMs: 5000 });
  conn = await PeerConnection.connect(peer.host, peer.port, { infoHash: t.infoHashV2!.subarray(0, 20), peerId: makePeerId(), extended: false });
  return conn;
}

describe('BEP 52 piece layers by hash request', () => {
  it('requests: only files over a piece, base layer log2(piece/16 KiB), length a power of two, chunks of 512', () => {
    const { t } = v2Torrent([['big', PIECE * 5 + 100], ['small', 1000], ['exact', PIECE], ['huge', PIECE * 1200]]);
    const reqs = layerRequests(t).map((r) => ({ name: r.name, pieces: r.pieces, baseLayer: r.baseLayer, index: r.index, length: r.length }));
    expect(reqs).toEqual([
      { name: 'v2unit/big', pieces: 6, baseLayer: 1, index: 0, length: 8 },
      { name: 'v2unit/huge', pieces: 1200, baseLayer: 1, index: 0, length: 512 },
      { name: 'v2unit/huge', pieces: 1200, baseLayer: 1, index: 512, length: 512 },
      { name: 'v2unit/huge', pieces: 1200, baseLayer: 1, index: 1024, length: 512 },
    ]);
  });

  it('an honest answer: the layer is taken, folds to the pieces root, and the torrent passes checkPieceLayers', async () => {
    const { t, layers } = v2Torrent([['big', PIECE * 5 + 100], ['small', 1000]]);
    expect(() => checkPieceLayers(t)).toThrow(expect.objectContaining({ code: 'no_piece_layer' }));
    const seen: Message[] = [];
    const [root, layer] = [...layers][0]!;
    const c = await connectTo(t, layerPeer(t.infoHashV2!.subarray(0, 20), (m) => answerFor(m, layer), seen));
    const got = await fetchPieceLayers(c, t, { timeoutMs: 5000 });
    expect(seen).toMatchObject([{ type: 'hash_request', baseLayer: 1, index: 0, length: 8, proofLayers: 0 }]);
    expect([...got.keys()]).toEqual([root]);
    expect(Buffer.from(got.get(root)!).equals(Buffer.from(layer))).toBe(true);
    expect(() => checkPieceLayers(withPieceLayers(t, got))).not.toThrow();
  });

  it('a wrong layer (one hash altered) is refused with bad_piece_layer naming the file', async () => {
    const { t, layers } = v2Torrent([['big', PIECE * 5 + 100]]);
    const layer = [...layers.values()][0]!;
    const c = await connectTo(t, layerPeer(t.infoHashV2!.subarray(0, 20), (m) => answerFor(m, layer, true), []));
    await expect(fetchPieceLayers(c, t, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'bad_piece_layer', message: expect.stringMatching(/: big: the piece layer from the peer folds to [0-9a-f]{64}, not the file's pieces root/) });
  });

  it('hash reject -> hash_rejected; too few hashes -> bad_hashes; silence -> timeout', async () => {
    const { t } = v2Torrent([['big', PIECE * 5 + 100]]);
    const ih = t.infoHashV2!.subarray(0, 20);
    let c = await connectTo(t, layerPeer(ih, (m) => ({ ...m, type: 'hash_reject' }), []));
    await expect(fetchPieceLayers(c, t, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'hash_rejected' });
    c.close();
    await peer!.close();
    c = await connectTo(t, layerPeer(ih, (m) => ({ ...m, type: 'hashes', hashes: new Uint8Array(32 * 3) }), []));
    await expect(fetchPieceLayers(c, t, { timeoutMs: 5000 })).rejects.toMatchObject({ code: 'bad_hashes' });
    c.close();
    await peer!.close();
    c = await connectTo(t, layerPeer(ih, () => ({ type: 'keep_alive' }) as Message, []));
    await expect(fetchPieceLayers(c, t, { timeoutMs: 300 })).rejects.toMatchObject({ code: 'timeout' });
  });
});
