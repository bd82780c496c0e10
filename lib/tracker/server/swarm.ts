import { toHex } from '../../core/bytes.js';
import { parseIpv4, parseIpv6, type AddressFamily } from '../../core/address.js';
import type { AnnounceEvent, TrackerPeer } from '../types.js';
import { PeerTable } from './peer-table.js';

/** A torrent's swarm: its peers, IPv4 and IPv6 apart (BEP 7), and how many completed (BEP 48 `downloaded`). */
export class Swarm {
  readonly v4 = new PeerTable(4);
  readonly v6 = new PeerTable(6);
  downloaded = 0;
  /** The per-swarm cap was reached and said so; said again once the swarm falls below 90 % of it. */
  capNoticed = false;
  constructor(readonly infoHash: Uint8Array) {}

  table(family: AddressFamily): PeerTable {
    return family === 4 ? this.v4 : this.v6;
  }

  /** Peers, both families. */
  get size(): number {
    return this.v4.count + this.v6.count;
  }

  /** Seeders (BEP 3 `complete`). */
  get complete(): number {
    return this.v4.seeders + this.v6.seeders;
  }

  /** Leechers (BEP 3 `incomplete`). */
  get incomplete(): number {
    return this.size - this.complete;
  }

  /** The peers as address pairs with their ids, e.g. for tests: `swarm.list()`. */
  list(): TrackerPeer[] {
    const out: TrackerPeer[] = [];
    for (const t of [this.v4, this.v6]) for (let slot = 0; slot < t.count; slot++) out.push(t.peerAt(slot, true));
    return out;
  }
}

export interface SwarmAnnounce {
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  /** The peer's address as text (the request's source, IPv4-mapped addresses unmapped). */
  readonly ip: string;
  /** The address as 4 or 16 bytes when the caller has them (saves parsing `ip`). */
  readonly address?: Uint8Array;
  readonly port: number;
  readonly uploaded: number;
  readonly downloaded: number;
  readonly left: number;
  readonly event?: AnnounceEvent | 'paused';
  readonly numwant: number;
}

/** What an accepted announce found; the peer lists are taken from `swarm` with `skip`. */
export interface SwarmAnswer {
  readonly swarm: Swarm;
  readonly complete: number;
  readonly incomplete: number;
  readonly downloaded: number;
  readonly family: AddressFamily;
  /** The announcing peer's slot in its family's table (-1 after `stopped`), left out of what it is handed. */
  readonly skip: number;
}

export interface SwarmLimits {
  /** Peers not heard from for this long are dropped (2 x interval by default). */
  peerTimeoutMs: number;
  /** When the registry's seconds count from (ms, the server's clock; default now). */
  epoch?: number;
  maxSwarms: number;
  maxPeersPerSwarm: number;
  /** Peers in all swarms together (default: unbounded beyond maxSwarms x maxPeersPerSwarm). */
  maxPeers?: number;
}

/** Something the tracker's operator should hear about once, not per announce. */
export type TrackerNotice =
  | { readonly kind: 'swarm_full'; readonly infoHash: string; readonly limit: number }
  | { readonly kind: 'tracker_full'; readonly limit: number; readonly what: 'peers' | 'torrents' };

/**
 * The tracker's state, without I/O, shared by the HTTP and UDP front ends.
 * Keyed by the info-hash in hex. Peers are keyed by peer id within their
 * address family (BEP 7: a client may announce over IPv4 and IPv6 with one id).
 * Each announce costs O(numwant): no scan of the swarm. Expiry is a separate
 * sweep (`expire`), which the server runs on a timer.
 */
export class SwarmRegistry extends Map<string, Swarm> {
  /** Peers in all swarms. */
  peerCount = 0;
  /** Hex info-hashes this tracker serves; undefined serves any (opentracker's `-w`). */
  whitelist: ReadonlySet<string> | undefined;
  onNotice: ((n: TrackerNotice) => void) | undefined;
  private totalCapNoticed = false;
  private swarmCapNoticed = false;
  private readonly epoch: number;

  constructor(readonly limits: SwarmLimits) {
    super();
    // The server's clock, not the wall clock: with an injected clock the two differ.
    this.epoch = limits.epoch ?? Date.now();
  }

  /** Seconds since this registry began: what the peer tables store. */
  seconds(now: number): number {
    return Math.max(0, Math.floor((now - this.epoch) / 1000));
  }

