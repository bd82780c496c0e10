import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encode, type Encodable } from '../../lib/bencode/encode.js';
import { toHex } from '../../lib/core/bytes.js';
import { DecodeError } from '../../lib/core/errors.js';
import { parseInfoDict, parseTorrent } from '../../lib/metainfo/parse.js';
import { pieceFileRanges, pieceHashV1, pieceHashV2, torrentKind } from '../../lib/metainfo/layout.js';
import { blockHashes, merkleRoot, nextPowerOfTwo, v2PieceHash, BLOCK_SIZE } from '../../lib/metainfo/merkle.js';

const sha1 = (b: Uint8Array) => new Uint8Array(createHash('sha1').update(b).digest());
const sha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
const enc = (s: string) => new TextEncoder().encode(s);

/** Deterministic bytes. */
function data(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function v1Pieces(stream: Uint8Array, pl: number): Uint8Array {
  const n = Math.ceil(stream.length / pl);
  const out = new Uint8Array(n * 20);
  for (let i = 0; i < n; i++) out.set(sha1(stream.subarray(i * pl, (i + 1) * pl)), i * 20);
  return out;
}

function torrent(info: Record<string, Encodable>, top: Record<string, Encodable> = {}): Uint8Array {
  return encode({ ...top, info });
}

function errorOf(bytes: Uint8Array): { code: string; offset: number } {
  try {
    parseTorrent(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return { code: (e as DecodeError).code, offset: (e as DecodeError).offset };
  }
  throw new Error('expected a DecodeError');
}

describe('parseTorrent: v1 (BEP 3)', () => {
  const content = data(40_000);
  const pl = 16384;
  const single = torrent(
    { name: 'file.bin', 'piece length': pl, length: content.length, pieces: v1Pieces(content, pl), private: 1 },
    { announce: 'http://127.0.0.1:6969/announce', 'creation date': 1700000000, comment: 'hi', 'created by': 'btscope test', 'url-list': 'http://127.0.0.1/ws' },
  );

  it('single file: hashes, sizes, pieces, metadata', () => {
    const t = parseTorrent(single);
    const infoStart = single.indexOf(0x64, toHex(single).indexOf(toHex(enc('4:info'))) / 2 + 6);
    expect(t.infoSpan.start).toBe(infoStart);
    expect(t.infoHash && toHex(t.infoHash)).toBe(toHex(sha1(single.subarray(t.infoSpan.start, t.infoSpan.end))));
    expect(t.infoHashV2).toBeNull();
    expect(torrentKind(t)).toBe('v1');
    expect([t.name, t.pieceLength, t.pieceCount, t.length, t.lastPieceLength]).toEqual(['file.bin', pl, 3, 40_000, 40_000 - 2 * pl]);
    expect(t.files).toEqual([{ path: ['file.bin'], length: 40_000, offset: 0, pad: false, attr: '', span: expect.anything() }]);
    expect(t.trackers).toEqual([['http://127.0.0.1:6969/announce']]);
    expect(t.webSeeds).toEqual(['http://127.0.0.1/ws']);
    expect(t.private).toBe(true);
    expect([t.creationDate, t.comment, t.createdBy]).toEqual([1700000000, 'hi', 'btscope test']);
    expect(t.diagnostics).toEqual([]);
    expect(pieceHashV1(t, 2)).toEqual(sha1(content.subarray(2 * pl)));
  });

  it('info-hash is over the raw bytes, not a re-encoding (unsorted keys kept)', () => {
    const raw = enc('d4:infod6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaa5:aaaaai1eee');
    const t = parseTorrent(raw);
    expect(toHex(t.infoHash!)).toBe(toHex(sha1(raw.subarray(7, raw.length - 1))));
    expect(t.diagnostics.map((d) => d.code)).toEqual(['unsorted_keys']);
  });

  it('multi-file with BEP 47 pad files: offsets and piece -> file ranges', () => {
    const a = data(10_000, 2);
    const b = data(30_000, 3);
    const padLen = pl - a.length;
    const stream = new Uint8Array(a.length + padLen + b.length);
    stream.set(a, 0);
    stream.set(b, pl);
    const bytes = torrent({
      name: 'dir',
      'piece length': pl,
      pieces: v1Pieces(stream, pl),
      files: [
        { length: a.length, path: ['a.txt'] },
        { length: padLen, path: ['.pad', String(padLen)], attr: 'p' },
        { length: b.length, path: ['sub', 'b.bin'], attr: 'x' },
      ],
    });
    const t = parseTorrent(bytes);
    expect(t.files.map((f) => [f.path.join('/'), f.offset, f.length, f.pad, f.attr])).toEqual([
      ['dir/a.txt', 0, 10_000, false, ''],
      [`dir/.pad/${padLen}`, 10_000, padLen, true, 'p'],
      ['dir/sub/b.bin', pl, 30_000, false, 'x'],
    ]);
    expect(pieceFileRanges(t, 0)).toEqual([
      { fileIndex: 0, fileOffset: 0, length: 10_000, pieceOffset: 0, pad: false },
      { fileIndex: 1, fileOffset: 0, length: padLen, pieceOffset: 10_000, pad: true },
    ]);
    expect(pieceFileRanges(t, 2)).toEqual([{ fileIndex: 2, fileOffset: pl, length: 30_000 - pl, pieceOffset: 0, pad: false }]);
    expect(() => pieceFileRanges(t, 3)).toThrow(RangeError);
  });

  it('announce-list tiers (BEP 12) win over announce; URLs trimmed, duplicates dropped', () => {
    const t = parseTorrent(
      torrent(
        { name: 'x', 'piece length': pl, length: 1, pieces: new Uint8Array(20) },
        { announce: 'http://a/', 'announce-list': [['http://b/', ' http://c/ '], ['http://b/'], [], ['udp://d:1']], 'url-list': ['http://w/', 'http://w/', ''] },
      ),
    );
    expect(t.trackers).toEqual([['http://b/', 'http://c/'], ['udp://d:1']]);
    expect(t.webSeeds).toEqual(['http://w/']);
  });
});

describe('parseTorrent: hard errors carry code and byte offset', () => {
  const pieces = new Uint8Array(20);
  // The expected offset is where `at` first occurs in the input (a number: that offset).
  it.each<[string, Uint8Array, string, string | number]>([
    ['not a dict', enc('li1ee'), 'not_a_torrent', 0],
    ['no info', enc('d3:fooi1ee'), 'missing_field', 0],
    ['info not a dict', enc('d4:info3:abce'), 'wrong_type', '3:abc'],
    ['no name', enc('d4:infod6:lengthi1e12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee'), 'missing_field', 'd6:length'],
    ['name is an int', torrent({ name: 5, 'piece length': 16384, length: 1, pieces }), 'wrong_type', 'i5e'],
    ['negative piece length', torrent({ name: 'x', 'piece length': -1, length: 1, pieces }), 'invalid_value', 'i-1e'],
    ['negative length', torrent({ name: 'x', 'piece length': 16384, length: -5, pieces }), 'invalid_value', 'i-5e'],
    ['empty files', torrent({ name: 'x', 'piece length': 16384, files: [], pieces }), 'no_files', 'le4:name'],
    ['path element not a string', torrent({ name: 'x', 'piece length': 16384, files: [{ length: 1, path: [7] }], pieces }), 'wrong_type', 'i7e'],
    ['total length 0', torrent({ name: 'x', 'piece length': 16384, length: 0, pieces: '' }), 'invalid_value', 'i0e'],
    ['pieces not a string', torrent({ name: 'x', 'piece length': 16384, length: 1, pieces: 3 }), 'wrong_type', 'i3e'],
    ['truncated', enc('d4:infod4:name'), 'unexpected_eof', 14],
  ])('%s', (_what, bytes, code, at) => {
    const offset = typeof at === 'number' ? at : new TextDecoder('latin1').decode(bytes).indexOf(at);
    expect(offset).toBeGreaterThanOrEqual(0);
    expect(errorOf(bytes)).toEqual({ code, offset });
  });

  it('too many pieces is a limit, not an allocation', () => {
    const bytes = torrent({ name: 'x', 'piece length': 16384, length: 16384 * 5_000_000, pieces });
    expect(errorOf(bytes).code).toBe('limit_exceeded');
  });

  it('wrong number of piece hashes is an error diagnostic on the pieces span', () => {
    const bytes = torrent({ name: 'x', 'piece length': 16384, length: 40_000, pieces });
    const t = parseTorrent(bytes);
    const d = t.diagnostics.find((x) => x.code === 'invalid_hashes')!;
    expect(d.severity).toBe('error');
    expect(new TextDecoder().decode(bytes.subarray(d.span.start, d.span.start + 3))).toBe('20:');
  });
});

describe('parseTorrent: unsafe paths are diagnostics on the component bytes', () => {
  it('.. and absolute components', () => {
    const bytes = torrent({ name: 'x', 'piece length': 16384, pieces: new Uint8Array(20), files: [{ length: 1, path: ['..', 'evil'] }, { length: 1, path: ['/etc', 'passwd'] }] });
    const t = parseTorrent(bytes);
    const unsafe = t.diagnostics.filter((d) => d.code === 'unsafe_path');
    expect(unsafe.map((d) => new TextDecoder().decode(bytes.subarray(d.span.start, d.span.end)))).toEqual(['2:..', '4:/etc']);
    expect(unsafe.every((d) => d.severity === 'warning')).toBe(true);
  });
});

describe('parseTorrent: files written to the same place', () => {
  it('a plain path and a sanitised one that lands on it are duplicates; the later file carries the warning', () => {
    const files = [
      { length: 1, path: ['a_b'] },
      { length: 2, path: ['dir', 'x'] },
      { length: 3, path: ['a:b'] },
      { length: 4, path: ['dir', 'x'] },
      { length: 5, path: ['dir', 'y'] },
    ];
    const t = parseTorrent(torrent({ name: 'top', 'piece length': 16384, pieces: new Uint8Array(20), files }));
    const dups = t.diagnostics.filter((d) => d.code === 'duplicate_path');
    expect(dups.map((d) => d.message)).toEqual(['two files are written to "top/a_b"', 'two files are written to "top/dir/x"']);
    expect(dups.map((d) => d.span)).toEqual([t.files[2]!.span, t.files[3]!.span]);
    expect(t.files.map((f) => f.offset)).toEqual([0, 1, 3, 6, 10]);
  });

  it('100 000 files, every 1000th path written twice: 100 warnings, offsets in order', () => {
    const files = Array.from({ length: 100_000 }, (_, i) => {
      const n = i % 1000 === 999 ? i - 1 : i;
      return { length: 1 + (i % 7), path: [`d${n % 100}`, `f${n}`] };
    });
    const total = files.reduce((n, f) => n + f.length, 0);
    const t = parseTorrent(torrent({ name: 'many', 'piece length': 1 << 20, pieces: new Uint8Array(Math.ceil(total / (1 << 20)) * 20), files }));
    expect(t.files).toHaveLength(100_000);
    expect(t.diagnostics.filter((d) => d.code === 'duplicate_path')).toHaveLength(100);
    expect(t.files[99_999]!.offset).toBe(total - t.files[99_999]!.length);
    expect(t.files[12_345]!.path).toEqual(['many', 'd45', 'f12345']);
  });

  it('a 100 000-entry url-list keeps each web seed once, in first-seen order', () => {
    const urls = Array.from({ length: 100_000 }, (_, i) => `http://127.0.0.1/${i % 50_000}`);
    const t = parseTorrent(torrent({ name: 'f', 'piece length': 16384, length: 1, pieces: new Uint8Array(20) }, { 'url-list': urls }));
    expect(t.webSeeds).toHaveLength(50_000);
    expect(t.webSeeds.slice(0, 2)).toEqual(['http://127.0.0.1/0', 'http://127.0.0.1/1']);
  });
});

/** A v2 file's merkle data: pieces root and piece layer, computed independently of lib/metainfo/merkle. */
function v2File(content: Uint8Array, pl: number): { root: Uint8Array; layer: Uint8Array } {
  const leaves: Uint8Array[] = [];
  for (let i = 0; i < content.length; i += BLOCK_SIZE) leaves.push(sha256(content.subarray(i, i + BLOCK_SIZE)));
  const perPiece = pl / BLOCK_SIZE;
  const reduce = (nodes: Uint8Array[], width: number, pad: Uint8Array): Uint8Array => {
    let layer = [...nodes];
    while (layer.length < width) layer.push(pad);
    while (layer.length > 1) {
      const next: Uint8Array[] = [];
      for (let i = 0; i < layer.length; i += 2) next.push(sha256(new Uint8Array([...layer[i]!, ...layer[i + 1]!])));
      layer = next;
    }
    return layer[0]!;
  };
  const zero = new Uint8Array(32);
  if (content.length <= pl) return { root: reduce(leaves, nextPowerOfTwo(leaves.length), zero), layer: new Uint8Array(0) };
  const pieceHashes: Uint8Array[] = [];
  for (let i = 0; i < leaves.length; i += perPiece) pieceHashes.push(reduce(leaves.slice(i, i + perPiece), perPiece, zero));
  const padPiece = reduce([], perPiece, zero);
  const layer = new Uint8Array(pieceHashes.length * 32);
  pieceHashes.forEach((h, i) => layer.set(h, i * 32));
  return { root: reduce(pieceHashes, nextPowerOfTwo(pieceHashes.length), padPiece), layer };
}

describe('parseTorrent: v2 and hybrid (BEP 52)', () => {
  const pl = 32768;
  const big = data(100_000, 7);
  const small = data(5_000, 8);
  const bigM = v2File(big, pl);
  const smallM = v2File(small, pl);
  const tree = { 'big.bin': { '': { length: big.length, 'pieces root': bigM.root } }, 'small.txt': { '': { length: small.length, 'pieces root': smallM.root } } };
  const layers = new Map([[bigM.root, bigM.layer]]) as unknown as Map<Uint8Array, Encodable>;

  it('v2-only: SHA-256 info-hash, implicit pads, verified piece layers', () => {
    const bytes = torrent({ name: 'v2dir', 'piece length': pl, 'meta version': 2, 'file tree': tree }, { 'piece layers': layers });
    const t = parseTorrent(bytes);
    expect(torrentKind(t)).toBe('v2');
    expect(t.infoHash).toBeNull();
    expect(toHex(t.infoHashV2!)).toBe(toHex(sha256(t.info)));
    const padBig = 4 * pl - big.length;
    expect(t.files.map((f) => [f.path.join('/'), f.offset, f.length, f.pad])).toEqual([
      ['v2dir/big.bin', 0, big.length, false],
      [`v2dir/.pad/${padBig}`, big.length, padBig, true],
      ['v2dir/small.txt', 4 * pl, small.length, false],
      [`v2dir/.pad/${pl - small.length}`, 4 * pl + small.length, pl - small.length, true],
    ]);
    expect(t.pieceCount).toBe(5);
    expect(t.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(toHex(t.pieceLayers.get(toHex(bigM.root))!)).toBe(toHex(bigM.layer));
    // Each piece checks against its layer hash; the small file against its root.
    for (let i = 0; i < 4; i++) {
      const h = pieceHashV2(t, i)!;
      expect(toHex(v2PieceHash(big.subarray(i * pl, (i + 1) * pl), pl, h.fileLength))).toBe(toHex(h.hash));
    }
    const last = pieceHashV2(t, 4)!;
    expect(toHex(last.hash)).toBe(toHex(smallM.root));
    expect(toHex(v2PieceHash(small, pl, small.length))).toBe(toHex(smallM.root));
    expect(toHex(merkleRoot(blockHashes(small), 1))).toBe(toHex(smallM.root));
  });

  it('a piece layer that does not hash to its root is an error', () => {
    const badLayer = bigM.layer.slice();
    badLayer[0]! ^= 1;
    const bytes = torrent({ name: 'v2dir', 'piece length': pl, 'meta version': 2, 'file tree': tree }, { 'piece layers': new Map([[bigM.root, badLayer]]) as unknown as Map<Uint8Array, Encodable> });
    const t = parseTorrent(bytes);
    expect(t.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code)).toEqual(['invalid_piece_layer']);
    expect(t.pieceLayers.size).toBe(0);
  });

  it('hybrid: both hashes, v1 files with pads must match the tree', () => {
    const pad = 4 * pl - big.length;
    const stream = new Uint8Array(4 * pl + small.length);
    stream.set(big, 0);
    stream.set(small, 4 * pl);
    const info = {
      name: 'h',
      'piece length': pl,
      'meta version': 2,
      'file tree': tree,
      files: [{ length: big.length, path: ['big.bin'] }, { length: pad, path: ['.pad', String(pad)], attr: 'p' }, { length: small.length, path: ['small.txt'] }],
      pieces: v1Pieces(stream, pl),
    };
    const t = parseTorrent(torrent(info, { 'piece layers': layers }));
    expect(torrentKind(t)).toBe('hybrid');
    expect(t.infoHash && t.infoHashV2).toBeTruthy();
    expect(t.diagnostics).toEqual([]);
    expect(t.files[2]!.piecesRoot).toEqual(smallM.root);
    const broken = parseTorrent(torrent({ ...info, files: [{ length: big.length, path: ['big.bin'] }, { length: small.length, path: ['small.txt'] }] }, { 'piece layers': layers }));
    expect(broken.diagnostics.map((d) => d.code)).toContain('inconsistent_files');
  });

  it('v2 piece length must be a power of two >= 16 KiB', () => {
    expect(errorOf(torrent({ name: 'x', 'piece length': 20000, 'meta version': 2, 'file tree': tree })).code).toBe('invalid_value');
  });

  it('parseInfoDict: BEP 9 metadata gives the same hashes and files, no trackers', () => {
    const whole = parseTorrent(torrent({ name: 'v2dir', 'piece length': pl, 'meta version': 2, 'file tree': tree }, { announce: 'http://x/' }));
    const t = parseInfoDict(whole.info, { trackers: [['http://y/']] });
    expect(toHex(t.infoHashV2!)).toBe(toHex(whole.infoHashV2!));
    expect(t.files).toEqual(whole.files.map((f) => ({ ...f, ...(f.span ? { span: { start: f.span.start - whole.infoSpan.start, end: f.span.end - whole.infoSpan.start } } : {}) })));
    expect(t.trackers).toEqual([['http://y/']]);
  });
});
