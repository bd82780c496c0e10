import type { Torrent } from '../metainfo/types.js';
import type { PiecePicker } from './piece-picker.js';
import { decodeUtPex, encodeUtPex } from '../wire/ut-pex.js';
import { PexSender, pexContacts, pexKey, PEX_FIRST_DELAY_MS, PEX_INTERVAL_MS, type PexLimits, type PexPeerView } from './pex-sender.js';
import type { SwarmPeer } from './swarm-peer.js';

/** What ut_pex needs of its swarm. */
export interface PexContext {
  readonly torrent: Torrent;
  /** Which pieces each peer has (a peer with all of them is flagged a seed). */
  readonly picker: PiecePicker<SwarmPeer>;
  readonly peers: ReadonlySet<SwarmPeer>;
  readonly now: () => number;
  /** Addresses learned through PEX. */
  readonly onPeers?: (peers: { ip: string; port: number }[]) => void;
  /** The port we accept peers on, once known (a contact there is ourselves). Undefined: we do not listen. */
  readonly listenPort?: () => number | undefined;
  /** At most one ut_pex message per peer per this many ms (default 60 s). */
  readonly pexIntervalMs?: number;
  /** The first ut_pex message to a peer this long after its extended handshake (default 0: at once). */
  readonly pexFirstDelayMs?: number;
  /** Added / dropped contacts per message (default 50 each). */
  readonly pexLimits?: PexLimits;
}

/**
 * ut_pex (BEP 11) for a whole swarm: the contacts peers tell us of go to
 * `onPeers`; each peer that offers ut_pex hears of our other peers, when it is
 * due and something changed, through its own PexSender (pex-sender.ts).
 */
export class SwarmPex {
  /** Bumped when what PEX would list may have changed (a peer came, went, gave its listen port or its pieces). */
  private epoch = 0;
  private queued = false;
  private stopped = false;

  constructor(private readonly c: PexContext) {}

  /** A ut_pex message from a peer: its added contacts (IPv4 and IPv6) to `onPeers`. */
  received(payload: Uint8Array): void {
    try {
      const pex = decodeUtPex(payload).value;
      this.c.onPeers?.([...pex.added, ...pex.added6].map((x) => ({ ip: x.ip, port: x.port })));
    } catch {
      // undecodable PEX is shown by --frames; nothing to use
    }
  }

  /**
   * What PEX would list may have changed: peers that are due hear of it once
   * this turn of the event loop is done (many changes at once make one pass),
   * not at the next tick.
   */
  changed(): void {
    this.epoch++;
    if (this.queued || this.stopped) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      if (!this.stopped) this.tick(this.c.now());
    });
  }

  /** Its extended handshake (the first or a later one) offers ut_pex: from now on it hears of our other peers. */
  offered(p: SwarmPeer): void {
    if (p.pex || p.session.extensions.idFor('out', 'ut_pex') === undefined) return;
    p.pex = { sender: new PexSender(this.c.pexLimits), dueAt: this.c.now() + (this.c.pexFirstDelayMs ?? PEX_FIRST_DELAY_MS), sent: 0, quietAt: -1 };
  }

  /**
   * Send each peer that is due the ut_pex it has coming: under ITS id for
   * ut_pex, at most one a pexIntervalMs, none when nothing changed.
   */
  tick(now: number): void {
    let views: Map<SwarmPeer, PexPeerView> | undefined;
    let self: Set<string> | undefined;
    for (const p of this.c.peers) {
      // quietAt: nothing to tell it at this epoch, and nothing changed since.
      if (!p.pex || now < p.pex.dueAt || p.pex.quietAt === this.epoch || p.session.closed) continue;
      const id = p.session.extensions.idFor('out', 'ut_pex');
      if (id === undefined) continue;
      if (!views) {
        views = new Map();
        for (const q of this.c.peers) if (!q.session.closed) views.set(q, this.view(q));
        self = this.selfKeys();
      }
      const message = p.pex.sender.next(pexContacts(views.values(), views.get(p)!, self!));
      if (!message) {
        p.pex.quietAt = this.epoch;
        continue;
      }
      p.session.send({ type: 'extended', extId: id, payload: encodeUtPex(message) });
      p.pex.sent++;
      p.pex.dueAt = now + (this.c.pexIntervalMs ?? PEX_INTERVAL_MS);
    }
  }

  stop(): void {
    this.stopped = true;
  }

  /** Our own listen address as each connection sees us: a peer there is ourselves. */
  private selfKeys(): Set<string> {
    const self = new Set<string>();
    const port = this.c.listenPort?.();
    if (port !== undefined) for (const q of this.c.peers) if (q.session.transport.localHost) self.add(pexKey(q.session.transport.localHost, port));
    return self;
  }

  private view(p: SwarmPeer): PexPeerView {
    const ext = p.session.remoteExtended;
    return {
      ip: p.session.remoteIp,
      remotePort: p.session.transport.remotePort,
      outgoing: p.outgoing,
      listenPort: ext?.p,
      seed: ext?.uploadOnly === true || this.isSeed(p),
      holepunch: (ext?.m.get('ut_holepunch') ?? 0) > 0,
    };
  }

  private isSeed(p: SwarmPeer): boolean {
    const n = this.c.torrent.pieceCount;
    if (n === 0) return false;
    for (let i = 0; i < n; i++) if (!this.c.picker.peerHas(p, i)) return false;
    return true;
  }
}
