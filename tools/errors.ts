import { BtscopeError, DecodeError, TransportError, UsageError } from '../lib/core/errors.js';
import { EXIT } from './exit-codes.js';

/** The one place errors become a message line and an exit code. */
export function describeError(e: unknown): { message: string; exitCode: number } {
  if (e instanceof DecodeError) return { message: e.describe(), exitCode: EXIT.badInput };
  if (e instanceof UsageError) return { message: e.message, exitCode: EXIT.usage };
  if (e instanceof TransportError) return { message: `${e.message} (${e.code})`, exitCode: EXIT.network };
  if (e instanceof BtscopeError) return { message: `${e.message} (${e.code})`, exitCode: EXIT.failure };
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
    return { message: (e as Error).message, exitCode: EXIT.usage };
  }
  if (code === 'EPIPE') return { message: 'output closed', exitCode: EXIT.ok };
  const err = e as Error;
  return { message: `internal error: ${err?.stack ?? String(e)}`, exitCode: EXIT.internal };
}
