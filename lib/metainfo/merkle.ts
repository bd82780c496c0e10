import { createHash } from 'node:crypto';

/**
 * BEP 52 merkle trees: leaves are SHA-256 hashes of 16 KiB blocks; missing
 * leaves past the end of a file are 32 zero bytes; a node is SHA-256(left||right).
 * A piece-layer hash is the root of one piece's subtree (pieceLength/16 KiB leaves);
 * a file's `pieces root` is the root over all its leaves. Pure hashing, no I/O.
 */
export const BLOCK_SIZE = 16 * 1024;
export const HASH_SIZE = 32;

const ZERO_LEAF = new Uint8Array(HASH_SIZE);
const zeroCache: Uint8Array[] = [ZERO_LEAF];

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** Root of a subtree of 2^level zero leaves. */
export function zeroHash(level: number): Uint8Array {
  while (zeroCache.length <= level) {
    const prev = zeroCache[zeroCache.length - 1]!;
    zeroCache.push(sha256(prev, prev));
  }
  return zeroCache[level]!;
}

export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Leaf hashes (SHA-256 of each 16 KiB block, the last one short) of some data. */
export function blockHashes(data: Uint8Array): Uint8Array {
  const n = Math.ceil(data.length / BLOCK_SIZE);
  const out = new Uint8Array(n * HASH_SIZE);
  for (let i = 0; i < n; i++) out.set(sha256(data.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE)), i * HASH_SIZE);
  return out;
}

/**
 * The hash a v2 piece is checked against. For a file larger than one piece it
 * is the piece's subtree root (pieceLength/16 KiB leaves, zero-padded) found in
 * the piece layers; for a file of one piece or less it is the file's pieces
 * root, over its blocks padded to a power of two only.
 */
export function v2PieceHash(data: Uint8Array, pieceLength: number, fileLength: number): Uint8Array {
  const leaves = blockHashes(data);
  const width = fileLength <= pieceLength ? nextPowerOfTwo(Math.max(1, leaves.length / HASH_SIZE)) : pieceLength / BLOCK_SIZE;
  return merkleRoot(leaves, width);
}

/** Pieces root a piece layer implies: pad the layer with zero-subtree roots of one piece. */
export function rootFromPieceLayer(layer: Uint8Array, pieceLength: number): Uint8Array {
  const level = Math.log2(pieceLength / BLOCK_SIZE);
  return merkleRoot(layer, nextPowerOfTwo(layer.length / HASH_SIZE), zeroHash(level));
}

/**
 * Root over `hashes` (concatenated, 32 bytes each) as one layer `width` wide
 * (a power of two), the missing nodes being `pad` (the zero leaf, or the root
 * of a zero subtree when the layer is a piece layer).
 */
export function merkleRoot(hashes: Uint8Array, width: number, pad: Uint8Array = ZERO_LEAF): Uint8Array {
  let layer: Uint8Array[] = [];
  const n = hashes.length / HASH_SIZE;
  for (let i = 0; i < n; i++) layer.push(hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  let padNode = pad;
  let w = Math.max(1, width);
  while (w > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < w; i += 2) {
      const l = layer[i] ?? padNode;
      const r = layer[i + 1] ?? padNode;
      if (i >= layer.length) break;
      next.push(sha256(l, r));
    }
    padNode = sha256(padNode, padNode);
    layer = next;
    w /= 2;
  }
  return layer[0] ?? padNode;
}

/** A padded merkle tree's levels, from the piece layer (index 0) up to the root (one hash). */
export type PieceTree = readonly Uint8Array[];

/** Every level of the padded tree from the piece layer up to the root. */
export function pieceTree(layer: Uint8Array, width: number, pieceLevel: number): PieceTree {
  const base = new Uint8Array(width * HASH_SIZE);
  base.set(layer, 0);
  for (let i = layer.length / HASH_SIZE; i < width; i++) base.set(zeroHash(pieceLevel), i * HASH_SIZE);
  const levels: Uint8Array[] = [base];
  for (let w = width; w > 1; w /= 2) {
    const below = levels[levels.length - 1]!;
    const up = new Uint8Array((w / 2) * HASH_SIZE);
    for (let i = 0; i < w / 2; i++) up.set(sha256(below.subarray(2 * i * HASH_SIZE, (2 * i + 2) * HASH_SIZE)), i * HASH_SIZE);
    levels.push(up);
  }
  return levels;
}
