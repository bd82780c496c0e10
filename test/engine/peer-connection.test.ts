import { afterEach, describe, expect, it } from 'vitest';
import { PeerConnection, PeerError } from '../../lib/peer/peer-connection.js';
import { makePeerId } from '../../lib/peer/identity.js';
import { listenTcp } from '../../lib/transport/tcp.js';
import { fetchMetadata, torrentFromMetadata } from '../../lib/engine/metadata-fetch.js';
import { decode } from '../../lib/bencode/decode.js';
import { bytesEqual } from '../../lib/core/bytes.js';
import type { Frame } from '../../lib/core/field.js';
import type { Direction } from '../../lib/wire/extended.js';
import type { Message } from '../../lib/wire/messages.js';
import { behaviors, hostilePeerPool, sha1, testTorrent, type HostilePeer, type ScriptedConnection } from '../helpers/hostile-peer.js';

// A torrent made in the test: 5 pieces of 32 KiB, the last one short.
const { pieceLength, data, pieceHashes, info, infoHash, content } = testTorrent();

const pool = hostilePeerPool({ timeoutMs: 3000 });
afterEach(() => pool.closeAll());
const peer = pool.start;
const connect = (p: HostilePeer, extra: Partial<Parameters<typeof PeerConnection.connect>[2]> = {}) =>
  PeerConnection.connect(p.host, p.port, { infoHash, peerId: makePeerId(), pieceCount: 5, handshakeTimeoutMs: 1500, ...extra });

async function failureOf(p: Promise<unknown>): Promise<{ code: string; offset?: number; message: string }> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PeerError);
    const pe = e as PeerError;
    return { code: pe.code, ...(pe.offset !== undefined ? { offset: pe.offset } : {}), message: pe.message };
  }
  throw new Error('expected a PeerError');
}

describe('PeerConnection with a well-behaved scripted seeder', () => {
  it('handshakes, learns the extended handshake, fetches every piece with a pipeline', async () => {
    const p = await peer(behaviors.seeder(content));
    const frames: Array<[Direction, string]> = [];
    const conn = await connect(p, { onFrame: (f: Frame, d) => frames.push([d, f.title]) });
    expect(conn.remoteClient.client).toBe('unknown Azureus-style client "HP"');
    const ext = await conn.waitForExtendedHandshake(2000);
    expect(ext?.v).toBe('hostile 1.0');
    expect(ext?.metadataSize).toBe(info.length);
    for (let i = 0; i < 5; i++) {
      const len = i === 4 ? 1000 : pieceLength;
      const piece = await conn.fetchPiece(i, len, { pipeline: 4, timeoutMs: 3000 });
      expect(bytesEqual(piece, data.subarray(i * pieceLength, i * pieceLength + len))).toBe(true);
    }
    expect(conn.peerHas(4)).toBe(true);
    conn.close();
    expect(await conn.done).toBeUndefined();
    expect(frames[0]).toEqual(['out', 'handshake']);
    expect(frames).toContainEqual(['in', 'handshake']);
    expect(frames).toContainEqual(['in', 'extended handshake']);
    expect(frames).toContainEqual(['out', 'request']);
    expect(frames).toContainEqual(['in', 'piece']);
    expect(p.scriptErrors).toEqual([]);
  });

  it('fetches the metadata, which hashes to the info-hash and makes a .torrent', async () => {
    const p = await peer(behaviors.seeder(content));
    const conn = await connect(p);
    const r = await fetchMetadata(conn, infoHash, { timeoutMs: 3000 });
    expect(bytesEqual(r.info, info)).toBe(true);
    const torrent = torrentFromMetadata(r.info, ['http://127.0.0.1:1/announce']);
    const doc = decode(torrent);
    expect(doc.diagnostics).toEqual([]);
    expect(bytesEqual(sha1(doc.root.get('info')!.raw), infoHash)).toBe(true);
    conn.close();
  });

  it('messages() iterates what arrives, in order', async () => {
    const p = await peer(async (c) => {
      const hs = await c.readHandshake();
      await c.sendHandshake({ infoHash: hs!.infoHash, reserved: new Uint8Array(8) });
      for (let i = 0; i < 300; i++) await c.send({ type: 'have', index: i % 5 });
      c.close();
    });
    const conn = await connect(p, { highWaterMark: 16 });
    const seen: number[] = [];
    for await (const m of conn.messages()) if (m.type === 'have') seen.push(m.index);
    expect(seen.length).toBe(300);
    expect(seen.slice(0, 6)).toEqual([0, 1, 2, 3, 4, 0]);
  });
});

