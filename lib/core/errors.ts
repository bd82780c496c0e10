/**
 * One error hierarchy for all of btscope (after undici's errors module): every
 * error carries a stable string `code`; decode errors add the absolute byte
 * `offset` where decoding stopped, the field `path` and, where useful, the
 * partial result. The CLI maps these to messages and exit codes in one place.
 */
export class BtscopeError extends Error {
  override name = 'BtscopeError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Codes shared by the decoders (libtorrent's bdecode error enum, extended). */
export type DecodeErrorCode =
  | 'unexpected_eof'
  | 'expected_digit'
  | 'expected_colon'
  | 'expected_value'
  | 'expected_string'
  | 'unexpected_end'
  | 'depth_exceeded'
  | 'limit_exceeded'
  | 'overflow'
  | 'trailing_bytes'
  | 'non_canonical'
  | 'invalid_value'
  | 'missing_field'
  | 'wrong_type'
  | 'bad_length'
  | 'bad_magic'
  | 'not_bencode'
  | (string & {});

export class DecodeError extends BtscopeError {
  override name = 'DecodeError';
  constructor(
    code: DecodeErrorCode,
    readonly offset: number,
    message: string,
    readonly path: string = '',
    readonly partial?: unknown,
  ) {
    super(code, message);
  }

  /** The one-line form the CLI prints: what, where. */
  describe(): string {
    const at = this.path ? `${this.path} ` : '';
    return `${this.message} (${at}at byte ${this.offset}, ${this.code})`;
  }
}

/** A network or protocol failure talking to a tracker or peer. */
export class TransportError extends BtscopeError {
  override name = 'TransportError';
}

/** Bad command-line usage; the CLI exits with 2. */
export class UsageError extends BtscopeError {
  override name = 'UsageError';
  constructor(message: string) {
    super('usage', message);
  }
}
