import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { encode, type Encodable } from '../../bencode/encode.js';
import { unmapIpv4 } from '../compact-peers.js';
import { readAnnounceParams } from '../http-announce.js';
import { readHttpRequestEssentials } from '../http-message.js';
import type { SwarmRegistry } from './swarm.js';
import { newTrackerStats, type TrackerConfig } from './config.js';

/** Longest request head read: a BEP 48 scrape of maxScrape (1000) hashes is a 60 KB request line. */
const MAX_HEAD = 80 * 1024;
/** A head must be complete this long after its first byte; an idle kept-alive connection closes after this too. */
const HEAD_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 5_000;
const REASONS: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error' };

export interface HttpTrackerServer {
  readonly server: TcpServer;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * The HTTP front end (BEP 3, 7, 23, 48): GET .../announce and .../scrape, on a
 * plain TCP server that reads request heads itself (no body is ever read) and
 * writes each answer in one write: a tracker's requests are one line of
 * interest, and node:http's per-request objects cost it several times the
 * work of the announce. Keep-alive and pipelining as RFC 9112 says; anything
 * that is not an HTTP/1.x request gets a 400 and the connection closes.
 * Answers are always bencoded dicts with `text/plain`, failures as `failure reason`.
 */
export function createHttpTracker(swarms: SwarmRegistry, config: TrackerConfig): HttpTrackerServer {
  const server = createTcpServer({ noDelay: true });
  server.maxConnections = 20_000;
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    const remote = socket.remoteAddress ?? '0.0.0.0';
    let pending: Buffer | undefined;
    let headStarted = 0;
    const send = (status: number, body: Uint8Array, keepAlive: boolean): void => {
      const head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nCache-Control: no-cache\r\n${keepAlive ? '' : 'Connection: close\r\n'}\r\n`;
      const out = Buffer.allocUnsafe(head.length + body.length);
      out.write(head, 0, 'latin1');
      out.set(body, head.length);
      if (keepAlive) socket.write(out);
      // Closed once the answer is with the kernel, as opentracker does, not half-closed waiting for
      // the client's FIN: on loopback that wait halved the rate of one-request connections.
      else socket.write(out, () => socket.destroy());
    };
    const refuse = (status: number, reason: string): void => {
      send(status, encode({ 'failure reason': reason }), false);
      socket.removeAllListeners('data');
    };
    socket.on('data', (chunk: Buffer) => {
      const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      let pos = 0;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n', pos, 'latin1');
        if (end < 0 || end - pos > MAX_HEAD) {
          if (buf.length - pos > MAX_HEAD) return refuse(431, `request head over ${MAX_HEAD} bytes`);
          if (pos < buf.length) {
            pending = Buffer.from(buf.subarray(pos));
            headStarted ||= Date.now();
            if (Date.now() - headStarted > HEAD_TIMEOUT_MS) socket.destroy();
          }
          return;
        }
        headStarted = 0;
        const req = readHttpRequestEssentials(buf.toString('latin1', pos, end));
        pos = end + 4;
        if (!req) return refuse(400, 'not an HTTP/1.x request');
        // A tracker reads no body: answer, and close rather than read past it.
        const answer = answerHttpTracker(req.method, req.target, remote, swarms, config);
        const keepAlive = req.keepAlive && !req.hasBody;
        send(answer.status, answer.body, keepAlive);
        if (!keepAlive) return void socket.removeAllListeners('data');
      }
    });
  });
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * The request handler alone, for a server made elsewhere (an HTTPS server with
 * its own certificate: `https.createServer({ key, cert }, httpTrackerHandler(...))`).
 */
export function httpTrackerHandler(swarms: SwarmRegistry, config: TrackerConfig): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const { status, body } = answerHttpTracker(req.method ?? 'GET', req.url ?? '/', req.socket.remoteAddress ?? '0.0.0.0', swarms, config);
    res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
    res.end(body);
  };
}

/** An answer: the HTTP status and the bencoded body. */
export interface HttpTrackerAnswer {
  readonly status: number;
  readonly body: Uint8Array;
}

const reply = (status: number, body: Encodable): HttpTrackerAnswer => ({ status, body: encode(body) });

/**
 * The answer to one request, whichever server read it: `method` and `target`
 * from the request line, `remoteAddress` the connection's source.
 */
export function answerHttpTracker(method: string, target: string, remoteAddress: string, swarms: SwarmRegistry, config: TrackerConfig): HttpTrackerAnswer {
  try {
    return answer(method, target, remoteAddress, swarms, config);
  } catch (e) {
    return reply(500, { 'failure reason': `internal error: ${(e as Error).message}` });
  }
}

function answer(method: string, target: string, remoteAddress: string, swarms: SwarmRegistry, config: TrackerConfig): HttpTrackerAnswer {
  const stats = config.stats ?? newTrackerStats();
  const now = config.now ?? Date.now;
  const q = target.indexOf('?');
  const path = q >= 0 ? target.slice(0, q) : target;
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (method !== 'GET') return reply(405, { 'failure reason': `method ${method} not allowed` });
  const query = readAnnounceParams(target);
  if (last === 'scrape') {
    const hashes = query.infoHashes;
    if (hashes.some((h) => h.length !== 20)) return reply(200, { 'failure reason': 'info_hash must be 20 bytes' });
    const files = new Map<Uint8Array, Encodable>();
    const list = hashes.length > 0 ? hashes.slice(0, config.maxScrape) : [...swarms.values()].slice(0, config.maxScrape).map((s) => s.infoHash);
    for (const h of list) files.set(h, swarms.scrape(h));
    stats.scrapes++;
    return reply(200, { files, flags: { min_request_interval: config.minInterval } });
  }
  if (last !== 'announce') return reply(404, { 'failure reason': `no such path ${path}: use /announce or /scrape` });
  if (!query.infoHash || query.infoHash.length !== 20) {
    return reply(200, { 'failure reason': query.infoHash ? `info_hash is ${query.infoHash.length} bytes, must be 20` : 'missing info_hash' });
  }
  if (!query.peerId || query.peerId.length !== 20) return reply(200, { 'failure reason': query.peerId ? 'peer_id must be 20 bytes' : 'missing peer_id' });
  if (query.port === undefined || query.port < 0 || query.port > 65535) return reply(200, { 'failure reason': 'missing or invalid port' });
  const ip = unmapIpv4(remoteAddress);
  const numwant = Math.min(Math.max(query.numwant ?? config.defaultNumwant, 0), config.maxNumwant);
  const result = swarms.announce(
    {
      infoHash: query.infoHash,
      peerId: query.peerId,
      ip,
      port: query.port,
      uploaded: query.uploaded ?? 0,
      downloaded: query.downloaded ?? 0,
      left: query.left ?? 0,
      ...(query.event === 'started' || query.event === 'completed' || query.event === 'stopped' || query.event === 'paused' ? { event: query.event } : {}),
      numwant,
    },
    now(),
  );
  if ('error' in result) {
    stats.refused++;
    return reply(200, { 'failure reason': result.error });
  }
  stats.httpAnnounces++;
  config.onAnnounce?.({ protocol: 'http', infoHash: query.infoHash, peerId: query.peerId, ip, port: query.port, event: query.event });
  const body: Record<string, Encodable> = {
    interval: config.interval,
    'min interval': config.minInterval,
    complete: result.complete,
    incomplete: result.incomplete,
    downloaded: result.downloaded,
  };
  // The requester's own family first, then the other one up to numwant (BEP 7).
  const own = result.swarm.table(result.family);
  const other = result.swarm.table(result.family === 4 ? 6 : 4);
  const ownSkip = result.skip;
  if (query.compact === false) {
    // BEP 3 dict model; `peer id` left out when the client says no_peer_id=1.
    const list = own.peers(numwant, ownSkip, !query.noPeerId);
    list.push(...other.peers(numwant - list.length, -1, !query.noPeerId));
    body['peers'] = list.map((p) => (p.peerId ? { ip: p.ip, 'peer id': p.peerId, port: p.port } : { ip: p.ip, port: p.port }));
  } else {
    const mine = own.sample(numwant, ownSkip);
    const theirs = other.sample(numwant - mine.length / own.stride, -1);
    const [v4, v6] = result.family === 4 ? [mine, theirs] : [theirs, mine];
    body['peers'] = v4;
    if (v6.length > 0 || result.family === 6) body['peers6'] = v6;
  }
  return reply(200, body);
}
