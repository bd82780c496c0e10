import { mkdir, writeFile, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { makeTorrent, type MakeTorrentOptions } from '../../lib/metainfo/make.js';
import { deterministicBytes } from '../../tools/demo-data.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import type { Torrent } from '../../lib/metainfo/types.js';

/** A torrent made in memory plus its data written under `seedDir` (as a finished download would be). */
export async function fixture(
  seedDir: string,
  spec: { name: string; pieceLength: number; files: { path: string[]; length: number }[]; single?: boolean; pad?: boolean; seed?: number },
): Promise<{ torrent: Torrent; bytes: Uint8Array; files: { path: string[]; data: Uint8Array }[] }> {
  let seed = spec.seed ?? 1;
  const files = spec.files.map((f) => ({ path: f.path, data: deterministicBytes(f.length, seed++) }));
  const opts: MakeTorrentOptions = { name: spec.name, pieceLength: spec.pieceLength, files, single: spec.single ?? false, pad: spec.pad ?? false };
  const { bytes } = makeTorrent(opts);
  for (const f of files) {
    const p = spec.single ? path.join(seedDir, spec.name) : path.join(seedDir, spec.name, ...f.path);
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, f.data);
  }
  return { torrent: parseTorrent(bytes), bytes, files };
}

/** Every file of the fixture under `dir` is byte-identical to the original. */
export async function sameFiles(dir: string, name: string, files: { path: string[]; data: Uint8Array }[], single = false): Promise<boolean> {
  for (const f of files) {
    const p = single ? path.join(dir, name) : path.join(dir, name, ...f.path);
    const got = await readFile(p).catch(() => undefined);
    if (!got || !Buffer.from(got).equals(Buffer.from(f.data))) return false;
  }
  return true;
}
