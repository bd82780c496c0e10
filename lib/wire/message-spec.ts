import { toHex } from '../core/bytes.js';
import { DecodeError } from '../core/errors.js';
import { countPieces } from './bitfield.js';
import { decodeUtMetadata } from './ut-metadata.js';
import { decodeUtPex } from './ut-pex.js';
import type { Message } from './messages.js';

/**
 * The peer wire message table: one row per message id, with the BEP that
 * defines it, the size rule of its payload (the bytes after the id), and its
 * one-line text. The decoder's length checks, the framer's per-id caps, the
 * tracer's resync plausibility, the trace lines, the handshake tool's short
 * form and compliance's BEP 6 set all read it. A message's codec (its member
 * of the `Message` union and its cases in `lib/wire/messages.ts`) is the only
 * other place that knows it.
 */

/** Messages with an id (keep-alive has none; an id not in the table decodes as `unknown`). */
export type KnownMessageName = Exclude<Message['type'], 'keep_alive' | 'unknown'>;
export type MessageOf<N extends Message['type']> = Extract<Message, { readonly type: N }>;

/**
 * How large the variable parts of messages may get. The table says how a
 * payload grows (a piece is `8 + block`); the reader picks the magnitudes: the
 * framer holds a live peer to the torrent it serves (`frameLimits`), resync
 * accepts what any client has been seen to send (`lib/trace/resync.ts`).
 */
export interface PayloadBounds {
  /** Largest block in a piece message. */
  readonly blockLength: number;
  /** Pieces in the torrent, when known: a bitfield is `ceil(pieces / 8)` bytes. */
  readonly pieceCount?: number;
  /** Most hashes in one BEP 52 `hashes` message. */
  readonly hashes: number;
  /** Largest extended payload, its extended id byte included. */
  readonly extendedPayload: number;
}

/**
 * Payload length (length prefix minus the id byte): exactly `fixed`, or at
 * least `min` and at most `max(bounds)` (undefined: no cap of its own, the
 * framer's global limit applies).
 */
export type PayloadSize =
  | { readonly fixed: number }
  | { readonly min: number; readonly max: (b: PayloadBounds) => number | undefined };

/** What the one-line texts may use besides the message. */
export interface TextContext {
  /** The extension an extended message's id names (BEP 10: the receiver's `m` dict). */
  readonly extName?: string | undefined;
  /** The torrent's piece count, when known. */
  readonly pieceCount?: number | undefined;
}

export interface MessageSpec<N extends KnownMessageName = KnownMessageName> {
  readonly id: number;
  /** The BEP that defines the message. */
  readonly bep: number;
  readonly size: PayloadSize;
  /** The one-line summary, as the tracer prints it: `piece index=12 begin=16384 len=16384`. */
  readonly line: (m: MessageOf<N>, c: TextContext) => string;
  /** The short form (the handshake tool's first messages): `piece 12/16384 (16384 bytes)`. Default: the name. */
  readonly brief?: (m: MessageOf<N>, c: TextContext) => string;
  /** The title of its annotated frame. Default: the name. */
  readonly title?: (m: MessageOf<N>, c: TextContext) => string;
}

// ---------------------------------------------------------------- texts shared by rows

type IndexMessage = MessageOf<'have' | 'suggest_piece' | 'allowed_fast'>;
type BlockMessage = MessageOf<'request' | 'cancel' | 'reject_request'>;
type HashMessage = MessageOf<'hash_request' | 'hashes' | 'hash_reject'>;

const nameOnly = (m: { readonly type: string }): string => m.type;
const indexLine = (m: IndexMessage): string => `${m.type} index=${m.index}`;
const indexBrief = (m: IndexMessage): string => `${m.type} ${m.index}`;
const blockLine = (m: BlockMessage): string => `${m.type} index=${m.index} begin=${m.begin} len=${m.length}`;
const blockBrief = (m: BlockMessage): string => `${m.type} ${m.index}/${m.begin}/${m.length}`;
const hashLine = (m: HashMessage): string =>
  `${m.type} pieces_root=${toHex(m.piecesRoot).slice(0, 16)}… base_layer=${m.baseLayer} index=${m.index} length=${m.length} proof_layers=${m.proofLayers}${m.type === 'hashes' ? ` hashes=${m.hashes.length / 32}` : ''}`;
