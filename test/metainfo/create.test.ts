import { describe, expect, it } from 'vitest';
import { globToRegExp, pathFilter } from '../../lib/content/glob.js';
import { toHex } from '../../lib/core/bytes.js';
import { autoPieceLength, checkPieceLength, comparePaths, layoutContent, planHashJobs } from '../../lib/metainfo/create.js';
import { makeTorrent } from '../../lib/metainfo/make.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { checkPieceLayers, pieceMatches } from '../../lib/metainfo/piece-check.js';
import { verifyReport } from '../../lib/metainfo/verify-report.js';
import { deterministicBytes } from '../../tools/demo-data.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('autoPieceLength (libtorrent 2.0 create_torrent, piece_size 0)', () => {
  it.each([
    [1, 16 * KiB],
    [2_684_355, 16 * KiB],
    [2_684_356, 32 * KiB],
    [256 * MiB, 256 * KiB],
    [2048 * MiB, 512 * KiB],
    [4096 * MiB, 1 * MiB],
    [800 * 1024 * MiB, 16 * MiB],
  ])('%d bytes -> %d', (size, want) => expect(autoPieceLength(size)).toBe(want));

  it('checkPieceLength takes powers of two from 16 KiB only', () => {
    expect(checkPieceLength(16 * KiB)).toBe(16 * KiB);
    for (const bad of [0, 8 * KiB, 3 * 16 * KiB, 1.5, -16384]) expect(() => checkPieceLength(bad)).toThrow(/power of two/);
  });
});

describe('layoutContent', () => {
  const files = [
    { path: ['z'], length: 40_000 },
    { path: ['b', 'd'], length: 50_000 },
    { path: ['a'], length: 100_000 },
    { path: ['b', 'c'], length: 0 },
  ];

  it('sorts by path component by component (BEP 52 key order), for every kind', () => {
    expect(comparePaths(['a', 'b'], ['a.txt'])).toBeLessThan(0); // 'a' < 'a.txt' as a component, though "a/b" > "a.txt" as a string
    for (const kind of ['v1', 'v2', 'hybrid'] as const) {
      expect(layoutContent(files, kind, 16 * KiB, false).files.filter((f) => !f.pad).map((f) => f.path.join('/'))).toEqual(['a', 'b/c', 'b/d', 'z']);
    }
  });

  it('hybrid: a pad after every unaligned file, the last one too, none around empty files (as libtorrent 2.0.8)', () => {
    const l = layoutContent(files, 'hybrid', 16 * KiB, false);
    expect(l.files.map((f) => [f.path.join('/'), f.length, f.offset, f.pad])).toEqual([
      ['a', 100_000, 0, false],
      ['.pad/14688', 14_688, 100_000, true],
      ['b/c', 0, 114_688, false],
      ['b/d', 50_000, 114_688, false],
      ['.pad/15536', 15_536, 164_688, true],
      ['z', 40_000, 180_224, false],
      ['.pad/9152', 9_152, 220_224, true],
    ]);
    expect(l.length % (16 * KiB)).toBe(0);
    expect(l.contentLength).toBe(190_000);
  });

  it('v2: the same alignment, implied; v1: none', () => {
    expect(layoutContent(files, 'v2', 16 * KiB, false).files.filter((f) => f.pad).every((f) => f.implicit)).toBe(true);
    expect(layoutContent(files, 'v1', 16 * KiB, false).files.some((f) => f.pad)).toBe(false);
    expect(layoutContent(files, 'v1', 16 * KiB, false).length).toBe(190_000);
  });

  it('refuses content with no bytes, and duplicate paths', () => {
    expect(() => layoutContent([{ path: ['e'], length: 0 }], 'hybrid', 16 * KiB, false)).toThrow(expect.objectContaining({ code: 'no_data' }));
    expect(() => layoutContent([{ path: ['a'], length: 1 }, { path: ['a'], length: 2 }], 'v1', 16 * KiB, false)).toThrow(expect.objectContaining({ code: 'duplicate_path' }));
  });
});

describe('planHashJobs', () => {
  it('cuts whole pieces into jobs whose segments cover each byte once, pads as zeros', () => {
    const l = layoutContent([{ path: ['a'], length: 100_000 }, { path: ['b'], length: 50_000 }], 'hybrid', 16 * KiB, false);
    const jobs = planHashJobs(l.files, { pieceLength: 16 * KiB, length: l.length, v1: true, v2: true, jobBytes: 48 * KiB });
    expect(jobs.map((j) => [j.firstPiece, j.pieceCount])).toEqual([[0, 3], [3, 3], [6, 3], [9, 2]]);
    for (const j of jobs) expect(j.segments.reduce((n, s) => n + s.length, 0)).toBe(j.byteLength);
    expect(jobs[2]!.segments).toEqual([
      { file: 0, fileOffset: 98_304, length: 1_696, zero: false },
      { file: 1, fileOffset: 0, length: 14_688, zero: true },
      { file: 2, fileOffset: 0, length: 32_768, zero: false },
    ]);
    expect(jobs[2]!.v2).toEqual([{ fileLength: 100_000, bytes: 1_696 }, { fileLength: 50_000, bytes: 16_384 }, { fileLength: 50_000, bytes: 16_384 }]);
    expect(jobs.reduce((n, j) => n + j.pieceCount, 0)).toBe(l.pieceCount);
  });

  it('one piece per job at least, whatever the job size', () => {
    const l = layoutContent([{ path: ['a'], length: 5 * 64 * KiB }], 'v1', 64 * KiB, true);
    expect(planHashJobs(l.files, { pieceLength: 64 * KiB, length: l.length, v1: true, v2: false, jobBytes: 1 }).length).toBe(5);
  });
});

