import type { Torrent } from '../metainfo/types.js';
import type { HashRequestFields } from '../wire/hash-messages.js';
import { BLOCK_SIZE, HASH_SIZE, nextPowerOfTwo, pieceTree, zeroHash, type PieceTree } from '../metainfo/merkle.js';

export type { PieceTree };
import { bytesEqual, toHex } from '../core/bytes.js';

/**
 * The serving side of BEP 52's hash request (21): which hashes a `hashes` (22)
 * message carries, or why the request gets a `hash reject` (23). Pure: the
 * answer comes from the torrent's piece layers in memory, no I/O.
 *
 * A file's merkle tree is over its 16 KiB blocks, padded to a power of two
 * with zero leaves. We keep only its piece layer (log2(piece length / 16 KiB)
 * layers above the leaves), so that is the only base layer we serve. Above the
 * piece layer, the padded layer is nextPowerOfTwo(pieces) wide, its missing
 * nodes the roots of zero subtrees of one piece (zeroHash(pieceLevel)).
 *
 * BEP 52, "hashes": the requested `length` hashes of the base layer, then one
 * uncle per proof layer, "ending with the uncle hash closest to the root". A
 * proof layer whose uncle lies inside the requested range is omitted ("the
 * first log2(length)-1 proof layers"), though still counted: proof layer k
 * (1-based, k levels above the base) carries the sibling of the requested
 * range's ancestor at that level, for k >= max(1, log2(length)).
 */

/** libtorrent's bound on a request's hashes (8192: a 128 MiB piece's blocks); BEP 52 says SHOULD NOT exceed 512. */
export const MAX_ANSWER_HASHES = 8192;

export type HashRejectReason =
  | 'unknown_root' // no file of the torrent has this pieces root
  | 'no_piece_layer' // the file is one piece or less (its root is its piece hash), or its layer is not at hand
  | 'base_layer' // a layer other than the piece layer (we keep no block hashes)
  | 'length' // zero, not a power of two, too many, or past the layer
  | 'index' // not a multiple of length, or past the layer
  | 'proof_layers' // beyond the tree: no uncle above the root's children
  | 'bad_layer'; // the stored piece layer does not fold to the pieces root

export type HashAnswer =
  | { readonly ok: true; readonly hashes: Uint8Array; readonly uncles: number }
  | { readonly ok: false; readonly reason: HashRejectReason; readonly message: string };


export interface HashAnswerOptions {
  /** Most hashes (base layer) one request may ask for (default MAX_ANSWER_HASHES). */
  maxLength?: number;
  /**
   * Trees built for uncle hashes, by pieces root hex; pass the same map to
   * every call (the swarm keeps one per torrent) so each file's tree is built
   * once. It holds about as much again as the piece layers themselves.
   */
  trees?: Map<string, PieceTree>;
}

/** The answer to `req` from `t`'s piece layers: the `hashes` payload, or the reason to reject. */
export function answerHashRequest(t: Torrent, req: HashRequestFields, opts: HashAnswerOptions = {}): HashAnswer {
  const reject = (reason: HashRejectReason, message: string): HashAnswer => ({ ok: false, reason, message });
  const rootHex = toHex(req.piecesRoot);
  const file = t.files.find((f) => !f.pad && f.piecesRoot !== undefined && bytesEqual(f.piecesRoot, req.piecesRoot));
  if (!file) return reject('unknown_root', `no file of this torrent has pieces root ${rootHex}`);
  const where = file.path.join('/');
  const layer = t.pieceLayers.get(rootHex);
  const pieces = Math.ceil(file.length / t.pieceLength);
  if (file.length <= t.pieceLength) return reject('no_piece_layer', `${where} fits in one piece: it has no piece layer (its pieces root is its piece hash)`);
  if (!layer || layer.length !== pieces * HASH_SIZE) return reject('no_piece_layer', `${where}: its piece layer is not at hand`);
  const pieceLevel = Math.log2(t.pieceLength / BLOCK_SIZE);
  if (req.baseLayer !== pieceLevel) {
    return reject('base_layer', `base layer ${req.baseLayer}: only the piece layer (${pieceLevel}) is kept, not the block hashes below it`);
  }
  const width = nextPowerOfTwo(pieces);
  const height = Math.log2(width);
  const max = Math.min(opts.maxLength ?? MAX_ANSWER_HASHES, MAX_ANSWER_HASHES);
  const { index, length, proofLayers } = req;
  if (length === 0 || (length & (length - 1)) !== 0) return reject('length', `length ${length} is not a power of two`);
  if (length > max) return reject('length', `length ${length}: at most ${max} hashes per request`);
  // BEP 52: at least two, unless truncated by the end of the layer.
  if (length === 1 && index + 1 < pieces) return reject('length', `length 1 before the end of the layer (${pieces} pieces): at least 2`);
  if (length > width) return reject('length', `length ${length}: the padded piece layer is ${width} hashes`);
  if (index % length !== 0) return reject('index', `index ${index} is not a multiple of length ${length}`);
  if (index + length > width) return reject('index', `hashes ${index}..${index + length - 1} are past the padded piece layer (${width} hashes)`);
  // Proof layer k is the level k above the base; the root's children (level height-1) are the last with a sibling.
  if (proofLayers >= height) {
    return reject('proof_layers', `proof layers ${proofLayers}: the tree has ${height} level(s) above the piece layer, so at most ${height - 1}`);
  }
  const first = Math.max(1, Math.log2(length));
  const uncles = Math.max(0, proofLayers - first + 1);
  const out = new Uint8Array((length + uncles) * HASH_SIZE);
  const real = Math.max(0, Math.min(length, pieces - index));
  out.set(layer.subarray(index * HASH_SIZE, (index + real) * HASH_SIZE), 0);
  for (let i = real; i < length; i++) out.set(zeroHash(pieceLevel), i * HASH_SIZE);
  if (uncles > 0) {
    const tree = treeFor(rootHex, layer, width, pieceLevel, opts.trees);
    if (!bytesEqual(tree[height]!, file.piecesRoot!)) return reject('bad_layer', `${where}: the stored piece layer does not fold to its pieces root`);
    for (let k = first; k <= proofLayers; k++) {
      const sibling = (index >> k) ^ 1;
      out.set(tree[k]!.subarray(sibling * HASH_SIZE, (sibling + 1) * HASH_SIZE), (length + k - first) * HASH_SIZE);
    }
  }
  return { ok: true, hashes: out, uncles };
}

function treeFor(rootHex: string, layer: Uint8Array, width: number, pieceLevel: number, cache: Map<string, PieceTree> | undefined): PieceTree {
  const known = cache?.get(rootHex);
  if (known) return known;
  const tree = pieceTree(layer, width, pieceLevel);
  cache?.set(rootHex, tree);
  return tree;
}

