import { bytesEqual, printable, toHex } from '../../core/bytes.js';
import { decodePeerId } from '../../wire/peer-id.js';
import { FAST_TYPES, hsRef, incoming, peerSetExtended, peerSetFast, plural, ref, type Session } from '../view.js';
import type { CheckDef, CheckOutcome, EvalContext, ScenarioName } from '../types.js';
import type { Message } from '../../wire/messages.js';

type Ctx = EvalContext<Message>;
const ALL: readonly ScenarioName[] = ['main', 'plain'];

function sessions(ctx: Ctx, names: readonly ScenarioName[] = ALL): Session[] {
  return names.map((n) => ctx.session(n)).filter((s): s is Session => !!s);
}

/** BEP 3 "handshake": the first session that got as far as a handshake (or failed trying). */
function mainHandshake(ctx: Ctx): { s: Session } | { outcome: CheckOutcome } {
  const s = ctx.session('main');
  if (!s) return { outcome: { result: 'skip', detail: 'main scenario not run' } };
  if (s.end?.how === 'connect_failed') return { outcome: { result: 'skip', detail: `could not connect: ${s.end.message ?? ''}` } };
  return { s };
}

export const HANDSHAKE_CHECKS: readonly CheckDef<Message>[] = [
  {
    id: 'handshake.protocol',
    bep: 3,
    section: 'handshake',
    title: 'the handshake starts with 19 and "BitTorrent protocol"',
    scenarios: ['main'],
    evaluate(ctx) {
      const h = mainHandshake(ctx);
      if ('outcome' in h) return h.outcome;
      const { s } = h;
      if (s.handshake) return { result: 'pass', detail: `at stream offset ${s.handshake.offset}`, evidence: [hsRef(s)] };
      if (s.badHandshake) {
        return {
          result: 'fail',
          detail: `${s.badHandshake.message} (${s.badHandshake.code} at byte ${s.badHandshake.offset}); first bytes ${toHex(s.badHandshake.bytes.subarray(0, 24))}`,
          evidence: [hsRef(s)],
        };
      }
      return { result: 'fail', detail: `no handshake: the connection ended (${s.end?.how ?? 'unknown'}) before one arrived` };
    },
  },
  {
    id: 'handshake.info_hash',
    bep: 3,
    section: 'handshake',
    title: 'the info-hash we sent is echoed back',
    scenarios: ['main'],
    evaluate(ctx) {
      const h = mainHandshake(ctx);
      if ('outcome' in h) return h.outcome;
      const { s } = h;
      if (!s.handshake) return { result: 'skip', detail: 'no handshake received' };
      if (s.handshake.infoHash.length < 20) return { result: 'fail', detail: `handshake cut after ${s.handshake.infoHash.length} info-hash bytes`, evidence: [hsRef(s)] };
      return bytesEqual(s.handshake.infoHash, s.ourInfoHash)
        ? { result: 'pass', detail: toHex(s.handshake.infoHash), evidence: [hsRef(s)] }
        : { result: 'fail', detail: `sent ${toHex(s.ourInfoHash)}, got ${toHex(s.handshake.infoHash)}`, evidence: [hsRef(s)] };
    },
  },
  {
    id: 'handshake.peer_id',
    bep: 3,
    section: 'handshake',
    title: 'a 20-byte peer id follows the info-hash',
    scenarios: ['main'],
    evaluate(ctx) {
      const h = mainHandshake(ctx);
      if ('outcome' in h) return h.outcome;
      const { s } = h;
      if (!s.handshake) return { result: 'skip', detail: 'no handshake received' };
      const id = s.handshake.peerId;
      if (id.length !== 20) return { result: 'fail', detail: `peer id is ${id.length} bytes, then the connection ended`, evidence: [hsRef(s)] };
      const c = decodePeerId(id);
      return { result: 'pass', detail: `${JSON.stringify(printable(id))} (${c.client}${c.version ? ` ${c.version}` : ''})`, evidence: [hsRef(s)] };
    },
  },
  {
    id: 'handshake.extended_bit',
    bep: 10,
    section: 'extension protocol bit',
    title: 'extended messages only from a peer that set reserved bit 20',
    scenarios: ALL,
    evaluate(ctx) {
      const all = sessions(ctx).filter((s) => s.handshake);
      if (all.length === 0) return { result: 'skip', detail: 'no handshake received' };
      for (const s of all) {
        if (peerSetExtended(s)) continue;
        const ext = incoming(s).find((e) => e.message.type === 'extended');
        if (ext) return { result: 'fail', detail: `reserved bit 20 clear, yet an extended message came (${s.scenario} #${ext.seq})`, evidence: [hsRef(s), ref(s, ext)] };
      }
      const set = all.some(peerSetExtended);
      return { result: 'pass', detail: set ? 'bit 20 set' : 'bit 20 clear and no extended messages' };
    },
  },
  {
    id: 'handshake.fast_bit',
    bep: 6,
    section: 'fast extension bit',
    title: 'fast messages only from a peer that set reserved[7] & 0x04',
    scenarios: ALL,
    evaluate(ctx) {
      const all = sessions(ctx).filter((s) => s.handshake);
      if (all.length === 0) return { result: 'skip', detail: 'no handshake received' };
      for (const s of all) {
        if (peerSetFast(s)) continue;
        const fast = incoming(s).filter((e) => FAST_TYPES.has(e.message.type));
        if (fast.length > 0) {
          return {
            result: 'fail',
            detail: `fast bit clear, yet ${plural(fast.length, 'fast message')} came (${fast[0]!.message.type} in ${s.scenario})`,
            evidence: [hsRef(s), ...fast.slice(0, 3).map((e) => ref(s, e))],
          };
        }
      }
      return { result: 'pass', detail: all.some(peerSetFast) ? 'fast bit set' : 'fast bit clear and no fast messages' };
    },
  },
];

