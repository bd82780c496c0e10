import { bytesEqual, toHex } from '../../core/bytes.js';
import { BLOCK_SIZE, HASH_SIZE, nextPowerOfTwo, sha256 } from '../../metainfo/merkle.js';
import type { TorrentFile } from '../../metainfo/types.js';
import { pieceTree } from '../../metainfo/merkle.js';
import { supportsV2 } from '../../wire/handshake.js';
import type { HashRequestFields } from '../../wire/hash-messages.js';
import type { Message } from '../../wire/messages.js';
import { incoming, outgoing, peerClosed, plural, ref, hsRef, type Event, type Session } from '../view.js';
import type { CheckDef, CheckOutcome, ComplyTarget, EvalContext } from '../types.js';

/**
 * BEP 52 checks: hash request (21), hashes (22), hash reject (23), and the v2
 * reserved bit of a hybrid. The `v2_hashes` scenario asks for part of one
 * file's piece layer with proof layers up to the root, then sends invalid
 * requests; these checks compare what came back with the torrent's own piece
 * layer (padded as BEP 52 pads) and fold the uncle hashes to the pieces root.
 */

/** BEP 52, "hash request": requests SHOULD NOT ask for more than 512 hashes. */
export const MAX_REQUEST_HASHES = 512;

type HashMsg = Extract<Message, { type: 'hash_request' | 'hashes' | 'hash_reject' }>;

/** The file the probe asks about and the valid request for it. */
export interface V2Plan {
  readonly file: TorrentFile;
  /** Pieces of the file (real hashes in its piece layer). */
  readonly pieces: number;
  /** nextPowerOfTwo(pieces): the padded piece layer's width. */
  readonly width: number;
  /** The piece layer's hashes (pieces * 32 bytes). */
  readonly layer: Uint8Array;
  /** log2(piece length / 16 KiB): the piece layer's height above the blocks. */
  readonly pieceLevel: number;
  readonly valid: HashRequestFields;
  /**
   * Requests no peer should answer with hashes, and why each is invalid.
   * `truth: false`: no true answer exists (past the layer, no such file), so
   * hashes are made up (fail); `true`: the request breaks a MUST but the
   * hashes it names exist, so answering is lenient (warn).
   */
  readonly invalid: ReadonlyArray<{ readonly request: HashRequestFields; readonly why: string; readonly truth: boolean }>;
}

/**
 * What the v2 probe asks, or why there is nothing to ask: a v1 torrent, or no
 * file larger than a piece (such a file's pieces root is its piece hash, it has
 * no piece layer). The largest file is asked about: the second half of its
 * padded piece layer (at most 512 hashes), with proof layers up to the root,
 * so the answer must carry uncle hashes and padding hashes when the layer is not full.
 */
export function v2Plan(t: ComplyTarget, unknownRoot: Uint8Array = sha256(new TextEncoder().encode('btscope comply: no such file'))): V2Plan | string {
  if (!t.files || !t.pieceLayers || (!t.infoHashV2 && !t.files.some((f) => f.piecesRoot))) return 'a v1 torrent: BEP 52 hash requests do not apply';
  const candidates = t.files.filter((f) => !f.pad && f.piecesRoot && f.length > t.pieceLength);
  if (candidates.length === 0) return `no file is larger than a piece (${t.pieceLength} bytes): no piece layer to ask for`;
  const file = candidates.reduce((a, b) => (b.length > a.length ? b : a));
  const layer = t.pieceLayers.get(toHex(file.piecesRoot!));
  const pieces = Math.ceil(file.length / t.pieceLength);
  if (!layer || layer.length !== pieces * HASH_SIZE) return `${file.path.join('/')}: the torrent lacks its piece layer`;
  const width = nextPowerOfTwo(pieces);
  const height = Math.log2(width);
  const pieceLevel = Math.log2(t.pieceLength / BLOCK_SIZE);
  const length = Math.min(MAX_REQUEST_HASHES, Math.max(2, width / 2));
  const index = width >= 4 ? width / 2 : 0;
  const root = file.piecesRoot!;
  const valid: HashRequestFields = { piecesRoot: root, baseLayer: pieceLevel, index, length, proofLayers: Math.max(0, height - 1) };
  return {
    file,
    pieces,
    width,
    layer,
    pieceLevel,
    valid,
    invalid: [
      { request: { piecesRoot: root, baseLayer: pieceLevel, index: width, length: 2, proofLayers: 0 }, why: `index ${width} is past the padded piece layer (${width} hashes)`, truth: false },
      { request: { piecesRoot: root, baseLayer: pieceLevel, index: 0, length: 3, proofLayers: 0 }, why: 'length 3 is not a power of two', truth: true },
      { request: { piecesRoot: unknownRoot, baseLayer: pieceLevel, index: 0, length: 2, proofLayers: 0 }, why: `pieces root ${toHex(unknownRoot).slice(0, 16)}… is no file of the torrent`, truth: false },
    ],
  };
}

