import { describe, expect, it } from 'vitest';
import { encode } from '../../lib/bencode/encode.js';
import { parseInfoDict } from '../../lib/metainfo/parse.js';
import { merkleRoot, rootFromPieceLayer, sha256, v2PieceHash, zeroHash } from '../../lib/metainfo/merkle.js';
import { deterministicBytes } from '../../tools/demo-data.js';
import { answers, layerRequests, withPieceLayers } from '../../lib/engine/piece-layer-fetch.js';
import { answerHashRequest, MAX_ANSWER_HASHES, type HashAnswer, type PieceTree } from '../../lib/engine/hash-answer.js';
import { bytesEqual, toHex } from '../../lib/core/bytes.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import type { HashRequestFields } from '../../lib/wire/hash-messages.js';

const PIECE = 32768; // piece layer = base layer 1 (two 16 KiB blocks per piece)
const h = (s: string): Uint8Array => sha256(new TextEncoder().encode(s));
const cat = (...xs: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(xs.length * 32);
  xs.forEach((x, i) => out.set(x, i * 32));
  return out;
};

/** A v2-only torrent (BEP 52 file tree) whose files have these lengths and, where given, these pieces roots. */
function v2Info(files: { name: string; length: number; root: Uint8Array }[]): Torrent {
  const tree: Record<string, unknown> = {};
  for (const f of files) tree[f.name] = { '': { length: f.length, 'pieces root': f.root } };
  return parseInfoDict(encode({ 'file tree': tree, 'meta version': 2, name: 'hashes', 'piece length': PIECE } as never));
}

/** A v2-only torrent over real data: each big file's true piece layer attached. */
function v2Torrent(files: [string, number][]): Torrent {
  const layers = new Map<string, Uint8Array>();
  const specs = files.map(([name, length], i) => {
    const data = deterministicBytes(length, 70 + i);
    const pieces = Math.ceil(length / PIECE);
    const layer = new Uint8Array(pieces * 32);
    for (let p = 0; p < pieces; p++) layer.set(v2PieceHash(data.subarray(p * PIECE, (p + 1) * PIECE), PIECE, length), p * 32);
    const root = length > PIECE ? rootFromPieceLayer(layer, PIECE) : layer.subarray(0, 32);
    if (length > PIECE) layers.set(toHex(root), layer);
    return { name, length, root };
  });
  return withPieceLayers(v2Info(specs), layers);
}

/*
 * The hand-computed tree: one file of 5 pieces, its piece layer L0..L4 padded
 * to 8 with Z, the root of a zero subtree of one piece (2 blocks):
 *
 *                     R
 *            B0               B1
 *        A0       A1      A2       A3
 *      L0  L1   L2  L3  L4  Z    Z   Z
 */
const L = [0, 1, 2, 3, 4].map((i) => h(`piece ${i}`));
const Z = zeroHash(1);
const A = [sha256(L[0]!, L[1]!), sha256(L[2]!, L[3]!), sha256(L[4]!, Z), sha256(Z, Z)];
const B = [sha256(A[0]!, A[1]!), sha256(A[2]!, A[3]!)];
const R = sha256(B[0]!, B[1]!);
const SMALL_ROOT = h('a file of one piece');
const small = v2Info([
  { name: 'five', length: 4 * PIECE + 100, root: R },
  { name: 'small', length: 1000, root: SMALL_ROOT },
]);
const five = withPieceLayers(small, new Map([[toHex(R), cat(...L)]]));

const req = (r: Partial<HashRequestFields>): HashRequestFields => ({ piecesRoot: R, baseLayer: 1, index: 0, length: 2, proofLayers: 0, ...r });
const hashesOf = (a: HashAnswer): Uint8Array => {
  if (!a.ok) throw new Error(`rejected: ${a.reason}: ${a.message}`);
  return a.hashes;
};

