import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PieceCheck } from '../../lib/engine/swarm-verify.js';
import { PieceVerifier } from '../../lib/engine/piece-verifier.js';
import type { Storage } from '../../lib/engine/storage.js';

/** Two pieces of four 16 KiB blocks, v1; "disk" is a buffer the test writes. */
const BLOCK = 16_384;
const PIECE = 4 * BLOCK;
const right = Uint8Array.from({ length: 2 * PIECE }, (_, i) => (i * 7 + (i >> 9)) & 0xff);
const pieces = Buffer.concat([0, 1].map((i) => createHash('sha1').update(right.subarray(i * PIECE, (i + 1) * PIECE)).digest()));

function setup() {
  const disk = new Uint8Array(2 * PIECE);
  let reads = 0;
  const storage = {
    length: disk.length,
    read: async (offset: number, length: number, into: Uint8Array) => {
      reads++;
      into.set(disk.subarray(offset, offset + length));
      return { bytes: into.subarray(0, length), missing: 0 };
    },
  } as unknown as Storage;
  const check = new PieceCheck<string>(new PieceVerifier(storage, pieces, PIECE), () => PIECE, BLOCK);
  const put = (index: number, b: number, bytes: Uint8Array) => {
    disk.set(bytes, index * PIECE + b * BLOCK);
    check.along(index, b * BLOCK, bytes);
  };
  const rightBlock = (index: number, b: number) => right.subarray(index * PIECE + b * BLOCK, index * PIECE + (b + 1) * BLOCK);
  return { check, put, rightBlock, reads: () => reads };
}

describe('PieceCheck', () => {
  it('a piece hashed in order as it arrived and right needs no read-back', () => {
    const { check, put, rightBlock, reads } = setup();
    for (let b = 0; b < 4; b++) put(0, b, rightBlock(0, b));
    expect(check.verifiedAlong(0)).toBe(true);
    expect(reads()).toBe(0);
  });

  it('a piece whose blocks came out of order is read back', async () => {
    const { check, put, rightBlock, reads } = setup();
    for (const b of [1, 0, 2, 3]) put(1, b, rightBlock(1, b));
    expect(check.verifiedAlong(1)).toBe(false);
    expect(await check.readBack(1)).toEqual({ ok: true, liars: [] });
    expect(reads()).toBe(1);
  });

  it('smart ban: after a failure, whoever sent a block that differs from the one that verified is named', async () => {
    const { check, put, rightBlock } = setup();
    const bad = new Uint8Array(BLOCK).fill(0xee);
    for (let b = 0; b < 4; b++) put(0, b, b === 2 ? bad : rightBlock(0, b));
    expect(check.verifiedAlong(0)).toBe(false);
    const failed = await check.readBack(0);
    expect(failed.ok).toBe(false);
    if (failed.ok) return;
    expect(failed.digests).toHaveLength(4);
    check.suspect(0, [0, 1, 2, 3].map((block) => ({ peer: block === 2 ? 'liar' : 'honest', block })), failed.digests);
    // Fetched again, right this time: a piece with suspects is always read back.
    for (let b = 0; b < 4; b++) put(0, b, rightBlock(0, b));
    expect(check.verifiedAlong(0)).toBe(false);
    expect(await check.readBack(0)).toEqual({ ok: true, liars: ['liar'] });
    // The suspects are forgotten once it verified.
    for (let b = 0; b < 4; b++) put(0, b, rightBlock(0, b));
    expect(check.verifiedAlong(0)).toBe(true);
  });
});
