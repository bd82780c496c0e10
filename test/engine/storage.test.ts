import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm, stat, symlink, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Storage, StorageError, torrentStorageFiles, type StorageFile } from '../../lib/engine/storage.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-storage-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});


function layout(lengths: Array<number | 'pad' | ['pad', number]>): StorageFile[] {
  let off = 0;
  return lengths.map((l, i) => {
    const pad = Array.isArray(l) || l === 'pad';
    const length = Array.isArray(l) ? l[1] : l === 'pad' ? 0 : l;
    const f = { path: pad ? '' : path.join(dir, 't', `f${i}`), offset: off, length, pad };
    off += length;
    return f;
  });
}

const bytesOf = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('Storage.slices', () => {
  it.each([
    // [file lengths, offset, length, expected slices as [file, fileOffset, length, rangeOffset]]
    [[10], 0, 10, [[0, 0, 10, 0]]],
    [[10, 10], 5, 10, [[0, 5, 5, 0], [1, 0, 5, 5]]],
    [[4, 0, 4], 2, 4, [[0, 2, 2, 0], [2, 0, 2, 2]]],
    [[3, 3, 3], 0, 9, [[0, 0, 3, 0], [1, 0, 3, 3], [2, 0, 3, 6]]],
    [[3, 3, 3], 8, 1, [[2, 2, 1, 0]]],
    [[3, 3, 3], 3, 0, []],
  ] as const)('%j at %i+%i', (lengths, offset, length, want) => {
    const s = new Storage(layout([...lengths]), { root: dir });
    expect(s.slices(offset, length).map((x) => [x.fileIndex, x.fileOffset, x.length, x.rangeOffset])).toEqual(want);
  });

  it('refuses a range past the end with a typed error', () => {
    const s = new Storage(layout([10]), { root: dir });
    expect(() => s.slices(5, 6)).toThrow(StorageError);
  });

  it('refuses a layout with gaps', () => {
    expect(() => new Storage([{ path: path.join(dir, 'a'), offset: 1, length: 1, pad: false }], { root: dir })).toThrow(/expected 0/);
  });
});

