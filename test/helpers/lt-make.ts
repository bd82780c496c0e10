import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deterministicBytes } from '../../tools/demo-data.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { LIBTORRENT_PYTHON } from './peers.js';

const LT_MAKE = fileURLToPath(new URL('./lt_make.py', import.meta.url));

/** Write FILES under `folder` (created), each with deterministic bytes from its own seed, counting up from `seed`. */
export async function writeDataset(folder: string, files: readonly (readonly [string[], number])[], seed: number): Promise<void> {
  let s = seed;
  for (const [p, n] of files) {
    const file = path.join(folder, ...p);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, deterministicBytes(n, s++));
  }
}

/** libtorrent makes a v1, v2-only or hybrid .torrent of `source` (file or folder) at `out` (bounded: 30 s); parsed by btscope. */
export async function ltMakeTorrent(source: string, out: string, pieceLength: number, mode: 'v1' | 'v2' | 'hybrid'): Promise<Torrent> {
  execFileSync(LIBTORRENT_PYTHON, [LT_MAKE, source, out, String(pieceLength), mode], { timeout: 30_000 });
  return parseTorrent(new Uint8Array(await readFile(out)));
}
