import { printable } from '../../core/bytes.js';
import { decodeExtendedHandshake, type ExtendedHandshake } from '../../wire/extended.js';
import type { Message } from '../../wire/messages.js';
import { dictGet, extendedFrom, hsRef, incoming, peerSetExtended, ref, type Event, type Session } from '../view.js';
import type { CheckDef, CheckOutcome, EvalContext } from '../types.js';

type Ctx = EvalContext<Message>;

/** The peer's (last) extended handshake on the main connection, decoded; or why there is none. */
export function peerExtendedHandshake(ctx: Ctx): { s: Session; e: Event; hs: ExtendedHandshake; size: number } | { outcome: CheckOutcome } {
  const s = ctx.session('main');
  if (!s?.handshake) return { outcome: { result: 'skip', detail: 'no handshake on the main connection' } };
  if (!peerSetExtended(s)) return { outcome: { result: 'skip', detail: 'the peer does not set the extension protocol bit' } };
  const hss = extendedFrom(s, 0);
  if (hss.length === 0) return { outcome: { result: 'fail', detail: 'reserved bit 20 set, but no extended handshake came', evidence: [hsRef(s)] } };
  const e = hss[hss.length - 1]!;
  try {
    return { s, e, hs: decodeExtendedHandshake(e.message.payload, e.offset + 6).value, size: e.message.payload.length };
  } catch (err) {
    const x = err as { code?: string; offset?: number; message: string };
    return { outcome: { result: 'fail', detail: `extended handshake does not decode: ${x.message} (${x.code} at byte ${x.offset})`, evidence: [ref(s, e)] } };
  }
}

export const EXTENDED_CHECKS: readonly CheckDef<Message>[] = [
  {
    id: 'extended.handshake',
    bep: 10,
    section: 'handshake message',
    title: 'the extended handshake is a valid bencoded dict with an m dict',
    scenarios: ['main'],
    evaluate(ctx) {
      const x = peerExtendedHandshake(ctx);
      if ('outcome' in x) return x.outcome;
      const m = dictGet(x.hs.doc.root, 'm');
      if (m && m.kind !== 'dict') return { result: 'fail', detail: `m is a ${m.kind}, not a dict`, evidence: [ref(x.s, x.e)] };
      if (!m) return { result: 'warn', detail: 'no m dict (the peer supports no extension messages)', evidence: [ref(x.s, x.e)] };
      return { result: 'pass', detail: `${x.size} bytes, m = {${[...x.hs.m].map(([k, v]) => `${k}: ${v}`).join(', ')}}`, evidence: [ref(x.s, x.e)] };
    },
  },
  {
    id: 'extended.m_ids',
    bep: 10,
    section: 'handshake message',
    title: 'every m id is an integer 0..255, no two extensions share one',
    scenarios: ['main'],
    evaluate(ctx) {
      const x = peerExtendedHandshake(ctx);
      if ('outcome' in x) return x.outcome;
      const m = dictGet(x.hs.doc.root, 'm');
      if (!m || m.kind !== 'dict') return { result: 'skip', detail: 'no m dict' };
      const seen = new Map<number, string>();
      for (const [k, v] of m.entries()) {
        const name = printable(k.bytes());
        if (v.kind !== 'int') return { result: 'fail', detail: `m.${name} is a ${v.kind}, not an integer`, evidence: [ref(x.s, x.e)] };
        const id = Number(v.intValue());
        if (id < 0 || id > 255) return { result: 'fail', detail: `m.${name} = ${id} does not fit the one-byte extended id`, evidence: [ref(x.s, x.e)] };
        if (id !== 0 && seen.has(id)) return { result: 'fail', detail: `m.${name} and m.${seen.get(id)} both use id ${id}`, evidence: [ref(x.s, x.e)] };
        seen.set(id, name);
      }
      return { result: 'pass', detail: `${seen.size} ids in range` };
    },
  },
  {
    id: 'extended.metadata_size',
    bep: 9,
    section: 'extension header',
    title: 'metadata_size equals the size of the real info dict',
    scenarios: ['main'],
    evaluate(ctx) {
      const x = peerExtendedHandshake(ctx);
      if ('outcome' in x) return x.outcome;
      if (!x.hs.m.get('ut_metadata')) return { result: 'skip', detail: 'the peer does not offer ut_metadata' };
      const size = x.hs.metadataSize;
      if (size === undefined) return { result: 'fail', detail: 'ut_metadata offered without metadata_size (BEP 9 requires it)', evidence: [ref(x.s, x.e)] };
      const info = ctx.target.info;
      if (info) {
        return size === info.length
          ? { result: 'pass', detail: `${size} bytes, as the .torrent's info dict`, evidence: [ref(x.s, x.e)] }
          : { result: 'fail', detail: `metadata_size ${size}, the info dict is ${info.length} bytes`, evidence: [ref(x.s, x.e)] };
      }
      return size > 0 ? { result: 'pass', detail: `${size} bytes (no .torrent to compare with)` } : { result: 'fail', detail: `metadata_size ${size}` };
    },
  },
  {
    id: 'extended.info',
    bep: 10,
    section: 'handshake message',
    title: 'what the peer says about itself: v, reqq, p, upload_only',
    scenarios: ['main'],
    evaluate(ctx) {
      const x = peerExtendedHandshake(ctx);
      if ('outcome' in x) return x.outcome;
      const h = x.hs;
      const parts = [
        `v=${h.v !== undefined ? JSON.stringify(h.v) : '(none)'}`,
        `reqq=${h.reqq ?? '(none)'}`,
        ...(h.p !== undefined ? [`p=${h.p}`] : []),
        ...(h.uploadOnly !== undefined ? [`upload_only=${h.uploadOnly ? 1 : 0}`] : []),
      ];
      if (h.reqq !== undefined && h.reqq <= 0) return { result: 'warn', detail: `${parts.join(' ')}: reqq should be positive`, evidence: [ref(x.s, x.e)] };
      return { result: 'pass', detail: parts.join(' '), evidence: [ref(x.s, x.e)] };
    },
  },
  {
    id: 'extended.bit_off',
    bep: 10,
    section: 'extension protocol bit',
    title: 'no extended messages to a peer that did not set bit 20',
    scenarios: ['plain'],
    evaluate(ctx) {
      const s = ctx.session('plain');
      if (!s?.handshake) return { result: 'skip', detail: 'no handshake on the plain connection' };
      const ext = incoming(s).find((e) => e.message.type === 'extended');
      if (ext) return { result: 'fail', detail: `we cleared bit 20, the peer sent an extended message anyway (#${ext.seq})`, evidence: [ref(s, ext)] };
      return { result: 'pass', detail: `none in ${s.end ? s.end.at : 0} ms` };
    },
  },
];

