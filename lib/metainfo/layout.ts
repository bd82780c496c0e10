import { toHex } from '../core/bytes.js';
import { HASH_SIZE } from './merkle.js';
import type { Torrent, TorrentFile } from './types.js';

/**
 * Pieces and files: the torrent's data is one byte stream (files in order,
 * pads included, BEP 3/47/52) cut into pieces of `pieceLength`. These helpers
 * answer what a downloader asks: which file bytes make piece i, and which hash
 * checks it.
 */

/** One contiguous run of a piece inside one file. */
export interface PieceFileRange {
  readonly fileIndex: number;
  /** Offset of the run in the file. */
  readonly fileOffset: number;
  readonly length: number;
  /** Offset of the run in the piece. */
  readonly pieceOffset: number;
  /** The file is padding (BEP 47, or implicit v2 alignment): its bytes are zeros, never written. */
  readonly pad: boolean;
}

export function pieceSize(t: Torrent, index: number): number {
  checkIndex(t, index);
  return index === t.pieceCount - 1 ? t.lastPieceLength : t.pieceLength;
}

function checkIndex(t: Pick<Torrent, 'pieceCount'>, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= t.pieceCount) {
    throw new RangeError(`piece index ${index} out of range (torrent has ${t.pieceCount} pieces)`);
  }
}

/** Index of the file holding stream offset `pos` (files of length 0 hold nothing). */
export function fileAt(files: readonly TorrentFile[], pos: number): number {
  let lo = 0;
  let hi = files.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (files[mid]!.offset <= pos) lo = mid;
    else hi = mid - 1;
  }
  // Skip back over empty files sharing the offset: the first non-empty one holds the byte.
  while (lo > 0 && files[lo]!.length === 0 && files[lo - 1]!.offset === files[lo]!.offset) lo--;
  while (lo < files.length - 1 && files[lo]!.offset + files[lo]!.length <= pos) lo++;
  return lo;
}

/** The file runs that make piece `index`, in stream order; empty files are skipped. */
export function pieceFileRanges(t: Torrent, index: number): PieceFileRange[] {
  const size = pieceSize(t, index);
  const start = index * t.pieceLength;
  const end = start + size;
  const out: PieceFileRange[] = [];
  let pos = start;
  for (let i = fileAt(t.files, start); i < t.files.length && pos < end; i++) {
    const f = t.files[i]!;
    const fEnd = f.offset + f.length;
    if (f.length === 0 || fEnd <= pos) continue;
    const n = Math.min(fEnd, end) - pos;
    out.push({ fileIndex: i, fileOffset: pos - f.offset, length: n, pieceOffset: pos - start, pad: f.pad });
    pos += n;
  }
  return out;
}

/** The pieces that hold any byte of file `fileIndex` (an empty range for empty files). */
export function filePieces(t: Torrent, fileIndex: number): { first: number; end: number } {
  const f = t.files[fileIndex];
  if (!f) throw new RangeError(`file index ${fileIndex} out of range (torrent has ${t.files.length} files)`);
  if (f.length === 0) return { first: Math.floor(f.offset / t.pieceLength), end: Math.floor(f.offset / t.pieceLength) };
  return { first: Math.floor(f.offset / t.pieceLength), end: Math.ceil((f.offset + f.length) / t.pieceLength) };
}

/** SHA-1 of piece `index` (v1, hybrid); null for v2-only or when `pieces` is short. */
export function pieceHashV1(t: Torrent, index: number): Uint8Array | null {
  checkIndex(t, index);
  if (!t.pieces || (index + 1) * 20 > t.pieces.length) return null;
  return t.pieces.subarray(index * 20, index * 20 + 20);
}

/** What the v2 piece hashes depend on: a Torrent, or any description of one with these fields. */
export type V2Layout = Pick<Torrent, 'infoHashV2' | 'pieceCount' | 'pieceLength' | 'files' | 'pieceLayers'>;

/**
 * The v2 hash piece `index` is checked against (BEP 52): the file's entry in
 * the piece layers, or its pieces root when the file fits in one piece (then
 * check with merkle.v2PieceHash over the file's own bytes). null when the
 * piece is padding, the torrent has no v2 part, or the layer is not known yet.
 */
export function pieceHashV2(t: V2Layout, index: number): { hash: Uint8Array; fileIndex: number; fileLength: number } | null {
  checkIndex(t, index);
  if (!t.infoHashV2) return null;
  const start = index * t.pieceLength;
  const fi = fileAt(t.files, start);
  const f = t.files[fi]!;
  if (f.pad || !f.piecesRoot || f.offset % t.pieceLength !== 0) return null;
  if (f.length <= t.pieceLength) return { hash: f.piecesRoot, fileIndex: fi, fileLength: f.length };
  const layer = t.pieceLayers.get(toHex(f.piecesRoot));
  if (!layer) return null;
  const k = (start - f.offset) / t.pieceLength;
  return { hash: layer.subarray(k * HASH_SIZE, (k + 1) * HASH_SIZE), fileIndex: fi, fileLength: f.length };
}

/** v1 / v2 / hybrid, as people say it. */
export function torrentKind(t: Torrent): 'v1' | 'v2' | 'hybrid' {
  return t.hybrid ? 'hybrid' : t.metaVersion === 2 ? 'v2' : 'v1';
}
