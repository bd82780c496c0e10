import type { Diagnostic } from '../core/diagnostic.js';
import type { Frame } from '../core/field.js';
import { toHex } from '../core/bytes.js';
import { DecodeError } from '../core/errors.js';
import type { TransportPacket } from '../capture/transport.js';
import { endpointText } from '../capture/ip.js';
import { looksLikeUtp } from '../capture/utp.js';
import { decodeKrpc, krpcFrame, krpcSummary, looksLikeKrpc, type KrpcDecoded } from '../dht/krpc.js';
import { decodeLsd, looksLikeLsd, lsdFrame } from '../lsd/lsd.js';
import {
  decodeUdpPacket,
  hasUdpTrackerMagic,
  looksLikeUdpTrackerRequest,
  looksLikeUdpTrackerResponse,
  udpTrackerRequestAction,
  udpTrackerResponseTransaction,
  type UdpMessage,
} from '../tracker/udp.js';
import { udpTrackerText } from './lines.js';
import { traceEvent } from './events.js';
import { UtpFlows } from './utp-flows.js';
import type { TraceContext } from './context.js';
import type { StreamSummary, TraceDirection, TraceProtocol } from './types.js';

const NOT_BITTORRENT = 'UDP, not BitTorrent';

/** What one decoded datagram says, before the stream it belongs to adds counts and endpoints. */
interface Datagram {
  protocol: TraceProtocol;
  type: string;
  text: string;
  fields: Record<string, unknown>;
  frame: () => Frame;
  diagnostics?: Diagnostic[] | undefined;
}

const txHex = (id: number): string => id.toString(16).padStart(8, '0');

/**
 * Datagrams by content, never by port: LSD (its BT-SEARCH line), DHT (a
 * bencoded dict that decodes as KRPC), UDP tracker (BEP 15 request shapes, or
 * an answer to a request seen), uTP (a valid header). A pair of endpoints
 * once found to speak uTP or BEP 15 is tried that way first. DHT queries and
 * tracker requests are paired with their answers by transaction id.
 */
export class UdpDispatch {
  private readonly utp: UtpFlows;
  /** A stream per (protocol, endpoints): a DHT node pair, a client and its tracker, an LSD sender. */
  private readonly streams = new Map<string, StreamSummary>();
  private readonly kinds = new Map<string, 'utp' | 'udp-tracker'>();
  /** Endpoints that answered as UDP trackers (a scrape to one is a scrape). */
  private readonly trackers = new Set<string>();

  constructor(private readonly ctx: TraceContext) {
    this.utp = new UtpFlows(ctx);
  }

  packet(t: TransportPacket): void {
    const src = endpointText(t.src, t.srcPort);
    const dst = endpointText(t.dst, t.dstPort);
    const b = t.payload;
    const known = this.kinds.get(`${src}|${dst}`);
    if (known === 'utp' && looksLikeUtp(b)) return this.utpPacket(t, src, dst);
    if (looksLikeLsd(b)) return this.lsd(t, src, dst);
    if (looksLikeKrpc(b) && this.dht(t, src, dst)) return;
    if ((known === 'udp-tracker' || this.looksLikeUdpTracker(b, src, dst)) && this.udpTracker(t, src, dst)) return;
    if (looksLikeUtp(b)) return this.utpPacket(t, src, dst);
    this.ctx.skip(NOT_BITTORRENT);
  }

  /** The capture ended: flush the uTP connections. */
  end(): void {
    this.utp.end();
  }

  private utpPacket(t: TransportPacket, src: string, dst: string): void {
    if (!this.utp.packet(t, src, dst)) return this.ctx.skip(NOT_BITTORRENT);
    this.kinds.set(`${src}|${dst}`, 'utp');
    this.kinds.set(`${dst}|${src}`, 'utp');
  }

  private lsd(t: TransportPacket, src: string, dst: string): void {
    const { s, dir } = this.stream('lsd', src, dst, 'LSD (BEP 14)');
    const a = decodeLsd(t.payload, t.payloadOffset);
    this.datagram(s, dir, t, {
      protocol: 'lsd',
      type: 'lsd.announce',
      text: `lsd announce port=${a.port ?? '?'} info_hash=${a.infoHashes.map(toHex).join(',') || '?'}${a.cookie ? ` cookie=${a.cookie}` : ''}`,
      fields: { port: a.port, infoHashes: a.infoHashes.map(toHex), cookie: a.cookie },
      frame: () => lsdFrame(t.payload, t.payloadOffset, a),
      diagnostics: a.diagnostics,
    });
  }

  /** KRPC (BEP 5); false when the dict does not decode as KRPC. */
  private dht(t: TransportPacket, src: string, dst: string): boolean {
    let decoded: KrpcDecoded;
    try {
      decoded = decodeKrpc(t.payload, t.payloadOffset);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      return false;
    }
    const m = decoded.message;
    // The querier is `a`: a stream begins with whoever asked first.
    const { s } = m.y === 'q' ? this.stream('dht', src, dst, 'DHT (BEP 5)') : this.stream('dht', dst, src, 'DHT (BEP 5)');
    const id = toHex(m.t);
    let text = `dht ${krpcSummary(m)}`;
    const fields: Record<string, unknown> = { y: m.y, t: id, ...(m.y === 'q' ? { q: m.method } : {}) };
    const matcher = this.ctx.transactions;
    if (m.y === 'q') matcher.request({ protocol: 'dht', time: this.ctx.now, kind: m.method, stream: s.id, client: src, server: dst, id });
    else {
      const q = matcher.take('dht', dst, src, id);
      if (q) {
        const rtt = this.ctx.now - q.time;
        text += ` (${q.kind}, rtt=${(rtt * 1000).toFixed(1)}ms)`;
        fields['rtt'] = rtt;
        fields['method'] = q.kind;
        matcher.answered(q, s.id, this.ctx.now, m.y === 'e' ? `error ${m.code}` : 'response');
      }
    }
    const type = m.y === 'q' ? `dht.${m.method || 'query'}` : m.y === 'r' ? 'dht.response' : m.y === 'e' ? 'dht.error' : 'dht.unknown';
    this.datagram(s, src === s.a ? 'out' : 'in', t, { protocol: 'dht', type, text, fields, frame: () => krpcFrame(t.payload, t.payloadOffset, decoded), diagnostics: decoded.diagnostics });
    return true;
  }

