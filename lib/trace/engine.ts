import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import type { Frame } from '../core/field.js';
import { toHex } from '../core/bytes.js';
import { DecodeError } from '../core/errors.js';
import type { CapturedPacket } from '../capture/packet.js';
import { isSkipped, PacketDissector, TCP_FLAGS, type TransportPacket } from '../capture/transport.js';
import type { FragmentLimits } from '../capture/ip-fragments.js';
import { endpointText } from '../capture/ip.js';
import { TcpDirection, type ReassemblyLimits, type StreamSink } from '../capture/tcp-reassembly.js';
import { decodeUtpHeader, looksLikeUtp, UtpDirection, UTP_TYPE, type UtpHeader } from '../capture/utp.js';
import { decodeKrpc, krpcFrame, krpcSummary } from '../dht/krpc.js';
import { decodeLsd, looksLikeLsd, lsdFrame } from '../lsd/lsd.js';
import { decodeHandshake, reservedNames, type Handshake } from '../wire/handshake.js';
import { messageFrame, type Message } from '../wire/messages.js';
import { decodeExtendedHandshake, ExtensionIds } from '../wire/extended.js';
import { decodeUdpPacket, UDP_PROTOCOL_ID, type UdpMessage } from '../tracker/udp.js';
import { jsonValue } from '../render/json.js';
import { WireStreamDecoder, type UndecodedReason, type WireSink } from './wire-stream.js';
import { HttpTrackerStream, type HttpTrackerEvent } from './http-stream.js';
import { clientOf, extendedHandshakeText, handshakeText, httpAnnounceReplyText, httpAnnounceText, messageText, peerIdText, udpTrackerText } from './lines.js';
import type { DirectionSummary, StreamSummary, TraceDirection, TraceEvent, TraceProtocol, TraceSummary, TraceTransport, Transaction } from './types.js';

export interface TracerOptions {
  /** Every decoded message; when absent no event objects are built (summary only). */
  onEvent?: (e: TraceEvent) => void;
  /** Every piece message's block (a view: copy what you keep). */
  onBlock?: (index: number, begin: number, block: Uint8Array, stream: number) => void;
  /**
   * Keep piece blocks for the events' frames (default: when onEvent or onBlock
   * is given). False: pieces are counted and listed from their 13-byte head
   * and their blocks are skipped as they pass, never copied (the fast path for
   * lines and summaries; an event's frame() then shows the head only).
   */
  keepPieceBlocks?: boolean;
  reassembly?: Partial<ReassemblyLimits>;
  /** IP fragment reassembly bounds (datagram size, pending datagrams and bytes, timeout in capture time). */
  fragments?: Partial<FragmentLimits>;
  /** Transactions kept for the summary (the rest are counted). */
  maxTransactions?: number;
  /** Open transactions remembered while waiting for their answer. */
  maxPending?: number;
}

const emptyDir = (): DirectionSummary => ({ bytes: 0, messages: 0, undecodedBytes: 0, gaps: 0, gapBytes: 0 });
const other = (d: TraceDirection): TraceDirection => (d === 'out' ? 'in' : 'out');

interface Seg {
  start: number;
  end: number;
  packet: number;
}

/** One direction of a peer wire stream (TCP or uTP). */
class PeerSide implements WireSink {
  decoder: WireStreamDecoder | undefined;
  private segs: Seg[] = [];
  private pendingUndecoded: { offset: number; length: number; reason: UndecodedReason; time: number } | undefined;
  /** This direction's counters in the stream summary. */
  private readonly counts: DirectionSummary;

  constructor(
    private readonly tracer: Tracer,
    private readonly stream: PeerStream,
    readonly dir: TraceDirection,
  ) {
    this.counts = stream.summary[dir];
  }

  data(offset: number, bytes: Uint8Array, packet: number, fromStart: boolean): void {
    this.decoder ??= new WireStreamDecoder(this, { fromStart: fromStart && offset === 0, keepPieceBlocks: this.tracer.keepPieceBlocks });
    this.counts.bytes += bytes.length;
    if (this.tracer.wantsEvents) this.segs.push({ start: offset, end: offset + bytes.length, packet });
    this.decoder.data(offset, bytes);
  }

  gap(offset: number, length: number): void {
    const d = this.counts;
    d.gaps++;
    d.gapBytes += length;
    this.decoder?.gap(offset, length);
  }

  end(): void {
    this.decoder?.end();
    this.flushUndecoded();
  }

  handshake(h: Handshake, offset: number, bytes: Uint8Array): void {
    this.flushUndecoded();
    const s = this.stream.summary;
    const d = s[this.dir];
    d.peerId = peerIdText(h.peerId);
    d.client = clientOf(h.peerId);
    d.reserved = reservedNames(h.reserved);
    s.infoHash ??= toHex(h.infoHash);
    d.messages++;
    this.tracer.count('handshake');
    if (!this.tracer.wantsEvents) return;
    this.emit('handshake', handshakeText(h), offset, bytes, () => decodeHandshake(bytes, offset).frame, {
      infoHash: toHex(h.infoHash),
      peerId: toHex(h.peerId),
      client: d.client,
      reserved: toHex(h.reserved),
      extensions: d.reserved,
    });
  }

