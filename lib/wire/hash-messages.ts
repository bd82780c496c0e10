import { DecodeError } from '../core/errors.js';
import { field, type Field, type FieldDef } from '../core/field.js';

/**
 * BEP 52 hash request (21), hashes (22), hash reject (23):
 * `<pieces root 32><base layer u32><index u32><length u32><proof layers u32>`,
 * hashes add `<hashes 32*n>` (the requested hashes, then the uncle hashes).
 */
export interface HashRequestFields {
  readonly piecesRoot: Uint8Array;
  readonly baseLayer: number;
  readonly index: number;
  readonly length: number;
  readonly proofLayers: number;
}

export const HASH_HEADER_LENGTH = 48;

export const HASH_FIELDS = {
  piecesRoot: { id: 'bt.hash.pieces_root', label: 'pieces root', bep: 52 },
  baseLayer: { id: 'bt.hash.base_layer', label: 'base layer', bep: 52 },
  index: { id: 'bt.hash.index', label: 'index', bep: 52 },
  length: { id: 'bt.hash.length', label: 'length', bep: 52 },
  proofLayers: { id: 'bt.hash.proof_layers', label: 'proof layers', bep: 52 },
  hashes: { id: 'bt.hash.hashes', label: 'hashes', bep: 52 },
  hash: { id: 'bt.hash.hash', label: 'hash', bep: 52 },
} as const satisfies Record<string, FieldDef>;

/** Write the 48-byte header at `out[at]`. */
export function writeHashHeader(out: Uint8Array, at: number, h: HashRequestFields): void {
  if (h.piecesRoot.length !== 32) throw new RangeError(`pieces root must be 32 bytes, got ${h.piecesRoot.length}`);
  out.set(h.piecesRoot, at);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint32(at + 32, h.baseLayer);
  dv.setUint32(at + 36, h.index);
  dv.setUint32(at + 40, h.length);
  dv.setUint32(at + 44, h.proofLayers);
}

/** Read the header from a payload (`payload[0]` at absolute offset `base`). */
export function readHashHeader(payload: Uint8Array, base: number, what: string): HashRequestFields {
  if (payload.length < HASH_HEADER_LENGTH) {
    throw new DecodeError('bad_length', base, `${what} payload is ${payload.length} bytes, needs at least ${HASH_HEADER_LENGTH}`, what);
  }
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return {
    piecesRoot: payload.subarray(0, 32),
    baseLayer: dv.getUint32(32),
    index: dv.getUint32(36),
    length: dv.getUint32(40),
    proofLayers: dv.getUint32(44),
  };
}

/** Fields of the header and, for `hashes`, of each 32-byte hash. */
export function hashFields(h: HashRequestFields, base: number, hashes?: Uint8Array): Field[] {
  const F = HASH_FIELDS;
  const s = (a: number, b: number) => ({ start: base + a, end: base + b });
  const out: Field[] = [
    field(F.piecesRoot, s(0, 32), h.piecesRoot),
    field(F.baseLayer, s(32, 36), h.baseLayer),
    field(F.index, s(36, 40), h.index),
    field(F.length, s(40, 44), h.length),
    field(F.proofLayers, s(44, 48), h.proofLayers),
  ];
  if (hashes) {
    const n = Math.floor(hashes.length / 32);
    const items: Field[] = [];
    for (let i = 0; i < n && i < 512; i++) items.push(field(F.hash, s(48 + i * 32, 80 + i * 32), hashes.subarray(i * 32, i * 32 + 32), { label: `hash[${i}]` }));
    out.push(field(F.hashes, s(48, 48 + hashes.length), undefined, { display: `${n} hashes`, children: items }));
  }
  return out;
}
