import { familyOf, formatEndpoint, unmapIpv4 } from '../core/address.js';
import { PEX_FLAGS, type PexPeer, type UtPex } from '../wire/ut-pex.js';

/**
 * The bookkeeping behind the ut_pex (BEP 11) messages the swarm sends. Pure:
 * no sockets, no clock. The swarm describes its connections as PexPeerViews,
 * pexContacts() turns them into the addresses one recipient may be told, and
 * that recipient's PexSender remembers what it was told and computes the next
 * message (added since the last one, dropped since the last one).
 */

/**
 * BEP 11 and the uTorrent/Azureus convention it follows: at most 50 added and
 * 50 dropped contacts per message (IPv4 and IPv6 counted together), at most one
 * message a minute.
 */
export const PEX_MAX_ADDED = 50;
export const PEX_MAX_DROPPED = 50;
export const PEX_INTERVAL_MS = 60_000;
/**
 * The first message goes out as soon as the recipient's extended handshake is
 * in (BEP 11 sets no wait for it): a peer that just joined learns the swarm at
 * once, and a short probe (btscope comply's main session is about 0.3 s) sees it.
 */
export const PEX_FIRST_DELAY_MS = 0;

/** What the swarm knows of one connection, as far as PEX cares. */
export interface PexPeerView {
  /** The connection's remote IP (as the socket reports it; `::ffff:a.b.c.d` is taken as IPv4). */
  readonly ip: string;
  /** The connection's remote port. */
  readonly remotePort: number;
  /** We dialled it (its remote port is the port it listens on) and the handshake succeeded. */
  readonly outgoing: boolean;
  /** `p` of its extended handshake (BEP 10): the port it listens on. */
  readonly listenPort?: number | undefined;
  /** It has every piece, or said upload_only (BEP 21). */
  readonly seed: boolean;
  /** Its extended handshake offers ut_holepunch (BEP 55). */
  readonly holepunch: boolean;
}

/** One address in a ut_pex message, with its `added.f` flags. */
export interface PexContact {
  readonly ip: string;
  readonly port: number;
  readonly flags: number;
}

/** `ip:port` (IPv6 in brackets), IPv4-mapped IPv6 written as IPv4: one key per listen address. */
export function pexKey(ip: string, port: number): string {
  return formatEndpoint(unmapIpv4(ip), port);
}

const validPort = (port: number | undefined): port is number => port !== undefined && Number.isInteger(port) && port > 0 && port <= 65535;

/**
 * Where a connected peer accepts connections: the address we dialled, or, for
 * one that dialled us, its IP with the `p` of its extended handshake. Undefined
 * when we do not know (it dialled us and sent no valid `p`).
 */
export function listenAddressOf(v: PexPeerView): { ip: string; port: number } | undefined {
  const ip = unmapIpv4(v.ip);
  if (familyOf(ip) === undefined) return undefined;
  if (v.outgoing) return validPort(v.remotePort) ? { ip, port: v.remotePort } : undefined;
  return validPort(v.listenPort) ? { ip, port: v.listenPort } : undefined;
}

/**
 * BEP 11 `added.f` bits we can vouch for: 0x02 seed, 0x08 holepunch, 0x10
 * reachable (we dialled it and it answered). Never 0x01 (btscope does not do
 * MSE, so it knows nothing of the peer's preference) nor 0x04 (no uTP).
 */
export function pexFlagsOf(v: PexPeerView): number {
  return (v.seed ? PEX_FLAGS.seed : 0) | (v.holepunch ? PEX_FLAGS.holepunch : 0) | (v.outgoing ? PEX_FLAGS.reachable : 0);
}

/**
 * The contacts `recipient` may be told about: every other connected peer whose
 * listen address we know, one entry per address (flags of its connections
 * OR-ed), reachable ones first. Never the recipient itself (by connection or by
 * address) and never one of `self` (our own listen address as our peers see it:
 * a connection to ourselves).
 */
