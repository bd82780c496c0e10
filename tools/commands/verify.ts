import type { Argv } from 'yargs';
import { formatBytes, toHex } from '../../lib/core/bytes.js';
import { defaultThreads } from '../../lib/content/hash-pool.js';
import { verifyContent, type VerifyResult } from '../../lib/content/verify-content.js';
import { torrentKind } from '../../lib/metainfo/layout.js';
import type { FileVerdict } from '../../lib/metainfo/verify-report.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { palette } from '../../lib/render/color.js';
import { renderHexFrame } from '../../lib/render/hex-frame.js';
import { torrentFrame } from '../../lib/metainfo/frame.js';
import { EXIT } from '../exit-codes.js';
import { hashProgress } from '../hash-progress.js';
import { readInput } from '../input.js';
import { foldText, hexOptions, ioOf, type Io } from '../io.js';
import { renderTable } from '../table.js';
import { withFrames, withJson } from '../options.js';
import { readTorrent } from '../shared.js';

export const command = 'verify <torrent> <dir>';
export const describe = 'Check data on disk against a .torrent: every piece (SHA-1, BEP 52 merkle, both for a hybrid), a result per file; reads only';

export function builder(y: Argv) {
  return withFrames(withJson(y))
    .positional('torrent', { type: 'string', demandOption: true, describe: '.torrent file' })
    .positional('dir', { type: 'string', demandOption: true, describe: "Folder the torrent's files are under (as a download into it wrote them: DIR/NAME/...)" })
    .option('threads', { type: 'number', default: defaultThreads(), describe: 'Hashing threads, the main one included (1: no worker threads)' })
    .option('progress', { type: 'boolean', default: true, describe: 'Progress bar on stderr (only when it is a terminal)' })
    .option('max-files', { type: 'number', default: 100, describe: 'Files listed in the table (--json lists all); files with a problem are listed first' })
    .example('$0 verify album.torrent ~/Downloads', 'checks ~/Downloads/album/...')
    .example('$0 verify --json x.torrent . | jq .files', 'per-file verdicts')
    .epilogue('Exit codes: 0 every file complete and every piece good; 1 something missing, the wrong size or a bad piece; 3 not a torrent. Files the torrent does not list are reported, not counted against it.');
}

interface Args {
  torrent: string;
  dir: string;
  threads: number;
  progress: boolean;
  'max-files': number;
  json: boolean;
  frames: boolean;
  io?: unknown;
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  const t = readTorrent(await readInput(argv.torrent), argv.torrent);
  if (argv.frames) io.out(renderHexFrame(torrentFrame(t, argv.torrent), hexOptions(io)));
  const progress = hashProgress(io, argv.progress && !argv.json, 'verifying');
  const r = await verifyContent(t, argv.dir, { threads: argv.threads, onProgress: (d, n) => progress.update(d, n) }).finally(() => progress.end());
  if (argv.json) io.out(JSON.stringify(verifyJson(t, r), null, 2));
  else io.out(foldText(summary(t, r, argv, io), io.columns));
  return r.ok ? EXIT.ok : EXIT.failure;
}

/** The --json shape (stable: scripts read it). */
export function verifyJson(t: Torrent, r: VerifyResult): Record<string, unknown> {
  return {
    name: t.name,
    kind: torrentKind(t),
    infoHash: t.infoHash ? toHex(t.infoHash) : null,
    infoHashV2: t.infoHashV2 ? toHex(t.infoHashV2) : null,
    ok: r.ok,
    pieceCount: r.pieceCount,
    goodPieces: r.goodPieces,
    badPieces: r.badPieces,
    disagreements: r.disagreements,
    files: r.files.map((f) => ({ ...f })),
    extra: r.extra,
    extraMore: r.extraMore,
    threads: r.threads,
    hashSeconds: Number(r.hashSeconds.toFixed(3)),
  };
}

const STATUS_TEXT: Record<FileVerdict['status'], string> = {
  complete: 'complete',
  missing: 'missing',
  not_a_file: 'not a file',
  wrong_size: 'wrong size',
  bad_pieces: 'bad pieces',
};

function summary(t: Torrent, r: VerifyResult, argv: Args, io: Io): string {
  const p = palette(io.color);
  const out: string[] = [];
  const pct = ((r.goodPieces / Math.max(1, r.pieceCount)) * 100).toFixed(r.goodPieces === r.pieceCount ? 0 : 2);
  const problems = r.files.filter((f) => f.status !== 'complete');
  const head =
    `${argv.torrent}: ${torrentKind(t)} torrent ${JSON.stringify(t.name)} against ${argv.dir}: ${r.goodPieces}/${r.pieceCount} pieces good (${pct} %)` +
    (problems.length ? `, ${problems.length} of ${r.files.length} files not complete` : `, all ${r.files.length} files complete`);
  out.push(r.ok ? p.heading(head) : p.error(head));
  const shown = [...problems, ...r.files.filter((f) => f.status === 'complete')].slice(0, argv['max-files']);
  const rows: string[][] = [];
  for (const f of shown) {
    const result = f.status === 'wrong_size' ? `wrong size: ${f.actualLength} bytes on disk` : STATUS_TEXT[f.status];
    rows.push([String(f.index), f.path, String(f.length), f.status === 'complete' ? result : p.error(result), f.badPieces ? `${f.badPieces} of ${f.pieces} (first #${f.firstBadPiece})` : '', f.firstBadOffset !== undefined ? String(f.firstBadOffset) : '']);
  }
  out.push('', renderTable({ head: ['#', 'path', 'size', 'result', 'bad pieces', 'first bad offset'], style: { head: io.color ? ['cyan'] : [], border: io.color ? ['grey'] : [], compact: true }, colAligns: ['right', 'left', 'right', 'left', 'right', 'right'] }, rows, io.columns));
  if (r.files.length > shown.length) out.push(p.dim(`… and ${r.files.length - shown.length} more files, all complete (--max-files N, or --json for all)`));
  for (const d of r.disagreements.slice(0, 20)) out.push(p.warn(`piece ${d.index}: SHA-1 says ${d.v1 ? 'good' : 'bad'}, the v2 merkle hash says ${d.v2 ? 'good' : 'bad'}: this hybrid torrent contradicts itself`));
  if (r.disagreements.length > 20) out.push(p.warn(`… and ${r.disagreements.length - 20} more pieces where v1 and v2 disagree`));
  if (r.extra.length) {
    out.push('', `${r.extra.length + r.extraMore} file${r.extra.length + r.extraMore === 1 ? '' : 's'} not in the torrent (not counted against it):`);
    for (const e of r.extra.slice(0, 20)) out.push(`  extra ${e}`);
    if (r.extra.length + r.extraMore > 20) out.push(p.dim(`  … and ${r.extra.length + r.extraMore - 20} more (--json lists up to 1000)`));
  }
  const rate = r.hashSeconds > 0 ? t.length / r.hashSeconds : 0;
  out.push('', p.dim(`hashed ${formatBytes(t.length)} in ${r.hashSeconds.toFixed(2)} s (${formatBytes(Math.round(rate))}/s, ${r.threads} hashing thread${r.threads === 1 ? '' : 's'})`));
  return out.join('\n');
}
