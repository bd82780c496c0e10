import type { Argv } from 'yargs';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { bytesEqual, toHex } from '../../lib/core/bytes.js';
import { UsageError } from '../../lib/core/errors.js';
import { fetchMetadata, torrentFromMetadata } from '../../lib/engine/metadata-fetch.js';
import { resolveTarget } from '../../lib/engine/peer-source.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { pieceHashV1, pieceSize } from '../../lib/metainfo/layout.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { withFrames, withJson, withTimeout } from '../options.js';
import { ioOf } from '../io.js';
import { EXIT } from '../exit-codes.js';
import { noPeerGaveIt, reportSkipped, tryPeers } from '../peer-attempts.js';

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
  const a = await tryPeers(argv, target, io, { connect: () => (torrent ? { pieceCount: torrent.pieceCount } : {}) }, async (conn, { left, answeredWrong }) => {
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
      answeredWrong(`${conn.peer}: piece ${argv.index} hashes to ${toHex(got)}, the torrent says ${toHex(want)} (hash_mismatch)`);
      return undefined;
    }
    await writeFile(argv.o, data);
    return { peer: conn.peer, client: conn.remoteClient, length, got, ms };
  });
  if (!a.result) return noPeerGaveIt(io, argv, a, { index: argv.index, hashOk: false, file: null }, (tried) => `no peer gave piece ${argv.index} with the right hash (${tried}); nothing written`);
  const { peer, client, length, got, ms } = a.result;
  const blocks = Math.ceil(length / 16384);
  if (argv.json) {
    io.out(JSON.stringify({ peer, index: argv.index, length, blocks, sha1: toHex(got), hashOk: true, file: argv.o, ms: Math.round(ms), client: client.client, failures: a.failures, skippedSelf: a.skippedSelf }, null, 2));
  } else {
    reportSkipped(io, a);
    io.out(`${peer} (${client.client}${client.version ? ` ${client.version}` : ''}): piece ${argv.index}, ${length} bytes in ${blocks} blocks, ${ms.toFixed(0)} ms`);
    io.out(`SHA-1 ${toHex(got)} matches the torrent; wrote ${argv.o}`);
  }
  return EXIT.ok;
}

function check(t: Torrent, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= t.pieceCount) throw new UsageError(`piece index ${index} is out of range: the torrent has ${t.pieceCount} pieces (0..${t.pieceCount - 1})`);
  if (!t.pieces) throw new UsageError('this is a v2-only torrent: piece needs v1 piece hashes (SHA-1), which it does not have');
}