  announce(a: SwarmAnnounce, now = Date.now()): SwarmAnswer | { error: string } {
    const hex = Buffer.from(a.infoHash.buffer, a.infoHash.byteOffset, 20).toString('hex');
    if (this.whitelist && !this.whitelist.has(hex)) return { error: 'Requested download is not authorized for use with this tracker.' };
    const address = a.address ?? parseIpv4(a.ip) ?? parseIpv6(a.ip);
    if (!address) return { error: `cannot tell the address family of ${a.ip}` };
    const family: AddressFamily = address.length === 4 ? 4 : 6;
    let swarm = this.get(hex);
    if (!swarm) {
      if (a.event === 'stopped') return { swarm: new Swarm(a.infoHash), complete: 0, incomplete: 0, downloaded: 0, family, skip: -1 };
      if (this.size >= this.limits.maxSwarms) {
        this.notice(true, 'torrents');
        return { error: 'tracker is full (too many torrents)' };
      }
      swarm = new Swarm(a.infoHash.slice(0, 20));
      this.set(hex, swarm);
    }
    const table = swarm.table(family);
    if (a.peerId.length !== 20) return { error: 'peer_id must be 20 bytes' };
    let slot = table.slotOf(a.peerId);
    if (a.event === 'stopped') {
      if (slot >= 0) {
        table.remove(slot);
        this.peerCount--;
      }
      return { swarm, complete: swarm.complete, incomplete: swarm.incomplete, downloaded: swarm.downloaded, family, skip: -1 };
    }
    const seconds = this.seconds(now);
    if (slot < 0) {
      if (swarm.size >= this.limits.maxPeersPerSwarm) {
        if (!swarm.capNoticed) {
          swarm.capNoticed = true;
          this.onNotice?.({ kind: 'swarm_full', infoHash: hex, limit: this.limits.maxPeersPerSwarm });
        }
        return { error: 'swarm is full' };
      }
      if (this.limits.maxPeers !== undefined && this.peerCount >= this.limits.maxPeers) {
        this.notice(true, 'peers');
        return { error: 'tracker is full (too many peers)' };
      }
      slot = table.add(a.peerId, address, a.port, seconds);
      this.peerCount++;
    } else if (!table.sameAddress(slot, address, a.port)) {
      table.setAddress(slot, address, a.port);
    }
    table.touch(slot, seconds, a.left);
    if (a.event === 'completed' && table.countCompleted(slot)) swarm.downloaded++;
    return { swarm, complete: swarm.complete, incomplete: swarm.incomplete, downloaded: swarm.downloaded, family, skip: slot };
  }

  scrape(infoHash: Uint8Array): { complete: number; incomplete: number; downloaded: number } {
    const swarm = this.get(toHex(infoHash));
    if (!swarm) return { complete: 0, incomplete: 0, downloaded: 0 };
    return { complete: swarm.complete, incomplete: swarm.incomplete, downloaded: swarm.downloaded };
  }

  /**
   * Drops peers silent for longer than the timeout, and swarms left with no
   * peers and no completions; returns the peers dropped. At most `budget` peers
   * a call (the server calls again on the next turn of the event loop until
   * less than the budget was dropped), so a mass expiry never stalls it.
   */
  expire(now = Date.now(), budget = Infinity): number {
    const cutoff = this.seconds(now - this.limits.peerTimeoutMs);
    let removed = 0;
    for (const [hex, swarm] of this) {
      if (removed >= budget) break;
      removed += swarm.v4.expire(cutoff, budget - removed);
      removed += swarm.v6.expire(cutoff, budget - removed);
      if (swarm.size === 0 && swarm.downloaded === 0) this.delete(hex);
      else if (swarm.size < this.limits.maxPeersPerSwarm * 0.9) swarm.capNoticed = false;
    }
    this.peerCount -= removed;
    if (this.limits.maxPeers === undefined || this.peerCount < this.limits.maxPeers * 0.9) this.totalCapNoticed = false;
    if (this.size < this.limits.maxSwarms * 0.9) this.swarmCapNoticed = false;
    return removed;
  }

  private notice(reached: boolean, what: 'peers' | 'torrents'): void {
    const flag = what === 'peers' ? 'totalCapNoticed' : 'swarmCapNoticed';
    if (!reached || this[flag]) return;
    this[flag] = true;
    this.onNotice?.({ kind: 'tracker_full', what, limit: what === 'peers' ? this.limits.maxPeers! : this.limits.maxSwarms });
  }
}
