import type { Message } from '../../wire/messages.js';
import { incoming, outgoing, peerClosed, ref, type Session } from '../view.js';
import type { CheckDef, CheckOutcome, EvalContext, ScenarioName } from '../types.js';

/**
 * After a probe (keep-alive, unknown id), is the peer still talking? The main
 * connection is the baseline: what the peer did there within the same time it
 * should do here (unchoke us, answer a request).
 */
function stillAlive(scenario: ScenarioName, probeTag: string, tolerated: string, closeOk: boolean) {
  return (ctx: EvalContext<Message>): CheckOutcome => {
    const s = ctx.session(scenario) as Session | undefined;
    if (!s?.handshake) return { result: 'skip', detail: `no handshake on the ${scenario} connection` };
    const probe = outgoing(s, probeTag)[0];
    if (!probe) return { result: 'skip', detail: s.notes.join('; ') || 'probe not sent' };
    const after = incoming(s).filter((e) => e.seq > probe.seq);
    const answered = after.some((e) => e.message.type === 'piece');
    const unchoked = after.some((e) => e.message.type === 'unchoke');
    const main = ctx.session('main') as Session | undefined;
    const mainServed = !!main && incoming(main).some((e) => e.message.type === 'piece');
    if (peerClosed(s)) {
      const detail = `the peer closed the connection ${s.end!.at - probe.at} ms after it`;
      if (closeOk) return { result: 'pass', detail: `cleanly closed: ${detail}`, evidence: [ref(s, probe)] };
      return { result: 'fail', detail, evidence: [ref(s, probe)] };
    }
    if (answered) return { result: 'pass', detail: `${tolerated}: a later request was answered`, evidence: [ref(s, probe)] };
    if (mainServed) {
      return {
        result: 'fail',
        detail: `the connection stayed open but the peer stopped answering after it (${unchoked ? 'unchoked, then no data' : 'no unchoke, no data'}; the main connection was served)`,
        evidence: [ref(s, probe)],
      };
    }
    return { result: 'warn', detail: `connection open, ${after.length} messages after it, but no data to prove the peer kept working` };
  };
}

export const LIVENESS_CHECKS: readonly CheckDef<Message>[] = [
  {
    id: 'liveness.wellformed',
    bep: 3,
    section: 'peer messages',
    title: 'every frame the peer sends decodes (right payload size for its id, no oversized length prefix)',
    scenarios: ['main', 'plain'],
    evaluate(ctx) {
      let frames = 0;
      for (const name of ['main', 'plain'] as const) {
        const s = ctx.session(name);
        if (!s?.handshake) continue;
        frames += incoming(s).length;
        const bad = s.malformed?.[0];
        if (bad) return { result: 'fail', detail: `${name}: ${bad.message} (${bad.code} at byte ${bad.offset})`, evidence: [{ scenario: name, handshake: true }] };
        if (s.end?.how === 'decode_error') return { result: 'fail', detail: `${name}: ${s.end.message} (${s.end.code} at byte ${s.end.offset})` };
      }
      return { result: 'pass', detail: `${frames} frames decoded` };
    },
  },
  {
    id: 'liveness.keepalive',
    bep: 3,
    section: 'keep-alive',
    title: 'keep-alives (zero-length messages) are tolerated',
    scenarios: ['keepalive', 'main'],
    evaluate: stillAlive('keepalive', 'keepalive', 'tolerated', false),
  },
  {
    id: 'liveness.unknown_id',
    bep: 3,
    section: 'peer messages',
    title: 'an unknown message id is ignored, or the connection cleanly closed',
    scenarios: ['unknown_id', 'main'],
    evaluate: stillAlive('unknown_id', 'unknown_id', 'ignored', true),
  },
];
