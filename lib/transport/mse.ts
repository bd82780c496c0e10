import { BtscopeError, DecodeError, TransportError } from '../core/errors.js';
import { bytesEqual } from '../core/bytes.js';
import { PROTOCOL_BYTES } from '../wire/handshake.js';
import type { Frame } from '../core/field.js';
import { CRYPTO_PLAINTEXT, CRYPTO_RC4, MSE_MAX_IA, type EncryptionPolicy } from '../mse/constants.js';
import { mseExchangeFrames } from '../mse/frames.js';
import { MseInitiator, MseResponder, type MseExchangePart, type MseOutcome } from '../mse/handshake.js';
import { req23Hash, type StreamCipher } from '../mse/rc4.js';
import type { DialOptions, Transport, TransportHandlers } from './transport.js';
import { dialTcp } from './tcp.js';

/** `mse_closed` after the peer's Yb came: it read our step 3 and hung up. */
type MseClosed = TransportError & { afterYb?: boolean };

/** What an MSE connection was, for --frames and a key log. */
export interface MseInfo {
  readonly cryptoSelect: number;
  readonly infoHash: Uint8Array;
  readonly secret: Uint8Array;
  readonly exchange: readonly MseExchangePart[];
  /** The handshake's raw bytes each way, from offset 0 (bounded by the spec's limits). */
  readonly sent: Uint8Array;
  readonly received: Uint8Array;
}

/** Handshake bytes kept for --frames: at most the spec's limits plus an IA. */
const KEEP = 2048 + MSE_MAX_IA;

class Recorder {
  private parts: Uint8Array[] = [];
  private n = 0;
  add(b: Uint8Array): void {
    if (this.n >= KEEP) return;
    const take = b.subarray(0, KEEP - this.n);
    this.parts.push(new Uint8Array(take));
    this.n += take.length;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.n);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

export interface MseHandshakeOptions {
  /** The whole exchange must finish within this (ms); `mse_timeout` after. Default 10 s. */
  timeoutMs?: number;
  /** Told once per finished MSE exchange (a key log, --frames). */
  onMse?: (info: MseInfo, transport: Transport) => void;
}

/**
 * A Transport carried inside another: MSE/PE (RC4 both ways, or plaintext
 * after an MSE exchange), or a plaintext connection whose first bytes were
 * read to tell it from MSE. The stream the session sees is the decrypted one.
 */
export class WrappedTransport implements Transport {
  readonly kind: string;
  private handlers: TransportHandlers | undefined;
  private queued: Uint8Array[] = [];
  private ended: { error?: TransportError } | undefined;
  private isPaused = false;

  private constructor(
    private readonly inner: Transport,
    kind: string,
    private readonly encrypt: StreamCipher | undefined,
    private readonly decrypt: StreamCipher | undefined,
    first: Uint8Array,
    readonly mse: MseInfo | undefined,
  ) {
    this.kind = kind === 'plain' ? inner.kind : `${kind}/${inner.kind}`;
    if (first.length) this.queued.push(first);
  }

  get peer(): string {
    return this.inner.peer;
  }
  get cipher(): string | undefined {
    return this.encrypt ? 'RC4' : undefined;
  }
  get remoteHost(): string {
    return this.inner.remoteHost;
  }
  get remotePort(): number {
    return this.inner.remotePort;
  }
  get localHost(): string | undefined {
    return this.inner.localHost;
  }

  /** Take over the inner transport's events (its handlers were the handshake's; now they are ours). */
  static over(inner: Transport, router: Router, kind: string, outcome: { encrypt?: StreamCipher; decrypt?: StreamCipher; rest: Uint8Array; mse?: MseInfo }): WrappedTransport {
    const t = new WrappedTransport(inner, kind, outcome.encrypt, outcome.decrypt, outcome.rest, outcome.mse);
    router.to({
      data: (chunk) => t.deliver(t.decrypt ? t.decrypt.update(chunk) : chunk),
      drain: () => t.handlers?.drain(),
      close: (e) => t.end(e),
    });
    return t;
  }

  private deliver(bytes: Uint8Array): void {
    if (this.handlers && !this.isPaused && this.queued.length === 0) this.handlers.data(bytes);
    else this.queued.push(bytes);
  }

  private end(error?: TransportError): void {
    this.ended = error ? { error } : {};
    if (this.handlers && this.queued.length === 0) this.handlers.close(error);
  }

  private flush(): void {
    while (this.handlers && !this.isPaused && this.queued.length > 0) this.handlers.data(this.queued.shift()!);
    if (this.handlers && this.queued.length === 0 && this.ended) {
      const e = this.ended;
      this.ended = undefined;
      this.handlers.close(e.error);
    }
  }

  setHandlers(h: TransportHandlers): void {
    if (this.handlers) throw new Error('Transport handlers are set once');
    this.handlers = h;
    this.flush();
  }

