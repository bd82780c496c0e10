/**
 * A half-open byte range [start, end) in absolute offsets of the original input
 * (the file, the TCP stream, the UDP payload...). Nested decoders add their base
 * offset so a span always points at the right bytes of what the user gave us.
 */
export interface Span {
  readonly start: number;
  readonly end: number;
}
