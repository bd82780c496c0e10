import { describe, expect, it } from 'vitest';
import { checkBitfield, countPieces, hasPiece, makeBitfield, setPiece } from '../../lib/wire/bitfield.js';
import { hex } from './vectors.js';

describe('bitfield (BEP 3)', () => {
  it('piece 0 is the high bit of byte 0', () => {
    const bf = hex('8001');
    expect(hasPiece(bf, 0)).toBe(true);
    expect(hasPiece(bf, 1)).toBe(false);
    expect(hasPiece(bf, 15)).toBe(true);
    expect(hasPiece(bf, 16)).toBe(false);
  });

  it('makeBitfield(all) leaves the spare bits clear', () => {
    expect(makeBitfield(10, true)).toEqual(hex('ffc0'));
    expect(makeBitfield(16, true)).toEqual(hex('ffff'));
    expect(makeBitfield(3)).toEqual(hex('00'));
    const bf = makeBitfield(10);
    setPiece(bf, 9);
    expect(bf).toEqual(hex('0040'));
    expect(() => setPiece(bf, 16)).toThrow(RangeError);
  });

  it.each([
    ['a correct full bitfield', 'ffc0', 10, []],
    ['too short', 'ff', 10, [['bitfield_length', 100, 101]]],
    ['too long', 'ffc000', 10, [['bitfield_length', 100, 103]]],
    ['spare bit set', 'ffe0', 10, [['bitfield_spare_bits', 101, 102]]],
    ['too long and spare bits in the extra byte', 'ffc001', 10, [['bitfield_length', 100, 103], ['bitfield_spare_bits', 102, 103]]],
  ])('%s', (_n, bytes, pieces, expected) => {
    const got = checkBitfield(hex(bytes), pieces, 100).map((d) => [d.code, d.span.start, d.span.end]);
    expect(got).toEqual(expected);
  });

  it('countPieces ignores spare bits when the piece count is known', () => {
    expect(countPieces(hex('ffff'), 10)).toBe(10);
    expect(countPieces(hex('ffff'))).toBe(16);
    expect(countPieces(hex('f0'), 20)).toBe(4);
  });
});
