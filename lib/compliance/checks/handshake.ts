import { bytesEqual, printable, toHex, quotedPrintable } from '../../core/bytes.js';
import { decodePeerId } from '../../wire/peer-id.js';
import { FAST_TYPES, hsRef, incoming, peerSetExtended, peerSetFast, plural, ref, type Event, type Session } from '../view.js';
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

const noHandshake = (): CheckOutcome => ({ result: 'skip', detail: 'no handshake received' });

/** The main session with its handshake, or the outcome when there is none to look at. */
function mainHandshakeReceived(ctx: Ctx): { s: Session; hs: NonNullable<Session['handshake']> } | { outcome: CheckOutcome } {
  const h = mainHandshake(ctx);
  if ('outcome' in h) return h;
  if (!h.s.handshake) return { outcome: noHandshake() };
  return { s: h.s, hs: h.s.handshake };
}

/**
 * A reserved bit is honoured: the messages it announces come only from a peer that set it.
 * `failed` gets the first session where the bit is clear and such messages came anyway.
 */
function reservedBitHonoured(
  ctx: Ctx,
  bitSet: (s: Session) => boolean,
  announced: (e: Event) => boolean,
  failed: (s: Session, came: Event[]) => CheckOutcome,
  passed: (anySet: boolean) => string,
): CheckOutcome {
  const all = sessions(ctx).filter((s) => s.handshake);
  if (all.length === 0) return noHandshake();
  for (const s of all) {
    if (bitSet(s)) continue;
    const came = incoming(s).filter(announced);
    if (came.length > 0) return failed(s, came);
  }
  return { result: 'pass', detail: passed(all.some(bitSet)) };
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
      const h = mainHandshakeReceived(ctx);
      if ('outcome' in h) return h.outcome;
      const { s, hs } = h;
      if (hs.infoHash.length < 20) return { result: 'fail', detail: `handshake cut after ${hs.infoHash.length} info-hash bytes`, evidence: [hsRef(s)] };
      return bytesEqual(hs.infoHash, s.ourInfoHash)
        ? { result: 'pass', detail: toHex(hs.infoHash), evidence: [hsRef(s)] }
        : { result: 'fail', detail: `sent ${toHex(s.ourInfoHash)}, got ${toHex(hs.infoHash)}`, evidence: [hsRef(s)] };
    },
  },
  {
    id: 'handshake.peer_id',
    bep: 3,
    section: 'handshake',
    title: 'a 20-byte peer id follows the info-hash',
    scenarios: ['main'],
    evaluate(ctx) {
      const h = mainHandshakeReceived(ctx);
      if ('outcome' in h) return h.outcome;
      const { s, hs } = h;
      const id = hs.peerId;
      if (id.length !== 20) return { result: 'fail', detail: `peer id is ${id.length} bytes, then the connection ended`, evidence: [hsRef(s)] };
      const c = decodePeerId(id);
      return { result: 'pass', detail: `${quotedPrintable(id)} (${c.client}${c.version ? ` ${c.version}` : ''})`, evidence: [hsRef(s)] };
    },
  },
  {
    id: 'handshake.extended_bit',
    bep: 10,
    section: 'extension protocol bit',
    title: 'extended messages only from a peer that set reserved bit 20',
    scenarios: ALL,
    evaluate(ctx) {
      return reservedBitHonoured(
        ctx,
        peerSetExtended,
        (e) => e.message.type === 'extended',
        (s, [ext]) => ({ result: 'fail', detail: `reserved bit 20 clear, yet an extended message came (${s.scenario} #${ext!.seq})`, evidence: [hsRef(s), ref(s, ext!)] }),
        (set) => (set ? 'bit 20 set' : 'bit 20 clear and no extended messages'),
      );
    },
  },
  {
    id: 'handshake.fast_bit',
    bep: 6,
    section: 'fast extension bit',
    title: 'fast messages only from a peer that set reserved[7] & 0x04',
    scenarios: ALL,
    evaluate(ctx) {
      return reservedBitHonoured(
        ctx,
        peerSetFast,
        (e) => FAST_TYPES.has(e.message.type),
        (s, fast) => ({
          result: 'fail',
          detail: `fast bit clear, yet ${plural(fast.length, 'fast message')} came (${fast[0]!.message.type} in ${s.scenario})`,
          evidence: [hsRef(s), ...fast.slice(0, 3).map((e) => ref(s, e))],
        }),
        (set) => (set ? 'fast bit set' : 'fast bit clear and no fast messages'),
      );
    },
  },
];

