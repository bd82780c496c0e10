import { DecodeError } from '../core/errors.js';
import { field, type Field, type FieldDef, type Frame } from '../core/field.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import { printable, toHex, quotedPrintable } from '../core/bytes.js';
import { decodePeerId } from './peer-id.js';

/** BEP 3: `<pstrlen=19><pstr="BitTorrent protocol"><reserved 8><info_hash 20><peer_id 20>`. */
export const PROTOCOL = 'BitTorrent protocol';
export const PROTOCOL_BYTES = new TextEncoder().encode(PROTOCOL);
export const HANDSHAKE_LENGTH = 68;

export interface Handshake {
  /** 8 bytes of capability bits (BEP 4 lists the allocations). */
  readonly reserved: Uint8Array;
  /** v1: SHA-1 of the info dict; v2 (BEP 52): the SHA-256 truncated to 20 bytes. */
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
}

export const HANDSHAKE_FIELDS = {
  handshake: { id: 'bt.handshake', label: 'handshake', bep: 3 },
  pstrlen: { id: 'bt.pstrlen', label: 'protocol name length', bep: 3 },
  pstr: { id: 'bt.pstr', label: 'protocol name', bep: 3 },
  reserved: { id: 'bt.reserved', label: 'reserved (extension bits)', bep: 3, base: 'hex' },
  reservedBit: { id: 'bt.reserved.bit', label: 'reserved bit', bep: 4 },
  infoHash: { id: 'bt.info_hash', label: 'info hash', bep: 3 },
  peerId: { id: 'bt.peer_id', label: 'peer id', bep: 3 },
} as const satisfies Record<string, FieldDef>;

/** One allocated bit of the reserved bytes (BEP 4 "Reserved Bit Allocations"). */
export interface ReservedBit {
  /** Short stable name, used in `--json` `extensions`. */
  readonly name: string;
  readonly label: string;
  readonly byte: number;
  readonly mask: number;
  readonly bep?: number;
}

/**
 * BEP 4's allocations. BEP 10 calls its bit "bit 20 from the right": byte 5, 0x10.
 * BitComet's `ex` bytes in reserved[0..1] collide with Azureus' bit; see `reservedNames`.
 */
export const RESERVED_BITS: readonly ReservedBit[] = [
  { name: 'azureus', label: 'Azureus Messaging Protocol', byte: 0, mask: 0x80 },
  { name: 'location', label: 'BitTorrent Location-aware Protocol', byte: 2, mask: 0x08 },
  { name: 'extended', label: 'Extension Protocol (LTEP)', byte: 5, mask: 0x10, bep: 10 },
  { name: 'enp_a', label: 'Extension Negotiation Protocol', byte: 5, mask: 0x02 },
  { name: 'enp_b', label: 'Extension Negotiation Protocol', byte: 5, mask: 0x01 },
  { name: 'dht', label: 'DHT', byte: 7, mask: 0x01, bep: 5 },
  { name: 'xbt_pex', label: 'XBT Peer Exchange', byte: 7, mask: 0x02 },
  { name: 'fast', label: 'Fast Extension', byte: 7, mask: 0x04, bep: 6 },
  { name: 'nat_traversal', label: 'NAT Traversal', byte: 7, mask: 0x08 },
  { name: 'v2', label: 'hybrid torrent upgrade to v2', byte: 7, mask: 0x10, bep: 52 },
];

/** Bit number counted from the right, starting at 0 (BEP 10's convention). */
export function bitFromRight(byte: number, mask: number): number {
  return (7 - byte) * 8 + Math.log2(mask);
}

/** Every bit set in `reserved`: known ones by table row, the rest as `bit_N` (N from the right). */
export function reservedBitsSet(reserved: Uint8Array): Array<ReservedBit & { known: boolean; bit: number }> {
  const out: Array<ReservedBit & { known: boolean; bit: number }> = [];
  for (let byte = 0; byte < 8; byte++) {
    for (let mask = 0x80; mask >= 1; mask >>= 1) {
      if (((reserved[byte] ?? 0) & mask) === 0) continue;
      const bit = bitFromRight(byte, mask);
      const row = RESERVED_BITS.find((r) => r.byte === byte && r.mask === mask);
      out.push(row ? { ...row, known: true, bit } : { name: `bit_${bit}`, label: `unassigned bit ${bit} from the right`, byte, mask, known: false, bit });
    }
  }
  return out;
}

/** Names of the bits set, e.g. `['extended', 'fast', 'dht']`; unknown bits as `bit_N`. */
export function reservedNames(reserved: Uint8Array): string[] {
  return reservedBitsSet(reserved).map((b) => b.name);
}

export function makeReserved(opts: { extended?: boolean; fast?: boolean; dht?: boolean; v2?: boolean } = {}): Uint8Array {
  const r = new Uint8Array(8);
  if (opts.extended) r[5]! |= 0x10;
  if (opts.dht) r[7]! |= 0x01;
  if (opts.fast) r[7]! |= 0x04;
  if (opts.v2) r[7]! |= 0x10;
  return r;
}

