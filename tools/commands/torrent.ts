import type { Argv } from 'yargs';
import { formatBytes, toHex } from '../../lib/core/bytes.js';
import type { Diagnostic } from '../../lib/core/diagnostic.js';
import { formatMagnet } from '../../lib/magnet/parse.js';
import { torrentFrame } from '../../lib/metainfo/frame.js';
import { torrentKind } from '../../lib/metainfo/layout.js';
import type { Torrent } from '../../lib/metainfo/types.js';
import { renderHexFrame } from '../../lib/render/hex-frame.js';
import { palette } from '../../lib/render/color.js';
import { EXIT } from '../exit-codes.js';
import { readInput } from '../input.js';
import { foldText, hexOptions, ioOf, type Io } from '../io.js';
import { renderTable } from '../table.js';
import { withFrames, withJson } from '../options.js';
import { readTorrent } from '../shared.js';

export const command = 'torrent <file>';
export const describe = 'Dump a .torrent (v1, v2, hybrid): info-hashes, sizes, pieces, trackers by tier, files, and what is wrong with it';

export function builder(y: Argv) {
  return withFrames(withJson(y))
    .positional('file', { type: 'string', demandOption: true, describe: '.torrent file, or - for stdin' })
    .option('magnet', { type: 'boolean', default: false, describe: 'Print the magnet link (both hashes for a hybrid) and nothing else' })
    .option('max-files', { type: 'number', default: 100, describe: 'Files listed in the summary table (--json lists all)' })
    .example('$0 torrent samples/multi.torrent', 'summary: hashes, pieces, trackers, files table, diagnostics')
    .example('$0 torrent --frames x.torrent', 'every byte of the file, each key named with its BEP')
    .example('$0 torrent --json x.torrent | jq -r .infoHash', 'the v1 info-hash (null for a v2-only torrent)')
    .epilogue('Exit codes: 0 ok; 3 not a torrent, or a torrent with errors (shown as "error" diagnostics) that clients refuse.');
}

interface Args {
  file: string;
  json: boolean;
  frames: boolean;
  magnet: boolean;
  'max-files': number;
  io?: unknown;
}

export async function handler(argv: Args): Promise<number> {
  const io = ioOf(argv);
  const bytes = await readInput(argv.file);
  const label = argv.file === '/dev/stdin' ? 'stdin' : argv.file;
  const t = readTorrent(bytes, label);
  const errors = t.diagnostics.filter((d) => d.severity === 'error');
  if (argv.magnet) {
    io.out(formatMagnet(t));
  } else if (argv.json) {
    const first = errors[0];
    const error = first ? { error: `${label}: ${first.message} (at byte ${first.span.start}, ${first.code})` } : {};
    io.out(JSON.stringify({ ok: errors.length === 0, ...error, ...torrentJson(t) }, null, 2));
  } else if (argv.frames) {
    io.out(renderHexFrame(torrentFrame(t, label), hexOptions(io)));
  } else {
    io.out(foldText(summary(t, label, io, argv['max-files']), io.columns));
  }
  if (errors.length > 0) {
    const d = errors[0]!;
    io.err(`btscope: ${label}: ${d.message} (at byte ${d.span.start}, ${d.code})${errors.length > 1 ? ` and ${errors.length - 1} more error(s)` : ''}`);
    return EXIT.badInput;
  }
  return EXIT.ok;
}

/** The --json shape (stable: scripts read it). */
export function torrentJson(t: Torrent): Record<string, unknown> {
  return {
    name: t.name,
    infoHash: t.infoHash ? toHex(t.infoHash) : null,
    infoHashV2: t.infoHashV2 ? toHex(t.infoHashV2) : null,
    kind: torrentKind(t),
    metaVersion: t.metaVersion,
    pieceLength: t.pieceLength,
    pieceCount: t.pieceCount,
    lastPieceLength: t.lastPieceLength,
    length: t.length,
    files: t.files.map((f) => ({
      path: f.path.join('/'),
      length: f.length,
      offset: f.offset,
      pad: f.pad,
      ...(f.attr ? { attr: f.attr } : {}),
      ...(f.implicit ? { implicit: true } : {}),
      ...(f.symlinkPath ? { symlinkPath: f.symlinkPath.join('/') } : {}),
      ...(f.piecesRoot ? { piecesRoot: toHex(f.piecesRoot) } : {}),
    })),
    trackers: t.trackers,
    webSeeds: t.webSeeds,
    private: t.private,
    creationDate: t.creationDate ?? null,
    comment: t.comment ?? null,
    createdBy: t.createdBy ?? null,
    infoSpan: [t.infoSpan.start, t.infoSpan.end],
    diagnostics: t.diagnostics.map(diagnosticLine),
  };
}

