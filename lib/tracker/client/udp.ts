import { createSocket, type Socket } from 'node:dgram';
import { lookup as systemLookup } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { randomBytes } from 'node:crypto';
import { DecodeError } from '../../core/errors.js';
import { diagnostic } from '../../core/diagnostic.js';
import type { Frame } from '../../core/field.js';
import type { AddressFamily } from '../compact-peers.js';
import { decodeUdpPacket, encodeUdpMessage, UDP_PROTOCOL_ID, type UdpMessage } from '../udp.js';
import type { TrackerUrl } from '../url.js';
import type { TrackerStep } from '../types.js';
import { describeNetworkError, networkErrorCode, type Exchange } from './context.js';

/** BEP 15: a client may reuse a connection id for one minute. */
export const CLIENT_CONNECTION_ID_REUSE_MS = 60_000;
/** BEP 15: 15 * 2^n seconds, n up to 8. */
export const UDP_RETRANSMIT_BASE_MS = 15_000;
const MAX_RETRANSMISSIONS = 8;

const connectionIds = new Map<string, { id: bigint; obtained: number }>();

/** Forget cached connection ids (tests). */
export function clearConnectionIds(): void {
  connectionIds.clear();
}

export function randomTransactionId(): number {
  return randomBytes(4).readUInt32BE(0);
}

/**
 * A UDP tracker session on one connected socket: resolve, connect (or reuse a
 * connection id under a minute old), then exchange request/response pairs with
 * BEP 15 retransmission, every packet recorded as a frame.
 */
export class UdpSession {
  private socket?: Socket;
  private family: AddressFamily = 4;
  private address = '';
  private inbox: Uint8Array[] = [];
  private wake?: () => void;
  private socketError?: unknown;

  constructor(
    readonly tracker: TrackerUrl,
    readonly ex: Exchange,
  ) {}