export const supportsExtended = (reserved: Uint8Array): boolean => ((reserved[5] ?? 0) & 0x10) !== 0;
export const supportsFast = (reserved: Uint8Array): boolean => ((reserved[7] ?? 0) & 0x04) !== 0;
export const supportsV2 = (reserved: Uint8Array): boolean => ((reserved[7] ?? 0) & 0x10) !== 0;

export function encodeHandshake(h: { reserved?: Uint8Array; infoHash: Uint8Array; peerId: Uint8Array }): Uint8Array {
  const reserved = h.reserved ?? new Uint8Array(8);
  if (reserved.length !== 8) throw new RangeError(`reserved must be 8 bytes, got ${reserved.length}`);
  if (h.infoHash.length !== 20) throw new RangeError(`info hash must be 20 bytes, got ${h.infoHash.length}`);
  if (h.peerId.length !== 20) throw new RangeError(`peer id must be 20 bytes, got ${h.peerId.length}`);
  const out = new Uint8Array(HANDSHAKE_LENGTH);
  out[0] = 19;
  out.set(PROTOCOL_BYTES, 1);
  out.set(reserved, 20);
  out.set(h.infoHash, 28);
  out.set(h.peerId, 48);
  return out;
}

/**
 * Check the protocol header as far as `bytes` go (for a push framer that has
 * only part of a handshake). Throws `bad_protocol` at the first wrong byte.
 */
export function checkProtocolPrefix(bytes: Uint8Array, base = 0): void {
  if (bytes.length >= 1 && bytes[0] !== 19) {
    throw new DecodeError('bad_protocol', base, `not a BitTorrent handshake: protocol name length is ${bytes[0]}, expected 19 (encrypted stream, or another protocol?)`, 'handshake.pstrlen');
  }
  const n = Math.min(bytes.length, 20);
  for (let i = 1; i < n; i++) {
    if (bytes[i] !== PROTOCOL_BYTES[i - 1]) {
      throw new DecodeError('bad_protocol', base + i, `protocol name is "${printable(bytes.subarray(1, n))}", expected "${PROTOCOL}"`, 'handshake.pstr');
    }
  }
}

/** Decode a 68-byte handshake at `bytes[0]` whose absolute offset is `base`. */
export function decodeHandshake(bytes: Uint8Array, base = 0): { value: Handshake; frame: Frame; end: number } {
  checkProtocolPrefix(bytes, base);
  if (bytes.length < HANDSHAKE_LENGTH) {
    throw new DecodeError('unexpected_eof', base + bytes.length, `handshake truncated: ${bytes.length} of ${HANDSHAKE_LENGTH} bytes`, 'handshake');
  }
  const value: Handshake = {
    reserved: bytes.subarray(20, 28),
    infoHash: bytes.subarray(28, 48),
    peerId: bytes.subarray(48, 68),
  };
  return { value, frame: handshakeFrame(bytes.subarray(0, HANDSHAKE_LENGTH), base, value), end: base + HANDSHAKE_LENGTH };
}

function handshakeFrame(bytes: Uint8Array, base: number, h: Handshake): Frame {
  const F = HANDSHAKE_FIELDS;
  const s = (a: number, b: number) => ({ start: base + a, end: base + b });
  const bits: Field[] = reservedBitsSet(h.reserved).map((b) =>
    field(F.reservedBit, s(20 + b.byte, 21 + b.byte), b.name, {
      label: `${b.label}${b.bep ? ` (BEP ${b.bep})` : ''}`,
      display: `byte ${b.byte} & 0x${b.mask.toString(16).padStart(2, '0')} (bit ${b.bit} from the right)`,
    }),
  );
  const diags: Diagnostic[] = [];
  for (const b of reservedBitsSet(h.reserved)) {
    if (!b.known) diags.push(diagnostic('unknown_reserved_bit', 'note', `reserved bit ${b.bit} from the right (byte ${b.byte} & 0x${b.mask.toString(16)}) has no BEP 4 allocation`, s(20 + b.byte, 21 + b.byte)));
  }
  const client = decodePeerId(h.peerId);
  const fields: Field[] = [
    field(F.handshake, s(0, HANDSHAKE_LENGTH), undefined, {
      display: 'BitTorrent protocol',
      children: [
        field(F.pstrlen, s(0, 1), 19),
        field(F.pstr, s(1, 20), PROTOCOL),
        field(F.reserved, s(20, 28), h.reserved, {
          display: `${toHex(h.reserved)}${bits.length ? ` (${reservedNames(h.reserved).join(', ')})` : ' (none)'}`,
          // Several bits can share a byte: list them, without overlapping spans confusing the hex view.
          children: bits,
          diagnostics: diags,
        }),
        field(F.infoHash, s(28, 48), h.infoHash),
        field(F.peerId, s(48, 68), h.peerId, {
          display: `${quotedPrintable(h.peerId)} ${client.client}${client.version ? ` ${client.version}` : ''}`,
        }),
      ],
    }),
  ];
  return { title: 'handshake', bytes, base, fields };
}
