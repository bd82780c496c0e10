import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { stopChild } from '../helpers/child.js';
import { havePeers, LIBTORRENT_PYTHON } from '../helpers/peers.js';
import { makeTestTorrent } from '../helpers/broken-peer.js';

/**
 * libtorrent 2.0 as the receiver of btscope's ut_pex (BEP 11): a libtorrent
 * leecher is given only btscope seeder S; another btscope seeder P is
 * connected to S. libtorrent can only reach P through what S tells it, and
 * says so: the peer_info of its connection to P has the pex source bit.
 */
const T = makeTestTorrent(4 * 1024 * 1024 + 99, 256 * 1024);
const LT_PEX_WATCH = path.resolve('test/helpers/lt_pex_watch.py');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'btscope-pex-lt-'));
  await mkdir(path.join(dir, 'seed'));
  await mkdir(path.join(dir, 'lt'));
  await writeFile(path.join(dir, 'seed', 'comply-test.bin'), T.data);
  await writeFile(path.join(dir, 't.torrent'), T.torrentFile);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface WatchResult {
  code: number | null;
  lines: string[];
  stderr: string;
}

/** Run lt_pex_watch.py against S (bounded by its --timeout and ours). */
function watch(port: number, seconds: number): Promise<WatchResult> {
  const p = spawn(LIBTORRENT_PYTHON, [LT_PEX_WATCH, path.join(dir, 't.torrent'), path.join(dir, 'lt'), `127.0.0.1:${port}`, '--timeout', String(seconds)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let stderr = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  return new Promise((resolve) => {
    const guard = setTimeout(() => void stopChild(p), (seconds + 10) * 1000);
    p.on('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, lines: out.split('\n').filter(Boolean), stderr });
    });
  });
}

describe.skipIf(!havePeers('libtorrent'))('ut_pex from btscope seed to libtorrent', () => {
  it('libtorrent, given only S, connects to P, which it learned through PEX', async () => {
    const torrent = parseTorrent(T.torrentFile);
    const seeders: RunningSeeder[] = [];
    try {
      const s = await startSeeder({ torrent, dir: path.join(dir, 'seed'), skipCheck: true });
      seeders.push(s);
      const p = await startSeeder({ torrent, dir: path.join(dir, 'seed'), skipCheck: true, connectTo: [{ host: '127.0.0.1', port: s.port }] });
      seeders.push(p);
      const deadline = Date.now() + 5000;
      while (![...s.swarm.peers].some((q) => q.session.remoteExtended)) {
        if (Date.now() > deadline) throw new Error('P did not connect to S in 5 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      const r = await watch(s.port, 20);
      process.stderr.write(`lt_pex_watch: exit ${r.code}\n${r.lines.join('\n')}\n${r.stderr}`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.lines).toContain(`pex 127.0.0.1:${p.port}`);
      // libtorrent's peer_info source bits: tracker 0x1, dht 0x2, pex 0x4 (as the binding reports it).
      const PEX_SOURCE = Number(/pexbit (\d+)/.exec(r.lines[0] ?? '')?.[1]);
      expect(PEX_SOURCE).toBe(0x4);
      const line = r.lines.find((l) => l.startsWith(`peer 127.0.0.1:${p.port} `))!;
      expect(Number(/source=(\d+)/.exec(line)![1]) & PEX_SOURCE).toBe(PEX_SOURCE);
      // S itself came from our connect_peer call, not from PEX.
      const sLine = r.lines.find((l) => l.startsWith(`peer 127.0.0.1:${s.port} `))!;
      expect(Number(/source=(\d+)/.exec(sLine)![1]) & PEX_SOURCE).toBe(0);
      // P had two connections: the one it dialled to S, and libtorrent's, which only PEX could have sent its way.
      expect(p.peersServed()).toBe(2);
    } finally {
      for (const x of seeders.reverse()) await x.close();
    }
  }, 45_000);
});
