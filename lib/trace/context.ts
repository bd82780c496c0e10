import type { Diagnostic } from '../core/diagnostic.js';
import type { TransactionMatcher } from './transactions.js';
import type { StreamSummary, TraceEvent, TraceProtocol, TraceTransport } from './types.js';

/**
 * What the parts of the tracer (TCP flows, UDP dispatch, peer streams) share:
 * the clock and packet number of the packet being traced, the summary's
 * counters and stream list, the transaction matcher, and the event sink.
 * The Tracer implements it.
 */
export interface TraceContext {
  /** Events are wanted (otherwise nothing builds event objects: summary only). */
  readonly wantsEvents: boolean;
  readonly keepPieceBlocks: boolean;
  readonly onBlock: ((index: number, begin: number, block: Uint8Array, stream: number) => void) | undefined;
  /** Capture time of the packet being traced. */
  readonly now: number;
  /** Capture frame number of the packet being traced. */
  readonly currentPacket: number;
  readonly transactions: TransactionMatcher;
  /** Count a peer wire message by type. */
  count(type: string): void;
  /** Count another protocol's message (dht.*, udp-tracker.*, http-tracker.*, lsd.*, utp.packets). */
  countOther(type: string): void;
  /** Count a packet not traced, by reason. */
  skip(reason: string): void;
  note(d: Diagnostic): void;
  emit(e: TraceEvent): void;
  newStream(transport: TraceTransport, protocol: TraceProtocol, a: string, b: string, label: string, fromStart: boolean): StreamSummary;
}