  message(m: Message, offset: number, bytes: Uint8Array): void {
    this.flushUndecoded();
    const d = this.counts;
    d.messages++;
    this.tracer.count(m.type);
    let extName: string | undefined;
    let extraFields: Record<string, unknown> | undefined;
    if (m.type === 'extended') {
      if (m.extId === 0) {
        extName = 'handshake';
        try {
          const h = decodeExtendedHandshake(m.payload, offset + 6).value;
          this.stream.ext.learn(this.dir, h);
          if (h.v !== undefined) d.extendedClient = h.v;
          d.extensions = [...h.m.keys()];
          if (this.tracer.wantsEvents) extraFields = { v: h.v, m: Object.fromEntries(h.m), metadataSize: h.metadataSize, text: extendedHandshakeText(h) };
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
          this.tracer.note(diagnostic(e.code, 'warning', `stream ${this.stream.summary.id} ${this.dir}: extended handshake does not decode: ${e.message}`, { start: e.offset, end: e.offset }));
        }
      } else extName = this.stream.ext.nameFor(this.dir, m.extId);
    } else if (m.type === 'piece' && this.tracer.onBlock) {
      this.tracer.onBlock(m.index, m.begin, m.block, this.stream.summary.id);
    }
    if (!this.tracer.wantsEvents) return;
    const text = extraFields?.['text'] !== undefined ? (extraFields['text'] as string) : messageText(m, extName);
    const ext = this.stream.ext;
    const dir = this.dir;
    this.emit(m.type, text, offset, bytes, () => messageFrame(bytes.subarray(0, bytes.length), offset, m, { extensions: ext, direction: dir }), messageFields(m, extName, extraFields));
  }

  pieceHead(index: number, begin: number, blockLength: number, offset: number, head: Uint8Array): void {
    this.flushUndecoded();
    this.counts.messages++;
    this.tracer.count('piece');
    if (!this.tracer.wantsEvents) return;
    const frameLength = head.length + blockLength;
    this.emit(
      'piece',
      `piece index=${index} begin=${begin} len=${blockLength}`,
      offset,
      head,
      () => ({ title: `piece message (${frameLength} bytes; the block was not kept, only its head is shown)`, bytes: head, base: offset, fields: [] }),
      { index, begin, length: blockLength },
      undefined,
      undefined,
      frameLength,
    );
  }

  malformed(error: DecodeError, offset: number, bytes: Uint8Array): void {
    this.flushUndecoded();
    this.tracer.count('malformed');
    const diag = diagnostic(error.code, 'error', error.message, { start: error.offset, end: error.offset + 1 });
    this.tracer.note(diagnostic(error.code, 'warning', `stream ${this.stream.summary.id} ${this.dir} at stream offset ${error.offset}: ${error.message}`, diag.span));
    if (!this.tracer.wantsEvents) return;
    this.emit('malformed', `malformed: ${error.message} (${error.code} at ${error.offset})`, offset, bytes, () => ({ title: 'malformed frame', bytes, base: offset, fields: [], diagnostics: [diag] }), { code: error.code, at: error.offset }, [diag]);
  }

  undecoded(offset: number, length: number, reason: UndecodedReason): void {
    this.counts.undecodedBytes += length;
    const p = this.pendingUndecoded;
    if (p && p.reason === reason && p.offset + p.length === offset) {
      p.length += length;
      return;
    }
    this.flushUndecoded();
    this.pendingUndecoded = { offset, length, reason, time: this.tracer.now };
  }

  private flushUndecoded(): void {
    const p = this.pendingUndecoded;
    if (!p) return;
    this.pendingUndecoded = undefined;
    if (!this.tracer.wantsEvents) return;
    const what = p.reason === 'encrypted' ? 'encrypted (MSE/PE)' : p.reason === 'unsynced' ? 'unknown (probably encrypted)' : p.reason === 'gap' ? 'cut by a capture gap' : p.reason === 'framing_error' ? 'after a framing error' : 'before the first frame boundary';
    this.emit('undecoded', `undecoded ${p.length} bytes: ${what}`, p.offset, new Uint8Array(0), () => ({ title: `undecoded: ${what}`, bytes: new Uint8Array(0), base: p.offset, fields: [] }), { length: p.length, reason: p.reason }, undefined, p.time);
  }

  private emit(type: string, text: string, offset: number, bytes: Uint8Array, frame: () => Frame, fields: Record<string, unknown>, diagnostics?: Diagnostic[], time?: number, length?: number): void {
    const end = offset + (length ?? (bytes.length || ((fields['length'] as number | undefined) ?? 0)));
    const packets: number[] = [];
    for (const s of this.segs) if (s.start < end && s.end > offset && packets[packets.length - 1] !== s.packet) packets.push(s.packet);
    let drop = 0;
    while (drop < this.segs.length && this.segs[drop]!.end <= end) drop++;
    if (drop > 0) this.segs.splice(0, drop);
    const s = this.stream.summary;
    const src = this.dir === 'out' ? s.a : s.b;
    const dst = this.dir === 'out' ? s.b : s.a;
    this.tracer.emit({
      time: time ?? this.tracer.now,
      stream: s.id,
      direction: this.dir,
      src,
      dst,
      transport: s.transport,
      protocol: 'peer',
      type,
      text,
      offset,
      end,
      packets,
      fields,
      ...(diagnostics ? { diagnostics } : {}),
      frame: () => withMeta(frame(), { stream: s.id, flow: `${src} → ${dst}`, packets: packets.join(',') || '-' }),
    });
  }
}

