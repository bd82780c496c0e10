import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { decodeMessage, encodeMessage, MESSAGE_IDS } from '../../lib/wire/messages.js';
import { WireFramer, frameLimits } from '../../lib/wire/framer.js';
import { walkFields, type Field } from '../../lib/core/field.js';
import { errorOf, hex } from './vectors.js';

/**
 * BEP 52 hash request (21) / hashes (22) / hash reject (23): the layout the BEP
 * gives, `<pieces root 32><base layer u32><index u32><length u32><proof layers u32>`,
 * hashes followed by `length` hashes of the base layer and then the uncle
 * hashes of the proof, checked here against a real merkle tree built in the test.
 */
const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

// A merkle tree over 8 leaves (16 KiB block hashes in a v2 file): layers[0] = leaves, layers[3] = [root].
const leaves = Array.from({ length: 8 }, (_, i) => sha256(Uint8Array.of(i)));
const layers: Uint8Array[][] = [leaves];
while (layers[layers.length - 1]!.length > 1) {
  const prev = layers[layers.length - 1]!;
  const next: Uint8Array[] = [];
  for (let i = 0; i < prev.length; i += 2) next.push(sha256(prev[i]!, prev[i + 1]!));
  layers.push(next);
}
const root = layers[3]![0]!;

/** Fold `length` base-layer hashes at `index` plus uncles up to the root, as a receiver of `hashes` does. */
function rootFrom(hashes: Uint8Array, index: number, length: number): Uint8Array {
  let level: Uint8Array[] = [];
  for (let i = 0; i < length; i++) level.push(hashes.subarray(i * 32, i * 32 + 32));
  let at = index;
  let uncle = length;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(sha256(level[i]!, level[i + 1]!));
    level = next;
    at >>= 1;
  }
  let node = level[0]!;
  for (; uncle * 32 < hashes.length; uncle++) {
    const u = hashes.subarray(uncle * 32, uncle * 32 + 32);
    node = at % 2 === 0 ? sha256(node, u) : sha256(u, node);
    at >>= 1;
  }
  return node;
}

