import type { Argv } from 'yargs';
import * as path from 'node:path';
import { parseMagnet } from '../../lib/magnet/parse.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { UsageError } from '../../lib/core/errors.js';
import { formatBytes } from '../../lib/core/bytes.js';
import { download, prepareOutputFolder, type DownloadSummary, type PeerAddress } from '../../lib/engine/downloader.js';
import { makePeerId } from '../../lib/peer/identity.js';
import { resolveMagnetKeeping, type MagnetPeer } from '../../lib/engine/magnet-resolve.js';
import { renderProgress } from '../progress.js';
import { withEncryption, withJson } from '../options.js';
import { ioOf } from '../io.js';
import { keylogWriter } from '../keylog.js';
import type { EncryptionPolicy } from '../../lib/mse/constants.js';
import { readInput } from '../input.js';
import { EXIT } from '../exit-codes.js';
import { frameLogger, readTorrent, summaryText, trackerAnnounce } from '../shared.js';
import { parsePeerAddress } from '../peer-source.js';

export const command = 'download <target>';
export const describe = 'Download a torrent or magnet link from its peers: verified, resumable, every frame viewable';

export function builder(y: Argv) {
  return withEncryption(withJson(y), 'prefer')
    .positional('target', { type: 'string', demandOption: true, describe: '.torrent file, magnet: link, or a 40-hex info-hash (a magnet link with no trackers: give --peer)' })
    .option('o', { alias: 'out', type: 'string', default: '.', describe: 'Folder to write into (nothing is ever written outside it)' })
    .option('peer', { type: 'string', array: true, default: [], describe: 'Also connect to HOST:PORT (repeatable)' })
    .option('frames', {
      type: 'string',
      describe:
        'Show frames (both ways, every peer) hex-annotated on stdout. --frames alone: all types; --frames=TYPES: only these, comma-separated: ' +
        'handshake, keep_alive, choke, unchoke, interested, not_interested, have, bitfield, request, piece, cancel, port, suggest_piece, have_all, ' +
        'have_none, reject_request, allowed_fast, extended, hash_request, hashes, hash_reject, unknown. At most --frames-limit are shown',
    })
    .option('frames-limit', { type: 'number', default: 40, describe: 'Frames shown at most' })
    .option('max-peers', { type: 'number', default: 30, describe: 'Peers connected at once' })
    .option('listen-port', { type: 'number', describe: 'Accept incoming peers on this port while downloading (0 = any)' })
    .option('timeout', { type: 'number', default: 60, describe: 'Give up after this many seconds without a verified piece' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'Say on stderr what happens to each peer: connect failures, disconnects, bans, PEX peers, tracker answers' })
    .epilog(
      'Progress (done, rate, peers, ETA) is drawn on stderr only when stderr is a terminal. --json prints one summary object: ' +
        'ok, infoHash, name, length, bytes (verified this run), resumedBytes, seconds, peers, peersWithData, hashFailures, banned, ' +
        'wastedBytes, uploadedBytes, checkedPieces, checkSeconds. A killed download resumes: run the same command again. ' +
        'v1, v2 (BEP 52 piece layers) and hybrid torrents are verified piece by piece. ' +
        'Exit codes: 0 downloaded and verified; 1 no peer gave the metadata or the data could not be completed; 2 usage or an unusable -o; ' +
        '3 the torrent or magnet link is malformed; 4 stalled (no verified piece for --timeout seconds: no peer reachable, or none sent data).',
    )
    .option('full-check', { type: 'boolean', default: false, describe: 'Re-hash every piece on disk at start (default: only what the resume journal names)' })
    .example('$0 download x.torrent -o out/', 'from the trackers of x.torrent')
    .example('$0 download x.torrent --peer 127.0.0.1:6881 --frames=handshake,bitfield', 'one peer, its handshake and bitfield shown')
    .example('$0 download "magnet:?xt=urn:btih:...&x.pe=127.0.0.1:6881"', 'metadata first (BEP 9), then the data');
}

