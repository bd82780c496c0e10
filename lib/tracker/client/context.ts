import type { LookupFunction } from 'node:net';
import type { Frame } from '../../core/field.js';
import { TrackerError } from '../errors.js';
import type { TrackerStep } from '../types.js';

/** Options every tracker exchange takes. */
export interface TrackerRequestOptions {
  /** Caps the whole attempt (all retransmissions, redirects and steps). */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Each frame as it is sent or received, with the step it belongs to. */
  onFrame?(frame: Frame, step: TrackerStep): void;
  /** BEP 15 first retransmission timeout (15 s, doubling); tests shorten it. */
  udpRetransmitMs?: number;
  /** Largest answer read (HTTP body after gzip, default 8 MiB). */
  maxResponseBytes?: number;
  /** Redirects followed at most (default 5). */
  maxRedirects?: number;
  /** Peers decoded at most (default 10000). */
  maxPeers?: number;
  /**
   * Extra trusted CA certificate(s), PEM, for https:// trackers (a self-signed
   * tracker's own cert). Added to Node's root store, never replacing it;
   * certificates are always verified.
   */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /**
   * Name resolution for the tracker's host, in `dns.lookup`'s callback shape
   * (default: `dns.lookup`, the system resolver). Used for HTTP, HTTPS and UDP.
   */
  lookup?: LookupFunction;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/**
 * One attempt's shared state: the deadline, the frames so far, and a signal that
 * fires on timeout or on the caller's abort.
 */
export class Exchange {
  readonly frames: Frame[] = [];
  readonly started = performance.now();
  readonly deadline: number;
  readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort: () => void;
  timedOut = false;

  constructor(readonly opts: TrackerRequestOptions, readonly peer: string) {
    this.deadline = this.started + Math.max(0, opts.timeoutMs);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error('timeout'));
    }, Math.max(0, opts.timeoutMs));
    this.onAbort = () => this.controller.abort(opts.signal?.reason);
    if (opts.signal?.aborted) this.controller.abort(opts.signal.reason);
    else opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  elapsedMs(): number {
    return performance.now() - this.started;
  }

  remainingMs(): number {
    return Math.max(0, this.deadline - performance.now());
  }

  /** Record a frame with its step, direction and time since the start. */
  frame(frame: Frame, step: TrackerStep, direction: 'sent' | 'received', extra: Record<string, string | number> = {}): Frame {
    const f: Frame = {
      ...frame,
      meta: { ...(frame.meta ?? {}), step, dir: direction, peer: this.peer, t: `+${this.elapsedMs().toFixed(1)}ms`, ...extra },
    };
    this.frames.push(f);
    this.opts.onFrame?.(f, step);
    return f;
  }

  /** The error for an abort: our timeout, or the caller's signal. */
  abortError(step: TrackerStep, what: string): TrackerError {
    if (this.timedOut) {
      return new TrackerError('timeout', `timed out after ${(this.opts.timeoutMs / 1000).toFixed(1)} s in the ${step} step (${what})`, step, this.frames);
    }
    return new TrackerError('aborted', `aborted in the ${step} step`, step, this.frames);
  }

  fail(code: ConstructorParameters<typeof TrackerError>[0], message: string, step: TrackerStep, options?: { cause?: unknown; offset?: number }): TrackerError {
    return new TrackerError(code, message, step, this.frames, options);
  }

  close(): void {
    clearTimeout(this.timer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** Map a socket or DNS error to a tracker error code. */
export function networkErrorCode(e: unknown): 'dns' | 'refused' | 'unreachable' | 'network' | 'tls' {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (isTlsError(e)) return 'tls';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_NODATA' || code === 'EAI_FAIL') return 'dns';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ENETUNREACH' || code === 'EHOSTUNREACH' || code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') return 'unreachable';
  return 'network';
}

/** OpenSSL verify codes (DEPTH_ZERO_SELF_SIGNED_CERT, ...), Node's ERR_TLS_* / ERR_SSL_*, handshake EPROTO. */
function isTlsError(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException | undefined;
  const code = err?.code ?? '';
  if (/^ERR_(TLS|SSL)_/.test(code)) return true;
  if (/CERT|SIGNED|ISSUER|LEAF_SIGNATURE|UNABLE_TO_GET_CRL|HOSTNAME_MISMATCH/.test(code)) return true;
  return code === 'EPROTO' && /ssl|tls/i.test(err?.message ?? '');
}

export function describeNetworkError(e: unknown, host: string): string {
  const err = e as NodeJS.ErrnoException;
  switch (networkErrorCode(e)) {
    case 'tls':
      return `TLS with ${host} failed: ${err.message}${err.code && !err.message?.includes(err.code) ? ` (${err.code})` : ''}${/SELF_SIGNED|ISSUER|LEAF_SIGNATURE/.test(err.code ?? '') ? '; the certificate is not trusted (give its CA with --ca FILE, or NODE_EXTRA_CA_CERTS)' : ''}`;
    case 'dns':
      return `DNS: cannot resolve ${host} (${err.code})`;
    case 'refused':
      return `connection refused by ${host}`;
    case 'unreachable':
      return `${host} unreachable (${err.code})`;
    default:
      return `${err.message ?? String(e)}${err.code && !err.message?.includes(err.code) ? ` (${err.code})` : ''}`;
  }
}
