import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { encode } from '../../lib/bencode/encode.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { blockHashes, merkleRoot, nextPowerOfTwo, rootFromPieceLayer, v2PieceHash } from '../../lib/metainfo/merkle.js';
import { checkPieceLayers, checkPieceV1, checkPieceV2, needsPieceLayers, pieceMatches, pieceMatchesV2 } from '../../lib/metainfo/piece-check.js';
import type { V2Layout } from '../../lib/metainfo/layout.js';
import type { Torrent, TorrentFile } from '../../lib/metainfo/types.js';

// The pure piece checks shared by the engine (PieceVerifier), trace --extract
// and comply, on a hybrid torrent built here from BEP 52's definitions:
// a.bin (20000 bytes, one piece: checked against its pieces root), a BEP 47
// pad to the piece boundary, b.bin (two pieces: checked against its layer).

const PIECE = 32768;
const a = new Uint8Array(20000).map((_, i) => (i * 13) & 0xff);
const b = new Uint8Array(2 * PIECE).map((_, i) => Math.imul(i + 1, 2654435761) >>> 24);
const stream = Buffer.concat([a, new Uint8Array(PIECE - a.length), b]);
const piece = (i: number): Uint8Array => stream.subarray(i * PIECE, (i + 1) * PIECE);
const flip = (x: Uint8Array, at = 5): Uint8Array => {
  const c = new Uint8Array(x); // a copy (Buffer's slice is a view)
  c[at]! ^= 1;
  return c;
};

const aRoot = Buffer.from(merkleRoot(blockHashes(a), nextPowerOfTwo(blockHashes(a).length / 32)));
const bLayer = Buffer.concat([0, 1].map((i) => Buffer.from(v2PieceHash(b.subarray(i * PIECE, (i + 1) * PIECE), PIECE, b.length))));
const bRoot = Buffer.from(rootFromPieceLayer(bLayer, PIECE));

function hybrid(layers = true): Torrent {
  const info = {
    name: 'd',
    'piece length': PIECE,
    'meta version': 2,
    'file tree': { 'a.bin': { '': { length: a.length, 'pieces root': aRoot } }, 'b.bin': { '': { length: b.length, 'pieces root': bRoot } } },
    files: [
      { length: a.length, path: ['a.bin'] },
      { attr: 'p', length: PIECE - a.length, path: ['.pad', String(PIECE - a.length)] },
      { length: b.length, path: ['b.bin'] },
    ],
    pieces: Buffer.concat([0, 1, 2].map((i) => createHash('sha1').update(piece(i)).digest())),
  };
  return parseTorrent(encode({ info, 'piece layers': new Map<Uint8Array, Uint8Array>(layers ? [[bRoot, bLayer]] : []) } as never));
}

describe('checkPieceV1 (BEP 3 SHA-1)', () => {
  const t = hybrid();
  it('the piece, one flipped bit, no hash for the index', () => {
    expect(checkPieceV1(t, 1, piece(1))).toMatchObject({ ok: true, want: t.pieces!.subarray(20, 40) });
    expect(checkPieceV1(t, 1, flip(piece(1)))!.ok).toBe(false);
    expect(checkPieceV1(t, 3, piece(1))).toBeUndefined();
    expect(checkPieceV1({ pieces: null }, 0, piece(0))).toBeUndefined();
  });
});

describe('checkPieceV2 / pieceMatchesV2 (BEP 52 merkle)', () => {
  const t = hybrid();
  it('a one-piece file against its pieces root; only its own bytes are leaves', () => {
    const c = checkPieceV2(t, 0, piece(0))!;
    expect(c.ok).toBe(true);
    expect(Buffer.from(c.want).equals(aRoot)).toBe(true);
    // The pad bytes after a.bin are not leaves: changing them does not change the v2 verdict (SHA-1 sees them).
    expect(checkPieceV2(t, 0, flip(piece(0), 25000))!.ok).toBe(true);
    expect(checkPieceV1(t, 0, flip(piece(0), 25000))!.ok).toBe(false);
    expect(checkPieceV2(t, 0, flip(piece(0)))!.ok).toBe(false);
  });

  it('a larger file against its piece layer', () => {
    expect([1, 2].map((i) => checkPieceV2(t, i, piece(i))!.ok)).toEqual([true, true]);
    expect(checkPieceV2(t, 2, flip(piece(2)))!.ok).toBe(false);
    expect(checkPieceV2(t, 1, piece(2))!.ok).toBe(false);
  });

  it('no layer: no v2 hash, and a file piece without one fails', () => {
    const bare = hybrid(false);
    expect(checkPieceV2(bare, 1, piece(1))).toBeUndefined();
    expect(pieceMatchesV2(bare, 1, piece(1))).toBe(false);
    expect(pieceMatchesV2(bare, 0, piece(0))).toBe(true);
  });

  it('a piece that starts in padding has no v2 hash and passes', () => {
    const f = (over: Partial<TorrentFile>): TorrentFile => ({ path: ['x'], length: 0, offset: 0, pad: false, attr: '', ...over });
    const layout: V2Layout = {
      infoHashV2: new Uint8Array(32),
      pieceCount: 2,
      pieceLength: PIECE,
      files: [f({ length: a.length, piecesRoot: aRoot }), f({ offset: a.length, length: 2 * PIECE - a.length, pad: true, attr: 'p' })],
      pieceLayers: new Map(),
    };
    expect(checkPieceV2(layout, 1, new Uint8Array(PIECE))).toBeUndefined();
    expect(pieceMatchesV2(layout, 1, new Uint8Array(PIECE))).toBe(true);
    expect(pieceMatchesV2(layout, 0, piece(0))).toBe(true);
  });
});

describe('pieceMatches: every hash the torrent has', () => {
  it('a hybrid piece must pass SHA-1 and merkle', () => {
    const t = hybrid();
    expect([0, 1, 2].map((i) => pieceMatches(t, i, piece(i)))).toEqual([true, true, true]);
    expect(pieceMatches(t, 0, flip(piece(0), 25000))).toBe(false); // SHA-1 fails, v2 passes
    expect(pieceMatches({ ...t, pieces: null }, 0, flip(piece(0), 25000))).toBe(true); // v2 only
    expect(pieceMatches({ ...t, infoHashV2: null }, 1, piece(1))).toBe(true); // v1 only
    expect(pieceMatches({ ...t, pieceLayers: new Map() }, 1, piece(1))).toBe(false); // layer unknown
  });
});

describe('checkPieceLayers / needsPieceLayers', () => {
  it('a layer present, absent, of the wrong size, or not hashing to the root', () => {
    const t = hybrid();
    expect(needsPieceLayers(t)).toBe(true);
    expect(() => checkPieceLayers(t)).not.toThrow();
    const root = Buffer.from(bRoot).toString('hex');
    expect(() => checkPieceLayers({ ...t, pieceLayers: new Map() })).toThrow(expect.objectContaining({ code: 'no_piece_layer' }));
    expect(() => checkPieceLayers({ ...t, pieceLayers: new Map([[root, bLayer.subarray(0, 32)]]) })).toThrow(expect.objectContaining({ code: 'bad_piece_layer' }));
    expect(() => checkPieceLayers({ ...t, pieceLayers: new Map([[root, flip(bLayer)]]) })).toThrow(expect.objectContaining({ code: 'bad_piece_layer' }));
    expect(needsPieceLayers({ ...t, files: t.files.filter((f) => f.length < PIECE) })).toBe(false);
  });
});
