import { TransportError } from '../core/errors.js';
import type { Frame } from '../core/field.js';
import type { TrackerStep } from './types.js';

/**
 * Why a tracker exchange failed. Stable codes the prober shows in its error column
 * and scripts can match on.
 */
export type TrackerErrorCode =
  | 'timeout'
  | 'dns'
  | 'refused'
  | 'unreachable'
  | 'network'
  | 'tls'
  | 'http_status'
  | 'not_bencode'
  | 'bad_response'
  | 'failure_reason'
  | 'tracker_error'
  | 'wrong_transaction_id'
  | 'wrong_action'
  | 'too_large'
  | 'too_many_redirects'
  | 'bad_url'
  | 'unsupported_scheme'
  | 'no_scrape_url'
  | 'aborted';

/** A failed tracker exchange: the step it failed in and every frame seen until then. */
export class TrackerError extends TransportError {
  override name = 'TrackerError';
  constructor(
    code: TrackerErrorCode,
    message: string,
    readonly step: TrackerStep,
    readonly frames: Frame[] = [],
    options?: { cause?: unknown; offset?: number },
  ) {
    super(code, message, options);
    if (options?.offset !== undefined) this.offset = options.offset;
  }
  /** Byte offset in the answer where decoding failed, when it did. */
  offset?: number;
}
