import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { announce, scrape, clearConnectionIds } from '../../lib/tracker/client/announce.js';
import { TrackerError } from '../../lib/tracker/errors.js';
import { encode } from '../../lib/bencode/encode.js';
import { decodeUdpPacket, encodeUdpMessage, type UdpMessage } from '../../lib/tracker/udp.js';
import type { AnnounceRequest } from '../../lib/tracker/types.js';

const req: AnnounceRequest = { infoHash: new Uint8Array(20).fill(1), peerId: new Uint8Array(20).fill(2), port: 6881, uploaded: 0, downloaded: 0, left: 0 };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
  clearConnectionIds();
});

async function httpTracker(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/announce`;
}

async function udpTracker(handler: (msg: UdpMessage, reply: (b: Uint8Array) => void) => void): Promise<string> {
  const sock: Socket = createSocket('udp4');
  sock.on('message', (m, rinfo) => {
    const msg = decodeUdpPacket(new Uint8Array(m), 0, 'request').message;
    handler(msg, (b) => sock.send(b, rinfo.port, rinfo.address));
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  return `udp://127.0.0.1:${sock.address().port}/announce`;
}

async function failure(p: Promise<unknown>): Promise<TrackerError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TrackerError);
    return e as TrackerError;
  }
  throw new Error('expected the tracker exchange to fail');
}

const body = (status: number, b: Uint8Array | string, headers: Record<string, string> = {}) => (_: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, headers);
  res.end(b);
};

