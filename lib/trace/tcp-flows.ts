import { TCP_FLAGS, type TransportPacket } from '../capture/transport.js';
import { endpointText } from '../capture/ip.js';
import { TcpDirection, type ReassemblyLimits, type StreamSink } from '../capture/tcp-reassembly.js';
import { HttpTrackerStream } from './http-stream.js';
import { httpTrackerEvent, NOT_A_TRACKER } from './http-events.js';
import { endPeerStream, newPeerStream, type PeerStream } from './peer-stream.js';
import type { TraceContext } from './context.js';
import { MseStreamDecrypter, type MseSecret } from './mse-decrypt.js';
import { CRYPTO_RC4 } from '../mse/constants.js';
import type { StreamSummary, TraceDirection } from './types.js';

/** One TCP connection: both directions reassembled, then peer wire or HTTP by content. */
interface TcpConn {
  summary: StreamSummary;
  out: TcpDirection;
  in: TcpDirection;
  kind: 'undecided' | 'peer' | 'http';
  peer?: PeerStream;
  http?: HttpTrackerStream;
  httpRequestDir?: TraceDirection;
  /** Decrypts an MSE/PE stream with the key log's secrets (only when a key log was given). */
  mse?: MseStreamDecrypter;
  closed: boolean;
}

/**
 * The TCP flow table: connections by their endpoints (both directions map to
 * one connection; a new SYN on a used pair starts a new one), each direction
 * reassembled and the stream recognised by its first bytes, never its port:
 * an HTTP request or status line is a tracker, anything else is given to the
 * peer wire decoder (which finds the handshake, or frame boundaries mid-stream).
 */
export class TcpFlows {
  private readonly conns = new Map<string, TcpConn>();
  /** The last flow's addresses and ports, so the packets of a bulk transfer skip the key strings and map lookup. */
  private readonly lastFlow = new Uint8Array(36);
  private lastFlowVersion = 0;
  private lastFlowPorts = -1;
  private lastConn: TcpConn | undefined;
  private lastSrcIsA = false;

  constructor(
    private readonly ctx: TraceContext,
    private readonly reassembly: Partial<ReassemblyLimits> | undefined,
    private readonly mseSecrets: readonly MseSecret[] = [],
  ) {}

  packet(t: TransportPacket): void {
    const syn = (t.flags & TCP_FLAGS.SYN) !== 0;
    // Most packets belong to the flow of the one before (a bulk transfer): compared as bytes, no lookup.
    const fast = !syn && this.lastConn !== undefined ? this.sameFlow(t) : 0;
    let c: TcpConn;
    let out: boolean;
    if (fast !== 0) {
      c = this.lastConn!;
      out = (fast === 1) === this.lastSrcIsA;
    } else {
      const found = this.lookup(t, syn);
      if (!found) return;
      c = found;
      out = this.lastSrcIsA;
    }
    const packet = this.ctx.currentPacket;
    c.summary.lastTime = this.ctx.now;
    // The packet is its own TcpInfo (no object per packet).
    if (t.flags & TCP_FLAGS.ACK) (out ? c.in : c.out).acknowledged(t.ack, packet);
    (out ? c.out : c.in).segment(t, t.payload, packet, t.missing);
    if (t.flags & TCP_FLAGS.RST) c.closed = true;
    if (c.out.finSeen && c.in.finSeen) c.closed = true;
  }

  /** The capture ended: flush and close every connection, in the order they were opened. */
  end(): void {
    const seen = new Set<TcpConn>();
    for (const c of this.conns.values()) {
      if (seen.has(c)) continue;
      seen.add(c);
      this.close(c);
    }
  }

  /**
   * The connection of a packet from another flow than the last one's, found by
   * its endpoints or opened (a new SYN on a used pair starts a new one); it
   * becomes the last flow. Undefined for a stray packet that opens nothing.
   */
  private lookup(t: TransportPacket, syn: boolean): TcpConn | undefined {
    const ack = (t.flags & TCP_FLAGS.ACK) !== 0;
    const src = endpointText(t.src, t.srcPort);
    const dst = endpointText(t.dst, t.dstPort);
    let c = this.conns.get(`${src}>${dst}`);
    if (c && syn && !ack && (c.closed || c.out.next > 0 || c.in.next > 0) && c.summary.a === src) {
      this.close(c);
      c = undefined;
    }
    if (!c) {
      if (!syn && !ack && t.payload.length === 0) return undefined;
      const initiator = syn && ack ? dst : src;
      const responder = initiator === src ? dst : src;
      c = this.open(initiator, responder, syn);
    }
    this.rememberFlow(t, c, src === c.summary.a);
    return c;
  }

  private open(initiator: string, responder: string, syn: boolean): TcpConn {
    const summary = this.ctx.newStream('tcp', 'peer', initiator, responder, 'no payload', syn);
    const conn = { summary, kind: 'undecided', closed: false } as TcpConn;
    conn.out = new TcpDirection(this.sink(conn, 'out'), this.reassembly);
    conn.in = new TcpDirection(this.sink(conn, 'in'), this.reassembly);
    this.conns.set(`${initiator}>${responder}`, conn);
    this.conns.set(`${responder}>${initiator}`, conn);
    return conn;
  }

