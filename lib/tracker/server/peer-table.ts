import { ipText, type AddressFamily } from '../../core/address.js';
import type { TrackerPeer } from '../types.js';

const SEEDER = 1;
/** Counted in the swarm's `downloaded` already (BEP 3: one `completed` per peer). */
const COUNTED = 2;

/**
 * One address family's peers in one swarm, in columns: the compact address
 * (BEP 23: 4 address bytes and a port; BEP 7: 16 and a port) side by side so a
 * run of peers is handed out with one copy, the peer id, the last announce
 * (seconds) and two flags. About 31 bytes a peer (v4) plus the id map's entry,
 * instead of an object per peer. Removal moves the last peer into the hole, so
 * the columns stay dense and a sample is O(numwant), whatever the swarm's size.
 */
export class PeerTable {
  /** Bytes per compact peer: 6 (IPv4) or 18 (IPv6). */
  readonly stride: number;
  count = 0;
  seeders = 0;
  private capacity = 0;
  private ids = Buffer.alloc(0);
  private compact = new Uint8Array(0);
  private seen = new Uint32Array(0);
  private flags = new Uint8Array(0);
  /** Peer id (20 bytes as latin1 text) to slot. */
  private readonly slots = new Map<string, number>();

  constructor(readonly family: AddressFamily) {
    this.stride = family === 4 ? 6 : 18;
  }

  slotOf(peerIdKey: string): number {
    return this.slots.get(peerIdKey) ?? -1;
  }

  /** A new peer at the end; returns its slot. */
  add(peerIdKey: string, peerId: Uint8Array, address: Uint8Array, port: number, seconds: number): number {
    if (this.count === this.capacity) this.grow();
    const slot = this.count++;
    this.ids.set(peerId.subarray(0, 20), slot * 20);
    this.setAddress(slot, address, port);
    this.seen[slot] = seconds;
    this.flags[slot] = 0;
    this.slots.set(peerIdKey, slot);
    return slot;
  }

  /** A known peer announced from another address or port. */
  setAddress(slot: number, address: Uint8Array, port: number): void {
    const at = slot * this.stride;
    this.compact.set(address, at);
    this.compact[at + this.stride - 2] = port >>> 8;
    this.compact[at + this.stride - 1] = port & 0xff;
  }

  sameAddress(slot: number, address: Uint8Array, port: number): boolean {
    const at = slot * this.stride;
    for (let i = 0; i < address.length; i++) if (this.compact[at + i] !== address[i]) return false;
    return this.compact[at + this.stride - 2] === port >>> 8 && this.compact[at + this.stride - 1] === (port & 0xff);
  }

  touch(slot: number, seconds: number, left: number): void {
    this.seen[slot] = seconds;
    const f = this.flags[slot]!;
    const seeder = left === 0;
    if (seeder !== ((f & SEEDER) !== 0)) {
      this.flags[slot] = seeder ? f | SEEDER : f & ~SEEDER;
      this.seeders += seeder ? 1 : -1;
    }
  }

  /** Marks the peer's `completed` as counted; false when it was already. */
  countCompleted(slot: number): boolean {
    const f = this.flags[slot]!;
    if (f & COUNTED) return false;
    this.flags[slot] = f | COUNTED;
    return true;
  }

  remove(slot: number, peerIdKey: string): void {
    this.removeSlot(slot, peerIdKey);
    this.shrink();
  }

  private removeSlot(slot: number, peerIdKey: string): void {
    if (this.flags[slot]! & SEEDER) this.seeders--;
    this.slots.delete(peerIdKey);
    const last = --this.count;
    if (slot !== last) {
      this.ids.copyWithin(slot * 20, last * 20, last * 20 + 20);
      this.compact.copyWithin(slot * this.stride, last * this.stride, (last + 1) * this.stride);
      this.seen[slot] = this.seen[last]!;
      this.flags[slot] = this.flags[last]!;
      this.slots.set(this.idKey(slot), slot);
    }
  }

