import { diagnostic } from '../core/diagnostic.js';
import { toHex } from '../core/bytes.js';
import { DecodeError } from '../core/errors.js';
import { decodeHandshake, reservedNames, type Handshake } from '../wire/handshake.js';
import { messageFrame, type Message } from '../wire/messages.js';
import { decodeExtendedHandshake, ExtensionIds } from '../wire/extended.js';
import { jsonValue } from '../render/json.js';
import { WireStreamDecoder, type UndecodedReason, type WireSink } from './wire-stream.js';
import { clientOf, extendedHandshakeText, handshakeText, messageText, peerIdText } from './lines.js';
import { traceEvent, type EventParts } from './events.js';
import type { TraceContext } from './context.js';
import { GAP_LIST_LIMIT, type DirectionSummary, type StreamSummary, type TraceDirection } from './types.js';

/** A peer wire conversation (TCP, uTP or proxied): both directions and the extension ids each side announced. */
export interface PeerStream {
  readonly summary: StreamSummary;
  readonly ext: ExtensionIds;
  readonly out: PeerSide;
  readonly in: PeerSide;
}

export function newPeerStream(ctx: TraceContext, summary: StreamSummary): PeerStream {
  const ps = { summary, ext: new ExtensionIds() } as { -readonly [K in keyof PeerStream]: PeerStream[K] };
  ps.out = new PeerSide(ctx, ps, 'out');
  ps.in = new PeerSide(ctx, ps, 'in');
  return ps;
}

/** Both directions ended: end their decoders and name what the stream turned out to be. */
export function endPeerStream(ps: PeerStream): void {
  ps.out.end();
  ps.in.end();
  const s = ps.summary;
  const dirs = [ps.out.decoder, ps.in.decoder].filter((d): d is WireStreamDecoder => d !== undefined);
  if (dirs.length === 0) s.label = 'no payload';
  else if (dirs.some((d) => d.synced)) s.label = dirs.some((d) => d.encryptedStart) ? 'peer wire after MSE/PE (plaintext)' : 'peer wire';
  else if (dirs.some((d) => d.encryptedStart)) s.label = 'encrypted (MSE/PE)';
  else s.label = 'unknown (probably encrypted)';
  if (!dirs.some((d) => d.synced)) s.protocol = 'unknown';
}

/** A run of stream bytes and the capture frame that carried it. */
interface Seg {
  start: number;
  end: number;
  packet: number;
}

const UNDECODED_TEXT: Record<UndecodedReason, string> = {
  encrypted: 'encrypted (MSE/PE)',
  unsynced: 'unknown (probably encrypted)',
  gap: 'cut by a capture gap',
  framing_error: 'after a framing error',
  before_sync: 'before the first frame boundary',
};

/** A peer side's event before the stream adds its packets and endpoints. */
type PeerEventParts = Omit<EventParts, 'packets' | 'where' | 'time'> & { time?: number };

/** One direction of a peer wire stream (TCP or uTP): decoded messages become counts and events. */
export class PeerSide implements WireSink {
  decoder: WireStreamDecoder | undefined;
  private segs: Seg[] = [];
  private pendingUndecoded: { offset: number; length: number; reason: UndecodedReason; time: number } | undefined;
  /** This direction's counters in the stream summary. */
  private readonly counts: DirectionSummary;

  constructor(
    private readonly ctx: TraceContext,
    private readonly stream: PeerStream,
    readonly dir: TraceDirection,
  ) {
    this.counts = stream.summary[dir];
  }

  data(offset: number, bytes: Uint8Array, packet: number, fromStart: boolean): void {
    this.decoder ??= new WireStreamDecoder(this, { fromStart: fromStart && offset === 0, keepPieceBlocks: this.ctx.keepPieceBlocks });
    this.counts.bytes += bytes.length;
    if (this.ctx.wantsEvents) this.segs.push({ start: offset, end: offset + bytes.length, packet });
    this.decoder.data(offset, bytes);
  }

  gap(offset: number, length: number): void {
    const d = this.counts;
    d.gaps++;
    d.gapBytes += length;
    this.decoder?.gap(offset, length);
  }

  resynced(offset: number, length: number, skipped: number, relocked: boolean): void {
    const list = (this.counts.gapList ??= []);
    if (list.length < GAP_LIST_LIMIT) list.push({ offset, length, skipped, relocked });
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
    this.ctx.count('handshake');
    if (!this.ctx.wantsEvents) return;
    this.emit({
      type: 'handshake',
      text: handshakeText(h),
      offset,
      end: offset + bytes.length,
      frame: () => decodeHandshake(bytes, offset).frame,
      fields: { infoHash: toHex(h.infoHash), peerId: toHex(h.peerId), client: d.client, reserved: toHex(h.reserved), extensions: d.reserved },
    });
  }

