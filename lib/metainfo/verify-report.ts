import { bytesEqual } from '../core/bytes.js';
import { pieceFileRanges, pieceHashV2 } from './layout.js';
import { HASH_SIZE } from './merkle.js';
import type { Torrent } from './types.js';

/**
 * What `btscope verify` concludes from the hashes of the data found on disk
 * (pure: the reading and hashing happen in lib/content). A piece is good when
 * every hash the torrent has for it matches: SHA-1 (v1, hybrid) and the BEP 52
 * merkle hash (v2, hybrid). A hybrid piece that passes one and fails the other
 * means the torrent contradicts itself: reported apart.
 */

/** What was found on disk for one of the torrent's files before hashing. */
export type FoundState = { readonly state: 'present'; readonly length: number } | { readonly state: 'missing' } | { readonly state: 'not_a_file' };

export type FileStatus = 'complete' | 'missing' | 'not_a_file' | 'wrong_size' | 'bad_pieces';

export interface FileVerdict {
  /** Index in t.files. */
  readonly index: number;
  readonly path: string;
  readonly length: number;
  readonly status: FileStatus;
  /** Size on disk when it differs. */
  readonly actualLength?: number;
  /** Pieces holding bytes of this file, and how many of them failed. */
  readonly pieces: number;
  readonly badPieces: number;
  /** Offset in the file of the first byte of the first bad piece (clipped to the file). */
  readonly firstBadOffset?: number;
  readonly firstBadPiece?: number;
}

export interface VerifyReport {
  readonly pieceCount: number;
  readonly goodPieces: number;
  readonly badPieces: readonly number[];
  /** Hybrid pieces whose SHA-1 and merkle verdicts differ. */
  readonly disagreements: readonly { readonly index: number; readonly v1: boolean; readonly v2: boolean }[];
  readonly files: readonly FileVerdict[];
  /** Every file complete. */
  readonly ok: boolean;
}

/**
 * `sha1`: 20 bytes per piece computed from disk (null when the torrent has no
 * v1 part); `v2`: 32 bytes per piece computed over each piece's file bytes
 * (null when it has no v2 part); `found`: per t.files index (pads ignored).
 */
export function verifyReport(t: Torrent, sha1: Uint8Array | null, v2: Uint8Array | null, found: readonly (FoundState | undefined)[]): VerifyReport {
  const bad: number[] = [];
  const disagreements: { index: number; v1: boolean; v2: boolean }[] = [];
  const badPer = new Map<number, { n: number; firstOffset: number; firstPiece: number }>();
  for (let i = 0; i < t.pieceCount; i++) {
    const v1ok = t.pieces && sha1 ? bytesEqual(sha1.subarray(i * 20, i * 20 + 20), t.pieces.subarray(i * 20, i * 20 + 20)) : undefined;
    let v2ok: boolean | undefined;
    if (t.infoHashV2 && v2) {
      const want = pieceHashV2(t, i);
      if (want) v2ok = bytesEqual(v2.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE), want.hash);
      else {
        // No v2 hash: fine when the piece starts in padding; a file's piece whose layer is missing cannot pass.
        const ranges = pieceFileRanges(t, i);
        v2ok = ranges.length === 0 || t.files[ranges[0]!.fileIndex]!.pad;
      }
    }
    if (v1ok !== undefined && v2ok !== undefined && v1ok !== v2ok) disagreements.push({ index: i, v1: v1ok, v2: v2ok });
    if (v1ok === false || v2ok === false) {
      bad.push(i);
      for (const r of pieceFileRanges(t, i)) {
        if (r.pad) continue;
        const b = badPer.get(r.fileIndex);
        if (b) b.n++;
        else badPer.set(r.fileIndex, { n: 1, firstOffset: r.fileOffset, firstPiece: i });
      }
    }
  }
  const files: FileVerdict[] = [];
  t.files.forEach((f, index) => {
    if (f.pad) return;
    const pieces = f.length === 0 ? 0 : Math.ceil((f.offset + f.length) / t.pieceLength) - Math.floor(f.offset / t.pieceLength);
    const b = badPer.get(index);
    const fd = found[index] ?? { state: 'missing' };
    const status: FileStatus =
      fd.state === 'missing' ? 'missing' : fd.state === 'not_a_file' ? 'not_a_file' : fd.length !== f.length ? 'wrong_size' : b ? 'bad_pieces' : 'complete';
    files.push({
      index,
      path: f.path.join('/'),
      length: f.length,
      status,
      ...(fd.state === 'present' && fd.length !== f.length ? { actualLength: fd.length } : {}),
      pieces,
      badPieces: b?.n ?? 0,
      ...(b ? { firstBadOffset: b.firstOffset, firstBadPiece: b.firstPiece } : {}),
    });
  });
  return {
    pieceCount: t.pieceCount,
    goodPieces: t.pieceCount - bad.length,
    badPieces: bad,
    disagreements,
    files,
    ok: files.every((f) => f.status === 'complete') && bad.length === 0,
  };
}
