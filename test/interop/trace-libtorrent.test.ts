import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, stat, copyFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { havePeers } from '../helpers/peers.js';
import { btscopeLines, btscopeSummary, ltDownload, makeTorrent, startCapture, startLtSeed, stopChild, tsharkCounts } from './trace-util.js';

const CAPTURES = new URL('../../captures/', import.meta.url).pathname;
/** Set BTSCOPE_UPDATE_CAPTURES=1 to refresh the committed fixtures from these runs. */
const UPDATE = process.env['BTSCOPE_UPDATE_CAPTURES'] === '1';

describe.skipIf(!havePeers('libtorrent', 'tcpdump', 'tshark', 'mktorrent'))('trace: libtorrent to libtorrent, captured with tcpdump, counted against tshark', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'btscope-trace-lt-'));
  });
  afterAll(async () => {
    for (const c of children) await stopChild(c);
    await rm(dir, { recursive: true, force: true });
  });

  it('over TCP: every message type count equals tshark; piece bytes equal the file', async () => {
    const size = 1 << 20;
    const t = await makeTorrent(join(dir, 'tcp'), 'tcp.bin', size, 16);
    const seed = await startLtSeed(t.torrent, t.dataDir);
    children.push(seed.proc);
    const pcap = join(dir, 'lt-tcp.pcap');
    const cap = await startCapture(pcap, [seed.port]);
    await ltDownload(t.torrent, join(dir, 'tcp-dl'), `127.0.0.1:${seed.port}`);
    const capture = await cap.stop();
    await stopChild(seed.proc);
    expect(capture.droppedByKernel, 'tcpdump lost packets: the comparison would be meaningless').toBe(0);
    const ours = await btscopeSummary(pcap);
    const theirs = await tsharkCounts(pcap, [`tcp.port==${seed.port},bittorrent`]);
    expect(ours.messages).toEqual(theirs);
    expect(ours.messages['handshake']).toBe(2);
    expect(ours.messages['piece']).toBe(size / 16384);
    const peer = ours.streamList.find((s) => s['label'] === 'peer wire')!;
    expect(peer).toBeDefined();
    if (UPDATE && (await stat(pcap)).size < 200_000) await copyFile(pcap, join(CAPTURES, 'libtorrent-tcp.pcap'));
  });

  it('over uTP: the reassembled stream decodes, counts equal tshark (bt-utp decode-as)', async () => {
    const size = 128 * 1024;
    const t = await makeTorrent(join(dir, 'utp'), 'utp.bin', size, 15);
    const seed = await startLtSeed(t.torrent, t.dataDir, { utp: true });
    children.push(seed.proc);
    const pcap = join(dir, 'lt-utp.pcap');
    const cap = await startCapture(pcap, [seed.port]);
    await ltDownload(t.torrent, join(dir, 'utp-dl'), `127.0.0.1:${seed.port}`, { utp: true, timeoutS: 50 });
    await cap.stop();
    await stopChild(seed.proc);
    const ours = await btscopeSummary(pcap);
    const theirs = await tsharkCounts(pcap, [`udp.port==${seed.port},bt-utp`]);
    expect(ours.messages).toEqual(theirs);
    expect(ours.messages['piece']).toBe(size / 16384);
    expect(ours.streamList.some((s) => s['transport'] === 'utp' && s['label'] === 'peer wire')).toBe(true);
    if (UPDATE && (await stat(pcap)).size < 200_000) await copyFile(pcap, join(CAPTURES, 'libtorrent-utp.pcap'));
  });

  it('a magnet link: the ut_metadata exchange is named from the extended handshakes', async () => {
    const t = await makeTorrent(join(dir, 'mag'), 'mag.bin', 64 * 1024, 15);
    const seed = await startLtSeed(t.torrent, t.dataDir);
    children.push(seed.proc);
    const { parseTorrent } = await import('../../lib/metainfo/parse.js');
    const { toHex } = await import('../../lib/core/bytes.js');
    const info = parseTorrent(new Uint8Array(await readFile(t.torrent)));
    const pcap = join(dir, 'lt-magnet.pcap');
    const cap = await startCapture(pcap, [seed.port]);
    await ltDownload(`magnet:?xt=urn:btih:${toHex(info.infoHash!)}`, join(dir, 'mag-dl'), `127.0.0.1:${seed.port}`);
    await cap.stop();
    await stopChild(seed.proc);
    const ours = await btscopeSummary(pcap);
    expect(ours.messages).toEqual(await tsharkCounts(pcap, [`tcp.port==${seed.port},bittorrent`]));
    const lines = await btscopeLines(pcap, { type: ['extended'] });
    expect(lines.some((l) => /extended ut_metadata request piece=0/.test(l))).toBe(true);
    expect(lines.some((l) => new RegExp(`extended ut_metadata data piece=0 total_size=${info.info.length}`).test(l))).toBe(true);
    if (UPDATE && (await stat(pcap)).size < 200_000) await copyFile(pcap, join(CAPTURES, 'libtorrent-magnet.pcap'));
  });
});

describe.skipIf(!havePeers('tshark'))('committed capture fixtures (captures/): counts equal tshark, nothing undecoded', () => {
  const fixtures: Array<[string, (port: number) => string[]]> = [
    ['libtorrent-magnet.pcap', (p) => [`tcp.port==${p},bittorrent`]],
    ['libtorrent-utp.pcap', (p) => [`udp.port==${p},bt-utp`]],
  ];
  it.each(fixtures.filter(([f]) => existsSync(join(CAPTURES, f))))('%s', async (name, decodeAs) => {
    const file = join(CAPTURES, name);
    const s = await btscopeSummary(file);
    expect(s.messages['handshake']).toBe(2);
    const stream = s.streamList.find((x) => x['label'] === 'peer wire')!;
    const port = Number(String(stream['b']).split(':').pop());
    expect(s.messages).toEqual(await tsharkCounts(file, decodeAs(port)));
    for (const x of s.streamList) expect((x['out'] as { undecodedBytes: number }).undecodedBytes + (x['in'] as { undecodedBytes: number }).undecodedBytes).toBe(0);
  });
});
