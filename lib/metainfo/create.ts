import { BtscopeError, UsageError } from '../core/errors.js';
import { compareBytes, encodeUtf8 } from '../core/bytes.js';
import { BLOCK_SIZE } from './merkle.js';

/**
 * Authoring a torrent, the pure part: which piece length, in which order the
 * files go, where the pad files fall, and which bytes each hash covers. The
 * file walking and hashing are done elsewhere (lib/content/); the encoding is
 * lib/metainfo/make.ts buildMetainfo.
 */

/** BEP 3 v1, BEP 52 v2-only, or hybrid (BEP 52 with BEP 47 pad files so v1 pieces align with files). */
export type TorrentKind = 'v1' | 'v2' | 'hybrid';
export const TORRENT_KINDS: readonly TorrentKind[] = ['v1', 'v2', 'hybrid'];

/** 16 KiB: the BEP 52 leaf size, and the smallest piece length libtorrent accepts. */
export const MIN_PIECE_LENGTH = BLOCK_SIZE;

/**
 * Total sizes up to which libtorrent 2.0's `create_torrent` (piece_size 0) picks
 * 16 KiB, 32 KiB, ... 8 MiB: the piece list grows as about twice the square root
 * of the total size. Beyond the table, 16 MiB.
 */
const AUTO_PIECE_TABLE = [
  2_684_355, 10_737_418, 42_949_673, 171_798_692, 687_194_767, 2_748_779_069, 10_995_116_278, 43_980_465_111, 175_921_860_444, 703_687_441_777,
];

/** The piece length libtorrent would choose for `totalSize` bytes (16 KiB to 16 MiB). */
export function autoPieceLength(totalSize: number): number {
  let i = 0;
  for (const s of AUTO_PIECE_TABLE) {
    if (s >= totalSize) break;
    i++;
  }
  return MIN_PIECE_LENGTH * 2 ** i;
}

/** A piece length the user gave: a power of two, at least 16 KiB (BEP 52), and a sane upper bound. */
export function checkPieceLength(n: number): number {
  if (!Number.isInteger(n) || n < MIN_PIECE_LENGTH || n > 2 ** 30 || (n & (n - 1)) !== 0) {
    throw new UsageError(`--piece-length must be a power of two from 16384 (16 KiB) to 1073741824, got ${n}`);
  }
  return n;
}

/** A file found in the content, before layout. */
export interface ContentFile {
  /** Components below the torrent's name; for a single-file torrent, [name]. */
  readonly path: readonly string[];
  readonly length: number;
  /** BEP 47 attributes from the file system: `x` executable, `h` hidden. */
  readonly attr?: string;
}

/** A file in the torrent's byte stream: a content file or a pad. */
export interface LaidOutFile {
  readonly path: readonly string[];
  readonly length: number;
  /** Offset in the piece stream. */
  readonly offset: number;
  /** A BEP 47 pad file (its bytes are zeros, never read). */
  readonly pad: boolean;
  /** v2-only torrents: the alignment is implied (BEP 52), the pad is not written into the torrent. */
  readonly implicit?: boolean;
  readonly attr: string;
  /** Index into the content files given to layoutContent; -1 for pads. */
  readonly source: number;
}

export interface ContentLayout {
  readonly kind: TorrentKind;
  readonly pieceLength: number;
  readonly single: boolean;
  readonly files: readonly LaidOutFile[];
  /** Length of the stream the pieces cover (pads included). */
  readonly length: number;
  readonly pieceCount: number;
  /** Bytes of content (pads excluded). */
  readonly contentLength: number;
}

/**
 * Path order of a BEP 52 file tree: component by component, as raw UTF-8 bytes
 * (a dict's key order). Used for every kind, so v1 and hybrid list files in the
 * same order and a v1 torrent does not depend on the order readdir returned.
 */
const WIDE = /[\uD800-\uFFFF]/;

export function comparePaths(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    // UTF-16 order is UTF-8 byte order except around surrogates (U+D800 and up): only those pay for encoding.
    if (!WIDE.test(x) && !WIDE.test(y)) return x < y ? -1 : 1;
    return compareBytes(encodeUtf8(x), encodeUtf8(y));
  }
  return a.length - b.length;
}

/**
 * Lay the files out as one stream (BEP 3), sorted by path. Hybrid: a BEP 47 pad
 * file after every file whose end is not on a piece boundary, the last one too
 * (as libtorrent 2.0 does), so each v1 piece holds bytes of one file only and
 * its v2 hashes match; a single file has none (its v1 part is a `length`). v2-only: the same alignment, implied (no pad entries in
 * the torrent). v1: no padding.
 */
