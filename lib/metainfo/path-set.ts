/**
 * A set of file paths (arrays of components) for duplicate detection: the
 * same answers as a Set of `components.join('/')` when no component holds a
 * `/` (true of plain and of sanitised components), without building a joined
 * string per file. Open addressing over FNV-1a hashes of the components,
 * started from a per-process random value: names crafted to collide (hash
 * flooding a 100 000-file torrent into quadratic time) cannot be precomputed.
 */
export class PathSet {
  /** Pairs (hash, index + 1 into keys); index 0: empty slot. */
  private slots = new Int32Array(2048);
  private readonly keys: (readonly string[])[] = [];
  /** Every path of a multi-file torrent starts with the same name string: hash it once. */
  private lastFirst: string | undefined;
  private lastFirstHash = 0;

  get size(): number {
    return this.keys.length;
  }

  /** Adds `path`; false when an equal path was already there. */
  add(path: readonly string[]): boolean {
    const h = this.hash(path);
    const slots = this.slots;
    const mask = (slots.length >> 1) - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const at = slots[2 * s + 1]!;
      if (at === 0) {
        this.keys.push(path);
        slots[2 * s] = h;
        slots[2 * s + 1] = this.keys.length;
        if (this.keys.length * 4 > slots.length) this.grow();
        return true;
      }
      if (slots[2 * s] === h && samePath(this.keys[at - 1]!, path)) return false;
    }
  }

  has(path: readonly string[]): boolean {
    const h = this.hash(path);
    const slots = this.slots;
    const mask = (slots.length >> 1) - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const at = slots[2 * s + 1]!;
      if (at === 0) return false;
      if (slots[2 * s] === h && samePath(this.keys[at - 1]!, path)) return true;
    }
  }

  /** Half full at most: twice as many slots as keys. */
  private grow(): void {
    const old = this.slots;
    const slots = new Int32Array(old.length * 2);
    const mask = (slots.length >> 1) - 1;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i + 1] === 0) continue;
      let s = old[i]! & mask;
      while (slots[2 * s + 1] !== 0) s = (s + 1) & mask;
      slots[2 * s] = old[i]!;
      slots[2 * s + 1] = old[i + 1]!;
    }
    this.slots = slots;
  }

  private hash(path: readonly string[]): number {
    if (path.length === 0) return mix(FNV_OFFSET);
    const first = path[0]!;
    let h: number;
    if (first === this.lastFirst) {
      h = this.lastFirstHash;
    } else {
      h = fnv(FNV_OFFSET, first);
      this.lastFirst = first;
      this.lastFirstHash = h;
    }
    for (let i = 1; i < path.length; i++) h = fnv(h, path[i]!);
    return mix(h);
  }
}

const FNV_OFFSET = (0x811c9dc5 ^ Math.floor(Math.random() * 0x100000000)) | 0;

/** FNV-1a over a component's UTF-16 units, then the `/` that ends it. */
function fnv(h: number, c: string): number {
  for (let j = 0; j < c.length; j++) h = Math.imul(h ^ c.charCodeAt(j), 0x01000193);
  return Math.imul(h ^ 0x2f, 0x01000193);
}

/** Final mix: FNV's low bits alone cluster for names that differ only at the end. */
function mix(h: number): number {
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h | 0;
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
