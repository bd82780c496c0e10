import * as net from 'node:net';

/**
 * A TCP relay on 127.0.0.1 (port 0) to `target`, with the target -> client
 * direction slowed to about `bytesPerSecond`: makes a fast loopback seeder
 * slow enough to kill a download mid-way or to let a hostile peer get its
 * share of requests. `close()` ends every connection.
 */
export interface ThrottleProxy {
  readonly port: number;
  close(): Promise<void>;
}

export async function startThrottleProxy(target: { host: string; port: number }, bytesPerSecond: number): Promise<ThrottleProxy> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };
  const server = net.createServer((client) => {
    track(client);
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      upstream.pause();
      client.write(chunk);
      const t = setTimeout(() => upstream.resume(), Math.ceil((chunk.length / bytesPerSecond) * 1000));
      t.unref();
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
