import type { Argv } from 'yargs';
import { writeFile } from 'node:fs/promises';
import { bytesEqual, formatBytes, toHex } from '../../lib/core/bytes.js';
import { UsageError } from '../../lib/core/errors.js';
import { fetchMetadata, torrentFromMetadata } from '../../lib/engine/metadata-fetch.js';
import { resolveTarget } from '../peer-source.js';
import { parseInfoDict, parseTorrent } from '../../lib/metainfo/parse.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import type { PeerConnection } from '../../lib/peer/peer-connection.js';
import { fetchPieceLayers, layerRequests } from '../../lib/engine/piece-layer-fetch.js';
import { withEncryption, withFrames, withJson, withTimeout } from '../options.js';
import { ioOf, type Io } from '../io.js';
import { EXIT } from '../exit-codes.js';
import { noPeerGaveIt, reportSkipped, tryPeers } from '../peer-attempts.js';
import { checkOutputFile, plural } from '../shared.js';

export const command = 'metadata <magnet>';
export const describe = 'Fetch a torrent\'s info dict from peers (BEP 9 ut_metadata), check its SHA-1 against the info-hash, write a .torrent';

export function builder(y: Argv) {
  return withEncryption(withTimeout(withFrames(withJson(y)), 30), 'plaintext')
    .positional('magnet', { type: 'string', demandOption: true, describe: 'magnet link (or 40-hex info-hash)' })
    .option('peer', { type: 'string', array: true, describe: 'HOST:PORT to ask (repeatable); default: the magnet\'s x.pe, then its trackers' })
    .option('o', { alias: 'output', type: 'string', describe: 'Where to write the .torrent (default: <info-hash>.torrent)' })
    .example('$0 metadata "magnet:?xt=urn:btih:..." --peer 127.0.0.1:6881 -o x.torrent', 'metadata from one peer')
    .epilogue('Peers are tried one after another until one gives metadata that hashes right. Exit codes: 0 written; 1 a peer answered but gave no metadata or metadata of the wrong hash; 2 usage; 3 MAGNET undecodable; 4 every peer refused, timed out or broke the protocol.');
}

interface Args {
  magnet: string;
  peer?: string[];
  o?: string;
  json: boolean;
  frames: boolean;
  timeout: number;
  io?: unknown;
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  const target = await resolveTarget(argv.magnet);
  if (target.torrent) throw new UsageError(`${argv.magnet} is a .torrent already: it has its metadata`);
  await checkOutputFile(argv.o ?? `${toHex(target.infoHash)}.torrent`);
  const a = await tryPeers(argv, target, io, { notes: true }, async (conn, { left }) => {
    const r = await fetchMetadata(conn, target.infoHash, { timeoutMs: left(), ...(target.infoHashV2 ? { infoHashV2: target.infoHashV2 } : {}) });
    const layers = await v2Layers(conn, parseInfoDict(r.info), left(), io);
    const file = torrentFromMetadata(r.info, target.trackers, layers);
    const t = parseTorrent(file); // btscope must accept what it writes
    const out = argv.o ?? `${toHex(target.infoHash)}.torrent`;
    await writeFile(out, file);
    return { r, file, t, out };
  });
  if (!a.result) return noPeerGaveIt(io, argv, a, { infoHash: toHex(target.infoHash), file: null }, (tried) => `no peer gave metadata for ${toHex(target.infoHash)} (${tried})`);
  const { r, file, t, out } = a.result;
  if (argv.json) {
    io.out(JSON.stringify({ peer: r.peer, infoHash: toHex(target.infoHash), infoHashV2: t.infoHashV2 ? toHex(t.infoHashV2) : null, name: t.name, metadataSize: r.info.length, metadataPieces: r.pieces, length: t.length, pieceCount: t.pieceCount, pieceLayers: t.pieceLayers.size, file: out, failures: a.failures, skippedSelf: a.skippedSelf }, null, 2));
  } else {
    reportSkipped(io, a);
    const which = t.infoHash && bytesEqual(t.infoHash, target.infoHash) ? `SHA-1 matches ${toHex(target.infoHash)}` : `SHA-256 matches ${toHex(t.infoHashV2!)}`;
    io.out(`${r.peer}: ${r.info.length} bytes of metadata in ${r.pieces} piece${r.pieces === 1 ? '' : 's'}, ${which}`);
    if (t.pieceLayers.size > 0) io.out(`piece layers of ${t.pieceLayers.size} file${t.pieceLayers.size === 1 ? '' : 's'} by hash request (BEP 52), each checked against its pieces root`);
    io.out(`name ${JSON.stringify(t.name)}, ${formatBytes(t.length)} in ${plural(t.pieceCount, 'piece')} of ${formatBytes(t.pieceLength)}, ${t.files.length} file${t.files.length === 1 ? '' : 's'}`);
    io.out(`wrote ${out} (${file.length} bytes)`);
  }
  return EXIT.ok;
}

/**
 * A v2-only torrent's piece layers from the same peer (BEP 52 hash requests), so the
 * written .torrent can verify every piece; without them it still loads (clients fetch
 * layers themselves), so a peer that will not give them costs a note, not the result.
 * Hybrids are left as they are: their SHA-1 pieces verify every byte.
 */
async function v2Layers(conn: PeerConnection, t: Torrent, timeoutMs: number, io: Io): Promise<ReadonlyMap<string, Uint8Array> | undefined> {
  if (!t.infoHashV2 || t.pieces || layerRequests(t).length === 0) return undefined;
  try {
    return await fetchPieceLayers(conn, t, { timeoutMs });
  } catch (e) {
    io.err(`note: no piece layers from ${conn.peer} (${(e as Error).message}); the .torrent is written without them`);
    return undefined;
  }
}
