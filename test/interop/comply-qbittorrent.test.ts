import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCompliance } from '../../lib/compliance/runner.js';
import { havePeers } from '../helpers/peers.js';
import { stopChild } from '../helpers/child.js';
import { freePort, waitForTcp } from './tracker-util.js';
import { COMPLY_TORRENT as T, expectCore, result, summary } from './comply-util.js';

/**
 * The checker against qbittorrent-nox 4.5.2 (libtorrent-rasterbar 2.0)
 * seeding on loopback, headless: its own profile dir with the legal notice
 * accepted, peer port and WebUI bound to 127.0.0.1, DHT/LSD/PeX/uTP/UPnP and
 * encryption off, the torrent given on the command line with --save-path; the
 * WebUI API (no auth from localhost) says when it is seeding.
 */
describe.skipIf(!havePeers('qbittorrent-nox'))('comply vs qbittorrent-nox 4.5', () => {
  let dir: string;
  let proc: ChildProcess | undefined;
  let port: number;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'btscope-comply-qb-'));
    const torrentPath = path.join(dir, 't.torrent');
    await writeFile(torrentPath, T.torrentFile);
    await writeFile(path.join(dir, 'comply-test.bin'), T.data);
    port = await freePort();
    const webui = await freePort();
    const cfg = path.join(dir, 'profile', 'qBittorrent', 'config');
    await mkdir(cfg, { recursive: true });
    const conf = [
      '[LegalNotice]',
      'Accepted=true',
      '[BitTorrent]',
      `Session\\Port=${port}`,
      'Session\\Interface=lo',
      'Session\\InterfaceAddress=127.0.0.1',
      'Session\\DHTEnabled=false',
      'Session\\LSDEnabled=false',
      'Session\\PeXEnabled=false',
      'Session\\Encryption=0',
      'Session\\uTPEnabled=false',
      `Session\\DefaultSavePath=${dir}`,
      '[Preferences]',
      `WebUI\\Port=${webui}`,
      'WebUI\\Address=127.0.0.1',
      'WebUI\\LocalHostAuth=false',
      'WebUI\\UPnP=false',
      'Connection\\UPnP=false',
    ];
    await writeFile(path.join(cfg, 'qBittorrent.conf'), conf.join('\n') + '\n');
    proc = spawn('qbittorrent-nox', [`--profile=${path.join(dir, 'profile')}`, `--save-path=${dir}`, torrentPath], { stdio: 'ignore' });
    await waitForTcp(webui, 20_000);
    await waitForTcp(port, 10_000);
    for (let i = 0; ; i++) {
      const info = await fetch(`http://127.0.0.1:${webui}/api/v2/torrents/info`, { signal: AbortSignal.timeout(3000) })
        .then((r) => r.json() as Promise<Array<{ state: string; progress: number }>>)
        .catch(() => []);
      if (info[0] && info[0].progress === 1 && /^(stalledUP|uploading|forcedUP)$/.test(info[0].state)) break;
      if (i >= 100) throw new Error(`qbittorrent-nox not seeding after 20 s: ${JSON.stringify(info[0] ?? null)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // Seen here: for a second or two after the API says seeding, it closes connections before its handshake.
    for (let i = 0; ; i++) {
      const r = await runCompliance(T.target, { host: '127.0.0.1', port, settleMs: 100, answerMs: 2000, timeoutMs: 3000, only: ['handshake.info_hash'] });
      if (result(r.checks, 'handshake.info_hash') === 'pass') break;
      if (i >= 30) throw new Error('qbittorrent-nox never answered a handshake');
      await new Promise((res) => setTimeout(res, 300));
    }
  }, 50_000);
  afterAll(async () => {
    await stopChild(proc);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('qbittorrent-nox seeding', async () => {
    const r = await runCompliance(T.target, { host: '127.0.0.1', port, settleMs: 1500, answerMs: 4000, timeoutMs: 45_000 });
    process.stderr.write(summary('qbittorrent-nox 4.5.2', r));
    expectCore(r.checks);
    // libtorrent underneath: cancelled blocks queued behind 12 MiB are rejected (BEP 6), not sent.
    expect(result(r.checks, 'requests.cancel')).toBe('pass');
  }, 55_000);
});
