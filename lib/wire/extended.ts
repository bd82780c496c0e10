import { decode, type BencodeDocument } from '../bencode/decode.js';
import { encode, type Encodable } from '../bencode/encode.js';
import { bencodeFields, type BencodeFieldHooks } from '../bencode/fields.js';
import type { BNode } from '../bencode/node.js';
import { DecodeError } from '../core/errors.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import { field, type Field, type FieldDef } from '../core/field.js';
import type { BencodeLimits } from '../core/limits.js';
import { opposite, type Direction } from '../core/direction.js';
import { formatIp } from './address.js';
import { decodeUtMetadata } from './ut-metadata.js';
import { decodeUtPex } from './ut-pex.js';

export * from './ut-metadata.js';
export * from './ut-pex.js';

/**
 * BEP 10 extension protocol. An extended message is `<20><ext id><payload>`;
 * ext id 0 is the extended handshake, a bencoded dict whose `m` maps extension
 * names to the ids the SENDER of that handshake wants to RECEIVE them under.
 */
export const EXTENDED_HANDSHAKE_ID = 0;

/**
 * The ids btscope asks peers to use when they send to us (our `m` dict). Any
 * non-zero values work; these match what libtorrent picks, which makes captures
 * of btscope and libtorrent sessions easy to compare.
 */
export const LOCAL_EXTENSION_IDS = { ut_metadata: 2, ut_pex: 1 } as const;

// Direction lives in lib/core/direction.ts (wire, trace and compliance share it); importable from here too.
export type { Direction };

export interface ExtendedHandshake {
  /** Extension name -> id; id 0 means "disabled" (BEP 10) and is kept so callers can see it. */
  readonly m: ReadonlyMap<string, number>;
  /** Local TCP listen port. */
  readonly p?: number;
  /** Client name and version. */
  readonly v?: string;
  /** Our address as the peer sees it (4 or 16 bytes). */
  readonly yourip?: Uint8Array;
  readonly ipv4?: Uint8Array;
  readonly ipv6?: Uint8Array;
  /** Outstanding requests the peer accepts. */
  readonly reqq?: number;
  /** BEP 9: size of the info dict in bytes. */
  readonly metadataSize?: number;
  /** BEP 21. */
  readonly uploadOnly?: boolean;
  /** The decoded dict (every key, including those not named above). */
  readonly doc: BencodeDocument;
}

export const EXTENDED_FIELDS = {
  handshake: { id: 'bt.extended.handshake', label: 'extended handshake', bep: 10 },
  raw: { id: 'bt.extended.data', label: 'extension payload', bep: 10 },
} as const satisfies Record<string, FieldDef>;

/** Labels for the extended handshake keys (BEP 10, BEP 9, BEP 21). */
const HANDSHAKE_KEYS: Record<string, { id: string; label: string; bep: number }> = {
  m: { id: 'bt.extended.m', label: 'm (extension ids the sender receives)', bep: 10 },
  p: { id: 'bt.extended.p', label: 'p (listen port)', bep: 10 },
  v: { id: 'bt.extended.v', label: 'v (client)', bep: 10 },
  yourip: { id: 'bt.extended.yourip', label: 'yourip (your address as seen)', bep: 10 },
  ipv4: { id: 'bt.extended.ipv4', label: 'ipv4 (sender address)', bep: 10 },
  ipv6: { id: 'bt.extended.ipv6', label: 'ipv6 (sender address)', bep: 10 },
  reqq: { id: 'bt.extended.reqq', label: 'reqq (request queue size)', bep: 10 },
  metadata_size: { id: 'bt.extended.metadata_size', label: 'metadata_size (info dict bytes)', bep: 9 },
  upload_only: { id: 'bt.extended.upload_only', label: 'upload_only (partial seed)', bep: 21 },
  complete_ago: { id: 'bt.extended.complete_ago', label: 'complete_ago (seconds since complete)', bep: 10 },
};

const handshakeHooks: BencodeFieldHooks = {
  describe(path, node) {
    const known = HANDSHAKE_KEYS[path];
    if (known) {
      if ((path === 'yourip' || path === 'ipv4' || path === 'ipv6') && node.isStr()) {
        return { ...known, display: formatIp(node.bytes()) };
      }
      return known;
    }
    if (path.startsWith('m.') && node.isInt()) {
      const v = node.intValue();
      return { id: 'bt.extended.m.entry', label: path.slice(2), bep: 10, display: v === 0 ? '0 (disabled)' : `id ${v}` };
    }
    return undefined;
  },
};

