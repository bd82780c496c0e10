import { toHex } from '../../core/bytes.js';
import type { Message } from '../../wire/messages.js';
import { OUR_EXTENSION_IDS, bencodeOf, dictGet, extendedFrom, plural, ref, type Event, type Session } from '../view.js';
import type { CheckDef, CheckOutcome, EvalContext } from '../types.js';

/** BEP 11: at most 50 added and 50 dropped per message, at most one message a minute. */
export const PEX_MAX_PEERS = 50;
export const PEX_MIN_INTERVAL_MS = 60_000;

interface Pex {
  readonly e: Event;
  readonly error?: string;
  /** Compact addresses by key, as hex, IPv4 (6 bytes) and IPv6 (18 bytes) alike. */
  readonly added: string[];
  readonly dropped: string[];
}

const KEYS = [
  { key: 'added', size: 6, list: 'added' },
  { key: 'dropped', size: 6, list: 'dropped' },
  { key: 'added6', size: 18, list: 'added' },
  { key: 'dropped6', size: 18, list: 'dropped' },
] as const;

function pexMessages(s: Session): Pex[] {
  return extendedFrom(s, OUR_EXTENSION_IDS.ut_pex).map((e) => {
    const d = bencodeOf(e.message.payload, e.offset + 6);
    const added: string[] = [];
    const dropped: string[] = [];
    if ('error' in d) return { e, added, dropped, error: `${d.error.message} (${d.error.code} at byte ${d.error.offset})` };
    if (d.root.kind !== 'dict') return { e, added, dropped, error: `a ${d.root.kind}, not a dict` };
    for (const k of KEYS) {
      const v = dictGet(d.root, k.key);
      if (!v) continue;
      if (v.kind !== 'str') return { e, added, dropped, error: `${k.key} is a ${v.kind}, not a byte string` };
      const b = v.bytes();
      if (b.length % k.size !== 0) return { e, added, dropped, error: `${k.key} is ${b.length} bytes, not a multiple of ${k.size}` };
      const into = k.list === 'added' ? added : dropped;
      for (let i = 0; i < b.length; i += k.size) into.push(toHex(b.subarray(i, i + k.size)));
      if (k.list === 'added') {
        const flags = dictGet(d.root, `${k.key}.f`);
        if (flags && (flags.kind !== 'str' || flags.bytes().length !== b.length / k.size)) {
          return { e, added, dropped, error: `${k.key}.f has ${flags.kind === 'str' ? flags.bytes().length : 'no'} flag bytes for ${b.length / k.size} peers` };
        }
      }
    }
    return { e, added, dropped };
  });
}

function withPex(f: (s: Session, pex: Pex[]) => CheckOutcome) {
  return (ctx: EvalContext<Message>): CheckOutcome => {
    const s = ctx.session('main');
    if (!s?.handshake) return { result: 'skip', detail: 'no handshake on the main connection' };
    const pex = pexMessages(s);
    if (pex.length === 0) return { result: 'skip', detail: `no ut_pex message in ${s.end?.at ?? 0} ms` };
    return f(s, pex);
  };
}

export const UT_PEX_CHECKS: readonly CheckDef<Message>[] = [
  {
    id: 'ut_pex.wellformed',
    bep: 11,
    section: 'ut_pex',
    title: 'ut_pex messages are dicts of compact addresses with matching flags',
    scenarios: ['main'],
    evaluate: withPex((s, pex) => {
      const bad = pex.find((p) => p.error);
      if (bad) return { result: 'fail', detail: bad.error!, evidence: [ref(s, bad.e)] };
      return { result: 'pass', detail: `${plural(pex.length, 'message')} well-formed` };
    }),
  },
  {
    id: 'ut_pex.rate',
    bep: 11,
    section: 'ut_pex',
    title: 'no more than one ut_pex message a minute',
    scenarios: ['main'],
    evaluate: withPex((s, pex) => {
      for (let i = 1; i < pex.length; i++) {
        const gap = pex[i]!.e.at - pex[i - 1]!.e.at;
        if (gap < PEX_MIN_INTERVAL_MS) return { result: 'fail', detail: `two ut_pex messages ${gap} ms apart`, evidence: [ref(s, pex[i - 1]!.e), ref(s, pex[i]!.e)] };
      }
      return { result: 'pass', detail: `${plural(pex.length, 'message')} in ${s.end?.at ?? 0} ms` };
    }),
  },
  {
    id: 'ut_pex.limits',
    bep: 11,
    section: 'ut_pex',
    title: 'at most 50 added and 50 dropped peers per message',
    scenarios: ['main'],
    evaluate: withPex((s, pex) => {
      for (const p of pex) {
        if (p.added.length > PEX_MAX_PEERS || p.dropped.length > PEX_MAX_PEERS) {
          return { result: 'fail', detail: `${p.added.length} added, ${p.dropped.length} dropped in one message`, evidence: [ref(s, p.e)] };
        }
      }
      return { result: 'pass', detail: `largest: ${Math.max(...pex.map((p) => p.added.length))} added, ${Math.max(...pex.map((p) => p.dropped.length))} dropped` };
    }),
  },
  {
    id: 'ut_pex.no_overlap',
    bep: 11,
    section: 'ut_pex',
    title: 'no peer both added and dropped in one message',
    scenarios: ['main'],
    evaluate: withPex((s, pex) => {
      for (const p of pex) {
        const both = p.added.filter((a) => p.dropped.includes(a));
        if (both.length > 0) return { result: 'fail', detail: `${plural(both.length, 'peer')} both added and dropped (${both[0]})`, evidence: [ref(s, p.e)] };
      }
      return { result: 'pass', detail: 'added and dropped are disjoint' };
    }),
  },
];
