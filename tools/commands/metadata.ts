import type { Argv } from 'yargs';
import { writeFile } from 'node:fs/promises';
import { formatBytes, toHex } from '../../lib/core/bytes.js';
import { TransportError, UsageError } from '../../lib/core/errors.js';
import { PeerConnection, PeerError, makePeerId } from '../../lib/engine/peer-connection.js';
import { ANSWERED_NO_CODES } from '../../lib/engine/peer-error.js';
import { fetchMetadata, torrentFromMetadata } from '../../lib/engine/metadata-fetch.js';
import { findPeers, resolveTarget } from '../../lib/engine/peer-source.js';
import { formatEndpoint } from '../../lib/wire/address.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { withFrames, withJson, withTimeout } from '../options.js';
import { ioOf } from '../io.js';
import { EXIT } from '../exit-codes.js';
import { frameSink } from './handshake.js';

export const command = 'metadata <magnet>';
export const describe = 'Fetch a torrent\'s info dict from peers (BEP 9 ut_metadata), check its SHA-1 against the info-hash, write a .torrent';

export function builder(y: Argv) {
  return withTimeout(withFrames(withJson(y)), 30)
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
  const deadline = Date.now() + argv.timeout * 1000;
  const left = (): number => Math.max(1, deadline - Date.now());
  const peerId = makePeerId();
  const peers = await findPeers(target, { ...(argv.peer ? { peers: argv.peer } : {}), peerId, timeoutMs: left(), onNote: (t) => io.errIsTTY && io.err(t) });
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
        ...(sink ? { onFrame: sink } : {}),
      });
      const r = await fetchMetadata(conn, target.infoHash, { timeoutMs: left(), ...(target.infoHashV2 ? { infoHashV2: target.infoHashV2 } : {}) });
      const file = torrentFromMetadata(r.info, target.trackers);
      const t = parseTorrent(file); // btscope must accept what it writes
      const out = argv.o ?? `${toHex(target.infoHash)}.torrent`;
      await writeFile(out, file);
      if (argv.json) {
        io.out(JSON.stringify({ peer: r.peer, infoHash: toHex(target.infoHash), name: t.name, metadataSize: r.info.length, metadataPieces: r.pieces, length: t.length, pieceCount: t.pieceCount, file: out, failures, skippedSelf }, null, 2));
      } else {
        for (const a of skippedSelf) io.err(`skipped ${a}: our own entry, echoed back by a tracker`);
        for (const f of failures) io.err(`skipped ${f}`);
        io.out(`${r.peer}: ${r.info.length} bytes of metadata in ${r.pieces} piece${r.pieces === 1 ? '' : 's'}, SHA-1 matches ${toHex(target.infoHash)}`);
        io.out(`name ${JSON.stringify(t.name)}, ${formatBytes(t.length)} in ${t.pieceCount} pieces of ${formatBytes(t.pieceLength)}, ${t.files.length} file${t.files.length === 1 ? '' : 's'}`);
        io.out(`wrote ${out} (${file.length} bytes)`);
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
  if (argv.json) io.out(JSON.stringify({ infoHash: toHex(target.infoHash), file: null, failures }, null, 2));
  else for (const f of failures) io.err(f);
  if (failures.length === 0) throw new TransportError('timeout', `no peer tried within ${argv.timeout} s`);
  io.err(`no peer gave metadata for ${toHex(target.infoHash)} (${failures.length} tried${answeredNo ? '' : ', none answered'})`);
  return answeredNo ? EXIT.failure : EXIT.network;
}
