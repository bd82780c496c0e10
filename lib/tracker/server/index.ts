import type { Server as TcpServer } from 'node:net';
import type { Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { BtscopeError } from '../../core/errors.js';
import { familyOf, formatEndpoint } from '../../core/address.js';
import { newTrackerStats, type AnnounceEventInfo, type TrackerConfig, type TrackerStats } from './config.js';
import { createHttpTracker, type HttpTrackerServer } from './http.js';
import { createUdpTracker } from './udp.js';
import { SwarmRegistry, type TrackerNotice } from './swarm.js';

export { SwarmRegistry, Swarm, type TrackerNotice } from './swarm.js';
export { newTrackerStats, type AnnounceEventInfo, type TrackerConfig, type TrackerStats } from './config.js';
export { parseWhitelist, type Whitelist } from './whitelist.js';

export interface StartTrackerOptions {
  /** Address to listen on; loopback by default. */
  host?: string;
  /** 0 = random free ports. A fixed port serves HTTP (TCP) and UDP on the same number. */
  port?: number;
  udp?: boolean;
  http?: boolean;
  /** Seconds between announces that we ask of clients. */
  interval?: number;
  minInterval?: number;
  /** Peers handed out when the client does not say (numwant). */
  defaultNumwant?: number;
  maxNumwant?: number;
  /** Seconds before a silent peer is dropped (default 2 * interval); `stopped` drops it at once. */
  peerTimeout?: number;
  /** Peers in one swarm (default 1 000 000); past it new peers are refused and onNotice says so once. */
  maxPeersPerSwarm?: number;
  /** Peers in all swarms together (default 2 000 000: about 200 MB). */
  maxPeers?: number;
  /** Torrents (default 100 000). */
  maxSwarms?: number;
  /** BEP 15 connects a second per source address after a burst (defaults 50 and 200); the rest are dropped. */
  connectRate?: number;
  connectBurst?: number;
  /** Hex info-hashes to serve (any when undefined); `setWhitelist` changes it while running. */
  whitelist?: Iterable<string>;
  /** Called after each accepted announce (for logs and tests). */
  onAnnounce?: (a: AnnounceEventInfo) => void;
  /** A cap was reached (said once, again after the count fell below 90 % of it). */
  onNotice?: (n: TrackerNotice) => void;
  /** The clock (ms since the epoch), for tests of expiry and connection ids. */
  now?: () => number;
}

export interface RunningTracker {
  /** TCP port of the HTTP tracker (0 when not started). */
  readonly httpPort: number;
  /** UDP port (0 when not started). */
  readonly udpPort: number;
  /** `http://HOST:PORT/announce` ('' when HTTP is off). */
  readonly url: string;
  /** `udp://HOST:PORT/announce` ('' when UDP is off). */
  readonly udpUrl: string;
  /** Live state: hex info-hash -> swarm (peers, complete, incomplete, downloaded). */
  readonly swarms: SwarmRegistry;
  /** Counters since start. */
  readonly stats: TrackerStats;
  /** Serve only these hex info-hashes from now on (undefined: any), as opentracker's SIGHUP reload does. */
  setWhitelist(hexes: Iterable<string> | undefined): void;
  /** Drop silent peers now (the server also does it on a timer); returns how many. */
  expire(): number;
  close(): Promise<void>;
}

/**
 * A real BEP 3/7/15/23/48 tracker, HTTP and UDP, for tests, the demo and
 * `btscope tracker-serve`.
 */
export async function startTracker(opts: StartTrackerOptions = {}): Promise<RunningTracker> {
  const host = opts.host ?? '127.0.0.1';
  const interval = opts.interval ?? 1800;
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new BtscopeError('listen', `cannot listen on port ${port}: a port is 0-65535`);
  const stats = newTrackerStats();
  const now = opts.now ?? Date.now;
  const config: TrackerConfig = {
    interval,
    minInterval: opts.minInterval ?? Math.max(1, Math.floor(interval / 2)),
    defaultNumwant: opts.defaultNumwant ?? 50,
    maxNumwant: opts.maxNumwant ?? 200,
    maxScrape: 1000,
    onAnnounce: opts.onAnnounce,
    stats,
    now,
    ...(opts.connectRate !== undefined ? { connectRate: opts.connectRate } : {}),
    ...(opts.connectBurst !== undefined ? { connectBurst: opts.connectBurst } : {}),
  };
  const peerTimeoutMs = (opts.peerTimeout ?? interval * 2) * 1000;
  const swarms = new SwarmRegistry({
    peerTimeoutMs,
    epoch: now(),
    maxSwarms: opts.maxSwarms ?? 100_000,
    maxPeersPerSwarm: opts.maxPeersPerSwarm ?? 1_000_000,
    maxPeers: opts.maxPeers ?? 2_000_000,
  });
  swarms.onNotice = opts.onNotice;
  const setWhitelist = (hexes: Iterable<string> | undefined): void => {
    swarms.whitelist = hexes === undefined ? undefined : new Set([...hexes].map((h) => h.toLowerCase()));
  };
  setWhitelist(opts.whitelist);
  const hostInUrl = familyOf(host) === 6 ? `[${host}]` : host;
  let http: HttpTrackerServer | undefined;
  let udp: Socket | undefined;
  let httpPort = 0;
  let udpPort = 0;
  // One line for the CLI, not a stack: `cannot listen on 127.0.0.1:6969 (tcp): the port is in use (listen)`.
  const listening = (server: TcpServer | Socket, proto: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        const why = e.code === 'EADDRINUSE' ? 'the port is in use' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EADDRNOTAVAIL' ? 'no such local address' : e.message;
        reject(new BtscopeError('listen', `cannot listen on ${formatEndpoint(host, port)} (${proto}): ${why}`, { cause: e }));
      };
      server.once('error', onError);
      server.once('listening', () => {
        server.off('error', onError);
        resolve();
      });
    });
  try {
    if (opts.http ?? true) {
      http = createHttpTracker(swarms, config);
      const up = listening(http.server, 'tcp');
      http.server.listen(port, host);
      await up;
      httpPort = (http.server.address() as AddressInfo).port;
    }
    if (opts.udp ?? true) {
      udp = createUdpTracker(swarms, config, familyOf(host) === 6 ? 6 : 4, host === '::');
      // With a fixed port, UDP takes the same number as HTTP (as opentracker does).
      const up = listening(udp, 'udp');
      udp.bind(port, host);
      await up;
      udpPort = udp.address().port;
    }
  } catch (e) {
    http?.close();
    udp?.close();
    throw e;
  }
  // Silent peers go within a tenth of their timeout (at most a minute) after it, 5 000 at a time (about 8 ms)
  // with the event loop turning in between (a mass expiry must not stall the sockets).
  const EXPIRE_BUDGET = 5_000;
  let sweeping: NodeJS.Immediate | undefined;
  const sweep = (): void => {
    sweeping = undefined;
    const n = swarms.expire(now(), EXPIRE_BUDGET);
    stats.expired += n;
    if (n >= EXPIRE_BUDGET) sweeping = setImmediate(sweep);
  };
  const expire = (): number => {
    const n = swarms.expire(now());
    stats.expired += n;
    return n;
  };
  const sweeper = setInterval(() => sweeping ?? sweep(), Math.max(1000, Math.min(60_000, peerTimeoutMs / 10)));
  sweeper.unref();
  let closed = false;
  return {
    httpPort,
    udpPort,
    url: http ? `http://${hostInUrl}:${httpPort}/announce` : '',
    udpUrl: udp ? `udp://${hostInUrl}:${udpPort}/announce` : '',
    swarms,
    stats,
    setWhitelist,
    expire,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      if (sweeping) clearImmediate(sweeping);
      const waits: Promise<unknown>[] = [];
      if (http) waits.push(http.close());
      if (udp) {
        const u = udp;
        waits.push(new Promise<void>((r) => u.close(() => r())));
      }
      await Promise.all(waits);
    },
  };
}
