/**
 * A set of file paths (arrays of components) for duplicate detection: the
 * same answers as a Set of `components.join('/')` when no component holds a
 * `/` (true of plain and of sanitised components), without building a joined
 * string per file. Open addressing over FNV-1a hashes of the components.
 */
export class PathSet {
  private slots = new Int32Array(1024); // 0: empty, else index + 1 into keys
  private readonly keys: (readonly string[])[] = [];
  private readonly hashes: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** Adds `path`; false when an equal path was already there. */
  add(path: readonly string[]): boolean {
    const h = hashPath(path);
    const mask = this.slots.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const at = this.slots[s]!;
      if (at === 0) {
        this.keys.push(path);
        this.hashes.push(h);
        this.slots[s] = this.keys.length;
        if (this.keys.length * 2 > this.slots.length) this.grow();
        return true;
      }
      if (this.hashes[at - 1] === h && samePath(this.keys[at - 1]!, path)) return false;
    }
  }

  has(path: readonly string[]): boolean {
    const h = hashPath(path);
    const mask = this.slots.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const at = this.slots[s]!;
      if (at === 0) return false;
      if (this.hashes[at - 1] === h && samePath(this.keys[at - 1]!, path)) return true;
    }
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let i = 0; i < this.keys.length; i++) {
      let s = this.hashes[i]! & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = i + 1;
    }
    this.slots = slots;
  }
}

function hashPath(path: readonly string[]): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    for (let j = 0; j < c.length; j++) h = Math.imul(h ^ c.charCodeAt(j), 0x01000193);
    h = Math.imul(h ^ 0x2f, 0x01000193);
  }
  // Final mix: FNV's low bits alone cluster for names that differ only at the end.
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
