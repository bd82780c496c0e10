import type { Argv } from 'yargs';
import * as path from 'node:path';
import { stat } from 'node:fs/promises';
import type { Torrent } from '../../lib/metainfo/types.js';
import { torrentStorageFiles } from '../../lib/engine/storage.js';
import { safeFilePath } from '../../lib/metainfo/safe-path.js';
import { toHex } from '../../lib/core/bytes.js';
import { BtscopeError, UsageError } from '../../lib/core/errors.js';
import { startSeeder } from '../../lib/engine/seeder.js';
import { withEncryption, withJson } from '../options.js';
import { ioOf } from '../io.js';
import { keylogWriter } from '../keylog.js';
import type { EncryptionPolicy } from '../../lib/mse/constants.js';
import { readInput } from '../input.js';
import { EXIT } from '../exit-codes.js';
import { frameLogger, readTorrent, trackerAnnounce } from '../shared.js';
import { parsePeerAddress } from '../peer-source.js';

export const command = 'seed <target> <dir>';
export const describe = 'Seed complete data: check every piece, listen, serve peers (and announce to trackers)';

export function builder(y: Argv) {
  return withEncryption(withJson(y), 'prefer')
    .positional('target', { type: 'string', demandOption: true, describe: '.torrent file' })
    .positional('dir', { type: 'string', demandOption: true, describe: 'Folder holding the data (as a download into it wrote it)' })
    .option('port', { type: 'number', default: 0, describe: 'TCP port to listen on (0 = any free port)' })
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
    .option('tracker', { type: 'string', array: true, default: [], describe: 'Announce to this tracker URL (repeatable; default: the torrent\'s own)' })
    .option('connect', { type: 'string', array: true, default: [], describe: 'Also dial HOST:PORT (for clients that do not dial loopback peers)' })
    .option('skip-check', { type: 'boolean', default: false, describe: 'Trust the data without hashing it first' })
    .option('duration', { alias: 'seconds', type: 'number', describe: 'Stop after this many seconds (default: until Ctrl-C); --seconds is the old name' })
    .option('frames', { type: 'string', describe: 'Show frames hex-annotated; optionally only these message types' })
    .option('frames-limit', { type: 'number', default: 40, describe: 'Frames shown at most' })
    .example('$0 seed x.torrent data/ --port 6881', 'serve data/ for x.torrent on 127.0.0.1:6881')
    .epilogue(
      'Every piece is hashed first (v1 SHA-1, v2 piece layers, both for hybrids) and only verified pieces are served; ' +
        'ut_metadata (so magnet links work), ut_pex and BEP 52 hash requests are answered. --json prints where it listens. ' +
        'Exit codes: 0 stopped by Ctrl-C, SIGTERM or --duration; 1 none of the pieces is under DIR; 2 usage (DIR not a folder, port busy); 3 the torrent is malformed.',
    );
}

interface Args {
  target: string;
  dir: string;
  port: number;
  host: string;
  tracker: string[];
  connect: string[];
  'skip-check': boolean;
  duration?: number;
  frames?: string;
  'frames-limit': number;
  json: boolean;
  encryption?: EncryptionPolicy;
  keylog?: string;
  io?: unknown;
  /** Tests: resolves to stop the seeder. */
  stop?: Promise<unknown>;
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  const torrent = readTorrent(await readInput(argv.target), argv.target);
  await checkSeedFolder(torrent, argv.dir);
  const trackers = argv.tracker.length > 0 ? argv.tracker.map((t) => [t]) : torrent.trackers.map((t) => [...t]);
  const onFrame = frameLogger(io, argv.frames, argv['frames-limit']);
  const onMse = keylogWriter(argv.keylog);
  const seeder = await startSeeder({
    torrent,
    dir: argv.dir,
    host: argv.host,
    port: argv.port,
    trackers,
    announce: trackerAnnounce,
    skipCheck: argv['skip-check'],
    connectTo: argv.connect.map((c) => parsePeerAddress(c, '--connect')),
    log: (l) => io.err(l),
    ...(onFrame ? { onFrame } : {}),
    encryption: argv.encryption ?? 'prefer',
    ...(onMse ? { onMse } : {}),
  });
  const have = seeder.swarm.picker.piecesHave;
  if (have === 0) {
    // Nothing verified under DIR: nothing to serve, so no point in listening.
    await seeder.close();
    throw new BtscopeError('nothing_to_seed', `none of the ${torrent.pieceCount} pieces is in ${argv.dir} (check DIR: the torrent's files go under it as a download would write them)`);
  }
  const ready = {
    ok: have === torrent.pieceCount,
    infoHash: torrent.infoHash ? toHex(torrent.infoHash) : null,
    infoHashV2: torrent.infoHashV2 ? toHex(torrent.infoHashV2) : null,
    host: seeder.host, port: seeder.port, pieces: have, pieceCount: torrent.pieceCount };
  io.out(argv.json ? JSON.stringify(ready) : `seeding ${torrent.name} on ${seeder.host}:${seeder.port} (${have}/${torrent.pieceCount} pieces verified)`);
  // Whichever comes first: a signal, --seconds, or the caller's stop; then nothing of the others is left behind.
  let onSignal: () => void = () => {};
  let timer: NodeJS.Timeout | undefined;
  const stops: Promise<unknown>[] = [new Promise<void>((r) => (onSignal = r))];
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (argv.duration !== undefined) stops.push(new Promise((r) => (timer = setTimeout(r, argv.duration! * 1000))));
  if (argv.stop) stops.push(argv.stop);
  await Promise.race(stops);
  clearTimeout(timer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await seeder.close();
  if (!argv.json) io.err(`served ${seeder.peersServed()} peer(s), uploaded ${seeder.swarm.uploaded.total} bytes`);
  return EXIT.ok;
}

/**
 * DIR before anything is hashed, listened on or announced: a folder, holding at least one of
 * the torrent's files. A wrong folder is then said at once, and no tracker is told we seed.
 */
async function checkSeedFolder(torrent: Torrent, dir: string): Promise<void> {
  const st = await stat(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new UsageError(`${dir}: no such folder (DIR is the folder holding the torrent's data)`);
    throw e;
  });
  if (!st.isDirectory()) throw new UsageError(`${dir}: not a folder (DIR is the folder holding the torrent's data)`);
  const files = torrentStorageFiles(torrent.files, path.resolve(dir), safeFilePath).filter((f) => !f.pad && f.length > 0);
  if (files.length === 0) return;
  const found = await Promise.all(files.map((f) => stat(f.path).then((s) => s.isFile() && s.size > 0, () => false)));
  if (!found.includes(true)) {
    throw new BtscopeError(
      'nothing_to_seed',
      `none of the ${torrent.pieceCount} pieces is in ${dir} (check DIR: none of the torrent's ${files.length} file${files.length === 1 ? '' : 's'} is there, e.g. ${path.relative(path.resolve(dir), files[0]!.path)}; they go under it as a download would write them)`,
    );
  }
}
