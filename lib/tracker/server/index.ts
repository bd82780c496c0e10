import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { familyOf } from '../compact-peers.js';
import { createHttpTracker } from './http.js';
import { createUdpTracker } from './udp.js';
import { SwarmRegistry } from './swarm.js';

export { SwarmRegistry } from './swarm.js';

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
  /** Seconds before a silent peer is dropped (default 2 * interval + 60). */
  peerTimeout?: number;
  /** Called after each accepted announce (for logs and tests). */
  onAnnounce?: (a: AnnounceEventInfo) => void;
}

export interface AnnounceEventInfo {
  readonly protocol: 'http' | 'udp';
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  readonly ip: string;
  readonly port: number;
  readonly event?: string | undefined;
}

export interface TrackerConfig {
  interval: number;
  minInterval: number;
  defaultNumwant: number;
  maxNumwant: number;
  maxScrape: number;
  onAnnounce?: ((a: AnnounceEventInfo) => void) | undefined;
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
  close(): Promise<void>;
}

/**
 * A real BEP 3/7/15/23/48 tracker, HTTP and UDP, for tests, the demo and
 * `btscope tracker-serve`.
 */
export async function startTracker(opts: StartTrackerOptions = {}): Promise<RunningTracker> {
  const host = opts.host ?? '127.0.0.1';
  const interval = opts.interval ?? 1800;
  const config: TrackerConfig = {
    interval,
    minInterval: opts.minInterval ?? Math.max(1, Math.floor(interval / 2)),
    defaultNumwant: opts.defaultNumwant ?? 50,
    maxNumwant: opts.maxNumwant ?? 200,
    maxScrape: 1000,
    onAnnounce: opts.onAnnounce,
  };
  const swarms = new SwarmRegistry({
    peerTimeoutMs: (opts.peerTimeout ?? interval * 2 + 60) * 1000,
    maxSwarms: 100_000,
    maxPeersPerSwarm: 50_000,
  });
  const hostInUrl = familyOf(host) === 6 ? `[${host}]` : host;
  let http: Server | undefined;
  let udp: Socket | undefined;
  let httpPort = 0;
  let udpPort = 0;
  try {
    if (opts.http ?? true) {
      http = createHttpTracker(swarms, config);
      http.listen(opts.port ?? 0, host);
      await Promise.race([once(http, 'listening'), once(http, 'error').then(([e]) => Promise.reject(e))]);
      httpPort = (http.address() as AddressInfo).port;
    }
    if (opts.udp ?? true) {
      udp = createUdpTracker(swarms, config, familyOf(host) === 6 ? 6 : 4);
      // With a fixed port, UDP takes the same number as HTTP (as opentracker does).
      udp.bind(opts.port ?? 0, host);
      await Promise.race([once(udp, 'listening'), once(udp, 'error').then(([e]) => Promise.reject(e))]);
      udpPort = udp.address().port;
    }
  } catch (e) {
    http?.close();
    udp?.close();
    throw e;
  }
  let closed = false;
  return {
    httpPort,
    udpPort,
    url: http ? `http://${hostInUrl}:${httpPort}/announce` : '',
    udpUrl: udp ? `udp://${hostInUrl}:${udpPort}/announce` : '',
    swarms,
    async close() {
      if (closed) return;
      closed = true;
      const waits: Promise<unknown>[] = [];
      if (http) {
        const h = http;
        waits.push(new Promise<void>((r) => h.close(() => r())));
        h.closeAllConnections();
      }
      if (udp) {
        const u = udp;
        waits.push(new Promise<void>((r) => u.close(() => r())));
      }
      await Promise.all(waits);
    },
  };
}
