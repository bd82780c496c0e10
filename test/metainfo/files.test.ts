import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode } from '../../lib/bencode/decode.js';
import { encode, type Encodable } from '../../lib/bencode/encode.js';
import { DecodeError } from '../../lib/core/errors.js';
import { isPlainFile, v1Files, v2Files, type FileEntry, type RawFile } from '../../lib/metainfo/files.js';
import { Issues } from '../../lib/metainfo/issues.js';

/**
 * v1Files reads `files` entries of the common shape straight off the token
 * array (PlainFile) and every other entry through BNode with all its checks.
 * Both readings must give the same files, errors and diagnostics.
 */
function read(files: Encodable, plainEntries: boolean, name = 'top') {
  const doc = decode(encode({ info: { name, 'piece length': 16384, pieces: new Uint8Array(20), files } }));
  const info = doc.root.get('info')!;
  const issues = new Issues();
  try {
    const list = v1Files(info, info.get('name')!, name, issues, 1000, plainEntries);
    return { files: list.map(view), plain: list.filter(isPlainFile).length, issues: issues.list };
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    return { error: [e.code, e.offset, e.message, e.path], issues: issues.list };
  }
}

function view(f: FileEntry) {
  return { path: f.path, length: f.length, pad: f.pad, attr: f.attr, span: f.span, symlinkPath: isPlainFile(f) ? undefined : f.symlinkPath };
}

const bytes = (...b: number[]) => new Uint8Array(b);

describe('v1Files: the token-array reading agrees with the BNode reading', () => {
  it('plain entries are read the fast way, unsafe or unusual ones are not', () => {
    const r = read(
      [
        { length: 5, path: ['dir', 'a.dat'] },
        { length: 0, path: ['b'], attr: 'x' },
        { length: 7, path: ['_____padding_file_0'] },
        { length: 1, path: ['..', 'c'] },
        { length: 1, path: ['con.txt'] },
        { length: 1, path: ['l'], attr: 'l', 'symlink path': ['dir', 'a.dat'] },
        { length: 1, path: [bytes(0xff)] },
      ],
      true,
    );
    expect(r.plain).toBe(3);
    expect(r.files!.map((f) => [f.path.join('/'), f.pad])).toEqual([
      ['top/dir/a.dat', false],
      ['top/b', false],
      ['top/_____padding_file_0', true],
      ['top/../c', false],
      ['top/con.txt', false],
      ['top/l', false],
      ['top/\ufffd', false],
    ]);
    expect(read([{ length: 1, path: ['a'] }], true, 'CON').plain).toBe(0);
  });

  it('property: same files, errors and diagnostics for any list of entries', () => {
    const component = fc.oneof(
      fc.constantFrom('a', 'dir', 'file-1.dat', '..', '.', '', 'CON', 'nul.txt', 'a:b', 'x/y', 'dot.', 'ünï', '_____padding_file_3'),
      fc.uint8Array({ maxLength: 4 }),
      fc.integer({ min: -1, max: 1 }),
    );
    const length = fc.oneof(fc.nat(1_000_000), fc.constantFrom(-1, 0, 2 ** 53 - 1, 10 ** 15, 10 ** 16), fc.constant(2n ** 60n), fc.constant('5'));
    const usual = fc.record(
      {
        length: fc.nat(1_000_000),
        path: fc.array(fc.constantFrom('a', 'dir', 'file-1.dat', 'ünï', '_____padding_file_3', 'con.txt'), { minLength: 1, maxLength: 3 }),
        attr: fc.constantFrom('', 'p', 'x', 'l', 'h'),
        'symlink path': fc.array(fc.constantFrom('a', 'b'), { minLength: 1, maxLength: 2 }),
      },
      { requiredKeys: ['length', 'path'] },
    );
    const entry = fc.oneof(
      { weight: 30, arbitrary: usual },
      { weight: 4, arbitrary: fc.record(
        {
          length,
          path: fc.oneof({ weight: 6, arbitrary: fc.array(component, { maxLength: 3 }) }, { weight: 1, arbitrary: fc.constant('a') }),
          attr: fc.oneof(fc.constantFrom('', 'p', 'x', 'h', 'l', 'px', 'lx'), fc.constant(1)),
          'symlink path': fc.array(fc.constantFrom('a', 'b'), { maxLength: 2 }),
        },
        { requiredKeys: [] },
      ) },
      { weight: 1, arbitrary: fc.oneof(fc.constant(1), fc.constant('x'), fc.constant([] as Encodable[])) },
    );
    let fastRuns = 0;
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 6 }), (files) => {
        const fast = read(files as Encodable, true);
        const slow = read(files as Encodable, false);
        if ((fast.plain ?? 0) > 0) fastRuns++;
        expect({ ...fast, plain: undefined }).toEqual({ ...slow, plain: undefined });
      }),
      { numRuns: 3000, seed: 3 },
    );
    // The comparison means something only if many runs took the fast path.
    expect(fastRuns).toBeGreaterThan(300);
  });
});