  write(bytes: Uint8Array, written?: () => void): boolean {
    if (!this.encrypt) return this.inner.write(bytes, written);
    // RC4 makes a new buffer: the caller's may be reused at once.
    const out = this.encrypt.update(bytes);
    written?.();
    return this.inner.write(out);
  }

  cork(): void {
    this.inner.cork();
  }
  uncork(): void {
    this.inner.uncork();
  }
  get writableLength(): number {
    return this.inner.writableLength;
  }
  get needsDrain(): boolean {
    return this.inner.needsDrain;
  }
  pause(): void {
    this.isPaused = true;
    this.inner.pause();
  }
  resume(): void {
    this.isPaused = false;
    this.inner.resume();
    this.flush();
  }
  get paused(): boolean {
    return this.isPaused;
  }
  close(): void {
    this.inner.close();
  }
  get closed(): boolean {
    return this.inner.closed;
  }

  handshakeFrames(): Frame[] {
    return this.mse ? mseExchangeFrames(this.mse.exchange, this.mse.sent, this.mse.received) : [];
  }
}

/** The inner transport's handlers, switchable: first the handshake's, then the wrapper's. */
class Router {
  private target: TransportHandlers | undefined;
  constructor(inner: Transport) {
    inner.setHandlers({
      data: (c) => this.target?.data(c),
      drain: () => this.target?.drain(),
      close: (e) => this.target?.close(e),
    });
  }
  to(h: TransportHandlers): void {
    this.target = h;
  }
}

/** Run a handshake machine over `inner` until it is done, failed, timed out or closed. */
function drive<T>(
  inner: Transport,
  what: string,
  timeoutMs: number,
  first: Uint8Array | undefined,
  step: (chunk: Uint8Array) => T | undefined,
): Promise<{ result: T; router: Router }> {
  const router = new Router(inner);
  return new Promise((resolve, reject) => {
    let settled = false;
    let got = 0;
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      inner.close();
      reject(e);
    };
    const timer = setTimeout(
      () => fail(new TransportError('mse_timeout', `${what} not finished within ${timeoutMs} ms (${got} bytes came)`)),
      timeoutMs,
    );
    router.to({
      data: (chunk) => {
        if (settled) return;
        got += chunk.length;
        try {
          const r = step(chunk);
          if (r !== undefined) {
            settled = true;
            clearTimeout(timer);
            resolve({ result: r, router });
          }
        } catch (e) {
          fail(e instanceof DecodeError ? Object.assign(new DecodeError(e.code, e.offset, `${e.path}: ${e.message} (at byte ${e.offset})`, e.path), { cause: e }) : (e as Error));
        }
      },
      drain: () => {},
      close: (e) =>
        fail(
          e ??
            Object.assign(new TransportError('mse_closed', `the peer closed the connection during ${what} after ${got} bytes${got === 0 ? ' (it may not speak MSE, or refuse this torrent)' : ''}`), {
              afterYb: got >= 96,
            }),
        ),
    });
    if (first) {
      const r = (() => {
        try {
          return step(first);
        } catch (e) {
          fail(e as Error);
          return undefined;
        }
      })();
      if (r !== undefined && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ result: r, router });
      }
    }
  });
}

const info = (o: MseOutcome, sent: Recorder, received: Recorder): MseInfo => ({
  cryptoSelect: o.cryptoSelect,
  infoHash: o.infoHash,
  secret: o.secret,
  exchange: o.exchange,
  sent: sent.bytes(),
  received: received.bytes(),
});

/**
 * MSE as the dialling side (A) over a connected transport: offers `provide`
 * (RC4 and/or plaintext), resolves with the transport that carries the
 * stream once the peer's crypto_select is in.
 */
export async function mseInitiate(inner: Transport, o: MseHandshakeOptions & { infoHash: Uint8Array; provide: number }): Promise<WrappedTransport> {
  const m = new MseInitiator({ infoHash: o.infoHash, provide: o.provide });
  const sent = new Recorder();
  const received = new Recorder();
  const step1 = m.start();
  sent.add(step1);
  inner.write(step1);
  const { result, router } = await drive(inner, 'the MSE handshake', o.timeoutMs ?? 10_000, undefined, (chunk) => {
    received.add(chunk);
    const s = m.push(chunk);
    if (s.send) {
      sent.add(s.send);
      inner.write(s.send);
    }
    return s.done;
  });
  const t = WrappedTransport.over(inner, router, 'mse', {
    ...(result.encrypt ? { encrypt: result.encrypt } : {}),
    ...(result.decrypt ? { decrypt: result.decrypt } : {}),
    rest: result.rest,
    mse: info(result, sent, received),
  });
  o.onMse?.(t.mse!, t);
  return t;
}

