import type { Transaction } from './types.js';

/** The datagram protocols whose requests are matched to their answers by transaction id. */
export type MatchedProtocol = 'dht' | 'udp-tracker';

/** A request still waiting for its answer. */
export interface PendingRequest {
  readonly protocol: MatchedProtocol;
  /** Request time (capture seconds). */
  readonly time: number;
  /** What was asked: the DHT method (`ping`, `get_peers`...) or the tracker action (`connect`, `announce`...). */
  readonly kind: string;
  readonly stream: number;
  readonly client: string;
  readonly server: string;
  /** The transaction id as hex: KRPC `t` (BEP 5), the 32-bit transaction_id (BEP 15). */
  readonly id: string;
}

export interface TransactionLimits {
  /** Transactions kept for the summary (the rest are counted). */
  maxTransactions: number;
  /** Open requests remembered per protocol while waiting for their answer (the oldest is forgotten first). */
  maxPending: number;
}

/**
 * Requests and answers paired by (client, server, transaction id), as KRPC
 * (BEP 5) and the UDP tracker protocol (BEP 15) pair them; completed pairs
 * (and, at the end, unanswered requests) become the summary's transactions.
 * Memory is bounded by the limits, not by the capture.
 */
export class TransactionMatcher {
  readonly list: Transaction[] = [];
  /** Transactions not kept (past maxTransactions). */
  dropped = 0;
  private readonly pending: Record<MatchedProtocol, Map<string, PendingRequest>> = { dht: new Map(), 'udp-tracker': new Map() };

  constructor(private readonly limits: TransactionLimits) {}

  /** A request seen: remember it until its answer comes (a repeated id replaces the older request). */
  request(q: PendingRequest): void {
    const open = this.pending[q.protocol];
    if (open.size >= this.limits.maxPending) open.delete(open.keys().next().value!);
    open.set(key(q.client, q.server, q.id), q);
  }

  /** Whether a request from `client` to `server` with this id waits for its answer. */
  isOpen(protocol: MatchedProtocol, client: string, server: string, id: string): boolean {
    return this.pending[protocol].has(key(client, server, id));
  }

  /** The request an answer from `server` to `client` answers, no longer open; undefined when none was seen. */
  take(protocol: MatchedProtocol, client: string, server: string, id: string): PendingRequest | undefined {
    const open = this.pending[protocol];
    const k = key(client, server, id);
    const q = open.get(k);
    if (q) open.delete(k);
    return q;
  }

  /** Record a request and its answer, seen at `time` on stream `stream`. */
  answered(q: PendingRequest, stream: number, time: number, outcome: string): void {
    const rtt = time - q.time;
    this.add({ protocol: q.protocol, stream, kind: q.kind, client: q.client, server: q.server, transactionId: q.id, requestTime: q.time, responseTime: time, rtt, outcome });
  }

  /** A transaction complete in itself (an HTTP tracker request and its response). */
  add(t: Transaction): void {
    if (this.list.length < this.limits.maxTransactions) this.list.push(t);
    else this.dropped++;
  }

  /** The capture ended: every request still open is listed as unanswered (DHT first, then UDP tracker). */
  end(): void {
    for (const open of [this.pending.dht, this.pending['udp-tracker']]) {
      for (const q of open.values()) this.add({ protocol: q.protocol, stream: q.stream, kind: q.kind, client: q.client, server: q.server, transactionId: q.id, requestTime: q.time, outcome: 'no response' });
      open.clear();
    }
  }
}

function key(client: string, server: string, id: string): string {
  return `${client}|${server}|${id}`;
}