function readTree(tree: Encodable, plainLeaves: boolean) {
  const doc = decode(encode({ info: { name: 'top', 'piece length': 16384, 'meta version': 2, 'file tree': tree } }));
  const info = doc.root.get('info')!;
  const issues = new Issues();
  try {
    const list = v2Files(info.get('file tree')!, info.get('name')!, 'top', issues, 1000, plainLeaves);
    return { files: list.map((f: RawFile) => ({ ...view(f), piecesRoot: f.piecesRoot, rootSpan: f.rootSpan, keys: f.pathKeys })), issues: issues.list };
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    return { error: [e.code, e.offset, e.message, e.path], issues: issues.list };
  }
}

describe('v2Files: the token-array reading of file entries agrees with the BNode reading', () => {
  it('property: same files, errors and diagnostics for any file tree', () => {
    const root = fc.oneof(
      { weight: 8, arbitrary: fc.uint8Array({ minLength: 32, maxLength: 32 }) },
      fc.constant(new Uint8Array(32)),
      fc.uint8Array({ maxLength: 33 }),
      fc.constant(7),
    );
    const leaf = fc.record(
      {
        length: fc.oneof({ weight: 8, arbitrary: fc.nat(1_000_000) }, fc.constantFrom(0, -1, 10 ** 16), fc.constant(2n ** 60n), fc.constant('5')),
        'pieces root': root,
        attr: fc.oneof(fc.constantFrom('', 'x', 'h', 'p', 'l', 'xl'), fc.constant(2)),
        'symlink path': fc.array(fc.constantFrom('a', 'b'), { maxLength: 2 }),
      },
      { requiredKeys: [] },
    );
    const name = fc.constantFrom('a', 'b', 'dir', 'file-1.dat', '..', 'CON', 'ünï', 'a:b');
    const tree = fc.letrec<{ dir: Encodable }>((tie) => ({
      dir: fc.dictionary(
        name,
        fc.oneof(
          { weight: 6, arbitrary: fc.record({ '': leaf }) },
          { weight: 1, arbitrary: tie('dir') },
          { weight: 1, arbitrary: fc.constantFrom(1, 'x', {}) },
          { weight: 1, arbitrary: fc.record({ '': leaf, more: fc.record({ '': leaf }) }) },
        ),
        { minKeys: 1, maxKeys: 4, depthIdentifier: 'tree' },
      ) as fc.Arbitrary<Encodable>,
    })).dir;
    let fastRuns = 0;
    fc.assert(
      fc.property(tree, (t) => {
        const fast = readTree(t, true);
        if (fast.files && fast.files.some((f) => f.piecesRoot)) fastRuns++;
        expect(fast).toEqual(readTree(t, false));
      }),
      { numRuns: 2000, seed: 5 },
    );
    expect(fastRuns).toBeGreaterThan(200);
  });
});
