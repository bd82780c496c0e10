import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { havePeers, LIBTORRENT_PYTHON, PEERS } from '../helpers/peers.js';
import { startTransmissionDaemon, TR_SEEDING, type TransmissionDaemon } from '../helpers/transmission-daemon.js';
import { captureIo } from '../../tools/io.js';
import * as handshakeTool from '../../tools/commands/handshake.js';
import * as metadataTool from '../../tools/commands/metadata.js';
import * as pieceTool from '../../tools/commands/piece.js';
import { PeerConnection } from '../../lib/peer/peer-connection.js';
import { makePeerId } from '../../lib/peer/identity.js';
import { decodeUtPex } from '../../lib/wire/ut-pex.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { toHex } from '../../lib/core/bytes.js';

/**
 * transmission-daemon 3.00 as a seeder on loopback. What it takes (seen here):
 * - its own config dir (-g) in a temp folder, RPC and peer ports picked free,
 *   no auth (-T), no DHT/LPD/uTP/port mapping, `-et` (encryption tolerated:
 *   it answers a plaintext handshake in plaintext);
 * - it keys peers by IP address only: while it still lists the previous
 *   connection from 127.0.0.1 it closes a new one before sending a handshake.
 *   That is why each test first waits (bounded) until the RPC reports
 *   `peersConnected == 0` rather than restarting the daemon;
 * - it unchokes on its 10-second rechoke timer, so a piece takes about 10 s
 *   here; the whole torrent is fetched over ONE connection for that reason.
 */
