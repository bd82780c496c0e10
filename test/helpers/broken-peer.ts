import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { encode } from '../../lib/bencode/encode.js';
import { encodeUtf8 } from '../../lib/core/bytes.js';
import { HANDSHAKE_LENGTH, decodeHandshake, encodeHandshake, makeReserved, supportsExtended, supportsFast } from '../../lib/wire/handshake.js';
import { WireFramer } from '../../lib/wire/framer.js';
import { encodeMessage, parseMessage, type Message } from '../../lib/wire/messages.js';
import { decodeExtendedHandshake, encodeExtendedHandshake } from '../../lib/wire/extended.js';
import { decodeUtMetadata, encodeUtMetadata, UT_METADATA_PIECE_LENGTH } from '../../lib/wire/ut-metadata.js';
import { encodeUtPex, type PexPeer } from '../../lib/wire/ut-pex.js';
import { makeBitfield } from '../../lib/wire/bitfield.js';
import type { ComplyTarget } from '../../lib/compliance/types.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { rootFromPieceLayer, v2PieceHash } from '../../lib/metainfo/merkle.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { answerHashRequest } from '../../lib/engine/hash-answer.js';
import { supportsV2 } from '../../lib/wire/handshake.js';

/**
 * A seeder on loopback that breaks the protocol in exactly ONE configurable
 * way (or none). The compliance tests run the checker against each fault to
 * show every check can fail, and against `fault: undefined` to show each passes.
 */
export const FAULTS = [
  'bad_protocol_string',
  'wrong_info_hash',
  'short_peer_id',
  'message_before_handshake',
  'extended_without_bit',
  'fast_without_bit',
  'extended_when_off',
  'fast_when_off',
  'bitfield_twice',
  'bitfield_late',
  'bitfield_wrong_length',
  'spare_bits',
  'have_out_of_range',
  'piece_before_request',
  'wrong_piece_bytes',
  'oversize_piece',
  'serve_when_choked',
  'no_reject_when_choked',
  'serve_oversize_request',
  'serve_beyond_piece',
  'serve_bad_index',
  'ignore_cancel',
  'keepalive_close',
  'unknown_id_hang',
  'malformed_frame',
  'ext_handshake_not_dict',
  'm_id_out_of_range',
  'lying_metadata_size',
  'metadata_piece_wrong_size',
  'wrong_metadata',
  'metadata_beyond_served',
  'pex_malformed',
  'pex_too_often',
  'pex_too_many',
  'pex_overlap',
  'no_bitfield_with_fast',
  'allowed_fast_not_served',
  'double_answer',
  'no_reject_on_choke',
  // BEP 52 (hybrid test torrents only):
  'wrong_hashes',
  'no_hash_answer',
  'hashes_for_invalid',
] as const;
export type Fault = (typeof FAULTS)[number];

export interface TestTorrent {
  readonly target: ComplyTarget & { infoHash: Uint8Array; info: Uint8Array; pieces: Uint8Array };
  /** The whole content. */
  readonly data: Uint8Array;
  /** A .torrent file for it. */
  readonly torrentFile: Uint8Array;
}

/**
 * A single-file torrent of deterministic bytes (`length` bytes, `pieceLength`
 * pieces). With `v2`, a hybrid (BEP 52): a file tree with its pieces root and
 * piece layer beside the v1 pieces, and the target is the parsed Torrent.
 */
export function makeTestTorrent(length: number, pieceLength: number, name = 'comply-test.bin', opts: { v2?: boolean } = {}): TestTorrent {
  const data = new Uint8Array(length);
  let x = 0x12345678;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  const pieceCount = Math.ceil(length / pieceLength);
  const pieces = new Uint8Array(pieceCount * 20);
  for (let i = 0; i < pieceCount; i++) pieces.set(createHash('sha1').update(data.subarray(i * pieceLength, (i + 1) * pieceLength)).digest(), i * 20);
  if (opts.v2) {
    const layer = new Uint8Array(pieceCount * 32);
    for (let i = 0; i < pieceCount; i++) layer.set(v2PieceHash(data.subarray(i * pieceLength, (i + 1) * pieceLength), pieceLength, length), i * 32);
    const root = rootFromPieceLayer(layer, pieceLength);
    const infoDict = {
      'file tree': new Map([[encodeUtf8(name), new Map([[encodeUtf8(''), { length, 'pieces root': root }]])]]),
      length,
      'meta version': 2,
      name: encodeUtf8(name),
      'piece length': pieceLength,
      pieces,
    };
    const torrentFile = encode({ info: infoDict, 'piece layers': new Map([[root, layer]]) });
    const t = parseTorrent(torrentFile);
    return { data, torrentFile, target: t as Torrent & { infoHash: Uint8Array; pieces: Uint8Array } };
  }
  const info = encode({ length, name: encodeUtf8(name), 'piece length': pieceLength, pieces });
  const infoHash = new Uint8Array(createHash('sha1').update(info).digest());
  const torrentFile = encode({ info: { length, name: encodeUtf8(name), 'piece length': pieceLength, pieces } });
  return {
    data,
    torrentFile,
    target: { infoHash, info, pieces, pieceLength, pieceCount, length, lastPieceLength: length - (pieceCount - 1) * pieceLength },
  };
}

