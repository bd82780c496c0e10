import { readFile } from 'node:fs/promises';
import { UsageError, TransportError } from '../core/errors.js';
import { fromHex } from '../core/bytes.js';
import { parseTorrent } from '../metainfo/parse.js';
import { parseMagnet } from '../magnet/parse.js';
import type { MagnetLink, Torrent } from '../metainfo/types.js';
import { announce } from '../tracker/client/announce.js';
import { formatEndpoint } from '../wire/address.js';

/** What a wire tool works on: a .torrent, a magnet link, or a bare info-hash. */
export interface Target {
  /** The 20-byte info-hash used on the wire (v1, or v2 truncated, BEP 52). */
  readonly infoHash: Uint8Array;
  readonly infoHashV2: Uint8Array | null;
  readonly trackers: readonly string[];
  readonly torrent?: Torrent;
  readonly magnet?: MagnetLink;
  /** `x.pe` peers of a magnet. */
  readonly peers: readonly string[];
  readonly label: string;
}

/** Parse TARGET: a magnet URI, 40 hex digits, or a .torrent path. */
export async function resolveTarget(arg: string): Promise<Target> {
  if (arg.startsWith('magnet:')) {
    const m = parseMagnet(arg);
    const infoHash = m.infoHash ?? m.infoHashV2!.subarray(0, 20);
    return { infoHash, infoHashV2: m.infoHashV2, trackers: m.trackers, magnet: m, peers: m.peers, label: m.name ?? 'magnet' };
  }
  if (/^[0-9a-fA-F]{40}$/.test(arg)) return { infoHash: fromHex(arg), infoHashV2: null, trackers: [], peers: [], label: arg.toLowerCase() };
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(arg));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${arg}: no such file (TARGET is a .torrent, a magnet link or a 40-hex info-hash)`);
    throw e;
  }
  const t = parseTorrent(bytes);
  const infoHash = t.infoHash ?? t.infoHashV2!.subarray(0, 20);
  return { infoHash, infoHashV2: t.infoHashV2, trackers: t.trackers.flat(), torrent: t, peers: [], label: t.name };
}

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** `HOST:PORT` or `[v6]:PORT`. */
export function parsePeerAddress(s: string): PeerAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) throw new UsageError(`not a peer address: ${JSON.stringify(s)} (expected HOST:PORT or [IPv6]:PORT)`);
  return { host: m[1]!, port };
}

/**
 * Peers to try: `--peer` addresses if given, else the magnet's `x.pe`, else an
 * announce to every tracker of the target (in parallel, within `timeoutMs`).
 * Deduplicated, in the order found. Throws TransportError `no_peers` when none.
 */
export async function findPeers(
  target: Target,
  opts: { peers?: readonly string[]; peerId: Uint8Array; timeoutMs: number; onNote?: (text: string) => void },
): Promise<PeerAddress[]> {
  if (opts.peers && opts.peers.length > 0) return opts.peers.map(parsePeerAddress);
  if (target.peers.length > 0) return target.peers.map(parsePeerAddress);
  if (target.trackers.length === 0) throw new UsageError('no --peer given and the target names no trackers: give --peer HOST:PORT');
  const left = target.torrent ? target.torrent.length : 1;
  const seen = new Set<string>();
  const out: PeerAddress[] = [];
  const failures: string[] = [];
  await Promise.all(
    target.trackers.slice(0, 20).map(async (url) => {
      try {
        const r = await announce(url, { infoHash: target.infoHash, peerId: opts.peerId, port: 6881, uploaded: 0, downloaded: 0, left, event: 'started', numwant: 50 }, { timeoutMs: opts.timeoutMs });
        opts.onNote?.(`${url}: ${r.peers.length} peers`);
        for (const p of r.peers) {
          const key = formatEndpoint(p.ip, p.port);
          if (seen.has(key)) continue;
          seen.add(key);
          out.push({ host: p.ip, port: p.port });
        }
      } catch (e) {
        failures.push(`${url}: ${(e as Error).message}`);
        opts.onNote?.(`${url}: ${(e as Error).message}`);
      }
    }),
  );
  if (out.length === 0) throw new TransportError('no_peers', `no peers from ${target.trackers.length} tracker(s)${failures.length ? `: ${failures.join('; ')}` : ''}`);
  return out;
}
