import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Tracer } from './engine.js';
import type { StreamSummary } from './types.js';

export interface ProxyOptions {
  listenHost?: string;
  listenPort: number;
  forwardHost: string;
  forwardPort: number;
  /** Close a connection idle this long (ms); 0 = never. */
  idleMs?: number;
  onListening?(port: number): void;
  onClose?(summary: StreamSummary): void;
  onError?(message: string): void;
}

/**
 * The live tracer: a TCP proxy between a client and a peer. Each accepted
 * connection is dialled through to the forward address; the bytes of both
 * directions go to the tracer as they pass (`out` = from the client).
 * Backpressure is kept: a slow side pauses the other.
 */
export function startTraceProxy(tracer: Tracer, opts: ProxyOptions): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect({ host: opts.forwardHost, port: opts.forwardPort });
    sockets.add(client);
    sockets.add(upstream);
    const a = `${client.remoteAddress}:${client.remotePort}`;
    const b = `${opts.forwardHost}:${opts.forwardPort}`;
    const live = tracer.openLiveStream(a.includes(':') && client.remoteFamily === 'IPv6' ? `[${client.remoteAddress}]:${client.remotePort}` : a, b);
    let ended = false;
    const finish = (): void => {
      if (ended) return;
      ended = true;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      opts.onClose?.(live.end());
    };
    const pipe = (from: Socket, to: Socket, dir: 'out' | 'in'): void => {
      from.on('data', (chunk: Buffer) => {
        live.data(dir, new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
      from.on('end', () => to.end());
      from.on('close', finish);
      from.on('error', (e) => {
        opts.onError?.(`${dir === 'out' ? 'client' : 'peer'}: ${e.message}`);
        finish();
      });
      if (opts.idleMs) from.setTimeout(opts.idleMs, finish);
    };
    pipe(client, upstream, 'out');
    pipe(upstream, client, 'in');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listenPort, opts.listenHost ?? '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      opts.onListening?.(port);
      resolve({
        server,
        port,
        close: () =>
          new Promise<void>((res) => {
            for (const s of sockets) s.destroy();
            server.close(() => res());
          }),
      });
    });
  });
}
