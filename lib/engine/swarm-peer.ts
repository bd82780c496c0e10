import type { BlockRequest } from './piece-picker.js';
import { RateMeter } from './rate.js';
import type { PeerSession } from '../peer/session.js';
import type { PexSender } from './pex-sender.js';

/** Pipeline depth of a new peer, before its rate is known (the tick resizes it). */
const FIRST_QUEUE = 32;

/** The peer as a session's first owner saw it (PeerConnection's state). */
export interface KnownPeerState {
  readonly peerChoking: boolean;
  readonly peerInterested: boolean;
  readonly amInterested: boolean;
  /** Sized to the torrent's piece count (PeerConnection.setPieceCount). */
  readonly peerPieces: Uint8Array;
  readonly peerHasAll: boolean;
  readonly allowedFast: ReadonlySet<number>;
}

/** One connected peer of a Swarm: the four BEP 3 flags, its pipeline, its upload queue, its ut_pex state. */
export interface SwarmPeer {
  readonly session: PeerSession;
  amChoking: boolean;
  amInterested: boolean;
  peerChoking: boolean;
  peerInterested: boolean;
  /** Target pipeline depth. */
  queue: number;
  readonly down: RateMeter;
  readonly up: RateMeter;
  lastBlockAt: number;
  stalls: number;
  /** Requests from the peer waiting to be served. */
  readonly uploads: BlockRequest[];
  /** The request being served (its piece read from disk); `cancelled` when a cancel came meanwhile. */
  inFlight: { r: BlockRequest; cancelled: boolean } | undefined;
  /** BEP 6 allowed fast pieces we offered this peer: served while it is choked. */
  readonly allowedFast: Set<number>;
  serving: boolean;
  gotData: boolean;
  /** A pipeline top-up is queued for the end of the current socket chunk. */
  refillQueued: boolean;
  /** We dialled it (its remote port is where it listens: BEP 11 "reachable"). */
  readonly outgoing: boolean;
  /** ut_pex we send it (BEP 11): set once its extended handshake offers ut_pex. */
  pex: { readonly sender: PexSender; dueAt: number; sent: number; quietAt: number } | undefined;
}

/** A peer as it joins: choked both ways, interest as its first owner left it (`known`). */
export function newSwarmPeer(session: PeerSession, now: number, outgoing: boolean, known: KnownPeerState | undefined): SwarmPeer {
  return {
    session,
    amChoking: true,
    amInterested: known?.amInterested ?? false,
    peerChoking: true,
    peerInterested: known?.peerInterested ?? false,
    queue: FIRST_QUEUE,
    down: new RateMeter(3000, 12),
    up: new RateMeter(3000, 12),
    lastBlockAt: now,
    stalls: 0,
    uploads: [],
    inFlight: undefined,
    allowedFast: new Set(),
    serving: false,
    gotData: false,
    refillQueued: false,
    outgoing,
    pex: undefined,
  };
}

/** Close a peer that broke the protocol (BEP 3: drop the connection), saying why in the log. */
export function closeForViolation(p: SwarmPeer, what: string, log: ((line: string) => void) | undefined): void {
  log?.(`peer ${p.session.peer}: protocol violation: ${what}; closing`);
  p.session.close(new Error(what));
}