function messageFields(m: Message, extName: string | undefined, extra?: Record<string, unknown>): Record<string, unknown> {
  switch (m.type) {
    case 'piece':
      return { index: m.index, begin: m.begin, length: m.block.length };
    case 'extended': {
      const { text: _t, ...rest } = extra ?? {};
      return { extId: m.extId, name: extName ?? null, payloadLength: m.payload.length, ...(extra ? (jsonValue(rest) as object) : {}) };
    }
    case 'unknown':
      return { id: m.id, payloadLength: m.payload.length };
    default: {
      const { type: _t, ...rest } = m as Message & Record<string, unknown>;
      return jsonValue(rest) as Record<string, unknown>;
    }
  }
}

function withMeta(f: Frame, meta: Record<string, string | number>): Frame {
  return { ...f, meta: { ...(f.meta ?? {}), ...meta } };
}

interface PeerStream {
  summary: StreamSummary;
  ext: ExtensionIds;
  out: PeerSide;
  in: PeerSide;
}

interface TcpConn {
  summary: StreamSummary;
  out: TcpDirection;
  in: TcpDirection;
  kind: 'undecided' | 'peer' | 'http';
  peer?: PeerStream;
  http?: HttpTrackerStream;
  httpRequestDir?: TraceDirection;
  closed: boolean;
}

interface UtpConn {
  summary: StreamSummary;
  out: UtpDirection;
  in: UtpDirection;
  peer: PeerStream;
  synSeen: boolean;
}

/**
 * The wire tracer's engine: packets in (any order the capture has them),
 * decoded messages out. TCP connections are reassembled per direction and
 * recognised by content (peer wire, HTTP tracker); UDP datagrams are DHT,
 * LSD, uTP or UDP tracker by content, never by port. Memory is bounded by the
 * reassembly and search limits per stream, not by the capture's size.
 */
export class Tracer {
  readonly wantsEvents: boolean;
  readonly onBlock: TracerOptions['onBlock'];
  readonly keepPieceBlocks: boolean;
  now = 0;
  private currentPacket = 0;
  private packets = 0;
  private firstTime = NaN;
  private readonly tcp = new Map<string, TcpConn>();
  private readonly dissector: PacketDissector;
  /** The last TCP flow's addresses and ports, so the packets of a bulk transfer skip the key strings and map lookup. */
  private readonly lastFlow = new Uint8Array(36);
  private lastFlowVersion = 0;
  private lastFlowPorts = -1;
  private lastConn: TcpConn | undefined;
  private lastSrcIsA = false;
  private readonly utp = new Map<string, { conn: UtpConn; dir: TraceDirection }>();
  private readonly udpStreams = new Map<string, StreamSummary>();
  private readonly udpKinds = new Map<string, 'utp' | 'udp-tracker'>();
  private readonly streams: StreamSummary[] = [];
  private readonly messageCounts: Record<string, number> = {};
  private readonly otherCounts: Record<string, number> = {};
  private readonly skipped: Record<string, number> = {};
  private readonly transactions: Transaction[] = [];
  private transactionsDropped = 0;
  private readonly pendingDht = new Map<string, { time: number; method: string; stream: number; client: string; server: string; t: string }>();
  private readonly pendingUdpTracker = new Map<string, { time: number; kind: string; stream: number; client: string; server: string; tx: string }>();
  private readonly trackerEndpoints = new Set<string>();
  private readonly diagnostics: Diagnostic[] = [];
  private diagnosticsDropped = 0;
  private readonly maxTransactions: number;
  private readonly maxPending: number;

  constructor(private readonly options: TracerOptions = {}) {
    this.wantsEvents = options.onEvent !== undefined;
    this.onBlock = options.onBlock;
    this.keepPieceBlocks = options.keepPieceBlocks ?? (options.onEvent !== undefined || options.onBlock !== undefined);
    if (!this.keepPieceBlocks && this.onBlock) throw new RangeError('onBlock needs keepPieceBlocks');
    this.maxTransactions = options.maxTransactions ?? 10_000;
    this.maxPending = options.maxPending ?? 100_000;
    this.dissector = new PacketDissector(options.fragments);
  }

  count(type: string): void {
    this.messageCounts[type] = (this.messageCounts[type] ?? 0) + 1;
  }

  countOther(type: string): void {
    this.otherCounts[type] = (this.otherCounts[type] ?? 0) + 1;
  }