describe('Storage write/read', () => {
  it('writes blocks that span files at their offsets, in any order, and reads them back', async () => {
    const files = layout([5000, 1, 0, 20000, 7]);
    const s = new Storage(files, { root: dir, maxOpenFiles: 2 });
    const data = bytesOf(s.length, 3);
    const blocks: [number, number][] = [];
    for (let at = 0; at < s.length; at += 4096) blocks.push([at, Math.min(4096, s.length - at)]);
    blocks.reverse(); // out of order on purpose
    await Promise.all(blocks.map(([at, n]) => s.write(at, data.subarray(at, at + n))));
    await s.createEmptyFiles();
    const back = await s.read(0, s.length);
    expect(back.missing).toBe(0);
    expect(Buffer.from(back.bytes).equals(Buffer.from(data))).toBe(true);
    await s.close();
    for (const f of files) {
      const got = await readFile(f.path);
      expect(Buffer.from(got).equals(Buffer.from(data.subarray(f.offset, f.offset + f.length)))).toBe(true);
    }
  });

  it('writeParts: consecutive blocks as gathered writes across files and pad files, same bytes as block writes', async () => {
    const files = layout([5000, 1, 0, ['pad', 3000], 20000, 7]);
    const s = new Storage(files, { root: dir, maxOpenFiles: 2 });
    const data = bytesOf(s.length, 5);
    // Runs of uneven parts (one of them empty) that cut across every file boundary.
    const cuts = [0, 1, 4999, 5000, 5001, 5001, 7000, 8002, 9000, 20000, s.length];
    const runs: [number, Uint8Array[]][] = [];
    for (let i = 0; i + 3 < cuts.length; i += 3) {
      runs.push([cuts[i]!, [0, 1, 2].map((k) => data.subarray(cuts[i + k]!, cuts[i + k + 1]!))]);
    }
    const last = cuts[cuts.length - 1 - ((cuts.length - 1) % 3)]!;
    runs.push([last, [data.subarray(last)]]);
    await Promise.all(runs.map(([at, parts]) => s.writeParts(at, parts)));
    await s.drain();
    const back = await s.read(0, s.length);
    for (const f of files) {
      const want = f.pad ? new Uint8Array(f.length) : data.subarray(f.offset, f.offset + f.length);
      expect(Buffer.from(back.bytes.subarray(f.offset, f.offset + f.length)).equals(Buffer.from(want))).toBe(true);
    }
    await s.close();
    expect((await readdir(path.join(dir, 't'))).sort()).toEqual(['f0', 'f1', 'f4', 'f5']);
  });

  it.each([
    ['every file present', 20007],
    ['the last file short on disk', 20007 - 3000],
  ])('readParts: scattered into uneven parts across files and pad files, same bytes as read() (%s)', async (_name, written) => {
    const files = layout([5000, 1, 0, ['pad', 3000], 20000, 7]);
    const s = new Storage(files, { root: dir });
    const data = bytesOf(s.length, 7);
    await s.write(0, data.subarray(0, written));
    await s.drain();
    const want = await s.read(0, s.length);
    const cuts = [0, 1, 4999, 5001, 5001, 7000, 8002, 9000, 20000, s.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      // Every run of parts from cut i to the end, the parts pre-filled with garbage.
      const parts = cuts.slice(i + 1).map((c, k) => new Uint8Array(c - (k === 0 ? cuts[i]! : cuts[i + k]!)).fill(0xee));
      const r = await s.readParts(cuts[i]!, parts);
      expect(Buffer.concat(parts).equals(Buffer.from(want.bytes.subarray(cuts[i]!)))).toBe(true);
      const expectMissing = files.filter((f) => !f.pad).reduce((n, f) => n + Math.max(0, Math.min(f.offset + f.length, s.length) - Math.max(f.offset, written, cuts[i]!)), 0);
      expect(r.missing).toBe(expectMissing);
    }
    await s.close();
  });

  it('never writes pad files, and reads them as zeros', async () => {
    const files = layout([100, ['pad', 28], 50]);
    const s = new Storage(files, { root: dir });
    const data = bytesOf(178, 9);
    await s.write(0, data);
    const back = await s.read(90, 50);
    expect([...back.bytes.subarray(10, 38)].every((b) => b === 0)).toBe(true);
    expect(Buffer.from(back.bytes.subarray(38)).equals(Buffer.from(data.subarray(128, 140)))).toBe(true);
    await s.close();
    expect((await readdir(path.join(dir, 't'))).sort()).toEqual(['f0', 'f2']);
    expect((await stat(files[2]!.path)).size).toBe(50);
  });

  it('reads missing files and bytes past the end as zeros and counts them', async () => {
    const s = new Storage(layout([10, 10]), { root: dir });
    await s.write(0, bytesOf(4, 1));
    const r = await s.read(0, 20);
    expect(r.missing).toBe(16);
    expect([...r.bytes.subarray(4)].every((b) => b === 0)).toBe(true);
    await s.close();
  });

  it('does not truncate an existing file when it opens it (resume)', async () => {
    const files = layout([10]);
    const s1 = new Storage(files, { root: dir });
    await s1.write(0, bytesOf(10, 5));
    await s1.close();
    const s2 = new Storage(files, { root: dir });
    await s2.write(2, Uint8Array.of(0xee));
    await s2.close();
    const got = await readFile(files[0]!.path);
    const want = bytesOf(10, 5);
    want[2] = 0xee;
    expect([...got]).toEqual([...want]);
  });

  it('refuses a path outside its root', async () => {
    const s = new Storage([{ path: path.join(dir, '..', 'escaped'), offset: 0, length: 1, pad: false }], { root: dir });
    await expect(s.write(0, Uint8Array.of(1))).rejects.toMatchObject({ code: 'outside_root' });
    await s.close();
  });

  it('refuses to write through a symlinked folder planted inside the root', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'btscope-outside-'));
    try {
      await symlink(outside, path.join(dir, 'evil'));
      const s = new Storage([{ path: path.join(dir, 'evil', 'x'), offset: 0, length: 1, pad: false }], { root: dir });
      await expect(s.write(0, Uint8Array.of(1))).rejects.toMatchObject({ code: 'outside_root' });
      await s.close();
      expect(await readdir(outside)).toEqual([]);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('refuses to write through a symlink file', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'btscope-outside-'));
    try {
      await mkdir(path.join(dir, 'd'));
      await symlink(path.join(outside, 'target'), path.join(dir, 'd', 'x'));
      const s = new Storage([{ path: path.join(dir, 'd', 'x'), offset: 0, length: 1, pad: false }], { root: dir });
      await expect(s.write(0, Uint8Array.of(1))).rejects.toMatchObject({ code: 'symlink' });
      await s.close();
      expect(await readdir(outside)).toEqual([]);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});

describe('torrentStorageFiles', () => {
  it('maps every non-pad file through the safe-path function and skips symlinks', () => {
    const seen: string[][] = [];
    const files = torrentStorageFiles(
      [
        { path: ['n', 'a'], offset: 0, length: 3, pad: false, attr: '' },
        { path: ['n', '.pad', '13'], offset: 3, length: 13, pad: true, attr: 'p' },
        { path: ['n', 'link'], offset: 16, length: 0, pad: false, attr: 'l' },
        { path: ['n', '..', 'b'], offset: 16, length: 2, pad: false, attr: '' },
      ],
      dir,
      (out, c) => {
        seen.push([...c]);
        return { path: path.join(out, ...c.filter((x) => x !== '..')) };
      },
    );
    expect(seen).toEqual([['n', 'a'], ['n', '..', 'b']]);
    expect(files.map((f) => [f.pad, f.path && path.relative(dir, f.path)])).toEqual([
      [false, path.join('n', 'a')],
      [true, ''],
      [true, ''],
      [false, path.join('n', 'b')],
    ]);
  });
});
