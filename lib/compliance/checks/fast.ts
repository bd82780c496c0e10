import type { Message } from '../../wire/messages.js';
import { FAST_TYPES, answersTo, blockOf, fastOn, incoming, outgoing, peerClosed, plural, ref, type Session } from '../view.js';
import { ordered } from './ordering.js';
import type { CheckDef, CheckOutcome, EvalContext } from '../types.js';

type Ctx = EvalContext<Message>;

function fastMain(ctx: Ctx): { s: Session } | { outcome: CheckOutcome } {
  const s = ctx.session('main');
  if (!s?.handshake) return { outcome: { result: 'skip', detail: 'no handshake on the main connection' } };
  if (!fastOn(s)) return { outcome: { result: 'skip', detail: 'the peer does not set the fast extension bit' } };
  return { s };
}

export const FAST_CHECKS: readonly CheckDef<Message>[] = [
  {
    id: 'fast.bit_off',
    bep: 6,
    section: 'enabling',
    title: 'no fast messages to a peer that did not set the fast bit',
    scenarios: ['plain'],
    evaluate(ctx) {
      const s = ctx.session('plain');
      if (!s?.handshake) return { result: 'skip', detail: 'no handshake on the plain connection' };
      const fast = incoming(s).filter((e) => FAST_TYPES.has(e.message.type));
      if (fast.length > 0) {
        return { result: 'fail', detail: `we cleared the fast bit, the peer sent ${plural(fast.length, 'fast message')} (${fast[0]!.message.type})`, evidence: fast.slice(0, 3).map((e) => ref(s, e)) };
      }
      return { result: 'pass', detail: `none in ${s.end?.at ?? 0} ms` };
    },
  },
  {
    id: 'fast.first_message',
    bep: 6,
    section: 'have all / have none',
    title: 'with fast on, exactly one of bitfield / have all / have none, immediately after the handshake',
    scenarios: ['main'],
    evaluate(ctx) {
      const x = fastMain(ctx);
      if ('outcome' in x) return x.outcome;
      const msgs = ordered(x.s);
      const first = msgs[0];
      const kinds = new Set(['bitfield', 'have_all', 'have_none']);
      const all = msgs.filter((e) => kinds.has(e.message.type));
      if (all.length === 0) return { result: 'fail', detail: `none of bitfield / have all / have none came (first message: ${first?.message.type ?? 'nothing'})`, evidence: first ? [ref(x.s, first)] : [] };
      if (all.length > 1) return { result: 'fail', detail: `${all.length} of them: ${all.map((e) => e.message.type).join(', ')}`, evidence: all.slice(0, 3).map((e) => ref(x.s, e)) };
      if (first !== all[0]) {
        const before = msgs.slice(0, msgs.indexOf(all[0]!));
        if (before.every((e) => e.message.type === 'extended' && e.message.extId === 0)) {
          return { result: 'warn', detail: `${all[0]!.message.type} after the extended handshake, not immediately after the handshake`, evidence: [ref(x.s, all[0]!)] };
        }
        return { result: 'fail', detail: `${all[0]!.message.type} came after ${before.map((e) => e.message.type).join(', ')}`, evidence: [ref(x.s, first!), ref(x.s, all[0]!)] };
      }
      return { result: 'pass', detail: `${first.message.type} first`, evidence: [ref(x.s, first)] };
    },
  },
  {
    id: 'fast.allowed_fast',
    bep: 6,
    section: 'allowed fast',
    title: 'allowed fast pieces are served while choked',
    scenarios: ['main'],
    evaluate(ctx) {
      const x = fastMain(ctx);
      if ('outcome' in x) return x.outcome;
      const s = x.s;
      const reqs = outgoing(s, 'allowed_fast_request');
      const offered = incoming(s).filter((e) => e.message.type === 'allowed_fast').length;
      if (reqs.length === 0) return { result: 'skip', detail: offered === 0 ? 'the peer sent no allowed fast messages' : s.notes.find((n) => n.includes('allowed')) ?? 'not probed' };
      for (const r of reqs) {
        const { pieces, rejects } = answersTo(s, r);
        if (pieces.length === 0) {
          return { result: 'fail', detail: `allowed fast piece ${blockOf(r.message)!.index} requested while choked: ${rejects.length ? 'rejected' : 'no answer'}`, evidence: [ref(s, r), ...rejects.map((e) => ref(s, e))] };
        }
      }
      return { result: 'pass', detail: `${plural(reqs.length, 'request')} of ${offered} allowed fast pieces served while choked` };
    },
  },
  {
    id: 'fast.one_answer',
    bep: 6,
    section: 'reject request',
    title: 'with fast on, every request gets exactly one piece or reject (cancelled ones too)',
    scenarios: ['main'],
    evaluate(ctx) {
      const x = fastMain(ctx);
      if ('outcome' in x) return x.outcome;
      const s = x.s;
      const reqs = outgoing(s).filter((e) => e.message.type === 'request');
      if (reqs.length === 0) return { result: 'skip', detail: 'no requests were sent' };
      let unanswered = 0;
      for (const r of reqs) {
        const b = blockOf(r.message)!;
        const { pieces, rejects } = answersTo(s, r);
        const n = pieces.length + rejects.length;
        if (n > 1) {
          return { result: 'fail', detail: `piece ${b.index} begin ${b.begin}: ${pieces.length} pieces and ${rejects.length} rejects for one request`, evidence: [ref(s, r), ...[...pieces, ...rejects].slice(0, 3).map((e) => ref(s, e))] };
        }
        if (n === 0) {
          if (peerClosed(s)) continue;
          unanswered++;
          if (unanswered === 1 && s.facts['requestsSettled'] !== false) {
            return { result: 'fail', detail: `piece ${b.index} begin ${b.begin} length ${b.length}: neither piece nor reject by the end (${s.end ? s.end.at - r.at : '?'} ms later)`, evidence: [ref(s, r)] };
          }
        }
      }
      return { result: 'pass', detail: `${plural(reqs.length, 'request')}, one answer each` };
    },
  },
  {
    id: 'fast.reject_on_choke',
    bep: 6,
    section: 'reject request',
    title: 'with fast on, requests dropped when choking us are each rejected',
    scenarios: ['main'],
    evaluate(ctx) {
      const x = fastMain(ctx);
      if ('outcome' in x) return x.outcome;
      const s = x.s;
      const probes = outgoing(s, 'choke_probe');
      if (probes.length === 0) return { result: 'skip', detail: s.notes.find((n) => n.includes('choke')) ?? 'not probed' };
      const choke = incoming(s).find((e) => e.message.type === 'choke' && e.seq > probes[0]!.seq);
      if (!choke) return { result: 'skip', detail: `the peer did not choke us after not_interested (${plural(probes.length, 'request')} outstanding)` };
      const dropped = probes.filter((r) => {
        const { pieces, rejects } = answersTo(s, r);
        return pieces.length === 0 && rejects.length === 0;
      });
      if (dropped.length > 0) {
        return { result: 'fail', detail: `choked with ${plural(dropped.length, 'request')} neither served nor rejected`, evidence: [ref(s, choke), ...dropped.slice(0, 2).map((e) => ref(s, e))] };
      }
      const rejected = probes.filter((r) => answersTo(s, r).rejects.length > 0).length;
      return { result: 'pass', detail: `choked us: ${rejected} rejected, ${probes.length - rejected} served` };
    },
  },
];
