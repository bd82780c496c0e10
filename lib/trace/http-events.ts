import { toHex } from '../core/bytes.js';
import { httpAnnounceReplyText, httpAnnounceText } from './lines.js';
import { traceEvent } from './events.js';
import type { HttpTrackerEvent } from './http-stream.js';
import type { TraceContext } from './context.js';
import type { StreamSummary, TraceDirection } from './types.js';

type HttpRequest = Extract<HttpTrackerEvent, { kind: 'request' }>;
type HttpResponse = Extract<HttpTrackerEvent, { kind: 'response' }>;

interface Described {
  type: string;
  text: string;
  fields: Record<string, unknown>;
}

/** How a stream of plain HTTP (no tracker exchange seen on it) is labelled, in lines and summaries. */
export const NOT_A_TRACKER = 'http (not a tracker)';

/**
 * One HTTP request, response or undecodable message of a TCP connection whose
 * requests travel `reqDir`: counted, and an event when events are wanted. A
 * tracker exchange (protocol `http-tracker`) also lists its round trip as a
 * transaction and makes the stream an HTTP tracker's; plain HTTP (protocol
 * `http`) is shown as `http (not a tracker)`.
 */
export function httpTrackerEvent(ctx: TraceContext, s: StreamSummary, reqDir: TraceDirection, e: HttpTrackerEvent): void {
  const dir: TraceDirection = e.kind === 'request' ? reqDir : reqDir === 'out' ? 'in' : 'out';
  if (e.kind !== 'error' && e.what !== 'http') {
    s.protocol = 'http-tracker';
    s.label = 'HTTP tracker';
  }
  let d: Described;
  if (e.kind !== 'error' && e.what === 'http') d = describePlain(e, ctx.now);
  else if (e.kind === 'request') d = describeRequest(s, e);
  else if (e.kind === 'response') {
    d = describeResponse(e, ctx.now);
    ctx.transactions.add({
      protocol: 'http-tracker',
      stream: s.id,
      kind: e.what,
      client: s[reqDir === 'out' ? 'a' : 'b'],
      server: s[reqDir === 'out' ? 'b' : 'a'],
      transactionId: '-',
      ...(e.requestTime !== undefined ? { requestTime: e.requestTime, rtt: ctx.now - e.requestTime } : {}),
      responseTime: ctx.now,
      outcome: e.announce?.failureReason ? `failure: ${e.announce.failureReason}` : e.announce ? `${e.announce.peers.length} peers` : e.scrape ? `${e.scrape.files.length} files` : `HTTP ${e.status}`,
    });
  } else if (s.protocol === 'http-tracker') d = { type: 'http-tracker.error', text: `http-tracker undecodable: ${e.error.message}`, fields: { code: e.error.code, at: e.error.offset } };
  else d = { type: 'http.error', text: `${NOT_A_TRACKER} undecodable: ${e.error.message}`, fields: { code: e.error.code, at: e.error.offset } };
  ctx.countOther(d.type);
  s[dir].messages++;
  if (!ctx.wantsEvents) return;
  const frame = 'frame' in e ? e.frame : () => ({ title: 'HTTP (undecodable)', bytes: new Uint8Array(0), base: e.offset, fields: [] });
  const protocol = d.type.startsWith('http-tracker.') ? 'http-tracker' : 'http';
  ctx.emit(traceEvent(s, dir, protocol, { time: ctx.now, ...d, offset: e.offset, end: e.end, packets: [ctx.currentPacket], frame }));
}

/** Plain HTTP: the request line, or the status and round trip. */
function describePlain(e: HttpRequest | HttpResponse, now: number): Described {
  if (e.kind === 'request') return { type: 'http.request', text: `${NOT_A_TRACKER} ${e.method} ${e.target.slice(0, 100)}`, fields: { method: e.method, target: e.target } };
  const rtt = e.requestTime !== undefined ? now - e.requestTime : undefined;
  return {
    type: 'http.response',
    text: `${NOT_A_TRACKER} response status=${e.status}${rtt !== undefined ? ` rtt=${(rtt * 1000).toFixed(1)}ms` : ''}`,
    fields: { status: e.status, ...(rtt !== undefined ? { rtt } : {}) },
  };
}

function describeRequest(s: StreamSummary, e: HttpRequest): Described {
  if (e.query?.infoHash) s.infoHash ??= toHex(e.query.infoHash);
  return {
    type: `http-tracker.${e.what}_request`,
    text: e.what === 'scrape' ? `http-tracker scrape ${e.target.slice(0, 100)}` : httpAnnounceText(e.query, e.target),
    fields: { target: e.target, ...(e.query?.infoHash ? { infoHash: toHex(e.query.infoHash) } : {}), ...(e.query?.event ? { event: e.query.event } : {}) },
  };
}

function describeResponse(e: HttpResponse, now: number): Described {
  const rtt = e.requestTime !== undefined ? now - e.requestTime : undefined;
  let text: string;
  if (e.announce) text = httpAnnounceReplyText(e.announce);
  else if (e.scrape) text = `http-tracker scrape reply files=${e.scrape.files.length}`;
  else text = `http-tracker response status=${e.status}${e.error ? ` (${e.error.message})` : ''}`;
  if (rtt !== undefined) text += ` rtt=${(rtt * 1000).toFixed(1)}ms`;
  return {
    type: `http-tracker.${e.what}_response`,
    text,
    fields: { status: e.status, ...(e.announce ? { peers: e.announce.peers.length, interval: e.announce.interval } : {}), ...(rtt !== undefined ? { rtt } : {}) },
  };
}
