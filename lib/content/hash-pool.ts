import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { HashJob } from '../metainfo/create.js';
import { runJob, type JobMessage, type JobResult, type ReadProblem } from './read-job.js';

/**
 * Hash jobs in parallel: one worker thread per core (each reads its own job with
 * large positioned reads, then hashes it), two jobs queued per worker so none
 * waits on the main thread. Memory is bounded by threads × job size.
 */
export interface HashPoolOptions {
  /** Worker threads; 0 hashes in this thread. Default: one per core. */
  readonly threads?: number;
  /** Bytes of the stream hashed so far, after each job. */
  readonly onProgress?: (bytesDone: number) => void;
}

export interface PoolResult {
  /** One per job, in job order. */
  readonly results: JobResult[];
  readonly problems: ReadProblem[];
  /** Threads actually used (0: in this thread). */
  readonly threads: number;
}

export function defaultThreads(): number {
  return availableParallelism();
}

/** The compiled worker: beside this module in dist/, or dist/ when this runs from source (tests). */
function workerScript(): string | undefined {
  const beside = fileURLToPath(new URL('./hash-worker.js', import.meta.url));
  if (existsSync(beside)) return beside;
  const built = fileURLToPath(new URL('../../dist/lib/content/hash-worker.js', import.meta.url));
  return existsSync(built) ? built : undefined;
}

export async function hashInPool(jobs: readonly HashJob[], pieceLength: number, pathOf: (file: number) => string, o: HashPoolOptions = {}): Promise<PoolResult> {
  const messages = jobs.map((job, id): JobMessage => {
    const paths: Record<number, string> = {};
    for (const s of job.segments) if (!s.zero) paths[s.file] = pathOf(s.file);
    return { id, job, pieceLength, paths };
  });
  const results: JobResult[] = new Array(jobs.length);
  let done = 0;
  const finished = (r: JobResult): void => {
    results[r.id] = r;
    done += jobs[r.id]!.byteLength;
    o.onProgress?.(done);
  };
  const script = workerScript();
  const threads = Math.min(script ? (o.threads ?? defaultThreads()) : 0, jobs.length);
  if (threads <= 0) {
    for (const m of messages) {
      finished(runJob(m));
      // Let the progress bar and signals in between jobs.
      await new Promise((r) => setImmediate(r));
    }
  } else {
    const workers = Array.from({ length: threads }, () => new Worker(script!));
    try {
      await new Promise<void>((resolve, reject) => {
        let next = 0;
        let outstanding = 0;
        const feed = (w: Worker): void => {
          if (next < messages.length) {
            w.postMessage(messages[next++]);
            outstanding++;
          } else if (outstanding === 0) resolve();
        };
        for (const w of workers) {
          w.on('message', (r: JobResult) => {
            outstanding--;
            finished(r);
            feed(w);
          });
          w.on('error', reject);
          w.on('exit', (code) => code !== 0 && reject(new Error(`hash worker exited with code ${code}`)));
          feed(w);
          feed(w);
        }
      });
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  }
  return { results, problems: results.flatMap((r) => r.problems), threads: Math.max(0, threads) };
}
