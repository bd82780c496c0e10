import { TransportError } from '../lib/core/errors.js';
import { PeerConnection, PeerError, type PeerConnectionOptions } from '../lib/peer/peer-connection.js';
import { makePeerId } from '../lib/peer/identity.js';
import { ANSWERED_NO_CODES } from '../lib/peer/peer-error.js';
import { findPeers, type Target } from './peer-source.js';
import { formatEndpoint } from '../lib/wire/address.js';
import { EXIT } from './exit-codes.js';
import { peerFailureText } from './errors.js';
import { encryptionDial } from './encryption.js';
import type { EncryptionPolicy } from '../lib/mse/constants.js';
import type { Io } from './io.js';
import { frameSink } from './commands/handshake.js';

/**
 * The peer loop shared by the tools that want one thing from one peer (metadata, piece):
 * find peers (`--peer` or the target's trackers), connect to each in turn within one
 * `--timeout` deadline, and stop at the first that gives what is asked.
 */
export interface PeerAttemptArgs {
  peer?: string[];
  timeout: number;
  frames: boolean;
  encryption?: EncryptionPolicy;
  keylog?: string;
  io?: unknown;
}

export interface Attempt {
  /** Milliseconds left before the deadline (at least 1). */
  left(): number;
  /** The peer answered, but with something wrong: counts as "answered" for the exit code. */
  answeredWrong(failure: string): void;
}

export interface Attempts<T> {
  /** What the first successful attempt returned; undefined when every peer failed. */
  result?: T;
  /** One line per peer that failed: `message (code)`. */
  failures: string[];
  /** Some peer answered (with a refusal or wrong data), as opposed to none answering at all. */
  answeredNo: boolean;
  /** Our own address, echoed back by a tracker, as `host:port`. */
  skippedSelf: string[];
}

export interface TryPeersOptions {
  /** Show findPeers' notes on stderr (when it is a TTY). */
  notes?: boolean;
  /** Connection options beyond the shared ones; asked again before each connect. */
  connect?: () => Partial<PeerConnectionOptions>;
}

/**
 * Try each peer until `attempt` returns a value. A PeerError from a peer is a failure and the
 * next peer is tried; `attempt` returning undefined (after `answeredWrong`) does the same.
 * Other errors propagate. The connection is closed after each attempt.
 */
export async function tryPeers<T>(
  argv: PeerAttemptArgs,
  target: Target,
  io: Io,
  options: TryPeersOptions,
  attempt: (conn: PeerConnection, ctx: Attempt) => Promise<T | undefined>,
): Promise<Attempts<T>> {
  const deadline = Date.now() + argv.timeout * 1000;
  const left = (): number => Math.max(1, deadline - Date.now());
  const peerId = makePeerId();
  const peers = await findPeers(target, {
    ...(argv.peer ? { peers: argv.peer } : {}),
    peerId,
    timeoutMs: left(),
    ...(options.notes ? { onNote: (t: string) => io.errIsTTY && io.err(t) } : {}),
  });
  const skippedSelf = (peers.skippedSelf ?? []).map((p) => `${formatEndpoint(p.host, p.port)}`);
  const sink = frameSink(argv);
  const failures: string[] = [];
  let answeredNo = false;
  const ctx: Attempt = {
    left,
    answeredWrong(failure) {
      answeredNo = true;
      failures.push(failure);
    },
  };
  for (const addr of peers) {
    if (Date.now() >= deadline) break;
    let conn: PeerConnection | undefined;
    try {
      conn = await PeerConnection.connect(addr.host, addr.port, {
        infoHash: target.infoHash,
        peerId,
        connectTimeoutMs: Math.min(left(), 10_000),
        handshakeTimeoutMs: Math.min(left(), 10_000),
        ...options.connect?.(),
        ...encryptionDial(argv, target.infoHash),
        ...(sink ? { onFrame: sink } : {}),
      });
      const result = await attempt(conn, ctx);
      if (result !== undefined) return { result, failures, answeredNo, skippedSelf };
    } catch (e) {
      if (!(e instanceof PeerError)) throw e;
      if (ANSWERED_NO_CODES.has(e.code)) answeredNo = true;
      failures.push(peerFailureText(e));
    } finally {
      conn?.close();
    }
  }
  return { failures, answeredNo, skippedSelf };
}

/** Before a success's human output: the peers passed over on the way, on stderr. */
export function reportSkipped(io: Io, a: Attempts<unknown>): void {
  for (const s of a.skippedSelf) io.err(`skipped ${s}: our own entry, echoed back by a tracker`);
  for (const f of a.failures) io.err(`skipped ${f}`);
}

/**
 * When no peer gave it: `json` (if --json) or each failure on stderr, then the summary line
 * (`summary` gets "N tried[, none answered]");
 * no peer tried at all is a timeout. Exit 1 when some peer answered wrongly, else 4.
 */
export function noPeerGaveIt(io: Io, argv: { json: boolean; timeout: number }, a: Attempts<unknown>, json: object, summary: (tried: string) => string): number {
  if (a.failures.length === 0) throw new TransportError('timeout', `no peer tried within ${argv.timeout} s`);
  // One line on stderr: the summary, then each peer's failure.
  const line = `${summary(`${a.failures.length} tried${a.answeredNo ? '' : ', none answered'}`)}: ${a.failures.join('; ')}`;
  const exitCode = a.answeredNo ? EXIT.failure : EXIT.network;
  if (argv.json) io.out(JSON.stringify({ ok: false, error: line, exitCode, ...json, failures: a.failures }, null, 2));
  io.err(line);
  return exitCode;
}
