import type { Diagnostic } from '../core/diagnostic.js';
import type { Frame } from '../core/field.js';

export type TraceTransport = 'tcp' | 'utp' | 'udp' | 'proxy';
/** `http`: plain HTTP, not a tracker's (recognised by content: lib/trace/http-stream.ts). */
export type TraceProtocol = 'peer' | 'http-tracker' | 'http' | 'udp-tracker' | 'dht' | 'lsd' | 'unknown';
/** `out` travels from the connection's initiator (or the querier), `in` towards it. */
export type TraceDirection = 'out' | 'in';

/**
 * One decoded message on the wire, as the tracer reports it. `type` is the
 * key the summary counts by (peer wire names as lib/wire's union: `piece`,
 * `extended`..., `handshake`; DHT `dht.get_peers`...; trackers
 * `udp-tracker.announce_request`...). `offset`/`end` are stream offsets for
 * TCP and uTP (the peer wire byte stream of that direction), and file offsets
 * for datagrams. `frame()` builds the annotated frame only when asked.
 */
export interface TraceEvent {
  readonly time: number;
  readonly stream: number;
  readonly direction: TraceDirection;
  readonly src: string;
  readonly dst: string;
  readonly transport: TraceTransport;
  readonly protocol: TraceProtocol;
  readonly type: string;
  readonly text: string;
  readonly offset: number;
  readonly end: number;
  /** Capture frame numbers of the packets that carried it. */
  readonly packets: readonly number[];
  /** Key values for --json. */
  readonly fields: Readonly<Record<string, unknown>>;
  readonly diagnostics?: readonly Diagnostic[];
  frame(): Frame;
}

export interface DirectionSummary {
  bytes: number;
  messages: number;
  undecodedBytes: number;
  gaps: number;
  gapBytes: number;
  /**
   * Each capture gap in this direction's peer wire (the first GAP_LIST_LIMIT):
   * where it was, its length, and how many captured bytes after it were passed
   * over before frames were found again (`relocked` false: never before the next gap or the end).
   */
  gapList?: GapReport[];
  peerId?: string;
  client?: string;
  reserved?: string[];
  /** Extended handshake `v`. */
  extendedClient?: string;
  /** Extension names from the extended handshake `m`. */
  extensions?: string[];
}

export interface GapReport {
  readonly offset: number;
  readonly length: number;
  readonly skipped: number;
  readonly relocked: boolean;
}

/** Gaps listed per direction; `gaps` and `gapBytes` count them all. */
export const GAP_LIST_LIMIT = 1000;

export interface StreamSummary {
  readonly id: number;
  readonly transport: TraceTransport;
  protocol: TraceProtocol;
  /** What the stream was: `peer wire`, `encrypted (MSE/PE)`, `unknown (probably encrypted)`, `HTTP tracker`, `http (not a tracker)`... */
  label: string;
  /** The initiator's endpoint (first sender when the start was not captured). */
  readonly a: string;
  readonly b: string;
  readonly firstTime: number;
  lastTime: number;
  /** The connection's start (SYN / uTP SYN) was captured. */
  fromStart: boolean;
  infoHash?: string;
  readonly out: DirectionSummary;
  readonly in: DirectionSummary;
}

export interface Transaction {
  readonly protocol: 'dht' | 'udp-tracker' | 'http-tracker';
  readonly stream: number;
  readonly kind: string;
  readonly client: string;
  readonly server: string;
  readonly transactionId: string;
  readonly requestTime?: number;
  readonly responseTime?: number;
  /** Round trip in seconds when both were seen. */
  readonly rtt?: number;
  readonly outcome: string;
}

export interface TraceSummary {
  readonly packets: number;
  readonly firstTime: number;
  readonly lastTime: number;
  readonly streams: StreamSummary[];
  /** Peer wire message counts by type (handshake included). */
  readonly messages: Record<string, number>;
  /** Other protocols' message counts (dht.*, udp-tracker.*, http-tracker.*, http.* (not a tracker), lsd). */
  readonly other: Record<string, number>;
  readonly transactions: Transaction[];
  /** Packets not traced and why. */
  readonly skipped: Record<string, number>;
  readonly diagnostics: Diagnostic[];
}