describe('PeerConnection against a hostile peer: a clear error each time, within the timeout', () => {
  it('connection refused', async () => {
    const p = await peer(behaviors.silence());
    const port = p.port;
    await p.close();
    const f = await failureOf(PeerConnection.connect('127.0.0.1', port, { infoHash, peerId: makePeerId() }));
    expect(f.code).toBe('connect_refused');
  });

  it('wrong info-hash: the offset of the info-hash in the stream', async () => {
    const f = await failureOf(connect(await peer(behaviors.wrongInfoHash())));
    expect(f).toMatchObject({ code: 'wrong_info_hash', offset: 28 });
    expect(f.message).toContain('eeeeeeee');
  });

  it('truncated handshake then close', async () => {
    const f = await failureOf(connect(await peer(behaviors.truncatedHandshake(30))));
    expect(f).toMatchObject({ code: 'closed', offset: 30 });
    expect(f.message).toContain('30 of 68');
  });

  it('not BitTorrent (an HTTP answer, or MSE): bad_protocol at byte 0', async () => {
    const f = await failureOf(connect(await peer(behaviors.notBitTorrent())));
    expect(f).toMatchObject({ code: 'bad_protocol', offset: 0 });
    expect(f.message).toContain('MSE');
  });

  it('silence: handshake_timeout', async () => {
    const t0 = Date.now();
    const f = await failureOf(connect(await peer(behaviors.silence()), { handshakeTimeoutMs: 300 }));
    expect(f.code).toBe('handshake_timeout');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('silence after the handshake: idle_timeout closes the connection', async () => {
    const p = await peer(async (c) => {
      const hs = await c.readHandshake();
      await c.sendHandshake({ infoHash: hs!.infoHash, reserved: new Uint8Array(8) });
      await new Promise((r) => setTimeout(r, 3000));
    });
    const conn = await connect(p, { idleTimeoutMs: 300 });
    const reason = await conn.done;
    expect(reason?.code).toBe('idle_timeout');
  });

  it('a 4 GiB length prefix: limit_exceeded at its offset, nothing allocated', async () => {
    const conn = await connect(await peer(behaviors.hugeLength()));
    const reason = await conn.done;
    expect(reason).toMatchObject({ code: 'limit_exceeded', offset: 68 });
  });

  it('an endless piece message: the request times out, memory stays bounded', async () => {
    const conn = await connect(await peer(behaviors.endlessStream(10)), { idleTimeoutMs: 5000 });
    const f = await failureOf(conn.fetchPiece(0, pieceLength, { timeoutMs: 500 }));
    expect(f.code).toBe('timeout');
    expect(conn.stats.bytesIn).toBeLessThan(68 + 5 + 13 + 200);
    conn.close();
  });

  it('a flood of keep-alives is consumed without growing buffers', async () => {
    const conn = await connect(await peer(behaviors.flood(400)), { idleTimeoutMs: 1000 });
    let n = 0;
    conn.on('message', () => n++);
    await conn.done;
    expect(n).toBeGreaterThan(10_000);
    expect(n * 4).toBe(conn.stats.bytesIn - 68);
  });

  it('a piece with wrong data is returned as sent; the hash check is the caller\'s (tools do it)', async () => {
    const conn = await connect(await peer(behaviors.seeder(content, { corruptPieces: true })));
    const piece = await conn.fetchPiece(0, pieceLength, { timeoutMs: 3000 });
    expect(bytesEqual(sha1(piece), pieceHashes.subarray(0, 20))).toBe(false);
    conn.close();
  });

  it('blocks of the wrong size: bad_block', async () => {
    const conn = await connect(await peer(behaviors.seeder(content, { shortBlocks: true })));
    expect((await failureOf(conn.fetchPiece(0, pieceLength, { timeoutMs: 3000 }))).code).toBe('bad_block');
    conn.close();
  });

  it.each([
    ['metadata pieces of the wrong size', { metadataPieceSize: 10 }, 'bad_metadata_piece'],
    ['a metadata piece over 16 KiB (the extended frame limit)', { metadataPieceSize: 20_000 }, 'limit_exceeded'],
    ['a lying metadata_size', { metadataSize: 999_999 }, 'bad_metadata_piece'],
    ['a metadata_size over the limit', { metadataSize: 100 * 1024 * 1024 }, 'metadata_too_large'],
    ['metadata that does not hash to the info-hash', { wrongMetadata: true }, 'metadata_hash_mismatch'],
    ['metadata rejected', { rejectMetadata: true }, 'metadata_rejected'],
  ])('%s -> %s', async (_n, lie, code) => {
    const conn = await connect(await peer(behaviors.seeder(content, lie)));
    expect((await failureOf(fetchMetadata(conn, infoHash, { timeoutMs: 3000 }))).code).toBe(code);
    conn.close();
  });
});

describe('PeerConnection.accept (incoming, as a seeder uses it)', () => {
  it('reads the peer\'s handshake, checks the info-hash, answers', async () => {
    const accepted: Promise<PeerConnection>[] = [];
    const server = await listenTcp({}, (t) => {
      const p = PeerConnection.accept(t, { infoHash: (h) => bytesEqual(h, infoHash), peerId: makePeerId() });
      p.catch(() => {}); // awaited below; this only marks the rejection as handled meanwhile
      accepted.push(p);
    });
    try {
      const port = server.port;
      const client = await PeerConnection.connect('127.0.0.1', port, { infoHash, peerId: makePeerId() });
      const serverSide = await accepted[0]!;
      expect(bytesEqual(serverSide.torrentInfoHash, infoHash)).toBe(true);
      expect(serverSide.remoteClient.client).toBe('btscope');
      const got = serverSide.waitFor((m) => m.type === 'interested', 2000);
      client.send({ type: 'interested' });
      expect((await got).type).toBe('interested');
      expect((await client.waitForExtendedHandshake(2000))?.v).toBe('btscope 0.1');
      client.close();
      expect((await serverSide.done)?.code).toBe('closed');

      const other = await failureOf(PeerConnection.connect('127.0.0.1', port, { infoHash: new Uint8Array(20), peerId: makePeerId(), handshakeTimeoutMs: 1000 }));
      expect(other.code).toMatch(/closed|connection_reset/);
      expect((await failureOf(accepted[1]!)).code).toBe('wrong_info_hash');
    } finally {
      await server.close();
    }
  });
});

describe('PeerConnection state does not alias what was received', () => {
  it('a have after a bitfield updates peerPieces, not the bitfield message (socket chunks are Buffers: slice() would be a view)', async () => {
    const p = await peer(async (c) => {
      const hs = await c.readHandshake();
      await c.sendHandshake({ infoHash: hs!.infoHash, reserved: new Uint8Array(8) });
      await c.write(Uint8Array.from([0, 0, 0, 2, 5, 0xa8, 0, 0, 0, 5, 4, 0, 0, 0, 1])); // bitfield a8 + have 1, one chunk
      await c.readFrame();
    });
    const conn = await connect(p);
    const got: Message[] = [];
    conn.on('message', (m) => got.push(m));
    await conn.waitFor((m) => m.type === 'have', 2000);
    expect(got.map((m) => m.type)).toEqual(['bitfield', 'have']);
    expect(got[0]!.type === 'bitfield' && [...got[0]!.bitfield]).toEqual([0xa8]);
    expect([...conn.state.peerPieces]).toEqual([0xe8]);
    expect(conn.remote.peerId).not.toBeInstanceOf(Buffer);
    conn.close();
  });
});

describe('PeerConnection checks bitfields against the piece count (BEP 3)', () => {
  const sendsBitfield = (bitfield: Uint8Array) => async (c: ScriptedConnection) => {
    const hs = await c.readHandshake();
    await c.sendHandshake({ infoHash: hs!.infoHash, reserved: new Uint8Array(8) });
    await c.send({ type: 'bitfield', bitfield });
    await c.readFrame();
  };

  it('a bitfield longer than ceil(5/8) = 1 byte: limit_exceeded at its length prefix, before its payload is buffered', async () => {
    const conn = await connect(await peer(sendsBitfield(new Uint8Array(2))));
    expect(await conn.done).toMatchObject({ code: 'limit_exceeded', offset: 68 });
  });

  it('spare bits set: the frame carries a bitfield_spare_bits diagnostic on the byte, the state ignores them', async () => {
    const frames: Frame[] = [];
    const conn = await connect(await peer(sendsBitfield(Uint8Array.of(0xfc))), { onFrame: (f: Frame, d) => d === 'in' && frames.push(f) });
    await conn.waitFor((m) => m.type === 'bitfield', 2000);
    const bf = frames.find((f) => f.title === 'bitfield')!;
    const diags = bf.fields.flatMap((f) => f.diagnostics ?? []);
    expect(diags.map((d) => [d.code, d.span.start, d.span.end])).toEqual([['bitfield_spare_bits', 73, 74]]);
    expect([0, 1, 2, 3, 4, 5].map((i) => conn.peerHas(i))).toEqual([true, true, true, true, true, false]);
    conn.close();
  });
});

describe('PeerConnection: keep-alives and the request pipeline', () => {
  it('sends a keep-alive (4 zero bytes) after keepAliveMs of sending nothing', async () => {
    let sawKeepAlive = false;
    const p = await peer(async (c) => {
      const hs = await c.readHandshake();
      await c.sendHandshake({ infoHash: hs!.infoHash, reserved: new Uint8Array(8) });
      for (let i = 0; i < 10 && !sawKeepAlive; i++) {
        const f = await c.readFrame();
        if (!f) return;
        if (f.kind === 'message' && f.id === null && f.bytes.length === 4) sawKeepAlive = true;
      }
    });
    const conn = await connect(p, { keepAliveMs: 150 });
    for (let i = 0; i < 40 && !sawKeepAlive; i++) await new Promise((r) => setTimeout(r, 25));
    expect(sawKeepAlive).toBe(true);
    conn.close();
  });

  it('keeps exactly `pipeline` requests outstanding, 16 KiB each, the last one short', async () => {
    const requests: Array<{ index: number; begin: number; length: number }> = [];
    let maxOutstanding = 0;
    const p = await peer(async (c) => {
      const hs = await c.readHandshake();
      await c.sendHandshake({ infoHash: hs!.infoHash, reserved: new Uint8Array(8) });
      await c.send({ type: 'unchoke' });
      const pending: Array<{ index: number; begin: number; length: number }> = [];
      // One read in flight at a time (a second reader would steal its frame).
      let read = c.readMessage();
      for (;;) {
        // Take what the client sent; answer only when nothing more came for 50 ms, so the queue shows its depth.
        const m = await Promise.race([read, new Promise<'idle'>((r) => setTimeout(() => r('idle'), 50))]);
        if (m === undefined) return;
        if (m !== 'idle') read = c.readMessage();
        if (m !== 'idle' && m.type === 'request') {
          requests.push(m);
          pending.push(m);
          maxOutstanding = Math.max(maxOutstanding, pending.length);
          continue;
        }
        if (m === 'idle' && pending.length > 0) {
          const r = pending.shift()!;
          await c.send({ type: 'piece', index: r.index, begin: r.begin, block: data.subarray(r.index * pieceLength + r.begin, r.index * pieceLength + r.begin + r.length) });
        }
      }
    });
    const conn = await connect(p);
    const piece = await conn.fetchPiece(0, 5 * 16384 + 100, { pipeline: 3, timeoutMs: 5000 });
    expect(bytesEqual(piece, data.subarray(0, 5 * 16384 + 100))).toBe(true);
    expect(maxOutstanding).toBe(3);
    expect(requests.map((r) => [r.begin, r.length])).toEqual([
      [0, 16384], [16384, 16384], [32768, 16384], [49152, 16384], [65536, 16384], [81920, 100],
    ]);
    conn.close();
  });
});

describe('PeerConnection.setPieceCount (a magnet: the count is known once the metadata is in)', () => {
  it('sizes the peer\'s pieces, drops spare bits, and tightens the frame limits from then on', async () => {
    const p = await peer(async (c) => {
      const hs = await c.readHandshake();
      await c.sendHandshake({ infoHash: hs!.infoHash, reserved: new Uint8Array(8) });
      await c.send({ type: 'bitfield', bitfield: Uint8Array.of(0xfc, 0x80) });
      await c.readFrame(); // the client's "go on" (interested)
      await c.send({ type: 'bitfield', bitfield: Uint8Array.of(0xf8, 0x00) });
      await c.readFrame();
    });
    const conn = await connect(p, { pieceCount: undefined });
    await conn.waitFor((m) => m.type === 'bitfield', 2000);
    expect(conn.peerHas(8)).toBe(true); // unknown count: taken as sent
    conn.setPieceCount(5);
    expect([0, 1, 2, 3, 4, 5, 8].map((i) => conn.peerHas(i))).toEqual([true, true, true, true, true, false, false]);
    expect([...conn.state.peerPieces]).toEqual([0xf8]);
    conn.send({ type: 'interested' });
    // 2 bytes for 5 pieces: now over the bitfield limit, at the offset of its length prefix.
    expect(await conn.done).toMatchObject({ code: 'limit_exceeded', offset: 68 + 7 });
  });
});
