import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { encode } from '../../lib/bencode/encode.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { torrentKind } from '../../lib/metainfo/layout.js';
import { blockHashes, merkleRoot, nextPowerOfTwo, rootFromPieceLayer, v2PieceHash } from '../../lib/metainfo/merkle.js';
import { PieceExtractor, type PieceOutcome } from '../../lib/trace/extract.js';

// --extract for every kind of torrent: v1 (SHA-1), v2-only (BEP 52 piece
// layers and, for a file of one piece or less, its pieces root) and hybrids
// (both must match). Torrents are built here from BEP 52's definitions.

const PIECE = 32768;
const bigFile = new Uint8Array(2 * PIECE).map((_, i) => (i * 31 + 7) & 0xff);
const smallFile = new Uint8Array(20000).map((_, i) => (i * 13) & 0xff);

/** `pieces root` of a file (BEP 52): its piece layer padded with zero-subtree roots, or the padded block tree for a small file. */
function v2File(data: Uint8Array, corruptLayer = false): { root: Buffer; layer: Buffer | undefined } {
  if (data.length <= PIECE) {
    const leaves = blockHashes(data);
    return { root: Buffer.from(merkleRoot(leaves, nextPowerOfTwo(leaves.length / 32))), layer: undefined };
  }
  const layer = Buffer.concat([0, 1].map((i) => Buffer.from(v2PieceHash(data.subarray(i * PIECE, (i + 1) * PIECE), PIECE, data.length))));
  // A wrong hash for piece 0 in a layer that still hashes up to the root (the torrent stays valid).
  if (corruptLayer) layer[0] ^= 1;
  return { root: Buffer.from(rootFromPieceLayer(layer, PIECE)), layer };
}

function torrent(kind: 'v2' | 'hybrid', corrupt?: 'v1' | 'v2'): Uint8Array {
  const big = v2File(bigFile, corrupt === 'v2');
  const small = v2File(smallFile);
  const info: Record<string, unknown> = {
    name: 'd',
    'piece length': PIECE,
    'meta version': 2,
    'file tree': { 'a.bin': { '': { length: bigFile.length, 'pieces root': big.root } }, 'b.bin': { '': { length: smallFile.length, 'pieces root': small.root } } },
  };
  if (kind === 'hybrid') {
    // v1 view of the same stream: a.bin, then b.bin (BEP 47: no pad needed, a.bin ends on a piece boundary).
    const stream = Buffer.concat([bigFile, smallFile]);
    const sha1 = [0, 1, 2].map((i) => createHash('sha1').update(stream.subarray(i * PIECE, (i + 1) * PIECE)).digest());
    if (corrupt === 'v1') sha1[1]![0] ^= 1;
    info['files'] = [
      { length: bigFile.length, path: ['a.bin'] },
      { length: smallFile.length, path: ['b.bin'] },
    ];
    info['pieces'] = Buffer.concat(sha1);
  }
  return encode({ info, 'piece layers': new Map<Uint8Array, Uint8Array>([[big.root, big.layer!]]) } as never);
}

function extract(bytes: Uint8Array): { outcomes: Map<number, PieceOutcome>; report: ReturnType<PieceExtractor['report']> } {
  const t = parseTorrent(bytes);
  const outcomes = new Map<number, PieceOutcome>();
  const x = new PieceExtractor(t, (i, _d, o) => outcomes.set(i, o));
  const stream = Buffer.concat([bigFile, smallFile]);
  // Blocks of 16 KiB, as peers send them, piece 2 short (the small file's 20000 bytes).
  for (let i = 0; i < 3; i++) {
    const size = Math.min(PIECE, stream.length - i * PIECE);
    for (let b = 0; b < size; b += 16384) x.block(i, b, stream.subarray(i * PIECE + b, i * PIECE + Math.min(size, b + 16384)));
  }
  return { outcomes, report: x.report() };
}

describe('PieceExtractor: v2-only and hybrid torrents', () => {
  it.each([
    ['v2', undefined, [0, 1, 2], []],
    ['hybrid', undefined, [0, 1, 2], []],
    ['v2', 'v2', [1, 2], [0]],
    ['hybrid', 'v2', [1, 2], [0]],
    ['hybrid', 'v1', [0, 2], [1]],
  ] as const)('%s torrent, corrupted %s hash: ok %j, bad %j', (kind, corrupt, ok, bad) => {
    const bytes = torrent(kind, corrupt);
    expect(torrentKind(parseTorrent(bytes))).toBe(kind);
    const { report } = extract(bytes);
    expect(report.ok).toEqual(ok);
    expect(report.bad).toEqual(bad);
    expect(report.partial).toEqual([]);
    expect(report.strayBlocks).toBe(0);
  });

  it('a piece seen in part is partial, not judged', () => {
    const t = parseTorrent(torrent('v2'));
    const x = new PieceExtractor(t, () => {});
    x.block(0, 0, bigFile.subarray(0, 16384));
    expect(x.report()).toMatchObject({ ok: [], bad: [], partial: [0] });
  });
});
