import { fromHex, toHex } from '../core/bytes.js';
import { DecodeError } from '../core/errors.js';
import type { MagnetLink, Torrent } from '../metainfo/types.js';

/**
 * Magnet links (BEP 9, BEP 53):
 *   magnet:?xt=urn:btih:<40 hex | 32 base32>&xt=urn:btmh:1220<64 hex>&dn=..&tr=..&ws=..&x.pe=host:port&so=0,2,4-6
 * Offsets in errors count characters of the URI (bytes, for the ASCII a magnet link should be).
 */

export interface ParseMagnetOptions {
  /** Longest URI accepted. */
  maxLength?: number;
  /** Most `so` file indices a link may select (ranges expand). */
  maxSelectOnly?: number;
}

const PREFIX = 'magnet:?';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Parameter names: `tr.1`, `xt.2`... (BEP 9 numbered forms) count as `tr`, `xt`. */
function baseKey(key: string): string {
  const m = /^(.*?)\.\d+$/.exec(key);
  return m ? m[1]! : key;
}

export function parseMagnet(uri: string, opts: ParseMagnetOptions = {}): MagnetLink {
  const maxLength = opts.maxLength ?? 64 * 1024;
  const maxSelect = opts.maxSelectOnly ?? 100_000;
  const text = uri.trim();
  const lead = uri.length - uri.trimStart().length;
  if (text.length > maxLength) throw new DecodeError('limit_exceeded', lead + maxLength, `magnet link longer than ${maxLength} characters`);
  if (text.slice(0, PREFIX.length).toLowerCase() !== PREFIX) {
    throw new DecodeError('not_a_magnet', lead, `not a magnet link: expected it to start with "magnet:?", found ${JSON.stringify(text.slice(0, 12))}`);
  }
  let infoHash: Uint8Array | null = null;
  let infoHashV2: Uint8Array | null = null;
  let name: string | undefined;
  const trackers: string[] = [];
  const webSeeds: string[] = [];
  const peers: string[] = [];
  let selectOnly: number[] | undefined;

  let pos = lead + PREFIX.length;
  for (const param of text.slice(PREFIX.length).split('&')) {
    const at = pos;
    pos += param.length + 1;
    if (param.length === 0) continue;
    const eq = param.indexOf('=');
    const key = baseKey((eq < 0 ? param : param.slice(0, eq)).toLowerCase());
    const rawValue = eq < 0 ? '' : param.slice(eq + 1);
    const valueAt = at + eq + 1;
    const value = percentDecode(key === 'dn' ? rawValue.replace(/\+/g, ' ') : rawValue, valueAt, key);
    switch (key) {
      case 'xt': {
        const lower = value.toLowerCase();
        if (lower.startsWith('urn:btih:')) {
          const h = btih(value.slice(9), valueAt + 9);
          if (infoHash && toHex(infoHash) !== toHex(h)) throw new DecodeError('invalid_value', valueAt, 'two different urn:btih info-hashes in one link');
          infoHash = h;
        } else if (lower.startsWith('urn:btmh:')) {
          const h = btmh(value.slice(9), valueAt + 9);
          if (infoHashV2 && toHex(infoHashV2) !== toHex(h)) throw new DecodeError('invalid_value', valueAt, 'two different urn:btmh info-hashes in one link');
          infoHashV2 = h;
        }
        // Other URNs (urn:sha1, urn:ed2k...) name the content for other networks: not ours.
        break;
      }
      case 'dn':
        name = value;
        break;
      case 'tr':
        if (value && !trackers.includes(value)) trackers.push(value);
        break;
      case 'ws':
        if (value && !webSeeds.includes(value)) webSeeds.push(value);
        break;
      case 'x.pe':
        if (value) peers.push(value);
        break;
      case 'so':
        selectOnly = [...(selectOnly ?? []), ...selectRanges(value, valueAt, maxSelect - (selectOnly?.length ?? 0))];
        break;
      default:
        // xl, as, kt, mt and experimental x.* keys: allowed, not used.
        break;
    }
  }
  if (!infoHash && !infoHashV2) {
    throw new DecodeError('missing_field', lead + PREFIX.length, 'magnet link has no xt=urn:btih: (v1) or xt=urn:btmh: (v2) info-hash', 'xt');
  }
  const link: { -readonly [K in keyof MagnetLink]: MagnetLink[K] } = { infoHash, infoHashV2, trackers, webSeeds, peers };
  if (name !== undefined) link.name = name;
  if (selectOnly) link.selectOnly = selectOnly;
  return link;
}

