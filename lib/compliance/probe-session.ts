import { performance } from 'node:perf_hooks';
import { DecodeError } from '../core/errors.js';
import { HANDSHAKE_LENGTH, PROTOCOL_BYTES, decodeHandshake, encodeHandshake } from '../wire/handshake.js';
import { WireFramer } from '../wire/framer.js';
import { encodeMessage, parseMessage, type Message } from '../wire/messages.js';
import type { ScenarioName, SessionRecord, WireEvent } from './types.js';
import type { Transport } from '../transport/transport.js';
import { dialTcp } from '../transport/tcp.js';

/**
 * A raw peer-wire connection for the compliance checker: lower level than
 * PeerConnection on purpose. It sends exactly what a scenario tells it to (a
 * request while choked, an unknown id), never reacts on its own, and records
 * every frame both ways, with offsets and times, as evidence for the checks.
 */
export interface ProbeOptions {
  readonly host: string;
  readonly port: number;
  readonly scenario: ScenarioName;
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  readonly reserved: Uint8Array;
  readonly connectTimeoutMs: number;
  /** Largest frame accepted from the peer; larger is recorded as a decode error and ends the session. */
  readonly maxFrameLength: number;
  /** Bytes the peer may send in all before the session stops listening (bounded memory). */
  readonly maxBytes?: number;
  /** Frames recorded in all before the session stops listening. */
  readonly maxEvents?: number;
  /** How to open the connection (default TCP). */
  readonly dial?: (host: string, port: number, o: { timeoutMs?: number }) => Promise<Transport>;
}

/** The stand-in for a connection that never opened. */
function closedTransport(o: ProbeOptions): Transport {
  return {
    kind: 'none',
    peer: `${o.host}:${o.port}`,
    remoteHost: o.host,
    remotePort: o.port,
    localHost: undefined,
    setHandlers: () => {},
    write: (_b, written) => {
      written?.();
      return false;
    },
    cork: () => {},
    uncork: () => {},
    writableLength: 0,
    needsDrain: false,
    pause: () => {},
    resume: () => {},
    paused: false,
    close: () => {},
    closed: true,
  };
}

/** How far to look for a handshake that something else came before. */
const HANDSHAKE_SEARCH = 4096;

/** A malformed frame: framing held (the length prefix was fine) but the payload did not decode. */
export interface MalformedFrame {
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly code: string;
  readonly message: string;
  readonly at: number;
}

type Waiter = { pred: (e: WireEvent<Message>) => boolean; resolve: (e: WireEvent<Message> | undefined) => void; timer: NodeJS.Timeout };

export class ProbeSession {
  readonly record: SessionRecord<Message> & { readonly malformed: MalformedFrame[] };
  private readonly transport: Transport;
  private readonly t0 = performance.now();
  private pre: Uint8Array = new Uint8Array(0);
  private framer: WireFramer | undefined;
  private inBytes = 0;
  private outOffset = 0;
  private seq = 0;
  private waiters: Waiter[] = [];
  private closeWaiters: Array<() => void> = [];

  private constructor(transport: Transport, private readonly opts: ProbeOptions) {
    this.transport = transport;
    this.record = {
      scenario: opts.scenario,
      ourReserved: opts.reserved,
      ourInfoHash: opts.infoHash,
      preHandshake: new Uint8Array(0),
      events: [],
      notes: [],
      facts: {},
      malformed: [],
    };
  }

  /** Connect, send our handshake at once, and start recording. Never throws: a failed connect is recorded. */
  static async open(opts: ProbeOptions): Promise<ProbeSession> {
    let transport: Transport;
    try {
      transport = await (opts.dial ?? dialTcp)(opts.host, opts.port, { timeoutMs: opts.connectTimeoutMs });
    } catch (e) {
      const err = e as Error & { code?: string };
      const message = err.code === 'connect_timeout' ? `no TCP connection within ${opts.connectTimeoutMs} ms` : err.message;
      const s = new ProbeSession(closedTransport(opts), opts);
      s.finish({ how: 'connect_failed', message });
      return s;
    }
    const s = new ProbeSession(transport, opts);
    transport.setHandlers({
      data: (chunk) => s.onData(chunk),
      drain: () => {},
      close: (e) => {
        if (e) s.finish({ how: 'reset', message: `${(e.cause as NodeJS.ErrnoException | undefined)?.code ?? ''} ${e.message}`.trim() });
        s.onPeerEnd();
      },
    });
    s.write(encodeHandshake({ reserved: opts.reserved, infoHash: opts.infoHash, peerId: opts.peerId }));
    return s;
  }

