import * as net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { encode } from '../../lib/bencode/encode.js';
import { WireFramer, type WireFrame } from '../../lib/wire/framer.js';
import { encodeHandshake, decodeHandshake, makeReserved, type Handshake } from '../../lib/wire/handshake.js';
import { encodeMessage, parseMessage, type Message } from '../../lib/wire/messages.js';
import { decodeExtendedHandshake, encodeExtendedHandshake, type ExtendedHandshakeInit } from '../../lib/wire/extended.js';
import { decodeUtMetadata, encodeUtMetadata, UT_METADATA_PIECE_LENGTH } from '../../lib/wire/ut-metadata.js';
import { makeBitfield } from '../../lib/wire/bitfield.js';

/**
 * A small scripted BitTorrent peer on 127.0.0.1 (port 0) for tests: each
 * accepted connection runs `script`, which reads and writes raw frames. Use the
 * presets in `behaviors` (wrong info-hash, truncated handshake, 4 GiB length,
 * silence, endless stream, a seeder that lies) or write your own. Everything
 * it waits for is bounded by `timeoutMs`; `close()` ends all connections.
 */
export interface HostilePeer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** Errors thrown by scripts (a test can assert there were none). */
  readonly scriptErrors: Error[];
  close(): Promise<void>;
}

export class ScriptedConnection {
  private readonly framer = new WireFramer({ maxFrameLength: 1 << 20 });
  private frames: WireFrame[] = [];
  private waiting: (() => void) | undefined;
  ended = false;

  constructor(
    readonly socket: net.Socket,
    readonly timeoutMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      try {
        this.frames.push(...this.framer.push(chunk));
      } catch {
        // Not the BitTorrent handshake (an MSE attempt, say): a plaintext-only client hangs up.
        this.ended = true;
        socket.destroy();
      }
      this.waiting?.();
    });
    const end = (): void => {
      this.ended = true;
      this.waiting?.();
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  /** The next frame from the client, or undefined if it closed or nothing came in time. */
  async readFrame(): Promise<WireFrame | undefined> {
    const deadline = Date.now() + this.timeoutMs;
    while (this.frames.length === 0) {
      if (this.ended || Date.now() >= deadline) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiting = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiting = undefined;
    }
    return this.frames.shift();
  }

  async readHandshake(): Promise<Handshake | undefined> {
    const f = await this.readFrame();
    return f?.kind === 'handshake' ? decodeHandshake(f.bytes, f.offset).value : undefined;
  }

  async readMessage(): Promise<Message | undefined> {
    const f = await this.readFrame();
    return f?.kind === 'message' ? parseMessage(f.bytes, f.offset) : undefined;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()));
  }

  send(m: Message): Promise<void> {
    return this.write(encodeMessage(m));
  }

  sendHandshake(h: { infoHash: Uint8Array; peerId?: Uint8Array; reserved?: Uint8Array }): Promise<void> {
    return this.write(
      encodeHandshake({
        infoHash: h.infoHash,
        peerId: h.peerId ?? new TextEncoder().encode('-HP0001-hostilepeer!'),
        reserved: h.reserved ?? makeReserved({ extended: true, fast: true }),
      }),
    );
  }

  sendExtendedHandshake(init: ExtendedHandshakeInit): Promise<void> {
    return this.send({ type: 'extended', extId: 0, payload: encodeExtendedHandshake(init) });
  }

  close(): void {
    this.socket.destroy();
  }
}

