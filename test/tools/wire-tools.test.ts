import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../lib/core/bytes.js';
import { torrentFromMetadata } from '../../lib/engine/metadata-fetch.js';
import { encodeExtendedHandshake } from '../../lib/wire/extended.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import * as handshakeTool from '../../tools/commands/handshake.js';
import * as metadataTool from '../../tools/commands/metadata.js';
import * as pieceTool from '../../tools/commands/piece.js';
import { describeError } from '../../tools/errors.js';
import { EXIT } from '../../tools/exit-codes.js';
import { captureIo } from '../../tools/io.js';
import { behaviors, hostilePeerPool, sha1, startHostilePeer, testTorrent, type ScriptedConnection } from '../helpers/hostile-peer.js';

/**
 * handshake, metadata and piece: handlers called directly (captureIo) and the
 * built CLI (dist/tools/cli.js, run `npx tsc -p .` first), all against the
 * scripted peer of test/helpers/hostile-peer.ts on 127.0.0.1.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(repoRoot, 'dist/tools/cli.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'btscope-wire-tools-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// A torrent made here: 5 pieces of 32 KiB, the last one 1000 bytes.
const { pieceLength, data, pieceHashes, info, infoHash, content } = testTorrent();
const torrentPath = path.join(tmp, 'x.torrent');
const magnet = `magnet:?xt=urn:btih:${toHex(infoHash)}`;
const HOSTILE_PEER_ID = '-HP0001-hostilepeer!';
beforeAll(() => writeFileSync(torrentPath, torrentFromMetadata(info, ['http://127.0.0.1:1/announce'])));

const pool = hostilePeerPool({ timeoutMs: 3000 });
afterEach(() => pool.closeAll());
async function peer(script: (c: ScriptedConnection) => Promise<void>): Promise<string> {
  return `127.0.0.1:${(await pool.start(script)).port}`;
}
/** A loopback port with nothing listening (a peer that was there and left). */
async function refusedPeer(): Promise<string> {
  const p = await startHostilePeer(behaviors.silence());
  await p.close();
  return `127.0.0.1:${p.port}`;
}

/** The exit code the CLI gives for what a handler threw. */
async function exitOf(run: Promise<number>): Promise<{ code: number; message: string }> {
  try {
    return { code: await run, message: '' };
  } catch (e) {
    const d = describeError(e);
    return { code: d.exitCode, message: d.message };
  }
}

const hs = (p: string, extra: Partial<Parameters<typeof handshakeTool.handler>[0]> = {}) =>
  handshakeTool.handler({ target: torrentPath, peer: p, json: true, frames: false, timeout: 3, wait: 0.3, ...extra });