/**
 * The listening side: a connection that starts with the BitTorrent handshake
 * prefix (19, "BitTorrent protocol") is plaintext (refused under `require`);
 * anything else is taken as MSE step 1, answered for the torrents `infoHashes`
 * names, RC4 chosen when offered (plaintext only when policy allows).
 */
export async function acceptEncryption(
  inner: Transport,
  o: MseHandshakeOptions & { policy: EncryptionPolicy; infoHashes: () => Iterable<Uint8Array> },
): Promise<Transport> {
  let mode: 'sniff' | 'plain' | 'mse' = 'sniff';
  let sniffed = new Uint8Array(0);
  let responder: MseResponder | undefined;
  const sent = new Recorder();
  const received = new Recorder();
  const select = (provide: number): number => {
    if (provide & CRYPTO_RC4 && o.policy !== 'plaintext') return CRYPTO_RC4;
    if (provide & CRYPTO_PLAINTEXT && o.policy !== 'require') return CRYPTO_PLAINTEXT;
    return 0;
  };
  const { result, router } = await drive(inner, 'the first bytes', o.timeoutMs ?? 10_000, undefined, (chunk): { plain: Uint8Array } | { mse: MseOutcome } | undefined => {
    if (mode === 'sniff') {
      const b = new Uint8Array(sniffed.length + chunk.length);
      b.set(sniffed);
      b.set(chunk, sniffed.length);
      sniffed = b;
      const n = Math.min(b.length, 20);
      const prefix = new Uint8Array(20);
      prefix[0] = 19;
      prefix.set(PROTOCOL_BYTES, 1);
      if (bytesEqual(b.subarray(0, n), prefix.subarray(0, n))) {
        if (n < 20) return undefined;
        if (o.policy === 'require') throw new DecodeError('plaintext_refused', 0, 'a plaintext BitTorrent handshake, and encryption is required', 'first bytes');
        mode = 'plain';
        return { plain: b };
      }
      if (o.policy === 'plaintext') throw new DecodeError('bad_protocol', 0, 'not a BitTorrent handshake (MSE encryption is off: --encryption plaintext)', 'first bytes');
      mode = 'mse';
      responder = new MseResponder({
        findInfoHash: (req23, secret) => {
          for (const h of o.infoHashes()) if (bytesEqual(req23Hash(h, secret), req23)) return h;
          return undefined;
        },
        select,
      });
      chunk = b;
    }
    received.add(chunk);
    const s = responder!.push(chunk);
    if (s.send) {
      sent.add(s.send);
      inner.write(s.send);
    }
    return s.done ? { mse: s.done } : undefined;
  });
  if ('plain' in result) return WrappedTransport.over(inner, router, 'plain', { rest: result.plain });
  const r = result.mse;
  const t = WrappedTransport.over(inner, router, 'mse', {
    ...(r.encrypt ? { encrypt: r.encrypt } : {}),
    ...(r.decrypt ? { decrypt: r.decrypt } : {}),
    rest: r.rest,
    mse: info(r, sent, received),
  });
  o.onMse?.(t.mse!, t);
  return t;
}

/**
 * How a tool dials under a policy: `plaintext` plain TCP; `require` MSE with
 * RC4 only; `prefer` MSE offering RC4 and plaintext, and, if the peer will not
 * speak MSE at all, plaintext again on a new connection.
 */
export function encryptedDialer(
  policy: EncryptionPolicy,
  infoHash: Uint8Array,
  o: MseHandshakeOptions & { dial?: (host: string, port: number, d: DialOptions) => Promise<Transport> } = {},
): (host: string, port: number, d: DialOptions) => Promise<Transport> {
  const dial = o.dial ?? dialTcp;
  if (policy === 'plaintext') return dial;
  const attempt = async (host: string, port: number, d: DialOptions): Promise<Transport> => {
    const inner = await dial(host, port, d);
    return mseInitiate(inner, { ...o, infoHash, provide: policy === 'require' ? CRYPTO_RC4 : CRYPTO_RC4 | CRYPTO_PLAINTEXT, ...(d.timeoutMs ? { timeoutMs: d.timeoutMs } : {}) });
  };
  return async (host, port, d) => {
    try {
      return await attempt(host, port, d);
    } catch (e) {
      const code = (e as BtscopeError).code;
      if (code === 'aborted') throw e;
      // The peer answered Ya, then hung up on our step 3: once in about 256 exchanges libtorrent 2.0
      // does, when S starts with a zero byte (its HASH('req3', S) skips the leading zeros). Fresh keys.
      if (code === 'mse_closed' && (e as MseClosed).afterYb) {
        try {
          return await attempt(host, port, d);
        } catch (again) {
          if (policy === 'require' || (again as BtscopeError).code === 'aborted') throw again;
          return dial(host, port, d);
        }
      }
      if (policy === 'require') throw e;
      // The peer does not speak MSE (closed, or silent): try it in plaintext, on a new connection.
      return dial(host, port, d);
    }
  };
}
