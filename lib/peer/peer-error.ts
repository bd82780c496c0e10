import { TransportError } from '../core/errors.js';
import { DecodeError } from '../core/errors.js';

/**
 * A peer connection failed: connect refused or timed out, the peer broke the
 * protocol, went silent, or closed. `code` is stable (`connect_timeout`,
 * `connect_refused`, `handshake_timeout`, `idle_timeout`, `closed`,
 * `wrong_info_hash`, `bad_protocol`, `limit_exceeded`, `bad_length`,
 * `bad_block`, `rejected`, `timeout`...); `offset` is the byte in the
 * incoming stream where a protocol violation was found.
 */
export class PeerError extends TransportError {
  override name = 'PeerError';
  constructor(
    code: string,
    message: string,
    readonly peer: string,
    readonly offset?: number,
    options?: { cause?: unknown },
  ) {
    super(code, `${peer}: ${message}`, options);
  }

  /** A decode error in the peer's stream, kept with its code and offset. */
  static fromDecode(e: DecodeError, peer: string, what = 'incoming stream'): PeerError {
    return new PeerError(e.code, `${what}: ${e.message} (at byte ${e.offset})`, peer, e.offset, { cause: e });
  }
}

/**
 * Codes where the peer did answer, and the answer was no (wrong data, a
 * refusal, no metadata to give): a tool exits 1 for these ("the answer is
 * no"), and 4 when every peer failed on the network or broke the protocol.
 */
export const ANSWERED_NO_CODES: ReadonlySet<string> = new Set([
  'hash_mismatch',
  'metadata_hash_mismatch',
  'metadata_rejected',
  'no_ut_metadata',
  'no_metadata_size',
  'no_extensions',
]);
