import { spawn, type ChildProcess } from 'node:child_process';
import { stopChild } from '../helpers/child.js';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../../lib/core/bytes.js';

/** A port free for both TCP and UDP on 127.0.0.1 right now (opentracker serves both on one number). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free port found in 20 tries');
}

export async function waitForTcp(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < until && i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

export interface Opentracker {
  readonly port: number;
  readonly url: string;
  readonly udpUrl: string;
  stop(): Promise<void>;
}

/**
 * Debian's opentracker on a free loopback port, HTTP and UDP, with a whitelist
 * of the given info-hashes (Debian builds it with one; the path is relative to
 * its chroot `-d`, which must be readable by `nobody`).
 */
export async function startOpentracker(infoHashes: readonly Uint8Array[]): Promise<Opentracker> {
  const dir = await mkdtemp(join(tmpdir(), 'btscope-ot-'));
  await chmod(dir, 0o755);
  await writeFile(join(dir, 'whitelist.txt'), infoHashes.map((h) => toHex(h) + '\n').join(''), { mode: 0o644 });
  await writeFile(join(dir, 'empty.conf'), '', { mode: 0o644 });
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn(
      'opentracker',
      ['-f', join(dir, 'empty.conf'), '-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-d', dir, '-u', 'nobody', '-w', 'whitelist.txt'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    const stop = (): Promise<void> => stopChild(child, 'SIGTERM', 3000);
    try {
      await waitForTcp(port, 5000);
      return {
        port,
        url: `http://127.0.0.1:${port}/announce`,
        udpUrl: `udp://127.0.0.1:${port}/announce`,
        async stop() {
          await stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (e) {
      lastError = new Error(`opentracker did not start on port ${port}: ${(e as Error).message}; stderr: ${stderr}`);
      await stop();
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}
