import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../lib/core/bytes.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { havePeers, LIBTORRENT_PYTHON } from '../helpers/peers.js';

/**
 * Torrents made here, by mktorrent, transmission-create and libtorrent's Python
 * bindings (v1, v2-only, hybrid; one file and a folder), must read exactly as
 * libtorrent and transmission-show read them: info-hashes, piece counts, files.
 */
interface Facts {
  infoHash: string | null;
  infoHashV2: string | null;
  pieceCount: number;
  pieceLength: number;
  length: number;
  files: [string, number, boolean][];
}

const LT_FACTS = `
import json, sys, libtorrent as lt
out = {}
for p in sys.argv[1:]:
    ti = lt.torrent_info(p)
    ih = ti.info_hashes()
    fs = ti.files()
    out[p] = {
        'infoHash': str(ih.v1) if ih.has_v1() else None,
        'infoHashV2': str(ih.v2) if ih.has_v2() else None,
        'pieceCount': ti.num_pieces(), 'pieceLength': ti.piece_length(), 'length': ti.total_size(),
        'files': [[fs.file_path(i).replace('\\\\', '/'), fs.file_size(i), bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)] for i in range(fs.num_files())],
    }
print(json.dumps(out))
`;

const LT_CREATE = `
import os, sys, libtorrent as lt
src, out, piece, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
fs = lt.file_storage()
lt.add_files(fs, src)
flags = {'v1': lt.create_torrent.v1_only, 'v2': lt.create_torrent.v2_only, 'hybrid': 0}[mode]
ct = lt.create_torrent(fs, piece, flags=flags)
ct.add_tracker('http://127.0.0.1:6969/announce')
lt.set_piece_hashes(ct, os.path.dirname(src))
open(out, 'wb').write(lt.bencode(ct.generate()))
`;

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function ours(file: string): Facts {
  const t = parseTorrent(new Uint8Array(readFileSync(file)));
  expect(t.diagnostics.filter((d) => d.severity !== 'note')).toEqual([]);
  return {
    infoHash: t.infoHash && toHex(t.infoHash),
    infoHashV2: t.infoHashV2 && toHex(t.infoHashV2),
    pieceCount: t.pieceCount,
    pieceLength: t.pieceLength,
    length: t.length,
    files: t.files.map((f) => [f.path.join('/'), f.length, f.pad]),
  };
}

/** transmission-show's hash, piece count and file list (it prints sizes rounded, so names only). */
function transmissionShow(file: string): { hash: string; pieces: number; files: string[] } {
  const text = execFileSync('transmission-show', [file], { encoding: 'utf8', timeout: 20_000 });
  const hash = /^\s*Hash: ([0-9a-f]{40})$/m.exec(text)![1]!;
  const pieces = Number(/^\s*Piece Count: (\d+)$/m.exec(text)![1]);
  const files = text
    .slice(text.indexOf('\nFILES\n') + 7)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.replace(/ \([\d.]+ [kMG]?B\)$/, ''));
  return { hash, pieces, files };
}

describe.skipIf(!havePeers('mktorrent', 'transmission-create', 'transmission-show', 'libtorrent'))('interop: torrents made by real tools', () => {
  let dir: string;
  const made: { file: string; tool: string; v1: boolean }[] = [];
  let lt: Record<string, Facts> = {};

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'btscope-interop-meta-'));
    const data = path.join(dir, 'data');
    mkdirSync(path.join(data, 'folder', 'sub'), { recursive: true });
    writeFileSync(path.join(data, 'one.bin'), bytes(100_003, 1));
    writeFileSync(path.join(data, 'folder', 'a.txt'), 'btscope interop\n'.repeat(3000));
    writeFileSync(path.join(data, 'folder', 'sub', 'b.bin'), bytes(70_000, 2));
    writeFileSync(path.join(data, 'folder', 'sub', 'c.bin'), bytes(16_384, 3));
    // A folder holding one file: v1 makes it a 'files' list of one; a hybrid's file tree then has
    // one entry, which is still in the folder (a v2-only tree of one entry is a single file).
    mkdirSync(path.join(data, 'lonely'));
    writeFileSync(path.join(data, 'lonely', 'only.bin'), bytes(50_001, 4));
    const out = (name: string) => path.join(dir, name);
    const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: data, stdio: 'pipe', timeout: 30_000 });
    for (const target of ['one.bin', 'folder', 'lonely']) {
      run('mktorrent', ['-d', '-l', '15', '-a', 'http://127.0.0.1:6969/announce', '-o', out(`mk-${target}.torrent`), target]);
      made.push({ file: out(`mk-${target}.torrent`), tool: 'mktorrent', v1: true });
      run('transmission-create', ['-s', '16', '-t', 'http://127.0.0.1:6969/announce', '-o', out(`tr-${target}.torrent`), target]);
      made.push({ file: out(`tr-${target}.torrent`), tool: 'transmission-create', v1: true });
      for (const mode of ['v1', 'v2', 'hybrid']) {
        run(LIBTORRENT_PYTHON, ['-c', LT_CREATE, path.join(data, target), out(`lt-${mode}-${target}.torrent`), '16384', mode]);
        made.push({ file: out(`lt-${mode}-${target}.torrent`), tool: `libtorrent ${mode}`, v1: mode !== 'v2' });
      }
    }
    lt = JSON.parse(execFileSync(LIBTORRENT_PYTHON, ['-c', LT_FACTS, ...made.map((m) => m.file)], { encoding: 'utf8', timeout: 30_000 }));
  }, 60_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('made 15 torrents: v1, v2-only and hybrid, of one file, a folder, and a folder holding one file', () => {
    expect(made).toHaveLength(15);
    expect(Object.keys(lt)).toHaveLength(15);
    expect(made.filter((m) => lt[m.file]!.infoHashV2 && !lt[m.file]!.infoHash)).toHaveLength(3);
    expect(made.filter((m) => lt[m.file]!.infoHashV2 && lt[m.file]!.infoHash)).toHaveLength(3);
    expect(lt[path.join(dir, 'lt-hybrid-lonely.torrent')]!.files[0]![0]).toBe('lonely/only.bin');
  });

  it('every torrent reads as libtorrent reads it', () => {
    for (const m of made) expect({ tool: m.tool, ...ours(m.file) }).toEqual({ tool: m.tool, ...lt[m.file] });
  });

  it('v1 and hybrid torrents read as transmission-show reads them', () => {
    for (const m of made.filter((x) => x.v1 && !x.tool.includes('hybrid'))) {
      const mine = ours(m.file);
      const tr = transmissionShow(m.file);
      expect({ tool: m.tool, hash: mine.infoHash, pieces: mine.pieceCount, files: mine.files.map((f) => f[0]).sort() }).toEqual({
        tool: m.tool,
        hash: tr.hash,
        pieces: tr.pieces,
        files: [...tr.files].sort(),
      });
    }
  });
});
