/**
 * A half-open byte range [start, end) in absolute offsets of the original input
 * (the file, the TCP stream, the UDP payload...). Nested decoders add their base
 * offset so a span always points at the right bytes of what the user gave us.
 */
export interface Span {
  readonly start: number;
  readonly end: number;
}

export function span(start: number, end: number): Span {
  return { start, end };
}

export function spanLength(s: Span): number {
  return s.end - s.start;
}

/** The smallest span covering both. */
export function spanUnion(a: Span, b: Span): Span {
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

export function shiftSpan(s: Span, by: number): Span {
  return { start: s.start + by, end: s.end + by };
}
