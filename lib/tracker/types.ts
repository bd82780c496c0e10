import type { Frame } from '../core/field.js';

/** A peer address as trackers hand them out (BEP 3 dict, BEP 23 compact, BEP 7 peers6). */
export interface TrackerPeer {
  /** Dotted IPv4 or IPv6 text (no brackets). */
  readonly ip: string;
  readonly port: number;
  /** BEP 3 `peer id` from a dict-model peer list. */
  readonly peerId?: Uint8Array;
}

/** BEP 3 announce events; none means a regular re-announce. */
export type AnnounceEvent = 'started' | 'completed' | 'stopped';

/** What a client announces (BEP 3, BEP 15, BEP 23). */
export interface AnnounceRequest {
  /** 20 bytes: SHA-1 of the info dict, or for v2-only torrents the SHA-256 truncated to 20 (BEP 52). */
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  readonly port: number;
  readonly uploaded: number;
  readonly downloaded: number;
  readonly left: number;
  readonly event?: AnnounceEvent;
  readonly numwant?: number;
  /** 32-bit key identifying the client across IP changes. */
  readonly key?: number;
  /** BEP 23: ask for a compact list (default true). */
  readonly compact?: boolean;
  /** BEP 3 `tracker id` echoed from a previous answer. */
  readonly trackerId?: string;
  /**
   * MSE/PE (the `supportcrypto` / `requirecrypto` announce keys libtorrent and
   * opentracker-era trackers use): `support` we speak it, `require` we speak nothing else.
   */
  readonly crypto?: 'support' | 'require';
}

/** A tracker's answer, protocol independent. */
export interface AnnounceResult {
  readonly interval: number;
  readonly minInterval?: number;
  /** Seeders. */
  readonly complete?: number;
  /** Leechers. */
  readonly incomplete?: number;
  readonly downloaded?: number;
  readonly peers: TrackerPeer[];
  readonly warning?: string;
  readonly trackerId?: string;
  /** Every packet or HTTP exchange of the attempt, annotated, `meta.step` naming its step. */
  readonly frames: Frame[];
}

/** One torrent's counts in a scrape answer (BEP 48, BEP 15). */
export interface ScrapeEntry {
  readonly infoHash: Uint8Array;
  readonly complete: number;
  readonly incomplete: number;
  readonly downloaded: number;
  readonly name?: string;
}

export interface ScrapeResult {
  readonly files: ScrapeEntry[];
  /** BEP 48 `flags.min_request_interval`. */
  readonly minRequestInterval?: number;
  readonly frames: Frame[];
}

/** The steps of a tracker exchange, used to attribute frames and timeouts. */
export type TrackerStep = 'connect' | 'announce' | 'scrape' | 'redirect';
