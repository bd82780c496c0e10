import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handler } from '../../tools/commands/trace.js';
import { captureIo } from '../../tools/io.js';
import { describeError } from '../../tools/errors.js';
import { EXIT } from '../../tools/exit-codes.js';
import { encode } from '../../lib/bencode/encode.js';
import { encodeHandshake } from '../../lib/wire/handshake.js';
import { encodeMessage } from '../../lib/wire/messages.js';
import { Conversation, concatBytes } from './conv.js';

const HASH = new Uint8Array(20).fill(0xaa);
let dir: string;
let pcap: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'btscope-trace-tool-'));
  const conv = new Conversation().handshake();
  conv.send('a', encodeHandshake({ infoHash: HASH, peerId: new TextEncoder().encode('-qB4520-xxxxxxxxxxxx') }));
  conv.send('b', concatBytes(encodeHandshake({ infoHash: HASH, peerId: new TextEncoder().encode('-lt0D80-xxxxxxxxxxxx') }), encodeMessage({ type: 'unchoke' })));
  conv.send('a', encodeMessage({ type: 'request', index: 0, begin: 0, length: 16384 }));
  conv.send('b', concatBytes(encodeMessage({ type: 'piece', index: 0, begin: 0, block: new Uint8Array(16384).fill(7) }), encodeMessage({ type: 'piece', index: 0, begin: 16384, block: new Uint8Array(16384).fill(7) })), [9000]);
  const other = new Conversation({ ip: '10.0.0.3', port: 41000 }, { ip: '10.0.0.4', port: 6882 }).handshake();
  other.time = conv.time;
  other.send('a', encodeHandshake({ infoHash: HASH, peerId: new TextEncoder().encode('-TR3000-xxxxxxxxxxxx') }));
  pcap = join(dir, 'two-streams.pcap');
  const { pcapFile } = await import('../capture/build.js');
  await writeFile(pcap, pcapFile(1, [...conv.records, ...other.records]));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(args: Record<string, unknown>): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await handler({ capture: pcap, json: false, frames: false, summary: false, io, ...args } as never);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

describe('btscope trace (handler called directly)', () => {
  it('one line per message: time, stream, endpoints, message and key fields', async () => {
    const { code, out } = await run({});
    expect(code).toBe(EXIT.ok);
    const lines = out.split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[0]).toMatch(/^ +0\.000000  #1 10\.0\.0\.1:40000 → 10\.0\.0\.2:6881  handshake info_hash=a{40} peer_id=-qB4520-x+ \(qBittorrent 4\.5\.2\.0\)$/);
    expect(lines).toContainEqual(expect.stringMatching(/#1 10\.0\.0\.2:6881 → 10\.0\.0\.1:40000  piece index=0 begin=16384 len=16384$/));
    expect(lines[6]).toMatch(/#2 10\.0\.0\.3:41000 → 10\.0\.0\.4:6882  handshake .*Transmission 3\.00/);
  });

  it('--stream, --type and --peer filter', async () => {
    expect((await run({ stream: 2 })).out.split('\n')).toHaveLength(1);
    expect((await run({ type: ['piece'] })).out.split('\n')).toHaveLength(2);
    expect((await run({ type: ['handshake,unchoke'] })).out.split('\n')).toHaveLength(4);
    expect((await run({ peer: '10.0.0.4' })).out.split('\n')).toHaveLength(1);
    expect((await run({ peer: '10.0.0.2:6881' })).out.split('\n')).toHaveLength(6);
  });

  it('--json: one object per message per line', async () => {
    const { out } = await run({ json: true, type: ['piece'] });
    const objs = out.split('\n').map((l) => JSON.parse(l));
    expect(objs.map((o) => [o.stream, o.direction, o.type, o.fields])).toEqual([
      [1, 'in', 'piece', { index: 0, begin: 0, length: 16384 }],
      [1, 'in', 'piece', { index: 0, begin: 16384, length: 16384 }],
    ]);
    expect(objs[1].offset).toBe(objs[0].end);
  });

  it('--frames: hex-annotated, stream-relative spans, naming the packets', async () => {
    const { out } = await run({ frames: true, type: ['request'] });
    expect(out).toContain('── request  stream=1');
    expect(out).toMatch(/packets=\d+/);
    expect(out).toMatch(/00000044: 00 00 00 0d +\.\.\.\. +length prefix = 13/);
  });

  it('--summary --json: streams and message counts by type', async () => {
    const { out } = await run({ summary: true, json: true });
    const j = JSON.parse(out);
    expect(j.streams).toBe(2);
    expect(j.messages).toEqual({ handshake: 3, unchoke: 1, request: 1, piece: 2 });
  });

  it('--summary: tables of streams, clients and counts', async () => {
    const { out } = await run({ summary: true });
    expect(out).toMatch(/pcap capture: \d+ packets over [\d.]+ s, 2 streams/);
    expect(out).toContain('qBittorrent 4.5.2.0');
    expect(out).toMatch(/│ piece +│ 2 +│/);
  });

  it('--extract: pieces rebuilt, checked against the torrent, written; a wrong hash exits 1', async () => {
    const piece = new Uint8Array(32768).fill(7);
    const good = createHash('sha1').update(piece).digest();
    const torrent = (hashes: Buffer[]) => encode({ info: { length: 65536, name: 'x.bin', 'piece length': 32768, pieces: Buffer.concat(hashes) } });
    await writeFile(join(dir, 'good.torrent'), torrent([good, good]));
    const ok = await run({ extract: join(dir, 'out'), torrent: join(dir, 'good.torrent') });
    expect(ok.code).toBe(EXIT.ok);
    expect(ok.out).toContain('extract: 1 of 2 pieces complete and correct (0)');
    expect((await readFile(join(dir, 'out', 'x.bin'))).subarray(0, 32768)).toEqual(Buffer.from(piece));
    await writeFile(join(dir, 'bad.torrent'), torrent([Buffer.alloc(20), good]));
    const bad = await run({ extract: join(dir, 'out2'), torrent: join(dir, 'bad.torrent') });
    expect(bad.code).toBe(EXIT.failure);
    expect(bad.out).toContain('1 piece complete but WRONG hash: 0');
  });

  it('not a capture: a DecodeError at byte 0 (exit 3); a missing file is usage (exit 2)', async () => {
    await writeFile(join(dir, 'x.txt'), 'hello world');
    const e1 = await run({ capture: join(dir, 'x.txt') }).catch((e) => e);
    expect(describeError(e1)).toMatchObject({ exitCode: EXIT.badInput });
    expect(describeError(e1).message).toContain('at byte 0, bad_magic');
    const e2 = await run({ capture: join(dir, 'nope.pcap') }).catch((e) => e);
    expect(describeError(e2).exitCode).toBe(EXIT.usage);
  });
});
