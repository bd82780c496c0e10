import type { Torrent } from '../metainfo/types.js';
import { pieceFileRanges, pieceSize } from '../metainfo/layout.js';
import { pieceMatches } from '../metainfo/piece-check.js';

export type PieceOutcome = 'ok' | 'bad_hash';

export interface ExtractReport {
  readonly pieceCount: number;
  /** Pieces seen complete whose SHA-1 matched. */
  readonly ok: number[];
  /** Pieces seen complete whose hash did not match. */
  readonly bad: number[];
  /** Pieces some of whose bytes were seen, but not all. */
  readonly partial: number[];
  /** Blocks that did not fit the torrent (index or range out of bounds). */
  readonly strayBlocks: number;
  /** Incomplete pieces dropped to stay within the memory cap. */
  readonly evicted: number;
}

interface Assembly {
  buf: Uint8Array;
  /** Bytes covered so far (overlapping blocks are counted once by range merging). */
  ranges: Array<[number, number]>;
  covered: number;
}

/**
 * Rebuilds pieces from the piece messages of a capture and checks each
 * complete one against every hash the torrent has (metainfo/piece-check.ts:
 * SHA-1 for v1, the BEP 52 merkle hash for v2, both for a hybrid). Blocks are
 * copied into the piece they belong to (the only copy made of piece data),
 * and memory is capped: beyond `maxBufferedBytes` of incomplete pieces, the
 * oldest is given up. Verified pieces go to `onPiece` (to be written out).
 */
export class PieceExtractor {
  private readonly assemblies = new Map<number, Assembly>();
  private buffered = 0;
  private readonly done = new Map<number, PieceOutcome>();
  private readonly seenPartial = new Set<number>();
  private stray = 0;
  private evicted = 0;

  constructor(
    private readonly torrent: Torrent,
    private readonly onPiece: (index: number, data: Uint8Array, outcome: PieceOutcome) => void,
    private readonly maxBufferedBytes = 256 * 1024 * 1024,
  ) {
    if (!torrent.pieces && !torrent.infoHashV2) throw new RangeError('the torrent has neither v1 piece hashes nor a v2 part');
  }

  block(index: number, begin: number, block: Uint8Array): void {
    if (index >= this.torrent.pieceCount) {
      this.stray++;
      return;
    }
    const size = pieceSize(this.torrent, index);
    if (begin + block.length > size) {
      this.stray++;
      return;
    }
    if (this.done.get(index) === 'ok') return;
    let a = this.assemblies.get(index);
    if (!a) {
      while (this.buffered + size > this.maxBufferedBytes && this.assemblies.size > 0) {
        const [oldest, old] = this.assemblies.entries().next().value as [number, Assembly];
        this.assemblies.delete(oldest);
        this.buffered -= old.buf.length;
        this.seenPartial.add(oldest);
        this.evicted++;
      }
      a = { buf: new Uint8Array(size), ranges: [], covered: 0 };
      // Padding (BEP 47 pad files, v2 alignment after a file) is zeros: there already, whether or not a peer sends it.
      for (const r of pieceFileRanges(this.torrent, index)) if (r.pad) a.covered += addRange(a.ranges, r.pieceOffset, r.pieceOffset + r.length);
      this.assemblies.set(index, a);
      this.buffered += size;
    }
    a.buf.set(block, begin);
    a.covered += addRange(a.ranges, begin, begin + block.length);
    if (a.covered < size) return;
    this.assemblies.delete(index);
    this.buffered -= size;
    this.seenPartial.delete(index);
    const outcome: PieceOutcome = pieceMatches(this.torrent, index, a.buf) ? 'ok' : 'bad_hash';
    if (this.done.get(index) !== 'ok') this.done.set(index, outcome);
    this.onPiece(index, a.buf, outcome);
  }

  report(): ExtractReport {
    const ok: number[] = [];
    const bad: number[] = [];
    for (const [i, o] of this.done) (o === 'ok' ? ok : bad).push(i);
    const partial = new Set(this.seenPartial);
    for (const i of this.assemblies.keys()) partial.add(i);
    for (const i of ok) partial.delete(i);
    const sort = (x: Iterable<number>) => [...x].sort((p, q) => p - q);
    return { pieceCount: this.torrent.pieceCount, ok: sort(ok), bad: sort(bad.filter((i) => !ok.includes(i))), partial: sort(partial), strayBlocks: this.stray, evicted: this.evicted };
  }
}

/** Merge [s, e) into sorted disjoint ranges; returns how many new bytes it covered. */
function addRange(ranges: Array<[number, number]>, s: number, e: number): number {
  let added = e - s;
  let i = 0;
  while (i < ranges.length && ranges[i]![1] < s) i++;
  let ns = s;
  let ne = e;
  let j = i;
  while (j < ranges.length && ranges[j]![0] <= e) {
    const [rs, re] = ranges[j]!;
    added -= Math.max(0, Math.min(re, e) - Math.max(rs, s));
    ns = Math.min(ns, rs);
    ne = Math.max(ne, re);
    j++;
  }
  ranges.splice(i, j - i, [ns, ne]);
  return added;
}

/** `0-3,7,9-12` */
export function rangesText(xs: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++;
    out.push(i === j ? `${xs[i]}` : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return out.join(',');
}