  /** 1: the last flow's direction, 2: its reverse, 0: another flow. */
  private sameFlow(t: TransportPacket): number {
    if (t.ipVersion !== this.lastFlowVersion) return 0;
    const n = t.ipVersion === 4 ? 4 : 16;
    const a = t.addressBytes;
    const f = this.lastFlow;
    const ports = t.srcPort * 65536 + t.dstPort;
    if (ports === this.lastFlowPorts) {
      for (let i = 0; i < n; i++) if (a[t.srcAt + i] !== f[i] || a[t.dstAt + i] !== f[16 + i]) return 0;
      return 1;
    }
    if (ports === (this.lastFlowPorts % 65536) * 65536 + Math.floor(this.lastFlowPorts / 65536)) {
      for (let i = 0; i < n; i++) if (a[t.srcAt + i] !== f[16 + i] || a[t.dstAt + i] !== f[i]) return 0;
      return 2;
    }
    return 0;
  }

  private rememberFlow(t: TransportPacket, c: TcpConn, srcIsA: boolean): void {
    const n = t.ipVersion === 4 ? 4 : 16;
    this.lastFlow.set(t.addressBytes.subarray(t.srcAt, t.srcAt + n), 0);
    this.lastFlow.set(t.addressBytes.subarray(t.dstAt, t.dstAt + n), 16);
    this.lastFlowVersion = t.ipVersion;
    this.lastFlowPorts = t.srcPort * 65536 + t.dstPort;
    this.lastConn = c;
    this.lastSrcIsA = srcIsA;
  }

  /** Where a direction's reassembled bytes go: decided on the first bytes seen either way. */
  private sink(c: TcpConn, dir: TraceDirection): StreamSink {
    const out = dir === 'out';
    return {
      data: (offset, bytes, packet) => {
        if (c.kind === 'undecided') this.classify(c, dir, bytes);
        if (c.kind === 'http') {
          c.summary[dir].bytes += bytes.length;
          c.http!.data(dir === c.httpRequestDir ? 'request' : 'response', offset, bytes, this.ctx.now);
        } else if (c.mse) c.mse.data(dir, offset, bytes, packet, (out ? c.out : c.in).synSeen);
        else (out ? c.peer!.out : c.peer!.in).data(offset, bytes, packet, (out ? c.out : c.in).synSeen);
      },
      gap: (offset, length) => {
        if (c.kind === 'undecided') {
          // A connection whose first payload was lost: decide on what follows.
          c.summary[dir].gaps++;
          c.summary[dir].gapBytes += length;
          return;
        }
        if (c.kind === 'http') {
          c.summary[dir].gaps++;
          c.http!.gap(dir === c.httpRequestDir ? 'request' : 'response', offset + length);
        } else {
          c.mse?.gap();
          c.peer![dir].gap(offset, length);
        }
      },
    };
  }

  private classify(c: TcpConn, dir: TraceDirection, bytes: Uint8Array): void {
    const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 8)).toString('latin1');
    if (/^(GET|POST|HEAD) \//.test(head) || /^HTTP\/1\./.test(head)) {
      c.kind = 'http';
      // Plain HTTP until a tracker exchange is seen on it (http-events.ts).
      c.summary.protocol = 'http';
      c.summary.label = NOT_A_TRACKER;
      const reqDir: TraceDirection = /^HTTP\//.test(head) ? (dir === 'out' ? 'in' : 'out') : dir;
      c.httpRequestDir = reqDir;
      c.http = new HttpTrackerStream((e) => httpTrackerEvent(this.ctx, c.summary, reqDir, e));
      return;
    }
    c.kind = 'peer';
    const peer = (c.peer = newPeerStream(this.ctx, c.summary));
    if (this.mseSecrets.length > 0) c.mse = new MseStreamDecrypter(this.mseSecrets, (d, o, b, p, syn) => peer[d].data(o, b, p, syn));
  }

  private close(c: TcpConn): void {
    if (c.closed && c.kind === 'undecided' && c.out.next === 0 && c.in.next === 0 && c.summary.label !== 'no payload') return;
    const packet = this.ctx.currentPacket;
    c.out.flush(packet);
    c.in.flush(packet);
    c.mse?.end();
    if (c.peer) endPeerStream(c.peer);
    if (c.mse?.decrypted && c.summary.protocol === 'peer') {
      c.summary.label = c.mse.cryptoSelect === CRYPTO_RC4 ? 'peer wire (MSE/PE RC4, decrypted with the key log)' : 'peer wire after MSE/PE (plaintext)';
    }
    if (c.http) {
      c.http.end();
      c.http = undefined;
    }
    c.closed = true;
    if (this.lastConn === c) this.lastConn = undefined;
    const key1 = `${c.summary.a}>${c.summary.b}`;
    const key2 = `${c.summary.b}>${c.summary.a}`;
    if (this.conns.get(key1) === c) this.conns.delete(key1);
    if (this.conns.get(key2) === c) this.conns.delete(key2);
  }
}
