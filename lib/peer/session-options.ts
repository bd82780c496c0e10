import type { Frame } from '../core/field.js';
import type { FrameLimits } from '../wire/framer.js';
import type { ExtendedHandshakeInit } from '../wire/extended.js';
import type { Message } from '../wire/messages.js';
import type { Direction } from '../core/direction.js';
import type { DialOptions, Transport } from '../transport/transport.js';
import type { PeerError } from './peer-error.js';

export interface PeerSessionOptions {
  /** The torrent's info-hash; for an incoming session, a predicate may choose among several. */
  infoHash: Uint8Array | ((infoHash: Uint8Array) => boolean);
  /**
   * BEP 52 upgrade: dialling a hybrid torrent by its v1 info-hash with the v2
   * bit set, the peer may answer with the truncated v2 info-hash instead. Given
   * here, that answer is accepted and the session is for it from then on.
   */
  upgradeInfoHash?: Uint8Array;
  /** Our 20-byte peer id (lib/peer/identity.ts `makePeerId`). */
  peerId: Uint8Array;
  /** Our reserved bits; default extended + fast. */
  reserved?: Uint8Array;
  /** Our extended handshake (sent when both sides set the BEP 10 bit); false to send none. */
  extended?: ExtendedHandshakeInit | false;
  /**
   * `now` (default): our extended handshake leaves right after the handshakes.
   * `later`: at `greet(first)`, after `first` (BEP 3 wants a bitfield, BEP 6
   * have all / have none, as the very first message).
   */
  greeting?: 'now' | 'later';
  /** Connect must succeed within this (ms), when `connect` dials. Default 10 s. */
  connectTimeoutMs?: number;
  /** The peer's handshake must arrive within this (ms). Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Close with `idle_timeout` when nothing arrives for this long (ms). Default 120 s (BEP 3's two minutes). */
  idleTimeoutMs?: number;
  /** Send a keep-alive when we sent nothing for this long (ms). Default 60 s or half the idle timeout; 0: never. */
  keepAliveMs?: number;
  /** Pieces in the torrent: frame limits and bitfield checks. Unknown for a magnet before metadata. */
  pieceCount?: number;
  /** Frame limits (default: sized from pieceCount). */
  limits?: FrameLimits;
  /** Every frame both ways, annotated (`--frames`). Frames are built only when this is set. */
  onFrame?: (frame: Frame, direction: Direction) => void;
  /** How `connect` opens the transport (default TCP). */
  dial?: (host: string, port: number, o: DialOptions) => Promise<Transport>;
  /** Stops `connect` while it dials. */
  signal?: AbortSignal;
}

export interface SessionHandlers {
  /** A message from the peer; `offset` is its first byte in the incoming stream. */
  message(m: Message, offset: number): void;
  /** The session ended: undefined when we closed it, else why. Called once. */
  close(reason: PeerError | undefined): void;
  /** The transport drained: more may be sent. */
  drain?(): void;
}

export interface SessionStats {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
}
