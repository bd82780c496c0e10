import { createHash } from 'node:crypto';
import type { Torrent } from '../metainfo/types.js';
import { checkPieceLayers, needsPieceLayers, pieceMatchesV2 } from '../metainfo/piece-check.js';
import type { Storage } from './storage.js';

/**
 * Piece hash checks against what is on disk (the checks themselves are
 * lib/metainfo/piece-check.ts). v1 (BEP 3): SHA-1 of the piece's
 * bytes, pad-file bytes read as zeros. v2 (BEP 52): the merkle root of the
 * piece's 16 KiB blocks (SHA-256) against the file's piece layer, or against
 * the file's pieces root when the file fits in one piece. A hybrid torrent's
 * piece must pass both. Reading back from the page cache and hashing costs
 * about 0.15 ms per 256 KiB piece here, so it runs on the main thread as pieces
 * complete; one buffer is reused for every piece.
 */
export class PieceVerifier {
  private buffer: Uint8Array;
  private chain: Promise<unknown> = Promise.resolve();
  /** The v2 part to check (v2-only and hybrid torrents). */
  private readonly v2: Torrent | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly pieces: Uint8Array | null,
    private readonly pieceLength: number,
    v2?: Torrent,
  ) {
    if (pieces && pieces.length % 20 !== 0) throw new RangeError('pieces is not a whole number of SHA-1 hashes');
    if (!pieces && !v2?.infoHashV2) throw new RangeError('no piece hashes: neither v1 pieces nor a v2 torrent');
    this.v2 = v2?.infoHashV2 ? v2 : undefined;
    this.buffer = new Uint8Array(pieceLength);
  }

  /**
   * Check every hash the torrent carries (v1 pieces, v2 piece layers). A hybrid
   * torrent that has no piece layer at all (its info dict came by magnet and no
   * peer gave the layers) is checked by its SHA-1 pieces, which cover every byte.
   */
  static forTorrent(storage: Storage, t: Torrent): PieceVerifier {
    if (t.infoHashV2 && t.pieces && t.pieceLayers.size === 0 && needsPieceLayers(t)) return new PieceVerifier(storage, t.pieces, t.pieceLength);
    if (t.infoHashV2) checkPieceLayers(t);
    return new PieceVerifier(storage, t.pieces, t.pieceLength, t);
  }

  /** A SHA-1 alone settles a piece (v1-only torrent): pieces may be hashed as they arrive. */
  get sha1Only(): boolean {
    return this.pieces !== null && this.v2 === undefined;
  }

  get pieceCount(): number {
    return Math.ceil(this.storage.length / this.pieceLength);
  }

  pieceSize(index: number): number {
    return Math.min(this.pieceLength, this.storage.length - index * this.pieceLength);
  }

  /** A SHA-1 computed elsewhere (hashed as the blocks arrived) against the piece's v1 hash. */
  matches(index: number, digest: Uint8Array): boolean {
    if (!this.pieces) return false;
    return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).equals(this.expected(index));
  }

  expected(index: number): Uint8Array {
    return this.pieces!.subarray(index * 20, index * 20 + 20);
  }

  /**
   * Read the piece from disk and check its hashes. `missing` > 0 means part of
   * it is not on disk (it cannot match). Checks are serialised: one buffer.
   * `withData` sees the piece's bytes and the verdict before the buffer is
   * reused (smart ban hashes blocks only when it needs to).
   */
  verify(index: number, withData?: (bytes: Uint8Array, ok: boolean) => void): Promise<{ ok: boolean; missing: number }> {
    const run = async (): Promise<{ ok: boolean; missing: number }> => {
      const size = this.pieceSize(index);
      const { bytes, missing } = await this.storage.read(index * this.pieceLength, size, this.buffer);
      let ok = missing === 0;
      if (ok && this.pieces) ok = this.matches(index, createHash('sha1').update(bytes).digest());
      if (ok && this.v2) ok = pieceMatchesV2(this.v2, index, bytes);
      withData?.(bytes, ok);
      return { ok, missing };
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }
}

/** The 20 bytes that name the torrent on the wire and to trackers: the v1 info-hash, or the v2 one truncated (BEP 52). */
export function wireInfoHash(t: Torrent): Uint8Array {
  if (t.infoHash) return t.infoHash;
  return t.infoHashV2!.subarray(0, 20);
}

/** SHA-1 of every 16 KiB block of a piece's bytes (smart ban: which peer's block was wrong). */
export function blockDigests(bytes: Uint8Array, blockSize: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += blockSize) out.push(createHash('sha1').update(bytes.subarray(at, at + blockSize)).digest());
  return out;
}
