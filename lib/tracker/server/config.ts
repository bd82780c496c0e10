export interface AnnounceEventInfo {
  readonly protocol: 'http' | 'udp';
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  readonly ip: string;
  readonly port: number;
  readonly event?: string | undefined;
}

/** Counters since start, for the summary log line and the benchmark. */
export interface TrackerStats {
  udpAnnounces: number;
  httpAnnounces: number;
  scrapes: number;
  connects: number;
  /** Announces refused: a full swarm or tracker, a hash not on the whitelist. */
  refused: number;
  /** Other error answers (bad input from a verified source). */
  errors: number;
  /** Connects (and errors to unverified sources) dropped by the per-address limit. */
  rateLimited: number;
  /** Announces and scrapes with a connection id that is unknown, expired or someone else's. */
  badConnectionIds: number;
  /** Datagrams and requests that are not BEP 15 / BEP 3 requests. */
  malformed: number;
  /** Peers dropped for silence (2 x interval). */
  expired: number;
}

export function newTrackerStats(): TrackerStats {
  return { udpAnnounces: 0, httpAnnounces: 0, scrapes: 0, connects: 0, refused: 0, errors: 0, rateLimited: 0, badConnectionIds: 0, malformed: 0, expired: 0 };
}

/** What the HTTP and UDP front ends share. */
export interface TrackerConfig {
  interval: number;
  minInterval: number;
  defaultNumwant: number;
  maxNumwant: number;
  maxScrape: number;
  onAnnounce?: ((a: AnnounceEventInfo) => void) | undefined;
  stats?: TrackerStats;
  /** The clock (ms), for tests of expiry and connection ids. */
  now?: () => number;
  /** Connects a second per source address, after a burst of `connectBurst` (BEP 15 servers). */
  connectRate?: number;
  connectBurst?: number;
}
