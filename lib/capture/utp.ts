import { DecodeError } from '../core/errors.js';
import { field, type Field, type FieldDef, type Frame } from '../core/field.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import type { StreamSink } from './tcp-reassembly.js';
import { ownedCopy } from './copy.js';

/** uTP packet types (BEP 29). */
export const UTP_TYPE = { ST_DATA: 0, ST_FIN: 1, ST_STATE: 2, ST_RESET: 3, ST_SYN: 4 } as const;
export const UTP_TYPE_NAMES: Readonly<Record<number, string>> = { 0: 'ST_DATA', 1: 'ST_FIN', 2: 'ST_STATE', 3: 'ST_RESET', 4: 'ST_SYN' };
/** Extension types (BEP 29): 1 selective ack; 2 extension bits (libutp). */
export const UTP_EXTENSION_NAMES: Readonly<Record<number, string>> = { 0: 'none', 1: 'selective ack', 2: 'extension bits' };

export const UTP_FIELDS = {
  type: { id: 'utp.type', label: 'type', bep: 29, valueNames: UTP_TYPE_NAMES },
  version: { id: 'utp.version', label: 'version', bep: 29 },
  extension: { id: 'utp.extension', label: 'first extension', bep: 29, valueNames: UTP_EXTENSION_NAMES },
  connectionId: { id: 'utp.connection_id', label: 'connection id', bep: 29 },
  timestamp: { id: 'utp.timestamp_microseconds', label: 'timestamp (µs)', bep: 29 },
  timestampDifference: { id: 'utp.timestamp_difference_microseconds', label: 'timestamp difference (µs)', bep: 29 },
  windowSize: { id: 'utp.wnd_size', label: 'window size', bep: 29 },
  seqNr: { id: 'utp.seq_nr', label: 'seq_nr', bep: 29 },
  ackNr: { id: 'utp.ack_nr', label: 'ack_nr', bep: 29 },
  ext: { id: 'utp.ext', label: 'extension', bep: 29, valueNames: UTP_EXTENSION_NAMES },
  extNext: { id: 'utp.ext.next', label: 'next extension', bep: 29, valueNames: UTP_EXTENSION_NAMES },
  extLength: { id: 'utp.ext.len', label: 'length', bep: 29 },
  sack: { id: 'utp.ext.sack', label: 'selective ack bitmask', bep: 29 },
  extData: { id: 'utp.ext.data', label: 'extension data', bep: 29 },
  payload: { id: 'utp.payload', label: 'payload', bep: 29 },
} as const satisfies Record<string, FieldDef>;

export interface UtpExtension {
  readonly type: number;
  readonly data: Uint8Array;
  readonly start: number;
  readonly end: number;
}

export interface UtpHeader {
  readonly type: number;
  readonly version: number;
  readonly connectionId: number;
  readonly timestamp: number;
  readonly timestampDifference: number;
  readonly windowSize: number;
  readonly seqNr: number;
  readonly ackNr: number;
  readonly extensions: readonly UtpExtension[];
  /** Packets after ack_nr + 1 that the sender has (from the selective ack bitmask). */
  readonly selectiveAcks?: readonly number[];
  /** Offset of the payload in the datagram. */
  readonly payloadStart: number;
}

/**
 * The uTP header (BEP 29: 20 bytes, then a chain of extensions) at the start
 * of a UDP payload. Throws DecodeError for what is not uTP.
 */
