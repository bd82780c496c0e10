import { DecodeError } from '../core/errors.js';
import { field, type Field, type FieldDef, type Frame } from '../core/field.js';
import type { Diagnostic } from '../core/diagnostic.js';
import { HASH_FIELDS, HASH_HEADER_LENGTH, hashFields, readHashHeader, writeHashHeader, type HashRequestFields } from './hash-messages.js';
import { checkBitfield, countPieces } from './bitfield.js';
import { extendedPayloadFields, type Direction, type ExtensionIds } from './extended.js';
import { MESSAGE_BY_ID, MESSAGE_IDS, MESSAGE_NAMES, rowOf } from './message-spec.js';

// Ids, BEPs, payload size rules and one-line texts are rows of the message table (message-spec.ts).
export { MESSAGE_IDS, MESSAGE_NAMES };

export interface BlockRef {
  readonly index: number;
  readonly begin: number;
  readonly length: number;
}

/** A decoded message: one member per row of MESSAGE_SPECS (the table's type checks both ways), keep-alive and unknown ids. */
export type Message =
  | { readonly type: 'keep_alive' }
  | { readonly type: 'choke' }
  | { readonly type: 'unchoke' }
  | { readonly type: 'interested' }
  | { readonly type: 'not_interested' }
  | { readonly type: 'have'; readonly index: number }
  | { readonly type: 'bitfield'; readonly bitfield: Uint8Array }
  | ({ readonly type: 'request' } & BlockRef)
  /** `block` is a view into the frame bytes (no copy): copy it if you keep the frame buffer alive otherwise. */
  | { readonly type: 'piece'; readonly index: number; readonly begin: number; readonly block: Uint8Array }
  | ({ readonly type: 'cancel' } & BlockRef)
  | { readonly type: 'port'; readonly port: number }
  | { readonly type: 'suggest_piece'; readonly index: number }
  | { readonly type: 'have_all' }
  | { readonly type: 'have_none' }
  | ({ readonly type: 'reject_request' } & BlockRef)
  | { readonly type: 'allowed_fast'; readonly index: number }
  /** BEP 10: `extId` 0 is the extended handshake; others are named by the receiver's `m` dict (see ExtensionIds). */
  | { readonly type: 'extended'; readonly extId: number; readonly payload: Uint8Array }
  | ({ readonly type: 'hash_request' } & HashRequestFields)
  | ({ readonly type: 'hashes' } & HashRequestFields & { readonly hashes: Uint8Array })
  | ({ readonly type: 'hash_reject' } & HashRequestFields)
  | { readonly type: 'unknown'; readonly id: number; readonly payload: Uint8Array };

/** Context that makes a frame more precise; decoding never needs it. */
export interface MessageContext {
  /** Piece count once known: bitfields are checked against it. */
  readonly pieceCount?: number;
  /** Extension names learned from each side's extended handshake. */
  readonly extensions?: ExtensionIds;
  /** Which way this message travels: `out` from the connection's initiator (or us), `in` towards it. */
  readonly direction?: Direction;
}

export const WIRE_FIELDS = {
  length: { id: 'bt.length', label: 'length prefix', bep: 3 },
  id: { id: 'bt.msg.id', label: 'message id', bep: 3, valueNames: MESSAGE_NAMES },
  index: { id: 'bt.piece.index', label: 'piece index', bep: 3 },
  begin: { id: 'bt.piece.begin', label: 'begin offset', bep: 3 },
  blockLength: { id: 'bt.piece.length', label: 'block length', bep: 3 },
  block: { id: 'bt.piece.data', label: 'block data', bep: 3 },
  bitfield: { id: 'bt.bitfield', label: 'bitfield', bep: 3 },
  port: { id: 'bt.port', label: 'DHT port', bep: 5 },
  payload: { id: 'bt.msg.payload', label: 'payload' },
  extId: { id: 'bt.extended.id', label: 'extended message id', bep: 10 },
  extPayload: { id: 'bt.extended.payload', label: 'extended payload', bep: 10 },
} as const satisfies Record<string, FieldDef>;

// ---------------------------------------------------------------- encoding

function frameOf(id: number, payloadLength: number): { out: Uint8Array; dv: DataView } {
  const out = new Uint8Array(5 + payloadLength);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 1 + payloadLength);
  out[4] = id;
  return { out, dv };
}

