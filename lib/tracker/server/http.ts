import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { encode, type Encodable } from '../../bencode/encode.js';
import { unmapIpv4 } from '../compact-peers.js';
import { readAnnounceParams } from '../http-announce.js';
import type { SwarmRegistry } from './swarm.js';
import { newTrackerStats, type TrackerConfig } from './config.js';

/**
 * The HTTP front end (BEP 3, 7, 23, 48): GET .../announce and .../scrape.
 * Answers are always bencoded dicts with `text/plain`, failures as `failure reason`.
 */
export function createHttpTracker(swarms: SwarmRegistry, config: TrackerConfig): Server {
  // A BEP 48 scrape of maxScrape (1000) hashes is a 60 KB request line.
  const server = createServer({ maxHeaderSize: 80 * 1024 }, httpTrackerHandler(swarms, config));
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.keepAliveTimeout = 5_000;
  return server;
}

/**
 * The request handler alone, for a server made elsewhere (an HTTPS server with
 * its own certificate: `https.createServer({ key, cert }, httpTrackerHandler(...))`).
 */
export function httpTrackerHandler(swarms: SwarmRegistry, config: TrackerConfig): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    try {
      handle(req, res, swarms, config);
    } catch (e) {
      reply(res, 500, { 'failure reason': `internal error: ${(e as Error).message}` });
    }
  };
}

function handle(req: IncomingMessage, res: ServerResponse, swarms: SwarmRegistry, config: TrackerConfig): void {
  const stats = config.stats ?? newTrackerStats();
  const now = config.now ?? Date.now;
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const path = q >= 0 ? target.slice(0, q) : target;
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (req.method !== 'GET') return reply(res, 405, { 'failure reason': `method ${req.method} not allowed` });
  const query = readAnnounceParams(target);
  if (last === 'scrape') {
    const hashes = query.infoHashes;
    if (hashes.some((h) => h.length !== 20)) return reply(res, 200, { 'failure reason': 'info_hash must be 20 bytes' });
    const files = new Map<Uint8Array, Encodable>();
    const list = hashes.length > 0 ? hashes.slice(0, config.maxScrape) : [...swarms.values()].slice(0, config.maxScrape).map((s) => s.infoHash);
    for (const h of list) files.set(h, swarms.scrape(h));
    stats.scrapes++;
    return reply(res, 200, { files, flags: { min_request_interval: config.minInterval } });
  }
  if (last !== 'announce') return reply(res, 404, { 'failure reason': `no such path ${path}: use /announce or /scrape` });
  if (!query.infoHash || query.infoHash.length !== 20) {
    return reply(res, 200, { 'failure reason': query.infoHash ? `info_hash is ${query.infoHash.length} bytes, must be 20` : 'missing info_hash' });
  }
  if (!query.peerId || query.peerId.length !== 20) return reply(res, 200, { 'failure reason': query.peerId ? 'peer_id must be 20 bytes' : 'missing peer_id' });
  if (query.port === undefined || query.port < 0 || query.port > 65535) return reply(res, 200, { 'failure reason': 'missing or invalid port' });
  const ip = unmapIpv4(req.socket.remoteAddress ?? '0.0.0.0');
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
    return reply(res, 200, { 'failure reason': result.error });
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
  reply(res, 200, body);
}

function reply(res: ServerResponse, status: number, body: Encodable): void {
  const bytes = encode(body);
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': bytes.length, 'Cache-Control': 'no-cache' });
  res.end(bytes);
}
