import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import type { CapturedPacket } from '../capture/packet.js';
import { isSkipped, PacketDissector } from '../capture/transport.js';
import type { FragmentLimits } from '../capture/ip-fragments.js';
import type { ReassemblyLimits } from '../capture/tcp-reassembly.js';
import { TransactionMatcher } from './transactions.js';
import { TcpFlows } from './tcp-flows.js';
import { UdpDispatch } from './udp-dispatch.js';
import { endPeerStream, newPeerStream } from './peer-stream.js';
import type { TraceContext } from './context.js';
import type { MseSecret } from './mse-decrypt.js';
import type { DirectionSummary, StreamSummary, TraceDirection, TraceEvent, TraceProtocol, TraceSummary, TraceTransport } from './types.js';

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
  /** MSE/PE secrets from a key log: encrypted streams they open are decrypted and decoded. */
  mseSecrets?: readonly MseSecret[];
  /** IP fragment reassembly bounds (datagram size, pending datagrams and bytes, timeout in capture time). */
  fragments?: Partial<FragmentLimits>;
  /** Transactions kept for the summary (the rest are counted). */
  maxTransactions?: number;
  /** Open transactions remembered while waiting for their answer. */
  maxPending?: number;
}

const emptyDir = (): DirectionSummary => ({ bytes: 0, messages: 0, undecodedBytes: 0, gaps: 0, gapBytes: 0 });

/**
 * The wire tracer's engine: packets in (any order the capture has them),
 * decoded messages out. TCP connections are reassembled per direction and
 * recognised by content (peer wire, HTTP tracker: tcp-flows.ts); UDP
 * datagrams are DHT, LSD, uTP or UDP tracker by content, never by port
 * (udp-dispatch.ts); requests are paired with answers (transactions.ts).
 * Memory is bounded by the reassembly and search limits per stream, not by
 * the capture's size. The Tracer keeps the counts and the stream list.
 */
export class Tracer implements TraceContext {
  readonly wantsEvents: boolean;
  readonly onBlock: TracerOptions['onBlock'];
  readonly keepPieceBlocks: boolean;
  readonly transactions: TransactionMatcher;
  now = 0;
  currentPacket = 0;
  private packets = 0;
  private firstTime = NaN;
  private readonly dissector: PacketDissector;
  private readonly tcp: TcpFlows;
  private readonly udp: UdpDispatch;
  private readonly streams: StreamSummary[] = [];
  private readonly messageCounts: Record<string, number> = {};
  private readonly otherCounts: Record<string, number> = {};
  private readonly skipped: Record<string, number> = {};
  private readonly diagnostics: Diagnostic[] = [];
  private diagnosticsDropped = 0;

  constructor(private readonly options: TracerOptions = {}) {
    this.wantsEvents = options.onEvent !== undefined;
    this.onBlock = options.onBlock;
    this.keepPieceBlocks = options.keepPieceBlocks ?? (options.onEvent !== undefined || options.onBlock !== undefined);
    if (!this.keepPieceBlocks && this.onBlock) throw new RangeError('onBlock needs keepPieceBlocks');
    this.transactions = new TransactionMatcher({ maxTransactions: options.maxTransactions ?? 10_000, maxPending: options.maxPending ?? 100_000 });
    this.dissector = new PacketDissector(options.fragments);
    this.tcp = new TcpFlows(this, options.reassembly, options.mseSecrets);
    this.udp = new UdpDispatch(this);
  }

  count(type: string): void {
    this.messageCounts[type] = (this.messageCounts[type] ?? 0) + 1;
  }

  countOther(type: string): void {
    this.otherCounts[type] = (this.otherCounts[type] ?? 0) + 1;
  }

  skip(reason: string): void {
    this.skipped[reason] = (this.skipped[reason] ?? 0) + 1;
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
    if (isSkipped(t)) return this.skip(t.skip);
    if (t.proto === 'tcp') this.tcp.packet(t);
    else this.udp.packet(t);
  }

  /** The capture ended: flush every reassembler and decoder. */
  end(): TraceSummary {
    this.dissector.end();
    for (const [reason, n] of Object.entries(this.dissector.fragments.dropped)) this.skipped[`IP datagram not reassembled (${reason})`] = n;
    if (this.dissector.fragments.reassembled) this.otherCounts['ip.reassembled'] = this.dissector.fragments.reassembled;
    this.tcp.end();
    this.udp.end();
    this.transactions.end();
    if (this.diagnosticsDropped) this.diagnostics.push(diagnostic('diagnostics_dropped', 'note', `${this.diagnosticsDropped} more diagnostics not kept`, { start: 0, end: 0 }));
    if (this.transactions.dropped) this.diagnostics.push(diagnostic('transactions_dropped', 'note', `${this.transactions.dropped} more transactions not listed`, { start: 0, end: 0 }));
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
      transactions: this.transactions.list,
      skipped: { ...this.skipped },
      diagnostics: this.diagnostics,
    };
  }

  newStream(transport: TraceTransport, protocol: TraceProtocol, a: string, b: string, label: string, fromStart: boolean): StreamSummary {
    const s: StreamSummary = { id: this.streams.length + 1, transport, protocol, label, a, b, firstTime: this.now, lastTime: this.now, fromStart, out: emptyDir(), in: emptyDir() };
    this.streams.push(s);
    return s;
  }

  /**
   * Feed bytes of a stream that is not in a capture (the live proxy): returns
   * a handle taking each direction's bytes in order.
   */
  openLiveStream(a: string, b: string): { data(dir: TraceDirection, bytes: Uint8Array): void; end(): StreamSummary } {
    const summary = this.newStream('proxy', 'peer', a, b, 'peer wire', true);
    const ps = newPeerStream(this, summary);
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
        endPeerStream(ps);
        return summary;
      },
    };
  }
}
