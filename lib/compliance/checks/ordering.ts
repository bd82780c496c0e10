import { toHex } from '../../core/bytes.js';
import type { Message } from '../../wire/messages.js';
import { blockOf, hsRef, incoming, matchAnswers, plural, ref, type Event, type Session } from '../view.js';
import type { CheckDef, EvalContext, ScenarioName } from '../types.js';

const ALL: readonly ScenarioName[] = ['main', 'plain'];
const BITFIELD_LIKE: ReadonlySet<Message['type']> = new Set(['bitfield', 'have_all', 'have_none']);

function sessions(ctx: EvalContext<Message>): Session[] {
  return ALL.map((n) => ctx.session(n)).filter((s): s is Session => !!s?.handshake);
}

/** Incoming messages that count as "messages" for ordering (a keep-alive carries nothing). */
export const ordered = (s: Session): Event[] => incoming(s).filter((e) => e.message.type !== 'keep_alive');

export const ORDERING_CHECKS: readonly CheckDef<Message>[] = [
  {
    id: 'ordering.nothing_before_handshake',
    bep: 3,
    section: 'handshake',
    title: 'the handshake is the first thing the peer sends',
    scenarios: ALL,
    evaluate(ctx) {
      const all = ALL.map((n) => ctx.session(n)).filter((s): s is Session => !!s && (!!s.handshake || s.preHandshake.length > 0));
      if (all.length === 0) return { result: 'skip', detail: 'no handshake received' };
      for (const s of all) {
        if (s.preHandshake.length > 0) {
          return {
            result: 'fail',
            detail: `${plural(s.preHandshake.length, 'byte')} before the handshake (${s.scenario}): ${toHex(s.preHandshake.subarray(0, 16))}${s.preHandshake.length > 16 ? '…' : ''}`,
            evidence: [hsRef(s)],
          };
        }
      }
      return { result: 'pass', detail: `handshake at offset 0 in ${plural(all.length, 'connection')}` };
    },
  },
  {
    id: 'ordering.bitfield_first',
    bep: 3,
    section: 'bitfield',
    title: 'bitfield (or have all / have none) only as the first message after the handshake',
    scenarios: ALL,
    evaluate(ctx) {
      const all = sessions(ctx);
      if (all.length === 0) return { result: 'skip', detail: 'no handshake received' };
      let sawAny = false;
      const lenient: string[] = [];
      for (const s of all) {
        const msgs = ordered(s);
        const i = msgs.findIndex((e) => BITFIELD_LIKE.has(e.message.type));
        if (i < 0) continue;
        sawAny = true;
        if (i === 0) continue;
        const before = msgs.slice(0, i);
        // BEP 10 is silent on where its handshake goes; many clients send it first. Say so, do not fail it.
        if (before.every((e) => e.message.type === 'extended' && e.message.extId === 0)) {
          lenient.push(`${s.scenario}: extended handshake before ${msgs[i]!.message.type}`);
          continue;
        }
        return {
          result: 'fail',
          detail: `${msgs[i]!.message.type} arrived as message ${i + 1} (${s.scenario}), after ${before.map((e) => e.message.type).join(', ')}`,
          evidence: [...before.slice(0, 3).map((e) => ref(s, e)), ref(s, msgs[i]!)],
        };
      }
      if (!sawAny) return { result: 'pass', detail: 'no bitfield, have all or have none sent (allowed without the fast extension)' };
      if (lenient.length > 0) return { result: 'warn', detail: `${lenient.join('; ')} (BEP 3 reads "only ever the first message")` };
      return { result: 'pass', detail: 'first message after the handshake' };
    },
  },
  {
    id: 'ordering.bitfield_once',
    bep: 3,
    section: 'bitfield',
    title: 'at most one bitfield / have all / have none per connection',
    scenarios: ALL,
    evaluate(ctx) {
      const all = sessions(ctx);
      if (all.length === 0) return { result: 'skip', detail: 'no handshake received' };
      for (const s of all) {
        const bf = ordered(s).filter((e) => BITFIELD_LIKE.has(e.message.type));
        if (bf.length > 1) {
          return {
            result: 'fail',
            detail: `${plural(bf.length, 'bitfield-type message')} on one connection (${s.scenario}: ${bf.map((e) => `${e.message.type} @${e.at}ms`).slice(0, 4).join(', ')})`,
            evidence: bf.slice(0, 4).map((e) => ref(s, e)),
          };
        }
      }
      return { result: 'pass', detail: `at most one in each of ${plural(all.length, 'connection')}` };
    },
  },
  {
    id: 'ordering.piece_requested',
    bep: 3,
    section: 'piece',
    title: 'no piece data that was not requested',
    scenarios: ['main', 'plain'],
    evaluate(ctx) {
      const all = sessions(ctx);
      if (all.length === 0) return { result: 'skip', detail: 'no handshake received' };
      let pieces = 0;
      for (const s of all) {
        pieces += incoming(s).filter((e) => e.message.type === 'piece').length;
        const extra = matchAnswers(s).unrequested.find((e) => e.message.type === 'piece');
        if (extra) {
          const b = blockOf(extra.message)!;
          return {
            result: 'fail',
            detail: `piece ${b.index} begin ${b.begin} length ${b.length} arrived (${s.scenario} #${extra.seq}) with no request for that block before it`,
            evidence: [ref(s, extra)],
          };
        }
      }
      return { result: 'pass', detail: `${plural(pieces, 'piece message')}, each one requested` };
    },
  },
];