interface Args {
  target: string;
  o: string;
  peer: string[];
  frames?: string;
  'frames-limit': number;
  'max-peers': number;
  'listen-port'?: number;
  timeout: number;
  verbose?: boolean;
  'full-check': boolean;
  json: boolean;
  encryption?: EncryptionPolicy;
  keylog?: string;
  io?: unknown;
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  const peers: PeerAddress[] = argv.peer.map((p) => parsePeerAddress(p, '--peer'));
  const onFrame = frameLogger(io, argv.frames, argv['frames-limit']);
  const log = (line: string) => {
    if (argv.verbose && !argv.json) io.err(line);
  };
  let torrent: Torrent;
  let trackers: string[][];
  const handover: MagnetPeer[] = [];
  const onMse = keylogWriter(argv.keylog);
  // A bare info-hash is a magnet link with no trackers (peers from --peer; the DHT, once there is one).
  const magnet = /^[0-9a-fA-F]{40}$/.test(argv.target) ? `magnet:?xt=urn:btih:${argv.target.toLowerCase()}` : argv.target;
  // Before any work: the torrent is readable and the folder is one we can write in.
  if (!magnet.startsWith('magnet:')) torrent = readTorrent(await readInput(argv.target), argv.target);
  await prepareOutputFolder(argv.o, argv.timeout * 1000);
  if (magnet.startsWith('magnet:')) {
    const m = parseMagnet(magnet);
    if (peers.length === 0 && m.peers.length === 0 && m.trackers.length === 0) throw new UsageError(`${argv.target}: no peers to ask: the magnet link names no tracker and no x.pe peer; give --peer HOST:PORT`);
    for (const pe of m.peers) peers.push(parsePeerAddress(pe, 'x.pe'));
    trackers = m.trackers.map((t) => [t]);
    // BEP 9 metadata, then (v2 and hybrid, BEP 52) the piece layers from a peer.
    const wireHash = (m.infoHash ?? m.infoHashV2!.subarray(0, 20));
    const peerId = makePeerId();
    const resolved = await resolveMagnetKeeping({
      magnet: m,
      peers: await magnetCandidates(wireHash, peerId, peers, trackers, Math.min(argv.timeout * 1000, 10_000)),
      peerId,
      trackers,
      timeoutMs: Math.min(argv.timeout * 1000, 30_000),
      deadlineMs: argv.timeout * 1000,
      ...(argv.json ? {} : { log: (line: string) => io.err(line) }),
      ...(onFrame ? { onFrame } : {}),
      encryption: argv.encryption ?? 'prefer',
      ...(onMse ? { onMse } : {}),
    });
    torrent = resolved.torrent;
    // The peer that gave the metadata goes on to give data, on the same connection.
    if (resolved.peer) handover.push(resolved.peer);
  } else {
    torrent = torrent!;
    trackers = torrent.trackers.map((t) => [...t]);
  }
  if (peers.length === 0 && trackers.length === 0 && handover.length === 0) throw new UsageError('no peers: the torrent names no tracker; give --peer HOST:PORT');
  const progress = io.errIsTTY && !argv.json;
  let summary: DownloadSummary;
  try {
    summary = await download({
      torrent,
      outDir: argv.o,
      peers,
      handover,
      encryption: argv.encryption ?? 'prefer',
      ...(onMse ? { onMse } : {}),
      trackers,
      announce: trackerAnnounce,
      maxPeers: argv['max-peers'],
      stallTimeoutMs: argv.timeout * 1000,
      fullCheck: argv['full-check'],
      log,
      ...(argv['listen-port'] !== undefined ? { listenPort: argv['listen-port'] } : {}),
      ...(onFrame ? { onFrame } : {}),
      ...(progress ? { onProgress: (p) => process.stderr.write(`\r${renderProgress(p, process.stderr.columns || 80)}`) } : {}),
    });
  } finally {
    if (progress) process.stderr.write('\n');
  }
  if (argv.json) {
    io.out(JSON.stringify(summary, null, 2));
    return EXIT.ok;
  }
  io.out(summaryText(summary, path.resolve(argv.o)));
  return EXIT.ok;
}

/**
 * Peers to ask for a magnet's metadata: x.pe and --peer first, then what the magnet's trackers
 * return, all asked at once and waited for at most `timeoutMs` (--timeout bounds this step too).
 */
async function magnetCandidates(infoHash: Uint8Array, peerId: Uint8Array, peers: PeerAddress[], trackers: string[][], timeoutMs: number): Promise<PeerAddress[]> {
  const candidates = [...peers];
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
  await Promise.race([
    bound,
    Promise.all(
      trackers.flat().map(async (url) => {
        try {
          const r = await trackerAnnounce(url, { infoHash, peerId, port: 6881, uploaded: 0, downloaded: 0, left: 1, event: 'started' });
          for (const p of r.peers) candidates.push({ host: p.ip, port: p.port });
        } catch {
          // another tracker or peer may do
        }
      }),
    ),
  ]);
  clearTimeout(timer);
  return [...candidates];
}
