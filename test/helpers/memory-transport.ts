import type { Transport, TransportHandlers } from '../../lib/transport/transport.js';

/**
 * Two connected in-memory Transports (unit tests of what sits above the
 * transport interface): bytes written on one end arrive on the other in a
 * later turn, in order, chunked as written; closing one end closes both.
 */
export function memoryPair(a = '10.0.0.1:6881', b = '10.0.0.2:51413'): [MemoryTransport, MemoryTransport] {
  const x = new MemoryTransport(b);
  const y = new MemoryTransport(a);
  x.other = y;
  y.other = x;
  return [x, y];
}

export class MemoryTransport implements Transport {
  readonly kind = 'memory';
  readonly remoteHost: string;
  readonly remotePort: number;
  readonly localHost = '127.0.0.1';
  other!: MemoryTransport;
  closed = false;
  paused = false;
  /** Every chunk written, in order (what went on the "wire"). */
  readonly written: Uint8Array[] = [];
  private handlers: TransportHandlers | undefined;
  private inbox: Uint8Array[] = [];

  constructor(readonly peer: string) {
    const i = peer.lastIndexOf(':');
    this.remoteHost = peer.slice(0, i);
    this.remotePort = Number(peer.slice(i + 1));
  }

  setHandlers(h: TransportHandlers): void {
    this.handlers = h;
    this.flush();
  }

  write(bytes: Uint8Array, written?: () => void): boolean {
    if (this.closed) {
      written?.();
      return false;
    }
    const copy = new Uint8Array(bytes);
    this.written.push(copy);
    setImmediate(() => {
      this.other.inbox.push(copy);
      this.other.flush();
      written?.();
    });
    return true;
  }

  private flush(): void {
    while (this.handlers && !this.paused && !this.closed && this.inbox.length > 0) this.handlers.data(Buffer.from(this.inbox.shift()!));
  }

  cork(): void {}
  uncork(): void {}
  readonly writableLength = 0;
  readonly needsDrain = false;

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.flush();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.close();
    setImmediate(() => this.other.close());
  }
}