describe.skipIf(!havePeers('transmission-daemon', 'transmission-create'))('wire interop: transmission-daemon 3.00 seeding on loopback', () => {
  let dir: string;
  let tr: TransmissionDaemon;
  let data: Uint8Array;
  let torrentPath: string;
  let infoHash: string;
  const pieceLength = 1 << 18;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'btscope-wire-tr-'));
    data = new Uint8Array(randomBytes(3 * pieceLength + 4321));
    writeFileSync(join(dir, 'data.bin'), data);
    torrentPath = join(dir, 'x.torrent');
    execFileSync('transmission-create', ['-o', torrentPath, '-s', '256', '-t', 'http://127.0.0.1:1/announce', join(dir, 'data.bin')], { stdio: 'ignore' });
    infoHash = toHex(parseTorrent(new Uint8Array(readFileSync(torrentPath))).infoHash!);
    tr = await startTransmissionDaemon(dir);
    await tr.rpc('torrent-add', { metainfo: readFileSync(torrentPath).toString('base64'), 'download-dir': dir });
    await tr.waitStatus((s) => s.status === TR_SEEDING && s.percentDone === 1, 20_000, 'seeding');
  }, 45_000);
  afterAll(async () => {
    await tr?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  // Transmission closes a second connection from the same IP: start each test with none.
  beforeEach(async () => {
    await tr.waitStatus((s) => s.peersConnected === 0, 10_000, 'no peers connected');
  }, 15_000);

  it('handshake --json: Transmission peer id, reserved bits, extended handshake, have all', async () => {
    const io = captureIo();
    const code = await handshakeTool.handler({ target: torrentPath, peer: `127.0.0.1:${tr.peerPort}`, json: true, frames: false, timeout: 10, wait: 1, io });
    expect(code).toBe(0);
    const j = JSON.parse(io.text());
    expect(j.infoHash).toBe(infoHash);
    expect(j.client).toBe('Transmission');
    expect(j.clientVersion).toBe('3.00');
    expect(Buffer.from(j.peerId, 'hex').toString('latin1')).toMatch(/^-TR3000-/);
    expect(j.reserved).toBe('0000000000100004');
    expect(j.extensions).toEqual(['extended', 'fast']);
    expect(j.extended.v).toBe('Transmission 3.00');
    expect(j.extended.m.ut_metadata).toBeGreaterThan(0);
    expect(j.extended.p).toBe(tr.peerPort);
    expect(j.extended.metadata_size).toBe(parseTorrent(new Uint8Array(readFileSync(torrentPath))).info.length);
    expect(j.firstMessages[0]).toEqual({ type: 'have_all' });
  });

  it('its ut_pex message decodes with the ids we announced, without diagnostics', async () => {
    const t = parseTorrent(new Uint8Array(readFileSync(torrentPath)));
    const conn = await PeerConnection.connect('127.0.0.1', tr.peerPort, { infoHash: t.infoHash!, peerId: makePeerId(), pieceCount: t.pieceCount, handshakeTimeoutMs: 5000 });
    try {
      const pex = await new Promise<Uint8Array>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no ut_pex from transmission within 5 s')), 5000);
        conn.on('extended', (name, payload) => {
          if (name !== 'ut_pex') return;
          clearTimeout(timer);
          resolve(new Uint8Array(payload));
        });
      });
      const r = decodeUtPex(pex, 0);
      expect(r.diagnostics).toEqual([]);
      // It lists the peers it remembers: our earlier connections, all from 127.0.0.1,
      // each with its added.f flag byte (BEP 11: one per added peer).
      expect(new TextDecoder().decode(pex)).toContain('7:added.f');
      for (const p of r.value.added) {
        expect(p.ip).toBe('127.0.0.1');
        expect(p.port).toBeGreaterThan(0);
        expect(typeof p.flags).toBe('number');
      }
    } finally {
      conn.close();
    }
  });

  it('metadata: the info dict fetched equals the original (libtorrent accepts the .torrent where installed)', async () => {
    const io = captureIo();
    const out = join(dir, 'fetched.torrent');
    const code = await metadataTool.handler({ magnet: `magnet:?xt=urn:btih:${infoHash}`, peer: [`127.0.0.1:${tr.peerPort}`], o: out, json: true, frames: false, timeout: 20, io });
    expect(code).toBe(0);
    expect(JSON.parse(io.text()).failures).toEqual([]);
    const original = parseTorrent(new Uint8Array(readFileSync(torrentPath)));
    const fetched = parseTorrent(new Uint8Array(readFileSync(out)));
    expect(toHex(fetched.info)).toBe(toHex(original.info));
    if (PEERS.libtorrent()) {
      const lt = execFileSync(LIBTORRENT_PYTHON, ['-c', `import libtorrent as lt; t = lt.torrent_info(${JSON.stringify(out)}); print(t.info_hash(), t.num_pieces())`]).toString().trim();
      expect(lt).toBe(`${infoHash} ${original.pieceCount}`);
    }
  });

  it('piece: the short last piece equals the seeded bytes (the tool checks its SHA-1)', async () => {
    const index = 3;
    const out = join(dir, `p${index}.bin`);
    const io = captureIo();
    const code = await pieceTool.handler({ target: torrentPath, index, peer: [`127.0.0.1:${tr.peerPort}`], o: out, pipeline: 16, json: true, frames: false, timeout: 30, io });
    expect(code).toBe(0);
    expect(JSON.parse(io.text())).toMatchObject({ index, length: 4321, blocks: 1, hashOk: true, client: 'Transmission' });
    expect(Buffer.compare(readFileSync(out), Buffer.from(data.subarray(index * pieceLength)))).toBe(0);
  }, 45_000);

  it('PeerConnection: every piece over one connection equals the data', async () => {
    const t = parseTorrent(new Uint8Array(readFileSync(torrentPath)));
    const conn = await PeerConnection.connect('127.0.0.1', tr.peerPort, { infoHash: t.infoHash!, peerId: makePeerId(), pieceCount: t.pieceCount, handshakeTimeoutMs: 5000 });
    try {
      for (let i = 0; i < t.pieceCount; i++) {
        const len = i === t.pieceCount - 1 ? t.lastPieceLength : t.pieceLength;
        const piece = await conn.fetchPiece(i, len, { pipeline: 32, timeoutMs: 30_000 });
        expect(createHash('sha1').update(piece).digest('hex')).toBe(createHash('sha1').update(data.subarray(i * pieceLength, i * pieceLength + len)).digest('hex'));
      }
      expect(conn.remoteClient.client).toBe('Transmission');
    } finally {
      conn.close();
    }
  }, 50_000);
});