function diagnosticLine(d: Diagnostic): Record<string, unknown> {
  return { code: d.code, severity: d.severity, offset: d.span.start, end: d.span.end, message: d.message };
}

function summary(t: Torrent, label: string, io: Io, maxFiles: number): string {
  const p = palette(io.color);
  const out: string[] = [];
  // On a TTY a long value folds under itself (column 13); piped, one line per key.
  const row = (k: string, v: string): void => void out.push(foldText(`${p.label(k.padEnd(13))}${v}`, io.columns, 13));
  out.push(p.heading(`${label}: ${torrentKind(t)} torrent, ${t.raw.length} bytes`));
  row('name', JSON.stringify(t.name));
  if (t.infoHash) row('info-hash v1', toHex(t.infoHash));
  if (t.infoHashV2) row('info-hash v2', toHex(t.infoHashV2));
  row('info dict', `bytes [${t.infoSpan.start}, ${t.infoSpan.end})`);
  const real = t.files.filter((f) => !f.pad);
  const pads = t.files.length - real.length;
  row('size', `${t.length} bytes (${formatBytes(t.length)}) in ${real.length} file${real.length === 1 ? '' : 's'}${pads ? ` + ${pads} pad file${pads === 1 ? '' : 's'}` : ''}`);
  row('pieces', `${t.pieceCount} × ${formatBytes(t.pieceLength)} (${t.pieceLength}), last piece ${t.lastPieceLength} bytes`);
  if (t.metaVersion === 2) {
    const needing = real.filter((f) => f.length > t.pieceLength).length;
    row('piece layers', `${t.pieceLayers.size} of ${needing} files larger than a piece`);
  }
  row('private', t.private ? 'yes (BEP 27: trackers only, no DHT/PEX/LSD)' : 'no');
  if (t.creationDate !== undefined) row('created', new Date(t.creationDate * 1000).toISOString().replace('.000Z', 'Z') + (t.createdBy ? ` by ${t.createdBy}` : ''));
  else if (t.createdBy) row('created by', t.createdBy);
  if (t.comment) row('comment', JSON.stringify(t.comment));
  if (t.trackers.length === 0) row('trackers', 'none (DHT/PEX or web seeds only)');
  t.trackers.forEach((tier, i) => row(i === 0 ? 'trackers' : '', `tier ${i + 1}: ${tier.join(', ')}`));
  t.webSeeds.forEach((u, i) => row(i === 0 ? 'web seeds' : '', u));

  const rows: string[][] = [];
  for (const [i, f] of t.files.slice(0, maxFiles).entries()) {
    const attr = [f.pad ? (f.implicit ? 'pad (implicit)' : 'pad') : '', f.attr.replace('p', ''), f.symlinkPath ? `-> ${f.symlinkPath.join('/')}` : ''].filter(Boolean).join(' ');
    rows.push([String(i), f.path.join('/'), String(f.length), String(f.offset), attr]);
  }
  out.push('', renderTable({ head: ['#', 'path', 'size', 'offset', 'attr'], style: { head: io.color ? ['cyan'] : [], border: io.color ? ['grey'] : [], compact: true }, colAligns: ['right', 'left', 'right', 'right', 'left'] }, rows, io.columns));
  if (t.files.length > maxFiles) out.push(p.dim(`… and ${t.files.length - maxFiles} more files (--max-files N, or --json for all)`));
  if (t.diagnostics.length > 0) {
    out.push('', p.heading(`diagnostics (${t.diagnostics.length})`));
    for (const d of t.diagnostics) {
      const text = `${d.severity} ${d.code} at byte ${d.span.start}: ${d.message}`;
      out.push(`  ${d.severity === 'note' ? p.dim(text) : d.severity === 'error' ? p.error(text) : p.warn(text)}`);
    }
  }
  return out.join('\n');
}
