import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCompliance } from '../../lib/compliance/runner.js';
import type { ComplianceReport } from '../../lib/compliance/types.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { startSeeder } from '../../lib/engine/seeder.js';
import { stopChild } from '../helpers/child.js';
import { havePeers, LIBTORRENT_PYTHON } from '../helpers/peers.js';
import { COMPLY_TORRENT, expectCore as expectCoreChecks, summary } from './comply-util.js';

const expectCore = (r: ComplianceReport): void => expectCoreChecks(r.checks);

/**
 * The checker against real clients seeding on loopback. What each passes and
 * fails is printed (the README table comes from these runs); the checks every
 * honest seeder must pass are asserted.
 */
const T = COMPLY_TORRENT;
let dir: string;
let torrentPath: string;
const OPTS = { settleMs: 1500, answerMs: 4000, timeoutMs: 45_000 };

/** btscope seed's failures on the day this test was written: see the comply README section. */
const SEEDER_KNOWN_FAILURES: string[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function listening(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = require_net().createConnection({ host: '127.0.0.1', port }, () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
import * as net from 'node:net';
const require_net = () => net;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-comply-real-'));
  torrentPath = path.join(dir, 't.torrent');
  await writeFile(torrentPath, T.torrentFile);
  await writeFile(path.join(dir, 'comply-test.bin'), T.data);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('comply vs btscope seed', () => {
  it('btscope\'s own seeder', async () => {
    const seeder = await startSeeder({ torrent: parseTorrent(T.torrentFile), dir, host: '127.0.0.1', port: 0 });
    try {
      const r = await runCompliance(T.target, { host: '127.0.0.1', port: seeder.port, ...OPTS });
      process.stderr.write(summary('btscope seed', r));
      expectCore(r);
      // The issue requires the seeder to pass every check. It does not yet (reported to the lead, not fixed
      // here: lib/engine is another engineer's). Pinned exactly, so a fix or a new failure both show up.
      expect(r.checks.filter((c) => c.result === 'fail').map((c) => c.id)).toEqual(SEEDER_KNOWN_FAILURES);
    } finally {
      await seeder.close();
    }
  }, 50_000);
});

describe.skipIf(!havePeers('libtorrent'))('comply vs libtorrent', () => {
  it('libtorrent 2.0 seeding', async () => {
    const p = spawn(LIBTORRENT_PYTHON, [path.resolve('test/helpers/lt_seed.py'), torrentPath, dir, '0'], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('libtorrent not ready in 20 s')), 20_000);
        p.stdout!.on('data', (d: Buffer) => {
          const m = /ready (\d+)/.exec(d.toString());
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
      });
      const r = await runCompliance(T.target, { host: '127.0.0.1', port, ...OPTS });
      process.stderr.write(summary('libtorrent', r));
      expectCore(r);
      // Seen on every run here: the extended handshake before have_all.
      expect(r.checks.find((c) => c.id === 'fast.first_message')!.result).not.toBe('fail');
      // With 12 MiB queued ahead, libtorrent rejects (BEP 6) the blocks we cancel: the old same-write probe called this a fail.
      expect(r.checks.find((c) => c.id === 'requests.cancel')!.result).toBe('pass');
    } finally {
      await stopChild(p);
    }
  }, 55_000);
});

describe.skipIf(!havePeers('aria2c'))('comply vs aria2c', () => {
  it('aria2c seeding', async () => {
    const port = await freePort();
    const p = spawn(
      'aria2c',
      ['--seed-ratio=0.0', '--check-integrity=true', `-d${dir}`, `--listen-port=${port}`, '--enable-dht=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--interface=127.0.0.1', '-q', torrentPath],
      { stdio: 'ignore' },
    );
    try {
      await listening(port, 15_000);
      const r = await runCompliance(T.target, { host: '127.0.0.1', port, ...OPTS });
      process.stderr.write(summary('aria2c', r));
      expectCore(r);
      // aria2c serves a 32 KiB request (BEP 3 limits blocks to 16 KiB): a real finding the checker must keep seeing.
      expect(r.checks.find((c) => c.id === 'requests.oversize')!.result).toBe('fail');
    } finally {
      await stopChild(p);
    }
  }, 55_000);
});