function bencodeDict(payload: Uint8Array, base: number, what: string, limits?: Partial<BencodeLimits>, allowTrailing = false): BencodeDocument {
  const doc = decode(payload, { ...limits, base, allowTrailing });
  if (!doc.root.isDict()) throw new DecodeError('wrong_type', base, `${what} should be a bencoded dict, is ${doc.root.kind}`, what);
  return doc;
}

function optInt(node: BNode | undefined, key: string, diags: Diagnostic[]): number | undefined {
  if (!node) return undefined;
  if (!node.isInt()) {
    diags.push(diagnostic('wrong_type', 'warning', `${key} should be an integer, is ${node.kind}`, node.span));
    return undefined;
  }
  const v = node.intValue();
  if (typeof v === 'bigint') {
    diags.push(diagnostic('overflow', 'warning', `${key} is out of range (${v})`, node.span));
    return undefined;
  }
  return v;
}

function optBytes(node: BNode | undefined, key: string, diags: Diagnostic[], sizes?: number[]): Uint8Array | undefined {
  if (!node) return undefined;
  if (!node.isStr()) {
    diags.push(diagnostic('wrong_type', 'warning', `${key} should be a byte string, is ${node.kind}`, node.span));
    return undefined;
  }
  const b = node.bytes();
  if (sizes && !sizes.includes(b.length)) diags.push(diagnostic('bad_length', 'warning', `${key} is ${b.length} bytes, expected ${sizes.join(' or ')}`, node.span));
  return b;
}

/**
 * Decode an extended handshake payload (the dict after the ext id byte, whose
 * first byte is at absolute offset `base`). Hard errors: not bencode, not a dict.
 * Wrong types of known keys are diagnostics, as real clients vary.
 */
export function decodeExtendedHandshake(
  payload: Uint8Array,
  base = 0,
  limits?: Partial<BencodeLimits>,
): { value: ExtendedHandshake; field: Field; diagnostics: Diagnostic[] } {
  const doc = bencodeDict(payload, base, 'extended handshake', limits);
  const diags: Diagnostic[] = [...doc.diagnostics];
  const root = doc.root;
  const m = new Map<string, number>();
  const mNode = root.get('m');
  if (mNode && !mNode.isDict()) diags.push(diagnostic('wrong_type', 'warning', `m should be a dict, is ${mNode.kind}`, mNode.span));
  else if (mNode) {
    for (const [k, v] of mNode.entries()) {
      const id = optInt(v, `m.${k.str()}`, diags);
      if (id === undefined) continue;
      if (id < 0 || id > 255) diags.push(diagnostic('invalid_value', 'warning', `m.${k.str()} = ${id} does not fit the 1-byte extended id`, v.span));
      else m.set(k.str(), id);
    }
  } else diags.push(diagnostic('missing_field', 'note', 'no m dict: the peer supports no extension messages', root.span));
  const vNode = root.get('v');
  const vBytes = optBytes(vNode, 'v', diags);
  const value: ExtendedHandshake = {
    m,
    doc,
    ...defined('p', optInt(root.get('p'), 'p', diags)),
    ...defined('v', vBytes ? new TextDecoder().decode(vBytes) : undefined),
    ...defined('yourip', optBytes(root.get('yourip'), 'yourip', diags, [4, 16])),
    ...defined('ipv4', optBytes(root.get('ipv4'), 'ipv4', diags, [4])),
    ...defined('ipv6', optBytes(root.get('ipv6'), 'ipv6', diags, [16])),
    ...defined('reqq', optInt(root.get('reqq'), 'reqq', diags)),
    ...defined('metadataSize', optInt(root.get('metadata_size'), 'metadata_size', diags)),
    ...defined('uploadOnly', root.get('upload_only') ? optInt(root.get('upload_only'), 'upload_only', diags) === 1 : undefined),
  };
  if (value.metadataSize !== undefined && value.metadataSize <= 0) {
    diags.push(diagnostic('invalid_value', 'warning', `metadata_size ${value.metadataSize} is not a size`, root.get('metadata_size')!.span));
  }
  const tree = bencodeFields({ ...doc, diagnostics: diags }, 'extended handshake', handshakeHooks);
  return { value, field: { ...tree, id: EXTENDED_FIELDS.handshake.id, bep: 10 }, diagnostics: diags };
}

