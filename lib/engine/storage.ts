import * as fs from 'node:fs';
import * as path from 'node:path';
import { BtscopeError } from '../core/errors.js';

/**
 * Where a torrent's byte stream lives on disk: its files laid end to end (BEP 3
 * multi-file layout, BEP 47 pad files included in the stream but never written).
 * Files are opened lazily and kept in a small LRU of descriptors; blocks are
 * written at their offsets as they arrive, so memory does not grow with the
 * torrent's size. Reads of pad files and of bytes not on disk yet give zeros.
 */
export interface StorageFile {
  /** Absolute path on disk (already made safe by the caller); unused for pad files. */
  readonly path: string;
  /** Offset of the file's first byte in the torrent's byte stream. */
  readonly offset: number;
  readonly length: number;
  /** BEP 47 padding: zeros, never written. Symlinks (attr `l`) are treated the same way. */
  readonly pad: boolean;
}

/** One piece of a stream range that falls into one file. */
export interface FileSlice {
  readonly fileIndex: number;
  /** Offset inside the file. */
  readonly fileOffset: number;
  readonly length: number;
  /** Offset inside the range that was asked for. */
  readonly rangeOffset: number;
}

export class StorageError extends BtscopeError {
  override name = 'StorageError';
}

export interface StorageOptions {
  /** Descriptors kept open at once (default 32). */
  maxOpenFiles?: number;
  /**
   * Every file must resolve below this folder, also after following symlinks
   * already on disk (a planted `outDir/a -> /etc` must not redirect writes).
   */
  root: string;
}

interface OpenFile {
  fd: number;
  /** Opened for writing (O_RDWR|O_CREAT) rather than read-only. */
  writable: boolean;
  /** Reads/writes using the descriptor now; it is closed only when this drops to 0. */
  users: number;
  /** Dropped from the LRU: close when the last user is done. */
  retired: boolean;
}

export class Storage {
  readonly files: readonly StorageFile[];
  readonly length: number;
  private readonly open = new Map<number, OpenFile>();
  private readonly opening = new Map<number, Promise<OpenFile | null>>();
  private readonly maxOpen: number;
  private readonly root: string;
  private rootReal: string | undefined;
  private readonly madeDirs = new Set<string>();
  private closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(files: readonly StorageFile[], options: StorageOptions) {
    let expected = 0;
    for (const f of files) {
      if (f.offset !== expected) throw new StorageError('bad_layout', `file ${f.path} starts at ${f.offset}, expected ${expected}`);
      expected += f.length;
    }
    this.files = files;
    this.length = expected;
    this.maxOpen = Math.max(1, options.maxOpenFiles ?? 32);
    this.root = path.resolve(options.root);
  }