  note(d: Diagnostic): void {
    if (this.diagnostics.length < 1000) this.diagnostics.push(d);
    else this.diagnosticsDropped++;
  }

  emit(e: TraceEvent): void {
    this.options.onEvent?.(e);
  }

  /** One captured packet. */
  packet(p: CapturedPacket): void {
    this.packets++;
    this.now = p.time;
    this.currentPacket = p.number;
    if (Number.isNaN(this.firstTime)) this.firstTime = p.time;
    const t = this.dissector.dissect(p);
    // A fragment held until its datagram is whole (then traced with the last one).
    if (t === undefined) return;
    if (isSkipped(t)) {
      this.skipped[t.skip] = (this.skipped[t.skip] ?? 0) + 1;
      return;
    }
    if (t.proto === 'tcp') this.tcpPacket(t);
    else this.udpPacket(t);
  }

  /** The capture ended: flush every reassembler and decoder. */
  end(): TraceSummary {
    this.dissector.end();
    for (const [reason, n] of Object.entries(this.dissector.fragments.dropped)) this.skipped[`IP datagram not reassembled (${reason})`] = n;
    if (this.dissector.fragments.reassembled) this.otherCounts['ip.reassembled'] = this.dissector.fragments.reassembled;
    const seen = new Set<TcpConn>();
    for (const c of this.tcp.values()) {
      if (seen.has(c)) continue;
      seen.add(c);
      this.closeTcp(c);
    }
    const seenUtp = new Set<UtpConn>();
    for (const { conn } of this.utp.values()) {
      if (seenUtp.has(conn)) continue;
      seenUtp.add(conn);
      conn.out.flush(this.currentPacket);
      conn.in.flush(this.currentPacket);
      conn.peer.out.end();
      conn.peer.in.end();
      this.labelPeer(conn.peer);
    }
    for (const [, q] of this.pendingDht) this.transaction({ protocol: 'dht', stream: q.stream, kind: q.method, client: q.client, server: q.server, transactionId: q.t, requestTime: q.time, outcome: 'no response' });
    for (const [, q] of this.pendingUdpTracker) this.transaction({ protocol: 'udp-tracker', stream: q.stream, kind: q.kind, client: q.client, server: q.server, transactionId: q.tx, requestTime: q.time, outcome: 'no response' });
    this.pendingDht.clear();
    this.pendingUdpTracker.clear();
    if (this.diagnosticsDropped) this.diagnostics.push(diagnostic('diagnostics_dropped', 'note', `${this.diagnosticsDropped} more diagnostics not kept`, { start: 0, end: 0 }));
    if (this.transactionsDropped) this.diagnostics.push(diagnostic('transactions_dropped', 'note', `${this.transactionsDropped} more transactions not listed`, { start: 0, end: 0 }));
    return this.summary();
  }

  summary(): TraceSummary {
    return {
      packets: this.packets,
      firstTime: Number.isNaN(this.firstTime) ? 0 : this.firstTime,
      lastTime: this.now,
      streams: this.streams,
      messages: { ...this.messageCounts },
      other: { ...this.otherCounts },
      transactions: this.transactions,
      skipped: { ...this.skipped },
      diagnostics: this.diagnostics,
    };
  }

  // ------------------------------------------------------------ streams

  private newStream(transport: TraceTransport, protocol: TraceProtocol, a: string, b: string, label: string, fromStart: boolean): StreamSummary {
    const s: StreamSummary = { id: this.streams.length + 1, transport, protocol, label, a, b, firstTime: this.now, lastTime: this.now, fromStart, out: emptyDir(), in: emptyDir() };
    this.streams.push(s);
    return s;
  }

  private newPeerStream(summary: StreamSummary): PeerStream {
    const ps = { summary, ext: new ExtensionIds() } as PeerStream;
    ps.out = new PeerSide(this, ps, 'out');
    ps.in = new PeerSide(this, ps, 'in');
    return ps;
  }

  private labelPeer(ps: PeerStream): void {
    const s = ps.summary;
    const dirs = [ps.out.decoder, ps.in.decoder].filter((d): d is WireStreamDecoder => d !== undefined);
    if (dirs.length === 0) s.label = 'no payload';
    else if (dirs.some((d) => d.synced)) s.label = dirs.some((d) => d.encryptedStart) ? 'peer wire after MSE/PE (plaintext)' : 'peer wire';
    else if (dirs.some((d) => d.encryptedStart)) s.label = 'encrypted (MSE/PE)';
    else s.label = 'unknown (probably encrypted)';
    if (!dirs.some((d) => d.synced)) s.protocol = 'unknown';
  }

  // ------------------------------------------------------------ TCP

  /**
   * Feed bytes of a stream that is not in a capture (the live proxy): returns
   * a handle taking each direction's bytes in order.
   */
  openLiveStream(a: string, b: string): { data(dir: TraceDirection, bytes: Uint8Array): void; end(): StreamSummary } {
    const summary = this.newStream('proxy', 'peer', a, b, 'peer wire', true);
    const ps = this.newPeerStream(summary);
    const offsets = { out: 0, in: 0 };
    let packet = 0;
    return {
      data: (dir, bytes) => {
        this.now = Date.now() / 1000;
        if (Number.isNaN(this.firstTime)) this.firstTime = this.now;
        summary.lastTime = this.now;
        ps[dir].data(offsets[dir], bytes, ++packet, true);
        offsets[dir] += bytes.length;
      },
      end: () => {
        ps.out.end();
        ps.in.end();
        this.labelPeer(ps);
        return summary;
      },
    };
  }