describe('btscope handshake (handler)', () => {
  it('--json: peerId hex, client, reserved hex, extensions, extended dict, first messages', async () => {
    const io = captureIo();
    expect(await hs(await peer(behaviors.seeder(content)), { io })).toBe(EXIT.ok);
    const j = JSON.parse(io.text());
    expect(j).toMatchObject({
      infoHash: toHex(infoHash),
      peerId: Buffer.from(HOSTILE_PEER_ID, 'latin1').toString('hex'),
      peerIdText: HOSTILE_PEER_ID,
      client: 'unknown Azureus-style client "HP"',
      reserved: '0000000000100004',
      extensions: ['extended', 'fast'],
      extended: { m: { ut_metadata: 3 }, v: 'hostile 1.0', metadata_size: info.length },
      closedByPeer: null,
    });
    expect(j.firstMessages).toEqual([{ type: 'have_all' }, { type: 'unchoke' }]);
  });

  it('--json: extended is null when the peer clears the BEP 10 bit; a bitfield is shown as hex', async () => {
    const io = captureIo();
    const p = await peer(async (c) => {
      const h = await c.readHandshake();
      await c.sendHandshake({ infoHash: h!.infoHash, reserved: new Uint8Array(8), peerId: new TextEncoder().encode('M7-1-2--abcdefghijkl') });
      await c.send({ type: 'bitfield', bitfield: Uint8Array.of(0xa8) });
      await c.send({ type: 'have', index: 1 });
      await c.readFrame(); // hold the connection until the client hangs up
    });
    expect(await hs(p, { io })).toBe(EXIT.ok);
    const j = JSON.parse(io.text());
    expect(j).toMatchObject({ client: 'BitTorrent (Mainline)', clientVersion: '7.1.2', reserved: '0000000000000000', extensions: [], extended: null });
    expect(j.firstMessages).toEqual([{ type: 'bitfield', bitfield: 'a8' }, { type: 'have', index: 1 }]);
  });

  it('--json: incoming extended messages are named by the ids WE announced', async () => {
    const io = captureIo();
    const p = await peer(async (c) => {
      const h = await c.readHandshake();
      await c.sendHandshake({ infoHash: h!.infoHash });
      await c.sendExtendedHandshake({ m: { ut_pex: 7 } });
      // btscope announces ut_pex = 1 (LOCAL_EXTENSION_IDS): a peer sends it under 1.
      await c.send({ type: 'extended', extId: 1, payload: new TextEncoder().encode('d5:added0:e') });
      await c.readFrame();
    });
    expect(await hs(p, { io })).toBe(EXIT.ok);
    expect(JSON.parse(io.text()).firstMessages).toEqual([{ type: 'extended', extId: 1, name: 'ut_pex', length: 11 }]);
  });

  it('text: reserved bits by name with their BEP, client, extended keys', async () => {
    const io = captureIo();
    expect(await hs(await peer(behaviors.seeder(content)), { io, json: false })).toBe(EXIT.ok);
    const text = io.text();
    expect(text).toMatch(/^reserved +0000000000100004 +extended \(BEP 10\), fast \(BEP 6\)$/m);
    expect(text).toMatch(/^peer id +"-HP0001-hostilepeer!" +unknown Azureus-style client "HP"/m);
    expect(text).toMatch(/^ +m +ut_metadata=3$/m);
    expect(text).toMatch(new RegExp(`^ +metadata_size +${info.length}$`, 'm'));
    expect(text).toMatch(/^first messages +have_all, unchoke$/m);
  });

  it('--frames: every frame both ways as hex rows at absolute stream offsets', async () => {
    const io = captureIo();
    expect(await hs(await peer(behaviors.seeder(content)), { io, json: false, frames: true })).toBe(EXIT.ok);
    const text = io.stdout.join('\n');
    // The peer's stream: handshake at 0, its extended handshake at 68, then have_all.
    const extLen = 6 + encodeExtendedHandshake({ m: { ut_metadata: 3 }, v: 'hostile 1.0', metadataSize: info.length }).length;
    const haveAllAt = 68 + extLen;
    expect(text).toContain('── handshake  direction=out');
    expect(text).toMatch(/── handshake  direction=in peer=127\.0\.0\.1:\d+  \(68 bytes at 0\) ──/);
    expect(text).toMatch(new RegExp(`── extended handshake  direction=in peer=127\\.0\\.0\\.1:\\d+  \\(${extLen} bytes at 68\\) ──`));
    expect(text).toMatch(new RegExp(`── have_all  direction=in peer=127\\.0\\.0\\.1:\\d+  \\(5 bytes at ${haveAllAt}\\) ──`));
    const row = haveAllAt.toString(16).padStart(8, '0');
    expect(text).toMatch(new RegExp(`^${row}: 00 00 00 01 +.* length prefix = 1$`, 'm'));
    expect(text).toMatch(new RegExp(`^${(haveAllAt + 4).toString(16).padStart(8, '0')}: 0e +.* message id = have_all \\(14\\)$`, 'm'));
    // Our own stream has its own offsets: handshake at 0, our extended handshake at 68.
    expect(text).toMatch(/^00000030: 2d 62 53 30 31 30 30 2d +-bS0100- +peer id = /m);
    expect(text).toMatch(/── extended handshake  direction=out peer=127\.0\.0\.1:\d+  \(\d+ bytes at 68\) ──/);
  });

  it.each([
    ['refused', async () => refusedPeer(), 'connect_refused'],
    ['silence (handshake timeout)', async () => peer(behaviors.silence()), 'handshake_timeout'],
    ['wrong info-hash', async () => peer(behaviors.wrongInfoHash()), 'wrong_info_hash'],
    ['not BitTorrent', async () => peer(behaviors.notBitTorrent()), 'bad_protocol'],
  ])('%s: exit 4 with the code in the message', async (_n, make, code) => {
    const r = await exitOf(hs(await make(), { timeout: 0.5, io: captureIo() }));
    expect(r.code).toBe(EXIT.network);
    expect(r.message).toContain(`(${code})`);
  });

  it.each(['127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'host:port', '[::1]'])('bad HOST:PORT %j: exit 2', async (addr) => {
    const r = await exitOf(hs(addr, { io: captureIo() }));
    expect(r.code).toBe(EXIT.usage);
    expect(r.message).toContain('HOST:PORT');
  });

  it('an undecodable TARGET: exit 3 with the byte offset', async () => {
    const bad = path.join(tmp, 'bad.torrent');
    writeFileSync(bad, 'd4:infod6:lengthi1e');
    const r = await exitOf(hs('127.0.0.1:1', { target: bad, io: captureIo() }));
    expect(r.code).toBe(EXIT.badInput);
    expect(r.message).toMatch(/\d/);
  });

  it('a TARGET that does not exist: exit 2', async () => {
    expect((await exitOf(hs('127.0.0.1:1', { target: path.join(tmp, 'missing.torrent'), io: captureIo() }))).code).toBe(EXIT.usage);
  });
});

