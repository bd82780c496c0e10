import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LIBTORRENT_PYTHON } from './peers.js';
import { stopChild } from './child.js';

const LT_SEED = fileURLToPath(new URL('./lt_seed.py', import.meta.url));

export interface LtSeed {
  readonly proc: ChildProcess;
  /** The port libtorrent listens on (127.0.0.1). */
  readonly port: number;
  /** SIGTERM, then SIGKILL after 3 s; resolves once it exited. */
  stop(): Promise<void>;
}

/**
 * Start test/helpers/lt_seed.py (libtorrent seeding TORRENT from DIR on
 * 127.0.0.1, a free port, TCP only, plaintext) and resolve once it prints
 * "ready PORT" (bounded: 30 s). It announces to the torrent's trackers.
 */
export function startLtSeed(torrent: string, dir: string, opts: { utp?: boolean; encrypt?: boolean } = {}): Promise<LtSeed> {
  const args = [LT_SEED, torrent, dir, '0', ...(opts.utp ? ['--utp'] : []), ...(opts.encrypt ? ['--encrypt'] : [])];
  const proc = spawn(LIBTORRENT_PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stop = (): Promise<void> => stopChild(proc, 'SIGTERM', 3000);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      void stop();
      reject(new Error(`lt_seed not ready in 30 s: ${err}`));
    }, 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\d+)/.exec(out);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]), stop });
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    proc.on('exit', (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`lt_seed exited ${code}: ${err}`));
    });
  });
}
