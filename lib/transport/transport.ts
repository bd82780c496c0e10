import type { TransportError } from '../core/errors.js';
import type { Frame } from '../core/field.js';

/**
 * What a peer-wire session needs from a connection: an ordered, reliable,
 * duplex byte stream. TCP is the first implementation (`tcp.ts`); uTP (BEP 29)
 * and the MSE/PE wrapper are others. Nothing above this interface touches a
 * socket, so a new transport is one new file here, not a change to the session.
 *
 * Callbacks, not events: the session is the only reader, and a 256 MiB
 * download delivers ~16 000 chunks through `data`.
 */
export interface Transport {
  /** `tcp`, later `utp`; a wrapper names itself over its carrier (`mse/tcp`). */
  readonly kind: string;
  /** `host:port` of the other end (IPv6 in brackets). */
  readonly peer: string;
  readonly remoteHost: string;
  readonly remotePort: number;
  /** Our end's address, when the transport knows it (BEP 11 needs it to leave ourselves out of PEX). */
  readonly localHost: string | undefined;
  /** Start delivering. Bytes that arrived before are delivered first; set once. */
  setHandlers(h: TransportHandlers): void;
  /**
   * Queue bytes; false when the send buffer is past its mark (wait for
   * `drain`). `written` runs once the transport is done with `bytes` (sent,
   * or the connection gone), so their buffer may be reused.
   */
  write(bytes: Uint8Array, written?: () => void): boolean;
  /** Hold writes until `uncork` so a batch leaves in few system calls (calls nest). */
  cork(): void;
  uncork(): void;
  /** Bytes queued and not yet handed to the network. */
  readonly writableLength: number;
  /** The last write returned false and `drain` has not come yet. */
  readonly needsDrain: boolean;
  /** Stop / restart delivering `data` (the consumer is behind; memory stays bounded). */
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  /** What the transport itself exchanged before the stream (an MSE handshake), annotated, for --frames. */
  handshakeFrames?(): Frame[];
  /** Close at once; `close` is then called with no error. Safe to call twice. */
  close(): void;
  readonly closed: boolean;
}

export interface TransportHandlers {
  data(chunk: Uint8Array): void;
  /** More may be written. */
  drain(): void;
  /** The connection ended: the peer closed it (no error) or it failed. Called once. */
  close(error?: TransportError): void;
}

/** A listening endpoint handing out incoming transports. */
export interface TransportListener {
  readonly kind: string;
  readonly host: string;
  readonly port: number;
  /** Stop listening and close the transports it accepted that are still open. */
  close(): Promise<void>;
}

export interface DialOptions {
  /** The connection must be up within this (ms); `connect_timeout` after. */
  timeoutMs?: number;
  /** Give up at once (`aborted`). */
  signal?: AbortSignal;
}