describe('BEP 52 hashes answer: the hand-computed 5-piece tree (padded to 8)', () => {
  it('the tree above is the one btscope computes (rootFromPieceLayer folds L0..L4 to R)', () => {
    expect(toHex(rootFromPieceLayer(cat(...L), PIECE))).toBe(toHex(R));
  });

  const cases: [string, Partial<HashRequestFields>, Uint8Array[]][] = [
    ['index 0, length 2, proof 0: the two hashes', { index: 0, length: 2, proofLayers: 0 }, [L[0]!, L[1]!]],
    ['index 0, length 2, proof 1: + A1', { index: 0, length: 2, proofLayers: 1 }, [L[0]!, L[1]!, A[1]!]],
    ['index 0, length 2, proof 2: + A1, B1 (closest to the root last)', { index: 0, length: 2, proofLayers: 2 }, [L[0]!, L[1]!, A[1]!, B[1]!]],
    ['index 2, length 2, proof 2: + A0, B1', { index: 2, length: 2, proofLayers: 2 }, [L[2]!, L[3]!, A[0]!, B[1]!]],
    ['index 4, length 2, proof 2: L4 and the pad Z, + A3, B0', { index: 4, length: 2, proofLayers: 2 }, [L[4]!, Z, A[3]!, B[0]!]],
    ['index 6, length 2, proof 1: all padding, + A2', { index: 6, length: 2, proofLayers: 1 }, [Z, Z, A[2]!]],
    ['index 4, length 4, proof 0', { index: 4, length: 4, proofLayers: 0 }, [L[4]!, Z, Z, Z]],
    ['index 4, length 4, proof 1: the layer inside the range is omitted (counted)', { index: 4, length: 4, proofLayers: 1 }, [L[4]!, Z, Z, Z]],
    ['index 4, length 4, proof 2: + B0', { index: 4, length: 4, proofLayers: 2 }, [L[4]!, Z, Z, Z, B[0]!]],
    ['index 0, length 4, proof 2: + B1', { index: 0, length: 4, proofLayers: 2 }, [L[0]!, L[1]!, L[2]!, L[3]!, B[1]!]],
    ['index 0, length 8, proof 2: the whole layer, both proof layers omitted', { index: 0, length: 8, proofLayers: 2 }, [...L, Z, Z, Z]],
    ['index 4, length 1 (truncated by the end of the layer), proof 2: + A3, B0', { index: 4, length: 1, proofLayers: 2 }, [L[4]!, A[3]!, B[0]!]],
  ];
  it.each(cases)('%s', (_name, r, want) => {
    const a = answerHashRequest(five, req(r));
    expect(toHex(hashesOf(a))).toBe(toHex(cat(...want)));
  });

  it('the uncle count is what libtorrent expects: proof layers - log2(length) + 1, at least 0', () => {
    for (const [length, p, n] of [[2, 0, 0], [2, 2, 2], [4, 1, 0], [4, 2, 1], [8, 2, 0]] as const) {
      const a = answerHashRequest(five, req({ index: 0, length, proofLayers: p }));
      expect(a.ok && a.uncles, `length ${length} proof ${p}`).toBe(n);
    }
  });

  it('uncles are the tree built once: a shared map holds each file tree, and the answers stay the same', () => {
    const trees = new Map<string, PieceTree>();
    const a1 = answerHashRequest(five, req({ index: 0, length: 2, proofLayers: 2 }), { trees });
    expect(trees.size).toBe(1);
    const tree = trees.get(toHex(R))!;
    expect(toHex(tree[3]!)).toBe(toHex(R));
    const a2 = answerHashRequest(five, req({ index: 0, length: 2, proofLayers: 2 }), { trees });
    expect(trees.get(toHex(R))).toBe(tree);
    expect(toHex(hashesOf(a2))).toBe(toHex(hashesOf(a1)));
  });
});

describe('BEP 52 hash reject: every request we cannot or must not answer', () => {
  const rejects: [string, HashRequestFields, string][] = [
    ['an unknown pieces root', req({ piecesRoot: h('nobody') }), 'unknown_root'],
    ['a file of one piece (no piece layer)', req({ piecesRoot: SMALL_ROOT }), 'no_piece_layer'],
    ['the block layer (base 0: we keep no block hashes)', req({ baseLayer: 0 }), 'base_layer'],
    ['a layer above the piece layer', req({ baseLayer: 2 }), 'base_layer'],
    ['length 0', req({ length: 0 }), 'length'],
    ['length 3 (not a power of two)', req({ length: 3 }), 'length'],
    ['length 1 before the end of the layer', req({ index: 2, length: 1 }), 'length'],
    ['length 16 (the padded layer is 8)', req({ length: 16 }), 'length'],
    ['index 1 with length 2 (not a multiple)', req({ index: 1, length: 2 }), 'index'],
    ['index 8 (past the padded layer)', req({ index: 8, length: 2 }), 'index'],
    ['index 4, length 8 (not aligned, runs past)', req({ index: 4, length: 8 }), 'index'],
    ['proof layers 3 (the tree has 3 levels: at most 2)', req({ proofLayers: 3 }), 'proof_layers'],
    ['proof layers 2^32-1', req({ proofLayers: 0xffffffff }), 'proof_layers'],
    ['index 2^32-2', req({ index: 0xfffffffe }), 'index'],
  ];
  it.each(rejects)('%s', (_name, r, reason) => {
    const a = answerHashRequest(five, r);
    expect(a.ok).toBe(false);
    expect(!a.ok && a.reason).toBe(reason);
    expect(!a.ok && a.message.length).toBeGreaterThan(10);
  });

  it('a torrent without the layer at hand (a magnet before fetching it) rejects', () => {
    const a = answerHashRequest(small, req({}));
    expect(!a.ok && a.reason).toBe('no_piece_layer');
  });

  it('length over the cap: maxLength, and never more than MAX_ANSWER_HASHES', () => {
    expect(answerHashRequest(five, req({ length: 8 }), { maxLength: 4 })).toMatchObject({ ok: false, reason: 'length' });
    expect(answerHashRequest(five, req({ length: 4 }), { maxLength: 4 }).ok).toBe(true);
    const huge = v2Info([{ name: 'huge', length: (2 * MAX_ANSWER_HASHES + 1) * PIECE, root: h('huge root') }]);
    const hugeT = withPieceLayers(huge, new Map([[toHex(h('huge root')), new Uint8Array((2 * MAX_ANSWER_HASHES + 1) * 32)]]));
    const r = { piecesRoot: h('huge root'), baseLayer: 1, index: 0, length: 2 * MAX_ANSWER_HASHES, proofLayers: 0 };
    expect(answerHashRequest(hugeT, r, { maxLength: 1 << 20 })).toMatchObject({ ok: false, reason: 'length' });
  });

  it('a stored layer that does not fold to its root is not vouched for with uncles', () => {
    const wrong = cat(...L);
    wrong[5]! ^= 1;
    const t = withPieceLayers(small, new Map([[toHex(R), wrong]]));
    expect(answerHashRequest(t, req({ proofLayers: 1 }))).toMatchObject({ ok: false, reason: 'bad_layer' });
  });
});