  /** The files a stream range [offset, offset+length) touches, in order (binary search, no allocation per file). */
  slices(offset: number, length: number): FileSlice[] {
    if (offset < 0 || length < 0 || offset + length > this.length) {
      throw new StorageError('out_of_range', `range ${offset}+${length} is outside the torrent (${this.length} bytes)`);
    }
    const out: FileSlice[] = [];
    if (length === 0) return out;
    let lo = 0;
    let hi = this.files.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.files[mid]!.offset <= offset) lo = mid;
      else hi = mid - 1;
    }
    let pos = offset;
    const end = offset + length;
    for (let i = lo; i < this.files.length && pos < end; i++) {
      const f = this.files[i]!;
      if (f.length === 0 || f.offset + f.length <= pos) continue;
      const n = Math.min(end, f.offset + f.length) - pos;
      out.push({ fileIndex: i, fileOffset: pos - f.offset, length: n, rangeOffset: pos - offset });
      pos += n;
    }
    return out;
  }

  /** Write bytes at a stream offset. Pad-file bytes are skipped. The caller must keep `data` intact until it resolves. */
  async write(offset: number, data: Uint8Array): Promise<void> {
    const p = this.writeSlices(offset, data);
    this.inFlight.add(p);
    try {
      await p;
    } finally {
      this.inFlight.delete(p);
    }
  }

  /**
   * Write consecutive buffers (blocks of one piece, in order) at a stream
   * offset as one gathered write per file (pwritev): one system call and one
   * thread-pool job instead of one per block. Keep the buffers intact until it resolves.
   */
  async writeParts(offset: number, parts: readonly Uint8Array[]): Promise<void> {
    if (parts.length === 1) return this.write(offset, parts[0]!);
    const p = this.writePartsSlices(offset, parts);
    this.inFlight.add(p);
    try {
      await p;
    } finally {
      this.inFlight.delete(p);
    }
  }

  private async writePartsSlices(offset: number, parts: readonly Uint8Array[]): Promise<void> {
    let total = 0;
    for (const b of parts) total += b.length;
    for (const s of this.slices(offset, total)) {
      if (this.files[s.fileIndex]!.pad) continue;
      const views = sliceParts(parts, s.rangeOffset, s.length);
      const f = (await this.fileFor(s.fileIndex, true))!;
      try {
        await writevAll(f.fd, views, s.fileOffset);
      } finally {
        this.release(f);
      }
    }
  }

  private async writeSlices(offset: number, data: Uint8Array): Promise<void> {
    for (const s of this.slices(offset, data.length)) {
      if (this.files[s.fileIndex]!.pad) continue;
      const f = (await this.fileFor(s.fileIndex, true))!;
      try {
        await writeAll(f.fd, data.subarray(s.rangeOffset, s.rangeOffset + s.length), s.fileOffset);
      } finally {
        this.release(f);
      }
    }
  }

  /**
   * Read a stream range into `into` (or a new buffer). Pad files, missing files
   * and bytes past a file's current end read as zeros; `missing` counts them.
   */
  async read(offset: number, length: number, into?: Uint8Array): Promise<{ bytes: Uint8Array; missing: number }> {
    const bytes = into ? into.subarray(0, length) : new Uint8Array(length);
    let missing = 0;
    for (const s of this.slices(offset, length)) {
      const target = bytes.subarray(s.rangeOffset, s.rangeOffset + s.length);
      if (this.files[s.fileIndex]!.pad) {
        target.fill(0);
        continue;
      }
      const f = await this.fileFor(s.fileIndex, false);
      if (!f) {
        target.fill(0);
        missing += s.length;
        continue;
      }
      let got: number;
      try {
        got = await readAll(f.fd, target, s.fileOffset);
      } finally {
        this.release(f);
      }
      if (got < s.length) {
        target.fill(0, got);
        missing += s.length - got;
      }
    }
    return { bytes, missing };
  }

  /**
   * Read a stream range into consecutive views (`parts`, e.g. the block slots
   * of a piece laid out as ready-to-send piece messages): one gathered read
   * (preadv) per file. Pad files, missing files and bytes past a file's end
   * read as zeros; `missing` counts them.
   */
  async readParts(offset: number, parts: readonly Uint8Array[]): Promise<{ missing: number }> {
    let total = 0;
    for (const b of parts) total += b.length;
    let missing = 0;
    for (const s of this.slices(offset, total)) {
      const views = sliceParts(parts, s.rangeOffset, s.length);
      if (this.files[s.fileIndex]!.pad) {
        for (const v of views) v.fill(0);
        continue;
      }
      const f = await this.fileFor(s.fileIndex, false);
      let got = 0;
      if (f) {
        try {
          got = await readvAll(f.fd, views, s.fileOffset);
        } finally {
          this.release(f);
        }
      }
      if (got < s.length) {
        // Zero what the file did not have (shorter than the torrent says, or absent).
        let skip = got;
        for (const v of views) {
          if (skip >= v.length) skip -= v.length;
          else {
            v.fill(0, skip);
            skip = 0;
          }
        }
        missing += s.length - got;
      }
    }
    return { missing };
  }

  /** Current on-disk size of each file (0 when absent); pad files report their full length. */
  async sizes(): Promise<number[]> {
    return Promise.all(
      this.files.map(async (f) => {
        if (f.pad) return f.length;
        try {
          return (await fs.promises.stat(f.path)).size;
        } catch {
          return 0;
        }
      }),
    );
  }

  /** Create the files that no block ever touches (zero-length files), so a finished download has every file. */
  async createEmptyFiles(): Promise<void> {
    for (let i = 0; i < this.files.length; i++) {
      const f = this.files[i]!;
      if (!f.pad && f.length === 0) this.release((await this.fileFor(i, true))!);
    }
  }

  /** Wait for every write in flight (their bytes are then in the OS's page cache: a kill -9 loses nothing). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** drain(), then fdatasync every file open for writing (durable across a power cut). */
  async sync(): Promise<void> {
    await this.drain();
    await Promise.all(
      [...this.open.values()].filter((f) => f.writable).map((f) => new Promise<void>((res) => fs.fdatasync(f.fd, () => res()))),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.inFlight]);
    await Promise.allSettled([...this.opening.values()]);
    this.closed = true;
    const idle = [...this.open.values()].filter((f) => f.users === 0);
    for (const [index, f] of [...this.open]) if (f.users > 0) this.retire(index, f); // closed by their last release()
    this.open.clear();
    await Promise.all(idle.map((f) => new Promise<void>((res) => fs.close(f.fd, () => res()))));
  }

  /** The open descriptor for a file, its user count taken; the caller must release() it. */
  private async fileFor(index: number, write: boolean): Promise<OpenFile | null> {
    if (this.closed) throw new StorageError('closed', 'storage is closed');
    const cur = this.open.get(index);
    if (cur && (cur.writable || !write)) {
      // LRU: re-insert at the end.
      this.open.delete(index);
      this.open.set(index, cur);
      cur.users++;
      return cur;
    }
    const pending = this.opening.get(index);
    if (pending) {
      await pending.catch(() => null);
      return this.fileFor(index, write);
    }
    const p = this.openFile(index, write);
    this.opening.set(index, p);
    try {
      const f = await p;
      if (cur) this.retire(index, cur); // a read-only descriptor replaced by a writable one
      if (f) {
        this.open.set(index, f);
        f.users++;
        this.evict();
      }
      return f;
    } finally {
      this.opening.delete(index);
    }
  }

  private release(f: OpenFile): void {
    f.users--;
    if (f.retired && f.users === 0) fs.close(f.fd, () => {});
  }

  private retire(index: number, f: OpenFile): void {
    if (this.open.get(index) === f) this.open.delete(index);
    f.retired = true;
    if (f.users === 0) fs.close(f.fd, () => {});
  }

  private evict(): void {
    for (const [index, f] of this.open) {
      if (this.open.size <= this.maxOpen) break;
      this.retire(index, f);
    }
  }

  private async openFile(index: number, write: boolean): Promise<OpenFile | null> {
    const file = this.files[index]!;
    const dir = path.dirname(file.path);
    await this.checkInsideRoot(file.path, dir, write);
    const { O_RDWR, O_RDONLY, O_CREAT, O_NOFOLLOW } = fs.constants;
    const flags = write ? O_RDWR | O_CREAT | (O_NOFOLLOW ?? 0) : O_RDONLY | (O_NOFOLLOW ?? 0);
    try {
      const fd = await new Promise<number>((res, rej) => fs.open(file.path, flags, 0o644, (e, fd) => (e ? rej(e) : res(fd))));
      return { fd, writable: write, users: 0, retired: false };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!write && (code === 'ENOENT' || code === 'ENOTDIR')) return null;
      if (code === 'ELOOP') throw new StorageError('symlink', `${file.path} is a symlink: refusing to follow it`);
      throw new StorageError('io', `cannot open ${file.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The file's folder, once symlinks are resolved, must still be below the root. */
  private async checkInsideRoot(filePath: string, dir: string, create: boolean): Promise<void> {
    const rel = path.relative(this.root, filePath);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new StorageError('outside_root', `${filePath} is not below ${this.root}`);
    }
    if (this.madeDirs.has(dir)) return;
    if (create) await fs.promises.mkdir(dir, { recursive: true });
    this.rootReal ??= await fs.promises.realpath(this.root).catch(() => this.root);
    let real: string;
    try {
      real = await fs.promises.realpath(dir);
    } catch {
      return; // Read of a file whose folder does not exist: nothing to escape through.
    }
    const relReal = path.relative(this.rootReal, real);
    if (relReal.startsWith('..') || path.isAbsolute(relReal)) {
      throw new StorageError('outside_root', `${dir} resolves to ${real}, outside ${this.rootReal} (a symlink on disk?)`);
    }
    this.madeDirs.add(dir);
  }
}

/** Views of the range [from, from+length) of the concatenation of `parts` (no copy). */
function sliceParts(parts: readonly Uint8Array[], from: number, length: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  const end = from + length;
  for (const b of parts) {
    const bStart = at;
    const bEnd = at + b.length;
    at = bEnd;
    if (bEnd <= from) continue;
    if (bStart >= end) break;
    out.push(b.subarray(Math.max(0, from - bStart), Math.min(b.length, end - bStart)));
  }
  return out;
}

/** fs.writev, continued after short writes (rare for regular files, but allowed). */
function writevAll(fd: number, views: Uint8Array[], position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (rest: Uint8Array[], at: number): void => {
      if (rest.length === 0) return resolve();
      // IOV_MAX is 1024 on Linux: at most that many buffers per call.
      const batch = rest.slice(0, 1024);
      fs.writev(fd, batch as NodeJS.ArrayBufferView[], at, (e, n) => {
        if (e) return reject(new StorageError('io', `write failed: ${e.message}`, { cause: e }));
        if (n === 0) return reject(new StorageError('io', 'write wrote nothing'));
        step(afterTransfer(rest, n), at + n);
      });
    };
    step(views.filter((v) => v.length > 0), position);
  });
}

/** What is left of a vector of buffers after a readv/writev moved its first `n` bytes. */
function afterTransfer(views: readonly Uint8Array[], n: number): Uint8Array[] {
  let left = n;
  const next: Uint8Array[] = [];
  for (const v of views) {
    if (left >= v.length) left -= v.length;
    else {
      next.push(left > 0 ? v.subarray(left) : v);
      left = 0;
    }
  }
  return next;
}

function writeAll(fd: number, data: Uint8Array, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      if (done === data.length) return resolve();
      fs.write(fd, data, done, data.length - done, position + done, (e, n) => {
        if (e) return reject(new StorageError('io', `write failed: ${e.message}`, { cause: e }));
        if (n === 0) return reject(new StorageError('io', 'write wrote nothing'));
        step(done + n);
      });
    };
    step(0);
  });
}

/** fs.readv, continued after short reads; resolves to the bytes read (fewer at the end of the file). */
function readvAll(fd: number, views: Uint8Array[], position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let done = 0;
    const step = (rest: Uint8Array[], at: number): void => {
      if (rest.length === 0) return resolve(done);
      // IOV_MAX is 1024 on Linux: at most that many buffers per call.
      fs.readv(fd, rest.slice(0, 1024) as NodeJS.ArrayBufferView[], at, (e, n) => {
        if (e) return reject(new StorageError('io', `read failed: ${e.message}`, { cause: e }));
        if (n === 0) return resolve(done);
        done += n;
        step(afterTransfer(rest, n), at + n);
      });
    };
    step(views.filter((v) => v.length > 0), position);
  });
}

function readAll(fd: number, into: Uint8Array, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      if (done === into.length) return resolve(done);
      fs.read(fd, into, done, into.length - done, position + done, (e, n) => {
        if (e) return reject(new StorageError('io', `read failed: ${e.message}`, { cause: e }));
        if (n === 0) return resolve(done);
        step(done + n);
      });
    };
    step(0);
  });
}

/** The signature of lib/metainfo/safe-path.ts safeFilePath: any torrent path -> a path strictly below outDir. */
export type SafePathFn = (outDir: string, components: readonly string[]) => { path: string; diagnostics?: readonly unknown[] };

/**
 * The storage layout of a torrent below `outDir`: every non-pad file's path goes
 * through `safePath` (never joined by hand), symlink entries (BEP 47 attr `l`)
 * are not created.
 */
export function torrentStorageFiles(
  files: readonly { path: readonly string[]; offset: number; length: number; pad: boolean; attr?: string }[],
  outDir: string,
  safePath: SafePathFn,
): StorageFile[] {
  const root = path.resolve(outDir);
  return files.map((f) => {
    const skip = f.pad || (f.attr ?? '').includes('l');
    return {
      path: skip ? '' : path.resolve(root, safePath(root, f.path).path),
      offset: f.offset,
      length: f.length,
      pad: skip,
    };
  });
}
