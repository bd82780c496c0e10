import { statSync } from 'node:fs';
import { BtscopeError } from '../core/errors.js';
import { autoPieceLength, checkPieceLength, layoutContent, planHashJobs, type ContentLayout, type TorrentKind } from '../metainfo/create.js';
import { buildMetainfo } from '../metainfo/make.js';
import { concatBytes } from '../core/bytes.js';
import { HASH_SIZE } from '../metainfo/merkle.js';
import { v2FileHashes } from '../metainfo/piece-hash.js';
import { hashInPool } from './hash-pool.js';
import type { ReadProblem } from './read-job.js';
import { walkContent, type FoundFile, type WalkOptions, type WalkResult } from './walk.js';

/**
 * `btscope create` without the command line: walk the content, lay it out,
 * hash it in worker threads, check nothing changed meanwhile, encode.
 */
export interface CreateTorrentOptions extends WalkOptions {
  readonly kind: TorrentKind;
  /** Omitted: chosen from the total size as libtorrent does. */
  readonly pieceLength?: number;
  readonly name?: string;
  readonly trackers?: readonly (readonly string[])[];
  readonly webSeeds?: readonly string[];
  readonly private?: boolean;
  readonly source?: string;
  readonly comment?: string;
  readonly createdBy?: string;
  /** Seconds since 1970; omitted = no date (reproducible). */
  readonly creationDate?: number;
  readonly threads?: number;
  /** Write BEP 47 `attr` (x, h) from the file system (default true); pads keep their `p`. */
  readonly attributes?: boolean;
  /** Bytes per hash job (default 4 MiB, at least one piece). */
  readonly jobBytes?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface CreatedTorrent {
  readonly bytes: Uint8Array;
  readonly walk: WalkResult;
  readonly layout: ContentLayout;
  readonly name: string;
  readonly pieceLengthChosen: boolean;
  readonly threads: number;
  /** Seconds spent hashing. */
  readonly hashSeconds: number;
}

export const DEFAULT_JOB_BYTES = 4 * 1024 * 1024;

export async function createTorrent(path: string, o: CreateTorrentOptions): Promise<CreatedTorrent> {
  const walk = walkContent(path, o);
  const name = o.name ?? walk.name;
  const content = walk.files.map((f) => ({ path: walk.single ? [name] : f.path, length: f.length, attr: o.attributes === false ? '' : f.attr }));
  const total = content.reduce((n, f) => n + f.length, 0);
  const pieceLength = o.pieceLength !== undefined ? checkPieceLength(o.pieceLength) : autoPieceLength(total);
  const layout = layoutContent(content, o.kind, pieceLength, walk.single);
  const jobs = planHashJobs(layout.files, { pieceLength, length: layout.length, v1: o.kind !== 'v2', v2: o.kind !== 'v1', jobBytes: o.jobBytes ?? DEFAULT_JOB_BYTES });
  const sourceOf = (i: number): FoundFile => walk.files[layout.files[i]!.source]!;
  const t0 = performance.now();
  const pool = await hashInPool(jobs, pieceLength, (i) => sourceOf(i).abs, {
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
    onProgress: (done) => o.onProgress?.(done, layout.length),
  });
  const hashSeconds = (performance.now() - t0) / 1000;
  if (pool.problems.length > 0) throw readFailure(pool.problems[0]!, layout.files[pool.problems[0]!.file]!.path, pool.problems.length);
  for (const [i, f] of layout.files.entries()) {
    if (f.pad) continue;
    const src = sourceOf(i);
    const st = statSync(src.abs);
    if (st.size !== src.length || st.mtimeMs !== src.mtimeMs) {
      throw new BtscopeError('file_changed', `${f.path.join('/')} changed while it was hashed (${src.length} → ${st.size} bytes${st.mtimeMs !== src.mtimeMs ? ', modified' : ''}): the torrent would not match it; run again once it is still`);
    }
  }
  const pieces = o.kind !== 'v2' ? concatBytes(pool.results.map((r) => r.sha1!)) : undefined;
  let v2Files: Map<number, { piecesRoot: Uint8Array; layer?: Uint8Array }> | undefined;
  if (o.kind !== 'v1') {
    const all = concatBytes(pool.results.map((r) => r.v2!));
    v2Files = new Map();
    layout.files.forEach((f, i) => {
      if (!f.pad && f.length > 0) v2Files!.set(i, v2FileHashes(all.subarray((f.offset / pieceLength) * HASH_SIZE), pieceLength, f.length));
    });
  }
  const trackers = (o.trackers ?? []).filter((t) => t.length > 0);
  const urls = trackers.flat();
  const bytes = buildMetainfo({
    name,
    pieceLength,
    kind: o.kind,
    single: walk.single,
    files: layout.files,
    ...(pieces ? { pieces } : {}),
    ...(v2Files ? { v2Files } : {}),
    ...(urls.length > 0 ? { announce: urls[0]! } : {}),
    ...(urls.length > 1 ? { announceList: trackers } : {}),
    ...(o.webSeeds?.length ? { webSeeds: o.webSeeds } : {}),
    ...(o.private ? { private: true } : {}),
    ...(o.source !== undefined ? { source: o.source } : {}),
    ...(o.comment !== undefined ? { comment: o.comment } : {}),
    ...(o.createdBy !== undefined ? { createdBy: o.createdBy } : {}),
    ...(o.creationDate !== undefined ? { creationDate: o.creationDate } : {}),
  });
  return { bytes, walk, layout, name, pieceLengthChosen: o.pieceLength === undefined, threads: pool.threads, hashSeconds };
}

function readFailure(p: ReadProblem, path: readonly string[], count: number): BtscopeError {
  const where = path.join('/');
  const more = count > 1 ? ` (and ${count - 1} more read failure${count > 2 ? 's' : ''})` : '';
  if (p.code === 'short_read') return new BtscopeError('file_changed', `${where} ended at byte ${p.at} while it was hashed: it shrank${more}`);
  if (p.code === 'EACCES' || p.code === 'EPERM') return new BtscopeError('unreadable', `${where}: cannot read it (${p.code})${more}`);
  if (p.code === 'ENOENT') return new BtscopeError('file_changed', `${where} disappeared while it was hashed${more}`);
  return new BtscopeError('read_failed', `${where}: read failed at byte ${p.at} (${p.code})${more}`);
}
