import type { Argv } from 'yargs';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { bytesEqual, toHex } from '../../lib/core/bytes.js';
import { TransportError, UsageError } from '../../lib/core/errors.js';
import { PeerConnection, PeerError, makePeerId } from '../../lib/engine/peer-connection.js';
import { ANSWERED_NO_CODES } from '../../lib/engine/peer-error.js';
import { fetchMetadata, torrentFromMetadata } from '../../lib/engine/metadata-fetch.js';
import { findPeers, resolveTarget } from '../../lib/engine/peer-source.js';
import { formatEndpoint } from '../../lib/wire/address.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { pieceHashV1, pieceSize } from '../../lib/metainfo/layout.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { withFrames, withJson, withTimeout } from '../options.js';
import { ioOf } from '../io.js';
import { EXIT } from '../exit-codes.js';
import { frameSink } from './handshake.js';

export const command = 'piece <target> <index>';
export const describe = 'Fetch one piece from a peer in 16 KiB blocks with a request pipeline, check it against its SHA-1, write it to a file';

export function builder(y: Argv) {
  return withTimeout(withFrames(withJson(y)), 30)
    .positional('target', { type: 'string', demandOption: true, describe: '.torrent file or magnet link (metadata is fetched first)' })
    .positional('index', { type: 'number', demandOption: true, describe: 'Piece index (0-based)' })
    .option('peer', { type: 'string', array: true, describe: 'HOST:PORT (repeatable); default: the target\'s trackers' })
    .option('o', { alias: 'output', type: 'string', demandOption: true, describe: 'File to write the piece to' })
    .option('pipeline', { type: 'number', default: 16, describe: 'Block requests kept outstanding' })
    .example('$0 piece x.torrent 0 --peer 127.0.0.1:6881 -o piece0.bin', 'one piece, hash checked')
    .epilogue('Exit codes: 0 written and the hash matches; 1 a peer answered with data of the wrong hash (nothing written); 2 usage (bad HOST:PORT, index out of range); 3 TARGET undecodable; 4 every peer refused, timed out or broke the protocol.');
}

interface Args {
  target: string;
  index: number;
  peer?: string[];
  o: string;
  pipeline: number;
  json: boolean;
  frames: boolean;
  timeout: number;
  io?: unknown;
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  const target = await resolveTarget(argv.target);
  let torrent: Torrent | undefined = target.torrent;
  if (torrent) check(torrent, argv.index);
  const deadline = Date.now() + argv.timeout * 1000;
  const left = (): number => Math.max(1, deadline - Date.now());
  const peerId = makePeerId();
  const peers = await findPeers(target, { ...(argv.peer ? { peers: argv.peer } : {}), peerId, timeoutMs: left() });
  const skippedSelf = (peers.skippedSelf ?? []).map((p) => `${formatEndpoint(p.host, p.port)}`);
  const sink = frameSink(argv);
  const failures: string[] = [];
  let answeredNo = false;
  for (const addr of peers) {
    if (Date.now() >= deadline) break;
    let conn: PeerConnection | undefined;
    try {
      conn = await PeerConnection.connect(addr.host, addr.port, {
        infoHash: target.infoHash,
        peerId,
        connectTimeoutMs: Math.min(left(), 10_000),
        handshakeTimeoutMs: Math.min(left(), 10_000),
        ...(torrent ? { pieceCount: torrent.pieceCount } : {}),
        ...(sink ? { onFrame: sink } : {}),
      });
      if (!torrent) {
        const r = await fetchMetadata(conn, target.infoHash, { timeoutMs: left() });
        torrent = parseTorrent(torrentFromMetadata(r.info, target.trackers));
        check(torrent, argv.index);
        conn.setPieceCount(torrent.pieceCount);
      }
      const length = pieceSize(torrent, argv.index);
      const want = pieceHashV1(torrent, argv.index)!;
      const t0 = performance.now();
      const data = await conn.fetchPiece(argv.index, length, { pipeline: argv.pipeline, timeoutMs: left() });
      const ms = performance.now() - t0;
      const got = new Uint8Array(createHash('sha1').update(data).digest());
      if (!bytesEqual(got, want)) {
        answeredNo = true;
        failures.push(`${conn.peer}: piece ${argv.index} hashes to ${toHex(got)}, the torrent says ${toHex(want)} (hash_mismatch)`);
        continue;
      }
      await writeFile(argv.o, data);
      const blocks = Math.ceil(length / 16384);
      if (argv.json) {
        io.out(JSON.stringify({ peer: conn.peer, index: argv.index, length, blocks, sha1: toHex(got), hashOk: true, file: argv.o, ms: Math.round(ms), client: conn.remoteClient.client, failures, skippedSelf }, null, 2));
      } else {
        for (const a of skippedSelf) io.err(`skipped ${a}: our own entry, echoed back by a tracker`);
        for (const f of failures) io.err(`skipped ${f}`);
        io.out(`${conn.peer} (${conn.remoteClient.client}${conn.remoteClient.version ? ` ${conn.remoteClient.version}` : ''}): piece ${argv.index}, ${length} bytes in ${blocks} blocks, ${ms.toFixed(0)} ms`);
        io.out(`SHA-1 ${toHex(got)} matches the torrent; wrote ${argv.o}`);
      }
      return EXIT.ok;
    } catch (e) {
      if (!(e instanceof PeerError)) throw e;
      if (ANSWERED_NO_CODES.has(e.code)) answeredNo = true;
      failures.push(`${e.message} (${e.code})`);
    } finally {
      conn?.close();
    }
  }
  if (argv.json) io.out(JSON.stringify({ index: argv.index, hashOk: false, file: null, failures }, null, 2));
  else for (const f of failures) io.err(f);
  if (failures.length === 0) throw new TransportError('timeout', `no peer tried within ${argv.timeout} s`);
  io.err(`no peer gave piece ${argv.index} with the right hash (${failures.length} tried${answeredNo ? '' : ', none answered'}); nothing written`);
  return answeredNo ? EXIT.failure : EXIT.network;
}

function check(t: Torrent, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= t.pieceCount) throw new UsageError(`piece index ${index} is out of range: the torrent has ${t.pieceCount} pieces (0..${t.pieceCount - 1})`);
  if (!t.pieces) throw new UsageError('this is a v2-only torrent: piece needs v1 piece hashes (SHA-1), which it does not have');
}
