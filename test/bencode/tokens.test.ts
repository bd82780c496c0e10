import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode } from '../../lib/bencode/decode.js';
import { dictFind, TextRegion, TOKEN_STRIDE } from '../../lib/bencode/tokens.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('token-array helpers', () => {
  it('dictFind: the value of the first matching key, -1 when absent (as BNode.get)', () => {
    const doc = decode(enc('d1:ai1e1:bi2e1:ai3e0:i4ee'));
    const at = (k: string) => dictFind(doc, 0, enc(k));
    expect(at('a')).toBe(2);
    expect(doc.root.get('a')!.index).toBe(2);
    expect(at('b')).toBe(4);
    expect(at('')).toBe(8);
    expect(at('c')).toBe(-1);
    expect(at('aa')).toBe(-1);
  });

  it('property: TextRegion.slice reads every string as BNode.str() does (ASCII, UTF-8, invalid bytes, BOM)', () => {
    const piece = fc.oneof(fc.uint8Array({ maxLength: 12 }), fc.constantFrom(enc('plain.txt'), enc('ünï'), new Uint8Array([0xef, 0xbb, 0xbf, 0x61]), new Uint8Array([0xed, 0xa0, 0x80])));
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 6 }), (strings) => {
        const parts: number[] = [0x6c];
        for (const s of strings) parts.push(...enc(`${s.length}:`), ...s);
        parts.push(0x65);
        const doc = decode(new Uint8Array(parts));
        const region = new TextRegion(doc.buf, doc.tokens[1]!, doc.tokens[2]!);
        for (const item of doc.root.items()) {
          const t = item.index * TOKEN_STRIDE;
          expect(region.slice(doc.tokens[t + 3]!, doc.tokens[t + 2]!)).toBe(item.str());
        }
      }),
      { numRuns: 2000, seed: 9 },
    );
  });

  it('a region over MAX_REGION is read string by string, with the same text', () => {
    const big = new Uint8Array(TextRegion.MAX_REGION + 16).fill(0x61);
    big.set(new TextEncoder().encode('plain.txt'), 100);
    big.set([0xc3, 0xbc], 200);
    const region = new TextRegion(big, 0, big.length);
    expect(region.slice(100, 109)).toBe('plain.txt');
    expect(region.slice(200, 202)).toBe('ü');
    expect(region.slice(big.length - 3, big.length)).toBe('aaa');
  });
});
