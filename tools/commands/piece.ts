import type { Argv } from 'yargs';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { bytesEqual, toHex } from '../../lib/core/bytes.js';
import { UsageError } from '../../lib/core/errors.js';
import { fetchMetadata, torrentFromMetadata } from '../../lib/engine/metadata-fetch.js';
import { resolveTarget } from '../peer-source.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { pieceHashV1, pieceHashV2, pieceSize } from '../../lib/metainfo/layout.js';
import { checkPieceV2 } from '../../lib/metainfo/piece-check.js';
import { fetchPieceLayers, withPieceLayers } from '../../lib/engine/piece-layer-fetch.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { withEncryption, withFrames, withJson, withTimeout } from '../options.js';
import { ioOf } from '../io.js';
import { EXIT } from '../exit-codes.js';
import { noPeerGaveIt, reportSkipped, tryPeers } from '../peer-attempts.js';
import { checkOutputFile, plural } from '../shared.js';

export const command = 'piece <target> <index>';
export const describe = 'Fetch one piece from a peer in 16 KiB blocks with a request pipeline, check it against its hash (SHA-1, or for v2-only torrents its BEP 52 merkle hash), write it to a file';

export function builder(y: Argv) {
  return withEncryption(withTimeout(withFrames(withJson(y)), 30), 'plaintext')
    .positional('target', { type: 'string', demandOption: true, describe: '.torrent file or magnet link (metadata is fetched first)' })
    .positional('index', { type: 'number', demandOption: true, describe: 'Piece index (0-based)' })
    .option('peer', { type: 'string', array: true, describe: 'HOST:PORT (repeatable); default: the target\'s trackers' })
    .option('o', { alias: 'output', type: 'string', demandOption: true, describe: 'File to write the piece to' })
    .option('pipeline', { type: 'number', default: 16, describe: 'Block requests kept outstanding' })
    .example('$0 piece x.torrent 0 --peer 127.0.0.1:6881 -o piece0.bin', 'one piece, hash checked')
    .epilogue('A v2-only torrent (BEP 52) is checked against its piece layer (for a magnet link, fetched from the peer by hash request) or its file\'s pieces root. Exit codes: 0 written and the hash matches; 1 a peer answered with data of the wrong hash (nothing written); 2 usage (bad HOST:PORT, index out of range); 3 TARGET undecodable; 4 every peer refused, timed out or broke the protocol.');
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
  await checkOutputFile(argv.o);
  const a = await tryPeers(argv, target, io, { connect: () => (torrent ? { pieceCount: torrent.pieceCount } : {}) }, async (conn, { left, answeredWrong }) => {
    if (!torrent) {
      const r = await fetchMetadata(conn, target.infoHash, { timeoutMs: left(), ...(target.infoHashV2 ? { infoHashV2: target.infoHashV2 } : {}) });
      torrent = parseTorrent(torrentFromMetadata(r.info, target.trackers));
      check(torrent, argv.index);
      conn.setPieceCount(torrent.pieceCount);
    }
    if (!torrent.pieces && !pieceHashV2(torrent, argv.index)) {
      // A v2 magnet's info dict has no piece layers: this peer's (BEP 52 hash requests; a v2-only swarm
      // is v2 by its info-hash, no reserved bit needed), checked against the pieces roots.
      torrent = withPieceLayers(torrent, await fetchPieceLayers(conn, torrent, { timeoutMs: left() }));
    }
    const length = pieceSize(torrent, argv.index);
    const t0 = performance.now();
    const data = await conn.fetchPiece(argv.index, length, { pipeline: argv.pipeline, timeoutMs: left() });
    const ms = performance.now() - t0;
    const verdict = judge(torrent, argv.index, data);
    if (!verdict.ok) {
      answeredWrong(`${conn.peer}: piece ${argv.index} hashes to ${toHex(verdict.got)} (${verdict.kind}), the torrent says ${toHex(verdict.want)} (hash_mismatch)`);
      return undefined;
    }
    await writeFile(argv.o, data);
    return { peer: conn.peer, client: conn.remoteClient, length, verdict, ms };
  });
  if (!a.result) return noPeerGaveIt(io, argv, a, { index: argv.index, hashOk: false, file: null }, (tried) => `no peer gave piece ${argv.index} with the right hash (${tried}); nothing written`);
  const { peer, client, length, verdict, ms } = a.result;
  const blocks = Math.ceil(length / 16384);
  const hash = toHex(verdict.got);
  if (argv.json) {
    io.out(JSON.stringify({ peer, index: argv.index, length, blocks, sha1: verdict.kind === 'SHA-1' ? hash : null, hashType: verdict.kind === 'SHA-1' ? 'sha1' : 'v2', hash, hashOk: true, file: argv.o, ms: Math.round(ms), client: client.client, failures: a.failures, skippedSelf: a.skippedSelf }, null, 2));
  } else {
    reportSkipped(io, a);
    io.out(`${peer} (${client.client}${client.version ? ` ${client.version}` : ''}): piece ${argv.index}, ${length} bytes in ${blocks} block${blocks === 1 ? '' : 's'}, ${ms.toFixed(0)} ms`);
    io.out(`${verdict.kind} ${hash} matches the torrent; wrote ${argv.o}`);
  }
  return EXIT.ok;
}

/** The piece against its SHA-1 where the torrent has one (v1, hybrid), else its BEP 52 merkle hash. */
function judge(t: Torrent, index: number, data: Uint8Array): { ok: boolean; got: Uint8Array; want: Uint8Array; kind: 'SHA-1' | 'SHA-256 merkle (BEP 52)' } {
  const v1 = pieceHashV1(t, index);
  if (v1) {
    const got = new Uint8Array(createHash('sha1').update(data).digest());
    return { ok: bytesEqual(got, v1), got, want: v1, kind: 'SHA-1' };
  }
  const v2 = checkPieceV2(t, index, data);
  if (!v2) throw new UsageError(`piece ${index} has no hash to check it against (padding, or no piece layer for its file)`);
  return { ...v2, kind: 'SHA-256 merkle (BEP 52)' };
}

function check(t: Torrent, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= t.pieceCount) throw new UsageError(`piece index ${index} is out of range: the torrent has ${plural(t.pieceCount, 'piece')} (0..${t.pieceCount - 1})`);
  if (!t.pieces && !t.infoHashV2) throw new UsageError('the torrent has neither v1 piece hashes nor a v2 part: nothing to check a piece against');
}