export function decodeUtpHeader(b: Uint8Array, base = 0): UtpHeader {
  if (b.length < 20) throw new DecodeError('unexpected_eof', base + b.length, `uTP header needs 20 bytes, datagram has ${b.length}`);
  const type = b[0]! >> 4;
  const version = b[0]! & 0x0f;
  if (version !== 1) throw new DecodeError('invalid_value', base, `uTP version ${version}, expected 1`, 'version');
  if (type > 4) throw new DecodeError('invalid_value', base, `uTP type ${type} is not one of ST_DATA..ST_SYN`, 'type');
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  let next = b[1]!;
  let at = 20;
  const extensions: UtpExtension[] = [];
  let selectiveAcks: number[] | undefined;
  const ackNr = dv.getUint16(18);
  for (let i = 0; next !== 0; i++) {
    if (i >= 16) throw new DecodeError('limit_exceeded', base + at, 'more than 16 uTP extensions');
    if (at + 2 > b.length) throw new DecodeError('unexpected_eof', base + at, 'uTP extension header runs past the datagram', 'extension');
    const len = b[at + 1]!;
    if (at + 2 + len > b.length) throw new DecodeError('unexpected_eof', base + at + 1, `uTP extension of ${len} bytes runs past the datagram`, 'extension');
    const data = b.subarray(at + 2, at + 2 + len);
    if (next === 1) {
      selectiveAcks = [];
      for (let byte = 0; byte < len; byte++)
        for (let bit = 0; bit < 8; bit++) if (data[byte]! & (1 << bit)) selectiveAcks.push((ackNr + 2 + byte * 8 + bit) & 0xffff);
    }
    extensions.push({ type: next, data, start: base + at, end: base + at + 2 + len });
    next = b[at]!;
    at += 2 + len;
  }
  return {
    type,
    version,
    connectionId: dv.getUint16(2),
    timestamp: dv.getUint32(4),
    timestampDifference: dv.getUint32(8),
    windowSize: dv.getUint32(12),
    seqNr: dv.getUint16(16),
    ackNr,
    extensions,
    ...(selectiveAcks ? { selectiveAcks } : {}),
    payloadStart: at,
  };
}

/** Is this UDP payload plausibly uTP? (version 1, known type, sound extension chain; SYN/STATE carry no payload.) */
export function looksLikeUtp(b: Uint8Array): boolean {
  if (b.length < 20 || (b[0]! & 0x0f) !== 1 || b[0]! >> 4 > 4 || b[1]! > 2) return false;
  try {
    const h = decodeUtpHeader(b);
    if ((h.type === UTP_TYPE.ST_SYN || h.type === UTP_TYPE.ST_STATE) && h.payloadStart !== b.length) return false;
    return true;
  } catch {
    return false;
  }
}

/** The uTP header as an annotated frame (for --frames). */
export function utpHeaderFields(b: Uint8Array, base: number, h: UtpHeader): Field[] {
  const F = UTP_FIELDS;
  const s = (a: number, e: number) => ({ start: base + a, end: base + e });
  const fields: Field[] = [
    field(F.type, s(0, 1), h.type, { display: `${UTP_TYPE_NAMES[h.type]} (${h.type}), version ${h.version}` }),
    field(F.extension, s(1, 2), b[1]!),
    field(F.connectionId, s(2, 4), h.connectionId),
    field(F.timestamp, s(4, 8), h.timestamp),
    field(F.timestampDifference, s(8, 12), h.timestampDifference),
    field(F.windowSize, s(12, 16), h.windowSize),
    field(F.seqNr, s(16, 18), h.seqNr),
    field(F.ackNr, s(18, 20), h.ackNr),
  ];
  for (const e of h.extensions) {
    const at = e.start - base;
    const children = [
      field(F.extNext, s(at, at + 1), b[at]!),
      field(F.extLength, s(at + 1, at + 2), e.data.length),
      e.type === 1
        ? field(F.sack, s(at + 2, e.end - base), e.data, { display: `acked: ${(h.selectiveAcks ?? []).join(', ') || 'none'}` })
        : field(F.extData, s(at + 2, e.end - base), e.data),
    ];
    fields.push(field(F.ext, { start: e.start, end: e.end }, e.type, { children }));
  }
  return fields;
}

export function utpFrame(b: Uint8Array, base: number, h: UtpHeader, meta?: Record<string, string | number>): Frame {
  const fields = utpHeaderFields(b, base, h);
  if (h.payloadStart < b.length) fields.push(field(UTP_FIELDS.payload, { start: base + h.payloadStart, end: base + b.length }, undefined, { display: `${b.length - h.payloadStart} bytes (peer wire)` }));
  return { title: `uTP ${UTP_TYPE_NAMES[h.type]}`, bytes: b, base, fields, ...(meta ? { meta } : {}) };
}