/** Does `m` answer `req` (BEP 52: hashes and hash reject echo the request's fields)? */
export function answersHashRequest(req: HashRequestFields, m: Message): m is Extract<Message, { type: 'hashes' | 'hash_reject' }> {
  return (m.type === 'hashes' || m.type === 'hash_reject') && sameRequest(m, req);
}

export function sameRequest(a: HashRequestFields, b: HashRequestFields): boolean {
  return bytesEqual(a.piecesRoot, b.piecesRoot) && a.baseLayer === b.baseLayer && a.index === b.index && a.length === b.length && a.proofLayers === b.proofLayers;
}

/** The incoming hashes / hash reject messages that answer one outgoing hash request. */
export function hashAnswers(s: Session, req: Event): Array<Event & { message: Extract<Message, { type: 'hashes' | 'hash_reject' }> }> {
  const r = req.message as HashMsg;
  return incoming(s).filter((e): e is Event & { message: Extract<Message, { type: 'hashes' | 'hash_reject' }> } => e.seq > req.seq && answersHashRequest(r, e.message));
}

/**
 * The expected `hashes` payload: the requested hashes of the padded piece
 * layer, then one uncle per proof layer above the range's own subtree,
 * closest to the root last (BEP 52 "hashes").
 */
export function expectedHashes(plan: V2Plan, req: HashRequestFields): Uint8Array {
  const tree = pieceTree(plan.layer, plan.width, plan.pieceLevel);
  const first = Math.max(1, Math.log2(req.length));
  const uncles = Math.max(0, req.proofLayers - first + 1);
  const out = new Uint8Array((req.length + uncles) * HASH_SIZE);
  out.set(tree[0]!.subarray(req.index * HASH_SIZE, (req.index + req.length) * HASH_SIZE), 0);
  for (let k = first; k <= req.proofLayers; k++) {
    const sibling = (req.index >> k) ^ 1;
    out.set(tree[k]!.subarray(sibling * HASH_SIZE, (sibling + 1) * HASH_SIZE), (req.length + k - first) * HASH_SIZE);
  }
  return out;
}

/**
 * Fold an answer up: the requested hashes to their subtree root, then each
 * uncle on the side the range's position says. Independent of
 * `expectedHashes`: it uses only the answer and the request.
 */
