import type { Message } from '../../wire/messages.js';
import { incoming, ref, type Session } from '../view.js';
import type { CheckDef, EvalContext, ScenarioName } from '../types.js';

const ALL: readonly ScenarioName[] = ['main', 'plain'];

function bitfields(ctx: EvalContext<Message>) {
  const out: Array<{ s: Session; e: Session['events'][number]; bits: Uint8Array }> = [];
  for (const n of ALL) {
    const s = ctx.session(n);
    if (!s) continue;
    for (const e of incoming(s)) if (e.message.type === 'bitfield') out.push({ s, e, bits: e.message.bitfield });
  }
  return out;
}

export const BITFIELD_CHECKS: readonly CheckDef<Message>[] = [
  {
    id: 'bitfield.length',
    bep: 3,
    section: 'bitfield',
    title: 'the bitfield is ceil(pieces / 8) bytes',
    scenarios: ALL,
    evaluate(ctx) {
      const want = Math.ceil(ctx.target.pieceCount / 8);
      const all = bitfields(ctx);
      if (all.length === 0) return { result: 'skip', detail: 'no bitfield sent (have all / have none, or nothing)' };
      const bad = all.find((b) => b.bits.length !== want);
      if (bad) return { result: 'fail', detail: `${bad.bits.length} bytes for ${ctx.target.pieceCount} pieces, expected ${want}`, evidence: [ref(bad.s, bad.e)] };
      return { result: 'pass', detail: `${want} bytes for ${ctx.target.pieceCount} pieces` };
    },
  },
  {
    id: 'bitfield.spare_bits',
    bep: 3,
    section: 'bitfield',
    title: 'spare bits at the end of the bitfield are zero',
    scenarios: ALL,
    evaluate(ctx) {
      const n = ctx.target.pieceCount;
      const all = bitfields(ctx);
      if (all.length === 0) return { result: 'skip', detail: 'no bitfield sent' };
      for (const b of all) {
        for (let i = n; i < b.bits.length * 8; i++) {
          if ((b.bits[i >> 3]! >> (7 - (i & 7))) & 1) {
            return { result: 'fail', detail: `bit ${i} set, but there are only ${n} pieces (byte ${i >> 3} = 0x${b.bits[i >> 3]!.toString(16).padStart(2, '0')})`, evidence: [ref(b.s, b.e)] };
          }
        }
      }
      const spare = Math.ceil(n / 8) * 8 - n;
      return { result: 'pass', detail: spare === 0 ? 'no spare bits (piece count is a multiple of 8)' : `${spare} spare bits, all zero` };
    },
  },
  {
    id: 'bitfield.have_range',
    bep: 3,
    section: 'have',
    title: 'have, suggest and allowed fast name a piece that exists',
    scenarios: ALL,
    evaluate(ctx) {
      const n = ctx.target.pieceCount;
      let count = 0;
      for (const name of ALL) {
        const s = ctx.session(name);
        if (!s) continue;
        for (const e of incoming(s)) {
          const m = e.message;
          if (m.type !== 'have' && m.type !== 'suggest_piece' && m.type !== 'allowed_fast') continue;
          count++;
          if (m.index >= n) return { result: 'fail', detail: `${m.type} for piece ${m.index}, but the torrent has ${n} pieces (0..${n - 1})`, evidence: [ref(s, e)] };
        }
      }
      return count === 0 ? { result: 'pass', detail: 'no have / suggest / allowed fast messages' } : { result: 'pass', detail: `${count} indices, all < ${n}` };
    },
  },
];
