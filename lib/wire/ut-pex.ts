import { decode } from '../bencode/decode.js';
import { encode } from '../bencode/encode.js';
import { bencodeFields } from '../bencode/fields.js';
import { DecodeError } from '../core/errors.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import type { Field, FieldDef } from '../core/field.js';
import { COMPACT_PEER_SIZE, encodeCompactPeers, formatEndpoint, parseCompactPeers } from '../core/address.js';

/**
 * BEP 11 ut_pex: `added`/`dropped` compact IPv4 peers (6 bytes each),
 * `added6`/`dropped6` IPv6 (18 bytes), `added.f`/`added6.f` one flag byte per
 * added peer.
 */
export const PEX_FLAGS = {
  encryption: 0x01,
  seed: 0x02,
  utp: 0x04,
  holepunch: 0x08,
  reachable: 0x10,
} as const;

export interface PexPeer {
  readonly ip: string;
  readonly port: number;
  readonly flags?: number;
}

export interface UtPex {
  readonly added: PexPeer[];
  readonly dropped: PexPeer[];
  readonly added6: PexPeer[];
  readonly dropped6: PexPeer[];
}

export const UT_PEX_FIELDS = {
  dict: { id: 'bt.ut_pex', label: 'ut_pex', bep: 11 },
} as const satisfies Record<string, FieldDef>;

export function pexFlagNames(flags: number): string[] {
  return Object.entries(PEX_FLAGS)
    .filter(([, bit]) => (flags & bit) !== 0)
    .map(([name]) => name);
}

/** One flag byte per added peer, in hex with its BEP 11 names: `0x12 (seed+reachable), 0x00`. */
function describeFlags(flags: Uint8Array): string {
  if (flags.length === 0) return 'none';
  const one = (f: number): string => `0x${f.toString(16).padStart(2, '0')}${f ? ` (${pexFlagNames(f).join('+') || 'reserved bits'})` : ''}`;
  return [...flags.subarray(0, 8)].map(one).join(', ') + (flags.length > 8 ? ` … ${flags.length} in all` : '');
}

/** Decode a ut_pex payload (after the ext id byte) at absolute offset `base`. */
export function decodeUtPex(payload: Uint8Array, base = 0): { value: UtPex; field: Field; diagnostics: Diagnostic[] } {
  const doc = decode(payload, { base, maxDepth: 4, maxTokens: 64 });
  const root = doc.root;
  if (!root.isDict()) throw new DecodeError('wrong_type', base, `ut_pex should be a dict, is ${root.kind}`, 'ut_pex');
  const diags: Diagnostic[] = [...doc.diagnostics];
  const list = (key: string, family: 4 | 6, flagsKey?: string): PexPeer[] => {
    const n = root.get(key);
    if (!n) return [];
    if (!n.isStr()) {
      diags.push(diagnostic('wrong_type', 'warning', `${key} should be a byte string, is ${n.kind}`, n.span));
      return [];
    }
    const { peers, trailing } = parseCompactPeers(n.bytes(), family);
    if (trailing) diags.push(diagnostic('bad_length', 'warning', `${key} has ${trailing} bytes left over (entries are ${COMPACT_PEER_SIZE[family]} bytes)`, n.dataSpan));
    const f = flagsKey ? root.get(flagsKey) : undefined;
    const flags = f?.isStr() ? f.bytes() : undefined;
    if (flags && flags.length !== peers.length) {
      diags.push(diagnostic('bad_length', 'warning', `${flagsKey} has ${flags.length} flags for ${peers.length} peers`, f!.dataSpan));
    }
    return peers.map((p, i) => (flags && i < flags.length ? { ip: p.ip, port: p.port, flags: flags[i]! } : { ip: p.ip, port: p.port }));
  };
  const value: UtPex = {
    added: list('added', 4, 'added.f'),
    dropped: list('dropped', 4),
    added6: list('added6', 6, 'added6.f'),
    dropped6: list('dropped6', 6),
  };
  const describePeers = (peers: PexPeer[]): string =>
    peers.length === 0
      ? 'none'
      : peers
          .slice(0, 8)
          .map((p) => formatEndpoint(p.ip, p.port) + (p.flags ? `(${pexFlagNames(p.flags).join('+')})` : ''))
          .join(', ') + (peers.length > 8 ? ` … ${peers.length} in all` : '');
  const tree = bencodeFields({ ...doc, diagnostics: diags }, 'ut_pex', {
    describe(path, node) {
      if (path === 'added' || path === 'dropped' || path === 'added6' || path === 'dropped6') {
        return { id: `bt.ut_pex.${path}`, label: path, bep: 11, display: describePeers(value[path]) };
      }
      if (path === 'added.f' || path === 'added6.f') {
        return { id: `bt.ut_pex.${path}`, label: `${path} (flags)`, bep: 11, ...(node.isStr() ? { display: describeFlags(node.bytes()) } : {}) };
      }
      return undefined;
    },
  });
  return { value, field: { ...tree, id: UT_PEX_FIELDS.dict.id, bep: 11 }, diagnostics: diags };
}

/**
 * A ut_pex payload (without the ext id byte), canonical bencode: `added`,
 * `added.f` and `dropped` always (empty when none, as libtorrent sends them),
 * `added6`/`added6.f` and `dropped6` only when there are IPv6 peers. Throws
 * RangeError for an address of the wrong family, a port or a flag out of range.
 */
export function encodeUtPex(pex: Partial<UtPex>): Uint8Array {
  const compact = (peers: readonly PexPeer[] | undefined, family: 4 | 6): Uint8Array => encodeCompactPeers(peers ?? [], family);
  const flags = (peers: readonly PexPeer[] | undefined): Uint8Array =>
    Uint8Array.from((peers ?? []).map((p) => {
      const f = p.flags ?? 0;
      if (!Number.isInteger(f) || f < 0 || f > 255) throw new RangeError(`not a flag byte: ${f}`);
      return f;
    }));
  return encode({
    added: compact(pex.added, 4),
    'added.f': flags(pex.added),
    dropped: compact(pex.dropped, 4),
    ...(pex.added6?.length ? { added6: compact(pex.added6, 6), 'added6.f': flags(pex.added6) } : {}),
    ...(pex.dropped6?.length ? { dropped6: compact(pex.dropped6, 6) } : {}),
  });
}
