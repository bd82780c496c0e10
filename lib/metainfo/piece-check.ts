import { createHash } from 'node:crypto';
import { BtscopeError } from '../core/errors.js';
import { bytesEqual, toHex } from '../core/bytes.js';
import { fileAt, pieceHashV2, type V2Layout } from './layout.js';
import { rootFromPieceLayer, v2PieceHash } from './merkle.js';
import type { Torrent } from './types.js';

/**
 * Piece hash checks over bytes in hand (no I/O): the engine checks what it
 * read back from disk, trace --extract what it rebuilt from a capture,
 * compliance what a peer sent. One implementation for all three.
 */

/** A piece's bytes against one of its hashes. */
export interface PieceHashCheck {
  readonly ok: boolean;
  readonly got: Uint8Array;
  readonly want: Uint8Array;
}

/** Piece `index`'s bytes against its SHA-1 (BEP 3); undefined when the torrent has no v1 hash for it. */
export function checkPieceV1(t: Pick<Torrent, 'pieces'>, index: number, bytes: Uint8Array): PieceHashCheck | undefined {
  if (!t.pieces || index < 0 || (index + 1) * 20 > t.pieces.length) return undefined;
  const want = t.pieces.subarray(index * 20, index * 20 + 20);
  const got = new Uint8Array(createHash('sha1').update(bytes).digest());
  return { ok: bytesEqual(got, want), got, want };
}

/**
 * Piece `index`'s bytes against its v2 hash (BEP 52): only the file's own bytes
 * are leaves; blocks past its end are zero hashes, not hashes of zeros.
 * undefined when the piece has no v2 hash here (padding, no v2 part, layer unknown).
 */
export function checkPieceV2(t: V2Layout, index: number, bytes: Uint8Array): PieceHashCheck | undefined {
  const want = pieceHashV2(t, index);
  if (!want) return undefined;
  const f = t.files[want.fileIndex]!;
  const inFile = Math.min(bytes.length, f.offset + f.length - index * t.pieceLength);
  const got = v2PieceHash(bytes.subarray(0, inFile), t.pieceLength, want.fileLength);
  return { ok: bytesEqual(got, want.hash), got, want: want.hash };
}

/**
 * The v2 verdict on a piece of a torrent with a v2 part: its merkle hash, or,
 * for a piece with no v2 hash, whether it starts in padding (a hybrid's pad
 * file after a file's last byte is fine; a file's piece whose layer is
 * missing cannot be checked, so it fails).
 */
export function pieceMatchesV2(t: V2Layout, index: number, bytes: Uint8Array): boolean {
  const c = checkPieceV2(t, index, bytes);
  return c ? c.ok : t.files[fileAt(t.files, index * t.pieceLength)]!.pad;
}

/** Every hash the torrent carries for the piece: SHA-1 (v1, hybrid) and the v2 merkle hash (v2, hybrid). A hybrid's piece must pass both. */
export function pieceMatches(t: Torrent, index: number, bytes: Uint8Array): boolean {
  if (t.pieces && !checkPieceV1(t, index, bytes)?.ok) return false;
  if (t.infoHashV2 && !pieceMatchesV2(t, index, bytes)) return false;
  return true;
}

/** Some file spans more than one piece, so its v2 hashes live in a piece layer (BEP 52). */
export function needsPieceLayers(t: Torrent): boolean {
  return t.files.some((f) => !f.pad && f.piecesRoot !== undefined && f.length > t.pieceLength);
}

/**
 * Every v2 file larger than a piece needs its piece layer, and the layer must
 * hash up to the file's pieces root (BEP 52): otherwise the torrent cannot be
 * verified and is refused before anything is downloaded.
 */
export function checkPieceLayers(t: Torrent): void {
  for (const f of t.files) {
    if (f.pad || !f.piecesRoot || f.length <= t.pieceLength) continue;
    const root = toHex(f.piecesRoot);
    const layer = t.pieceLayers.get(root);
    const name = f.path.join('/');
    if (!layer) throw new BtscopeError('no_piece_layer', `${name}: the torrent has no piece layer for pieces root ${root} (BEP 52), so its pieces cannot be verified`);
    const want = Math.ceil(f.length / t.pieceLength) * 32;
    if (layer.length !== want) throw new BtscopeError('bad_piece_layer', `${name}: piece layer of ${layer.length} bytes, expected ${want}`);
    if (!bytesEqual(rootFromPieceLayer(layer, t.pieceLength), f.piecesRoot)) {
      throw new BtscopeError('bad_piece_layer', `${name}: the piece layer does not hash to the file's pieces root ${root}`);
    }
  }
}
