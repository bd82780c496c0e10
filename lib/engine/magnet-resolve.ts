import type { MagnetLink, Torrent } from '../metainfo/types.js';
import { parseInfoDict } from '../metainfo/parse.js';
import { BtscopeError } from '../core/errors.js';
import { bytesEqual, toHex } from '../core/bytes.js';
import { makeReserved } from '../wire/handshake.js';
import type { Frame } from '../core/field.js';
import type { Direction } from '../core/direction.js';
import { PeerConnection, PeerError } from '../peer/peer-connection.js';
import type { PeerSession } from '../peer/session.js';
import { encryptedDialer, type MseInfo } from '../transport/mse.js';
import type { EncryptionPolicy } from '../mse/constants.js';
import type { KnownPeerState } from './swarm.js';
import { fetchMetadata } from './metadata-fetch.js';
import { fetchPieceLayers, layerRequests, withPieceLayers } from './piece-layer-fetch.js';

export interface ResolveMagnetOptions {
  magnet: MagnetLink;
  /** Peers to ask, in order (x.pe, --peer, tracker peers). */
  peers: readonly { host: string; port: number }[];
  peerId: Uint8Array;
  trackers?: readonly (readonly string[])[];
  /** Per peer (ms, default 30 s). */
  timeoutMs?: number;
  /** At most this many peers are tried (default 20). */
  maxPeers?: number;
  /** The whole resolution, every peer included (ms); no peer is started, or waited for, past it. */
  deadlineMs?: number;
  /** Stops the resolution: the peer being asked is closed, and `aborted` thrown. */
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** MSE/PE for the metadata connections (default plaintext). */
  encryption?: EncryptionPolicy;
  onMse?: (info: MseInfo, peer: string) => void;
  /** Frames of the metadata connections (--frames). */
  onFrame?: (frame: Frame, direction: Direction, peer: string) => void;
}

/** The connection that gave the torrent, still open, with what it learned of the peer: for the swarm. */
export interface MagnetPeer {
  readonly session: PeerSession;
  readonly known: KnownPeerState;
}

/** resolveMagnet, closing the connection that gave the torrent. */
export async function resolveMagnet(o: ResolveMagnetOptions): Promise<Torrent> {
  const r = await resolveMagnetKeeping(o);
  r.peer?.session.close();
  return r.torrent;
}

/**
 * A magnet link to a Torrent: the info dict from the first peer that gives it
 * (BEP 9), hashing to every info-hash the link names, then, for a v2-only
 * torrent, the piece layers of every file larger than a piece from a peer that
 * set the v2 bit (BEP 52 hash requests), each checked against its pieces root.
 * A hybrid torrent's SHA-1 pieces cover every byte, so its layers are asked for
 * only where the link named its v2 hash, and a peer without them does not stop
 * the download. A peer that fails a step is passed over; the metadata, once
 * had, is kept. Throws `no_metadata` / `no_piece_layers` with every peer's
 * reason when none will do. The connection that completes the torrent is
 * returned open (`peer`), so a download goes on with that peer without
 * dialling it again.
 */