export function foldHashes(req: HashRequestFields, hashes: Uint8Array): Uint8Array {
  let level: Uint8Array[] = [];
  for (let i = 0; i < req.length; i++) level.push(hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  let k = 0;
  while (level.length > 1) {
    const up: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(sha256(level[i]!, level[i + 1]!));
    level = up;
    k++;
  }
  let node = level[0]!;
  const uncles = hashes.length / HASH_SIZE - req.length;
  for (let u = 0; u < uncles; u++) {
    const uncle = hashes.subarray((req.length + u) * HASH_SIZE, (req.length + u + 1) * HASH_SIZE);
    // The range's ancestor at level k is node (index >> k); an odd one is a right child.
    node = ((req.index >> k) & 1) === 0 ? sha256(node, uncle) : sha256(uncle, node);
    k++;
  }
  return node;
}

const describeReq = (r: HashRequestFields): string => `base layer ${r.baseLayer}, index ${r.index}, length ${r.length}, proof layers ${r.proofLayers}`;

function v2Session(ctx: EvalContext<Message>): { s: Session; plan: V2Plan } | CheckOutcome {
  const s = ctx.session('v2_hashes');
  const plan = v2Plan(ctx.target);
  if (typeof plan === 'string') return { result: 'skip', detail: plan };
  if (!s?.handshake) return { result: 'skip', detail: s?.notes[0] ?? 'no handshake on the v2 connection' };
  if (outgoing(s).every((e) => e.message.type !== 'hash_request')) return { result: 'skip', detail: s.notes[0] ?? 'no hash request was sent' };
  return { s, plan };
}

function hashAnswer(ctx: EvalContext<Message>): CheckOutcome {
  const got = v2Session(ctx);
  if (!('s' in got)) return got;
  const { s, plan } = got;
  const req = outgoing(s, 'hash_request')[0];
  if (!req) return { result: 'skip', detail: s.notes[0] ?? 'no valid hash request was sent' };
  const r = req.message as HashMsg;
  const what = `${plan.file.path.join('/')} (${plural(plan.pieces, 'piece')}): ${describeReq(r)}`;
  const answers = hashAnswers(s, req);
  if (answers.length === 0) {
    return { result: 'fail', detail: `no hashes or hash reject for ${what}${peerClosed(s) ? '; the peer closed the connection' : ''}`, evidence: [ref(s, req)] };
  }
  if (answers.length > 1) return { result: 'fail', detail: `${answers.length} answers to one hash request for ${what}`, evidence: [ref(s, req), ...answers.slice(0, 3).map((e) => ref(s, e))] };
  const a = answers[0]!;
  if (a.message.type === 'hash_reject') {
    return { result: 'warn', detail: `hash reject for ${what}, from a peer that has every piece (allowed, but it has the layer)`, evidence: [ref(s, req), ref(s, a)] };
  }
  const want = expectedHashes(plan, r);
  const hashes = a.message.hashes;
  const ev = [ref(s, req), ref(s, a)];
  if (hashes.length !== want.length) {
    return { result: 'fail', detail: `${hashes.length / HASH_SIZE} hashes for ${what}; expected ${r.length} and ${plural(want.length / HASH_SIZE - r.length, 'uncle')}`, evidence: ev };
  }
  for (let i = 0; i < r.length; i++) {
    const at = i * HASH_SIZE;
    if (!bytesEqual(hashes.subarray(at, at + HASH_SIZE), want.subarray(at, at + HASH_SIZE))) {
      const pad = r.index + i >= plan.pieces ? ' (a padding hash past the file\'s last piece)' : '';
      return { result: 'fail', detail: `hash ${i} (piece ${r.index + i}${pad}) is ${toHex(hashes.subarray(at, at + 8))}…, the piece layer has ${toHex(want.subarray(at, at + 8))}…`, evidence: ev };
    }
  }
  const root = foldHashes(r, hashes);
  if (!bytesEqual(root, plan.file.piecesRoot!)) {
    return { result: 'fail', detail: `the hashes and uncles fold to ${toHex(root)}, not the pieces root ${toHex(plan.file.piecesRoot!)}`, evidence: ev };
  }
  const uncles = hashes.length / HASH_SIZE - r.length;
  return { result: 'pass', detail: `${r.length} hashes = the piece layer, ${plural(uncles, 'uncle')} fold to the pieces root (${what})`, evidence: ev };
}

function hashInvalid(ctx: EvalContext<Message>): CheckOutcome {
  const got = v2Session(ctx);
  if (!('s' in got)) return got;
  const { s, plan } = got;
  const sent = outgoing(s, 'hash_invalid');
  if (sent.length === 0) return { result: 'skip', detail: s.notes.find((n) => n.includes('invalid')) ?? 'no invalid hash request was sent' };
  const planned = (e: Event) => plan.invalid.find((x) => sameRequest(x.request, e.message as HashMsg));
  const why = (e: Event): string => planned(e)?.why ?? describeReq(e.message as HashMsg);
  const rejected: string[] = [];
  const silent: Event[] = [];
  const lenient: Array<[Event, Event]> = [];
  let closedOn: Event | undefined;
  for (const req of sent) {
    const answers = hashAnswers(s, req);
    const hashes = answers.find((a) => a.message.type === 'hashes');
    if (hashes && !planned(req)?.truth) {
      const n = (hashes.message as Extract<Message, { type: 'hashes' }>).hashes.length / HASH_SIZE;
      return { result: 'fail', detail: `${n} hashes for a request no true answer exists for (${why(req)})`, evidence: [ref(s, req), ref(s, hashes)] };
    }
    if (hashes) lenient.push([req, hashes]);
    else if (answers.length > 0) rejected.push(why(req));
    else if (req === sent[sent.length - 1] && peerClosed(s)) closedOn = req;
    else silent.push(req);
  }
  const parts = [rejected.length > 0 ? `rejected: ${rejected.join('; ')}` : '', closedOn ? `closed the connection on: ${why(closedOn)}` : ''].filter(Boolean);
  const also = parts.length ? ` (${parts.join('; ')})` : '';
  if (lenient.length > 0) {
    const [req, h] = lenient[0]!;
    const n = (h.message as Extract<Message, { type: 'hashes' }>).hashes.length / HASH_SIZE;
    return { result: 'warn', detail: `answered with ${n} hashes though ${why(req)} (BEP 52: a MUST on the requester; lenient, not a hash reject)${also}`, evidence: [ref(s, req), ref(s, h)] };
  }
  if (silent.length > 0) {
    return { result: 'warn', detail: `no hash reject and no close for: ${silent.map(why).join('; ')}${also}`, evidence: silent.map((e) => ref(s, e)) };
  }
  return { result: 'pass', detail: parts.join('; '), evidence: sent.map((e) => ref(s, e)) };
}

function reservedBit(ctx: EvalContext<Message>): CheckOutcome {
  if (!ctx.target.hybrid) return { result: 'skip', detail: ctx.target.infoHash ? 'a v1 torrent: no v2 upgrade' : 'a v2-only torrent: the info-hash says v2, no upgrade bit needed' };
  const s = ctx.session('v2_hashes');
  if (!s?.handshake) return { result: 'skip', detail: s?.notes[0] ?? 'no handshake on the v2 connection' };
  if (supportsV2(s.handshake.reserved)) return { result: 'pass', detail: 'the peer set the v2 bit (reserved byte 7, 0x10) on a hybrid torrent', evidence: [hsRef(s)] };
  return { result: 'warn', detail: 'the peer did not set the v2 bit on a hybrid torrent: it cannot be asked for hashes (v1 only)', evidence: [hsRef(s)] };
}

export const V2_CHECKS: readonly CheckDef<Message>[] = [
  {
    id: 'v2.hash_answer',
    bep: 52,
    section: 'hashes',
    title: "a hash request for a piece layer gets one hashes answer: the layer's hashes (padded) and uncles that fold to the pieces root",
    scenarios: ['v2_hashes'],
    evaluate: hashAnswer,
  },
  {
    id: 'v2.hash_invalid',
    bep: 52,
    section: 'hash reject',
    title: 'an invalid hash request (index past the layer, length not a power of two, unknown root) gets hash reject or a close, never hashes',
    scenarios: ['v2_hashes'],
    evaluate: hashInvalid,
  },
  {
    id: 'v2.reserved_bit',
    bep: 52,
    section: 'upgrade path',
    title: 'a peer seeding a hybrid torrent sets the v2 reserved bit',
    scenarios: ['v2_hashes'],
    evaluate: reservedBit,
  },
];