  /**
   * BEP 15 by its bytes (lib/tracker/udp.ts) and by what was seen: a connect or
   * announce request by shape alone, an answer to an open request, a scrape
   * sent to an endpoint already known as a tracker.
   */
  private looksLikeUdpTracker(b: Uint8Array, src: string, dst: string): boolean {
    const request = looksLikeUdpTrackerRequest(b);
    if (request === 'connect' || request === 'announce') return true;
    if (looksLikeUdpTrackerResponse(b) && this.ctx.transactions.isOpen('udp-tracker', dst, src, txHex(udpTrackerResponseTransaction(b)))) return true;
    return request === 'scrape' && this.trackers.has(dst);
  }

  /** A request carries the magic or a request action, unless it answers an open request; false when it does not decode. */
  private udpTracker(t: TransportPacket, src: string, dst: string): boolean {
    const b = t.payload;
    const action = udpTrackerRequestAction(b);
    const isRequest = hasUdpTrackerMagic(b) || ((action === 1 || action === 2) && !this.ctx.transactions.isOpen('udp-tracker', dst, src, txHex(udpTrackerResponseTransaction(b))));
    let msg: UdpMessage;
    let frame: Frame;
    try {
      ({ message: msg, frame } = decodeUdpPacket(b, t.payloadOffset, isRequest ? 'request' : 'response', { family: t.ipVersion === 6 ? 6 : 4 }));
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      return false;
    }
    const client = isRequest ? src : dst;
    const server = isRequest ? dst : src;
    this.trackers.add(server);
    this.kinds.set(`${src}|${dst}`, 'udp-tracker');
    this.kinds.set(`${dst}|${src}`, 'udp-tracker');
    const { s } = this.stream('udp-tracker', client, server, 'UDP tracker (BEP 15)');
    const id = txHex(((msg as { transactionId?: number }).transactionId ?? 0) >>> 0);
    let text = udpTrackerText(msg);
    const fields: Record<string, unknown> = { kind: msg.kind, transactionId: id };
    if (msg.kind === 'announce_request') {
      s.infoHash ??= toHex(msg.infoHash);
      fields['infoHash'] = toHex(msg.infoHash);
    }
    const matcher = this.ctx.transactions;
    if (isRequest) matcher.request({ protocol: 'udp-tracker', time: this.ctx.now, kind: msg.kind.replace('_request', ''), stream: s.id, client, server, id });
    else {
      const q = matcher.take('udp-tracker', client, server, id);
      if (q) {
        const rtt = this.ctx.now - q.time;
        text += ` rtt=${(rtt * 1000).toFixed(1)}ms`;
        fields['rtt'] = rtt;
        matcher.answered(q, s.id, this.ctx.now, msg.kind === 'error' ? `error: ${msg.message}` : msg.kind === 'announce_response' ? `${msg.peers.length} peers` : msg.kind.replace('_response', ''));
      }
    }
    const diagnostics = frame.diagnostics as Diagnostic[] | undefined;
    this.datagram(s, isRequest ? 'out' : 'in', t, { protocol: 'udp-tracker', type: `udp-tracker.${msg.kind}`, text, fields, frame: () => frame, diagnostics });
    return true;
  }

  /** The stream of datagrams between two endpoints for a protocol, `a` being whoever was seen sending first. */
  private stream(protocol: TraceProtocol, a: string, b: string, label: string): { s: StreamSummary; dir: TraceDirection } {
    const key = `${protocol}|${a}|${b}`;
    let s = this.streams.get(key);
    if (s) return { s, dir: 'out' };
    s = this.streams.get(`${protocol}|${b}|${a}`);
    if (s) return { s, dir: 'in' };
    s = this.ctx.newStream('udp', protocol, a, b, label, true);
    this.streams.set(key, s);
    return { s, dir: 'out' };
  }

  private datagram(s: StreamSummary, dir: TraceDirection, t: TransportPacket, d: Datagram): void {
    this.ctx.countOther(d.type);
    s[dir].messages++;
    s[dir].bytes += t.payload.length;
    s.lastTime = this.ctx.now;
    if (!this.ctx.wantsEvents) return;
    const packet = this.ctx.currentPacket;
    this.ctx.emit(
      traceEvent(s, dir, d.protocol, {
        time: this.ctx.now,
        type: d.type,
        text: d.text,
        offset: t.payloadOffset,
        end: t.payloadOffset + t.payload.length,
        packets: t.fragments ?? [packet],
        fields: d.fields,
        ...(d.diagnostics ? { diagnostics: d.diagnostics } : {}),
        frame: d.frame,
        where: () => ({ packet }),
      }),
    );
  }
}
