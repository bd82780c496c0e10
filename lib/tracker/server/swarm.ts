import { toHex } from '../../core/bytes.js';
import { familyOf } from '../compact-peers.js';
import type { AnnounceEvent, TrackerPeer } from '../types.js';

/** One peer as the tracker remembers it. */
export interface SwarmPeer {
  readonly ip: string;
  readonly port: number;
  readonly peerId: Uint8Array;
  left: number;
  uploaded: number;
  downloaded: number;
  /** ms since epoch of the last announce. */
  lastSeen: number;
  /** Counted in `downloaded` already (BEP 3: one `completed` event per peer). */
  completedCounted: boolean;
}

/** A torrent's swarm: its peers and how many completed (BEP 48 `downloaded`). */
export class Swarm {
  readonly peers = new Map<string, SwarmPeer>();
  downloaded = 0;
  constructor(readonly infoHash: Uint8Array) {}

  get complete(): number {
    let n = 0;
    for (const p of this.peers.values()) if (p.left === 0) n++;
    return n;
  }

  get incomplete(): number {
    return this.peers.size - this.complete;
  }

  /** The peers as address pairs, e.g. for tests: `swarm.list()`. */
  list(): TrackerPeer[] {
    return [...this.peers.values()].map((p) => ({ ip: p.ip, port: p.port, peerId: p.peerId }));
  }
}

export interface SwarmAnnounce {
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  readonly ip: string;
  readonly port: number;
  readonly uploaded: number;
  readonly downloaded: number;
  readonly left: number;
  readonly event?: AnnounceEvent | 'paused';
  readonly numwant: number;
}

export interface SwarmLimits {
  /** Peers not heard from for this long are dropped. */
  peerTimeoutMs: number;
  maxSwarms: number;
  maxPeersPerSwarm: number;
}

/**
 * The tracker's state, without I/O, shared by the HTTP and UDP front ends.
 * Peers are keyed by peer id and address family (BEP 7: a client may announce
 * over IPv4 and IPv6 with one peer id).
 */
export class SwarmRegistry extends Map<string, Swarm> {
  constructor(readonly limits: SwarmLimits) {
    super();
  }

  announce(a: SwarmAnnounce, now = Date.now()): { peers: TrackerPeer[]; complete: number; incomplete: number; downloaded: number } | { error: string } {
    const hex = toHex(a.infoHash);
    let swarm = this.get(hex);
    if (!swarm) {
      if (a.event === 'stopped') return { peers: [], complete: 0, incomplete: 0, downloaded: 0 };
      if (this.size >= this.limits.maxSwarms) this.pruneAll(now);
      if (this.size >= this.limits.maxSwarms) return { error: 'tracker is full (too many torrents)' };
      swarm = new Swarm(a.infoHash);
      this.set(hex, swarm);
    }
    this.prune(swarm, now);
    const key = `${toHex(a.peerId)}/${familyOf(a.ip) ?? 4}`;
    const existing = swarm.peers.get(key);
    if (a.event === 'stopped') {
      swarm.peers.delete(key);
      return { peers: [], complete: swarm.complete, incomplete: swarm.incomplete, downloaded: swarm.downloaded };
    }
    let peer = existing;
    if (!peer || peer.ip !== a.ip || peer.port !== a.port) {
      if (!peer && swarm.peers.size >= this.limits.maxPeersPerSwarm) return { error: 'swarm is full' };
      peer = { ip: a.ip, port: a.port, peerId: a.peerId, left: a.left, uploaded: a.uploaded, downloaded: a.downloaded, lastSeen: now, completedCounted: existing?.completedCounted ?? false };
      swarm.peers.set(key, peer);
    }
    peer.left = a.left;
    peer.uploaded = a.uploaded;
    peer.downloaded = a.downloaded;
    peer.lastSeen = now;
    if (a.event === 'completed' && !peer.completedCounted) {
      peer.completedCounted = true;
      swarm.downloaded++;
    }
    const others = [...swarm.peers.values()].filter((p) => p !== peer);
    // A random sample, so every peer gets a chance to be handed out.
    for (let i = others.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [others[i], others[j]] = [others[j]!, others[i]!];
    }
    const peers = others.slice(0, Math.max(0, a.numwant)).map((p) => ({ ip: p.ip, port: p.port, peerId: p.peerId }));
    return { peers, complete: swarm.complete, incomplete: swarm.incomplete, downloaded: swarm.downloaded };
  }

  scrape(infoHash: Uint8Array): { complete: number; incomplete: number; downloaded: number } {
    const swarm = this.get(toHex(infoHash));
    if (!swarm) return { complete: 0, incomplete: 0, downloaded: 0 };
    this.prune(swarm, Date.now());
    return { complete: swarm.complete, incomplete: swarm.incomplete, downloaded: swarm.downloaded };
  }

  private prune(swarm: Swarm, now: number): void {
    for (const [k, p] of swarm.peers) if (now - p.lastSeen > this.limits.peerTimeoutMs) swarm.peers.delete(k);
  }

  private pruneAll(now: number): void {
    for (const [hex, swarm] of this) {
      this.prune(swarm, now);
      if (swarm.peers.size === 0 && swarm.downloaded === 0) this.delete(hex);
    }
  }
}
