import { BtscopeError, DecodeError, TransportError, UsageError } from '../lib/core/errors.js';
import { EXIT } from './exit-codes.js';

/** What an errno means to someone who gave a path or a port (Node's own text names the syscall, not the problem). */
const ERRNO_TEXT: Record<string, { text: string; exitCode: number }> = {
  ENOENT: { text: 'no such file or folder', exitCode: EXIT.usage },
  EISDIR: { text: 'is a directory (a file was expected)', exitCode: EXIT.usage },
  ENOTDIR: { text: 'a part of the path is not a directory', exitCode: EXIT.usage },
  EACCES: { text: 'permission denied', exitCode: EXIT.usage },
  EPERM: { text: 'operation not permitted', exitCode: EXIT.usage },
  EROFS: { text: 'read-only file system', exitCode: EXIT.usage },
  EEXIST: { text: 'already exists', exitCode: EXIT.usage },
  ELOOP: { text: 'too many symbolic links', exitCode: EXIT.usage },
  ENAMETOOLONG: { text: 'name too long', exitCode: EXIT.usage },
  ENOSPC: { text: 'no space left on the device', exitCode: EXIT.failure },
  EDQUOT: { text: 'disk quota exceeded', exitCode: EXIT.failure },
  EMFILE: { text: 'too many open files', exitCode: EXIT.failure },
  EADDRINUSE: { text: 'the port is in use (pick another, or 0 for any free port)', exitCode: EXIT.usage },
  EADDRNOTAVAIL: { text: 'no such address on this host', exitCode: EXIT.usage },
  ERR_SOCKET_BAD_PORT: { text: 'not a port (0 to 65535)', exitCode: EXIT.usage },
};

/** Messages are one line: the CLI's contract is one line on stderr per failure. */
function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, '; ').trim();
}

/** A peer that closes before its handshake when it was sent ours: the usual reason, said (BEP 3: it drops a hash it does not serve). */
function peerHint(e: TransportError): string {
  if (e.code === 'closed' && /before sending a handshake/.test(e.message)) {
    return '; the peer likely does not serve this info-hash (peers close on a handshake for a torrent they do not have)';
  }
  return '';
}

/** The one place errors become a message line and an exit code. */
export function describeError(e: unknown): { message: string; exitCode: number; code: string } {
  if (e instanceof DecodeError) return { message: oneLine(e.describe()), exitCode: EXIT.badInput, code: e.code };
  if (e instanceof UsageError) return { message: oneLine(e.message), exitCode: EXIT.usage, code: e.code };
  if (e instanceof TransportError) return { message: oneLine(`${e.message}${peerHint(e)} (${e.code})`), exitCode: EXIT.network, code: e.code };
  if (e instanceof BtscopeError && e.code === 'listen') {
    // A port we were told to listen on: busy, privileged or out of range is the command line's fault.
    const cause = (e.cause as NodeJS.ErrnoException | undefined)?.code;
    const known = cause ? ERRNO_TEXT[cause] : undefined;
    if (known) return { message: oneLine(`${e.message.replace(/:[^:]*$/, '')}: ${known.text} (${cause})`), exitCode: known.exitCode, code: cause! };
  }
  if (e instanceof BtscopeError) return { message: oneLine(`${e.message} (${e.code})`), exitCode: EXIT.failure, code: e.code };
  const errno = e as (NodeJS.ErrnoException & { address?: string; port?: number }) | undefined;
  const code = errno?.code;
  if (code === 'EPIPE') return { message: 'output closed', exitCode: EXIT.ok, code: 'EPIPE' };
  const known = code ? ERRNO_TEXT[code] : undefined;
  if (known) {
    const where = errno!.path ?? (errno!.port !== undefined ? `${errno!.address ?? ''}:${errno!.port}` : undefined);
    const what = where ? `${where}: ${errno!.syscall ? `cannot ${errno!.syscall}: ` : ''}` : '';
    return { message: oneLine(`${what}${known.text} (${code})`), exitCode: known.exitCode, code: code! };
  }
  const err = e as Error;
  return { message: `internal error: ${err?.stack ?? String(e)}`, exitCode: EXIT.internal, code: 'internal' };
}

/** A TransportError's line as a tool lists it among several peers' failures. */
export function peerFailureText(e: TransportError): string {
  return `${e.message}${peerHint(e)} (${e.code})`;
}

/** What `--json` prints on stdout when a run fails before the tool printed its own document. */
export function errorJson(e: unknown): { ok: false; error: string; code: string; exitCode: number } {
  const d = describeError(e);
  return { ok: false, error: d.exitCode === EXIT.internal ? `internal error: ${(e as Error)?.message ?? String(e)}` : d.message, code: d.code, exitCode: d.exitCode };
}
