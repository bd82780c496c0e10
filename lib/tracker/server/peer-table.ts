import { randomBytes } from 'node:crypto';
import { ipText, type AddressFamily } from '../../core/address.js';
import type { TrackerPeer } from '../types.js';

const SEEDER = 1;
/** Counted in the swarm's `downloaded` already (BEP 3: one `completed` per peer). */
const COUNTED = 2;

/** Per process, so peer ids chosen to collide here cannot be worked out from outside. */
const HASH_SEED = randomBytes(4).readUInt32LE(0);

/**
 * One address family's peers in one swarm, in columns: the compact address
 * (BEP 23: 4 address bytes and a port; BEP 7: 16 and a port) side by side so a
 * run of peers is handed out with one copy, the peer id, the last announce
 * (seconds) and two flags, and an open-addressing index from peer id to slot
 * (linear probing over an Int32Array, deletions shifted back, no tombstones).
 * No object or string per peer: 31 bytes a peer (IPv4) plus the index's 8-16
 * and the columns' slack. Removal moves the last peer into the hole, so the
 * columns stay dense and a sample is O(numwant), whatever the swarm's size.
 */
export class PeerTable {
  /** Bytes per compact peer: 6 (IPv4) or 18 (IPv6). */
  readonly stride: number;
  count = 0;
  seeders = 0;
  private capacity = 0;
  private ids = new Uint8Array(0);
  private compact = new Uint8Array(0);
  private seen = new Uint32Array(0);
  private flags = new Uint8Array(0);
  /** Slot + 1 of the peer whose id hashes here (or after, probing); 0 is empty. A power of two, at most half full. */
  private index = new Int32Array(16);

  constructor(readonly family: AddressFamily) {
    this.stride = family === 4 ? 6 : 18;
  }

  /** The slot of the peer with this 20-byte id, or -1. */
  slotOf(peerId: Uint8Array): number {
    const mask = this.index.length - 1;
    for (let i = hashId(peerId, 0) & mask; ; i = (i + 1) & mask) {
      const entry = this.index[i]!;
      if (entry === 0) return -1;
      if (this.idAt(entry - 1, peerId, 0)) return entry - 1;
    }
  }

  /** A new peer at the end (its id must not be in the table); returns its slot. */
  add(peerId: Uint8Array, address: Uint8Array, port: number, seconds: number): number {
    if (this.count === this.capacity) this.resize(this.capacity === 0 ? 8 : this.capacity * 2);
    const slot = this.count++;
    this.ids.set(peerId.subarray(0, 20), slot * 20);
    this.setAddress(slot, address, port);
    this.seen[slot] = seconds;
    this.flags[slot] = 0;
    if (this.count * 2 > this.index.length) this.reindex(this.index.length * 2);
    else this.indexInsert(slot);
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

  remove(slot: number): void {
    this.removeSlot(slot);
    this.shrink();
  }

  private removeSlot(slot: number): void {
    if (this.flags[slot]! & SEEDER) this.seeders--;
    this.indexDelete(slot);
    const last = --this.count;
    if (slot !== last) {
      // The last peer fills the hole; its index entry follows it.
      this.index[this.indexPosition(last)] = slot + 1;
      this.ids.copyWithin(slot * 20, last * 20, last * 20 + 20);
      this.compact.copyWithin(slot * this.stride, last * this.stride, (last + 1) * this.stride);
      this.seen[slot] = this.seen[last]!;
      this.flags[slot] = this.flags[last]!;
    }
  }

  /** Halves the columns while they are less than a quarter full, and the index with them. */
  private shrink(): void {
    let capacity = this.capacity;
    while (capacity > 64 && this.count < capacity / 4) capacity >>>= 1;
    if (capacity !== this.capacity) this.resize(capacity);
    let size = this.index.length;
    while (size > 16 && this.count * 8 < size) size >>>= 1;
    if (size !== this.index.length) this.reindex(size);
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
        this.removeSlot(slot);
        removed++;
      } else slot++;
    }
    // Shrinking re-indexes the survivors: once, when a sweep is through, not at every step of it.
    if (removed < budget) this.shrink();
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

  /** Bytes held by the columns and the index, for the memory figure. */
  get bytes(): number {
    return this.capacity * (20 + this.stride + 4 + 1) + this.index.length * 4;
  }

  /** The peer id at `slot` equals the 20 bytes of `id` at `at`. */
  private idAt(slot: number, id: Uint8Array, at: number): boolean {
    const o = slot * 20;
    for (let k = 0; k < 20; k++) if (this.ids[o + k] !== id[at + k]) return false;
    return true;
  }

  /** Where in the index the entry for `slot` is. */
  private indexPosition(slot: number): number {
    const mask = this.index.length - 1;
    for (let i = hashId(this.ids, slot * 20) & mask; ; i = (i + 1) & mask) if (this.index[i] === slot + 1) return i;
  }

  private indexInsert(slot: number): void {
    const mask = this.index.length - 1;
    let i = hashId(this.ids, slot * 20) & mask;
    while (this.index[i] !== 0) i = (i + 1) & mask;
    this.index[i] = slot + 1;
  }

  /** Linear probing's deletion: later entries of the run move back into the hole if their home allows. */
  private indexDelete(slot: number): void {
    const mask = this.index.length - 1;
    let hole = this.indexPosition(slot);
    this.index[hole] = 0;
    for (let i = (hole + 1) & mask; this.index[i] !== 0; i = (i + 1) & mask) {
      const home = hashId(this.ids, (this.index[i]! - 1) * 20) & mask;
      // Move the entry back unless its home lies cyclically in (hole, i].
      if (hole <= i ? home <= hole || home > i : home <= hole && home > i) {
        this.index[hole] = this.index[i]!;
        this.index[i] = 0;
        hole = i;
      }
    }
  }

  private reindex(size: number): void {
    this.index = new Int32Array(size);
    for (let slot = 0; slot < this.count; slot++) this.indexInsert(slot);
  }

  private resize(capacity: number): void {
    const ids = new Uint8Array(capacity * 20);
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

/** FNV-1a over the 20 id bytes at `at`, seeded per process, with a final mix so the low bits depend on every byte. */
function hashId(b: Uint8Array, at: number): number {
  let h = 0x811c9dc5 ^ HASH_SEED;
  for (let k = 0; k < 20; k++) h = Math.imul(h ^ b[at + k]!, 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}
