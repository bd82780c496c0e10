import { describe, expect, it } from 'vitest';
import { PexSender, listenAddressOf, pexContacts, pexFlagsOf, pexKey, PEX_MAX_ADDED, PEX_MAX_DROPPED, type PexContact, type PexPeerView } from '../../lib/engine/pex-sender.js';
import { PEX_FLAGS } from '../../lib/wire/ut-pex.js';

const view = (v: Partial<PexPeerView> & { ip: string }): PexPeerView => ({ remotePort: 50000, outgoing: false, seed: false, holepunch: false, ...v });
const contact = (ip: string, port: number, flags = 0): PexContact => ({ ip, port, flags });
const many = (n: number, third: number): PexContact[] => Array.from({ length: n }, (_, i) => contact(`10.0.${third}.${i}`, 6881));

describe('listen address of a connected peer (BEP 11 lists where peers accept connections)', () => {
  it.each([
    ['we dialled it: the address we dialled', view({ ip: '10.0.0.1', remotePort: 6881, outgoing: true, listenPort: 9999 }), { ip: '10.0.0.1', port: 6881 }],
    ['it dialled us: its IP with the p of its extended handshake', view({ ip: '10.0.0.1', remotePort: 51234, listenPort: 6882 }), { ip: '10.0.0.1', port: 6882 }],
    ['it dialled us and sent no p: unknown', view({ ip: '10.0.0.1', remotePort: 51234 }), undefined],
    ['p = 0: unknown', view({ ip: '10.0.0.1', listenPort: 0 }), undefined],
    ['p past 65535: unknown', view({ ip: '10.0.0.1', listenPort: 70000 }), undefined],
    ['a v4 peer on a dual-stack socket is IPv4', view({ ip: '::ffff:10.0.0.1', listenPort: 6881 }), { ip: '10.0.0.1', port: 6881 }],
    ['IPv6', view({ ip: '2001:db8::5', outgoing: true, remotePort: 6881 }), { ip: '2001:db8::5', port: 6881 }],
  ])('%s', (_n, v, want) => {
    expect(listenAddressOf(v)).toEqual(want);
  });
});

describe('added.f flags', () => {
  it.each([
    ['incoming leecher', {}, 0],
    ['seed', { seed: true }, PEX_FLAGS.seed],
    ['we dialled it: reachable', { outgoing: true }, PEX_FLAGS.reachable],
    ['holepunch offered', { holepunch: true }, PEX_FLAGS.holepunch],
    ['all three', { seed: true, outgoing: true, holepunch: true }, 0x1a],
  ])('%s', (_n, v, flags) => {
    const f = pexFlagsOf(view({ ip: '1.2.3.4', ...v }));
    expect(f).toBe(flags);
    expect(f & PEX_FLAGS.encryption).toBe(0); // btscope does not do MSE: never "prefers encryption"
    expect(f & PEX_FLAGS.utp).toBe(0); // nor uTP
  });
});

describe('pexContacts: what one recipient may be told', () => {
  const a = view({ ip: '10.0.0.1', remotePort: 6881, outgoing: true, seed: true });
  const b = view({ ip: '10.0.0.2', remotePort: 40000, listenPort: 6882 });
  const noPort = view({ ip: '10.0.0.3', remotePort: 40001 });
  const r = view({ ip: '10.0.0.9', remotePort: 40002, listenPort: 6889 });

  it('every other peer with a known listen address, reachable ones first, with flags', () => {
    expect(pexContacts([b, noPort, r, a], r, new Set())).toEqual([contact('10.0.0.1', 6881, PEX_FLAGS.seed | PEX_FLAGS.reachable), contact('10.0.0.2', 6882, 0)]);
  });

  it('never the recipient: not its connection, not another connection to its listen address', () => {
    const rAgain = view({ ip: '10.0.0.9', remotePort: 6889, outgoing: true });
    const list = pexContacts([a, r, rAgain], r, new Set());
    expect(list.map((c) => pexKey(c.ip, c.port))).toEqual(['10.0.0.1:6881']);
  });

  it('never our own listen address (a connection to ourselves)', () => {
    const me = view({ ip: '127.0.0.1', remotePort: 7000, outgoing: true });
    expect(pexContacts([a, me], r, new Set(['127.0.0.1:7000'])).map((c) => c.port)).toEqual([6881]);
  });

  it('one entry per address; flags of its connections OR-ed', () => {
    const aIn = view({ ip: '10.0.0.1', remotePort: 40005, listenPort: 6881, holepunch: true });
    expect(pexContacts([aIn, a], r, new Set())).toEqual([contact('10.0.0.1', 6881, PEX_FLAGS.seed | PEX_FLAGS.reachable | PEX_FLAGS.holepunch)]);
  });
});