export async function startHostilePeer(script: (c: ScriptedConnection) => Promise<void>, opts: { timeoutMs?: number } = {}): Promise<HostilePeer> {
  const sockets = new Set<net.Socket>();
  const scriptErrors: Error[] = [];
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const conn = new ScriptedConnection(socket, opts.timeoutMs ?? 5000);
    script(conn).catch((e: Error) => {
      scriptErrors.push(e);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    accepted: () => accepted,
    scriptErrors,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Hostile peers a test file starts with `start`; `closeAll` (call it from afterEach) closes every one. */
export function hostilePeerPool(opts: { timeoutMs?: number } = {}): { start(script: (c: ScriptedConnection) => Promise<void>): Promise<HostilePeer>; closeAll(): Promise<void> } {
  let peers: HostilePeer[] = [];
  return {
    async start(script) {
      const p = await startHostilePeer(script, opts);
      peers.push(p);
      return p;
    },
    async closeAll() {
      const all = peers;
      peers = [];
      await Promise.all(all.map((p) => p.close()));
    },
  };
}

export interface SeedContent {
  infoHash: Uint8Array;
  /** The raw info dict (served over ut_metadata). */
  info?: Uint8Array;
  /** The torrent's bytes and piece length (served for requests). */
  data?: Uint8Array;
  pieceLength?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Preset scripts. Each first reads the client's handshake. */
export const behaviors = {
  /** Accept and never send a byte. */
  silence: () => async (c: ScriptedConnection) => {
    await c.readHandshake();
    await new Promise<void>((r) => c.socket.once('close', () => r()));
  },

  /** Answer with a handshake for another torrent. */
  wrongInfoHash: () => async (c: ScriptedConnection) => {
    const hs = await c.readHandshake();
    if (!hs) return;
    await c.sendHandshake({ infoHash: new Uint8Array(20).fill(0xee) });
  },

  /** Send the first `n` bytes of a handshake, then close. */
  truncatedHandshake: (n = 30) => async (c: ScriptedConnection) => {
    const hs = await c.readHandshake();
    if (!hs) return;
    await c.write(encodeHandshake({ infoHash: hs.infoHash, peerId: new Uint8Array(20), reserved: new Uint8Array(8) }).subarray(0, n));
    c.close();
  },

  /** Speak something else (an MSE key exchange looks like this: random bytes). */
  notBitTorrent: () => async (c: ScriptedConnection) => {
    await c.write(new TextEncoder().encode('HTTP/1.1 400 Bad Request\r\n\r\n'));
  },

  /** A good handshake, then a 4 GiB length prefix. */
  hugeLength: () => async (c: ScriptedConnection) => {
    const hs = await c.readHandshake();
    if (!hs) return;
    await c.sendHandshake({ infoHash: hs.infoHash });
    await c.write(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x07]));
    await sleep(c.timeoutMs);
  },

  /**
   * A good handshake and unchoke, then a piece message that never ends: one byte
   * every `everyMs` forever (until the client hangs up). Keeps the idle timer
   * fed, so only a request timeout can end it.
   */
  endlessStream: (everyMs = 20) => async (c: ScriptedConnection) => {
    const hs = await c.readHandshake();
    if (!hs) return;
    await c.sendHandshake({ infoHash: hs.infoHash, reserved: new Uint8Array(8) });
    await c.send({ type: 'unchoke' });
    await c.write(Uint8Array.from([0, 0, 0x40, 0x09, 7, 0, 0, 0, 0, 0, 0, 0, 0]));
    while (!c.ended && !c.socket.destroyed) {
      await c.write(Uint8Array.of(0x55));
      await sleep(everyMs);
    }
  },

  /** A flood of valid keep-alives as fast as the socket takes them, for `ms`. */
  flood: (ms = 1000) => async (c: ScriptedConnection) => {
    const hs = await c.readHandshake();
    if (!hs) return;
    await c.sendHandshake({ infoHash: hs.infoHash, reserved: new Uint8Array(8) });
    const chunk = new Uint8Array(64 * 1024);
    const until = Date.now() + ms;
    while (!c.ended && !c.socket.destroyed && Date.now() < until) await c.write(chunk);
  },

  /**
   * A seeder: handshake, extended handshake (ut_metadata, metadata_size),
   * have all / bitfield, unchoke; answers requests and ut_metadata requests.
   * Options make it lie: corrupt piece data, send wrong-sized blocks, metadata
   * pieces of the wrong size, a `metadata_size` that is not the real one, or
   * metadata bytes that do not hash to the info-hash.
   */
  seeder:
    (
      content: SeedContent,
      lie: {
        corruptPieces?: boolean;
        shortBlocks?: boolean;
        metadataPieceSize?: number;
        metadataSize?: number;
        wrongMetadata?: boolean;
        rejectMetadata?: boolean;
        noFast?: boolean;
      } = {},
    ) =>
    async (c: ScriptedConnection) => {
      const hs = await c.readHandshake();
      if (!hs) return;
      await c.sendHandshake({ infoHash: content.infoHash, reserved: makeReserved({ extended: true, fast: !lie.noFast }) });
      const info = content.info;
      await c.sendExtendedHandshake({ m: { ut_metadata: 3 }, v: 'hostile 1.0', ...(info ? { metadataSize: lie.metadataSize ?? info.length } : {}) });
      let pieceCount = 0;
      if (content.data && content.pieceLength) {
        pieceCount = Math.ceil(content.data.length / content.pieceLength);
        await c.send(lie.noFast ? { type: 'bitfield', bitfield: makeBitfield(pieceCount, true) } : { type: 'have_all' });
        await c.send({ type: 'unchoke' });
      }
      let theirUtMetadata: number | undefined;
      for (;;) {
        const m = await c.readMessage();
        if (!m) return;
        if (m.type === 'extended' && m.extId === 0) {
          theirUtMetadata = decodeExtendedHandshake(m.payload).value.m.get('ut_metadata');
        } else if (m.type === 'extended' && m.extId === 3 && info && theirUtMetadata) {
          const r = decodeUtMetadata(m.payload).value;
          if (r.msgType !== 'request') continue;
          if (lie.rejectMetadata) {
            await c.send({ type: 'extended', extId: theirUtMetadata, payload: encodeUtMetadata({ msgType: 'reject', piece: r.piece }) });
            continue;
          }
          const served = lie.wrongMetadata ? info.map((b, i) => (i === info.length - 2 ? b ^ 1 : b)) : info;
          const start = r.piece * UT_METADATA_PIECE_LENGTH;
          const size = lie.metadataPieceSize ?? Math.min(UT_METADATA_PIECE_LENGTH, served.length - start);
          const data = new Uint8Array(size);
          data.set(served.subarray(start, start + size));
          await c.send({ type: 'extended', extId: theirUtMetadata, payload: encodeUtMetadata({ msgType: 'data', piece: r.piece, totalSize: lie.metadataSize ?? info.length, data }) });
        } else if (m.type === 'request' && content.data) {
          const start = m.index * content.pieceLength! + m.begin;
          let block = content.data.slice(start, start + m.length);
          if (lie.corruptPieces) block = block.map((b) => b ^ 0xff);
          if (lie.shortBlocks) block = block.subarray(0, block.length - 1);
          await c.send({ type: 'piece', index: m.index, begin: m.begin, block });
        }
      }
    },
};

/** SHA-1 of bytes (tests build info-hashes with it). */
export const sha1 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha1').update(b).digest());

/**
 * A single-file torrent made in the test, random data: 5 pieces of 32 KiB, the last one
 * 1000 bytes. `content` is what `behaviors.seeder` serves.
 */
export function testTorrent(): { pieceLength: number; data: Uint8Array; pieceHashes: Uint8Array; info: Uint8Array; infoHash: Uint8Array; content: Required<SeedContent> } {
  const pieceLength = 32768;
  const data = new Uint8Array(randomBytes(pieceLength * 4 + 1000));
  const pieceHashes = new Uint8Array(20 * 5);
  for (let i = 0; i < 5; i++) pieceHashes.set(sha1(data.subarray(i * pieceLength, (i + 1) * pieceLength)), i * 20);
  const info = encode({ length: data.length, name: 'test.bin', 'piece length': pieceLength, pieces: pieceHashes });
  const infoHash = sha1(info);
  return { pieceLength, data, pieceHashes, info, infoHash, content: { infoHash, info, data, pieceLength } };
}
