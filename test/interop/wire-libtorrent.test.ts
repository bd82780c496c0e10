import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { havePeers, LIBTORRENT_PYTHON } from '../helpers/peers.js';
import { startLtSeed, type LtSeed } from '../helpers/lt-seed.js';
import { captureIo } from '../../tools/io.js';
import * as handshakeTool from '../../tools/commands/handshake.js';
import * as metadataTool from '../../tools/commands/metadata.js';
import * as pieceTool from '../../tools/commands/piece.js';
import { PeerConnection } from '../../lib/peer/peer-connection.js';
import { makePeerId } from '../../lib/peer/identity.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { toHex } from '../../lib/core/bytes.js';

describe.skipIf(!havePeers('libtorrent', 'mktorrent'))('wire interop: libtorrent 2.0 seeding on loopback', () => {
  let dir: string;
  let seed: LtSeed;
  let data: Uint8Array;
  let torrentPath: string;
  let infoHash: string;
  const pieceLength = 1 << 18;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btscope-wire-lt-'));
    data = new Uint8Array(randomBytes(5 * pieceLength + 12345));
    writeFileSync(join(dir, 'data.bin'), data);
    torrentPath = join(dir, 'x.torrent');
    execFileSync('mktorrent', ['-l', '18', '-a', 'http://127.0.0.1:1/announce', '-o', torrentPath, join(dir, 'data.bin')], { stdio: 'ignore' });
    infoHash = toHex(parseTorrent(new Uint8Array(readFileSync(torrentPath))).infoHash!);
    seed = await startLtSeed(torrentPath, dir);
  });
  afterAll(async () => {
    await seed?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('handshake --json: reserved bits, client, extended handshake', async () => {
    const io = captureIo();
    const code = await handshakeTool.handler({ target: torrentPath, peer: `127.0.0.1:${seed.port}`, json: true, frames: false, timeout: 10, wait: 1, io });
    expect(code).toBe(0);
    const j = JSON.parse(io.text());
    expect(j.infoHash).toBe(infoHash);
    expect(j.client).toBe('libtorrent (Rasterbar)');
    expect(Buffer.from(j.peerId, 'hex').toString('latin1')).toMatch(/^-LT20\d\d-/);
    expect(j.extensions).toEqual(expect.arrayContaining(['extended', 'fast']));
    expect(j.extended.v).toMatch(/^libtorrent\/2\./);
    expect(j.extended.m.ut_metadata).toBeGreaterThan(0);
    expect(j.extended.metadata_size).toBe(parseTorrent(new Uint8Array(readFileSync(torrentPath))).info.length);
    expect(j.extended.yourip).toBe('127.0.0.1');
    expect(j.firstMessages.map((m: { type: string }) => m.type)).toContain('have_all');
  });

  it('metadata: the info dict fetched equals the original, and libtorrent accepts the .torrent', async () => {
    const io = captureIo();
    const out = join(dir, 'fetched.torrent');
    const code = await metadataTool.handler({ magnet: `magnet:?xt=urn:btih:${infoHash}`, peer: [`127.0.0.1:${seed.port}`], o: out, json: true, frames: false, timeout: 20, io });
    expect(code).toBe(0);
    const original = parseTorrent(new Uint8Array(readFileSync(torrentPath)));
    const fetched = parseTorrent(new Uint8Array(readFileSync(out)));
    expect(toHex(fetched.info)).toBe(toHex(original.info));
    const lt = execFileSync(LIBTORRENT_PYTHON, ['-c', `import libtorrent as lt; t = lt.torrent_info(${JSON.stringify(out)}); print(t.info_hash(), t.num_pieces())`]).toString().trim();
    expect(lt).toBe(`${infoHash} ${original.pieceCount}`);
  });

  it('piece: every piece equals the seeded bytes (hash checked by the tool)', async () => {
    for (const index of [0, 3, 5]) {
      const io = captureIo();
      const out = join(dir, `p${index}.bin`);
      const code = await pieceTool.handler({ target: torrentPath, index, peer: [`127.0.0.1:${seed.port}`], o: out, pipeline: 8, json: true, frames: false, timeout: 20, io });
      expect(code).toBe(0);
      const got = new Uint8Array(readFileSync(out));
      expect(toHex(createHash('sha1').update(got).digest())).toBe(toHex(createHash('sha1').update(data.subarray(index * pieceLength, (index + 1) * pieceLength)).digest()));
    }
  });

  it('PeerConnection: whole torrent over one connection equals the data', async () => {
    const t = parseTorrent(new Uint8Array(readFileSync(torrentPath)));
    const conn = await PeerConnection.connect('127.0.0.1', seed.port, { infoHash: t.infoHash!, peerId: makePeerId(), pieceCount: t.pieceCount });
    try {
      for (let i = 0; i < t.pieceCount; i++) {
        const len = i === t.pieceCount - 1 ? t.lastPieceLength : t.pieceLength;
        const piece = await conn.fetchPiece(i, len, { pipeline: 32, timeoutMs: 20_000 });
        expect(Buffer.compare(Buffer.from(piece), Buffer.from(data.subarray(i * pieceLength, i * pieceLength + len)))).toBe(0);
      }
    } finally {
      conn.close();
    }
  });
});