const pc = (p: string[], out: string, extra: Partial<Parameters<typeof pieceTool.handler>[0]> = {}) =>
  pieceTool.handler({ target: torrentPath, index: 1, peer: p, o: out, pipeline: 4, json: true, frames: false, timeout: 5, io: captureIo(), ...extra });

describe('btscope piece (handler)', () => {
  it('writes the piece when its SHA-1 matches; --json says so', async () => {
    const out = path.join(tmp, 'p1.bin');
    const io = captureIo();
    expect(await pc([await peer(behaviors.seeder(content))], out, { io })).toBe(EXIT.ok);
    expect(Buffer.compare(readFileSync(out), Buffer.from(data.subarray(pieceLength, 2 * pieceLength)))).toBe(0);
    expect(JSON.parse(io.text())).toMatchObject({ index: 1, length: pieceLength, blocks: 2, sha1: toHex(pieceHashes.subarray(20, 40)), hashOk: true, failures: [] });
  });

  it('wrong data: exit 1, nothing written, the failure names both hashes', async () => {
    const out = path.join(tmp, 'bad1.bin');
    const io = captureIo();
    expect(await pc([await peer(behaviors.seeder(content, { corruptPieces: true }))], out, { io })).toBe(EXIT.failure);
    expect(existsSync(out)).toBe(false);
    const j = JSON.parse(io.text());
    expect(j).toMatchObject({ hashOk: false, file: null });
    expect(j.failures[0]).toContain(toHex(pieceHashes.subarray(20, 40)));
    expect(j.failures[0]).toContain('(hash_mismatch)');
  });

  it('a bad peer then a good one: the good one is used, the bad one listed', async () => {
    const out = path.join(tmp, 'p4.bin');
    const io = captureIo();
    const ps = [await refusedPeer(), await peer(behaviors.seeder(content, { corruptPieces: true })), await peer(behaviors.seeder(content))];
    expect(await pc(ps, out, { io, index: 4 })).toBe(EXIT.ok);
    expect(readFileSync(out).length).toBe(1000);
    const j = JSON.parse(io.text());
    expect(j.failures.map((f: string) => /\((\w+)\)$/.exec(f)?.[1])).toEqual(['connect_refused', 'hash_mismatch']);
  });

  it('a magnet TARGET: the metadata comes first over the same connection, then the piece', async () => {
    const out = path.join(tmp, 'pm.bin');
    const io = captureIo();
    expect(await pc([await peer(behaviors.seeder(content))], out, { io, target: magnet, index: 2 })).toBe(EXIT.ok);
    expect(Buffer.compare(readFileSync(out), Buffer.from(data.subarray(2 * pieceLength, 3 * pieceLength)))).toBe(0);
  });

  it('every peer refused: exit 4', async () => {
    expect(await pc([await refusedPeer()], path.join(tmp, 'x.bin'))).toBe(EXIT.network);
  });

  it('blocks of the wrong size are a protocol violation: exit 4', async () => {
    expect(await pc([await peer(behaviors.seeder(content, { shortBlocks: true }))], path.join(tmp, 'x.bin'))).toBe(EXIT.network);
  });

  it.each([5, -1, 1.5])('index %s out of range: exit 2', async (index) => {
    expect((await exitOf(pc(['127.0.0.1:1'], path.join(tmp, 'x.bin'), { index }))).code).toBe(EXIT.usage);
  });
});

const md = (p: string[], out: string, extra: Partial<Parameters<typeof metadataTool.handler>[0]> = {}) =>
  metadataTool.handler({ magnet, peer: p, o: out, json: true, frames: false, timeout: 5, io: captureIo(), ...extra });

