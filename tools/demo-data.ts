/** Data for the demo and for tests that want bytes they can regenerate instead of storing. */

/** The demo torrent: deterministic data, so every run shows the same info-hash. */
export function demoContent(mib: number): { path: string[]; data: Uint8Array }[] {
  const total = Math.max(1, Math.round(mib * 1024 * 1024));
  const readme = new TextEncoder().encode('btscope demo data: deterministic bytes (xorshift32), the same on every run.\n');
  const a = Math.floor(total * 0.6);
  return [
    { path: ['README.txt'], data: readme },
    { path: ['data', 'a.bin'], data: deterministicBytes(a, 0x5eed) },
    { path: ['data', 'b.bin'], data: deterministicBytes(total - a + 12345, 0xb7) },
  ];
}

/** Deterministic pseudo-random bytes (xorshift32), so demo and test data are the same on every run. */
export function deterministicBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    const v = next();
    out[i] = v & 0xff;
    out[i + 1] = (v >>> 8) & 0xff;
    out[i + 2] = (v >>> 16) & 0xff;
    out[i + 3] = v >>> 24;
  }
  for (; i < length; i++) out[i] = next() & 0xff;
  return out;
}