  message(m: Message, offset: number, bytes: Uint8Array): void {
    this.flushUndecoded();
    this.counts.messages++;
    this.ctx.count(m.type);
    let extName: string | undefined;
    let extraFields: Record<string, unknown> | undefined;
    if (m.type === 'extended') {
      if (m.extId === 0) {
        extName = 'handshake';
        extraFields = this.extendedHandshake(m.payload, offset);
      } else extName = this.stream.ext.nameFor(this.dir, m.extId);
    } else if (m.type === 'piece' && this.ctx.onBlock) {
      this.ctx.onBlock(m.index, m.begin, m.block, this.stream.summary.id);
    }
    if (!this.ctx.wantsEvents) return;
    const text = extraFields?.['text'] !== undefined ? (extraFields['text'] as string) : messageText(m, extName);
    const ext = this.stream.ext;
    const direction = this.dir;
    this.emit({
      type: m.type,
      text,
      offset,
      end: offset + bytes.length,
      frame: () => messageFrame(bytes.subarray(0, bytes.length), offset, m, { extensions: ext, direction }),
      fields: messageFields(m, extName, extraFields),
    });
  }

  /** BEP 10 handshake: learn the extension ids this side will use; its fields when events are wanted. */
  private extendedHandshake(payload: Uint8Array, offset: number): Record<string, unknown> | undefined {
    try {
      const h = decodeExtendedHandshake(payload, offset + 6).value;
      this.stream.ext.learn(this.dir, h);
      if (h.v !== undefined) this.counts.extendedClient = h.v;
      this.counts.extensions = [...h.m.keys()];
      if (this.ctx.wantsEvents) return { v: h.v, m: Object.fromEntries(h.m), metadataSize: h.metadataSize, text: extendedHandshakeText(h) };
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.ctx.note(diagnostic(e.code, 'warning', `stream ${this.stream.summary.id} ${this.dir}: extended handshake does not decode: ${e.message}`, { start: e.offset, end: e.offset }));
    }
    return undefined;
  }

  pieceHead(index: number, begin: number, blockLength: number, offset: number, head: Uint8Array): void {
    this.flushUndecoded();
    this.counts.messages++;
    this.ctx.count('piece');
    if (!this.ctx.wantsEvents) return;
    const frameLength = head.length + blockLength;
    this.emit({
      type: 'piece',
      text: `piece index=${index} begin=${begin} len=${blockLength}`,
      offset,
      end: offset + frameLength,
      frame: () => ({ title: `piece message (${frameLength} bytes; the block was not kept, only its head is shown)`, bytes: head, base: offset, fields: [] }),
      fields: { index, begin, length: blockLength },
    });
  }

  malformed(error: DecodeError, offset: number, bytes: Uint8Array): void {
    this.flushUndecoded();
    this.ctx.count('malformed');
    const diag = diagnostic(error.code, 'error', error.message, { start: error.offset, end: error.offset + 1 });
    this.ctx.note(diagnostic(error.code, 'warning', `stream ${this.stream.summary.id} ${this.dir} at stream offset ${error.offset}: ${error.message}`, diag.span));
    if (!this.ctx.wantsEvents) return;
    this.emit({
      type: 'malformed',
      text: `malformed: ${error.message} (${error.code} at ${error.offset})`,
      offset,
      end: offset + bytes.length,
      frame: () => ({ title: 'malformed frame', bytes, base: offset, fields: [], diagnostics: [diag] }),
      fields: { code: error.code, at: error.offset },
      diagnostics: [diag],
    });
  }

  undecoded(offset: number, length: number, reason: UndecodedReason): void {
    this.counts.undecodedBytes += length;
    const p = this.pendingUndecoded;
    if (p && p.reason === reason && p.offset + p.length === offset) {
      p.length += length;
      return;
    }
    this.flushUndecoded();
    this.pendingUndecoded = { offset, length, reason, time: this.ctx.now };
  }

  /** Undecoded runs are merged while they continue each other; one event per run. */
  private flushUndecoded(): void {
    const p = this.pendingUndecoded;
    if (!p) return;
    this.pendingUndecoded = undefined;
    if (!this.ctx.wantsEvents) return;
    const what = UNDECODED_TEXT[p.reason];
    this.emit({
      time: p.time,
      type: 'undecoded',
      text: `undecoded ${p.length} bytes: ${what}`,
      offset: p.offset,
      end: p.offset + p.length,
      frame: () => ({ title: `undecoded: ${what}`, bytes: new Uint8Array(0), base: p.offset, fields: [] }),
      fields: { length: p.length, reason: p.reason },
    });
  }

  private emit(e: PeerEventParts): void {
    const packets = this.packetsUpTo(e.offset, e.end);
    const s = this.stream.summary;
    const out = this.dir === 'out';
    const where = (): Record<string, string> => ({ flow: out ? `${s.a} → ${s.b}` : `${s.b} → ${s.a}`, packets: packets.join(',') || '-' });
    this.ctx.emit(traceEvent(s, this.dir, 'peer', { ...e, time: e.time ?? this.ctx.now, packets, where }));
  }

  /** The capture frames that carried stream bytes [offset, end); segments wholly before `end` are forgotten. */
  private packetsUpTo(offset: number, end: number): number[] {
    const packets: number[] = [];
    for (const s of this.segs) if (s.start < end && s.end > offset && packets[packets.length - 1] !== s.packet) packets.push(s.packet);
    let drop = 0;
    while (drop < this.segs.length && this.segs[drop]!.end <= end) drop++;
    if (drop > 0) this.segs.splice(0, drop);
    return packets;
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