describe('answers pass piece-layer-fetch.ts\'s own checks (real data)', () => {
  const full = v2Torrent([['big', PIECE * 46 + 1234], ['small', 20_000], ['exact', PIECE * 2], ['wide', PIECE * 1100 + 5]]);
  const bare = v2Info(full.files.filter((f) => !f.pad).map((f) => ({ name: f.path[f.path.length - 1]!, length: f.length, root: f.piecesRoot! })));

  it('every request fetchPieceLayers sends is answered, matches it, and the assembled layers fold to the roots', () => {
    const reqs = layerRequests(bare);
    expect(reqs.map((r) => [r.name, r.index, r.length])).toEqual([
      ['hashes/big', 0, 64],
      ['hashes/exact', 0, 2],
      ['hashes/wide', 0, 512],
      ['hashes/wide', 512, 512],
      ['hashes/wide', 1024, 512],
    ]);
    const parts = new Map<number, Uint8Array>();
    for (const r of reqs) {
      // The hash request fetchPieceLayers sends for `r` (proof layers 0: it knows the root).
      const hashes = hashesOf(answerHashRequest(full, { ...r, proofLayers: 0 }));
      const m = { type: 'hashes' as const, piecesRoot: r.piecesRoot, baseLayer: r.baseLayer, index: r.index, length: r.length, proofLayers: 0, hashes };
      expect(answers(r, m)).toBe(true);
      expect(hashes.length).toBe(r.length * 32);
      const layer = parts.get(r.fileIndex) ?? new Uint8Array(r.pieces * 32);
      const want = Math.min(r.length, r.pieces - r.index);
      layer.set(hashes.subarray(0, want * 32), r.index * 32);
      parts.set(r.fileIndex, layer);
    }
    expect(parts.size).toBe(3);
    for (const [fi, layer] of parts) {
      const f = full.files[fi]!;
      expect(toHex(rootFromPieceLayer(layer, PIECE))).toBe(toHex(f.piecesRoot!));
      expect(toHex(layer)).toBe(toHex(full.pieceLayers.get(toHex(f.piecesRoot!))!));
    }
  });

  it('proofs: hashes + uncles fold to the pieces root for every aligned range and full proof', () => {
    const f = full.files.find((x) => x.path.includes('wide'))!;
    const layer = full.pieceLayers.get(toHex(f.piecesRoot!))!;
    const width = 2048; // 1101 pieces
    const height = 11;
    const padded = new Uint8Array(width * 32);
    padded.set(layer);
    for (let i = layer.length / 32; i < width; i++) padded.set(Z, i * 32);
    const trees = new Map<string, PieceTree>();
    let checked = 0;
    for (const length of [2, 8, 512]) {
      for (const index of [0, length, 1024, 1024 + length * 5, 2048 - length].filter((i) => i + length <= width)) {
        const a = answerHashRequest(full, { piecesRoot: f.piecesRoot!, baseLayer: 1, index, length, proofLayers: height - 1 }, { trees });
        const hashes = hashesOf(a);
        // Fold: the range's subtree root, then one uncle per level up to the root (independent of hash-answer.ts).
        let node = merkleRoot(hashes.subarray(0, length * 32), length);
        let at = index / length;
        const uncles = hashes.subarray(length * 32);
        expect(uncles.length / 32).toBe(height - Math.log2(length));
        for (let u = 0; u < uncles.length / 32; u++) {
          const uncle = uncles.subarray(u * 32, u * 32 + 32);
          // Each uncle is the root of its own stretch of the padded layer.
          const span = length << u;
          const sib = at ^ 1;
          expect(toHex(uncle)).toBe(toHex(merkleRoot(padded.subarray(sib * span * 32, (sib + 1) * span * 32), span)));
          node = at % 2 === 0 ? sha256(node, uncle) : sha256(uncle, node);
          at >>= 1;
        }
        expect(bytesEqual(node, f.piecesRoot!)).toBe(true);
        checked++;
      }
    }
    expect(checked).toBe(14);
  });
});
