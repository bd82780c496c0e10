import { diagnostic, type Diagnostic } from '../core/diagnostic.js';

/**
 * BEP 3 bitfield: bit 7 of byte 0 is piece 0. Its length must be ceil(pieces/8)
 * and the spare bits at the end must be zero; clients that get either wrong are
 * supposed to be dropped, so an inspector reports both on their exact bytes.
 */
export function bitfieldLength(pieceCount: number): number {
  return Math.ceil(pieceCount / 8);
}

/** Findings for a bitfield payload whose first byte is at absolute offset `base`. */
export function checkBitfield(bitfield: Uint8Array, pieceCount: number, base = 0): Diagnostic[] {
  const out: Diagnostic[] = [];
  const want = bitfieldLength(pieceCount);
  if (bitfield.length !== want) {
    out.push(
      diagnostic(
        'bitfield_length',
        'error',
        `bitfield is ${bitfield.length} bytes, ${pieceCount} pieces need ${want} (BEP 3: drop the connection)`,
        { start: base, end: base + bitfield.length },
      ),
    );
  }
  // Spare bits: any bit for a piece index >= pieceCount that is present in the bytes sent.
  for (let byte = Math.floor(pieceCount / 8); byte < bitfield.length; byte++) {
    const firstBit = byte * 8;
    let mask = 0;
    for (let bit = 0; bit < 8; bit++) if (firstBit + bit >= pieceCount) mask |= 0x80 >> bit;
    const spare = bitfield[byte]! & mask;
    if (spare !== 0) {
      out.push(
        diagnostic(
          'bitfield_spare_bits',
          'error',
          `spare bits set past piece ${pieceCount - 1} (byte ${byte} = 0x${bitfield[byte]!.toString(16).padStart(2, '0')}, spare mask 0x${mask.toString(16).padStart(2, '0')})`,
          { start: base + byte, end: base + byte + 1 },
        ),
      );
      break;
    }
  }
  return out;
}

export function hasPiece(bitfield: Uint8Array, index: number): boolean {
  const byte = index >> 3;
  return byte < bitfield.length && (bitfield[byte]! & (0x80 >> (index & 7))) !== 0;
}

export function setPiece(bitfield: Uint8Array, index: number, value = true): void {
  const byte = index >> 3;
  if (byte >= bitfield.length) throw new RangeError(`piece ${index} is beyond a ${bitfield.length}-byte bitfield`);
  if (value) bitfield[byte]! |= 0x80 >> (index & 7);
  else bitfield[byte]! &= ~(0x80 >> (index & 7));
}

/** A bitfield for `pieceCount` pieces, all clear or (with `all`) all set, spare bits zero. */
export function makeBitfield(pieceCount: number, all = false): Uint8Array {
  const bf = new Uint8Array(bitfieldLength(pieceCount));
  if (all) {
    bf.fill(0xff);
    const spare = bf.length * 8 - pieceCount;
    if (spare > 0) bf[bf.length - 1] = (0xff << spare) & 0xff;
  }
  return bf;
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => {
  let n = 0;
  for (let v = i; v; v >>= 1) n += v & 1;
  return n;
});

/** Pieces set; with `pieceCount`, spare bits are not counted. */
export function countPieces(bitfield: Uint8Array, pieceCount?: number): number {
  let n = 0;
  if (pieceCount === undefined) {
    for (const b of bitfield) n += POPCOUNT[b]!;
    return n;
  }
  const full = Math.min(bitfield.length, pieceCount >> 3);
  for (let i = 0; i < full; i++) n += POPCOUNT[bitfield[i]!]!;
  for (let i = full * 8; i < pieceCount; i++) if (hasPiece(bitfield, i)) n++;
  return n;
}