function u32(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${name} must be a 32-bit unsigned integer, got ${v}`);
  return v;
}

/** The 13-byte head of a piece message: send it followed by the block (no copy of the block). */
export function encodePieceHeader(index: number, begin: number, blockLength: number): Uint8Array {
  const out = new Uint8Array(13);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 9 + blockLength);
  out[4] = MESSAGE_IDS.piece;
  dv.setUint32(5, u32('index', index));
  dv.setUint32(9, u32('begin', begin));
  return out;
}

/** A message with its 4-byte length prefix. */
export function encodeMessage(m: Message): Uint8Array {
  switch (m.type) {
    case 'keep_alive':
      return new Uint8Array(4);
    case 'choke':
    case 'unchoke':
    case 'interested':
    case 'not_interested':
    case 'have_all':
    case 'have_none':
      return frameOf(MESSAGE_IDS[m.type], 0).out;
    case 'have':
    case 'suggest_piece':
    case 'allowed_fast': {
      const { out, dv } = frameOf(MESSAGE_IDS[m.type], 4);
      dv.setUint32(5, u32('index', m.index));
      return out;
    }
    case 'bitfield': {
      const { out } = frameOf(MESSAGE_IDS.bitfield, m.bitfield.length);
      out.set(m.bitfield, 5);
      return out;
    }
    case 'request':
    case 'cancel':
    case 'reject_request': {
      const { out, dv } = frameOf(MESSAGE_IDS[m.type], 12);
      dv.setUint32(5, u32('index', m.index));
      dv.setUint32(9, u32('begin', m.begin));
      dv.setUint32(13, u32('length', m.length));
      return out;
    }
    case 'piece': {
      const out = new Uint8Array(13 + m.block.length);
      out.set(encodePieceHeader(m.index, m.begin, m.block.length), 0);
      out.set(m.block, 13);
      return out;
    }
    case 'port': {
      if (!Number.isInteger(m.port) || m.port < 0 || m.port > 0xffff) throw new RangeError(`port must be 0..65535, got ${m.port}`);
      const { out, dv } = frameOf(MESSAGE_IDS.port, 2);
      dv.setUint16(5, m.port);
      return out;
    }
    case 'extended': {
      if (!Number.isInteger(m.extId) || m.extId < 0 || m.extId > 255) throw new RangeError(`extended id must be 0..255, got ${m.extId}`);
      const { out } = frameOf(MESSAGE_IDS.extended, 1 + m.payload.length);
      out[5] = m.extId;
      out.set(m.payload, 6);
      return out;
    }
    case 'hash_request':
    case 'hash_reject': {
      const { out } = frameOf(MESSAGE_IDS[m.type], HASH_HEADER_LENGTH);
      writeHashHeader(out, 5, m);
      return out;
    }
    case 'hashes': {
      const { out } = frameOf(MESSAGE_IDS.hashes, HASH_HEADER_LENGTH + m.hashes.length);
      writeHashHeader(out, 5, m);
      out.set(m.hashes, 5 + HASH_HEADER_LENGTH);
      return out;
    }
    case 'unknown': {
      const { out } = frameOf(m.id, m.payload.length);
      out.set(m.payload, 5);
      return out;
    }
  }
}

// ---------------------------------------------------------------- decoding

/**
 * The message in one frame (`frame[0..4]` is the length prefix; `base` is the
 * absolute offset of `frame[0]`). Fast: builds no field tree. Throws DecodeError
 * `unexpected_eof` (frame shorter than its prefix) or `bad_length` (payload size
 * wrong for the message id). Unknown ids give the `unknown` variant.
 */
export function parseMessage(frame: Uint8Array, base = 0): Message {
  if (frame.length < 4) throw new DecodeError('unexpected_eof', base + frame.length, `message truncated: ${frame.length} of 4 length-prefix bytes`, 'length');
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const len = dv.getUint32(0);
  if (frame.length < 4 + len) {
    throw new DecodeError('unexpected_eof', base + frame.length, `message truncated: length prefix says ${len} bytes, ${frame.length - 4} present`, 'length');
  }
  if (len === 0) return { type: 'keep_alive' };
  const id = frame[4]!;
  const plen = len - 1;
  const row = MESSAGE_BY_ID[id];
  const name = row?.name;
  if (row !== undefined && (row.fixedPayload >= 0 ? plen !== row.fixedPayload : plen < row.minPayload)) {
    const want = row.fixedPayload >= 0 ? `${row.fixedPayload}` : `at least ${row.minPayload}`;
    throw new DecodeError('bad_length', base + 5, `${row.name} payload is ${plen} bytes, expected ${want}`, row.name);
  }
  switch (name) {
    case 'choke':
    case 'unchoke':
    case 'interested':
    case 'not_interested':
    case 'have_all':
    case 'have_none':
      return { type: name };
    case 'have':
    case 'suggest_piece':
    case 'allowed_fast':
      return { type: name, index: dv.getUint32(5) };
    case 'bitfield':
      return { type: 'bitfield', bitfield: frame.subarray(5, 4 + len) };
    case 'request':
    case 'cancel':
    case 'reject_request':
      return { type: name, index: dv.getUint32(5), begin: dv.getUint32(9), length: dv.getUint32(13) };
    case 'piece':
      return { type: 'piece', index: dv.getUint32(5), begin: dv.getUint32(9), block: frame.subarray(13, 4 + len) };
    case 'port':
      return { type: 'port', port: dv.getUint16(5) };
    case 'extended':
      return { type: 'extended', extId: frame[5]!, payload: frame.subarray(6, 4 + len) };
    case 'hash_request':
    case 'hash_reject':
      return { type: name, ...readHashHeader(frame.subarray(5, 4 + len), base + 5, name) };
    case 'hashes': {
      const payload = frame.subarray(5, 4 + len);
      const hashes = payload.subarray(HASH_HEADER_LENGTH);
      if (hashes.length % 32 !== 0) {
        throw new DecodeError('bad_length', base + 5 + HASH_HEADER_LENGTH, `hashes carry ${hashes.length} bytes, not a multiple of 32`, 'hashes');
      }
      return { type: 'hashes', ...readHashHeader(payload, base + 5, 'hashes'), hashes };
    }
    case undefined:
      return { type: 'unknown', id, payload: frame.subarray(5, 4 + len) };
  }
}

/** Total frame length (prefix included) of the message starting at `frame[0]`. */
export function frameLength(frame: Uint8Array): number {
  return 4 + new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
}

/** Decode one message and build its annotated frame. */
export function decodeMessage(frame: Uint8Array, base = 0, ctx: MessageContext = {}): { message: Message; frame: Frame; end: number } {
  const message = parseMessage(frame, base);
  const len = frameLength(frame);
  return { message, frame: messageFrame(frame.subarray(0, len), base, message, ctx), end: base + len };
}

/** The extension an extended message is for: `handshake` for id 0, else by the receiver's `m` dict when known (BEP 10). */
function extensionName(m: { readonly extId: number }, ctx: MessageContext): string | undefined {
  return m.extId === 0 ? 'handshake' : ctx.extensions && ctx.direction ? ctx.extensions.nameFor(ctx.direction, m.extId) : undefined;
}

/** Name shown for a message: `extended ut_metadata` when the extension is known (the table's title, else its name). */
export function messageTitle(m: Message, ctx: MessageContext = {}): string {
  if (m.type === 'unknown') return `unknown message id ${m.id}`;
  const title = rowOf(m)?.title;
  return title ? title(m, { extName: m.type === 'extended' ? extensionName(m, ctx) : undefined }) : m.type;
}

/** The annotated frame of an already parsed message (`bytes` is exactly the frame). */
export function messageFrame(bytes: Uint8Array, base: number, m: Message, ctx: MessageContext = {}): Frame {
  const F = WIRE_FIELDS;
  const s = (a: number, b: number) => ({ start: base + a, end: base + b });
  const end = bytes.length;
  const fields: Field[] = [field(F.length, s(0, 4), end - 4)];
  const diagnostics: Diagnostic[] = [];
  if (m.type !== 'keep_alive') fields.push(field(F.id, s(4, 5), bytes[4]!));
  const blockFields = (b: BlockRef): Field[] => [
    field(F.index, s(5, 9), b.index),
    field(F.begin, s(9, 13), b.begin),
    field(F.blockLength, s(13, 17), b.length),
  ];
  switch (m.type) {
    case 'keep_alive':
    case 'choke':
    case 'unchoke':
    case 'interested':
    case 'not_interested':
    case 'have_all':
    case 'have_none':
      break;
    case 'have':
    case 'suggest_piece':
    case 'allowed_fast':
      fields.push(field(F.index, s(5, 9), m.index));
      break;
    case 'bitfield': {
      const have = countPieces(m.bitfield, ctx.pieceCount);
      const display = ctx.pieceCount !== undefined ? `${have} of ${ctx.pieceCount} pieces` : `${have} bits set of ${m.bitfield.length * 8}`;
      const diags = ctx.pieceCount !== undefined ? checkBitfield(m.bitfield, ctx.pieceCount, base + 5) : [];
      fields.push(field(F.bitfield, s(5, end), m.bitfield, { display, diagnostics: diags }));
      break;
    }
    case 'request':
    case 'cancel':
    case 'reject_request':
      fields.push(...blockFields(m));
      break;
    case 'piece':
      fields.push(field(F.index, s(5, 9), m.index), field(F.begin, s(9, 13), m.begin));
      fields.push(field(F.block, s(13, end), undefined, { display: `${m.block.length} bytes` }));
      break;
    case 'port':
      fields.push(field(F.port, s(5, 7), m.port));
      break;
    case 'extended': {
      const name = extensionName(m, ctx);
      fields.push(field(F.extId, s(5, 6), m.extId, { display: `${m.extId} (${name ?? 'not negotiated'})` }));
      if (m.payload.length > 0) {
        const sub = extendedPayloadFields(name, m.payload, base + 6);
        fields.push(...sub.fields);
        diagnostics.push(...sub.diagnostics);
      }
      break;
    }
    case 'hash_request':
    case 'hash_reject':
      fields.push(...hashFields(m, base + 5));
      break;
    case 'hashes':
      fields.push(...hashFields(m, base + 5, m.hashes));
      break;
    case 'unknown':
      if (m.payload.length > 0) fields.push(field(F.payload, s(5, end), m.payload));
      break;
    default: {
      // A new member of the union (a new table row) needs its fields here too.
      const unhandled: never = m;
      return unhandled;
    }
  }
  const frame: Frame = { title: messageTitle(m, ctx), bytes, base, fields, ...(diagnostics.length ? { diagnostics } : {}) };
  return frame;
}

