import { readdirSync, statSync } from 'node:fs';
import * as nodePath from 'node:path';
import { planHashJobs, v2PieceSpans, type HashJob } from '../metainfo/create.js';
import { concatBytes } from '../core/bytes.js';
import { safeFilePath } from '../metainfo/safe-path.js';
import type { Torrent } from '../metainfo/types.js';
import { verifyReport, type FoundState, type VerifyReport } from '../metainfo/verify-report.js';
import { hashInPool } from './hash-pool.js';

/**
 * `btscope verify` without the command line: find each of the torrent's files
 * below `dir` (where a download into `dir` puts them), hash every piece in
 * worker threads and judge it. Reads only: nothing is created, written or
 * truncated.
 */
export interface VerifyOptions {
  readonly threads?: number;
  readonly jobBytes?: number;
  readonly onProgress?: (done: number, total: number) => void;
  /** Extra files listed at most (default 1000). */
  readonly maxExtra?: number;
}

export interface VerifyResult extends VerifyReport {
  /** Files below the torrent's folder that the torrent does not list (multi-file torrents). */
  readonly extra: readonly string[];
  readonly extraMore: number;
  readonly threads: number;
  readonly hashSeconds: number;
}

export async function verifyContent(t: Torrent, dir: string, o: VerifyOptions = {}): Promise<VerifyResult> {
  const paths = t.files.map((f) => (f.pad ? '' : safeFilePath(dir, f.path).path));
  const found: (FoundState | undefined)[] = t.files.map((f, i) => {
    if (f.pad) return undefined;
    try {
      const st = statSync(paths[i]!);
      return st.isFile() ? { state: 'present', length: st.size } : { state: 'not_a_file' };
    } catch {
      return { state: 'missing' };
    }
  });
  const v1 = t.pieces !== null;
  const v2 = t.infoHashV2 !== null;
  // Files not there are read as zeros without trying: their pieces fail.
  const files = t.files.map((f, i) => ({ length: f.length, offset: f.offset, pad: f.pad || found[i]?.state !== 'present' }));
  const jobs = planHashJobs(files, { pieceLength: t.pieceLength, length: t.length, v1, v2: false, jobBytes: o.jobBytes ?? 4 * 1024 * 1024 });
  // v2 spans come from the torrent's own layout (missing files still have their hashes to fail against).
  const v2Jobs = v2 ? withV2Spans(jobs, t) : jobs;
  const t0 = performance.now();
  const pool = await hashInPool(v2Jobs, t.pieceLength, (i) => paths[i]!, {
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
    onProgress: (done) => o.onProgress?.(done, t.length),
  });
  const hashSeconds = (performance.now() - t0) / 1000;
  const report = verifyReport(t, v1 ? concatBytes(pool.results.map((r) => r.sha1!)) : null, v2 ? concatBytes(pool.results.map((r) => r.v2!)) : null, found);
  const { extra, more } = extraFiles(t, dir, paths, o.maxExtra ?? 1000);
  return { ...report, ok: report.ok, extra, extraMore: more, threads: pool.threads, hashSeconds };
}

function withV2Spans(jobs: readonly HashJob[], t: Torrent): HashJob[] {
  const spans = v2PieceSpans(t.files, t.pieceLength, t.pieceCount);
  return jobs.map((j) => ({ ...j, v2: spans.slice(j.firstPiece, j.firstPiece + j.pieceCount) }));
}

/** Files under the torrent's folder that it does not name (a single-file torrent's DIR holds anything: none reported). */
function extraFiles(t: Torrent, dir: string, paths: readonly string[], max: number): { extra: string[]; more: number } {
  const real = t.files.filter((f) => !f.pad);
  if (real.length === 1 && real[0]!.path.length === 1) return { extra: [], more: 0 };
  const top = safeFilePath(dir, [t.name]).path;
  const known = new Set(paths.filter(Boolean));
  const extra: string[] = [];
  let more = 0;
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = nodePath.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!known.has(p)) {
        if (extra.length < max) extra.push(nodePath.relative(dir, p).split(nodePath.sep).join('/'));
        else more++;
      }
    }
  };
  walk(top);
  return { extra: extra.sort(), more };
}