function percentDecode(s: string, at: number, key: string): string {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new DecodeError('invalid_value', at + i, `bad percent-escape ${JSON.stringify(s.slice(i, i + 3))} in ${key}`, key);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      for (const b of new TextEncoder().encode(s[i]!)) bytes.push(b);
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** urn:btih: 40 hex digits, or 32 base32 characters (RFC 4648, as BEP 9 allows). */
function btih(s: string, at: number): Uint8Array {
  if (/^[0-9a-fA-F]{40}$/.test(s)) return fromHex(s);
  if (s.length === 32) return base32(s, at);
  throw new DecodeError('invalid_value', at, `urn:btih: needs 40 hex digits or 32 base32 characters, got ${s.length} characters`, 'xt');
}

function base32(s: string, at: number): Uint8Array {
  const out = new Uint8Array(20);
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const v = BASE32.indexOf(s[i]!.toUpperCase());
    if (v < 0) throw new DecodeError('invalid_value', at + i, `${JSON.stringify(s[i])} is not a base32 digit in urn:btih`, 'xt');
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out[o++] = (acc >> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out;
}

/** urn:btmh: a multihash, hex: 0x12 (sha2-256), 0x20 (32 bytes), then the SHA-256 (BEP 53 / BEP 52). */
function btmh(s: string, at: number): Uint8Array {
  if (!/^[0-9a-fA-F]*$/.test(s) || s.length % 2 !== 0) throw new DecodeError('invalid_value', at, 'urn:btmh: must be a hex multihash', 'xt');
  if (s.slice(0, 4) !== '1220') throw new DecodeError('invalid_value', at, `urn:btmh: multihash must be sha2-256 (prefix 1220), found ${JSON.stringify(s.slice(0, 4))}`, 'xt');
  if (s.length !== 68) throw new DecodeError('invalid_value', at + 4, `urn:btmh: needs 64 hex digits after 1220, got ${s.length - 4}`, 'xt');
  return fromHex(s.slice(4));
}

/** BEP 53 `so`: comma-separated file indices and inclusive ranges, e.g. 0,2,4-6. */
function selectRanges(s: string, at: number, budget: number): number[] {
  const out: number[] = [];
  let pos = at;
  for (const part of s.split(',')) {
    const m = /^(\d{1,9})(?:-(\d{1,9}))?$/.exec(part);
    if (!m) throw new DecodeError('invalid_value', pos, `so: ${JSON.stringify(part)} is not an index or a range like 4-6 (BEP 53)`, 'so');
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new DecodeError('invalid_value', pos, `so: range ${part} runs backwards`, 'so');
    if (out.length + (b - a + 1) > budget) throw new DecodeError('limit_exceeded', pos, 'so: selects too many files', 'so');
    for (let i = a; i <= b; i++) out.push(i);
    pos += part.length + 1;
  }
  return out;
}

/** A magnet link for a torrent (both hashes for a hybrid) or a parsed link. */
export function formatMagnet(src: Torrent | MagnetLink): string {
  const parts: string[] = [];
  if (src.infoHash) parts.push(`xt=urn:btih:${toHex(src.infoHash)}`);
  if (src.infoHashV2) parts.push(`xt=urn:btmh:1220${toHex(src.infoHashV2)}`);
  if (src.name !== undefined) parts.push(`dn=${encodeURIComponent(src.name)}`);
  const trackers = isTorrent(src) ? src.trackers.flat() : src.trackers;
  for (const tr of trackers) parts.push(`tr=${encodeURIComponent(tr)}`);
  for (const ws of src.webSeeds) parts.push(`ws=${encodeURIComponent(ws)}`);
  if (!isTorrent(src)) {
    for (const p of src.peers) parts.push(`x.pe=${encodeURIComponent(p)}`);
    if (src.selectOnly?.length) parts.push(`so=${compressRanges(src.selectOnly)}`);
  }
  return `magnet:?${parts.join('&')}`;
}

function isTorrent(x: Torrent | MagnetLink): x is Torrent {
  return 'pieceLength' in x;
}

function compressRanges(indices: readonly number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(j > i ? `${sorted[i]}-${sorted[j]}` : `${sorted[i]}`);
    i = j + 1;
  }
  return out.join(',');
}
