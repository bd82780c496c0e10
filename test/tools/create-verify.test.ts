import { execFile } from 'node:child_process';
import { appendFileSync, chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../lib/core/bytes.js';
import { UsageError } from '../../lib/core/errors.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { handler as createHandler } from '../../tools/commands/create.js';
import { handler as verifyHandler } from '../../tools/commands/verify.js';
import { deterministicBytes } from '../../tools/demo-data.js';
import { describeError } from '../../tools/errors.js';
import { captureIo } from '../../tools/io.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(repoRoot, 'dist/tools/cli.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'btscope-create-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The lab data: a folder of a few files, one larger than a piece, one empty, one executable. */
const lab = path.join(tmp, 'lab', 'album');
beforeAll(() => {
  mkdirSync(path.join(lab, 'disc 1'), { recursive: true });
  writeFileSync(path.join(lab, 'disc 1', 'track01.flac'), deterministicBytes(700_000, 1));
  writeFileSync(path.join(lab, 'disc 1', 'track02.flac'), deterministicBytes(123_457, 2));
  writeFileSync(path.join(lab, 'cover.jpg'), deterministicBytes(40_000, 3));
  writeFileSync(path.join(lab, 'empty.txt'), '');
  writeFileSync(path.join(lab, 'play.sh'), '#!/bin/sh\necho play\n');
  chmodSync(path.join(lab, 'play.sh'), 0o755);
  writeFileSync(path.join(lab, '.DS_Store'), 'hidden');
});

type CreateArgs = Parameters<typeof createHandler>[0];
function createArgs(p: string, over: Partial<CreateArgs> = {}): CreateArgs {
  return {
    path: p,
    force: false,
    kind: 'hybrid',
    tracker: [],
    tier: [],
    'web-seed': [],
    private: false,
    'created-by': 'btscope test',
    date: false,
    include: [],
    exclude: [],
    'include-hidden': false,
    symlinks: 'skip',
    magnet: false,
    threads: 2,
    progress: true,
    json: false,
    frames: false,
    ...over,
  };
}

async function create(p: string, out: string, over: Partial<CreateArgs> = {}): Promise<{ code: number; io: ReturnType<typeof captureIo>; bytes: Uint8Array }> {
  const io = captureIo();
  const code = await createHandler({ ...createArgs(p, { output: out, ...over }), io });
  return { code, io, bytes: new Uint8Array(readFileSync(out)) };
}

async function verify(torrent: string, dir: string, threads = 2): Promise<{ code: number; json: Record<string, unknown> }> {
  const io = captureIo();
  const code = await verifyHandler({ torrent, dir, threads, progress: true, 'max-files': 100, json: true, frames: false, io });
  return { code, json: JSON.parse(io.text()) };
}

describe('btscope create', () => {
  it('hybrid by default: clean parse, both info-hashes, sorted files, pads, attr x, hidden left out (one note)', async () => {
    const out = path.join(tmp, 'album.torrent');
    const { code, io, bytes } = await create(lab, out, { json: true });
    expect(code).toBe(0);
    const j = JSON.parse(io.text());
    const t = parseTorrent(bytes);
    expect(t.diagnostics.filter((d) => d.severity !== 'note')).toEqual([]);
    expect(j.infoHash).toBe(toHex(t.infoHash!));
    expect(j.infoHashV2).toBe(toHex(t.infoHashV2!));
    expect(j.kind).toBe('hybrid');
    expect(j.pieceLengthChosen).toBe(true);
    expect(t.pieceLength).toBe(16 * 1024);
    expect(t.files.filter((f) => !f.pad).map((f) => [f.path.join('/'), f.attr])).toEqual([
      ['album/cover.jpg', ''],
      ['album/disc 1/track01.flac', ''],
      ['album/disc 1/track02.flac', ''],
      ['album/empty.txt', ''],
      ['album/play.sh', 'x'],
    ]);
    expect(t.files.filter((f) => f.pad).length).toBe(4);
    expect(j.notes).toEqual([{ code: 'hidden_skipped', count: 1, example: '.DS_Store' }]);
    expect(io.stderr.join('\n')).toMatch(/1 hidden files or folders left out/);
    // Not a TTY: no progress bar anywhere.
    expect(io.stderr.join('\n')).not.toMatch(/hashing \[/);
  });

  it('deterministic: same input and options, same bytes, with 2 worker threads or none', async () => {
    const a = await create(lab, path.join(tmp, 'd1.torrent'), { threads: 2 });
    const b = await create(lab, path.join(tmp, 'd2.torrent'), { threads: 0 });
    expect(toHex(a.bytes)).toBe(toHex(b.bytes));
    expect(parseTorrent(a.bytes).creationDate).toBeUndefined();
  });

  it('v1, v2, hybrid: the same files and v2 roots; options land where BEP 3/12/19/27 put them', async () => {
    const common = { 'piece-length': 32768, tracker: ['http://a/announce', 'http://b/announce', 'udp://c:1'], tier: [1, 1, 2], 'web-seed': ['http://ws/'], private: true, source: 'LAB', comment: 'hi', date: true, now: 1700000000 };
    const [v1, v2, hy] = await Promise.all(
      (['v1', 'v2', 'hybrid'] as const).map(async (kind) => parseTorrent((await create(lab, path.join(tmp, `k-${kind}.torrent`), { kind, ...common })).bytes)),
    );
    expect([v1.metaVersion, v1.hybrid, v2.metaVersion, v2.hybrid, hy.hybrid]).toEqual([1, false, 2, false, true]);
    for (const t of [v1, v2, hy]) {
      expect(t.trackers).toEqual([['http://a/announce', 'http://b/announce'], ['udp://c:1']]);
      expect(t.webSeeds).toEqual(['http://ws/']);
      expect([t.private, t.comment, t.createdBy, t.creationDate, t.pieceLength]).toEqual([true, 'hi', 'btscope test', 1700000000, 32768]);
      expect(t.doc.root.get('info')!.get('source')!.str()).toBe('LAB');
    }
    const roots = (t: typeof v2) => t.files.filter((f) => f.piecesRoot).map((f) => toHex(f.piecesRoot!));
    expect(roots(v2)).toEqual(roots(hy));
    expect(v1.length).toBe(700_000 + 123_457 + 40_000 + 20);
  });

  it('--include, --exclude, --include-hidden (attr h), --name; --magnet prints the link only; --frames the annotated file', async () => {
    const { bytes } = await create(lab, path.join(tmp, 'inc.torrent'), { include: ['*.flac', '.DS_Store'], exclude: ['track02*'], 'include-hidden': true, name: 'renamed' });
    const t = parseTorrent(bytes);
    expect(t.name).toBe('renamed');
    expect(t.files.filter((f) => !f.pad).map((f) => [f.path.join('/'), f.attr])).toEqual([
      ['renamed/.DS_Store', 'h'],
      ['renamed/disc 1/track01.flac', ''],
    ]);
    const m = await create(lab, path.join(tmp, 'mag.torrent'), { magnet: true });
    expect(m.io.text()).toBe(`magnet:?xt=urn:btih:${toHex(parseTorrent(m.bytes).infoHash!)}&xt=urn:btmh:1220${toHex(parseTorrent(m.bytes).infoHashV2!)}&dn=album`);
    const f = await create(lab, path.join(tmp, 'frames.torrent'), { frames: true });
    expect(f.io.text()).toMatch(/piece layers/);
    expect(f.io.text()).toMatch(/pieces root/);
  });

  it('a single file: `length` and a one-entry file tree', async () => {
    const t = parseTorrent((await create(path.join(lab, 'disc 1', 'track01.flac'), path.join(tmp, 'single.torrent'))).bytes);
    expect([t.name, t.files.length, t.files[0]!.path, t.length]).toEqual(['track01.flac', 1, ['track01.flac'], 700_000]);
    expect(t.doc.root.get('info')!.get('length')!.int('length')).toBe(700_000);
  });

  it('refuses to overwrite without --force (exit 2), and a bad piece length', async () => {
    const out = path.join(tmp, 'exists.torrent');
    writeFileSync(out, 'x');
    const e = await createHandler({ ...createArgs(lab, { output: out }), io: captureIo() }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(describeError(e).exitCode).toBe(2);
    expect(readFileSync(out, 'utf8')).toBe('x');
    expect((await create(lab, out, { force: true })).code).toBe(0);
    const bad = await createHandler({ ...createArgs(lab, { output: path.join(tmp, 'pl.torrent'), 'piece-length': 1000 }), io: captureIo() }).catch((x: unknown) => x);
    expect(describeError(bad)).toMatchObject({ exitCode: 2, message: expect.stringMatching(/power of two/) });
  });
});

describe('btscope verify', () => {
  const torrents: Record<string, string> = {};
  beforeAll(async () => {
    for (const kind of ['v1', 'v2', 'hybrid'] as const) {
      torrents[kind] = path.join(tmp, `verify-${kind}.torrent`);
      await create(lab, torrents[kind]!, { kind, 'piece-length': 16384 });
    }
  });

  it.each(['v1', 'v2', 'hybrid'])('%s: 100 %% on the good copy, exit 0', async (kind) => {
    const { code, json } = await verify(torrents[kind]!, path.dirname(lab));
    expect(code).toBe(0);
    expect(json['ok']).toBe(true);
    expect(json['goodPieces']).toBe(json['pieceCount']);
    expect((json['files'] as { status: string }[]).every((f) => f.status === 'complete')).toBe(true);
  });

  it.each(['v1', 'v2', 'hybrid'])('%s: a flipped byte, a truncated file, a missing file and an extra file, each reported where it is', async (kind) => {
    const copy = path.join(tmp, `bad-${kind}`);
    cpSync(path.dirname(lab), copy, { recursive: true });
    const track = path.join(copy, 'album', 'disc 1', 'track01.flac');
    const data = readFileSync(track);
    data[300_000] ^= 0x40;
    writeFileSync(track, data);
    truncateSync(path.join(copy, 'album', 'disc 1', 'track02.flac'), 100_000);
    unlinkSync(path.join(copy, 'album', 'cover.jpg'));
    writeFileSync(path.join(copy, 'album', 'notes.txt'), 'not in the torrent');
    const { code, json } = await verify(torrents[kind]!, copy, kind === 'v2' ? 0 : 2);
    expect(code).toBe(1);
    const files = Object.fromEntries((json['files'] as { path: string }[]).map((f) => [f.path, f])) as Record<string, Record<string, unknown>>;
    if (kind === 'v1') {
      // No pads: track01's first piece also holds the end of the missing cover.jpg (stream offset 40 000), so it fails too.
      expect(files['album/disc 1/track01.flac']).toMatchObject({ status: 'bad_pieces', badPieces: 2, firstBadOffset: 0, firstBadPiece: 2 });
      // The truncation at file byte 100 000 is stream byte 840 000, in piece 51 (835 584), file byte 95 584.
      expect(files['album/disc 1/track02.flac']).toMatchObject({ status: 'wrong_size', actualLength: 100_000, firstBadOffset: 95_584 });
    } else {
      // Aligned: the flip at 300 000 is in the file's piece 18 (294 912); the truncation in its piece 6 (98 304).
      expect(files['album/disc 1/track01.flac']).toMatchObject({ status: 'bad_pieces', badPieces: 1, firstBadOffset: 294_912 });
      expect(files['album/disc 1/track02.flac']).toMatchObject({ status: 'wrong_size', actualLength: 100_000, firstBadOffset: 98_304, badPieces: 2 });
    }
    expect(files['album/cover.jpg']).toMatchObject({ status: 'missing', firstBadOffset: 0 });
    // v1: play.sh shares the last piece with the truncated track02.
    expect(files['album/play.sh']).toMatchObject({ status: kind === 'v1' ? 'bad_pieces' : 'complete' });
    expect(json['extra']).toEqual(['album/.DS_Store', 'album/notes.txt']);
    expect(json['disagreements']).toEqual([]);
  });

  it('reads only: nothing written to the data folder', async () => {
    const copy = path.join(tmp, 'ro');
    cpSync(path.dirname(lab), copy, { recursive: true });
    unlinkSync(path.join(copy, 'album', 'cover.jpg'));
    await verify(torrents['hybrid']!, copy);
    expect(() => readFileSync(path.join(copy, 'album', 'cover.jpg'))).toThrow(/ENOENT/);
  });
});

describe('the CLI (compiled)', () => {
  function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }));
    });
  }

  it('create then verify: exit 0, then 1 after a change; no progress bar when stderr is not a terminal', async () => {
    const out = path.join(tmp, 'cli.torrent');
    const c = await run(['create', lab, '-o', out, '--no-date']);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/info-hash v1 [0-9a-f]{40}/);
    expect(c.stdout).toMatch(/16\.0 KiB \(16384, chosen from the size as libtorrent does/);
    const ok = await run(['verify', out, path.dirname(lab)]);
    expect([ok.code, ok.stderr]).toEqual([0, '']);
    expect(ok.stdout).toMatch(/pieces good \(100 %\)/);
    const copy = path.join(tmp, 'cli-copy');
    cpSync(path.dirname(lab), copy, { recursive: true });
    appendFileSync(path.join(copy, 'album', 'play.sh'), 'x');
    const bad = await run(['verify', out, copy]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/wrong size: 21 bytes on disk/);
    const again = await run(['create', lab, '-o', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists: use --force/);
  });
});
