import { describe, expect, it } from 'vitest';
import { TransactionMatcher, type PendingRequest } from '../../lib/trace/transactions.js';

const q = (over: Partial<PendingRequest> = {}): PendingRequest => ({ protocol: 'dht', time: 10, kind: 'ping', stream: 1, client: 'c:1', server: 's:2', id: '6161', ...over });
const matcher = (maxTransactions = 100, maxPending = 100) => new TransactionMatcher({ maxTransactions, maxPending });

describe('TransactionMatcher', () => {
  it('pairs an answer with its request by (client, server, id), once', () => {
    const m = matcher();
    m.request(q());
    expect(m.isOpen('dht', 'c:1', 's:2', '6161')).toBe(true);
    // The answer travels server → client: the caller names the client first either way.
    const got = m.take('dht', 'c:1', 's:2', '6161')!;
    expect(got).toMatchObject({ kind: 'ping', time: 10 });
    expect(m.take('dht', 'c:1', 's:2', '6161')).toBeUndefined();
    m.answered(got, 1, 10.25, 'response');
    expect(m.list).toEqual([{ protocol: 'dht', stream: 1, kind: 'ping', client: 'c:1', server: 's:2', transactionId: '6161', requestTime: 10, responseTime: 10.25, rtt: 0.25, outcome: 'response' }]);
  });

  it.each([
    ['another id', 'dht', 'c:1', 's:2', '6262'],
    ['the reverse pair', 'dht', 's:2', 'c:1', '6161'],
    ['another protocol', 'udp-tracker', 'c:1', 's:2', '6161'],
  ] as const)('no match on %s', (_n, protocol, client, server, id) => {
    const m = matcher();
    m.request(q());
    expect(m.isOpen(protocol, client, server, id)).toBe(false);
    expect(m.take(protocol, client, server, id)).toBeUndefined();
  });

  it('a repeated id replaces the older request (the retry is what gets answered)', () => {
    const m = matcher();
    m.request(q({ time: 1 }));
    m.request(q({ time: 2 }));
    expect(m.take('dht', 'c:1', 's:2', '6161')!.time).toBe(2);
    m.end();
    expect(m.list).toEqual([]);
  });

  it('open requests are bounded per protocol: the oldest is forgotten first', () => {
    const m = matcher(100, 2);
    m.request(q({ id: 'a' }));
    m.request(q({ id: 'b' }));
    m.request(q({ protocol: 'udp-tracker', id: 'x' }));
    m.request(q({ id: 'c' }));
    expect(['a', 'b', 'c'].map((id) => m.isOpen('dht', 'c:1', 's:2', id))).toEqual([false, true, true]);
    expect(m.isOpen('udp-tracker', 'c:1', 's:2', 'x')).toBe(true);
  });

  it('at the end, unanswered requests are listed, DHT before UDP tracker, in request order', () => {
    const m = matcher();
    m.request(q({ protocol: 'udp-tracker', kind: 'connect', id: '00000005' }));
    m.request(q({ id: 'a', kind: 'find_node' }));
    m.request(q({ id: 'b', kind: 'get_peers', stream: 3 }));
    m.end();
    expect(m.list.map((t) => [t.protocol, t.kind, t.transactionId, t.stream, t.outcome, t.rtt])).toEqual([
      ['dht', 'find_node', 'a', 1, 'no response', undefined],
      ['dht', 'get_peers', 'b', 3, 'no response', undefined],
      ['udp-tracker', 'connect', '00000005', 1, 'no response', undefined],
    ]);
    expect(m.isOpen('dht', 'c:1', 's:2', 'a')).toBe(false);
  });

  it('transactions past the limit are counted, not kept', () => {
    const m = matcher(2);
    for (let i = 0; i < 5; i++) m.add({ protocol: 'http-tracker', stream: 1, kind: 'announce', client: 'c', server: 's', transactionId: '-', outcome: 'HTTP 200' });
    expect([m.list.length, m.dropped]).toEqual([2, 3]);
  });
});