const extendedTitle = (m: MessageOf<'extended'>, c: TextContext): string => `extended ${c.extName ?? `#${m.extId}`}`;

/** An extended message's line: ut_metadata and ut_pex show their content; anything else (or a payload that fails to decode) its length. */
function extendedLine(m: MessageOf<'extended'>, c: TextContext): string {
  const name = c.extName;
  if (name === 'ut_metadata') {
    try {
      const v = decodeUtMetadata(m.payload).value;
      const extra = v.msgType === 'data' ? ` total_size=${v.totalSize} data=${v.data.length}` : '';
      return `extended ut_metadata ${v.msgType} piece=${v.piece}${extra}`;
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
    }
  } else if (name === 'ut_pex') {
    try {
      const v = decodeUtPex(m.payload).value;
      return `extended ut_pex added=${v.added.length + v.added6.length} dropped=${v.dropped.length + v.dropped6.length}`;
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
    }
  }
  return `extended ${name ?? `id=${m.extId} (not negotiated)`} len=${m.payload.length}`;
}

// ---------------------------------------------------------------- the table

/** BEP 3 (0-8), BEP 5 (port), BEP 6 (0x0D-0x11), BEP 10 (extended), BEP 52 (hash request/hashes/hash reject). */
export const MESSAGE_SPECS = {
  choke: { id: 0, bep: 3, size: { fixed: 0 }, line: nameOnly },
  unchoke: { id: 1, bep: 3, size: { fixed: 0 }, line: nameOnly },
  interested: { id: 2, bep: 3, size: { fixed: 0 }, line: nameOnly },
  not_interested: { id: 3, bep: 3, size: { fixed: 0 }, line: nameOnly },
  have: { id: 4, bep: 3, size: { fixed: 4 }, line: indexLine, brief: indexBrief },
  bitfield: {
    id: 5,
    bep: 3,
    // An empty bitfield decodes (its length is judged against the piece count on the frame, not here).
    size: { min: 0, max: (b) => (b.pieceCount === undefined ? undefined : Math.ceil(b.pieceCount / 8)) },
    line: (m) => `bitfield len=${m.bitfield.length} pieces_set=${countPieces(m.bitfield)}`,
    brief: (m, c) => `bitfield ${countPieces(m.bitfield, c.pieceCount)}${c.pieceCount !== undefined ? `/${c.pieceCount}` : ` of ${m.bitfield.length * 8} bits`} pieces`,
  },
  request: { id: 6, bep: 3, size: { fixed: 12 }, line: blockLine, brief: blockBrief },
  piece: {
    id: 7,
    bep: 3,
    size: { min: 8, max: (b) => 8 + b.blockLength },
    line: (m) => `piece index=${m.index} begin=${m.begin} len=${m.block.length}`,
    brief: (m) => `piece ${m.index}/${m.begin} (${m.block.length} bytes)`,
  },
  cancel: { id: 8, bep: 3, size: { fixed: 12 }, line: blockLine, brief: blockBrief },
  port: { id: 9, bep: 5, size: { fixed: 2 }, line: (m) => `port ${m.port}`, brief: (m) => `port ${m.port}` },
  suggest_piece: { id: 0x0d, bep: 6, size: { fixed: 4 }, line: indexLine, brief: indexBrief },
  have_all: { id: 0x0e, bep: 6, size: { fixed: 0 }, line: nameOnly },
  have_none: { id: 0x0f, bep: 6, size: { fixed: 0 }, line: nameOnly },
  reject_request: { id: 0x10, bep: 6, size: { fixed: 12 }, line: blockLine, brief: blockBrief },
  allowed_fast: { id: 0x11, bep: 6, size: { fixed: 4 }, line: indexLine, brief: indexBrief },
  extended: {
    id: 20,
    bep: 10,
    size: { min: 1, max: (b) => b.extendedPayload },
    line: extendedLine,
    brief: (m, c) => `${extendedTitle(m, c)} (${m.payload.length} bytes)`,
    title: extendedTitle,
  },
  hash_request: { id: 21, bep: 52, size: { fixed: 48 }, line: hashLine },
  // The hashes (32 bytes each) follow the 48-byte header; that they come in 32s is the decoder's check.
  hashes: { id: 22, bep: 52, size: { min: 48, max: (b) => 48 + 32 * b.hashes }, line: hashLine },
  hash_reject: { id: 23, bep: 52, size: { fixed: 48 }, line: hashLine },
} as const satisfies { readonly [N in KnownMessageName]: MessageSpec<N> };