describe('makeTorrent v2 and hybrid (the hashing btscope create runs in its workers)', () => {
  const files = [
    { path: ['big.bin'], data: deterministicBytes(200_000, 1) },
    { path: ['dir', 'small.bin'], data: deterministicBytes(5_000, 2) },
    { path: ['dir', 'empty'], data: new Uint8Array(0) },
  ];
  for (const kind of ['v2', 'hybrid'] as const) {
    it(`${kind}: parses clean, piece layers hash to the roots, every piece passes every hash`, () => {
      const { bytes, stream } = makeTorrent({ name: 'm', pieceLength: 32 * KiB, files, kind });
      const t = parseTorrent(bytes);
      expect(t.diagnostics.filter((d) => d.severity !== 'note')).toEqual([]);
      expect(t.hybrid).toBe(kind === 'hybrid');
      expect(() => checkPieceLayers(t)).not.toThrow();
      expect(t.pieceLayers.size).toBe(1);
      for (let i = 0; i < t.pieceCount; i++) {
        expect(pieceMatches(t, i, stream.subarray(i * t.pieceLength, Math.min(t.length, (i + 1) * t.pieceLength)))).toBe(true);
      }
    });
  }

  it('the same input gives the same bytes (deterministic), and a v1 keeps its given order', () => {
    const a = makeTorrent({ name: 'm', pieceLength: 16 * KiB, files, kind: 'hybrid' }).bytes;
    expect(toHex(makeTorrent({ name: 'm', pieceLength: 16 * KiB, files: [...files].reverse(), kind: 'hybrid' }).bytes)).toBe(toHex(a));
    const v1 = parseTorrent(makeTorrent({ name: 'm', pieceLength: 16 * KiB, files }).bytes);
    expect(v1.files.map((f) => f.path.slice(1).join('/'))).toEqual(['big.bin', 'dir/small.bin', 'dir/empty']);
  });
});

describe('verifyReport', () => {
  it('names the bad piece, the file and the first bad offset; a hybrid piece passing one hash only is a disagreement', () => {
    const files = [{ path: ['a'], data: deterministicBytes(70_000, 3) }, { path: ['b'], data: deterministicBytes(20_000, 4) }];
    const { bytes } = makeTorrent({ name: 'r', pieceLength: 16 * KiB, files, kind: 'hybrid' });
    const t = parseTorrent(bytes);
    const sha1 = new Uint8Array(t.pieces!);
    const v2 = new Uint8Array(t.pieceCount * 32);
    // The v2 hashes as found on disk: take the torrent's own, then break piece 2 in both and piece 6 in SHA-1 only.
    for (let i = 0; i < t.pieceCount; i++) {
      const ranges = t.files.findIndex((f) => !f.pad && f.offset <= i * t.pieceLength && i * t.pieceLength < f.offset + f.length);
      if (ranges < 0) continue;
      const f = t.files[ranges]!;
      const k = (i * t.pieceLength - f.offset) / t.pieceLength;
      const layer = t.pieceLayers.get(toHex(f.piecesRoot!));
      v2.set(layer ? layer.subarray(k * 32, k * 32 + 32) : f.piecesRoot!, i * 32);
    }
    sha1[2 * 20] ^= 1;
    v2[2 * 32] ^= 1;
    sha1[6 * 20] ^= 1;
    const found = t.files.map((f) => (f.pad ? undefined : { state: 'present' as const, length: f.length }));
    const r = verifyReport(t, sha1, v2, found);
    expect(r.badPieces).toEqual([2, 6]);
    expect(r.disagreements).toEqual([{ index: 6, v1: false, v2: true }]);
    expect(r.files.map((f) => [f.path, f.status, f.badPieces, f.firstBadOffset])).toEqual([
      ['r/a', 'bad_pieces', 1, 32_768],
      ['r/b', 'bad_pieces', 1, 16_384],
    ]);
    expect(r.ok).toBe(false);
  });
});

describe('globs (--include, --exclude)', () => {
  it.each([
    ['*.txt', 'a.txt', true],
    ['*.txt', 'dir/a.txt', true],
    ['*.txt', 'a.txt.bak', false],
    ['dir/*.txt', 'dir/a.txt', true],
    ['dir/*.txt', 'dir/sub/a.txt', false],
    ['dir/**/*.txt', 'dir/sub/deep/a.txt', true],
    ['dir/**/*.txt', 'dir/a.txt', true],
    ['?.bin', 'a.bin', true],
    ['[!a]*', 'b1', true],
    ['[!a]*', 'a1', false],
    ['node_modules', 'x/node_modules', true],
  ])('%s ~ %s: %s', (glob, path, want) => expect(globToRegExp(glob).test(path)).toBe(want));

  it('include needs a match when given; exclude wins', () => {
    const f = pathFilter(['*.flac'], ['*live*']);
    expect([f.included('a.flac'), f.included('a.jpg'), f.excluded('live.flac')]).toEqual([true, false, true]);
  });
});
