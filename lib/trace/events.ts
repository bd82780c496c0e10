import type { Diagnostic } from '../core/diagnostic.js';
import type { Frame } from '../core/field.js';
import type { StreamSummary, TraceDirection, TraceEvent, TraceProtocol } from './types.js';

/** What a decoder knows about one message; the stream supplies the rest of the event. */
export interface EventParts {
  readonly time: number;
  /** Key into the summary's counts and the --type filter (`piece`, `dht.ping`, `udp-tracker.error`...). */
  readonly type: string;
  /** The one-line text. */
  readonly text: string;
  /** Stream offsets (TCP, uTP, proxy) or file offsets (datagrams). */
  readonly offset: number;
  readonly end: number;
  readonly packets: readonly number[];
  readonly fields: Readonly<Record<string, unknown>>;
  readonly diagnostics?: readonly Diagnostic[];
  /** The annotated frame, built only when asked for. */
  readonly frame: () => Frame;
  /** Where it was found, added to the frame's meta after `stream` (built with the frame). */
  readonly where?: () => Record<string, string | number>;
}

/**
 * The one place a TraceEvent is put together: endpoints by direction (`out`
 * travels from the stream's `a`), transport from the stream, and the frame's
 * meta naming the stream. Called only when events are wanted.
 */
export function traceEvent(s: StreamSummary, direction: TraceDirection, protocol: TraceProtocol, p: EventParts): TraceEvent {
  const frame = p.frame;
  const where = p.where;
  return {
    time: p.time,
    stream: s.id,
    direction,
    src: direction === 'out' ? s.a : s.b,
    dst: direction === 'out' ? s.b : s.a,
    transport: s.transport,
    protocol,
    type: p.type,
    text: p.text,
    offset: p.offset,
    end: p.end,
    packets: p.packets,
    fields: p.fields,
    ...(p.diagnostics && p.diagnostics.length ? { diagnostics: p.diagnostics } : {}),
    frame: () => withMeta(frame(), where ? { stream: s.id, ...where() } : { stream: s.id }),
  };
}

function withMeta(f: Frame, meta: Record<string, string | number>): Frame {
  return { ...f, meta: { ...(f.meta ?? {}), ...meta } };
}