describe('BEP 52 hash messages', () => {
  // Leaves 2..3 of the 8, with the two uncles that prove them: layers[1][0], then layers[2][1].
  const proof = [leaves[2]!, leaves[3]!, layers[1]![0]!, layers[2]![1]!];
  const hashes = new Uint8Array(32 * proof.length);
  proof.forEach((h, i) => hashes.set(h, i * 32));
  const msg = { type: 'hashes' as const, piecesRoot: root, baseLayer: 0, index: 2, length: 2, proofLayers: 2, hashes };

  it('a hashes message for leaves 2-3 with a 2-layer proof carries what folds to the pieces root', () => {
    const bytes = encodeMessage(msg);
    expect(bytes.length).toBe(4 + 1 + 48 + 4 * 32);
    const { message } = decodeMessage(bytes, 0);
    expect(message.type).toBe('hashes');
    if (message.type !== 'hashes') return;
    expect(Buffer.from(rootFrom(message.hashes, message.index, message.length)).equals(Buffer.from(root))).toBe(true);
    // Changing one hash breaks the proof: the check can fail.
    const bad = new Uint8Array(message.hashes);
    bad[40] ^= 1;
    expect(Buffer.from(rootFrom(bad, 2, 2)).equals(Buffer.from(root))).toBe(false);
  });

  it('frame fields carry absolute spans: pieces root, header integers, each hash', () => {
    const base = 1000;
    const { frame } = decodeMessage(encodeMessage(msg), base);
    const byId = new Map<string, Field[]>();
    for (const { field } of walkFields(frame.fields)) byId.set(field.id, [...(byId.get(field.id) ?? []), field]);
    const span = (id: string, i = 0) => byId.get(id)?.[i]?.span;
    expect(span('bt.msg.id')).toEqual({ start: base + 4, end: base + 5 });
    expect(span('bt.hash.pieces_root')).toEqual({ start: base + 5, end: base + 37 });
    expect(span('bt.hash.base_layer')).toEqual({ start: base + 37, end: base + 41 });
    expect(span('bt.hash.index')).toEqual({ start: base + 41, end: base + 45 });
    expect(span('bt.hash.length')).toEqual({ start: base + 45, end: base + 49 });
    expect(span('bt.hash.proof_layers')).toEqual({ start: base + 49, end: base + 53 });
    expect(span('bt.hash.hashes')).toEqual({ start: base + 53, end: base + 53 + 128 });
    expect(byId.get('bt.hash.hash')!.map((f) => f.span.start)).toEqual([53, 85, 117, 149].map((o) => base + o));
    expect(byId.get('bt.hash.hash')![3]!.value).toEqual(layers[2]![1]);
  });

  it('hash request and hash reject share the 48-byte header; reject echoes the request', () => {
    const req = { piecesRoot: root, baseLayer: 0, index: 2, length: 2, proofLayers: 2 };
    const r = encodeMessage({ type: 'hash_request', ...req });
    const j = encodeMessage({ type: 'hash_reject', ...req });
    expect(r[4]).toBe(MESSAGE_IDS.hash_request);
    expect(j[4]).toBe(MESSAGE_IDS.hash_reject);
    expect(Buffer.from(r.subarray(5)).equals(Buffer.from(j.subarray(5)))).toBe(true);
    expect(decodeMessage(j).message).toMatchObject({ type: 'hash_reject', index: 2, length: 2, proofLayers: 2 });
  });

  it('the framer limits hashes frames to the configured hash count', () => {
    const framer = new WireFramer({ expectHandshake: false, ...frameLimits({ pieceCount: 8, maxHashes: 4 }) });
    expect(framer.push(encodeMessage(msg))).toHaveLength(1);
    const five = encodeMessage({ ...msg, hashes: new Uint8Array(5 * 32) });
    expect(errorOf(() => framer.push(five))).toEqual({ code: 'limit_exceeded', offset: 4 + 1 + 48 + 128 });
  });

  it('a hash request cut short is unexpected_eof where its bytes stop (absolute)', () => {
    expect(errorOf(() => decodeMessage(hex('00000031 15' + '00'.repeat(47)), 10))).toEqual({ code: 'unexpected_eof', offset: 10 + 52 });
  });
});

describe('frame limits sized from the piece count', () => {
  it('a bitfield of exactly ceil(pieces/8) bytes passes; one byte more is limit_exceeded before its payload arrives', () => {
    const pieces = 1_000_003;
    const limits = frameLimits({ pieceCount: pieces });
    expect(limits.maxLengthById?.[MESSAGE_IDS.bitfield]).toBe(5 + 125_001);
    expect(limits.maxFrameLength).toBe(5 + 125_001);
    const ok = new WireFramer({ expectHandshake: false, ...limits });
    expect(ok.push(encodeMessage({ type: 'bitfield', bitfield: new Uint8Array(125_001) }))).toHaveLength(1);
    const big = new WireFramer({ expectHandshake: false, ...limits });
    expect(errorOf(() => big.push(hex('0001e84b 05')))).toEqual({ code: 'limit_exceeded', offset: 0 });
  });

  it('small torrents: the largest frame is a hashes batch or a metadata piece, not the 2 MiB default', () => {
    const limits = frameLimits({ pieceCount: 10 });
    expect(limits.maxFrameLength).toBe(Math.max(13 + 16384, 6 + 16384 + 1024, 5 + 48 + 32 * 1024));
    const framer = new WireFramer({ expectHandshake: false, ...limits });
    expect(errorOf(() => framer.push(hex('00010000 63')))).toEqual({ code: 'limit_exceeded', offset: 0 });
  });

  it('before the piece count is known (a magnet), the global default applies', () => {
    expect(frameLimits({}).maxFrameLength).toBe(2 * 1024 * 1024);
    expect(frameLimits({}).maxLengthById?.[MESSAGE_IDS.bitfield]).toBeUndefined();
  });
});
