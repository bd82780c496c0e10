import { describe, expect, it } from 'vitest';
import { allowedFastSet } from '../../lib/wire/allowed-fast.js';
import { hex } from './vectors.js';

describe('BEP 6 allowed fast set', () => {
  const infoHash = hex('aa'.repeat(20));
  it('the BEP vector: 1313 pieces, info-hash 20x 0xAA, 80.4.4.200, k = 7', () => {
    expect(allowedFastSet(7, 1313, infoHash, '80.4.4.200')).toEqual([1059, 431, 808, 1217, 287, 376, 1188]);
  });
  it('the BEP vector with k = 9', () => {
    expect(allowedFastSet(9, 1313, infoHash, '80.4.4.200')).toEqual([1059, 431, 808, 1217, 287, 376, 1188, 353, 508]);
  });
  it('only the /24 of the address matters', () => {
    expect(allowedFastSet(7, 1313, infoHash, '80.4.4.1')).toEqual(allowedFastSet(7, 1313, infoHash, '80.4.4.200'));
  });
  it('k larger than the piece count gives every piece once, and ends', () => {
    expect(allowedFastSet(10, 3, infoHash, '80.4.4.200').sort()).toEqual([0, 1, 2]);
  });
  it('rejects what it cannot compute', () => {
    expect(() => allowedFastSet(7, 10, infoHash, '::1')).toThrow(RangeError);
    expect(() => allowedFastSet(7, 10, hex('aa'), '1.2.3.4')).toThrow(RangeError);
  });
});