describe('btscope metadata (handler)', () => {
  it('writes a .torrent whose info dict is the original, byte for byte', async () => {
    const out = path.join(tmp, 'fetched.torrent');
    const io = captureIo();
    expect(await md([await peer(behaviors.seeder(content))], out, { io })).toBe(EXIT.ok);
    expect(toHex(parseTorrent(new Uint8Array(readFileSync(out))).info)).toBe(toHex(info));
    expect(JSON.parse(io.text())).toMatchObject({ infoHash: toHex(infoHash), name: 'test.bin', metadataSize: info.length, metadataPieces: 1, pieceCount: 5, failures: [] });
  });

  it.each([
    ['metadata that does not hash to the info-hash', 'metadata_hash_mismatch', EXIT.failure, { wrongMetadata: true }],
    ['a peer that rejects every piece', 'metadata_rejected', EXIT.failure, { rejectMetadata: true }],
    ['pieces of the wrong size', 'bad_metadata_piece', EXIT.network, { metadataPieceSize: 10 }],
  ])('%s: %s, exit %i, nothing written', async (_n, code, exit, lie) => {
    const out = path.join(tmp, `never-${code}.torrent`);
    const io = captureIo();
    expect(await md([await peer(behaviors.seeder(content, lie))], out, { io })).toBe(exit);
    expect(existsSync(out)).toBe(false);
    expect(JSON.parse(io.text()).failures[0]).toContain(`(${code})`);
  });

  it('every peer refused: exit 4', async () => {
    expect(await md([await refusedPeer()], path.join(tmp, 'x.torrent'))).toBe(EXIT.network);
  });

  it('a .torrent given as MAGNET: exit 2 (it has its metadata)', async () => {
    expect((await exitOf(md(['127.0.0.1:1'], path.join(tmp, 'x.torrent'), { magnet: torrentPath }))).code).toBe(EXIT.usage);
  });
});

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(!existsSync(CLI))('the wire tools through the CLI (dist/tools/cli.js)', () => {
  it('handshake --json: exit 0 and the documented fields', async () => {
    const r = await run(['handshake', torrentPath, await peer(behaviors.seeder(content)), '--json', '--wait', '0.3', '--timeout', '3']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['peerId', 'client', 'reserved', 'extensions', 'extended']));
    expect(j.peerId).toBe(Buffer.from(HOSTILE_PEER_ID).toString('hex'));
  });

  it('handshake to a refused port: exit 4, one line on stderr', async () => {
    const r = await run(['handshake', toHex(infoHash), await refusedPeer(), '--timeout', '2']);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^btscope: 127\.0\.0\.1:\d+: .*\(connect_refused\)$/m);
  });

  it('handshake with a bad HOST:PORT: exit 2', async () => {
    const r = await run(['handshake', toHex(infoHash), 'localhost']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('HOST:PORT');
  });

  it('handshake with an undecodable TARGET: exit 3', async () => {
    const bad = path.join(tmp, 'cli-bad.torrent');
    writeFileSync(bad, 'not bencode');
    const r = await run(['handshake', bad, '127.0.0.1:1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^btscope: .*/);
  });

  it('piece with wrong data: exit 1; with good data: exit 0 and the file', async () => {
    const out = path.join(tmp, 'cli-p0.bin');
    const bad = await run(['piece', torrentPath, '0', '--peer', await peer(behaviors.seeder(content, { corruptPieces: true })), '-o', out, '--timeout', '5']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('hash_mismatch');
    expect(existsSync(out)).toBe(false);
    const good = await run(['piece', torrentPath, '0', '--peer', await peer(behaviors.seeder(content)), '-o', out, '--timeout', '5']);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain(`SHA-1 ${toHex(pieceHashes.subarray(0, 20))} matches`);
    expect(Buffer.compare(readFileSync(out), Buffer.from(data.subarray(0, pieceLength)))).toBe(0);
  });

  it('metadata to a refused port: exit 4', async () => {
    const r = await run(['metadata', magnet, '--peer', await refusedPeer(), '-o', path.join(tmp, 'cli.torrent'), '--timeout', '3']);
    expect(r.code).toBe(4);
  });

  it.each(['handshake', 'metadata', 'piece'])('%s --help explains the exit codes', async (tool) => {
    const r = await run([tool, '--help']);
    expect(r.code).toBe(0);
    // Help wraps at 80 columns: words may fall on two lines.
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('Exit codes:');
    expect(r.stdout).toContain('--timeout');
  });
});
