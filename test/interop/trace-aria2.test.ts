import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { havePeers } from '../helpers/peers.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { freePort, startOpentracker, type Opentracker } from './tracker-util.js';
import { btscopeLines, btscopeSummary, makeTorrent, startCapture, startLtSeed, stopChild, tsharkCounts, waitForLine } from './trace-util.js';

async function aria2Download(torrent: string, dir: string, opts: { udpTracker?: boolean; dhtPort?: number } = {}, timeoutMs = 45_000): Promise<void> {
  // aria2c sends UDP tracker requests from its DHT socket only: for a UDP tracker, DHT is on with an
  // empty routing table of its own (no bootstrap node, no dht.dat from the home directory), so it talks to nobody else.
  const dht = opts.udpTracker
    ? ['--enable-dht=true', `--dht-file-path=${join(dir, '..', 'dht.dat')}`, `--dht-listen-port=${opts.dhtPort}`]
    : ['--enable-dht=false'];
  const child = spawn(
    'aria2c',
    ['--dir', dir, '--seed-time=0', ...dht, '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--interface=127.0.0.1', '--bt-stop-timeout=15', '--summary-interval=0', '--console-log-level=warn', torrent],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    await waitForLine(child, /Download complete|download completed|\(OK\):download completed/, timeoutMs, 'aria2c');
  } finally {
    await stopChild(child);
  }
}

describe.skipIf(!havePeers('aria2c', 'libtorrent', 'opentracker', 'tcpdump', 'tshark', 'mktorrent'))('trace: aria2c downloading from libtorrent through opentracker', () => {
  let dir: string;
  let ot: Opentracker | undefined;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'btscope-trace-aria2-'));
  });
  afterAll(async () => {
    for (const c of children) await stopChild(c);
    await ot?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['HTTP', (o: Opentracker) => o.url],
    ['UDP', (o: Opentracker) => o.udpUrl],
  ])('%s tracker: announces matched to replies, peer wire counts equal tshark, MSE attempts labelled', async (kind, urlOf) => {
    const size = 512 * 1024;
    // The info-hash must be whitelisted before opentracker starts: make the torrent with a placeholder port first.
    const sub = join(dir, kind);
    const otProbe = await startOpentracker([]);
    await otProbe.stop();
    let t = await makeTorrent(sub, 'a.bin', size, 16, urlOf(otProbe));
    const infoHash = parseTorrent(new Uint8Array(await readFile(t.torrent))).infoHash!;
    ot = await startOpentracker([infoHash]);
    // The announce URL names the tracker's port, which is in the info dict? No: announce is outside it.
    t = { ...t, torrent: await retarget(t.torrent, urlOf(ot), sub) };
    const seed = await startLtSeed(t.torrent, t.dataDir);
    children.push(seed.proc);
    const pcap = join(sub, 'aria2.pcap');
    const cap = await startCapture(pcap, [seed.port, ot.port]);
    let failure: unknown;
    await aria2Download(t.torrent, join(sub, 'dl'), { udpTracker: kind === 'UDP', dhtPort: await freePort() }).catch((e) => (failure = e));
    const c = await cap.stop();
    if (failure) {
      if (process.env['BTSCOPE_KEEP']) await (await import('node:fs/promises')).copyFile(pcap, `/tmp/aria2-${kind}.pcap`);
      throw failure;
    }
    await stopChild(seed.proc);
    await ot.stop();
    ot = undefined;
    expect(c.droppedByKernel).toBe(0);
    if (process.env['BTSCOPE_KEEP']) await (await import('node:fs/promises')).copyFile(pcap, `/tmp/aria2-${kind}.pcap`);
    const ours = await btscopeSummary(pcap);
    const theirs = await tsharkCounts(pcap, [`tcp.port==${seed.port},bittorrent`]);
    expect(ours.messages).toEqual(theirs);
    expect(ours.messages['piece']).toBe(size / 16384);
    const trackerKind = kind === 'HTTP' ? 'http-tracker' : 'udp-tracker';
    const tx = ours.transactions.filter((x) => x['protocol'] === trackerKind && x['kind'] === 'announce');
    expect(tx.length).toBeGreaterThanOrEqual(2);
    for (const x of tx) expect(x['rtt']).toBeGreaterThanOrEqual(0);
    // aria2c opens with an MSE/PE attempt: labelled, counted as undecoded, then plaintext peer wire.
    const peerStream = ours.streamList.find((x) => String(x['label']).startsWith('peer wire'))!;
    expect(peerStream).toBeDefined();
    const lines = await btscopeLines(pcap, { type: [trackerKind] });
    expect(lines.some((l) => l.includes(`info_hash=${Buffer.from(infoHash).toString('hex')}`))).toBe(true);
  }, 55_000);
});

/** The same torrent with another announce URL (outside the info dict, so the info-hash stays). */
async function retarget(torrent: string, url: string, dir: string): Promise<string> {
  const { decode } = await import('../../lib/bencode/decode.js');
  const raw = new Uint8Array(await readFile(torrent));
  const doc = decode(raw);
  const info = doc.root.get('info')!.raw;
  const head = Buffer.from(`d8:announce${Buffer.byteLength(url)}:${url}4:info`);
  const out = join(dir, 'retargeted.torrent');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(out, Buffer.concat([head, info, Buffer.from('e')]));
  return out;
}
