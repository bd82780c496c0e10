import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { havePeers } from '../helpers/peers.js';
import { stopChild } from '../helpers/child.js';
import { encode } from '../../lib/bencode/encode.js';
import { toHex } from '../../lib/core/bytes.js';
import { startTracker, type RunningTracker, type AnnounceEventInfo } from '../../lib/tracker/server/index.js';
import { freePort } from './tracker-util.js';

/**
 * Real clients announce to OUR tracker: each seeds a small file from a torrent
 * whose announce URL is our server on loopback, and the server must then list
 * it. Every client is started here and stopped by PID.
 */

interface Seeded {
  dir: string;
  torrent: string;
  infoHash: string;
}

async function seedable(root: string, name: string, announce: string): Promise<Seeded> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  const data = randomBytes(40_000);
  await writeFile(join(dir, `${name}.bin`), data);
  const pieceLength = 16384;
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += pieceLength) pieces.push(createHash('sha1').update(data.subarray(i, i + pieceLength)).digest());
  const info = { length: data.length, name: `${name}.bin`, 'piece length': pieceLength, pieces: Buffer.concat(pieces) };
  const torrent = join(root, `${name}.torrent`);
  await writeFile(torrent, encode({ announce, info }));
  return { dir, torrent, infoHash: createHash('sha1').update(encode(info)).digest('hex') };
}

const children: ChildProcess[] = [];
function start(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.resume();
  children.push(child);
  return child;
}


/** Wait (bounded) until the tracker has seen an announce matching `pred`. */
async function seen(log: AnnounceEventInfo[], pred: (a: AnnounceEventInfo) => boolean, timeoutMs: number): Promise<AnnounceEventInfo> {
  const until = Date.now() + timeoutMs;
  for (let i = 0; i < 1000 && Date.now() < until; i++) {
    const hit = log.find(pred);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no matching announce in ${timeoutMs} ms; saw ${log.map((a) => `${a.protocol} ${toHex(a.infoHash)} ${a.ip}:${a.port} ${a.event}`).join('; ') || 'none'}`);
}

let root: string;
let tracker: RunningTracker;
const log: AnnounceEventInfo[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'btscope-tracker-clients-'));
  tracker = await startTracker({ host: '127.0.0.1', interval: 60, onAnnounce: (a) => log.push(a) });
});
afterAll(async () => {
  await Promise.all(children.map((c) => stopChild(c)));
  await tracker?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe.skipIf(!havePeers('aria2c'))('interop: aria2c announces to our tracker', () => {
  it.each(['http', 'udp'] as const)('over %s: listed as a seeder with its port', async (proto) => {
    const s = await seedable(root, `aria2-${proto}`, proto === 'http' ? tracker.url : tracker.udpUrl);
    const port = await freePort();
    const child = start('aria2c', [
      '--seed-ratio=0.0',
      '--check-integrity=true',
      // aria2 speaks UDP trackers only through its DHT socket: DHT on, with no entry points and a fresh state file.
      `--enable-dht=${proto === 'udp'}`,
      '--enable-dht6=false',
      `--dht-file-path=${join(s.dir, 'dht.dat')}`,
      `--dht-listen-port=${await freePort()}`,
      '--bt-enable-lpd=false',
      '--enable-peer-exchange=false',
      '--interface=127.0.0.1',
      `--listen-port=${port}`,
      '--console-log-level=warn',
      '--summary-interval=0',
      `--dir=${s.dir}`,
      s.torrent,
    ]);
    try {
      const a = await seen(log, (x) => toHex(x.infoHash) === s.infoHash, 20_000);
      expect(a.protocol).toBe(proto);
      expect(a.ip).toBe('127.0.0.1');
      expect(a.port).toBe(port);
      expect(new TextDecoder().decode(a.peerId.subarray(0, 8))).toMatch(/^A2-1-36-/);
      const swarm = tracker.swarms.get(s.infoHash)!;
      expect(swarm.list()).toEqual([{ ip: '127.0.0.1', port, peerId: a.peerId }]);
      expect([swarm.complete, swarm.incomplete]).toEqual([1, 0]);
    } finally {
      await stopChild(child);
    }
  }, 40_000);
});

describe.skipIf(!havePeers('transmission-cli'))('interop: transmission-cli announces to our tracker', () => {
  it('over http: listed with its port', async () => {
    const s = await seedable(root, 'transmission', tracker.url);
    const port = await freePort();
    const config = join(root, 'transmission-config');
    await mkdir(config, { recursive: true });
    await writeFile(join(config, 'settings.json'), JSON.stringify({ 'dht-enabled': false, 'lpd-enabled': false, 'pex-enabled': false, 'port-forwarding-enabled': false, 'bind-address-ipv4': '127.0.0.1', 'rpc-enabled': false }));
    const child = start('transmission-cli', ['-g', config, '-w', s.dir, '-p', String(port), '-M', s.torrent]);
    try {
      const a = await seen(log, (x) => toHex(x.infoHash) === s.infoHash && x.event === 'started', 30_000);
      expect(a.protocol).toBe('http');
      expect(a.port).toBe(port);
      expect(new TextDecoder().decode(a.peerId.subarray(0, 8))).toMatch(/^-TR300/);
      // Seen here: transmission-cli 3.00 announces `stopped` just before its first `started`; the tracker must end with it listed.
      expect(tracker.swarms.get(s.infoHash)!.list().map((p) => p.port)).toEqual([port]);
    } finally {
      await stopChild(child);
    }
  }, 60_000);
});
