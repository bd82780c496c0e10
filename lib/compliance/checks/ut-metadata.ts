import { createHash } from 'node:crypto';
import { bytesEqual, toHex } from '../../core/bytes.js';
import type { Message } from '../../wire/messages.js';
import { OUR_EXTENSION_IDS, bencodeOf, dictGet, extendedFrom, intOf, outgoing, plural, ref, type Event, type Session } from '../view.js';
import type { CheckDef, CheckOutcome, EvalContext } from '../types.js';

/** BEP 9: metadata is sent in 16 KiB pieces, the last one shorter. */
export const METADATA_PIECE = 16 * 1024;

export interface MetadataReply {
  readonly e: Event;
  readonly msgType?: number;
  readonly piece?: number;
  readonly totalSize?: number;
  /** The bytes after the dict (data messages). */
  readonly data: Uint8Array;
  readonly error?: string;
}

/** Every ut_metadata message the peer sent us, decoded leniently (a bad one is kept with its error). */
export function metadataReplies(s: Session): MetadataReply[] {
  return extendedFrom(s, OUR_EXTENSION_IDS.ut_metadata).map((e) => {
    const payload = e.message.payload;
    const d = bencodeOf(payload, e.offset + 6, true);
    if ('error' in d) return { e, data: new Uint8Array(0), error: `${d.error.message} (${d.error.code} at byte ${d.error.offset})` };
    if (d.root.kind !== 'dict') return { e, data: new Uint8Array(0), error: `a ${d.root.kind}, not a dict` };
    const r: MetadataReply = {
      e,
      data: payload.subarray(d.end),
      ...opt('msgType', intOf(dictGet(d.root, 'msg_type'))),
      ...opt('piece', intOf(dictGet(d.root, 'piece'))),
      ...opt('totalSize', intOf(dictGet(d.root, 'total_size'))),
    };
    return r;
  });
}

function opt<K extends string>(k: K, v: number | undefined): { [P in K]?: number } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: number };
}

function metadataPieces(ctx: EvalContext<Message>): CheckOutcome {
  const s = ctx.session('main');
  if (!s?.handshake) return { result: 'skip', detail: 'no handshake on the main connection' };
  const asked = outgoing(s, 'metadata_request');
  if (asked.length === 0) return { result: 'skip', detail: s.notes.find((n) => n.includes('ut_metadata')) ?? 'the peer does not offer ut_metadata' };
  const size = s.facts['metadataSize'] as number;
  const count = Math.ceil(size / METADATA_PIECE);
  const replies = metadataReplies(s);
  const bad = replies.find((r) => r.error);
  if (bad) return { result: 'fail', detail: `ut_metadata message does not decode: ${bad.error}`, evidence: [ref(s, bad.e)] };
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const got = replies.filter((r) => r.piece === i);
    const data = got.find((r) => r.msgType === 1);
    if (!data) {
      const rej = got.find((r) => r.msgType === 2);
      return rej
        ? { result: 'fail', detail: `metadata piece ${i} of ${count} rejected by a peer that offered metadata_size ${size}`, evidence: [ref(s, rej.e)] }
        : { result: 'fail', detail: `metadata piece ${i} of ${count} never arrived` };
    }
    const want = i === count - 1 ? size - i * METADATA_PIECE : METADATA_PIECE;
    if (data.data.length !== want) {
      return { result: 'fail', detail: `metadata piece ${i}: ${data.data.length} bytes after the dict, expected ${want}`, evidence: [ref(s, data.e)] };
    }
    if (data.totalSize !== undefined && data.totalSize !== size) {
      return { result: 'fail', detail: `metadata piece ${i}: total_size ${data.totalSize}, the extended handshake said ${size}`, evidence: [ref(s, data.e)] };
    }
    parts.push(data.data);
  }
  // BEP 52: a v2-only torrent's info-hash (in the handshake) is the SHA-256 of the info dict, truncated.
  const v2Only = !ctx.target.infoHash;
  const h = createHash(v2Only ? 'sha256' : 'sha1');
  for (const p of parts) h.update(p);
  const digest = new Uint8Array(h.digest()).subarray(0, 20);
  if (!bytesEqual(digest, s.ourInfoHash)) {
    return { result: 'fail', detail: `the ${size} metadata bytes hash to ${toHex(digest)}, not the info-hash ${toHex(s.ourInfoHash)}` };
  }
  return { result: 'pass', detail: `${plural(count, 'piece')}, ${size} bytes, ${v2Only ? 'SHA-256 (truncated)' : 'SHA-1'} = info-hash` };
}

function metadataBeyond(ctx: EvalContext<Message>): CheckOutcome {
  const s = ctx.session('main');
  if (!s?.handshake) return { result: 'skip', detail: 'no handshake on the main connection' };
  const req = outgoing(s, 'metadata_beyond')[0];
  if (!req) return { result: 'skip', detail: s.notes.find((n) => n.includes('ut_metadata')) ?? 'the peer does not offer ut_metadata' };
  const piece = s.facts['metadataBeyondPiece'] as number;
  const got = metadataReplies(s).filter((r) => r.piece === piece);
  const data = got.find((r) => r.msgType === 1);
  if (data) return { result: 'fail', detail: `piece ${piece} is past the end of the metadata, yet ${data.data.length} bytes of data came`, evidence: [ref(s, req), ref(s, data.e)] };
  const rej = got.find((r) => r.msgType === 2);
  if (rej) return { result: 'pass', detail: `piece ${piece} rejected`, evidence: [ref(s, req), ref(s, rej.e)] };
  return { result: 'warn', detail: `piece ${piece} (past the end) was ignored instead of rejected`, evidence: [ref(s, req)] };
}

export const UT_METADATA_CHECKS: readonly CheckDef<Message>[] = [
  {
    id: 'ut_metadata.pieces',
    bep: 9,
    section: 'data',
    title: 'every metadata piece served, of the right size, the whole hashing to the info-hash',
    scenarios: ['main'],
    evaluate: metadataPieces,
  },
  {
    id: 'ut_metadata.beyond',
    bep: 9,
    section: 'reject',
    title: 'a request for a metadata piece past the end is rejected',
    scenarios: ['main'],
    evaluate: metadataBeyond,
  },
];
