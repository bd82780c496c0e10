import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../lib/core/bytes.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { deterministicBytes } from '../../tools/demo-data.js';
import { ltMakeTorrent } from '../helpers/lt-make.js';
import { havePeers, LIBTORRENT_PYTHON } from '../helpers/peers.js';

/**
 * Issue 15's proof for `btscope create` and `btscope verify` against real tools:
 * libtorrent 2.0.8 loads what we make with the info-hashes we print and checks
 * the lab data to 100 %; transmission-show agrees on v1; mktorrent makes the
 * same v1 info-hash; libtorrent's create_torrent gives the same pieces roots
 * and piece layers (and, files being sorted and padded the same way, the same
 * v2 and hybrid info-hashes); and verify agrees with libtorrent's own check.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(repoRoot, 'dist/tools/cli.js');
const LT_CHECK = path.join(repoRoot, 'test/helpers/lt_check.py');

interface LtFacts {
  v1: string | null;
  v2: string | null;
  pieces: number;
  pieceLength: number;
  files: { path: string; size: number; pad: boolean; root: string | null }[];
  progress: number;
  seeding: boolean;
  have: number;
}

function btscope(args: string[]): string {
  return execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
}

function ltCheck(save: string, torrents: string[]): Record<string, LtFacts> {
  return JSON.parse(execFileSync(LIBTORRENT_PYTHON, [LT_CHECK, save, ...torrents], { encoding: 'utf8', timeout: 90_000, env: { ...process.env, PYTHONPATH: path.dirname(LT_CHECK) } }));
}

const layers = (t: Torrent) => Object.fromEntries([...t.pieceLayers].map(([k, v]) => [k, toHex(v)]));
const roots = (t: Torrent) => t.files.filter((f) => !f.pad).map((f) => [f.path.join('/'), f.piecesRoot ? toHex(f.piecesRoot) : null]);

describe.skipIf(!havePeers('libtorrent', 'transmission-show', 'mktorrent'))('interop: btscope create and verify with libtorrent, transmission-show, mktorrent', () => {
  let dir: string;
  let lab: string;
  const made: Record<string, { file: string; json: Record<string, unknown>; t: Torrent }> = {};

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'btscope-interop-create-'));
    lab = path.join(dir, 'lab');
    // Names whose order is the same as a path string (mktorrent) and component by component (BEP 52).
    const data = path.join(lab, 'album');
    mkdirSync(path.join(data, 'disc1'), { recursive: true });
    writeFileSync(path.join(data, 'a-cover.jpg'), deterministicBytes(50_001, 1));
    writeFileSync(path.join(data, 'disc1', 'track1.flac'), deterministicBytes(1_300_000, 2));
    writeFileSync(path.join(data, 'disc1', 'track2.flac'), deterministicBytes(262_144, 3));
    writeFileSync(path.join(data, 'empty.txt'), '');
    writeFileSync(path.join(data, 'run.sh'), '#!/bin/sh\n');
    chmodSync(path.join(data, 'run.sh'), 0o755);
    writeFileSync(path.join(lab, 'single.iso'), deterministicBytes(777_777, 4));
    for (const kind of ['v1', 'v2', 'hybrid']) {
      for (const target of ['album', 'single.iso']) {
        const file = path.join(dir, `${kind}-${target}.torrent`);
        const json = JSON.parse(btscope(['create', path.join(lab, target), '-o', file, '--kind', kind, '--piece-length', '65536', '--no-date', '--json', '--tracker', 'http://127.0.0.1:6969/announce']));
        made[`${kind}-${target}`] = { file, json, t: parseTorrent(new Uint8Array(readFileSync(file))) };
      }
    }
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('libtorrent 2.0.8 loads all six with the info-hashes btscope printed, and checks the lab data to 100 % (seeding)', () => {
    const facts = ltCheck(lab, Object.values(made).map((m) => m.file));
    for (const [name, m] of Object.entries(made)) {
      const f = facts[m.file]!;
      expect({ name, v1: f.v1, v2: f.v2 }).toEqual({ name, v1: m.json['infoHash'], v2: m.json['infoHashV2'] });
      expect({ name, pieces: f.pieces, progress: f.progress, seeding: f.seeding }).toEqual({ name, pieces: m.t.pieceCount, progress: 1, seeding: true });
      expect(f.files.filter((x) => !x.pad).map((x) => [x.path, x.root])).toEqual(roots(m.t));
    }
  }, 120_000);

  it('transmission-show gives the same v1 info-hash, piece count and files', () => {
    for (const target of ['album', 'single.iso']) {
      const m = made[`v1-${target}`]!;
      const text = execFileSync('transmission-show', [m.file], { encoding: 'utf8', timeout: 20_000 });
      expect(/^\s*Hash: ([0-9a-f]{40})$/m.exec(text)![1]).toBe(m.json['infoHash']);
      expect(Number(/^\s*Piece Count: (\d+)$/m.exec(text)![1])).toBe(m.t.pieceCount);
      for (const f of m.t.files) expect(text).toContain(f.path.join('/'));
    }
  });

  it('a v1 single file and a v1 folder, --no-date, no optional keys (--no-attr): the info-hash equals mktorrent -l 16', () => {
    for (const target of ['album', 'single.iso']) {
      const ours = JSON.parse(btscope(['create', path.join(lab, target), '-o', path.join(dir, `plain-${target}.torrent`), '--kind', 'v1', '--piece-length', '65536', '--no-date', '--no-attr', '--json']));
      const out = path.join(dir, `mk-${target}.torrent`);
      execFileSync('mktorrent', ['-d', '-l', '16', '-a', 'http://127.0.0.1:6969/announce', '-o', out, target], { cwd: lab, stdio: 'pipe', timeout: 30_000 });
      const mk = parseTorrent(new Uint8Array(readFileSync(out)));
      expect({ target, hash: toHex(mk.infoHash!) }).toEqual({ target, hash: ours['infoHash'] });
    }
  });

  it("v2 and hybrid: libtorrent's create_torrent over the same data gives the same pieces roots, piece layers and info-hashes", async () => {
    for (const kind of ['v2', 'hybrid'] as const) {
      for (const target of ['album', 'single.iso']) {
        const ours = made[`${kind}-${target}`]!.t;
        const theirs = await ltMakeTorrent(path.join(lab, target), path.join(dir, `lt-${kind}-${target}.torrent`), 65536, kind);
        expect(roots(ours)).toEqual(roots(theirs));
        expect(layers(ours)).toEqual(layers(theirs));
        expect(Object.keys(layers(ours)).length).toBeGreaterThan(0);
        expect([ours.infoHash && toHex(ours.infoHash), toHex(ours.infoHashV2!)]).toEqual([theirs.infoHash && toHex(theirs.infoHash), toHex(theirs.infoHashV2!)]);
      }
    }
  }, 60_000);

  it("verify agrees with libtorrent's check on a damaged copy: the same pieces fail", () => {
    const copy = path.join(dir, 'damaged');
    execFileSync('cp', ['-r', lab, copy], { timeout: 20_000 });
    const track = path.join(copy, 'album', 'disc1', 'track1.flac');
    const bytes = readFileSync(track);
    bytes[1_000_000] ^= 0xff;
    writeFileSync(track, bytes);
    const m = made['hybrid-album']!;
    const r = spawnSync(process.execPath, [CLI, 'verify', '--json', m.file, copy], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout) as { badPieces: number[]; files: { path: string; status: string; firstBadOffset?: number }[] };
    // Byte 1 000 000 of track1 is in its piece 15 (983 040); the file starts at piece 1 (after a-cover.jpg and its pad).
    expect(j.badPieces).toEqual([16]);
    expect(j.files.find((f) => f.path === 'album/disc1/track1.flac')).toMatchObject({ status: 'bad_pieces', firstBadOffset: 983_040 });
    const lt = ltCheck(copy, [m.file])[m.file]!;
    expect([lt.seeding, m.t.pieceCount - lt.have]).toEqual([false, 1]);
  }, 120_000);
});
