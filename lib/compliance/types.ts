import type { TorrentFile } from '../metainfo/types.js';

/**
 * The compliance checker's model: scenarios (lib/compliance/scenarios.ts) talk
 * to the peer and record transcripts; checks (lib/compliance/checks/*) are pure
 * functions over those transcripts. A check can therefore be tested on a
 * hand-written transcript, and its verdict always rests on recorded bytes.
 */

/** What we know about the torrent the peer is asked about. `Torrent` (lib/metainfo/types.ts) fits. */
export interface ComplyTarget {
  /** SHA-1 info-hash (v1 or hybrid). */
  readonly infoHash: Uint8Array | null;
  /** The raw info dict, when known (a .torrent was given): metadata_size and ut_metadata are checked against it. */
  readonly info: Uint8Array | null;
  readonly pieceLength: number;
  readonly pieceCount: number;
  readonly length: number;
  readonly lastPieceLength: number;
  /** Concatenated SHA-1 piece hashes. */
  readonly pieces: Uint8Array | null;
  /** BEP 52 (v2 and hybrid): SHA-256 of the info dict; a v2-only torrent's handshake carries its first 20 bytes. */
  readonly infoHashV2?: Uint8Array | null;
  /** BEP 52: v1 and v2 in one info dict (the v2 reserved bit upgrades a connection). */
  readonly hybrid?: boolean;
  /** BEP 52: the files with their pieces roots, and the piece layers (hex pieces root -> hashes): the v2 checks' reference. */
  readonly files?: readonly TorrentFile[];
  readonly pieceLayers?: ReadonlyMap<string, Uint8Array>;
}

export type Direction = 'in' | 'out';

/** One whole peer-wire message seen on a probe connection. */
export interface WireEvent<M = unknown> {
  /** Position in the session (both directions interleaved, in the order they happened). */
  readonly seq: number;
  readonly dir: Direction;
  /** Milliseconds since the session's TCP connect. */
  readonly at: number;
  /** Absolute offset of the frame's first byte in its direction's byte stream. */
  readonly offset: number;
  /** The frame's bytes, length prefix included. */
  readonly bytes: Uint8Array;
  readonly message: M;
  /** Why we sent it (outgoing only): checks find their probes by tag. */
  readonly tag?: string;
}

export type SessionEndHow =
  | 'we_closed'
  | 'peer_closed'
  | 'reset'
  | 'connect_failed'
  | 'handshake_failed'
  | 'decode_error'
  | 'limit';

export interface SessionEnd {
  readonly at: number;
  readonly how: SessionEndHow;
  /** Error code and byte offset (in-stream) when the peer's bytes did not decode. */
  readonly code?: string;
  readonly offset?: number;
  readonly message?: string;
}

/** The peer's handshake as received. */
export interface PeerHandshakeRecord {
  /** Offset of the handshake in the incoming stream (non-zero: bytes came before it). */
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly reserved: Uint8Array;
  readonly infoHash: Uint8Array;
  /** Shorter than 20 when the peer closed mid-handshake. */
  readonly peerId: Uint8Array;
  readonly at: number;
}

/** Everything one probe connection saw and did. */
export interface SessionRecord<M = unknown> {
  readonly scenario: ScenarioName;
  readonly ourReserved: Uint8Array;
  readonly ourInfoHash: Uint8Array;
  /** Bytes the peer sent before a handshake (should be none). */
  preHandshake: Uint8Array;
  /** The raw first bytes the peer sent when no handshake could be found (evidence). */
  badHandshake?: { bytes: Uint8Array; code: string; offset: number; message: string };
  handshake?: PeerHandshakeRecord;
  readonly events: WireEvent<M>[];
  end?: SessionEnd;
  /** Frames whose length prefix was fine but whose payload did not decode (kept, and the session goes on). */
  readonly malformed?: ReadonlyArray<{ offset: number; bytes: Uint8Array; code: string; message: string; at: number }>;
  /** What the scenario could not do, in words (shown in skip reasons). */
  readonly notes: string[];
  /** Scenario facts checks rely on (e.g. `unchokedAt`, `chokedRequestSent`). */
  readonly facts: Record<string, unknown>;
}

export type ScenarioName =
  | 'main'
  | 'plain'
  | 'cancel'
  | 'oversize_request'
  | 'beyond_piece_request'
  | 'bad_index_request'
  | 'keepalive'
  | 'unknown_id'
  | 'v2_hashes'
  | 'mse'
  | 'mse_wrong_skey';

export type CheckResultKind = 'pass' | 'fail' | 'warn' | 'skip';

/** A pointer to the frames a verdict rests on. */
export type EvidenceRef =
  | { readonly scenario: ScenarioName; readonly seq: number }
  | { readonly scenario: ScenarioName; readonly handshake: true };

export interface CheckOutcome {
  readonly result: CheckResultKind;
  readonly detail: string;
  readonly evidence?: readonly EvidenceRef[];
}

export interface EvalContext<M = unknown> {
  readonly target: ComplyTarget;
  /** The sessions the check asked for (missing: the scenario was not run or failed to connect). */
  session(name: ScenarioName): SessionRecord<M> | undefined;
}

/** One row of a check table: id, BEP and section it rests on, and the rule. */
export interface CheckDef<M = unknown> {
  readonly id: string;
  readonly bep: number;
  /** Section of the BEP, as titled there. */
  readonly section: string;
  /** The rule, in one line. */
  readonly title: string;
  readonly scenarios: readonly ScenarioName[];
  evaluate(ctx: EvalContext<M>): CheckOutcome;
}

export interface CheckResult extends CheckOutcome {
  readonly id: string;
  readonly bep: number;
  readonly section: string;
  readonly title: string;
}

export interface ComplianceReport {
  readonly peer: string;
  readonly checks: readonly CheckResult[];
  readonly passed: number;
  readonly failed: number;
  readonly warned: number;
  readonly skipped: number;
  readonly sessions: readonly SessionRecord[];
}