  now(): number {
    return Math.round(performance.now() - this.t0);
  }

  get closed(): boolean {
    return this.record.end !== undefined;
  }

  get handshaken(): boolean {
    return this.record.handshake !== undefined && this.record.handshake.peerId.length === 20;
  }

  /** Send messages in ONE write (so the peer reads them together), each recorded with its tag. */
  send(messages: ReadonlyArray<{ message: Message; tag?: string }> | Message, tag?: string): void {
    if (this.closed) return;
    const list = Array.isArray(messages) ? messages : [{ message: messages as Message, ...(tag ? { tag } : {}) }];
    const parts = list.map((m) => encodeMessage(m.message));
    const total = parts.reduce((n, p) => n + p.length, 0);
    const buf = new Uint8Array(total);
    let off = 0;
    list.forEach((m, i) => {
      const bytes = parts[i]!;
      buf.set(bytes, off);
      this.push({ dir: 'out', offset: this.outOffset + off, bytes: buf.subarray(off, off + bytes.length), message: m.message, ...(m.tag ? { tag: m.tag } : {}) });
      off += bytes.length;
    });
    this.write(buf);
  }

  /** Wait for an incoming frame after `sinceSeq` matching `pred`; undefined on timeout or close. */
  waitFor(pred: (e: WireEvent<Message>) => boolean, ms: number, sinceSeq = -1): Promise<WireEvent<Message> | undefined> {
    const have = this.record.events.find((e) => e.dir === 'in' && e.seq > sinceSeq && pred(e));
    if (have) return Promise.resolve(have);
    if (this.closed || ms <= 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const w: Waiter = {
        pred,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          resolve(undefined);
        }, ms),
      };
      this.waiters.push(w);
    });
  }

  /** Wait until `done()` holds (checked after each incoming frame), the peer closes, or `ms` pass. */
  async until(done: () => boolean, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (!done()) {
      const left = deadline - performance.now();
      if (left <= 0 || this.closed) return done();
      await this.waitFor(() => true, left, this.seq - 1);
    }
    return true;
  }

  /** Wait `ms` (or until the peer closes), recording whatever comes. */
  idle(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const onClose = () => done();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.closeWaiters.push(onClose);
    });
  }

  /**
   * Stop reading from the socket: what the peer sends piles up in the kernel
   * buffers and then in the peer's own send queue, so requests it has not
   * yet served are still queued there (the cancel probe rests on this).
   */
  pauseReading(): void {
    this.transport.pause();
  }

  resumeReading(): void {
    this.transport.resume();
  }

  /** Close our side and stop recording. */
  close(): void {
    if (!this.closed) this.finish({ how: 'we_closed' });
    this.transport.close();
  }

  private write(bytes: Uint8Array): void {
    this.outOffset += bytes.length;
    this.transport.write(bytes);
  }

  private push(e: Omit<WireEvent<Message>, 'seq' | 'at'>): WireEvent<Message> {
    const ev: WireEvent<Message> = { seq: this.seq++, at: this.now(), ...e };
    this.record.events.push(ev);
    if (ev.dir === 'in') {
      for (const w of [...this.waiters]) {
        if (w.pred(ev)) {
          clearTimeout(w.timer);
          this.waiters = this.waiters.filter((x) => x !== w);
          w.resolve(ev);
        }
      }
    }
    return ev;
  }

  private finish(end: Omit<NonNullable<SessionRecord['end']>, 'at'>): void {
    if (this.record.end) return;
    this.record.end = { at: this.now(), ...end };
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(undefined);
    }
    this.waiters = [];
    for (const c of this.closeWaiters) c();
    this.closeWaiters = [];
  }

  private onPeerEnd(): void {
    if (this.closed) return;
    if (!this.record.handshake && !this.record.badHandshake) this.handshakeFromPartial(true);
    this.finish({ how: 'peer_closed' });
  }

  private onData(chunk: Uint8Array): void {
    if (this.closed) return;
    this.inBytes += chunk.length;
    if (this.inBytes > (this.opts.maxBytes ?? 256 * 1024 * 1024)) {
      this.finish({ how: 'limit', message: `the peer sent more than ${this.opts.maxBytes} bytes` });
      this.transport.close();
      return;
    }
    if (!this.framer) {
      const buf = new Uint8Array(this.pre.length + chunk.length);
      buf.set(this.pre);
      buf.set(chunk, this.pre.length);
      this.pre = buf;
      if (!this.handshakeFromPartial(false)) return;
      chunk = this.pre.subarray(this.record.handshake!.offset + HANDSHAKE_LENGTH);
      this.pre = new Uint8Array(0);
    }
    this.frames(chunk);
  }

  /**
   * Find the handshake in what came so far. Bytes before a found handshake are
   * kept as `preHandshake` (a violation the checks report); no handshake in
   * the first 4 KiB, or at the end of the stream, is a bad handshake.
   */
  private handshakeFromPartial(atEnd: boolean): boolean {
    const buf = this.pre;
    const k = findHandshake(buf);
    if (k >= 0 && buf.length >= k + HANDSHAKE_LENGTH) {
      const { value } = decodeHandshake(buf.subarray(k, k + HANDSHAKE_LENGTH), k);
      const bytes = buf.slice(k, k + HANDSHAKE_LENGTH);
      this.record.preHandshake = buf.slice(0, k);
      this.record.handshake = { offset: k, bytes, reserved: bytes.subarray(20, 28), infoHash: bytes.subarray(28, 48), peerId: bytes.subarray(48, 68), at: this.now() };
      void value;
      this.framer = new WireFramer({ expectHandshake: false, startOffset: k + HANDSHAKE_LENGTH, maxFrameLength: this.opts.maxFrameLength });
      return true;
    }
    if (k >= 0 && atEnd) {
      // The peer closed inside its handshake: keep what there is (a short peer id is a finding).
      const bytes = buf.slice(k);
      this.record.preHandshake = buf.slice(0, k);
      this.record.handshake = { offset: k, bytes, reserved: bytes.subarray(20, 28), infoHash: bytes.subarray(28, 48), peerId: bytes.subarray(48, 68), at: this.now() };
      return false;
    }
    if (k < 0 && (atEnd || buf.length >= HANDSHAKE_SEARCH)) {
      let code = 'bad_protocol';
      let offset = 0;
      let message = 'no BitTorrent handshake';
      try {
        decodeHandshake(buf, 0);
      } catch (e) {
        if (e instanceof DecodeError) ({ code, offset, message } = e);
      }
      if (buf.length === 0) message = 'the peer closed without sending anything';
      this.record.badHandshake = { bytes: buf.slice(0, 256), code, offset, message };
      this.finish({ how: 'handshake_failed', code, offset, message });
      this.transport.close();
    }
    return false;
  }

  private frames(chunk: Uint8Array): void {
    const framer = this.framer!;
    let frames;
    try {
      frames = framer.push(chunk);
    } catch (e) {
      const err = e as DecodeError;
      const done = ((err.partial as { frames?: ReturnType<WireFramer['push']> } | undefined)?.frames ?? []);
      for (const f of done) this.frame(f.offset, f.bytes);
      this.finish({ how: 'decode_error', code: err.code, offset: err.offset, message: err.message });
      this.transport.close();
      return;
    }
    for (const f of frames) this.frame(f.offset, f.bytes);
  }

  private frame(offset: number, bytes: Uint8Array): void {
    if (this.closed) return;
    if (this.record.events.length >= (this.opts.maxEvents ?? 100_000)) {
      this.finish({ how: 'limit', message: `more than ${this.opts.maxEvents} frames` });
      this.transport.close();
      return;
    }
    try {
      // Copy: chunk buffers are reused by nothing, but a view would pin whole socket chunks.
      const own = bytes.slice();
      this.push({ dir: 'in', offset, bytes: own, message: parseMessage(own, offset) });
    } catch (e) {
      const err = e as DecodeError;
      this.record.malformed.push({ offset, bytes: bytes.slice(0, 64), code: err.code, message: err.message, at: this.now() });
    }
  }
}

function findHandshake(buf: Uint8Array): number {
  const n = Math.min(buf.length, HANDSHAKE_SEARCH);
  outer: for (let i = 0; i + 20 <= n; i++) {
    if (buf[i] !== 19) continue;
    for (let j = 0; j < 19; j++) if (buf[i + 1 + j] !== PROTOCOL_BYTES[j]) continue outer;
    return i;
  }
  // A cut-off prefix at the very start is still "the handshake, not yet complete".
  if (buf.length < 20 && buf.length > 0 && buf[0] === 19) {
    for (let j = 1; j < buf.length; j++) if (buf[j] !== PROTOCOL_BYTES[j - 1]) return -1;
    return -2;
  }
  return -1;
}