export function layoutContent(files: readonly ContentFile[], kind: TorrentKind, pieceLength: number, single: boolean): ContentLayout {
  checkPieceLength(pieceLength);
  if (single && files.length !== 1) throw new Error('internal: a single-file torrent has exactly one file');
  const order = files.map((_, i) => i).sort((x, y) => comparePaths(files[x]!.path, files[y]!.path));
  for (let i = 1; i < order.length; i++) {
    if (comparePaths(files[order[i - 1]!]!.path, files[order[i]!]!.path) === 0) {
      throw new BtscopeError('duplicate_path', `two files with the same path ${files[order[i]!]!.path.join('/')}`);
    }
  }
  const out: LaidOutFile[] = [];
  let offset = 0;
  let contentLength = 0;
  for (const i of order) {
    const f = files[i]!;
    out.push({ path: f.path, length: f.length, offset, pad: false, attr: f.attr ?? '', source: i });
    offset += f.length;
    contentLength += f.length;
    if (!Number.isSafeInteger(offset)) throw new BtscopeError('too_large', 'the content is larger than 2^53 bytes');
    const rem = offset % pieceLength;
    // A single file is written with `length` (no file list): nothing to pad after it.
    if (kind !== 'v1' && rem !== 0 && !single) {
      const n = pieceLength - rem;
      out.push({ path: ['.pad', String(n)], length: n, offset, pad: true, implicit: kind === 'v2', attr: 'p', source: -1 });
      offset += n;
    }
  }
  if (contentLength === 0) {
    throw new BtscopeError('no_data', `the content holds no data: ${files.length === 0 ? 'no files' : `${files.length} file${files.length === 1 ? '' : 's'}, all empty`} (a torrent must have at least one byte)`);
  }
  return { kind, pieceLength, single, files: out, length: offset, pieceCount: Math.ceil(offset / pieceLength), contentLength };
}

/** A file of the stream as the hash plan sees it (a laid-out file, or a parsed torrent's). */
export interface StreamFile {
  readonly length: number;
  readonly offset: number;
  readonly pad: boolean;
}

/** One contiguous read for a hash job: `length` bytes of file `file` at `fileOffset`, or zeros for a pad. */
export interface ReadSegment {
  readonly file: number;
  readonly fileOffset: number;
  readonly length: number;
  readonly zero: boolean;
}

/** What a piece's v2 hash covers (BEP 52): its file's bytes in it, and the file's length (which decides the tree's width). */
export interface V2PieceSpan {
  readonly fileLength: number;
  readonly bytes: number;
}

/** A run of whole pieces hashed by one worker in one read pass. */
export interface HashJob {
  readonly firstPiece: number;
  readonly pieceCount: number;
  /** Stream offset of the first byte, and bytes in the job. */
  readonly start: number;
  readonly byteLength: number;
  readonly segments: readonly ReadSegment[];
  /** Compute the SHA-1 of each piece (v1, hybrid). */
  readonly v1: boolean;
  /** Per piece, what its v2 hash covers; null where the piece has no v2 hash (padding). Absent for v1-only. */
  readonly v2?: readonly (V2PieceSpan | null)[];
}

export interface HashPlanOptions {
  readonly pieceLength: number;
  readonly length: number;
  readonly v1: boolean;
  readonly v2: boolean;
  /** Bytes a job should hold (rounded down to whole pieces, at least one piece). */
  readonly jobBytes: number;
}

/**
 * Cut the stream into jobs of whole pieces, each with the file reads that fill
 * it. Memory is bounded by the job size whatever the content's size.
 */
export function planHashJobs(files: readonly StreamFile[], o: HashPlanOptions): HashJob[] {
  const piecesPerJob = Math.max(1, Math.floor(o.jobBytes / o.pieceLength));
  const pieceCount = Math.ceil(o.length / o.pieceLength);
  const v2Spans = o.v2 ? v2PieceSpans(files, o.pieceLength, pieceCount) : undefined;
  const jobs: HashJob[] = [];
  let fi = 0;
  for (let first = 0; first < pieceCount; first += piecesPerJob) {
    const n = Math.min(piecesPerJob, pieceCount - first);
    const start = first * o.pieceLength;
    const end = Math.min(o.length, start + n * o.pieceLength);
    const segments: ReadSegment[] = [];
    while (fi < files.length && files[fi]!.offset + files[fi]!.length <= start) fi++;
    for (let i = fi, pos = start; i < files.length && pos < end; i++) {
      const f = files[i]!;
      if (f.length === 0) continue;
      const from = Math.max(pos, f.offset);
      const to = Math.min(end, f.offset + f.length);
      if (to <= from) continue;
      segments.push({ file: i, fileOffset: from - f.offset, length: to - from, zero: f.pad });
      pos = to;
    }
    jobs.push({ firstPiece: first, pieceCount: n, start, byteLength: end - start, segments, v1: o.v1, ...(v2Spans ? { v2: v2Spans.slice(first, first + n) } : {}) });
  }
  return jobs;
}

/** For each piece of an aligned (v2, hybrid) stream, the file bytes its v2 hash covers; null for pieces that start in padding. */
export function v2PieceSpans(files: readonly StreamFile[], pieceLength: number, pieceCount: number): (V2PieceSpan | null)[] {
  const out: (V2PieceSpan | null)[] = new Array(pieceCount).fill(null);
  for (const f of files) {
    if (f.pad || f.length === 0 || f.offset % pieceLength !== 0) continue;
    const first = f.offset / pieceLength;
    const n = Math.ceil(f.length / pieceLength);
    for (let k = 0; k < n && first + k < pieceCount; k++) out[first + k] = { fileLength: f.length, bytes: Math.min(pieceLength, f.length - k * pieceLength) };
  }
  return out;
}