export interface UtpLimits {
  /** Out-of-order packets held per direction before the hole in front is given up. */
  maxPendingPackets: number;
}

/**
 * One direction of a uTP connection put back in order by seq_nr (16-bit,
 * wrapping). Offsets count the payload bytes delivered; a lost packet's length
 * is unknown, so a gap is reported with length 0 and the number of packets.
 */
export class UtpDirection {
  private next: number | undefined;
  offset = 0;
  private pending = new Map<number, { bytes: Uint8Array; packet: number }>();
  readonly stats = { packets: 0, duplicates: 0, outOfOrder: 0, gaps: 0, missingPackets: 0 };
  readonly diagnostics: Diagnostic[] = [];

  constructor(
    private readonly sink: StreamSink,
    private readonly limits: UtpLimits = { maxPendingPackets: 1024 },
  ) {}

  packet(h: UtpHeader, payload: Uint8Array, packet: number): void {
    if (h.type === UTP_TYPE.ST_SYN) {
      this.next ??= (h.seqNr + 1) & 0xffff;
      return;
    }
    // A STATE packet's seq_nr is the next one its sender will use (BEP 29).
    if (h.type === UTP_TYPE.ST_STATE) {
      this.next ??= h.seqNr;
      return;
    }
    if (h.type !== UTP_TYPE.ST_DATA && h.type !== UTP_TYPE.ST_FIN) return;
    if (h.type === UTP_TYPE.ST_FIN && payload.length === 0) return;
    this.stats.packets++;
    this.next ??= h.seqNr;
    const d = (h.seqNr - this.next) & 0xffff;
    if (d >= 0x8000 || this.pending.has(h.seqNr)) {
      this.stats.duplicates++;
      return;
    }
    if (d === 0) {
      this.deliver(payload, packet);
      this.drain();
      return;
    }
    this.stats.outOfOrder++;
    this.pending.set(h.seqNr, { bytes: ownedCopy(payload), packet });
    if (this.pending.size > this.limits.maxPendingPackets) this.skipToFirst(packet, 'buffer_full');
  }

  /** The other side acknowledged up to ack_nr: earlier holes will not be filled. */
  acknowledged(ackNr: number, packet: number): void {
    if (this.next === undefined || this.pending.size === 0) return;
    const d = (ackNr - this.next) & 0xffff;
    if (d >= 0x8000) return;
    this.skipToFirst(packet, 'acked_unseen');
  }

  flush(packet: number): void {
    while (this.pending.size > 0) this.skipToFirst(packet, 'capture_end');
  }

  private deliver(bytes: Uint8Array, packet: number): void {
    if (bytes.length > 0) this.sink.data(this.offset, bytes, packet);
    this.offset += bytes.length;
    this.next = ((this.next ?? 0) + 1) & 0xffff;
  }

  private drain(): void {
    for (;;) {
      const p = this.pending.get(this.next!);
      if (!p) return;
      this.pending.delete(this.next!);
      this.deliver(p.bytes, p.packet);
    }
  }

  private skipToFirst(packet: number, reason: 'buffer_full' | 'acked_unseen' | 'capture_end'): void {
    let best = -1;
    let bestD = 0x10000;
    for (const seq of this.pending.keys()) {
      const d = (seq - this.next!) & 0xffff;
      if (d < bestD) {
        bestD = d;
        best = seq;
      }
    }
    if (best < 0) return;
    this.stats.gaps++;
    this.stats.missingPackets += bestD;
    if (this.diagnostics.length < 100) {
      this.diagnostics.push(diagnostic('utp_packets_missing', 'warning', `${bestD} uTP packet(s) before seq_nr ${best} not captured`, { start: this.offset, end: this.offset }));
    }
    this.sink.gap(this.offset, 0, packet, reason);
    this.next = best;
    this.drain();
  }
}