export async function resolveMagnetKeeping(o: ResolveMagnetOptions): Promise<{ torrent: Torrent; peer?: MagnetPeer }> {
  const m = o.magnet;
  const wireHash = m.infoHash ?? m.infoHashV2?.subarray(0, 20);
  if (!wireHash) throw new BtscopeError('no_info_hash', 'the magnet link has neither urn:btih nor urn:btmh');
  const trackers = o.trackers ?? m.trackers.map((t) => [t]);
  let torrent: Torrent | undefined;
  const errors: string[] = [];
  const until = o.deadlineMs !== undefined ? Date.now() + o.deadlineMs : Infinity;
  let timeUp = false;
  let kept = false;
  /** The torrent is complete: its connection goes on, handed over as it is. */
  const keep = (conn: PeerConnection, t: Torrent): { torrent: Torrent; peer?: MagnetPeer } => {
    if (conn.closed || o.signal?.aborted) return { torrent: t };
    conn.setPieceCount(t.pieceCount);
    const s = conn.state;
    const known: KnownPeerState = { ...s, peerPieces: new Uint8Array(s.peerPieces), allowedFast: new Set(s.allowedFast) };
    kept = true;
    return { torrent: t, peer: { session: conn.handOver(), known } };
  };
  for (const c of o.peers.slice(0, o.maxPeers ?? 20)) {
    if (o.signal?.aborted) break;
    const left = until - Date.now();
    if (left <= 0) {
      timeUp = true;
      break;
    }
    const perPeer = Math.min(o.timeoutMs ?? 30_000, left);
    /** What this peer may still take: its own limit, within the whole search's. */
    const budget = (): number => Math.max(1, Math.min(perPeer, until - Date.now()));
    let conn: PeerConnection | undefined;
    const onAbort = (): void => conn?.close();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      conn = await closedOnAbort(PeerConnection.connect(c.host, c.port, {
        connectTimeoutMs: Math.min(10_000, perPeer),
        handshakeTimeoutMs: Math.min(10_000, perPeer),
        infoHash: wireHash,
        peerId: o.peerId,
        reserved: makeReserved({ extended: true, fast: true, v2: Boolean(m.infoHashV2) }),
        // Both hashes named: a hybrid, which the peer may upgrade to its v2 hash (BEP 52).
        ...(m.infoHash && m.infoHashV2 ? { upgradeInfoHash: m.infoHashV2.subarray(0, 20) } : {}),
        // BEP 6: have none first (we have nothing yet), then the extended handshake.
        greeting: 'later',
        ...(o.encryption && o.encryption !== 'plaintext'
          ? { dial: encryptedDialer(o.encryption, wireHash, o.onMse ? { onMse: (i, t) => o.onMse!(i, t.peer) } : {}) }
          : {}),
        ...(o.onFrame ? { onFrame: (f: Frame, d: Direction) => o.onFrame!(f, d, `${c.host}:${c.port}`) } : {}),
      }), o.signal);
      conn.greet(conn.fast ? { type: 'have_none' } : undefined);
      if (conn.upgraded) o.log?.(`${conn.peer}: handshake upgraded to the v2 info-hash ${toHex(conn.torrentInfoHash)} (BEP 52)`);
      if (!torrent) {
        if (o.signal?.aborted) break;
        const r = await fetchMetadata(conn, conn.torrentInfoHash, { timeoutMs: budget(), ...(m.infoHashV2 ? { infoHashV2: m.infoHashV2 } : {}) });
        const parsed = parseInfoDict(r.info, { trackers });
        checkNamedHashes(m, parsed, r.peer);
        torrent = parsed;
        o.log?.(`metadata: ${r.info.length} bytes in ${r.pieces} piece(s) from ${r.peer}`);
      }
      if (!torrent.infoHashV2 || layerRequests(torrent).length === 0) return keep(conn, torrent);
      const hybrid = torrent.pieces !== null;
      // Only a link that named the v2 hash set our v2 bit; without it a peer may not answer hash requests.
      if (hybrid && !m.infoHashV2) return keep(conn, torrent);
      try {
        const layers = await fetchPieceLayers(conn, torrent, { timeoutMs: budget() });
        o.log?.(`piece layers: ${layers.size} file(s) from ${conn.peer}`);
        return keep(conn, withPieceLayers(torrent, layers));
      } catch (e) {
        if (!hybrid) throw e;
        o.log?.(`piece layers: none from ${conn.peer} (${(e as Error).message}); the hybrid torrent's SHA-1 pieces will verify the data`);
        return keep(conn, torrent);
      }
    } catch (e) {
      errors.push(`${c.host}:${c.port}: ${(e as Error).message}`);
      o.log?.(`magnet ${c.host}:${c.port}: ${(e as Error).message}`);
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      if (conn && !kept) conn.close();
    }
  }
  if (o.signal?.aborted) throw new BtscopeError('aborted', 'magnet resolution aborted');
  if (timeUp) errors.push(`gave up after ${((o.deadlineMs ?? 0) / 1000).toFixed(1)} s`);
  const why = errors.length ? `: ${errors.join('; ')}` : ' (no peers known)';
  if (!torrent) throw new BtscopeError('no_metadata', `no peer gave the metadata for ${toHex(m.infoHashV2 ?? wireHash)}${why}`);
  throw new BtscopeError('no_piece_layers', `${torrent.name}: no peer gave the piece layers (BEP 52 hash requests)${why}`);
}

/** The info dict must hash to each info-hash the link names, not just to the one used on the wire. */
function checkNamedHashes(m: MagnetLink, t: Torrent, peer: string): void {
  const named: [string, Uint8Array | null | undefined, Uint8Array | null | undefined][] = [
    ['v1 (btih)', m.infoHash, t.infoHash],
    ['v2 (btmh)', m.infoHashV2, t.infoHashV2],
  ];
  for (const [which, want, got] of named) {
    if (!want) continue;
    if (!got || !bytesEqual(want, got)) {
      throw new PeerError('metadata_hash_mismatch', `the metadata's ${which} info-hash is ${got ? toHex(got) : 'absent'}, but the magnet link names ${toHex(want)}`, peer);
    }
  }
}

/** A connection attempt that an abort gives up on at once (closing the connection if it comes later). */
function closedOnAbort(p: Promise<PeerConnection>, signal: AbortSignal | undefined): Promise<PeerConnection> {
  if (!signal) return p;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      reject(new BtscopeError('aborted', 'magnet resolution aborted'));
      p.then((c) => c.close(), () => undefined);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (c) => {
        signal.removeEventListener('abort', onAbort);
        resolve(c);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