  private tcpPacket(t: TransportPacket): void {
    const syn = (t.flags & TCP_FLAGS.SYN) !== 0;
    // Most packets belong to the flow of the one before (a bulk transfer): compared as bytes, no lookup.
    const fast = !syn && this.lastConn !== undefined ? this.sameFlow(t) : 0;
    let c: TcpConn;
    let out: boolean;
    if (fast !== 0) {
      c = this.lastConn!;
      out = (fast === 1) === this.lastSrcIsA;
    } else {
      const found = this.lookupTcp(t, syn);
      if (!found) return;
      c = found;
      out = this.lastSrcIsA;
    }
    c.summary.lastTime = this.now;
    // The packet is its own TcpInfo (no object per packet).
    if (t.flags & TCP_FLAGS.ACK) (out ? c.in : c.out).acknowledged(t.ack, this.currentPacket);
    (out ? c.out : c.in).segment(t, t.payload, this.currentPacket, t.missing);
    if (t.flags & TCP_FLAGS.RST) c.closed = true;
    if (c.out.finSeen && c.in.finSeen) c.closed = true;
  }

  /**
   * The connection of a packet from another flow than the last one's, found by
   * its endpoints or opened (a new SYN on a used pair starts a new one); it
   * becomes the last flow. Undefined for a stray packet that opens nothing.
   */
  private lookupTcp(t: TransportPacket, syn: boolean): TcpConn | undefined {
    const ack = (t.flags & TCP_FLAGS.ACK) !== 0;
    const src = endpointText(t.src, t.srcPort);
    const dst = endpointText(t.dst, t.dstPort);
    let c = this.tcp.get(`${src}>${dst}`);
    if (c && syn && !ack && (c.closed || c.out.next > 0 || c.in.next > 0) && c.summary.a === src) {
      this.closeTcp(c);
      c = undefined;
    }
    if (!c) {
      if (!syn && !ack && t.payload.length === 0) return undefined;
      const initiator = syn && ack ? dst : src;
      const responder = initiator === src ? dst : src;
      const summary = this.newStream('tcp', 'peer', initiator, responder, 'no payload', syn);
      const conn: TcpConn = { summary, kind: 'undecided', closed: false } as TcpConn;
      conn.out = new TcpDirection(this.tcpSink(conn, 'out'), this.options.reassembly);
      conn.in = new TcpDirection(this.tcpSink(conn, 'in'), this.options.reassembly);
      this.tcp.set(`${initiator}>${responder}`, conn);
      this.tcp.set(`${responder}>${initiator}`, conn);
      c = conn;
    }
    this.rememberFlow(t, c, src === c.summary.a);
    return c;
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

  private tcpSink(c: TcpConn, dir: TraceDirection): StreamSink {
    const out = dir === 'out';
    return {
      data: (offset, bytes, packet) => {
        if (c.kind === 'undecided') this.classifyTcp(c, dir, bytes);
        if (c.kind === 'http') {
          c.summary[dir].bytes += bytes.length;
          c.http!.data(dir === c.httpRequestDir ? 'request' : 'response', offset, bytes, this.now);
        } else (out ? c.peer!.out : c.peer!.in).data(offset, bytes, packet, (out ? c.out : c.in).synSeen);
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
        } else c.peer![dir].gap(offset, length);
      },
    };
  }

