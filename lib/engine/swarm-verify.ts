import { createHash, type Hash } from 'node:crypto';
import type { PieceVerifier } from './piece-verifier.js';
import { blockDigests } from './piece-verifier.js';

/** A piece's check: right (and, if it failed before, who sent blocks that differ), or wrong (its blocks' digests). */
export type PieceCheckResult<P> = { readonly ok: true; readonly liars: readonly P[] } | { readonly ok: false; readonly digests: Buffer[] };

/** Right, nobody to blame. */
export const RIGHT: PieceCheckResult<never> = { ok: true, liars: [] };

/**
 * The hash check of a downloaded piece, with smart ban's memory. A v1
 * torrent's piece is SHA-1 hashed as its blocks arrive in order (the usual
 * case: one peer's requests go out in order), so a right piece is not read
 * back; any other piece is read back and checked by PieceVerifier. A piece
 * that fails keeps each block's digest and sender ("suspects"); when it
 * finally verifies, a suspect whose block differs from the right one lied.
 */
export class PieceCheck<P> {
  /** Running SHA-1 per piece and the offset it has reached; null: a block came out of order. */
  private readonly running = new Map<number, { hash: Hash; next: number } | null>();
  private readonly suspects = new Map<number, { peer: P; block: number; digest: Buffer }[]>();

  constructor(
    private readonly verifier: PieceVerifier,
    private readonly pieceSize: (index: number) => number,
    private readonly blockSize: number,
  ) {}

  /** Feed an accepted block to its piece's running SHA-1 (v1 only; out of order drops the piece to the read-back check). */
  along(index: number, begin: number, block: Uint8Array): void {
    if (!this.verifier.sha1Only) return; // v2 and hybrid pieces are checked by reading them back
    let r = this.running.get(index);
    if (r === undefined) {
      r = begin === 0 ? { hash: createHash('sha1'), next: 0 } : null;
      this.running.set(index, r);
    }
    if (r === null) return;
    if (r.next !== begin) {
      this.running.set(index, null);
      return;
    }
    r.hash.update(block);
    r.next += block.length;
  }

  /**
   * A complete piece hashed as it arrived, and right: no read-back needed.
   * (A piece that failed before is always read back, for smart ban's digests.)
   * Its running hash is used up either way.
   */
  verifiedAlong(index: number): boolean {
    const along = this.running.get(index);
    this.running.delete(index);
    return !!along && this.verifier.sha1Only && along.next === this.pieceSize(index) && this.verifier.matches(index, along.hash.digest()) && !this.suspects.has(index);
  }

  /** Read a complete piece back from disk and check it (rejects when the read fails). */
  async readBack(index: number): Promise<PieceCheckResult<P>> {
    const suspects = this.suspects.get(index);
    let digests: Buffer[] | undefined;
    const result = await this.verifier.verify(index, (bytes, ok) => {
      if (!ok || suspects) digests = blockDigests(bytes, this.blockSize);
    });
    if (!result.ok) return { ok: false, digests: digests! };
    if (!suspects) return RIGHT;
    // Smart ban: whoever sent a block that differs from the verified one lied.
    this.suspects.delete(index);
    return { ok: true, liars: suspects.filter((s) => !s.digest.equals(digests![s.block]!)).map((s) => s.peer) };
  }

  /** A failed piece's senders (`who`, per block) and its blocks' digests, kept until it verifies. */
  suspect(index: number, who: readonly { peer: P; block: number }[], digests: Buffer[]): void {
    const list = this.suspects.get(index) ?? [];
    for (const w of who) list.push({ peer: w.peer, block: w.block, digest: digests[w.block]! });
    this.suspects.set(index, list);
  }
}
