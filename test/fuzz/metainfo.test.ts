import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode } from '../../lib/bencode/decode.js';
import { BtscopeError } from '../../lib/core/errors.js';
import { parseMagnet } from '../../lib/magnet/parse.js';
import { torrentFrame } from '../../lib/metainfo/frame.js';
import { pieceFileRanges } from '../../lib/metainfo/layout.js';
import { parseTorrent } from '../../lib/metainfo/parse.js';
import { safeFilePath } from '../../lib/metainfo/safe-path.js';

/**
 * Seeded mutation of real torrents into the bencode decoder and parseTorrent,
 * and random strings into parseMagnet: whatever the input, only BtscopeErrors
 * (typed, with a code and offset) may escape. Counts are fixed; the run is
 * also cut off by time so it can never hang the suite.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SUITE = path.resolve(repoRoot, '../shared/torrents/libtorrent-suite');

function seeds(): Uint8Array[] {
  const out = readdirSync(path.join(repoRoot, 'samples'))
    .filter((f) => f.endsWith('.torrent'))
    .map((f) => new Uint8Array(readFileSync(path.join(repoRoot, 'samples', f))));
  if (existsSync(SUITE)) {
    for (const f of readdirSync(SUITE).filter((x) => x.endsWith('.torrent')).sort()) {
      const b = readFileSync(path.join(SUITE, f));
      if (b.length < 8192) out.push(new Uint8Array(b));
    }
  }
  return out;
}

/** xorshift32: the same mutations every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const INTERESTING = ['i-0e', 'i99999999999999999999e', '0:', 'le', 'de', '4294967296:', '-1:', 'i', 'e', 'd', 'l', ':', '9'].map((s) => new TextEncoder().encode(s));

function mutate(input: Uint8Array, r: () => number): Uint8Array {
  let b = input.slice();
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(r() * Math.max(1, b.length));
    switch (Math.floor(r() * 6)) {
      case 0: // flip a byte
        if (b.length) b[at] = Math.floor(r() * 256);
        break;
      case 1: // a digit changes: lengths and integers lie
        if (b.length) b[at] = 0x30 + Math.floor(r() * 10);
        break;
      case 2: // truncate
        b = b.slice(0, at);
        break;
      case 3: // delete a run
        b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + 1 + Math.floor(r() * 16))]);
        break;
      case 4: { // insert a bencode token
        const t = INTERESTING[Math.floor(r() * INTERESTING.length)]!;
        b = new Uint8Array([...b.subarray(0, at), ...t, ...b.subarray(at)]);
        break;
      }
      default: { // duplicate a slice (nesting, repeated keys)
        const len = Math.floor(r() * 64);
        b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at, at + len), ...b.subarray(at)]);
      }
    }
  }
  return b;
}

function onlyTyped(fn: () => unknown): 'ok' | 'typed' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof BtscopeError) return 'typed';
    throw e;
  }
}

describe('fuzz: only typed errors escape', () => {
  it('30 000 mutated torrents into decode, parseTorrent, the frame and the layout', () => {
    const all = seeds();
    expect(all.length).toBeGreaterThan(3);
    const r = rng(0xb75c09e);
    const started = Date.now();
    const tally = { ok: 0, typed: 0 };
    let runs = 0;
    for (; runs < 30_000 && Date.now() - started < 18_000; runs++) {
      const input = mutate(all[runs % all.length]!, r);
      tally[onlyTyped(() => decode(input))]++;
      const outcome = onlyTyped(() => {
        const t = parseTorrent(input);
        if (runs % 10 === 0) torrentFrame(t);
        pieceFileRanges(t, t.pieceCount - 1);
        for (const f of t.files.slice(0, 4)) safeFilePath('/out', f.path);
      });
      tally[outcome]++;
    }
    // Both outcomes happen: the mutations are neither all fatal nor all harmless.
    expect(tally.ok).toBeGreaterThan(1000);
    expect(tally.typed).toBeGreaterThan(1000);
    expect(runs).toBeGreaterThan(5_000);
  }, 30_000);

  it('20 000 random and mutated magnet links into parseMagnet', () => {
    const base = 'magnet:?xt=urn:btih:d69f09fd915ddacc226676b186de3aea8e9d3984&xt=urn:btmh:1220377e96bd844b5d28f76f46825555df2c0af70161126f23ef61f2f8ff20df2852&dn=a%20b&tr=udp%3A%2F%2F127.0.0.1%3A1&so=0-3,5';
    const piece = fc.constantFrom('&', '=', '%', '%zz', 'xt=urn:btih:', 'xt=urn:btmh:1220', 'so=', '-', ',', 'tr.1=', 'dn=', '999999999', 'a');
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.array(fc.tuple(fc.nat(), piece), { maxLength: 6 }), (junk, edits) => {
        let s = base;
        for (const [at, p] of edits) s = s.slice(0, at % (s.length + 1)) + p + s.slice(at % (s.length + 1));
        onlyTyped(() => parseMagnet(s));
        onlyTyped(() => parseMagnet(`magnet:?${junk}`));
      }),
      { numRuns: 10_000, seed: 7 },
    );
  }, 30_000);
});
