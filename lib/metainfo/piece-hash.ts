import * as crypto from 'node:crypto';
import type { HashJob } from './create.js';
import { BLOCK_SIZE, HASH_SIZE, merkleRoot, nextPowerOfTwo, rootFromPieceLayer } from './merkle.js';

/**
 * Hashing a job's bytes once they are in memory (no I/O): the SHA-1 of each
 * piece (BEP 3) and, for v2 and hybrid, each piece's merkle hash (BEP 52: the
 * root of its 16 KiB leaves, or the file's pieces root when the file fits in one
 * piece). The same code runs in the worker threads and in tests.
 */
export interface JobHashes {
  /** 20 bytes per piece, or null when the job asked for no v1 hashes. */
  readonly sha1: Uint8Array | null;
  /** 32 bytes per piece (zeros where the piece has no v2 hash), or null for v1-only. */
  readonly v2: Uint8Array | null;
}

/** One-shot digests (crypto.hash, Node 20.12+: no Hash object per piece), else createHash. */
const digest: (alg: 'sha1' | 'sha256', data: Uint8Array) => Uint8Array =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (alg, data) => (crypto as unknown as { hash(a: string, d: Uint8Array, enc: 'buffer'): Buffer }).hash(alg, data, 'buffer')
    : (alg, data) => crypto.createHash(alg).update(data).digest();

export function hashJobBytes(data: Uint8Array, job: HashJob, pieceLength: number): JobHashes {
  const sha1 = job.v1 ? new Uint8Array(job.pieceCount * 20) : null;
  const v2 = job.v2 ? new Uint8Array(job.pieceCount * HASH_SIZE) : null;
  for (let k = 0; k < job.pieceCount; k++) {
    const piece = data.subarray(k * pieceLength, Math.min(data.length, (k + 1) * pieceLength));
    if (sha1) sha1.set(digest('sha1', piece), k * 20);
    const span = job.v2?.[k];
    if (v2 && span) v2.set(v2PieceRoot(piece.subarray(0, span.bytes), pieceLength, span.fileLength), k * HASH_SIZE);
  }
  return { sha1, v2 };
}

/** merkle.v2PieceHash, with the leaves hashed straight into one buffer. */
export function v2PieceRoot(bytes: Uint8Array, pieceLength: number, fileLength: number): Uint8Array {
  const n = Math.ceil(bytes.length / BLOCK_SIZE);
  const leaves = new Uint8Array(n * HASH_SIZE);
  for (let i = 0; i < n; i++) leaves.set(digest('sha256', bytes.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE)), i * HASH_SIZE);
  const width = fileLength <= pieceLength ? nextPowerOfTwo(Math.max(1, n)) : pieceLength / BLOCK_SIZE;
  return merkleRoot(leaves, width);
}

/** A file's BEP 52 hashes from its pieces' v2 hashes: the pieces root, and the piece layer when the file is larger than a piece. */
export function v2FileHashes(pieceHashes: Uint8Array, pieceLength: number, fileLength: number): { piecesRoot: Uint8Array; layer?: Uint8Array } {
  if (fileLength <= pieceLength) return { piecesRoot: pieceHashes.slice(0, HASH_SIZE) };
  const layer = pieceHashes.slice(0, Math.ceil(fileLength / pieceLength) * HASH_SIZE);
  return { piecesRoot: rootFromPieceLayer(layer, pieceLength), layer };
}
