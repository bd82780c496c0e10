import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { HashJob } from '../metainfo/create.js';
import { runJob, type JobMessage, type JobResult, type ReadProblem } from './read-job.js';

/**
 * Hash jobs in parallel: one thread per core, this one included (each reads its
 * own job with large positioned reads, then hashes it; a worker costs tens of
 * milliseconds to start, so this thread works too instead of waiting), two jobs
 * queued per worker so none waits on this thread between its own jobs. Memory
 * is bounded by threads × job size.
 */
export interface HashPoolOptions {
  /** Hashing threads, this one included; 0 or 1 hashes in this thread only. Default: one per core. */
  readonly threads?: number;
  /** Bytes of the stream hashed so far, after each job. */
  readonly onProgress?: (bytesDone: number) => void;
}

export interface PoolResult {
  /** One per job, in job order. */
  readonly results: JobResult[];
  readonly problems: ReadProblem[];
  /** Threads that hashed, this one included. */
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
  // Workers only when there is more than a job or two for them: below that, starting one costs more than it saves.
  const workerCount = script ? Math.max(0, Math.min((o.threads ?? defaultThreads()) - 1, jobs.length - 1)) : 0;
  const workers = Array.from({ length: workerCount }, () => new Worker(script!));
  let next = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let outstanding = 0;
      let mainBusy = true;
      const maybeDone = (): void => {
        if (next >= messages.length && outstanding === 0 && !mainBusy) resolve();
      };
      const feed = (w: Worker): void => {
        if (next < messages.length) {
          w.postMessage(messages[next++]);
          outstanding++;
        }
      };
      for (const w of workers) {
        w.on('message', (r: JobResult) => {
          outstanding--;
          finished(r);
          feed(w);
          maybeDone();
        });
        w.on('error', reject);
        w.on('exit', (code) => code !== 0 && reject(new Error(`hash worker exited with code ${code}`)));
        feed(w);
        feed(w);
      }
      // This thread takes jobs too, yielding between them so worker results and progress are handled.
      const own = async (): Promise<void> => {
        while (next < messages.length) {
          finished(runJob(messages[next++]!));
          await new Promise((r) => setImmediate(r));
        }
        mainBusy = false;
        maybeDone();
      };
      own().catch(reject);
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return { results, problems: results.flatMap((r) => r.problems), threads: workerCount + 1 };
}
