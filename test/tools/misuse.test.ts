import { createServer, type IncomingMessage, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../lib/bencode/encode.js';
import { toHex } from '../../lib/core/bytes.js';
import { TransportError, UsageError } from '../../lib/core/errors.js';
import { download, prepareOutputFolder, type DownloadProgress } from '../../lib/engine/downloader.js';
import { torrentFromMetadata } from '../../lib/engine/metadata-fetch.js';
import { startSeeder, type RunningSeeder } from '../../lib/engine/seeder.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { makePeerId } from '../../lib/peer/identity.js';
import { encodeHandshake } from '../../lib/wire/handshake.js';
import * as complyTool from '../../tools/commands/comply.js';
import * as downloadTool from '../../tools/commands/download.js';
import * as handshakeTool from '../../tools/commands/handshake.js';
import * as pieceTool from '../../tools/commands/piece.js';
import * as seedTool from '../../tools/commands/seed.js';
import * as traceTool from '../../tools/commands/trace.js';
import * as trackerTool from '../../tools/commands/tracker.js';
import { describeError } from '../../tools/errors.js';
import { EXIT } from '../../tools/exit-codes.js';
import { captureIo } from '../../tools/io.js';
import { pcapFile } from '../capture/build.js';
import { behaviors, hostilePeerPool, startHostilePeer, testTorrent } from '../helpers/hostile-peer.js';
import { Conversation } from '../trace/conv.js';

/**
 * Issue 14, the items of the tools' contract under misuse that are not plain CLI rows
 * (those are in test/cli/contract.test.ts): handlers called directly, against scripted
 * peers, btscope seeders and a recording HTTP tracker, all on 127.0.0.1.
 */
const tmp = mkdtempSync(path.join(tmpdir(), 'btscope-misuse-'));
const t = testTorrent();
const torrentPath = path.join(tmp, 'x.torrent');
const seedDir = path.join(tmp, 'seed');
const torrent = parseTorrent(torrentFromMetadata(t.info));

const pool = hostilePeerPool({ timeoutMs: 3000 });
const seeders: RunningSeeder[] = [];
afterEach(async () => {
  await pool.closeAll();
  await Promise.all(seeders.splice(0).map((s) => s.close()));
});

/** An HTTP tracker that answers every announce with no peers and records what it was asked. */
let trackerServer: Server;
let trackerUrl = '';
const announces: URLSearchParams[] = [];
beforeAll(async () => {
  writeFileSync(torrentPath, torrentFromMetadata(t.info));
  mkdirSync(seedDir);
  writeFileSync(path.join(seedDir, 'test.bin'), t.data);
  trackerServer = createServer((req: IncomingMessage, res) => {
    announces.push(new URL(req.url ?? '/', 'http://x').searchParams);
    res.end(Buffer.from(encode({ interval: 60, peers: new Uint8Array(0) })));
  });
  await new Promise<void>((r) => trackerServer.listen(0, '127.0.0.1', r));
  trackerUrl = `http://127.0.0.1:${(trackerServer.address() as { port: number }).port}/announce`;
});
afterAll(async () => {
  await new Promise((r) => trackerServer.close(r));
  rmSync(tmp, { recursive: true, force: true });
});

async function exitOf(run: Promise<number>): Promise<{ code: number; message: string; error?: unknown }> {
  try {
    return { code: await run, message: '' };
  } catch (e) {
    const d = describeError(e);
    return { code: d.exitCode, message: d.message, error: e };
  }
}

async function btscopeSeeder(): Promise<string> {
  const s = await startSeeder({ torrent, dir: seedDir });
  seeders.push(s);
  return `127.0.0.1:${s.port}`;
}

/** A peer that reads our handshake and hangs up without a byte: what clients do for a torrent they do not have. */
const notServing = async (c: { readHandshake(): Promise<unknown>; close(): void }): Promise<void> => {
  await c.readHandshake();
  c.close();
};

describe('item 2: the output folder is checked before any work, every step bounded', () => {
  it('-o /proc/nope: a usage error at once (Node\'s recursive mkdir spins forever there)', async () => {
    const started = Date.now();
    const e = await prepareOutputFolder('/proc/nope/deeper', 5000).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/^-o \/proc\/nope\/deeper: cannot create/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('missing levels are created one at a time; an existing folder is kept', async () => {
    const deep = path.join(tmp, 'a', 'b', 'c');
    expect(await prepareOutputFolder(deep)).toBe(deep);
    expect(existsSync(deep)).toBe(true);
    expect(await prepareOutputFolder(deep)).toBe(deep);
  });

  it('download -o /proc/nope ends with exit 2 before dialling anyone', async () => {
    const r = await exitOf(downloadTool.handler({ target: torrentPath, o: '/proc/nope', peer: ['127.0.0.1:1'], 'frames-limit': 0, 'max-peers': 1, timeout: 2, 'full-check': false, json: true, io: captureIo() }));
    expect(r.code).toBe(EXIT.usage);
  });
});

describe('item 4: a plain tracker probe cleans up after itself', () => {
  const probe = (extra: Record<string, unknown> = {}) => {
    const io = captureIo();
    const run = trackerTool.handler({ target: toHex(t.infoHash), tracker: [trackerUrl], scrape: false, timeout: 3, json: true, frames: false, 'show-secrets': false, 'show-peers': 50, io, ...extra } as never);
    return { io, run };
  };

  it('announces a port it holds (not 6881), then stopped from the same peer id and port; --json says so', async () => {
    announces.length = 0;
    const { io, run } = probe();
    expect(await run).toBe(EXIT.ok);
    expect(announces.map((a) => a.get('event'))).toEqual([null, 'stopped']);
    const [first, stop] = announces;
    expect(first!.get('port')).not.toBe('6881');
    expect(stop!.get('port')).toBe(first!.get('port'));
    expect(stop!.get('peer_id')).toBe(first!.get('peer_id'));
    // item 7: one peer id, btscope's, everywhere.
    expect(first!.get('peer_id')!.startsWith('-bS0100-')).toBe(true);
    const j = JSON.parse(io.text());
    expect(j).toMatchObject({ ok: true, port: Number(first!.get('port')), results: [{ ok: true, stopped: true }] });
    expect(j.cleanup).toMatch(/stopped sent to 1, answered by 1/);
  });

  it('text output says the probe left no peer behind', async () => {
    const { io, run } = probe({ json: false });
    expect(await run).toBe(EXIT.ok);
    expect(io.text()).toMatch(/sent stopped to it: the probe left no peer behind \(port \d+\)/);
  });

  it('with --event, exactly that announce and nothing else', async () => {
    announces.length = 0;
    const { run } = probe({ event: 'started' });
    expect(await run).toBe(EXIT.ok);
    expect(announces.map((a) => a.get('event'))).toEqual(['started']);
  });
});

describe('item 5: a peer that does not serve the info-hash is named as such', () => {
  it('comply: one setup error (not_serving, exit 4), not a list of failed checks', async () => {
    const peer = await pool.start(notServing);
    const io = captureIo();
    const r = await exitOf(complyTool.handler({ target: torrentPath, peer: `127.0.0.1:${peer.port}`, list: false, json: true, frames: false, timeout: 20, settle: 0.2, answer: 1, io }));
    expect(r.code).toBe(EXIT.network);
    expect((r.error as TransportError).code).toBe('not_serving');
    expect(r.message).toMatch(/most likely does not serve info-hash [0-9a-f]{40}/);
    expect(io.stdout).toEqual([]);
  });

  it('handshake: "closed before sending a handshake" says the likely cause', async () => {
    const peer = await pool.start(notServing);
    const r = await exitOf(handshakeTool.handler({ target: torrentPath, peer: `127.0.0.1:${peer.port}`, json: false, frames: false, timeout: 3, wait: 0.2, io: captureIo() }));
    expect(r.code).toBe(EXIT.network);
    expect(r.message).toMatch(/closed before sending a handshake; the peer likely does not serve this info-hash/);
  });
});

describe('item 6: a protocol violation within the handshake tool\'s window is a "no"', () => {
  it('a 4 GiB length prefix after a good handshake: exit 1, named, and listed under violations', async () => {
    const peer = await pool.start(behaviors.hugeLength());
    const io = captureIo();
    const code = await handshakeTool.handler({ target: torrentPath, peer: `127.0.0.1:${peer.port}`, json: true, frames: false, timeout: 3, wait: 1, io });
    expect(code).toBe(EXIT.failure);
    const j = JSON.parse(io.text());
    expect(j.ok).toBe(false);
    expect(j.violations).toHaveLength(1);
    expect(j.violations[0]).toMatchObject({ offset: 68 });
    expect(j.violations[0].message).toMatch(/length prefix 4294967295/);
    expect(io.stderr.join('\n')).toMatch(/protocol violation by 127\.0\.0\.1:\d+ after the handshake: .*length prefix/);
  });

  it('a peer that behaves: exit 0, no violations', async () => {
    const peer = await pool.start(behaviors.seeder(t.content));
    const io = captureIo();
    expect(await handshakeTool.handler({ target: torrentPath, peer: `127.0.0.1:${peer.port}`, json: true, frames: false, timeout: 3, wait: 0.3, io })).toBe(EXIT.ok);
    expect(JSON.parse(io.text())).toMatchObject({ ok: true, violations: [] });
  });
});

describe('item 7: btscope\'s one peer id is named btscope', () => {
  it('handshake with a btscope seeder', async () => {
    const io = captureIo();
    expect(await handshakeTool.handler({ target: torrentPath, peer: await btscopeSeeder(), json: true, frames: false, timeout: 3, wait: 0.2, io })).toBe(EXIT.ok);
    const j = JSON.parse(io.text());
    expect(j.peerIdText.startsWith('-bS0100-')).toBe(true);
    expect(j.client).toBe('btscope');
  });

  it('comply against a btscope seeder names its client btscope', async () => {
    const io = captureIo();
    await complyTool.handler({ target: torrentPath, peer: await btscopeSeeder(), only: ['handshake'], list: false, json: true, frames: false, timeout: 20, settle: 0.2, answer: 2, io });
    const j = JSON.parse(io.text());
    const details = (j.checks as Array<{ detail: string }>).map((c) => c.detail).join('\n');
    expect(details).toMatch(/-bS0100-.*\(btscope/);
    expect(details).not.toMatch(/BTSlave/);
  });

  it('trace shows a handshake with our peer id as btscope', async () => {
    const conv = new Conversation().handshake();
    conv.send('a', encodeHandshake({ infoHash: t.infoHash, peerId: makePeerId() }));
    const pcap = path.join(tmp, 'ours.pcap');
    writeFileSync(pcap, pcapFile(1, conv.records));
    const io = captureIo();
    expect(await traceTool.handler({ capture: pcap, json: false, frames: false, summary: false, io } as never)).toBe(EXIT.ok);
    expect(io.text()).toMatch(/handshake .*peer_id=-bS0100-.*\(btscope/);
    expect(io.text()).not.toMatch(/BTSlave/);
  });
});

describe('item 8: --json on failure is one document with ok: false', () => {
  it('piece: every peer refused', async () => {
    const gone = await startHostilePeer(behaviors.silence());
    await gone.close();
    const io = captureIo();
    const code = await pieceTool.handler({ target: torrentPath, index: 0, peer: [`127.0.0.1:${gone.port}`], o: path.join(tmp, 'p.bin'), pipeline: 4, json: true, frames: false, timeout: 3, io });
    expect(code).toBe(EXIT.network);
    const j = JSON.parse(io.text());
    expect(j).toMatchObject({ ok: false, exitCode: EXIT.network, hashOk: false });
    expect(j.error).toMatch(/no peer gave piece 0 .*connect_refused/);
    expect(io.stderr).toHaveLength(1);
  });
});

describe('item 13: the smaller ones', () => {
  it('download <40-hex>: a magnet link with no trackers, peers from --peer', async () => {
    const out = path.join(tmp, 'bare-hash');
    const io = captureIo();
    const code = await downloadTool.handler({ target: toHex(t.infoHash), o: out, peer: [await btscopeSeeder()], 'frames-limit': 0, 'max-peers': 2, timeout: 10, 'full-check': false, json: true, io });
    expect(code).toBe(EXIT.ok);
    expect(JSON.parse(io.text())).toMatchObject({ ok: true, infoHash: toHex(t.infoHash), length: t.data.length });
  });

  it('download <40-hex> with no --peer: a usage error naming what is missing', async () => {
    const r = await exitOf(downloadTool.handler({ target: toHex(t.infoHash), o: path.join(tmp, 'nowhere'), peer: [], 'frames-limit': 0, 'max-peers': 2, timeout: 2, 'full-check': false, json: true, io: captureIo() }));
    expect(r.code).toBe(EXIT.usage);
    expect(r.message).toMatch(/give --peer/);
  });

  it('seed with a wrong folder exits 1 without announcing to its tracker', async () => {
    const empty = path.join(tmp, 'empty-seed');
    mkdirSync(empty);
    announces.length = 0;
    const io = captureIo();
    const r = await exitOf(seedTool.handler({ target: torrentPath, dir: empty, port: 0, host: '127.0.0.1', tracker: [trackerUrl], connect: [], 'skip-check': false, 'frames-limit': 0, json: false, io, stop: new Promise(() => undefined) }));
    expect(r.code).toBe(EXIT.failure);
    expect(r.message).toMatch(/none of the 5 pieces is in/);
    expect(announces).toHaveLength(0);
    expect(io.stdout).toEqual([]);
  });

  it('the finished progress line shows the average rate, not 0 B/s', async () => {
    const seen: DownloadProgress[] = [];
    await download({ torrent, outDir: path.join(tmp, 'rate'), peers: [{ host: '127.0.0.1', port: Number((await btscopeSeeder()).split(':')[1]) }], stallTimeoutMs: 10_000, onProgress: (p) => seen.push(p) });
    const last = seen.at(-1)!;
    expect(last.done).toBe(last.total);
    expect(last.rate).toBeGreaterThan(0);
  });
});
