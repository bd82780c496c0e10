import { existsSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import type { Argv } from 'yargs';
import { formatBytes, toHex } from '../../lib/core/bytes.js';
import { UsageError } from '../../lib/core/errors.js';
import { createTorrent } from '../../lib/content/create-torrent.js';
import { defaultThreads } from '../../lib/content/hash-pool.js';
import { describeNote, SYMLINK_POLICIES, type SymlinkPolicy } from '../../lib/content/walk.js';
import { formatMagnet } from '../../lib/magnet/parse.js';
import { TORRENT_KINDS, type TorrentKind } from '../../lib/metainfo/create.js';
import { torrentFrame } from '../../lib/metainfo/frame.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { renderHexFrame } from '../../lib/render/hex-frame.js';
import { palette } from '../../lib/render/color.js';
import { EXIT } from '../exit-codes.js';
import { hashProgress } from '../hash-progress.js';
import { hexOptions, ioOf } from '../io.js';
import { withFrames, withJson } from '../options.js';

export const command = 'create <path>';
export const describe = 'Make a .torrent (v1, v2 or hybrid) of a file or folder: hashed in parallel, deterministic, libtorrent-compatible';

export function builder(y: Argv) {
  return withFrames(withJson(y))
    .positional('path', { type: 'string', demandOption: true, describe: 'File or folder to make a torrent of' })
    .option('output', { alias: 'o', type: 'string', describe: 'Where to write the .torrent (default NAME.torrent here; - for stdout)' })
    .option('force', { type: 'boolean', default: false, describe: 'Overwrite the output file if it exists' })
    .option('kind', { choices: TORRENT_KINDS, default: 'hybrid' as TorrentKind, describe: 'v1 (BEP 3), v2 (BEP 52) or hybrid (both, BEP 47 pads)' })
    .option('piece-length', { type: 'number', describe: 'Bytes per piece: a power of two, at least 16384 (default: chosen from the total size as libtorrent does)' })
    .option('tracker', { alias: 'a', type: 'string', array: true, default: [] as string[], describe: 'Tracker URL (repeatable); all in one tier unless --tier splits them' })
    .option('tier', { type: 'number', array: true, default: [] as number[], describe: 'Tier (1, 2, ...) of each --tracker, in the same order (BEP 12)' })
    .option('web-seed', { alias: 'w', type: 'string', array: true, default: [] as string[], describe: 'Web seed URL (BEP 19), repeatable' })
    .option('private', { type: 'boolean', default: false, describe: 'Private torrent (BEP 27: trackers only, no DHT/PEX/LSD)' })
    .option('source', { type: 'string', describe: 'Source tag in the info dict (changes the info-hash: cross-seeding between trackers)' })
    .option('comment', { type: 'string', describe: 'Comment' })
    .option('created-by', { type: 'string', default: 'btscope/0.1.0', describe: 'The "created by" string' })
    .option('date', { type: 'boolean', default: true, describe: 'Write the creation date (--no-date: same input, same bytes)' })
    .option('name', { type: 'string', describe: 'Torrent name (default: the base name of PATH)' })
    .option('include', { type: 'string', array: true, default: [] as string[], describe: 'Only files matching this glob (repeatable; * ? [..] **; no "/" = any depth)' })
    .option('exclude', { type: 'string', array: true, default: [] as string[], describe: 'Leave out files and folders matching this glob (repeatable)' })
    .option('include-hidden', { type: 'boolean', default: false, describe: 'Include names starting with "." (BEP 47 attr h)' })
    .option('symlinks', { choices: SYMLINK_POLICIES, default: 'skip' as SymlinkPolicy, describe: 'skip symlinks, follow them (targets must stay below PATH; loops are an error), or refuse (error)' })
    .option('attr', { type: 'boolean', default: true, describe: 'BEP 47 attributes from the file system: x executable, h hidden (--no-attr: none, as mktorrent)' })
    .option('magnet', { type: 'boolean', default: false, describe: 'Print the magnet link (both hashes for a hybrid)' })
    .option('threads', { type: 'number', default: defaultThreads(), describe: 'Hashing threads, the main one included (1: no worker threads)' })
    .option('progress', { type: 'boolean', default: true, describe: 'Progress bar on stderr (only when it is a terminal)' })
    .example('$0 create ./album -o album.torrent --tracker http://t.example/announce', 'a hybrid torrent, piece length chosen from the size')
    .example('$0 create big.iso --kind v1 --piece-length 1048576 --no-date --json', 'v1, 1 MiB pieces, reproducible; summary as JSON')
    .epilogue(
      'Files are sorted by path (BEP 52 order, for every kind). Hidden names are left out unless --include-hidden; attr x (executable) and h (hidden) come from the file system. ' +
        'A file that changes while it is hashed makes the run fail. Exit codes: 0 written; 1 the content could not be hashed (unreadable, changed, symlink loop or escape); 2 usage (output exists, bad piece length).',
    );
}

interface Args {
  path: string;
  output?: string;
  force: boolean;
  kind: TorrentKind;
  'piece-length'?: number;
  tracker: string[];
  tier: number[];
  'web-seed': string[];
  private: boolean;
  source?: string;
  comment?: string;
  'created-by': string;
  date: boolean;
  name?: string;
  include: string[];
  exclude: string[];
  'include-hidden': boolean;
  symlinks: SymlinkPolicy;
  attr?: boolean;
  magnet: boolean;
  threads: number;
  progress: boolean;
  json: boolean;
  frames: boolean;
  /** Seconds since 1970 to write instead of now (tests). */
  now?: number;
  io?: unknown;
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  const trackers = tiers(argv.tracker, argv.tier);
  const toStdout = argv.output === '-';
  const output = argv.output ?? `${argv.name ?? nodePath.basename(nodePath.resolve(argv.path))}.torrent`;
  if (!toStdout && existsSync(output) && !argv.force) throw new UsageError(`${output} exists: use --force to overwrite it${argv.output ? '' : ', or -o FILE'}`);
  const progress = hashProgress(io, argv.progress && !toStdout, 'hashing');
  const made = await createTorrent(argv.path, {
    kind: argv.kind,
    ...(argv['piece-length'] !== undefined ? { pieceLength: argv['piece-length'] } : {}),
    ...(argv.name !== undefined ? { name: argv.name } : {}),
    trackers,
    webSeeds: argv['web-seed'],
    private: argv.private,
    ...(argv.source !== undefined ? { source: argv.source } : {}),
    ...(argv.comment !== undefined ? { comment: argv.comment } : {}),
    ...(argv['created-by'] ? { createdBy: argv['created-by'] } : {}),
    ...(argv.date ? { creationDate: argv.now ?? Math.floor(Date.now() / 1000) } : {}),
    symlinks: argv.symlinks,
    hidden: argv['include-hidden'],
    include: argv.include,
    exclude: argv.exclude,
    threads: argv.threads,
    attributes: argv.attr !== false,
    onProgress: (d, t) => progress.update(d, t),
  }).finally(() => progress.end());
  const t = parseTorrent(made.bytes);
  if (toStdout) process.stdout.write(made.bytes);
  else writeFileSync(output, made.bytes);
  // With -o -, stdout holds the torrent: what would be printed goes to stderr.
  const say = toStdout ? io.err.bind(io) : io.out.bind(io);
  const label = toStdout ? 'stdout' : output;
  const notes = made.walk.notes.map(describeNote);
  const files = made.layout.files.filter((f) => !f.pad);
  const rate = made.hashSeconds > 0 ? made.layout.length / made.hashSeconds : 0;
  if (argv.json) {
    say(
      JSON.stringify(
        {
          output: label,
          name: t.name,
          kind: argv.kind,
          infoHash: t.infoHash ? toHex(t.infoHash) : null,
          infoHashV2: t.infoHashV2 ? toHex(t.infoHashV2) : null,
          magnet: formatMagnet(t),
          pieceLength: t.pieceLength,
          pieceLengthChosen: made.pieceLengthChosen,
          pieceCount: t.pieceCount,
          length: made.layout.contentLength,
          files: files.length,
          pads: made.layout.files.length - files.length,
          bytes: made.bytes.length,
          threads: made.threads,
          hashSeconds: Number(made.hashSeconds.toFixed(3)),
          notes: made.walk.notes,
        },
        null,
        2,
      ),
    );
  } else if (argv.frames) {
    say(renderHexFrame(torrentFrame(t, label), hexOptions(io)));
  } else if (argv.magnet) {
    say(formatMagnet(t));
  } else {
    const p = palette(io.color && !toStdout);
    const row = (k: string, v: string): void => say(`${p.label(k.padEnd(13))}${v}`);
    say(p.heading(`wrote ${label}: ${argv.kind} torrent, ${made.bytes.length} bytes`));
    row('name', JSON.stringify(t.name));
    if (t.infoHash) row('info-hash v1', toHex(t.infoHash));
    if (t.infoHashV2) row('info-hash v2', toHex(t.infoHashV2));
    row('content', `${made.layout.contentLength} bytes (${formatBytes(made.layout.contentLength)}) in ${files.length} file${files.length === 1 ? '' : 's'}${made.layout.files.length > files.length && argv.kind === 'hybrid' ? ` + ${made.layout.files.length - files.length} pad files` : ''}`);
    row('pieces', `${t.pieceCount} × ${formatBytes(t.pieceLength)} (${t.pieceLength}${made.pieceLengthChosen ? ', chosen from the size as libtorrent does; --piece-length to set it' : ''})`);
    row('hashed', `in ${made.hashSeconds.toFixed(2)} s (${formatBytes(Math.round(rate))}/s, ${made.threads} hashing thread${made.threads === 1 ? '' : 's'})`);
  }
  for (const n of notes) io.err(`btscope: note: ${n}`);
  return EXIT.ok;
}

/** --tracker URLs grouped by --tier (1-based); without --tier, one tier. */
function tiers(urls: readonly string[], tierOf: readonly number[]): string[][] {
  if (tierOf.length === 0) return urls.length ? [[...urls]] : [];
  if (tierOf.length !== urls.length) throw new UsageError(`--tier given ${tierOf.length} times for ${urls.length} --tracker URLs: give one tier per tracker, or none`);
  const out: string[][] = [];
  urls.forEach((u, i) => {
    const t = tierOf[i]!;
    if (!Number.isInteger(t) || t < 1) throw new UsageError(`--tier must be 1, 2, ..., got ${t}`);
    (out[t - 1] ??= []).push(u);
  });
  return out.filter((t) => t && t.length > 0);
}
