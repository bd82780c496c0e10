import { closeSync, openSync, readSync } from 'node:fs';
import type { HashJob } from '../metainfo/create.js';
import { hashJobBytes, type JobHashes } from '../metainfo/piece-hash.js';

/**
 * One hash job, start to end: read its segments into one buffer (large reads at
 * the files' own offsets; pads and unreadable bytes as zeros), then hash it.
 * Runs in a worker thread (hash-worker.ts) or, with no workers, in this one.
 */

/** A file that could not be read in full: missing, unreadable, or shorter than the layout says. */
export interface ReadProblem {
  /** Index of the file in the stream (the job's segment.file). */
  readonly file: number;
  /** errno code (ENOENT, EACCES, EISDIR...) or `short_read` (the file ended early: it shrank). */
  readonly code: string;
  /** Offset in the file where reading stopped. */
  readonly at: number;
}

export interface JobMessage {
  readonly id: number;
  readonly job: HashJob;
  readonly pieceLength: number;
  /** Path of each file index the segments name (sparse: only those). */
  readonly paths: Readonly<Record<number, string>>;
}

export interface JobResult extends JobHashes {
  readonly id: number;
  readonly problems: readonly ReadProblem[];
}

let buffer = Buffer.alloc(0);

export function runJob(m: JobMessage): JobResult {
  if (buffer.length < m.job.byteLength) buffer = Buffer.allocUnsafe(m.job.byteLength);
  const data = buffer.subarray(0, m.job.byteLength);
  const problems: ReadProblem[] = [];
  let at = 0;
  let fd = -1;
  let fdFile = -1;
  try {
    for (const s of m.job.segments) {
      const dest = data.subarray(at, at + s.length);
      at += s.length;
      if (s.zero) {
        dest.fill(0);
        continue;
      }
      let got = 0;
      try {
        if (fdFile !== s.file) {
          if (fd >= 0) closeSync(fd);
          fd = -1;
          fdFile = s.file;
          fd = openSync(m.paths[s.file]!, 'r');
        }
        while (got < s.length) {
          const n = readSync(fd, dest, got, s.length - got, s.fileOffset + got);
          if (n === 0) break;
          got += n;
        }
        if (got < s.length) problems.push({ file: s.file, code: 'short_read', at: s.fileOffset + got });
      } catch (e) {
        problems.push({ file: s.file, code: (e as NodeJS.ErrnoException).code ?? 'EIO', at: s.fileOffset + got });
      }
      if (got < s.length) dest.fill(0, got);
    }
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  return { id: m.id, problems, ...hashJobBytes(data, m.job, m.pieceLength) };
}
