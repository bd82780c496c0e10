import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Paths and options the benchmarks share (they run from dist/bench/). */
const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');
export const CLI = path.join(root, 'dist', 'tools', 'cli.js');
export const LT_SEED = path.join(root, 'test', 'helpers', 'lt_seed.py');
/** Debian's python with the libtorrent bindings. */
export const PY = '/usr/bin/python3';

/** `--name N` from the command line, or `def`. */
export function numberOption(argv: readonly string[], name: string, def: number): number {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
}