export interface BrokenPeer {
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** Our extension ids as the broken peer announces them (deliberately not btscope's, so ids are really learned). */
const M = { ut_metadata: 3, ut_pex: 4 } as const;
const BLOCK = 16 * 1024;

export async function startBrokenPeer(torrent: TestTorrent, fault?: Fault): Promise<BrokenPeer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    serve(socket, torrent, fault);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function serve(socket: Socket, t: TestTorrent, fault: Fault | undefined): void {
  const { target, data } = t;
  const isHybrid = !!target.files?.some((f) => f.piecesRoot);
  const send = (...ms: Message[]) => {
    if (!socket.destroyed) for (const m of ms) socket.write(encodeMessage(m));
  };
  const pieceSize = (i: number) => (i === target.pieceCount - 1 ? target.lastPieceLength : target.pieceLength);
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, f: () => void) => {
    const h = setTimeout(() => {
      timers.delete(h);
      if (!socket.destroyed) f();
    }, ms);
    timers.add(h);
  };
  socket.on('close', () => {
    for (const h of timers) clearTimeout(h);
  });
  socket.on('drain', () => {
    if (!flushScheduled && queue.length > 0) flush();
  });

  let pre = new Uint8Array(0);
  let framer: WireFramer | undefined;
  let fast = false;
  let ext = false;
  let choked = true;
  let hung = false;
  let theirPex: number | undefined;
  const allowedFast = new Set<number>([target.pieceCount - 1]);
  const queue: Array<{ index: number; begin: number; length: number }> = [];
  let flushScheduled = false;

  const reject = (r: { index: number; begin: number; length: number }) => send({ type: 'reject_request', ...r });
  // Like a real seeder, it queues requests and sends only while the socket drains (64 KiB in Node's buffer at most):
  // a downloader that stops reading leaves requests in this queue, where a cancel can still reach them.
  const flush = () => {
    flushScheduled = false;
    while (queue.length > 0 && !socket.destroyed && socket.writableLength < 64 * 1024) {
      const r = queue.shift()!;
      const start = r.index * target.pieceLength + r.begin;
      let block: Uint8Array = new Uint8Array(r.length);
      block.set(data.subarray(start, Math.min(start + r.length, data.length)));
      if (fault === 'wrong_piece_bytes') {
        block = block.slice();
        block[0]! ^= 0xff;
      }
      if (fault === 'oversize_piece') {
        const bigger = new Uint8Array(r.length + 16);
        bigger.set(block);
        block = bigger;
      }
      send({ type: 'piece', index: r.index, begin: r.begin, block });
      if (fault === 'double_answer' && fast) reject(r);
    }
  };
  const enqueue = (r: { index: number; begin: number; length: number }) => {
    queue.push(r);
    if (!flushScheduled) {
      flushScheduled = true;
      // Served a moment later, as a real client reading from disk: a cancel in the same read gets there first.
      later(20, flush);
    }
  };

  const onHandshake = (bytes: Uint8Array) => {
    const theirs = decodeHandshake(bytes, 0).value;
    const theyFast = supportsFast(theirs.reserved);
    const theyExt = supportsExtended(theirs.reserved);
    const v2 = isHybrid && supportsV2(theirs.reserved);
    const reserved = makeReserved({ extended: fault !== 'extended_without_bit', fast: fault !== 'fast_without_bit', v2 });
    fast = (theyFast && fault !== 'fast_without_bit') || fault === 'fast_without_bit' || (fault === 'fast_when_off' && !theyFast);
    ext = (theyExt && fault !== 'extended_without_bit') || fault === 'extended_without_bit' || (fault === 'extended_when_off' && !theyExt);
    const peerId = encodeUtf8('-XX0001-brokenpeer01');
    let hs = encodeHandshake({ reserved, infoHash: fault === 'wrong_info_hash' ? new Uint8Array(20).fill(0xee) : target.infoHash, peerId });
    if (fault === 'bad_protocol_string') {
      hs = hs.slice();
      hs[19] = 0x4c; // "BitTorrent protocoL"
    }
    if (fault === 'message_before_handshake') send({ type: 'unchoke' });
    if (fault === 'short_peer_id') {
      socket.end(hs.subarray(0, 58));
      return;
    }
    socket.write(hs);
    // The first message: have all (fast) or a full bitfield.
    const full = makeBitfield(target.pieceCount, true);
    if (fault === 'bitfield_late') send({ type: 'have', index: 0 });
    if (fault === 'spare_bits') {
      const bf = full.slice();
      bf[bf.length - 1] = 0xff;
      send({ type: 'bitfield', bitfield: bf });
    } else if (fault === 'bitfield_wrong_length') send({ type: 'bitfield', bitfield: Uint8Array.of(...full, 0xff) });
    else if (fault === 'no_bitfield_with_fast') {
      /* nothing */
    } else if (fast && fault !== 'bitfield_twice') send({ type: 'have_all' });
    else send({ type: 'bitfield', bitfield: full });
    if (fault === 'bitfield_twice') send({ type: 'bitfield', bitfield: full });
    if (ext) {
      const metadataSize = target.info.length + (fault === 'lying_metadata_size' ? 100 : 0);
      const payload =
        fault === 'ext_handshake_not_dict'
          ? encode([encodeUtf8('m')])
          : encodeExtendedHandshake({ m: fault === 'm_id_out_of_range' ? { ...M, ut_pex: 300 } : M, v: 'broken-peer 1.0', reqq: 2000, metadataSize });
      send({ type: 'extended', extId: 0, payload });
    }
    if (fast) for (const i of allowedFast) send({ type: 'allowed_fast', index: i });
    if (fault === 'have_out_of_range') send({ type: 'have', index: target.pieceCount });
    if (fault === 'malformed_frame') socket.write(Uint8Array.of(0, 0, 0, 6, 4, 0, 0, 0, 0, 0));
  };

  const sendPex = () => {
    if (theirPex === undefined) return;
    const peers = (n: number, base: number): PexPeer[] => Array.from({ length: n }, (_, i) => ({ ip: `127.0.${base}.${i + 1}`, port: 6881 + i, flags: 0x10 }));
    let payload: Uint8Array;
    if (fault === 'pex_malformed') payload = encode({ added: Uint8Array.of(127, 0, 0, 1, 0x1a, 0xe1, 9), 'added.f': Uint8Array.of(0) });
    else if (fault === 'pex_too_many') payload = encodeUtPex({ added: peers(51, 1) });
    else if (fault === 'pex_overlap') payload = encodeUtPex({ added: peers(2, 1), dropped: peers(1, 1) });
    else payload = encodeUtPex({ added: peers(2, 1), dropped: peers(1, 2) });
    send({ type: 'extended', extId: theirPex, payload });
    if (fault === 'pex_too_often') later(50, () => send({ type: 'extended', extId: theirPex!, payload: encodeUtPex({ added: peers(1, 3) }) }));
  };

  const onMessage = (m: Message, theirMetadataId: { id?: number }) => {
    if (hung) return;
    switch (m.type) {
      case 'keep_alive':
        if (fault === 'keepalive_close') socket.destroy();
        return;
      case 'unknown':
        if (fault === 'unknown_id_hang') hung = true;
        return;
      case 'interested':
        choked = false;
        send({ type: 'unchoke' });
        if (fault === 'piece_before_request') send({ type: 'piece', index: 0, begin: 0, block: data.subarray(0, Math.min(BLOCK, pieceSize(0))) });
        return;
      case 'not_interested':
        choked = true;
        send({ type: 'choke' });
        if (fast && fault !== 'no_reject_on_choke') for (const r of queue) reject(r);
        queue.length = 0;
        return;
      case 'request': {
        const r = { index: m.index, begin: m.begin, length: m.length };
        const badIndex = m.index >= target.pieceCount;
        const oversize = m.length > BLOCK;
        const beyond = !badIndex && m.begin + m.length > pieceSize(m.index);
        if ((badIndex && fault !== 'serve_bad_index') || (oversize && fault !== 'serve_oversize_request') || (beyond && !oversize && fault !== 'serve_beyond_piece')) {
          if (fast) reject(r);
          return;
        }
        if (choked) {
          const mayServe = (allowedFast.has(m.index) && fault !== 'allowed_fast_not_served') || fault === 'serve_when_choked';
          if (!mayServe) {
            if (fast && fault !== 'no_reject_when_choked') reject(r);
            return;
          }
        }
        enqueue(r);
        return;
      }
      case 'cancel': {
        if (fault === 'ignore_cancel') return;
        const i = queue.findIndex((q) => q.index === m.index && q.begin === m.begin && q.length === m.length);
        if (i >= 0) {
          queue.splice(i, 1);
          if (fast) reject({ index: m.index, begin: m.begin, length: m.length });
        }
        return;
      }
      case 'extended': {
        if (m.extId === 0) {
          const hs = decodeExtendedHandshake(m.payload, 0).value;
          theirMetadataId.id = hs.m.get('ut_metadata');
          theirPex = hs.m.get('ut_pex');
          if (ext) later(5, sendPex);
          return;
        }
        if (m.extId === M.ut_metadata && theirMetadataId.id) {
          const req = decodeUtMetadata(m.payload, 0).value;
          if (req.msgType !== 'request') return;
          const info = target.info;
          const n = Math.ceil(info.length / UT_METADATA_PIECE_LENGTH);
          const reply = (payload: Uint8Array) => send({ type: 'extended', extId: theirMetadataId.id!, payload });
          if (req.piece >= n) {
            if (fault === 'metadata_beyond_served') reply(encodeUtMetadata({ msgType: 'data', piece: req.piece, totalSize: info.length, data: new Uint8Array(10) }));
            else reply(encodeUtMetadata({ msgType: 'reject', piece: req.piece }));
            return;
          }
          let piece: Uint8Array = info.subarray(req.piece * UT_METADATA_PIECE_LENGTH, (req.piece + 1) * UT_METADATA_PIECE_LENGTH);
          if (fault === 'metadata_piece_wrong_size') piece = piece.subarray(0, piece.length - 1);
          if (fault === 'wrong_metadata') {
            piece = piece.slice();
            piece[piece.length - 2]! ^= 0x01;
          }
          reply(encodeUtMetadata({ msgType: 'data', piece: req.piece, totalSize: info.length, data: piece }));
        }
        return;
      }
      case 'hash_request': {
        // BEP 52: one hashes or hash reject per request, echoing its fields.
        if (!isHybrid || fault === 'no_hash_answer') return;
        const { type: _t, ...req } = m;
        const a = answerHashRequest(target as unknown as Torrent, req);
        if (!a.ok && fault === 'hashes_for_invalid') {
          send({ type: 'hashes', ...req, hashes: new Uint8Array(Math.min(req.length, 64) * 32).fill(0x5a) });
          return;
        }
        if (!a.ok) {
          send({ type: 'hash_reject', ...req });
          return;
        }
        let hashes = a.hashes;
        if (fault === 'wrong_hashes') {
          hashes = hashes.slice();
          hashes[0]! ^= 0x01;
        }
        send({ type: 'hashes', ...req, hashes });
        return;
      }
      default:
        return;
    }
  };

  const ids: { id?: number } = {};
  socket.on('data', (chunk: Buffer) => {
    let bytes: Uint8Array = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    try {
      if (!framer) {
        const joined = new Uint8Array(pre.length + bytes.length);
        joined.set(pre);
        joined.set(bytes, pre.length);
        if (joined.length < HANDSHAKE_LENGTH) {
          pre = joined;
          return;
        }
        framer = new WireFramer({ expectHandshake: false, startOffset: HANDSHAKE_LENGTH });
        onHandshake(joined.subarray(0, HANDSHAKE_LENGTH));
        bytes = joined.subarray(HANDSHAKE_LENGTH);
      }
      for (const f of framer.push(bytes)) onMessage(parseMessage(f.bytes, f.offset), ids);
    } catch {
      socket.destroy();
    }
  });
}
