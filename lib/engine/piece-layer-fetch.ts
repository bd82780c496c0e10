import type { Torrent } from '../metainfo/types.js';
import { BLOCK_SIZE, HASH_SIZE, nextPowerOfTwo, rootFromPieceLayer } from '../metainfo/merkle.js';
import { toHex, bytesEqual } from '../core/bytes.js';
import { supportsV2 } from '../wire/handshake.js';
import type { Message } from '../wire/messages.js';
import { PeerError, type PeerConnection } from '../peer/peer-connection.js';

/** BEP 52: at most 512 hashes per request (the recommended chunk). */
export const MAX_HASHES_PER_REQUEST = 512;

/** One hash request (21) for part of a file's piece layer. */
export interface LayerRequest {
  readonly fileIndex: number;
  readonly name: string;
  readonly piecesRoot: Uint8Array;
  /** Pieces of the file (hashes in its piece layer). */
  readonly pieces: number;
  readonly baseLayer: number;
  readonly index: number;
  /** A power of two >= 2, index a multiple of it (BEP 52). */
  readonly length: number;
}

/**
 * The hash requests that fetch every piece layer the torrent lacks: files
 * larger than a piece (a smaller file's pieces root is its piece hash). The
 * base layer is log2(piece length / 16 KiB); a layer of n pieces is asked for
 * as nextPowerOfTwo(n) hashes (at least 2), or in chunks of 512.
 */
export function layerRequests(t: Torrent): LayerRequest[] {
  const out: LayerRequest[] = [];
  const baseLayer = Math.log2(t.pieceLength / BLOCK_SIZE);
  t.files.forEach((f, fileIndex) => {
    if (f.pad || !f.piecesRoot || f.length <= t.pieceLength || t.pieceLayers.has(toHex(f.piecesRoot))) return;
    const pieces = Math.ceil(f.length / t.pieceLength);
    const length = Math.min(MAX_HASHES_PER_REQUEST, Math.max(2, nextPowerOfTwo(pieces)));
    for (let index = 0; index < pieces; index += length) {
      out.push({ fileIndex, name: f.path.join('/'), piecesRoot: f.piecesRoot, pieces, baseLayer, index, length });
    }
  });
  return out;
}

/** Does a `hashes` / `hash_reject` message answer this request? */
export function answers(req: LayerRequest, m: Message): m is Extract<Message, { type: 'hashes' | 'hash_reject' }> {
  return (
    (m.type === 'hashes' || m.type === 'hash_reject') &&
    bytesEqual(m.piecesRoot, req.piecesRoot) &&
    m.baseLayer === req.baseLayer &&
    m.index === req.index &&
    m.length === req.length
  );
}

/**
 * Ask `conn` for every missing piece layer and check each against its file's
 * pieces root. For a hybrid torrent the peer must have set the v2 reserved bit (`no_v2`); a
 * hash reject is `hash_rejected`; too few hashes `bad_hashes`; a layer that
 * does not fold to the pieces root `bad_piece_layer`. Returns root hex -> layer.
 */
export async function fetchPieceLayers(conn: PeerConnection, t: Torrent, opts: { timeoutMs?: number } = {}): Promise<Map<string, Uint8Array>> {
  const reqs = layerRequests(t);
  const layers = new Map<string, Uint8Array>();
  if (reqs.length === 0) return layers;
  // A v2-only torrent's swarm is v2 by its info-hash; on a hybrid's v1 hash the peer must say so with the reserved bit.
  if (t.infoHash && !supportsV2(conn.remote.reserved)) {
    throw new PeerError('no_v2', 'the peer did not set the v2 reserved bit (BEP 52), so it cannot be asked for piece layers', conn.peer);
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const parts = new Map<number, Uint8Array>();
  for (const req of reqs) {
    const answer = conn.waitFor((m): m is Extract<Message, { type: 'hashes' | 'hash_reject' }> => answers(req, m), Math.max(1, deadline - Date.now()), `hashes for ${req.name}`);
    conn.send({ type: 'hash_request', piecesRoot: req.piecesRoot, baseLayer: req.baseLayer, index: req.index, length: req.length, proofLayers: 0 });
    const m = await answer;
    const where = `${req.name} (pieces root ${toHex(req.piecesRoot)}, hashes ${req.index}..${req.index + req.length - 1})`;
    if (m.type === 'hash_reject') throw new PeerError('hash_rejected', `the peer rejected the hash request for ${where}`, conn.peer);
    if (m.hashes.length < req.length * HASH_SIZE) {
      throw new PeerError('bad_hashes', `${m.hashes.length / HASH_SIZE} hashes for ${where}, asked for ${req.length}`, conn.peer);
    }
    // The requested hashes come first; uncle hashes (if any) follow and are not needed: the root is known.
    const want = Math.min(req.length, req.pieces - req.index);
    const prev = parts.get(req.fileIndex) ?? new Uint8Array(req.pieces * HASH_SIZE);
    prev.set(m.hashes.subarray(0, want * HASH_SIZE), req.index * HASH_SIZE);
    parts.set(req.fileIndex, prev);
  }
  for (const [fileIndex, layer] of parts) {
    const f = t.files[fileIndex]!;
    const got = rootFromPieceLayer(layer, t.pieceLength);
    if (!bytesEqual(got, f.piecesRoot!)) {
      throw new PeerError(
        'bad_piece_layer',
        `${f.path.join('/')}: the piece layer from the peer folds to ${toHex(got)}, not the file's pieces root ${toHex(f.piecesRoot!)} (BEP 52); refused`,
        conn.peer,
      );
    }
    layers.set(toHex(f.piecesRoot!), layer);
  }
  return layers;
}

/** The torrent with `layers` added to its piece layers. */
export function withPieceLayers(t: Torrent, layers: ReadonlyMap<string, Uint8Array>): Torrent {
  return { ...t, pieceLayers: new Map([...t.pieceLayers, ...layers]) };
}
