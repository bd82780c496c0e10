import { MESSAGE_BY_ID, MESSAGE_IDS, maxPayload, type MessageRow, type PayloadBounds } from '../wire/message-spec.js';
import { PROTOCOL_BYTES } from '../wire/handshake.js';

/**
 * Finding a frame boundary in a peer wire stream whose start was not captured
 * (or after a gap): a position is accepted when a chain of frames starting
 * there all have lengths that make sense for their ids (Wireshark's
 * heuristic dissectors do the same). Only lengths and ids are read here;
 * decoding is lib/wire's.
 */

/**
 * The largest sizes seen from any client in captures, wider than what btscope
 * holds a live peer to (`frameLimits`): 128 KiB blocks, bitfields of 2^23
 * pieces (1 MiB), 1 MiB extended messages, 8192 hashes in one message.
 */
export const CAPTURE_BOUNDS: PayloadBounds = { blockLength: 1 << 17, pieceCount: 1 << 23, hashes: 8192, extendedPayload: 1 << 20 };

/**
 * Payload lengths a frame of this row may plausibly have: the table's size
 * rule under CAPTURE_BOUNDS. A variable-size message is never empty here: an
 * empty bitfield decodes, but no client sends one, and runs of `00000001 05`
 * in arbitrary bytes would otherwise chain.
 */
function plausiblePayload(row: MessageRow): readonly [number, number] {
  if (row.fixedPayload >= 0) return [row.fixedPayload, row.fixedPayload];
  return [Math.max(row.minPayload, 1), maxPayload(row, CAPTURE_BOUNDS) ?? 0xffffffff]; // no cap of its own: any length
}

/** Plausible payload range by id (undefined: an id no frame boundary is accepted on). */
const PAYLOAD_RANGE: ReadonlyArray<readonly [number, number] | undefined> = MESSAGE_BY_ID.map((row) => row && plausiblePayload(row));


/** Does a plausible frame start at `p`? Returns its total length, 0 if not plausible, -1 if more bytes are needed. */
export function plausibleFrameAt(b: Uint8Array, p: number): number {
  if (p + 4 > b.length) return -1;
  const len = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  if (len === 0) return 4;
  if (p + 5 > b.length) return -1;
  const range = PAYLOAD_RANGE[b[p + 4]!];
  if (!range || len - 1 < range[0] || len - 1 > range[1]) return 0;
  if (b[p + 4] === MESSAGE_IDS.extended) {
    if (p + 6 > b.length) return -1;
    // An extended handshake (ext id 0) is a bencoded dict.
    if (b[p + 5] === 0 && len > 1) {
      if (p + 7 > b.length) return -1;
      if (b[p + 6] !== 0x64) return 0;
    }
  }
  return 4 + len;
}

/** Is the BitTorrent handshake prefix (`\x13BitTorrent protocol`) at `p`? (-1: not enough bytes to tell.) */
export function handshakeAt(b: Uint8Array, p: number): boolean | -1 {
  for (let i = 0; i < PROTOCOL_BYTES.length + 1; i++) {
    if (p + i >= b.length) return -1;
    const want = i === 0 ? 19 : PROTOCOL_BYTES[i - 1]!;
    if (b[p + i] !== want) return false;
  }
  return true;
}

export interface SyncPoint {
  readonly at: number;
  readonly handshake: boolean;
}

/**
 * The first sync point in `b`: a handshake, or a chain of `chain` plausible
 * frames (not all keep-alives). With `final` (`b` is all there is before the
 * stream ends or a gap cuts it), a shorter chain is accepted when what ends it
 * is the end of `b`: at least one whole frame that is not a keep-alive, and
 * either it ends exactly at the end of `b` or is followed by a plausible
 * head (length and id read) that the end cut off. This is how a message after
 * a capture gap is found before the next gap (tshark finds those too).
 */
export function findSyncPoint(b: Uint8Array, chain = 3, final = false): SyncPoint | undefined {
  for (let p = 0; p + 4 <= b.length; p++) {
    if (b[p] === 19 && handshakeAt(b, p) === true) return { at: p, handshake: true };
    let q = p;
    let frames = 0;
    let keepAlives = 0;
    let ok = false;
    for (;;) {
      if (q === b.length && final && frames > keepAlives) {
        ok = true;
        break;
      }
      const n = plausibleFrameAt(b, q);
      if (n === 0) break;
      if (n < 0 || q + n > b.length) {
        // A head the end cut off: evidence only when its id was read (5 bytes) and it was plausible.
        ok = final && frames > keepAlives && q + 5 <= b.length;
        break;
      }
      frames++;
      if (n === 4) {
        keepAlives++;
        if (keepAlives > 2) break;
      }
      q += n;
      if (frames >= chain && frames > keepAlives) {
        ok = true;
        break;
      }
    }
    if (ok) return { at: p, handshake: false };
  }
  return undefined;
}
