import { afterEach, describe, expect, it } from 'vitest';
import { dialTcp, listenTcp, type TcpTransport } from '../../lib/transport/tcp.js';
import type { TransportListener } from '../../lib/transport/transport.js';

const listeners: TransportListener[] = [];
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.close()));
});

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

/** A listener whose accepted transports are handed to the test. */
async function listener(): Promise<{ port: number; accepted: Promise<TcpTransport> }> {
  let give!: (t: TcpTransport) => void;
  const accepted = new Promise<TcpTransport>((r) => (give = r));
  const l = await listenTcp({ host: '127.0.0.1', port: 0 }, (t) => give(t));
  listeners.push(l);
  return { port: l.port, accepted };
}

describe('TCP transport', () => {
  it('carries bytes both ways, in order, and names both ends', async () => {
    const { port, accepted } = await listener();
    const client = await dialTcp('127.0.0.1', port);
    const server = await accepted;
    expect(client.kind).toBe('tcp');
    expect(client.peer).toBe(`127.0.0.1:${port}`);
    expect(server.remotePort).toBeGreaterThan(0);
    expect(server.localHost).toBe('127.0.0.1');
    const got: number[] = [];
    const closed = new Promise<unknown>((r) => server.setHandlers({ data: (c) => got.push(...c), drain: () => {}, close: r }));
    client.setHandlers({ data: () => {}, drain: () => {}, close: () => {} });
    let writtenCalled = false;
    client.cork();
    client.write(Uint8Array.of(1, 2, 3));
    client.write(Uint8Array.of(4, 5), () => (writtenCalled = true));
    client.uncork();
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([1, 2, 3, 4, 5]);
    expect(writtenCalled).toBe(true);
    client.close();
    // The peer closing is a close without error.
    expect(await closed).toBeUndefined();
    expect(client.closed).toBe(true);
    // Writing after close hands the buffer back at once.
    let back = false;
    expect(client.write(Uint8Array.of(9), () => (back = true))).toBe(false);
    expect(back).toBe(true);
  });

  it('delivers bytes that arrived before setHandlers, and holds them while paused', async () => {
    const { port, accepted } = await listener();
    const client = await dialTcp('127.0.0.1', port);
    client.setHandlers({ data: () => {}, drain: () => {}, close: () => {} });
    const server = await accepted;
    client.write(Uint8Array.of(7, 7, 7));
    await new Promise((r) => setTimeout(r, 50));
    const got: number[] = [];
    server.pause();
    server.setHandlers({ data: (c) => got.push(...c), drain: () => {}, close: () => {} });
    await new Promise((r) => setTimeout(r, 50));
    expect(server.paused).toBe(true);
    expect(got).toEqual([]);
    server.resume();
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([7, 7, 7]);
    client.close();
  });

  it('refused: connect_refused; a port out of range: a rejection, not a throw', async () => {
    const { port } = await listener();
    await listeners.pop()!.close();
    expect((await errorOf(dialTcp('127.0.0.1', port))).code).toBe('connect_refused');
    expect((await errorOf(dialTcp('127.0.0.1', 99999))).code).toBe('socket_error');
  });

  it('an aborted dial rejects with aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    expect((await errorOf(dialTcp('127.0.0.1', 1, { signal: ac.signal }))).code).toBe('aborted');
  });

  it('a busy port: listen error naming the address', async () => {
    const { port } = await listener();
    const e = await errorOf(listenTcp({ host: '127.0.0.1', port }, () => {}));
    expect(e.code).toBe('listen');
    expect(e.message).toContain(`127.0.0.1:${port}`);
  });

  it('closing the listener closes the transports it accepted', async () => {
    const l = await listener();
    const client = await dialTcp('127.0.0.1', l.port);
    const closed = new Promise<unknown>((r) => client.setHandlers({ data: () => {}, drain: () => {}, close: () => r('closed') }));
    await l.accepted;
    await listeners.pop()!.close();
    expect(await closed).toBe('closed');
  });
});