  /** Halves the columns while they are less than a quarter full. */
  private shrink(): void {
    let capacity = this.capacity;
    while (capacity > 64 && this.count < capacity / 4) capacity >>>= 1;
    if (capacity !== this.capacity) this.resize(capacity);
  }

  /**
   * Drops peers last seen before `cutoff` (seconds), at most `budget` of them
   * (the rest at the next call, so a sweep never stalls the server for long);
   * returns how many.
   */
  expire(cutoff: number, budget = Infinity): number {
    let removed = 0;
    for (let slot = 0; slot < this.count && removed < budget; ) {
      if (this.seen[slot]! < cutoff) {
        this.removeSlot(slot, this.idKey(slot));
        removed++;
      } else slot++;
    }
    this.shrink();
    return removed;
  }

  /**
   * Up to `max` compact peers, a run of slots from a random start (wrapping),
   * leaving out `skip` (the announcing peer): O(max) however large the table.
   */
  sample(max: number, skip: number): Uint8Array {
    const others = skip >= 0 && skip < this.count ? this.count - 1 : this.count;
    const n = Math.max(0, Math.min(max, others));
    const out = new Uint8Array(n * this.stride);
    if (n === 0) return out;
    let slot = n === others ? 0 : Math.floor(Math.random() * this.count);
    let pos = 0;
    while (pos < out.length) {
      if (slot === this.count) slot = 0;
      if (slot === skip) {
        slot++;
        continue;
      }
      // The longest run from `slot` that needs neither a wrap nor a skip.
      let end = Math.min(this.count, slot + (out.length - pos) / this.stride);
      if (skip >= slot && skip < end) end = skip;
      out.set(this.compact.subarray(slot * this.stride, end * this.stride), pos);
      pos += (end - slot) * this.stride;
      slot = end;
    }
    return out;
  }

  peerAt(slot: number, withId: boolean): TrackerPeer {
    const at = slot * this.stride;
    const ip = ipText(this.compact, at, this.family);
    const port = (this.compact[at + this.stride - 2]! << 8) | this.compact[at + this.stride - 1]!;
    return withId ? { ip, port, peerId: this.ids.slice(slot * 20, slot * 20 + 20) } : { ip, port };
  }

  /** Up to `max` peers as objects (the BEP 3 dict model), from a random start, leaving out `skip`. */
  peers(max: number, skip: number, withId: boolean): TrackerPeer[] {
    const out: TrackerPeer[] = [];
    if (this.count === 0) return out;
    const start = Math.floor(Math.random() * this.count);
    for (let i = 0; i < this.count && out.length < max; i++) {
      const slot = (start + i) % this.count;
      if (slot !== skip) out.push(this.peerAt(slot, withId));
    }
    return out;
  }

  /** Approximate bytes held (columns and the id map), for the memory figure. */
  get bytes(): number {
    return this.capacity * (20 + this.stride + 4 + 1) + this.slots.size * 72;
  }

  private idKey(slot: number): string {
    return this.ids.toString('latin1', slot * 20, slot * 20 + 20);
  }

  private grow(): void {
    this.resize(this.capacity === 0 ? 8 : this.capacity * 2);
  }

  private resize(capacity: number): void {
    const ids = Buffer.alloc(capacity * 20);
    ids.set(this.ids.subarray(0, this.count * 20));
    const compact = new Uint8Array(capacity * this.stride);
    compact.set(this.compact.subarray(0, this.count * this.stride));
    const seen = new Uint32Array(capacity);
    seen.set(this.seen.subarray(0, this.count));
    const flags = new Uint8Array(capacity);
    flags.set(this.flags.subarray(0, this.count));
    this.ids = ids;
    this.compact = compact;
    this.seen = seen;
    this.flags = flags;
    this.capacity = capacity;
  }
}
