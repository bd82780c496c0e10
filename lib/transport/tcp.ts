import * as net from 'node:net';
import { BtscopeError, TransportError } from '../core/errors.js';
import { formatEndpoint } from '../core/address.js';
import type { DialOptions, Transport, TransportHandlers, TransportListener } from './transport.js';

/** Stable codes for socket failures (ECONNREFUSED and friends). */
function socketErrorCode(e: NodeJS.ErrnoException): string {
  if (e.code === 'ECONNREFUSED') return 'connect_refused';
  if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return 'connection_reset';
  return 'socket_error';
}

/** A connected TCP socket as a Transport. */
export class TcpTransport implements Transport {
  readonly kind = 'tcp';
  readonly peer: string;
  readonly remoteHost: string;
  readonly remotePort: number;
  private handlers: TransportHandlers | undefined;
  private ended = false;
  private failure: TransportError | undefined;

  constructor(private readonly socket: net.Socket) {
    this.remoteHost = socket.remoteAddress ?? '?';
    this.remotePort = socket.remotePort ?? 0;
    this.peer = formatEndpoint(this.remoteHost, this.remotePort);
    socket.setNoDelay(true);
    // Errors before setHandlers are kept for it; 'close' always follows 'error'.
    socket.on('error', (e: NodeJS.ErrnoException) => {
      this.failure ??= new TransportError(socketErrorCode(e), e.message, { cause: e });
    });
    socket.on('close', () => this.finish());
  }

  get localHost(): string | undefined {
    return this.socket.localAddress;
  }

  setHandlers(h: TransportHandlers): void {
    if (this.handlers) throw new Error('Transport handlers are set once');
    this.handlers = h;
    this.socket.on('data', (chunk: Buffer) => h.data(chunk));
    this.socket.on('drain', () => h.drain());
    if (this.socket.destroyed) this.finish();
  }

  private finish(): void {
    if (this.ended || !this.handlers) return;
    this.ended = true;
    this.handlers.close(this.failure);
  }

  write(bytes: Uint8Array, written?: () => void): boolean {
    if (this.socket.destroyed) {
      written?.();
      return false;
    }
    return written ? this.socket.write(bytes, () => written()) : this.socket.write(bytes);
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  get needsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  get paused(): boolean {
    return this.socket.isPaused();
  }

  close(): void {
    this.socket.destroy();
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }
}

/**
 * Open a TCP connection. Rejects with a TransportError: `connect_timeout`,
 * `connect_refused`, `connection_reset`, `socket_error`, or `aborted`.
 */
export function dialTcp(host: string, port: number, o: DialOptions = {}): Promise<TcpTransport> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(new BtscopeError('aborted', `${formatEndpoint(host, port)}: aborted`));
    let socket: net.Socket;
    try {
      socket = net.connect({ host, port });
    } catch (e) {
      // A port out of range or a malformed host throws at once.
      return reject(new TransportError('socket_error', `${formatEndpoint(host, port)}: ${(e as Error).message}`, { cause: e }));
    }
    const done = (e?: Error): void => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('connect', onConnect);
      if (e) {
        socket.destroy();
        reject(e);
      } else resolve(new TcpTransport(socket));
    };
    const onConnect = (): void => done();
    const onError = (e: NodeJS.ErrnoException): void => done(new TransportError(socketErrorCode(e), e.message, { cause: e }));
    const onAbort = (): void => done(new BtscopeError('aborted', `${formatEndpoint(host, port)}: aborted`));
    const timer = setTimeout(() => done(new TransportError('connect_timeout', `TCP connect did not complete within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', onConnect);
    socket.once('error', onError);
    o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface ListenOptions {
  host?: string;
  /** 0 = a free port. */
  port?: number;
}

/**
 * Listen on TCP; each accepted connection is handed over as a Transport.
 * Rejects with `listen` (port busy, not allowed, out of range) naming the address.
 */
export async function listenTcp(o: ListenOptions, onTransport: (t: TcpTransport) => void): Promise<TransportListener> {
  const host = o.host ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    onTransport(new TcpTransport(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new BtscopeError('listen', `cannot listen on ${formatEndpoint(host, o.port ?? 0)}: ${e.message}`, { cause: e })));
    try {
      server.listen(o.port ?? 0, host, () => resolve());
    } catch (e) {
      reject(new BtscopeError('listen', `cannot listen on ${formatEndpoint(host, o.port ?? 0)}: ${(e as Error).message}`, { cause: e }));
    }
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    kind: 'tcp',
    host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
