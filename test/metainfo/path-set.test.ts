import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PathSet } from '../../lib/metainfo/path-set.js';

describe('PathSet: duplicate file paths without joined strings', () => {
  it('add is false for a path already there, true otherwise', () => {
    const s = new PathSet();
    expect(s.add(['t', 'a', 'b'])).toBe(true);
    expect(s.add(['t', 'a', 'b'])).toBe(false);
    expect(s.add(['t', 'ab'])).toBe(true);
    expect(s.add(['t', 'a', 'b', ''])).toBe(true);
    expect(s.add(['t', 'a'])).toBe(true);
    expect(s.has(['t', 'a', 'b'])).toBe(true);
    expect(s.has(['t', 'b', 'a'])).toBe(false);
    expect(s.size).toBe(4);
  });

  it('grows past its first table: 100 000 distinct paths, then each again', () => {
    const s = new PathSet();
    for (let i = 0; i < 100_000; i++) expect(s.add(['many', `dir${i % 100}`, `file-${i}.dat`])).toBe(true);
    for (let i = 0; i < 100_000; i += 997) expect(s.add(['many', `dir${i % 100}`, `file-${i}.dat`])).toBe(false);
    expect(s.size).toBe(100_000);
  });

  it('property: the same answers as a Set of paths joined with "/" (components without "/")', () => {
    const component = fc.string({ unit: fc.constantFrom('a', 'b', '.', 'é', '\u{1F600}', '_'), minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(fc.array(fc.array(component, { minLength: 1, maxLength: 3 }), { maxLength: 60 }), (paths) => {
        const ours = new PathSet();
        const joined = new Set<string>();
        for (const p of paths) {
          const key = p.join('/');
          expect(ours.has(p)).toBe(joined.has(key));
          expect(ours.add(p)).toBe(!joined.has(key));
          joined.add(key);
        }
        expect(ours.size).toBe(joined.size);
      }),
      { numRuns: 3000, seed: 11 },
    );
  });
});