// ---------------------------------------------------------------- lookups derived from the table

/** A row with its name, for lookups by id (the texts take any message; a row is only handed its own). */
export interface MessageRow {
  readonly name: KnownMessageName;
  readonly id: number;
  readonly bep: number;
  readonly size: PayloadSize;
  /** `size.fixed`, or -1 when the size varies: the decoder's check in two number reads. */
  readonly fixedPayload: number;
  /** `size.min`, or `size.fixed`. */
  readonly minPayload: number;
  readonly line: (m: Message, c: TextContext) => string;
  readonly brief: ((m: Message, c: TextContext) => string) | undefined;
  readonly title: ((m: Message, c: TextContext) => string) | undefined;
}

/** The rows in id order. */
export const MESSAGE_ROWS: readonly MessageRow[] = (Object.entries(MESSAGE_SPECS) as Array<[KnownMessageName, MessageSpec]>)
  .map(([n, s]): MessageRow => {
    const fixed = 'fixed' in s.size ? s.size.fixed : -1;
    return {
      name: n,
      id: s.id,
      bep: s.bep,
      size: s.size,
      fixedPayload: fixed,
      minPayload: 'fixed' in s.size ? s.size.fixed : s.size.min,
      // Each row's functions are only ever called with that row's message (see rowOf).
      line: s.line as MessageRow['line'],
      brief: s.brief as MessageRow['brief'],
      title: s.title as MessageRow['title'],
    };
  })
  .sort((a, b) => a.id - b.id);

/** Row by message id: an array of all 256 ids (undefined where unassigned), so a lookup is one indexed load. */
export const MESSAGE_BY_ID: ReadonlyArray<MessageRow | undefined> = (() => {
  const byId = new Array<MessageRow | undefined>(256).fill(undefined);
  for (const r of MESSAGE_ROWS) {
    if (byId[r.id]) throw new Error(`message id ${r.id} is in the table twice (${byId[r.id]!.name}, ${r.name})`);
    byId[r.id] = r;
  }
  return byId;
})();

const BY_NAME: ReadonlyMap<string, MessageRow> = new Map(MESSAGE_ROWS.map((r) => [r.name, r]));

/** name -> id. */
export const MESSAGE_IDS = Object.fromEntries(MESSAGE_ROWS.map((r) => [r.name, r.id])) as {
  readonly [N in KnownMessageName]: (typeof MESSAGE_SPECS)[N]['id'];
};

/** id -> name, for value names in frames. */
export const MESSAGE_NAMES: Readonly<Record<number, KnownMessageName>> = Object.fromEntries(MESSAGE_ROWS.map((r) => [r.id, r.name]));

/** The row of a message with an id (undefined for keep-alive and unknown ids). */
export function rowOf(m: Message): MessageRow | undefined {
  return BY_NAME.get(m.type);
}

/** Names of the messages a BEP defines, in id order (BEP 6: the fast extension's five). */
export function messagesOfBep(bep: number): KnownMessageName[] {
  return MESSAGE_ROWS.filter((r) => r.bep === bep).map((r) => r.name);
}

/** Most payload bytes a message may carry under `bounds` (undefined: no cap of its own). */
export function maxPayload(row: Pick<MessageRow, 'size'>, bounds: PayloadBounds): number | undefined {
  return 'fixed' in row.size ? row.size.fixed : row.size.max(bounds);
}

// ---------------------------------------------------------------- one-line texts

/** The one-line form of a peer wire message, as the tracer prints it: `piece index=12 begin=16384 len=16384`. */
export function messageLine(m: Message, c: TextContext = {}): string {
  if (m.type === 'keep_alive') return 'keep_alive';
  if (m.type === 'unknown') return `unknown id=${m.id} len=${m.payload.length}`;
  return rowOf(m)!.line(m, c);
}

/** A message as a short phrase: `bitfield 12/12 pieces`, `have 3`, `request 1/0/16384`. */
export function messageBrief(m: Message, c: TextContext = {}): string {
  if (m.type === 'unknown') return `unknown id ${m.id} (${m.payload.length} bytes)`;
  const brief = rowOf(m)?.brief;
  return brief ? brief(m, c) : m.type;
}
