import { MESSAGE_IDS } from '../wire/messages.js';
import { PROTOCOL_BYTES } from '../wire/handshake.js';

/**
 * Finding a frame boundary in a peer wire stream whose start was not captured
 * (or after a gap): a position is accepted when a chain of frames starting
 * there all have lengths that make sense for their ids (Wireshark's
 * heuristic dissectors do the same). Only lengths and ids are read here;
 * decoding is lib/wire's.
 */

/** Payload length (length prefix minus the id byte) each id must have, or [min, max]. */
const PAYLOAD_RANGE: Record<number, readonly [number, number]> = {
  [MESSAGE_IDS.choke]: [0, 0],
  [MESSAGE_IDS.unchoke]: [0, 0],
  [MESSAGE_IDS.interested]: [0, 0],
  [MESSAGE_IDS.not_interested]: [0, 0],
  [MESSAGE_IDS.have]: [4, 4],
  [MESSAGE_IDS.bitfield]: [1, 1 << 20],
  [MESSAGE_IDS.request]: [12, 12],
  [MESSAGE_IDS.piece]: [8, 8 + (1 << 17)],
  [MESSAGE_IDS.cancel]: [12, 12],
  [MESSAGE_IDS.port]: [2, 2],
  [MESSAGE_IDS.suggest_piece]: [4, 4],
  [MESSAGE_IDS.have_all]: [0, 0],
  [MESSAGE_IDS.have_none]: [0, 0],
  [MESSAGE_IDS.reject_request]: [12, 12],
  [MESSAGE_IDS.allowed_fast]: [4, 4],
  [MESSAGE_IDS.extended]: [1, 1 << 20],
  [MESSAGE_IDS.hash_request]: [48, 48],
  [MESSAGE_IDS.hashes]: [48, 48 + 32 * 8192],
  [MESSAGE_IDS.hash_reject]: [48, 48],
};

export type FrameCheck = 'ok' | 'bad' | 'more';

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
 * frames (not all keep-alives). With `final`, a shorter chain that ends exactly
 * at the end of `b` is accepted too. Undefined when none is found yet.
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
      if (n < 0 || q + n > b.length) break;
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
