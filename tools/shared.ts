/**
 * What more than one command needs: the tracker client as the engine takes it, the
 * --frames logger, the download summary, torrent reading with a named failure, and
 * bencode as JSON. Commands import this module, never each other.
 */
import type { BNode } from '../lib/bencode/node.js';
import { formatBytes, toHex, utf8OrUndefined } from '../lib/core/bytes.js';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { DecodeError, UsageError } from '../lib/core/errors.js';
import type { Frame } from '../lib/core/field.js';
import { describeNotBencode } from '../lib/core/sniff.js';
import type { AnnounceFn, DownloadSummary } from '../lib/engine/downloader.js';
import { parseTorrent } from '../lib/metainfo/parse.js';
import type { Torrent } from '../lib/metainfo/types.js';
import { renderHexFrame } from '../lib/render/hex-frame.js';
import { announce } from '../lib/tracker/client/announce.js';
import { hexOptions, type Io } from './io.js';

/** The tracker client as the engine wants it (the engine does not import lib/tracker). */
export const trackerAnnounce: AnnounceFn = async (url, req) => {
  const r = await announce(url, req, { timeoutMs: 10_000 });
  return { interval: r.interval, peers: r.peers.map((p) => ({ ip: p.ip, port: p.port })) };
};

/**
 * --frames[=TYPES]: print frames hex-annotated, only the message types named
 * (handshake, bitfield, request, piece, extended, ...), at most `limit` of them
 * so a big download does not drown the terminal.
 */
export function frameLogger(io: Io, types: string | undefined, limit: number): ((f: Frame, dir: string, peer: string) => void) | undefined {
  if (types === undefined) return undefined;
  const wanted = types === '' || types === 'all' ? null : new Set(types.split(',').map((t) => t.trim()));
  let shown = 0;
  let skipped = 0;
  return (f, dir, peer) => {
    const type = f.title.split(' ')[0]!;
    if (wanted && !wanted.has(type) && !wanted.has(f.title)) return;
    if (shown >= limit) {
      if (skipped++ === 0) io.out(`… more frames not shown (--frames-limit ${limit})`);
      return;
    }
    shown++;
    io.out(renderHexFrame({ ...f, title: `${dir === 'out' ? '→' : '←'} ${peer} ${f.title}` }, hexOptions(io)));
  };
}

/** `1 piece`, `2 pieces`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** The lines `download` and `demo` print when a download is complete. */
export function summaryText(s: DownloadSummary, out: string): string {
  const rate = s.seconds > 0 ? s.bytes / s.seconds : 0;
  return [
    `downloaded ${s.name} (${s.infoHash}) into ${out}`,
    `  ${formatBytes(s.bytes)} verified in ${s.seconds.toFixed(2)} s (${formatBytes(Math.round(rate))}/s)` +
      (s.resumedBytes > 0 ? `, ${formatBytes(s.resumedBytes)} already on disk (${plural(s.checkedPieces, 'piece')} re-checked in ${s.checkSeconds.toFixed(2)} s)` : ''),
    `  ${s.peers} peer${s.peers === 1 ? '' : 's'} connected, ${s.peersWithData} sent data; ${s.hashFailures} hash failure${s.hashFailures === 1 ? '' : 's'}` +
      (s.banned.length ? `; banned ${s.banned.join(', ')}` : '') +
      (s.wastedBytes ? `; ${formatBytes(s.wastedBytes)} duplicate` : ''),
  ].join('\n');
}

/**
 * A file a tool will write (`-o FILE`), checked before any network work: not a folder, and
 * in a folder that exists. Throws UsageError naming `flag`.
 */
export async function checkOutputFile(file: string, flag = '-o'): Promise<void> {
  const st = await stat(file).catch(() => undefined);
  if (st?.isDirectory()) throw new UsageError(`${flag} ${file}: is a folder; give a file name`);
  const parent = await stat(path.dirname(path.resolve(file))).catch(() => undefined);
  if (!parent?.isDirectory()) throw new UsageError(`${flag} ${file}: the folder ${path.dirname(file)} does not exist`);
}

/** Parse a .torrent, naming what the input is when it is not bencode at all. */
export function readTorrent(bytes: Uint8Array, label: string): Torrent {
  try {
    return parseTorrent(bytes);
  } catch (e) {
    if (e instanceof DecodeError) {
      const what = describeNotBencode(bytes, e.offset);
      if (what) throw new DecodeError('not_a_torrent', e.offset, `${label} is ${what}`);
      throw new DecodeError(e.code, e.offset, `${label}: ${e.message}`, e.path);
    }
    throw e;
  }
}

/** JSON for jq: UTF-8 strings as strings, other byte strings as {"hex": ...}; integers beyond 2^53 as strings. */
export function jsonOf(node: BNode): unknown {
  switch (node.kind) {
    case 'int': {
      const v = node.intValue();
      return typeof v === 'bigint' ? v.toString() : v;
    }
    case 'str': {
      const t = utf8OrUndefined(node.bytes());
      return t ?? { hex: toHex(node.bytes()) };
    }
    case 'list':
      return node.items().map(jsonOf);
    case 'dict': {
      const out = Object.create(null) as Record<string, unknown>;
      for (const [k, v] of node.entries()) out[utf8OrUndefined(k.bytes()) ?? toHex(k.bytes())] = jsonOf(v);
      return out;
    }
  }
}
