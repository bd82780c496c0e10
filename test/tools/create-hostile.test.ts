import { execFile, execFileSync } from 'node:child_process';
import { closeSync, existsSync, statSync, openSync, chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createTorrent, type CreateTorrentOptions } from '../../lib/content/create-torrent.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { deterministicBytes } from '../../tools/demo-data.js';

/**
 * Hostile file systems under `btscope create` (issue 15): symlink loops,
 * symlinks out of the root, files that change while hashed, unreadable files,
 * FIFOs, 100 000 empty files. Each ends in a clear error or a note, never a hang.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(repoRoot, 'dist/tools/cli.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'btscope-hostile-'));
const cleanups: (() => void)[] = [() => rmSync(tmp, { recursive: true, force: true })];
afterAll(() => cleanups.forEach((c) => c()));

const base: CreateTorrentOptions = { kind: 'hybrid', symlinks: 'skip', hidden: false, include: [], exclude: [], threads: 2 };

function folder(name: string): string {
  const d = path.join(tmp, name);
  mkdirSync(path.join(d, 'sub'), { recursive: true });
  writeFileSync(path.join(d, 'a.bin'), deterministicBytes(50_000, 1));
  writeFileSync(path.join(d, 'sub', 'b.bin'), deterministicBytes(20_000, 2));
  return d;
}

describe('symlinks', () => {
  it('a loop: skipped by default (a note), an error with --symlinks follow (never a hang), refused with refuse', async () => {
    const d = folder('loop');
    symlinkSync('..', path.join(d, 'sub', 'up')); // sub/up -> the root: walking it would never end
    symlinkSync('self', path.join(d, 'self')); // self -> self: ELOOP
    const skipped = await createTorrent(d, base);
    expect(parseTorrent(skipped.bytes).files.filter((f) => !f.pad).map((f) => f.path.join('/'))).toEqual(['loop/a.bin', 'loop/sub/b.bin']);
    expect(skipped.walk.notes).toEqual([expect.objectContaining({ code: 'symlink_skipped', count: 2 })]);
    await expect(createTorrent(d, { ...base, symlinks: 'follow' })).rejects.toMatchObject({ code: 'symlink_loop' });
    await expect(createTorrent(d, { ...base, symlinks: 'refuse' })).rejects.toMatchObject({ code: 'symlink_refused' });
  });

  it('pointing outside the root: skipped by default, refused when followed (a torrent never reaches outside its root)', async () => {
    const d = folder('escape');
    const outside = path.join(tmp, 'secret.txt');
    writeFileSync(outside, 'secret');
    symlinkSync(outside, path.join(d, 'sub', 'leak.txt'));
    symlinkSync('/etc', path.join(d, 'etc'));
    const skipped = await createTorrent(d, base);
    expect(skipped.walk.notes).toEqual([expect.objectContaining({ code: 'symlink_skipped', count: 2 })]);
    await expect(createTorrent(d, { ...base, symlinks: 'follow' })).rejects.toMatchObject({ code: 'symlink_escapes_root' });
  });

  it('followed inside the root: the target is hashed under the link name', async () => {
    const d = folder('inside');
    symlinkSync('sub/b.bin', path.join(d, 'link.bin'));
    const t = parseTorrent((await createTorrent(d, { ...base, symlinks: 'follow' })).bytes);
    expect(t.files.filter((f) => !f.pad).map((f) => [f.path.join('/'), f.length])).toEqual([
      ['inside/a.bin', 50_000],
      ['inside/link.bin', 20_000],
      ['inside/sub/b.bin', 20_000],
    ]);
  });
});

describe('files that change or cannot be read', () => {
  it('a file that shrinks while hashed: file_changed', async () => {
    const d = folder('shrink');
    writeFileSync(path.join(d, 'big.bin'), deterministicBytes(1_000_000, 3));
    let done = false;
    const run = createTorrent(d, {
      ...base,
      pieceLength: 16384,
      jobBytes: 65536,
      threads: 0,
      onProgress: () => {
        if (!done) truncateSync(path.join(d, 'big.bin'), 100_000);
        done = true;
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'file_changed', message: expect.stringMatching(/big\.bin.*(shrank|changed)/) });
  });

  it('a file that grows while hashed: file_changed', async () => {
    const d = folder('grow');
    writeFileSync(path.join(d, 'big.bin'), deterministicBytes(1_000_000, 4));
    let done = false;
    const run = createTorrent(d, {
      ...base,
      pieceLength: 16384,
      jobBytes: 65536,
      onProgress: () => {
        if (!done) appendFileSync(path.join(d, 'big.bin'), 'more');
        done = true;
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'file_changed', message: expect.stringMatching(/big\.bin changed while it was hashed \(1000000 → 1000004 bytes/) });
  });

  it('an unreadable file: exit 1 with its name (run as an unprivileged user when we are root)', async () => {
    const d = folder('unreadable');
    chmodSync(tmp, 0o755);
    for (const p of [d, path.join(d, 'sub')]) chmodSync(p, 0o755);
    chmodSync(path.join(d, 'a.bin'), 0o644);
    chmodSync(path.join(d, 'sub', 'b.bin'), 0o000);
    const out = path.join(tmp, 'unreadable.torrent');
    const root = process.getuid?.() === 0;
    const asUser = root ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath] : [process.execPath];
    // The unprivileged user must reach the CLI: a checkout under a private folder (mktemp -d is 0700)
    // gets search permission for others on the way, for this test only, and back after.
    const restored = root ? openTheWay(repoRoot) : [];
    let r: { code: number; stderr: string };
    try {
      r = await new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile(asUser[0]!, [...asUser.slice(1), CLI, 'create', d, '-o', out], { timeout: 30_000 }, (err, _o, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stderr }),
        ),
      );
    } finally {
      for (const [dir, mode] of restored) chmodSync(dir, mode);
    }
    expect(r.stderr).toMatch(/sub\/b\.bin: cannot read it \(EACCES\) \(unreadable\)/);
    expect(r.code).toBe(1);
  });

  it('a FIFO is skipped, not read (reading it would block)', async () => {
    const d = folder('fifo');
    execFileSync('mkfifo', [path.join(d, 'pipe')], { timeout: 5000 });
    const made = await createTorrent(d, base);
    expect(made.walk.notes).toEqual([{ code: 'not_regular_file', count: 1, example: 'pipe' }]);
  });
});

describe('100 000 empty files', () => {
  it('alone: a clear no_data error; with one byte beside them: a torrent of 100 001 files, in bounded time', async () => {
    // On tmpfs when there is one: making 100 000 inodes on a busy disk takes longer than the run under test.
    const d = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmp, 'btscope-empties-'));
    cleanups.push(() => rmSync(d, { recursive: true, force: true }));
    for (let i = 0; i < 100; i++) {
      const sub = path.join(d, `d${String(i).padStart(3, '0')}`);
      mkdirSync(sub, { recursive: true });
      for (let j = 0; j < 1000; j++) closeSync(openSync(path.join(sub, `e${j}`), 'w'));
    }
    await expect(createTorrent(d, base)).rejects.toMatchObject({ code: 'no_data', message: expect.stringMatching(/100000 files, all empty/) });
    writeFileSync(path.join(d, 'one.txt'), 'x');
    const t0 = performance.now();
    const made = await createTorrent(d, { ...base, kind: 'v1' });
    const t = parseTorrent(made.bytes);
    expect(t.files.length).toBe(100_001);
    expect(t.pieceCount).toBe(1);
    expect(performance.now() - t0).toBeLessThan(60_000);
  }, 120_000);
});

/** Give others search permission (o+x) on `dir` and every folder above it that lacks it; returns what to restore. */
function openTheWay(dir: string): Array<[string, number]> {
  const changed: Array<[string, number]> = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const mode = statSync(d).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      chmodSync(d, mode | 0o001);
      changed.push([d, mode]);
    }
    if (path.dirname(d) === d) return changed;
  }
}
