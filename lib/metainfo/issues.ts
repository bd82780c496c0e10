import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import type { Span } from '../core/span.js';

/** Collects the soft findings of one parse (Wireshark's expert info), in input order of discovery. */
export class Issues {
  readonly list: Diagnostic[] = [];
  error(code: string, message: string, span: Span): void {
    this.list.push(diagnostic(code, 'error', message, span));
  }
  warn(code: string, message: string, span: Span): void {
    this.list.push(diagnostic(code, 'warning', message, span));
  }
  note(code: string, message: string, span: Span): void {
    this.list.push(diagnostic(code, 'note', message, span));
  }
}
