import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { havePeers, LIBTORRENT_PYTHON } from '../helpers/peers.js';
import { freePort } from './tracker-util.js';
import { btscopeSummary, makeTorrent, startCapture, stopChild, tsharkCounts, waitForLine } from './trace-util.js';

const HELPERS = new URL('../helpers/', import.meta.url).pathname;

describe.skipIf(!havePeers('transmission-cli', 'libtorrent', 'tcpdump', 'tshark', 'mktorrent'))('trace: transmission downloading from libtorrent', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'btscope-trace-tr-'));
  });
  afterAll(async () => {
    for (const c of children) await stopChild(c);
    await rm(dir, { recursive: true, force: true });
  });

  it('the seeder dials transmission (it does not dial 127.0.0.1 peers); counts equal tshark', async () => {
    const size = 256 * 1024;
    const t = await makeTorrent(dir, 'tr.bin', size, 15);
    const port = await freePort();
    const config = join(dir, 'tr-config');
    await mkdir(config, { recursive: true });
    // Loopback only: no DHT, LPD, PEX, uTP or port mapping; plaintext preferred.
    await writeFile(
      join(config, 'settings.json'),
      JSON.stringify({ 'dht-enabled': false, 'lpd-enabled': false, 'pex-enabled': false, 'utp-enabled': false, 'port-forwarding-enabled': false, 'bind-address-ipv4': '127.0.0.1', 'bind-address-ipv6': '::1', encryption: 0 }),
    );
    const pcap = join(dir, 'transmission.pcap');
    const cap = await startCapture(pcap, [port]);
    const tr = spawn('transmission-cli', ['-g', config, '-w', join(dir, 'dl'), '-p', String(port), '-et', '-M', '-D', '-U', t.torrent], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(tr);
    await new Promise((r) => setTimeout(r, 1000));
    const seed = spawn(LIBTORRENT_PYTHON, [join(HELPERS, 'lt_seed_to.py'), t.torrent, t.dataDir, `127.0.0.1:${port}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(seed);
    await waitForLine(tr, /Seeding|State changed from "Incomplete" to "Complete"|Progress: 100\.0%/, 50_000, 'transmission-cli');
    const c = await cap.stop();
    await stopChild(seed);
    await stopChild(tr);
    expect(c.droppedByKernel).toBe(0);
    const ours = await btscopeSummary(pcap);
    expect(ours.messages).toEqual(await tsharkCounts(pcap, [`tcp.port==${port},bittorrent`]));
    expect(ours.messages['piece']).toBe(size / 16384);
    const stream = ours.streamList.find((s) => String(s['label']).startsWith('peer wire'))!;
    const clients = [(stream['out'] as { client?: string }).client, (stream['in'] as { client?: string }).client];
    expect(clients.some((x) => x?.startsWith('Transmission'))).toBe(true);
  }, 58_000);
});
