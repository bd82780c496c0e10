import { parentPort } from 'node:worker_threads';
import { runJob, type JobMessage } from './read-job.js';

/** A hashing thread: reads and hashes the jobs it is sent, one at a time, and posts the hashes back. */
parentPort!.on('message', (m: JobMessage) => {
  const r = runJob(m);
  const transfer = [r.sha1?.buffer, r.v2?.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
  parentPort!.postMessage(r, transfer);
});