  private classifyTcp(c: TcpConn, dir: TraceDirection, bytes: Uint8Array): void {
    const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 8)).toString('latin1');
    if (/^(GET|POST|HEAD) \//.test(head) || /^HTTP\/1\./.test(head)) {
      c.kind = 'http';
      c.summary.protocol = 'http-tracker';
      c.summary.label = 'HTTP';
      c.httpRequestDir = /^HTTP\//.test(head) ? other(dir) : dir;
      c.http = new HttpTrackerStream((e) => this.httpEvent(c, e));
      return;
    }
    c.kind = 'peer';
    c.peer = this.newPeerStream(c.summary);
  }

  private closeTcp(c: TcpConn): void {
    if (c.closed && c.kind === 'undecided' && c.out.next === 0 && c.in.next === 0 && c.summary.label !== 'no payload') return;
    c.out.flush(this.currentPacket);
    c.in.flush(this.currentPacket);
    if (c.peer) {
      c.peer.out.end();
      c.peer.in.end();
      this.labelPeer(c.peer);
    }
    if (c.http) {
      c.http.end();
      c.http = undefined;
    }
    c.closed = true;
    if (this.lastConn === c) this.lastConn = undefined;
    const key1 = `${c.summary.a}>${c.summary.b}`;
    const key2 = `${c.summary.b}>${c.summary.a}`;
    if (this.tcp.get(key1) === c) this.tcp.delete(key1);
    if (this.tcp.get(key2) === c) this.tcp.delete(key2);
  }

  private httpEvent(c: TcpConn, e: HttpTrackerEvent): void {
    const s = c.summary;
    const reqDir = c.httpRequestDir!;
    const dir = e.kind === 'request' ? reqDir : other(reqDir);
    if (e.kind === 'request' && e.what !== 'other') s.label = 'HTTP tracker';
    let type: string;
    let text: string;
    let fields: Record<string, unknown> = {};
    if (e.kind === 'request') {
      type = `http-tracker.${e.what}_request`;
      text = e.what === 'scrape' ? `http-tracker scrape ${e.target.slice(0, 100)}` : httpAnnounceText(e.query, e.target);
      if (e.query?.infoHash) s.infoHash ??= toHex(e.query.infoHash);
      fields = { target: e.target, ...(e.query?.infoHash ? { infoHash: toHex(e.query.infoHash) } : {}), ...(e.query?.event ? { event: e.query.event } : {}) };
    } else if (e.kind === 'response') {
      type = `http-tracker.${e.what}_response`;
      const rtt = e.requestTime !== undefined ? this.now - e.requestTime : undefined;
      if (e.announce) text = httpAnnounceReplyText(e.announce);
      else if (e.scrape) text = `http-tracker scrape reply files=${e.scrape.files.length}`;
      else text = `http-tracker response status=${e.status}${e.error ? ` (${e.error.message})` : ''}`;
      if (rtt !== undefined) text += ` rtt=${(rtt * 1000).toFixed(1)}ms`;
      fields = { status: e.status, ...(e.announce ? { peers: e.announce.peers.length, interval: e.announce.interval } : {}), ...(rtt !== undefined ? { rtt } : {}) };
      this.transaction({
        protocol: 'http-tracker',
        stream: s.id,
        kind: e.what,
        client: s[reqDir === 'out' ? 'a' : 'b'],
        server: s[reqDir === 'out' ? 'b' : 'a'],
        transactionId: '-',
        ...(e.requestTime !== undefined ? { requestTime: e.requestTime, rtt: this.now - e.requestTime } : {}),
        responseTime: this.now,
        outcome: e.announce?.failureReason ? `failure: ${e.announce.failureReason}` : e.announce ? `${e.announce.peers.length} peers` : e.scrape ? `${e.scrape.files.length} files` : `HTTP ${e.status}`,
      });
    } else {
      type = 'http-tracker.error';
      text = `http-tracker undecodable: ${e.error.message}`;
      fields = { code: e.error.code, at: e.error.offset };
    }
    this.countOther(type);
    s[dir].messages++;
    if (!this.wantsEvents) return;
    const frame = 'frame' in e ? e.frame : () => ({ title: 'HTTP (undecodable)', bytes: new Uint8Array(0), base: e.offset, fields: [] });
    this.emit({
      time: this.now,
      stream: s.id,
      direction: dir,
      src: dir === 'out' ? s.a : s.b,
      dst: dir === 'out' ? s.b : s.a,
      transport: 'tcp',
      protocol: 'http-tracker',
      type,
      text,
      offset: e.offset,
      end: e.end,
      packets: [this.currentPacket],
      fields,
      frame: () => withMeta(frame(), { stream: s.id }),
    });
  }

  // ------------------------------------------------------------ UDP

  private udpPacket(t: TransportPacket): void {
    const src = endpointText(t.src, t.srcPort);
    const dst = endpointText(t.dst, t.dstPort);
    const b = t.payload;
    const known = this.udpKinds.get(`${src}|${dst}`);
    if (known === 'utp' && looksLikeUtp(b)) return this.utpPacket(t, src, dst);
    if (looksLikeLsd(b)) return this.lsdPacket(t, src, dst);
    if (b.length > 0 && b[0] === 0x64 && b[b.length - 1] === 0x65 && this.dhtPacket(t, src, dst)) return;
    if (known === 'udp-tracker' || this.looksLikeUdpTracker(b, src, dst)) {
      if (this.udpTrackerPacket(t, src, dst)) return;
    }
    if (looksLikeUtp(b)) return this.utpPacket(t, src, dst);
    this.skipped['UDP, not BitTorrent'] = (this.skipped['UDP, not BitTorrent'] ?? 0) + 1;
  }

  private udpStream(protocol: TraceProtocol, a: string, b: string, label: string): { s: StreamSummary; dir: TraceDirection } {
    const key = `${protocol}|${a}|${b}`;
    let s = this.udpStreams.get(key);
    if (s) return { s, dir: 'out' };
    s = this.udpStreams.get(`${protocol}|${b}|${a}`);
    if (s) return { s, dir: 'in' };
    s = this.newStream('udp', protocol, a, b, label, true);
    this.udpStreams.set(key, s);
    return { s, dir: 'out' };
  }

  private datagramEvent(s: StreamSummary, dir: TraceDirection, t: TransportPacket, protocol: TraceProtocol, type: string, text: string, fields: Record<string, unknown>, frame: () => Frame, diagnostics?: Diagnostic[]): void {
    this.countOther(type);
    s[dir].messages++;
    s[dir].bytes += t.payload.length;
    s.lastTime = this.now;
    if (!this.wantsEvents) return;
    const packet = this.currentPacket;
    this.emit({
      time: this.now,
      stream: s.id,
      direction: dir,
      src: dir === 'out' ? s.a : s.b,
      dst: dir === 'out' ? s.b : s.a,
      transport: 'udp',
      protocol,
      type,
      text,
      offset: t.payloadOffset,
      end: t.payloadOffset + t.payload.length,
      packets: t.fragments ?? [packet],
      fields,
      ...(diagnostics && diagnostics.length ? { diagnostics } : {}),
      frame: () => withMeta(frame(), { stream: s.id, packet }),
    });
  }

  private lsdPacket(t: TransportPacket, src: string, dst: string): void {
    const { s, dir } = this.udpStream('lsd', src, dst, 'LSD (BEP 14)');
    const a = decodeLsd(t.payload, t.payloadOffset);
    const text = `lsd announce port=${a.port ?? '?'} info_hash=${a.infoHashes.map(toHex).join(',') || '?'}${a.cookie ? ` cookie=${a.cookie}` : ''}`;
    this.datagramEvent(s, dir, t, 'lsd', 'lsd.announce', text, { port: a.port, infoHashes: a.infoHashes.map(toHex), cookie: a.cookie }, () => lsdFrame(t.payload, t.payloadOffset, a), a.diagnostics);
  }

  private dhtPacket(t: TransportPacket, src: string, dst: string): boolean {
    let decoded;
    try {
      decoded = decodeKrpc(t.payload, t.payloadOffset);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      return false;
    }
    const m = decoded.message;
    // The querier is `a`: a stream begins with whoever asked first.
    const { s, dir } = m.y === 'q' ? this.udpStream('dht', src, dst, 'DHT (BEP 5)') : this.udpStream('dht', dst, src, 'DHT (BEP 5)');
    const realDir: TraceDirection = src === s.a ? 'out' : 'in';
    void dir;
    const thex = toHex(m.t);
    let text = `dht ${krpcSummary(m)}`;
    const type = m.y === 'q' ? `dht.${m.method || 'query'}` : m.y === 'r' ? 'dht.response' : m.y === 'e' ? 'dht.error' : 'dht.unknown';
    const fields: Record<string, unknown> = { y: m.y, t: thex, ...(m.y === 'q' ? { q: m.method } : {}) };
    if (m.y === 'q') {
      if (this.pendingDht.size >= this.maxPending) this.pendingDht.delete(this.pendingDht.keys().next().value!);
      this.pendingDht.set(`${src}|${dst}|${thex}`, { time: this.now, method: m.method, stream: s.id, client: src, server: dst, t: thex });
    } else {
      const key = `${dst}|${src}|${thex}`;
      const q = this.pendingDht.get(key);
      if (q) {
        this.pendingDht.delete(key);
        const rtt = this.now - q.time;
        text += ` (${q.method}, rtt=${(rtt * 1000).toFixed(1)}ms)`;
        fields['rtt'] = rtt;
        fields['method'] = q.method;
        this.transaction({ protocol: 'dht', stream: s.id, kind: q.method, client: q.client, server: q.server, transactionId: thex, requestTime: q.time, responseTime: this.now, rtt, outcome: m.y === 'e' ? `error ${m.code}` : 'response' });
      }
    }
    this.datagramEvent(s, realDir, t, 'dht', type, text, fields, () => krpcFrame(t.payload, t.payloadOffset, decoded), decoded.diagnostics);
    return true;
  }

  private looksLikeUdpTracker(b: Uint8Array, src: string, dst: string): boolean {
    if (b.length < 8) return false;
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    if (b.length >= 16 && dv.getBigUint64(0) === UDP_PROTOCOL_ID && dv.getUint32(8) === 0) return true;
    const action0 = dv.getUint32(0);
    if (action0 <= 3 && this.pendingUdpTracker.has(`${dst}|${src}|${dv.getUint32(4).toString(16).padStart(8, '0')}`)) return true;
    if (b.length >= 16) {
      const action = dv.getUint32(8);
      if (action === 1 && b.length >= 98 && dv.getUint32(80) <= 3) return true;
      if (action === 2 && (b.length - 16) % 20 === 0 && b.length > 16 && this.trackerEndpoints.has(dst)) return true;
    }
    return false;
  }

  private udpTrackerPacket(t: TransportPacket, src: string, dst: string): boolean {
    const b = t.payload;
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    const isRequest =
      (b.length >= 16 && dv.getBigUint64(0) === UDP_PROTOCOL_ID) ||
      (b.length >= 16 && !this.pendingUdpTracker.has(`${dst}|${src}|${dv.getUint32(4).toString(16).padStart(8, '0')}`) && (dv.getUint32(8) === 1 || dv.getUint32(8) === 2));
    let msg: UdpMessage;
    let frame: Frame;
    try {
      const r = decodeUdpPacket(b, t.payloadOffset, isRequest ? 'request' : 'response', { family: t.ipVersion === 6 ? 6 : 4 });
      msg = r.message;
      frame = r.frame;
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      return false;
    }
    const client = isRequest ? src : dst;
    const server = isRequest ? dst : src;
    this.trackerEndpoints.add(server);
    this.udpKinds.set(`${src}|${dst}`, 'udp-tracker');
    this.udpKinds.set(`${dst}|${src}`, 'udp-tracker');
    const { s } = this.udpStream('udp-tracker', client, server, 'UDP tracker (BEP 15)');
    const dir: TraceDirection = isRequest ? 'out' : 'in';
    const tx = ((msg as { transactionId?: number }).transactionId ?? 0) >>> 0;
    const txHex = tx.toString(16).padStart(8, '0');
    let text = udpTrackerText(msg);
    const fields: Record<string, unknown> = { kind: msg.kind, transactionId: txHex };
    if (msg.kind === 'announce_request') {
      s.infoHash ??= toHex(msg.infoHash);
      fields['infoHash'] = toHex(msg.infoHash);
    }
    if (isRequest) {
      if (this.pendingUdpTracker.size >= this.maxPending) this.pendingUdpTracker.delete(this.pendingUdpTracker.keys().next().value!);
      this.pendingUdpTracker.set(`${client}|${server}|${txHex}`, { time: this.now, kind: msg.kind.replace('_request', ''), stream: s.id, client, server, tx: txHex });
    } else {
      const key = `${client}|${server}|${txHex}`;
      const q = this.pendingUdpTracker.get(key);
      if (q) {
        this.pendingUdpTracker.delete(key);
        const rtt = this.now - q.time;
        text += ` rtt=${(rtt * 1000).toFixed(1)}ms`;
        fields['rtt'] = rtt;
        this.transaction({
          protocol: 'udp-tracker',
          stream: s.id,
          kind: q.kind,
          client,
          server,
          transactionId: txHex,
          requestTime: q.time,
          responseTime: this.now,
          rtt,
          outcome: msg.kind === 'error' ? `error: ${msg.message}` : msg.kind === 'announce_response' ? `${msg.peers.length} peers` : msg.kind.replace('_response', ''),
        });
      }
    }
    this.datagramEvent(s, dir, t, 'udp-tracker', `udp-tracker.${msg.kind}`, text, fields, () => frame, frame.diagnostics as Diagnostic[] | undefined);
    return true;
  }

  private utpPacket(t: TransportPacket, src: string, dst: string): void {
    let h: UtpHeader;
    try {
      h = decodeUtpHeader(t.payload, t.payloadOffset);
    } catch {
      this.skipped['UDP, not BitTorrent'] = (this.skipped['UDP, not BitTorrent'] ?? 0) + 1;
      return;
    }
    this.countOther('utp.packets');
    this.udpKinds.set(`${src}|${dst}`, 'utp');
    this.udpKinds.set(`${dst}|${src}`, 'utp');
    let entry = this.utp.get(`${src}>${dst}#${h.connectionId}`);
    if (!entry || (h.type === UTP_TYPE.ST_SYN && entry.conn.synSeen && entry.dir === 'out' && entry.conn.out.offset > 0)) {
      const syn = h.type === UTP_TYPE.ST_SYN;
      const summary = this.newStream('utp', 'peer', src, dst, 'no payload', syn);
      const conn = { summary, synSeen: syn } as UtpConn;
      conn.peer = this.newPeerStream(summary);
      const sink = (dir: TraceDirection): StreamSink => ({
        data: (offset, bytes, packet) => conn.peer[dir].data(offset, bytes, packet, conn.synSeen),
        gap: (offset, length) => conn.peer[dir].gap(offset, length),
      });
      conn.out = new UtpDirection(sink('out'));
      conn.in = new UtpDirection(sink('in'));
      const id = h.connectionId;
      if (syn) {
        this.utp.set(`${src}>${dst}#${id}`, { conn, dir: 'out' });
        this.utp.set(`${src}>${dst}#${(id + 1) & 0xffff}`, { conn, dir: 'out' });
        this.utp.set(`${dst}>${src}#${id}`, { conn, dir: 'in' });
      } else {
        this.utp.set(`${src}>${dst}#${id}`, { conn, dir: 'out' });
        for (const alt of [(id - 1) & 0xffff, (id + 1) & 0xffff]) if (!this.utp.has(`${dst}>${src}#${alt}`)) this.utp.set(`${dst}>${src}#${alt}`, { conn, dir: 'in' });
      }
      entry = { conn, dir: 'out' };
    }
    const { conn, dir } = entry;
    conn.summary.lastTime = this.now;
    conn[other(dir)].acknowledged(h.ackNr, this.currentPacket);
    conn[dir].packet(h, t.payload.subarray(h.payloadStart), this.currentPacket);
  }

  private transaction(t: Transaction): void {
    if (this.transactions.length < this.maxTransactions) this.transactions.push(t);
    else this.transactionsDropped++;
  }
}
