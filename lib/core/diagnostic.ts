import type { Span } from './span.js';

/**
 * A soft finding attached to a byte span (Wireshark's "expert info"): decoding
 * goes on, the user is told. Hard errors are DecodeErrors instead.
 */
export type Severity = 'error' | 'warning' | 'note';

export interface Diagnostic {
  /** Stable id, e.g. `unsorted_keys`, `unsafe_path`, `trailing_bytes`. */
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  readonly span: Span;
}

export function diagnostic(code: string, severity: Severity, message: string, span: Span): Diagnostic {
  return { code, severity, message, span };
}
