import type { Torrent } from '../metainfo/types.js';
import type { Frame } from '../core/field.js';
import { formatEndpoint, type PeerAddress } from '../core/address.js';
import type { Direction } from '../core/direction.js';
import { makeReserved } from '../wire/handshake.js';
import { PeerSession, type PeerSessionOptions } from '../peer/session.js';
import type { Transport, TransportListener } from '../transport/transport.js';
import { listenTcp } from '../transport/tcp.js';
import { acceptEncryption, encryptedDialer, type MseInfo } from '../transport/mse.js';
import type { EncryptionPolicy } from '../mse/constants.js';
import { MAX_UPLOAD_QUEUE, type KnownPeerState, type Swarm } from './swarm.js';

/** Announce to one tracker URL; returns peers (injected so the engine does not depend on a tracker client). */
export type AnnounceFn = (
  url: string,
  req: { infoHash: Uint8Array; peerId: Uint8Array; port: number; uploaded: number; downloaded: number; left: number; event?: 'started' | 'completed' | 'stopped'; numwant?: number; crypto?: 'support' | 'require' },
) => Promise<{ interval: number; peers: { ip: string; port: number }[] }>;

export type AnnounceEvent = 'started' | 'completed' | 'stopped';

export interface SwarmHostOptions {
  torrent: Torrent;
  swarm: Swarm;
  /** The info-hash on the wire (v1, or a v2-only torrent's truncated SHA-256). */
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** Listen for incoming peers (port 0: any free port). */
  listen?: { host?: string; port?: number };
  /** Peers connected at once, ours and theirs (default 30; incoming may take as many again). */
  maxPeers?: number;
  handshakeTimeoutMs?: number;
  /** Dial tracker, PEX and --peer candidates while this holds (a downloader: until complete). */
  wantPeers: () => boolean;
  trackers?: readonly (readonly string[])[];
  announce?: AnnounceFn;
  /** What the announce reports. */
  transferred: () => { uploaded: number; downloaded: number; left: number };
  /** Dial the peers trackers return (a seeder waits to be dialled). */
  dialTrackerPeers: boolean;
  onFrame?: (frame: Frame, direction: Direction, peer: string) => void;
  log?: (line: string) => void;
  /** MSE/PE (default `prefer`: RC4 offered and chosen, plaintext peers still served and dialled). */
  encryption?: EncryptionPolicy;
  /** Each finished MSE exchange (a key log). */
  onMse?: (info: MseInfo, peer: string) => void;
}

/** Attempts per address before it is given up (backoff 1 s, 2 s, 4 s). */
const MAX_ATTEMPTS = 3;

/**
 * Where a Swarm meets the network, the same for the downloader and the
 * seeder: the listening transport, the dial queue (deduplicated, bounded,
 * retried with backoff, never a banned address), tracker announces at their
 * interval, and one set of session options (reserved bits with the BEP 52 v2
 * bit for a v2-only torrent, our extended handshake, frame tap).
 */
export class SwarmHost {
  private listener: TransportListener | undefined;
  private readonly candidates: PeerAddress[] = [];
  /** Candidates dialled even when `wantPeers` says no (a seeder's --connect). */
  private readonly forced = new Set<string>();
  private readonly known = new Set<string>();
  private readonly connected = new Set<string>();
  private readonly attempts = new Map<string, number>();
  private connecting = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  /** Sessions handed to the swarm: dialled, accepted or adopted. */
  peersAdded = 0;

  private constructor(private readonly o: SwarmHostOptions) {}

  static async start(o: SwarmHostOptions): Promise<SwarmHost> {
    const host = new SwarmHost(o);
    if (o.listen) host.listener = await listenTcp(o.listen, (t) => host.accept(t));
    return host;
  }

  /** Our listening port, when listening. */
  get port(): number | undefined {
    return this.listener?.port;
  }

  /** Addresses known so far (for the stall message). */
  get knownCount(): number {
    return this.known.size;
  }

  private sessionOptions(address: string): PeerSessionOptions {
    const t = this.o.torrent;
    const port = this.port;
    return {
      infoHash: this.o.infoHash,
      peerId: this.o.peerId,
      // BEP 52: a v2-only torrent's connections are v2 (its info-hash is the truncated SHA-256); say so.
      // On a hybrid's v1 hash the bit would offer an upgrade that the swarm does not follow.
      reserved: makeReserved({ extended: true, fast: true, v2: t.infoHash === null && t.infoHashV2 !== null }),
      pieceCount: t.pieceCount,
      greeting: 'later',
      handshakeTimeoutMs: this.o.handshakeTimeoutMs ?? 10_000,
      connectTimeoutMs: this.o.handshakeTimeoutMs ?? 10_000,
      extended: { reqq: MAX_UPLOAD_QUEUE, ...(port !== undefined ? { p: port } : {}), metadataSize: t.info.length },
      dial: encryptedDialer(this.o.encryption ?? 'prefer', this.o.infoHash, this.mseOptions()),
      ...(this.o.onFrame ? { onFrame: (f: Frame, d: Direction) => this.o.onFrame!(f, d, address) } : {}),
    };
  }

  private mseOptions(): { onMse?: (info: MseInfo, t: Transport) => void } {
    const onMse = this.o.onMse;
    return onMse ? { onMse: (info, t) => onMse(info, t.peer) } : {};
  }