  async open(step: TrackerStep): Promise<void> {
    let resolved: { address: string; family: number };
    try {
      resolved = await raceAbort(resolveOne(this.ex.opts.lookup ?? (systemLookup as LookupFunction), this.tracker.host), this.ex, step, `resolving ${this.tracker.host}`);
    } catch (e) {
      if (e instanceof Error && e.name === 'TrackerError') throw e;
      throw this.ex.fail(networkErrorCode(e) === 'network' ? 'dns' : networkErrorCode(e), describeNetworkError(e, this.tracker.host), step, { cause: e });
    }
    this.family = resolved.family === 6 ? 6 : 4;
    this.address = resolved.address;
    const socket = createSocket(this.family === 6 ? 'udp6' : 'udp4');
    this.socket = socket;
    socket.on('message', (msg) => {
      if (this.inbox.length < 64) this.inbox.push(new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
      this.wake?.();
    });
    socket.on('error', (e) => {
      this.socketError = e;
      this.wake?.();
    });
    await raceAbort(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('error', reject);
        socket.connect(this.tracker.port, this.address);
      }),
      this.ex,
      step,
      `connecting a UDP socket to ${this.address}`,
    ).catch((e) => {
      if (e instanceof Error && e.name === 'TrackerError') throw e;
      throw this.ex.fail(networkErrorCode(e), describeNetworkError(e, this.tracker.host), step, { cause: e });
    });
  }

  get key(): string {
    return `${this.address}:${this.tracker.port}`;
  }

  get addressFamily(): AddressFamily {
    return this.family;
  }

  /** A connection id: cached if under a minute old, else from a fresh connect exchange. */
  async connectionId(): Promise<{ id: bigint; reused: boolean }> {
    const cached = connectionIds.get(this.key);
    if (cached && Date.now() - cached.obtained < CLIENT_CONNECTION_ID_REUSE_MS) return { id: cached.id, reused: true };
    connectionIds.delete(this.key);
    const answer = await this.transact({ kind: 'connect_request', protocolId: UDP_PROTOCOL_ID, transactionId: randomTransactionId() }, 'connect');
    if (answer.kind !== 'connect_response') throw this.ex.fail('wrong_action', `expected a connect response, got ${answer.kind}`, 'connect');
    connectionIds.set(this.key, { id: answer.connectionId, obtained: Date.now() });
    return { id: answer.connectionId, reused: false };
  }

  forgetConnectionId(): void {
    connectionIds.delete(this.key);
  }

  /**
   * Send a request and wait for the answer with the same transaction id,
   * retransmitting after 15 * 2^n s (BEP 15), all under the exchange's deadline.
   * An error packet, a wrong transaction id or an undecodable answer fails the step.
   */
  async transact(request: UdpMessage & { transactionId: number }, step: TrackerStep): Promise<UdpMessage> {
    const socket = this.socket!;
    const bytes = encodeUdpMessage(request, this.family);
    const base = this.ex.opts.udpRetransmitMs ?? UDP_RETRANSMIT_BASE_MS;
    for (let n = 0; n <= MAX_RETRANSMISSIONS; n++) {
      if (this.ex.signal.aborted) throw this.ex.abortError(step, retryText(n));
      this.ex.frame(decodeUdpPacket(bytes, 0, 'request').frame, step, 'sent', n > 0 ? { retransmission: n } : {});
      socket.send(bytes);
      const waitUntil = performance.now() + base * 2 ** n;
      for (;;) {
        const packet = this.inbox.shift();
        if (packet) return this.accept(packet, request, step);
        if (this.socketError) {
          const e = this.socketError;
          throw this.ex.fail(networkErrorCode(e), describeNetworkError(e, this.tracker.host), step, { cause: e });
        }
        if (this.ex.signal.aborted) throw this.ex.abortError(step, retryText(n + 1));
        const left = waitUntil - performance.now();
        if (left <= 0) break;
        await this.waitForPacket(left);
      }
    }
    throw this.ex.fail('timeout', `no answer to the ${step} request after ${MAX_RETRANSMISSIONS + 1} sends`, step);
  }

  /** Sleep until a packet or socket error arrives, the time is up, or the exchange aborts. */
  private waitForPacket(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const signal = this.ex.signal;
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private accept(packet: Uint8Array, request: { transactionId: number }, step: TrackerStep): UdpMessage {
    let decoded: { message: UdpMessage; frame: Frame };
    try {
      decoded = decodeUdpPacket(packet, 0, 'response', { family: this.family, ...(this.ex.opts.maxPeers ? { maxPeers: this.ex.opts.maxPeers } : {}) });
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.ex.frame(
        { title: 'UDP answer (undecodable)', bytes: packet, base: 0, fields: [], diagnostics: [diagnostic(e.code, 'error', e.message, { start: Math.min(e.offset, packet.length), end: packet.length })] },
        step,
        'received',
      );
      // Seen from Debian's opentracker: a bare 8-byte announce header for a torrent it refuses.
      const bare = packet.length === 8 && packet[3] === 1 && packet[0] === 0 && packet[1] === 0 && packet[2] === 0;
      const hint = bare ? '; a bare header with no body usually means the tracker refuses this torrent (opentracker answers so for hashes not on its whitelist)' : '';
      throw this.ex.fail('bad_response', `${step} answer: ${e.message} (at byte ${e.offset})${hint}`, step, { cause: e, offset: e.offset });
    }
    const { message } = decoded;
    const txOk = message.transactionId === request.transactionId;
    const frame = txOk
      ? decoded.frame
      : {
          ...decoded.frame,
          diagnostics: [
            ...(decoded.frame.diagnostics ?? []),
            diagnostic('wrong_transaction_id', 'error', `transaction id 0x${hex32(message.transactionId)}, we sent 0x${hex32(request.transactionId)}`, { start: packet.length >= 8 ? 4 : 0, end: packet.length >= 8 ? 8 : packet.length }),
          ],
        };
    this.ex.frame(frame, step, 'received');
    if (!txOk) {
      throw this.ex.fail('wrong_transaction_id', `${step} answer has transaction id 0x${hex32(message.transactionId)}, we sent 0x${hex32(request.transactionId)}`, step);
    }
    if (message.kind === 'error') throw this.ex.fail('tracker_error', `tracker error: ${message.message || '(no message)'}`, step);
    return message;
  }

  close(): void {
    try {
      this.socket?.close();
    } catch {
      // already closed
    }
  }
}

function hex32(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

function retryText(n: number): string {
  return n === 0 ? 'no answer' : `no answer after ${n} send${n === 1 ? '' : 's'}`;
}

/** Await a promise unless the exchange is aborted first. */
async function raceAbort<T>(p: Promise<T>, ex: Exchange, step: TrackerStep, what: string): Promise<T> {
  if (ex.signal.aborted) throw ex.abortError(step, what);
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(ex.abortError(step, what));
    ex.signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([p, aborted]);
  } finally {
    ex.signal.removeEventListener('abort', onAbort);
  }
}

/** One address for `host` through a `dns.lookup`-shaped function, in the resolver's order. */
function resolveOne(lookup: LookupFunction, host: string): Promise<{ address: string; family: number }> {
  return new Promise((resolve, reject) => {
    lookup(host, { verbatim: true }, (err, address, family) => {
      if (err) reject(err);
      else if (typeof address === 'string') resolve({ address, family: family ?? (address.includes(':') ? 6 : 4) });
      else if (address.length > 0) resolve(address[0]!);
      else reject(Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND' }));
    });
  });
}