describe('hostile HTTP trackers', () => {
  it('an HTML page: not_bencode, with the frame of what came', async () => {
    const url = await httpTracker(body(200, '<html><body>Welcome to nginx!</body></html>'));
    const e = await failure(announce(url, req, { timeoutMs: 5000 }));
    expect([e.code, e.step]).toEqual(['not_bencode', 'announce']);
    expect(e.message).toMatch(/starts with "<html><body>Welcome/);
    expect(e.frames.map((f) => f.meta!['dir'])).toEqual(['sent', 'received']);
  });

  it('HTTP 404 is http_status; a 400 with a bencoded failure reason is that reason', async () => {
    const e404 = await failure(announce(await httpTracker(body(404, 'Not Found')), req, { timeoutMs: 5000 }));
    expect([e404.code, e404.message]).toEqual(['http_status', 'HTTP 404 Not Found']);
    const e400 = await failure(announce(await httpTracker(body(400, encode({ 'failure reason': 'unregistered torrent' }))), req, { timeoutMs: 5000 }));
    expect([e400.code, e400.message]).toEqual(['failure_reason', 'tracker says: unregistered torrent']);
  });

  it('truncated bencode: bad_response with the offset in the body', async () => {
    const e = await failure(announce(await httpTracker(body(200, 'd8:intervali1800e5:peers12:abc')), req, { timeoutMs: 5000 }));
    expect(e.code).toBe('bad_response');
    expect(e.message).toMatch(/at byte 24 of the body/);
  });

  it('an endless body stops at the size limit, quickly and with bounded memory', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    const url = await httpTracker((_, res) => {
      res.writeHead(200);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    const e = await failure(announce(url, req, { timeoutMs: 10_000, maxResponseBytes: 1024 * 1024 }));
    expect(e.code).toBe('too_large');
    expect(e.message).toMatch(/exceeds the 1048576-byte limit/);
  });

  it('a declared Content-Length over the limit is refused before reading', async () => {
    const url = await httpTracker((_, res) => {
      res.writeHead(200, { 'Content-Length': String(100 * 1024 * 1024) });
      res.write('d');
    });
    const e = await failure(announce(url, req, { timeoutMs: 5000 }));
    expect(e.code).toBe('too_large');
    expect(e.message).toMatch(/declares 104857600 bytes/);
  });

  it('gzip answers are decoded (and said so); a gzip bomb hits the limit', async () => {
    const answer = encode({ interval: 60, peers: Buffer.from('7f0000011ae1', 'hex') });
    const ok = await announce(await httpTracker(body(200, gzipSync(answer), { 'Content-Encoding': 'gzip' })), req, { timeoutMs: 5000 });
    expect(ok.peers).toEqual([{ ip: '127.0.0.1', port: 6881 }]);
    expect(ok.frames[1]!.diagnostics!.map((d) => d.code)).toContain('content_encoding');
    const bomb = gzipSync(Buffer.alloc(20 * 1024 * 1024));
    const e = await failure(announce(await httpTracker(body(200, bomb, { 'Content-Encoding': 'gzip' })), req, { timeoutMs: 5000, maxResponseBytes: 1024 * 1024 }));
    expect(e.code).toBe('too_large');
  });

  it('a huge compact peer list is decoded up to maxPeers', async () => {
    const url = await httpTracker(body(200, encode({ interval: 60, peers: Buffer.alloc(6 * 200_000, 7) })));
    const r = await announce(url, req, { timeoutMs: 10_000, maxPeers: 500 });
    expect(r.peers).toHaveLength(500);
    expect(r.frames[1]!.diagnostics!.map((d) => d.code)).toContain('peer_list_truncated');
  });

  it('redirects are followed, a bounded number of times', async () => {
    const target = await httpTracker(body(200, encode({ interval: 77, peers: '' })));
    const once = await httpTracker((_, res) => {
      res.writeHead(302, { Location: target + '?x=1' });
      res.end();
    });
    const r = await announce(once, req, { timeoutMs: 5000 });
    expect(r.interval).toBe(77);
    expect(r.frames.map((f) => f.title)).toEqual(['HTTP announce request', 'HTTP redirect 302', 'HTTP announce request', 'HTTP announce response']);
    let loop = '';
    loop = await httpTracker((_, res) => {
      res.writeHead(301, { Location: loop });
      res.end();
    });
    const e = await failure(announce(loop, req, { timeoutMs: 5000, maxRedirects: 3 }));
    expect(e.code).toBe('too_many_redirects');
  });

  it('a tracker that never answers times out in the announce step, on time', async () => {
    const url = await httpTracker(() => undefined);
    const t0 = Date.now();
    const e = await failure(announce(url, req, { timeoutMs: 500 }));
    expect([e.code, e.step]).toEqual(['timeout', 'announce']);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a closed port is refused', async () => {
    const url = await httpTracker(() => undefined);
    await cleanups.pop()!();
    const e = await failure(announce(url, req, { timeoutMs: 5000 }));
    expect(e.code).toBe('refused');
  });

  it('an announce URL with no scrape convention cannot be scraped', async () => {
    const e = await failure(scrape('http://127.0.0.1:1/tracker.php', [req.infoHash], { timeoutMs: 1000 }));
    expect([e.code, e.step]).toEqual(['no_scrape_url', 'scrape']);
  });
});

describe('hostile UDP trackers', () => {
  const connectOk = (m: UdpMessage, reply: (b: Uint8Array) => void): boolean => {
    if (m.kind !== 'connect_request') return false;
    reply(encodeUdpMessage({ kind: 'connect_response', transactionId: m.transactionId, connectionId: 42n }));
    return true;
  };

  it('garbage: a 3-byte answer is bad_response with its offset', async () => {
    const url = await udpTracker((_, reply) => reply(new Uint8Array([1, 2, 3])));
    const e = await failure(announce(url, req, { timeoutMs: 3000 }));
    expect([e.code, e.step, e.offset]).toEqual(['bad_response', 'connect', 3]);
  });

  it('a truncated announce answer is bad_response in the announce step', async () => {
    const url = await udpTracker((m, reply) => {
      if (connectOk(m, reply)) return;
      reply(encodeUdpMessage({ kind: 'announce_response', transactionId: m.transactionId, interval: 1, leechers: 0, seeders: 0, peers: [] }).subarray(0, 14));
    });
    const e = await failure(announce(url, req, { timeoutMs: 3000 }));
    expect([e.code, e.step, e.offset]).toEqual(['bad_response', 'announce', 14]);
  });

  it('a wrong transaction id is named as such', async () => {
    const url = await udpTracker((m, reply) => reply(encodeUdpMessage({ kind: 'connect_response', transactionId: (m.transactionId + 1) >>> 0, connectionId: 1n })));
    const e = await failure(announce(url, req, { timeoutMs: 3000 }));
    expect([e.code, e.step]).toEqual(['wrong_transaction_id', 'connect']);
    expect(e.frames[1]!.diagnostics!.map((d) => d.code)).toEqual(['wrong_transaction_id']);
  });

  it('an error packet carries the tracker message', async () => {
    const url = await udpTracker((m, reply) => {
      if (connectOk(m, reply)) return;
      reply(encodeUdpMessage({ kind: 'error', transactionId: m.transactionId, message: 'torrent not registered' }));
    });
    const e = await failure(announce(url, req, { timeoutMs: 3000 }));
    expect([e.code, e.step, e.message]).toEqual(['tracker_error', 'announce', 'tracker error: torrent not registered']);
  });

  it('silence: retransmits at base * 2^n, and the timeout is attributed to the connect step', async () => {
    let seen = 0;
    const url = await udpTracker(() => void seen++);
    const e = await failure(announce(url, req, { timeoutMs: 1000, udpRetransmitMs: 100 }));
    expect([e.code, e.step]).toEqual(['timeout', 'connect']);
    // Sends at 0, 100, 300, 700 ms; the next would be at 1500.
    expect(e.frames.filter((f) => f.meta!['dir'] === 'sent')).toHaveLength(4);
    expect(seen).toBe(4);
  });

  it('connect answered, announce ignored: the timeout is in the announce step', async () => {
    const url = await udpTracker((m, reply) => void connectOk(m, reply));
    const e = await failure(announce(url, req, { timeoutMs: 600, udpRetransmitMs: 200 }));
    expect([e.code, e.step]).toEqual(['timeout', 'announce']);
  });

  it('a full 64 KiB datagram of peers is decoded up to maxPeers', async () => {
    const url = await udpTracker((m, reply) => {
      if (connectOk(m, reply)) return;
      const peers = Array.from({ length: 10_000 }, (_, i) => ({ ip: '10.0.0.1', port: (i % 65535) + 1 }));
      reply(encodeUdpMessage({ kind: 'announce_response', transactionId: m.transactionId, interval: 1, leechers: 0, seeders: 0, peers }));
    });
    const r = await announce(url, req, { timeoutMs: 3000, maxPeers: 1000 });
    expect(r.peers).toHaveLength(1000);
  });

  it('a closed UDP port is refused (ICMP port unreachable), not a timeout', async () => {
    const url = await udpTracker(() => undefined);
    await cleanups.pop()!();
    const e = await failure(announce(url, req, { timeoutMs: 3000, udpRetransmitMs: 1000 }));
    expect([e.code, e.step]).toEqual(['refused', 'connect']);
  });
});