  /** Queue addresses to dial (once each); `force`: even when the swarm wants no more peers. */
  addCandidates(peers: readonly PeerAddress[], how: { force?: boolean } = {}): void {
    for (const a of peers) {
      const key = formatEndpoint(a.host, a.port);
      if (this.known.has(key) || a.port <= 0 || a.port > 65535) continue;
      this.known.add(key);
      if (how.force) this.forced.add(key);
      this.candidates.push(a);
    }
    this.dial();
  }

  /** Dial queued candidates up to the peer limit. */
  dial(): void {
    const max = this.o.maxPeers ?? 30;
    for (let i = 0; i < this.candidates.length && !this.stopped && this.connected.size + this.connecting < max; ) {
      const a = this.candidates[i]!;
      const key = formatEndpoint(a.host, a.port);
      if (!this.o.wantPeers() && !this.forced.has(key)) {
        i++;
        continue;
      }
      this.candidates.splice(i, 1);
      if (this.o.swarm.banned.has(key) || this.connected.has(key)) continue;
      const n = (this.attempts.get(key) ?? 0) + 1;
      this.attempts.set(key, n);
      this.connecting++;
      PeerSession.connect(a.host, a.port, this.sessionOptions(key)).then(
        (session) => {
          this.connecting--;
          if (this.stopped) return session.close();
          this.join(session, key, { outgoing: true }, () => this.retry(a, n));
        },
        (e: Error) => {
          this.connecting--;
          this.o.log?.(peerLine(key, e));
          this.retry(a, n);
          this.dial();
        },
      );
    }
  }

  private retry(a: PeerAddress, n: number): void {
    const key = formatEndpoint(a.host, a.port);
    if (this.stopped || this.o.swarm.banned.has(key) || n >= MAX_ATTEMPTS) return;
    this.later(500 * 2 ** n, () => {
      this.candidates.push(a);
      this.dial();
    });
  }

  private later(ms: number, f: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) f();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  /** An incoming transport: their handshake, then into the swarm. */
  private accept(t: Transport): void {
    const max = this.o.maxPeers ?? 30;
    if (this.stopped || this.o.swarm.peers.size >= max * 2) return t.close();
    acceptEncryption(t, { policy: this.o.encryption ?? 'prefer', infoHashes: () => [this.o.infoHash], ...this.mseOptions(), timeoutMs: this.o.handshakeTimeoutMs ?? 10_000 })
      .then((carried) => PeerSession.open(carried, this.sessionOptions(t.peer), false))
      .then(
      (session) => {
        if (this.stopped) return session.close();
        this.peersAdded++;
        this.o.swarm.add(session);
      },
      (e: Error) => this.o.log?.(`incoming ${t.peer}: ${e.message}`),
    );
  }

  /** A session someone else opened and handshook (a magnet's metadata connection), with what it learned. */
  adopt(session: PeerSession, known: KnownPeerState): void {
    this.known.add(session.peer);
    this.join(session, session.peer, { outgoing: true, known });
  }

  /** A session we dialled (or adopted) into the swarm; when it ends, its slot goes to the next candidate. */
  private join(session: PeerSession, key: string, how: { outgoing: boolean; known?: KnownPeerState }, closed?: () => void): void {
    this.connected.add(key);
    this.peersAdded++;
    this.o.swarm.add(
      session,
      (e) => {
        this.connected.delete(key);
        if (e) this.o.log?.(peerLine(key, e));
        closed?.();
        this.dial();
      },
      how,
    );
  }

  /**
   * Announce to every URL of every tier at once (loopback tests have one);
   * re-announced at the tracker's interval after `started` or a regular one.
   */
  announceAll(event?: AnnounceEvent): Promise<unknown> {
    const { announce, trackers } = this.o;
    if (!announce) return Promise.resolve();
    return Promise.allSettled(
      (trackers ?? []).flat().map(async (url) => {
        try {
          const r = await announce(url, {
            infoHash: this.o.infoHash,
            peerId: this.o.peerId,
            port: this.port ?? 6881,
            ...this.o.transferred(),
            ...(event ? { event } : {}),
            ...(this.o.dialTrackerPeers ? { numwant: 50 } : {}),
            ...cryptoKey(this.o.encryption ?? 'prefer'),
          });
          this.o.log?.(`tracker ${url}: ${r.peers.length} peers, interval ${r.interval} s`);
          if (this.o.dialTrackerPeers) this.addCandidates(r.peers.map((p) => ({ host: p.ip, port: p.port })));
          if (!event || event === 'started') this.later(Math.max(5, r.interval) * 1000, () => void this.announceAll());
        } catch (e) {
          this.o.log?.(`tracker ${url}: ${(e as Error).message}`);
        }
      }),
    );
  }

  /**
   * Stop dialling, retrying and re-announcing; announce `event` (bounded by
   * `announceMs`); stop listening (closing the incoming transports).
   */
  async stop(event?: AnnounceEvent, announceMs = 2000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (event && this.o.announce) await Promise.race([this.announceAll(event), new Promise((r) => setTimeout(r, announceMs).unref())]);
    await this.listener?.close();
  }
}

/** `peer HOST:PORT: what went wrong`, once: a PeerError's message already starts with the address. */
function peerLine(key: string, e: Error): string {
  const said = e.message.startsWith(`${key}: `) ? e.message.slice(key.length + 2) : e.message;
  return `peer ${key}: ${said}`;
}

/** The announce's MSE/PE keys for a policy (none in plaintext). */
function cryptoKey(policy: EncryptionPolicy): { crypto?: 'support' | 'require' } {
  return policy === 'require' ? { crypto: 'require' } : policy === 'prefer' ? { crypto: 'support' } : {};
}
