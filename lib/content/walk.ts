import { lstatSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import * as nodePath from 'node:path';
import { BtscopeError } from '../core/errors.js';
import { pathFilter } from './glob.js';

/**
 * The files `btscope create` puts in a torrent: a file, or a folder walked
 * below its root. Symlinks are skipped (default), followed, or refused; followed
 * ones must stay below the root (realpath checked) and loops are an error, never
 * a hang. Hidden names (leading '.') are left out unless asked for. FIFOs,
 * sockets and devices are skipped (reading a FIFO could block forever).
 */
export type SymlinkPolicy = 'skip' | 'follow' | 'refuse';
export const SYMLINK_POLICIES: readonly SymlinkPolicy[] = ['skip', 'follow', 'refuse'];

export interface WalkOptions {
  readonly symlinks: SymlinkPolicy;
  /** Include names starting with '.' (BEP 47 attr `h`). */
  readonly hidden: boolean;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
}

export interface FoundFile {
  /** Components below the root; [name] when the root is a file. */
  readonly path: readonly string[];
  /** Where to read it (a followed symlink's path, not its target: re-checked at open). */
  readonly abs: string;
  readonly length: number;
  /** BEP 47: `h` hidden (a dot name), `x` executable (any execute bit). */
  readonly attr: string;
  readonly mtimeMs: number;
}

/** Something left out, said once per kind with an example (100 000 hidden files make one line). */
export interface WalkNote {
  readonly code: 'hidden_skipped' | 'excluded' | 'symlink_skipped' | 'dangling_symlink' | 'not_regular_file';
  readonly count: number;
  readonly example: string;
}

export interface WalkResult {
  readonly root: string;
  readonly name: string;
  readonly single: boolean;
  readonly files: FoundFile[];
  readonly notes: WalkNote[];
}

export function walkContent(path: string, o: WalkOptions): WalkResult {
  const root = nodePath.resolve(path);
  // The root itself was named by the user: followed even when it is a symlink.
  const st = statSync(root);
  const name = nodePath.basename(root);
  if (st.isFile()) {
    return { root, name, single: true, files: [{ path: [name], abs: root, length: st.size, attr: attrOf(name, st), mtimeMs: st.mtimeMs }], notes: [] };
  }
  if (!st.isDirectory()) throw new BtscopeError('not_regular_file', `${path} is neither a file nor a folder`);
  const rootReal = realpathSync(root);
  const filter = pathFilter(o.include, o.exclude);
  const notes = new Map<WalkNote['code'], { count: number; example: string }>();
  const note = (code: WalkNote['code'], example: string): void => {
    const n = notes.get(code);
    if (n) n.count++;
    else notes.set(code, { count: 1, example });
  };
  const files: FoundFile[] = [];
  const walk = (dir: string, rel: string[], ancestors: Set<string>): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      throw ioError(e, rel.join('/') || '.', 'cannot read folder');
    }
    for (const ent of entries) {
      const parts = [...rel, ent.name];
      const relPath = parts.join('/');
      const abs = nodePath.join(dir, ent.name);
      const hidden = ent.name.startsWith('.');
      if (hidden && !o.hidden) {
        note('hidden_skipped', relPath);
        continue;
      }
      if (filter.excluded(relPath)) {
        note('excluded', relPath);
        continue;
      }
      let lst: Stats;
      try {
        lst = lstatSync(abs);
      } catch (e) {
        throw ioError(e, relPath, 'cannot stat');
      }
      let target = lst;
      let real = abs;
      if (lst.isSymbolicLink()) {
        if (o.symlinks === 'skip') {
          note('symlink_skipped', relPath);
          continue;
        }
        if (o.symlinks === 'refuse') throw new BtscopeError('symlink_refused', `${relPath} is a symlink (--symlinks refuse); use --symlinks skip or follow`);
        try {
          real = realpathSync(abs);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ELOOP') throw new BtscopeError('symlink_loop', `${relPath}: symlink loop (ELOOP)`);
          if (code === 'ENOENT') {
            note('dangling_symlink', relPath);
            continue;
          }
          throw ioError(e, relPath, 'cannot resolve symlink');
        }
        if (real !== rootReal && !real.startsWith(rootReal + nodePath.sep)) {
          throw new BtscopeError('symlink_escapes_root', `${relPath} is a symlink to ${real}, outside ${rootReal}: refused (a torrent never reaches outside its root)`);
        }
        target = statSync(real);
      }
      if (target.isDirectory()) {
        const dirReal = lst.isSymbolicLink() ? real : realpathSync(abs);
        if (ancestors.has(dirReal)) throw new BtscopeError('symlink_loop', `${relPath} leads back to ${dirReal}, a folder it is in: symlink loop`);
        walk(abs, parts, new Set([...ancestors, dirReal]));
      } else if (target.isFile()) {
        if (!filter.included(relPath)) {
          note('excluded', relPath);
          continue;
        }
        files.push({ path: parts, abs, length: target.size, attr: attrOf(ent.name, target), mtimeMs: target.mtimeMs });
      } else {
        note('not_regular_file', relPath);
      }
    }
  };
  walk(root, [], new Set([rootReal]));
  return { root, name, single: false, files, notes: [...notes].map(([code, n]) => ({ code, ...n })) };
}

function attrOf(name: string, st: Stats): string {
  return (name.startsWith('.') ? 'h' : '') + ((st.mode & 0o111) !== 0 ? 'x' : '');
}

function ioError(e: unknown, rel: string, what: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return new BtscopeError('unreadable', `${rel}: ${what} (${code})`);
  if (code === 'ELOOP') return new BtscopeError('symlink_loop', `${rel}: symlink loop (ELOOP)`);
  return e as Error;
}

/** A line for a note, e.g. "12 hidden files or folders left out (e.g. .git); --include-hidden to keep them". */
export function describeNote(n: WalkNote): string {
  const what: Record<WalkNote['code'], string> = {
    hidden_skipped: 'hidden files or folders left out; --include-hidden to keep them',
    excluded: 'files or folders left out by --include/--exclude',
    symlink_skipped: 'symlinks skipped (--symlinks follow to include their targets below the root)',
    dangling_symlink: 'dangling symlinks skipped (their target does not exist)',
    not_regular_file: 'FIFOs, sockets or devices skipped (not regular files)',
  };
  return `${n.count} ${what[n.code]} (e.g. ${n.example})`;
}