describe('PexSender: added / dropped since the last message (BEP 11)', () => {
  it('first message adds everything; no change, no message', () => {
    const s = new PexSender();
    const now = [contact('10.0.0.1', 1, 0x10), contact('10.0.0.2', 2, 0x02)];
    expect(s.next(now)).toEqual({ added: [{ ip: '10.0.0.1', port: 1, flags: 0x10 }, { ip: '10.0.0.2', port: 2, flags: 0x02 }], dropped: [], added6: [], dropped6: [] });
    expect(s.next(now)).toBeUndefined();
    expect(s.next([...now].reverse())).toBeUndefined();
    expect(s.next([])).toEqual({ added: [], dropped: [{ ip: '10.0.0.1', port: 1 }, { ip: '10.0.0.2', port: 2 }], added6: [], dropped6: [] });
    expect(s.next([])).toBeUndefined();
    expect(s.toldCount).toBe(0);
  });

  it('nothing connected, nothing sent', () => {
    expect(new PexSender().next([])).toBeUndefined();
  });

  it('a peer that left and another that came: one dropped, one added, never the same peer in both', () => {
    const s = new PexSender();
    s.next([contact('10.0.0.1', 1), contact('10.0.0.2', 2)]);
    const m = s.next([contact('10.0.0.2', 2), contact('10.0.0.3', 3)])!;
    expect(m.added.map((p) => p.ip)).toEqual(['10.0.0.3']);
    expect(m.dropped.map((p) => p.ip)).toEqual(['10.0.0.1']);
  });

  it('a peer that left and came back between two messages is neither added nor dropped', () => {
    const s = new PexSender();
    s.next([contact('10.0.0.1', 1)]);
    expect(s.next([contact('10.0.0.1', 1)])).toBeUndefined();
    expect(s.knows('10.0.0.1', 1)).toBe(true);
  });

  it(`at most ${PEX_MAX_ADDED} added a message: the rest come in the next`, () => {
    const s = new PexSender();
    const all = many(120, 1);
    const sizes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const m = s.next(all);
      if (!m) break;
      sizes.push(m.added.length);
    }
    expect(sizes).toEqual([50, 50, 20]);
    expect(s.toldCount).toBe(120);
  });

  it(`at most ${PEX_MAX_DROPPED} dropped a message, and none of them re-added while pending`, () => {
    const s = new PexSender();
    const first = many(50, 1);
    const second = many(50, 2);
    s.next(first);
    s.next([...first, ...second]);
    expect(s.toldCount).toBe(100);
    const m1 = s.next([])!;
    expect([m1.added.length, m1.dropped.length]).toEqual([0, 50]);
    const m2 = s.next([])!;
    expect([m2.added.length, m2.dropped.length]).toEqual([0, 50]);
    expect(s.next([])).toBeUndefined();
    const seen = new Set([...m1.dropped, ...m2.dropped].map((p) => pexKey(p.ip, p.port)));
    expect(seen.size).toBe(100);
  });

  it('IPv4 and IPv6 counted together against the limits; IPv6 goes in added6 / dropped6', () => {
    const s = new PexSender({ maxAdded: 3, maxDropped: 3 });
    const v6 = [contact('2001:db8::1', 1, 0x10), contact('2001:db8::2', 2)];
    const m = s.next([contact('10.0.0.1', 1), ...v6, contact('10.0.0.2', 2)])!;
    expect(m.added.map((p) => p.ip)).toEqual(['10.0.0.1']);
    expect(m.added6).toEqual([{ ip: '2001:db8::1', port: 1, flags: 0x10 }, { ip: '2001:db8::2', port: 2, flags: 0 }]);
    const n = s.next([])!;
    expect(n.dropped.length + n.dropped6.length).toBe(3);
    expect(n.dropped6.map((p) => p.ip)).toEqual(['2001:db8::1', '2001:db8::2']);
    expect(n.added.length + n.added6.length).toBe(0);
  });

  it('random sequences: limits hold, added and dropped disjoint, and the recipient ends up knowing exactly the connected set', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const s = new PexSender();
    const pool = many(200, 3);
    for (let round = 0; round < 300; round++) {
      const current = pool.filter(() => rnd() < 0.4);
      const m = s.next(current);
      if (m) {
        const added = [...m.added, ...m.added6].map((p) => pexKey(p.ip, p.port));
        const dropped = [...m.dropped, ...m.dropped6].map((p) => pexKey(p.ip, p.port));
        expect(added.length).toBeLessThanOrEqual(PEX_MAX_ADDED);
        expect(dropped.length).toBeLessThanOrEqual(PEX_MAX_DROPPED);
        expect(added.filter((k) => dropped.includes(k))).toEqual([]);
        expect(added.length + dropped.length).toBeGreaterThan(0);
      }
      // Let the recipient catch up with this set (bounded: 200 peers need at most 8 messages).
      for (let i = 0; i < 8 && s.next(current); i++);
      expect(s.next(current)).toBeUndefined();
      expect(s.toldCount).toBe(current.length);
      for (const c of current) expect(s.knows(c.ip, c.port)).toBe(true);
    }
  });
});
