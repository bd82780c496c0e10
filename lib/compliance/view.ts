import { decode } from '../bencode/decode.js';
import type { BNode } from '../bencode/node.js';
import { supportsExtended, supportsFast } from '../wire/handshake.js';
import type { Message } from '../wire/messages.js';
import { messagesOfBep } from '../wire/message-spec.js';
import type { EvidenceRef, SessionRecord, WireEvent } from './types.js';

/**
 * Read-only helpers over a recorded session, shared by the checks. Nothing
 * here talks to a peer: every answer comes from the transcript.
 */
export type Session = SessionRecord<Message>;
export type Event = WireEvent<Message>;

/** Our extension ids (the `m` dict we send): the peer addresses ut_metadata and ut_pex messages to us with these. */
export { LOCAL_EXTENSION_IDS as OUR_EXTENSION_IDS } from '../wire/extended.js';

/** The BEP 6 (fast extension) messages, from the message table. */
export const FAST_TYPES: ReadonlySet<Message['type']> = new Set(messagesOfBep(6));

export const incoming = (s: Session): Event[] => s.events.filter((e) => e.dir === 'in');
export const outgoing = (s: Session, tag?: string): Event[] => s.events.filter((e) => e.dir === 'out' && (tag === undefined || e.tag === tag));

export const peerSetExtended = (s: Session): boolean => !!s.handshake && supportsExtended(s.handshake.reserved);
export const peerSetFast = (s: Session): boolean => !!s.handshake && supportsFast(s.handshake.reserved);
/** BEP 6: "The extension is enabled only if both ends of the connection set this bit." */
export const fastOn = (s: Session): boolean => peerSetFast(s) && supportsFast(s.ourReserved);
/** BEP 10: extension messages only between peers that both set bit 20. */
export const extendedOn = (s: Session): boolean => peerSetExtended(s) && supportsExtended(s.ourReserved);

export const ref = (s: Session, e: Event): EvidenceRef => ({ scenario: s.scenario, seq: e.seq });
export const hsRef = (s: Session): EvidenceRef => ({ scenario: s.scenario, handshake: true });

/** Block address of a request, cancel, reject or piece. */
export interface BlockAddr {
  readonly index: number;
  readonly begin: number;
  readonly length: number;
}

export function blockOf(m: Message): BlockAddr | undefined {
  switch (m.type) {
    case 'request':
    case 'cancel':
    case 'reject_request':
      return { index: m.index, begin: m.begin, length: m.length };
    case 'piece':
      return { index: m.index, begin: m.begin, length: m.block.length };
    default:
      return undefined;
  }
}

/**
 * Which incoming piece / reject answers which request. The same block may be
 * asked for more than once in a session (while choked, then unchoked): a new
 * request for a block supersedes an older one still waiting, and each answer
 * goes to the request waiting for its (index, begin). An answer with none
 * waiting is unrequested, and is also kept as an extra answer on the latest
 * request for that block (so a double answer shows as one).
 */
export interface AnswerMap {
  readonly answers: ReadonlyMap<number, { pieces: Event[]; rejects: Event[] }>;
  /** Pieces and rejects with no request for their (index, begin) before them. */
  readonly unrequested: readonly Event[];
}

const answerCache = new WeakMap<object, { n: number; map: AnswerMap }>();

export function matchAnswers(s: Session): AnswerMap {
  const cached = answerCache.get(s.events);
  if (cached && cached.n === s.events.length) return cached.map;
  const answers = new Map<number, { pieces: Event[]; rejects: Event[] }>();
  const waiting = new Map<string, Event[]>();
  const latest = new Map<string, Event>();
  const unrequested: Event[] = [];
  for (const e of s.events) {
    const m = e.message;
    if (e.dir === 'out' && m.type === 'request') {
      // Asking again for a block supersedes the older request: an answer after this goes to the new one.
      const key = `${m.index}:${m.begin}`;
      waiting.set(key, [e]);
      latest.set(key, e);
      answers.set(e.seq, { pieces: [], rejects: [] });
      continue;
    }
    if (e.dir !== 'in' || (m.type !== 'piece' && m.type !== 'reject_request')) continue;
    const key = `${m.index}:${m.begin}`;
    const q = waiting.get(key);
    // A reject names the length too: prefer the waiting request it names exactly.
    let i = 0;
    if (q && m.type === 'reject_request') i = Math.max(0, q.findIndex((r) => (r.message as { length: number }).length === m.length));
    const waited = q && q.length > 0 ? q.splice(i, 1)[0] : undefined;
    // Nobody waiting: unrequested data (or a second answer, kept on the latest request so it shows as one).
    if (!waited) unrequested.push(e);
    const req = waited ?? latest.get(key);
    if (!req) continue;
    const a = answers.get(req.seq)!;
    (m.type === 'piece' ? a.pieces : a.rejects).push(e);
  }
  const map = { answers, unrequested };
  answerCache.set(s.events, { n: s.events.length, map });
  return map;
}

/** The pieces and rejects that answer one outgoing request event. */
export function answersTo(s: Session, req: Event): { pieces: Event[]; rejects: Event[] } {
  return matchAnswers(s).answers.get(req.seq) ?? { pieces: [], rejects: [] };
}

/** The request a cancel (or anything naming a block) refers to: the latest one for that block before it. */
export function requestBefore(s: Session, e: Event): Event | undefined {
  const b = blockOf(e.message);
  if (!b) return undefined;
  let found: Event | undefined;
  for (const x of s.events) {
    if (x.seq >= e.seq) break;
    if (x.dir === 'out' && x.message.type === 'request' && x.message.index === b.index && x.message.begin === b.begin) found = x;
  }
  return found;
}

/** The request was answered (piece or reject). */
export const isAnswered = (s: Session, req: Event): boolean => {
  const a = answersTo(s, req);
  return a.pieces.length + a.rejects.length > 0;
};

/** The session ended because the peer closed or reset it (not because we did). */
export const peerClosed = (s: Session): boolean => s.end?.how === 'peer_closed' || s.end?.how === 'reset';

/** Extension messages the peer sent, by our local id (0 = its extended handshake). */
export function extendedFrom(s: Session, extId?: number): Array<Event & { message: Extract<Message, { type: 'extended' }> }> {
  return incoming(s).filter(
    (e): e is Event & { message: Extract<Message, { type: 'extended' }> } =>
      e.message.type === 'extended' && (extId === undefined || e.message.extId === extId),
  );
}

/** A bencoded payload decoded leniently for judging: the root node, or the error (code + absolute offset). */
export function bencodeOf(
  payload: Uint8Array,
  base: number,
  allowTrailing = false,
): { root: BNode; end: number } | { error: { code: string; offset: number; message: string } } {
  try {
    const doc = decode(payload, { base, allowTrailing, maxDepth: 16, maxTokens: 100_000 });
    return { root: doc.root, end: doc.end };
  } catch (e) {
    const err = e as { code?: string; offset?: number; message: string };
    return { error: { code: err.code ?? 'invalid', offset: err.offset ?? base, message: err.message } };
  }
}

/** Look up a dict key; undefined when `node` is not a dict or lacks the key. */
export function dictGet(node: BNode, key: string): BNode | undefined {
  return node.kind === 'dict' ? node.get(key) : undefined;
}

export function intOf(node: BNode | undefined): number | undefined {
  if (!node || node.kind !== 'int') return undefined;
  const v = node.intValue();
  return typeof v === 'bigint' ? Number(v) : v;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