export function pexContacts(peers: Iterable<PexPeerView>, recipient: PexPeerView, self: ReadonlySet<string>): PexContact[] {
  const mine = listenAddressOf(recipient);
  const exclude = new Set(self);
  if (mine) exclude.add(pexKey(mine.ip, mine.port));
  const byKey = new Map<string, PexContact>();
  for (const v of peers) {
    if (v === recipient) continue;
    const a = listenAddressOf(v);
    if (!a) continue;
    const key = pexKey(a.ip, a.port);
    if (exclude.has(key)) continue;
    const before = byKey.get(key);
    byKey.set(key, { ip: a.ip, port: a.port, flags: (before?.flags ?? 0) | pexFlagsOf(v) });
  }
  const reachable = (c: PexContact): number => (c.flags & PEX_FLAGS.reachable ? 0 : 1);
  return [...byKey.values()].sort((a, b) => reachable(a) - reachable(b));
}

export interface PexLimits {
  /** Added contacts per message, IPv4 and IPv6 together (default PEX_MAX_ADDED). */
  readonly maxAdded?: number;
  /** Dropped contacts per message, IPv4 and IPv6 together (default PEX_MAX_DROPPED). */
  readonly maxDropped?: number;
}

/**
 * What one recipient was told: the contacts added to it and not dropped since.
 * Memory is bounded by that set, which holds only contacts that were connected
 * when added (and leave it when they are reported dropped).
 */
export class PexSender {
  private readonly told = new Map<string, PexContact>();
  private readonly maxAdded: number;
  private readonly maxDropped: number;

  constructor(limits: PexLimits = {}) {
    this.maxAdded = limits.maxAdded ?? PEX_MAX_ADDED;
    this.maxDropped = limits.maxDropped ?? PEX_MAX_DROPPED;
  }

  /** Contacts the recipient currently knows from us. */
  get toldCount(): number {
    return this.told.size;
  }

  knows(ip: string, port: number): boolean {
    return this.told.has(pexKey(ip, port));
  }

  /**
   * The next message, given the contacts the recipient may know now; undefined
   * when nothing changed (BEP 11: no empty messages). The message is taken as
   * sent: what it adds is remembered, what it drops forgotten. Beyond the
   * limits, the rest waits for the next message. A contact is never both added
   * and dropped: added ones are not in the told set, dropped ones are.
   */
  next(current: Iterable<PexContact>): UtPex | undefined {
    const now = new Map<string, PexContact>();
    for (const c of current) {
      const key = pexKey(c.ip, c.port);
      if (!now.has(key)) now.set(key, c);
    }
    const dropped: PexContact[] = [];
    for (const [key, c] of this.told) {
      if (dropped.length >= this.maxDropped) break;
      if (!now.has(key)) dropped.push(c);
    }
    const added: PexContact[] = [];
    for (const [key, c] of now) {
      if (added.length >= this.maxAdded) break;
      if (!this.told.has(key) && familyOf(unmapIpv4(c.ip)) !== undefined) added.push(c);
    }
    if (added.length === 0 && dropped.length === 0) return undefined;
    for (const c of dropped) this.told.delete(pexKey(c.ip, c.port));
    for (const c of added) this.told.set(pexKey(c.ip, c.port), c);
    const v4 = (c: PexContact): boolean => familyOf(unmapIpv4(c.ip)) === 4;
    const peer = (c: PexContact, flags: boolean): PexPeer => (flags ? { ip: unmapIpv4(c.ip), port: c.port, flags: c.flags } : { ip: unmapIpv4(c.ip), port: c.port });
    return {
      added: added.filter(v4).map((c) => peer(c, true)),
      dropped: dropped.filter(v4).map((c) => peer(c, false)),
      added6: added.filter((c) => !v4(c)).map((c) => peer(c, true)),
      dropped6: dropped.filter((c) => !v4(c)).map((c) => peer(c, false)),
    };
  }
}
