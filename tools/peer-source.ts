import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { UsageError, TransportError } from '../lib/core/errors.js';
import { bytesEqual, fromHex } from '../lib/core/bytes.js';
import { formatEndpoint, parseHostPort, type PeerAddress } from '../lib/core/address.js';
import { parseTorrent } from '../lib/metainfo/parse.js';
import { parseMagnet } from '../lib/magnet/parse.js';
import type { MagnetLink, Torrent } from '../lib/metainfo/types.js';
import { announce } from '../lib/tracker/client/announce.js';
import { listenTcp } from '../lib/transport/tcp.js';

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

/**
 * `HOST:PORT` or `[v6]:PORT` from the command line or a magnet's `x.pe`; otherwise a usage
 * error that names `source` (`--peer`, `x.pe`) when given.
 */
export function parsePeerAddress(s: string, source?: string): PeerAddress {
  const a = parseHostPort(s);
  if (a) return a;
  throw new UsageError(
    source ? `${source} ${s}: expected HOST:PORT (or [IPv6]:PORT)` : `not a peer address: ${JSON.stringify(s)} (expected HOST:PORT or [IPv6]:PORT)`,
  );
}

export interface FindPeersOptions {
  /** `--peer` addresses: used as given, no tracker is asked. */
  readonly peers?: readonly string[];
  readonly peerId: Uint8Array;
  readonly timeoutMs: number;
  readonly onNote?: (text: string) => void;
  /** Addresses to treat as ours when a tracker echoes us back (default: this host's interface addresses). */
  readonly localAddresses?: readonly string[];
}

/** What `findPeers` found and skipped. */
export interface FoundPeers extends Array<PeerAddress> {
  /** Entries that were us, echoed back by a tracker (opentracker lists the announcing peer). */
  skippedSelf?: PeerAddress[];
}

/** This host's addresses (loopback included), as trackers would list them. */
export function localAddresses(): string[] {
  const out = new Set(['127.0.0.1', '::1']);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address.replace(/%.*$/, ''));
  return [...out];
}

/**
 * Peers to try: `--peer` addresses if given, else the magnet's `x.pe`, else an
 * announce to every tracker of the target (in parallel, within `timeoutMs`).
 * Deduplicated, in the order found. Throws TransportError `no_peers` when none.
 *
 * BEP 3 makes us give a port. We announce one we hold open on 127.0.0.1 for
 * the duration (so no other process on this host can be using it), which lets
 * us recognise ourselves when a tracker hands our own entry back: its port with
 * one of our addresses, or our peer id in a dict-model list. After collecting,
 * a best-effort `stopped` announce takes the entry out of the swarm again.
 * Behind NAT a tracker echoes the public address, which is not among ours:
 * dialling it then fails like any unreachable peer.
 */
export async function findPeers(target: Target, opts: FindPeersOptions): Promise<FoundPeers> {
  if (opts.peers && opts.peers.length > 0) return opts.peers.map((p) => parsePeerAddress(p, '--peer'));
  if (target.peers.length > 0) return target.peers.map((p) => parsePeerAddress(p, 'x.pe'));
  if (target.trackers.length === 0) throw new UsageError('no --peer given and the target names no trackers: give --peer HOST:PORT');
  const left = target.torrent ? target.torrent.length : 1;
  const seen = new Set<string>();
  const out: FoundPeers = [];
  const skippedSelf: PeerAddress[] = [];
  const failures: string[] = [];
  const ours = new Set(opts.localAddresses ?? localAddresses());
  const reservation = await reservePort();
  const port = reservation.port;
  const trackers = target.trackers.slice(0, 20);
  const answered: string[] = [];
  try {
    await Promise.all(
      trackers.map(async (url) => {
        try {
          const r = await announce(url, { infoHash: target.infoHash, peerId: opts.peerId, port, uploaded: 0, downloaded: 0, left, event: 'started', numwant: 50 }, { timeoutMs: opts.timeoutMs });
          answered.push(url);
          opts.onNote?.(`${url}: ${r.peers.length} peers`);
          for (const p of r.peers) {
            const addr = { host: p.ip, port: p.port };
            const key = formatEndpoint(p.ip, p.port);
            if (seen.has(key)) continue;
            seen.add(key);
            if ((p.port === port && ours.has(p.ip)) || (p.peerId && bytesEqual(p.peerId, opts.peerId))) {
              skippedSelf.push(addr);
              opts.onNote?.(`${url}: skipped ${key}, our own entry echoed back`);
              continue;
            }
            out.push(addr);
          }
        } catch (e) {
          failures.push(`${url}: ${(e as Error).message}`);
          opts.onNote?.(`${url}: ${(e as Error).message}`);
        }
      }),
    );
    // Take our entry out of the swarms again; a tracker that does not answer in time keeps it until it expires.
    await Promise.allSettled(
      answered.map((url) =>
        announce(url, { infoHash: target.infoHash, peerId: opts.peerId, port, uploaded: 0, downloaded: 0, left, event: 'stopped', numwant: 0 }, { timeoutMs: Math.min(2000, opts.timeoutMs) }),
      ),
    );
  } finally {
    await reservation.release();
  }
  if (skippedSelf.length > 0) out.skippedSelf = skippedSelf;
  if (out.length === 0) {
    const self = skippedSelf.length > 0 ? ` (only our own entry, echoed back)` : '';
    throw new TransportError('no_peers', `no peers from ${target.trackers.length} tracker(s)${self}${failures.length ? `: ${failures.join('; ')}` : ''}`);
  }
  return out;
}

/** Hold a TCP port on 127.0.0.1 (connections to it are closed at once). */
export async function reservePort(): Promise<{ port: number; release(): Promise<void> }> {
  const listener = await listenTcp({ host: '127.0.0.1', port: 0 }, (t) => t.close());
  return { port: listener.port, release: () => listener.close() };
}