function defined<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}

export interface ExtendedHandshakeInit {
  /** Our extension ids; defaults to LOCAL_EXTENSION_IDS. */
  m?: Readonly<Record<string, number>>;
  p?: number;
  v?: string;
  yourip?: Uint8Array;
  reqq?: number;
  metadataSize?: number;
  uploadOnly?: boolean;
  /** Any other keys, encoded as given. */
  extra?: Readonly<Record<string, Encodable>>;
}

/** The extended handshake dict (the payload after the ext id byte). */
export function encodeExtendedHandshake(h: ExtendedHandshakeInit = {}): Uint8Array {
  const dict: Record<string, Encodable | undefined> = {
    ...(h.extra ?? {}),
    m: { ...(h.m ?? LOCAL_EXTENSION_IDS) },
    p: h.p,
    v: h.v,
    yourip: h.yourip,
    reqq: h.reqq,
    metadata_size: h.metadataSize,
    upload_only: h.uploadOnly === undefined ? undefined : h.uploadOnly ? 1 : 0,
  };
  return encode(dict);
}

/**
 * Extension ids per direction, learned from each side's extended handshake, as
 * a real stream requires: a message travelling in direction D uses the ids the
 * RECEIVER announced, i.e. the `m` of the handshake that travelled opposite to D.
 * Later handshakes update the table (BEP 10: id 0 removes an extension).
 */
export class ExtensionIds {
  /** Tables keyed by the direction of the handshake they came from. */
  private readonly fromHandshake: Record<Direction, Map<string, number>> = { out: new Map(), in: new Map() };

  /** Record the `m` dict of a handshake that travelled in `direction`. */
  learn(direction: Direction, handshake: ExtendedHandshake | ReadonlyMap<string, number> | Readonly<Record<string, number>>): void {
    const m = handshake instanceof Map ? handshake : 'm' in handshake && handshake.m instanceof Map ? handshake.m : new Map(Object.entries(handshake as Record<string, number>));
    const table = this.fromHandshake[direction];
    for (const [name, id] of m as ReadonlyMap<string, number>) {
      if (id === 0) table.delete(name);
      else table.set(name, id);
    }
  }

  /** The extension name of extended id `id` on a message travelling in `direction`. */
  nameFor(direction: Direction, id: number): string | undefined {
    if (id === EXTENDED_HANDSHAKE_ID) return 'handshake';
    for (const [name, v] of this.fromHandshake[opposite(direction)]) if (v === id) return name;
    return undefined;
  }

  /** The id to put on a message named `name` travelling in `direction` (undefined: the receiver did not offer it). */
  idFor(direction: Direction, name: string): number | undefined {
    return this.fromHandshake[opposite(direction)].get(name);
  }

  /** Extension names the receiver of `direction` accepts. */
  offered(direction: Direction): string[] {
    return [...this.fromHandshake[opposite(direction)].keys()];
  }
}

/**
 * Fields of an extended payload (after the ext id byte, at absolute `base`)
 * by extension name. A payload that does not decode becomes raw bytes with a
 * diagnostic at the failing offset: a frame is always shown.
 */
export function extendedPayloadFields(name: string | undefined, payload: Uint8Array, base: number): { fields: Field[]; diagnostics: Diagnostic[] } {
  const raw = (): Field => field(EXTENDED_FIELDS.raw, { start: base, end: base + payload.length }, payload);
  try {
    switch (name) {
      case 'handshake': {
        const r = decodeExtendedHandshake(payload, base);
        return { fields: [r.field], diagnostics: [] };
      }
      case 'ut_metadata': {
        const r = decodeUtMetadata(payload, base);
        return { fields: r.fields, diagnostics: [] };
      }
      case 'ut_pex': {
        const r = decodeUtPex(payload, base);
        return { fields: [r.field], diagnostics: [] };
      }
      default:
        return { fields: [raw()], diagnostics: [] };
    }
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    return {
      fields: [raw()],
      diagnostics: [diagnostic(`bad_${name}`, 'error', `${name} payload does not decode: ${e.message} (${e.code})`, { start: e.offset, end: Math.max(e.offset + 1, base + payload.length) })],
    };
  }
}
