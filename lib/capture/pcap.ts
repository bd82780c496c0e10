import { DecodeError } from '../core/errors.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import { fillCarry } from './carry.js';
import { DEFAULT_CAPTURE_LIMITS, type CaptureLimits, type CaptureReader, type CapturedPacket, type PacketSink } from './packet.js';

const GLOBAL_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;

/** Classic pcap magics (pcap-savefile(5)): microsecond and nanosecond timestamps. */
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;

/**
 * Classic pcap (pcap-savefile(5)), read as a stream: a 24-byte file header,
 * then records of a 16-byte header (seconds, micro- or nanoseconds, captured
 * length, length on the wire) and the packet's bytes, in the byte order the
 * magic shows.
 *
 * Our own reader, not the pcap-parser package the first version used: that
 * one emits three events, allocates a header object and two Buffer views per
 * record and concatenates every chunk onto the previous remainder, which took
 * most of the time of a trace of a real (MTU-sized, ~180 000 packets per
 * 256 MiB) capture. Here a record inside a chunk is handed on as a view (no
 * copy); only a record split across chunks is copied together, once. A record
 * longer than the limit is a hard DecodeError at its length field, before its
 * body is buffered.
 */
export class PcapReader implements CaptureReader {
  format: 'pcap' | 'pcap-ns' = 'pcap';
  readonly diagnostics: Diagnostic[] = [];
  private readonly limits: CaptureLimits;
  private little = true;
  private linkType = -1;
  /** Timestamp fraction unit: 1e-6 or 1e-9 seconds. */
  private unit = 1e-6;
  private headerSeen = false;
  /** Absolute file offset of the next unparsed byte. */
  private consumed = 0;
  /** A file header or record split across chunks: its bytes so far (sized to what it needs). */
  private carry: Uint8Array | undefined;
  private carryLength = 0;
  private number = 0;
  private lastTime = -Infinity;
  /** Records whose timestamp went back (the first is a diagnostic, the rest are counted). */
  backwards = 0;

  constructor(
    private readonly sink: PacketSink,
    limits: Partial<CaptureLimits> = {},
  ) {
    this.limits = { ...DEFAULT_CAPTURE_LIMITS, ...limits };
  }

  get offset(): number {
    return this.consumed;
  }

  push(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.carry) {
      // Complete what was split across chunks: first its header, then its body.
      const headLength = this.headerSeen ? RECORD_HEADER_LENGTH : GLOBAL_HEADER_LENGTH;
      if (this.carryLength < headLength) {
        ({ carry: this.carry, carryLength: this.carryLength, rest: buf } = fillCarry(this.carry, this.carryLength, buf, headLength));
        if (this.carryLength < headLength) return;
      }
      const total = this.headerSeen ? RECORD_HEADER_LENGTH + this.recordLength(this.carry, 0) : GLOBAL_HEADER_LENGTH;
      ({ carry: this.carry, carryLength: this.carryLength, rest: buf } = fillCarry(this.carry, this.carryLength, buf, total));
      if (this.carryLength < total) return;
      const whole = this.carry;
      this.carry = undefined;
      this.carryLength = 0;
      if (this.headerSeen) this.record(whole, 0, total - RECORD_HEADER_LENGTH);
      else this.fileHeader(whole, 0);
    }
    let at = 0;
    if (!this.headerSeen && buf.length > 0) {
      if (buf.length < GLOBAL_HEADER_LENGTH) return this.keep(buf, 0, GLOBAL_HEADER_LENGTH);
      this.fileHeader(buf, 0);
      at = GLOBAL_HEADER_LENGTH;
    }
    const n = buf.length;
    while (at < n) {
      if (n - at < RECORD_HEADER_LENGTH) return this.keep(buf, at, RECORD_HEADER_LENGTH);
      const caplen = this.recordLength(buf, at);
      if (n - at < RECORD_HEADER_LENGTH + caplen) return this.keep(buf, at, RECORD_HEADER_LENGTH + caplen);
      this.record(buf, at, caplen);
      at += RECORD_HEADER_LENGTH + caplen;
    }
  }

  end(): Diagnostic[] {
    if (this.backwards > 1) {
      this.diagnostics.push(diagnostic('time_backwards', 'note', `timestamps went back ${this.backwards} times in all (packets are kept in file order)`, { start: 0, end: 0 }));
    }
    if (!this.headerSeen) {
      throw new DecodeError('unexpected_eof', this.carryLength, 'capture ends inside the pcap file header');
    }
    const out: Diagnostic[] = [];
    if (this.carryLength > 0) {
      const d = diagnostic(
        'truncated_record',
        'warning',
        `capture ends inside packet record ${this.number + 1}: ${this.carryLength} bytes left over (the file was cut short)`,
        { start: this.consumed, end: this.consumed + this.carryLength },
      );
      out.push(d);
      this.diagnostics.push(d);
    }
    return out;
  }

  /** Hold buf[at, ...) until `need` bytes of this header or record are in. */
  private keep(buf: Uint8Array, at: number, need: number): void {
    this.carry = new Uint8Array(Math.max(need, buf.length - at));
    this.carry.set(buf.subarray(at));
    this.carryLength = buf.length - at;
  }

  private fileHeader(b: Uint8Array, at: number): void {
    const magicLE = (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
    const magicBE = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
    if (magicLE === PCAP_MAGIC_US || magicLE === PCAP_MAGIC_NS) this.little = true;
    else if (magicBE === PCAP_MAGIC_US || magicBE === PCAP_MAGIC_NS) this.little = false;
    else throw new DecodeError('bad_magic', this.consumed, `not a pcap file: magic ${magicBE.toString(16).padStart(8, '0')}`);
    if ((this.little ? magicLE : magicBE) === PCAP_MAGIC_NS) {
      this.unit = 1e-9;
      this.format = 'pcap-ns';
    }
    const major = this.u16(b, at + 4);
    const minor = this.u16(b, at + 6);
    if (major !== 2) this.note('pcap_version', `pcap version ${major}.${minor}, expected 2.4`, this.consumed + 4, this.consumed + 8);
    // Bits 26-31 are FCS information, not the link type (pcap-savefile(5)).
    this.linkType = this.u32(b, at + 20) & 0x03ffffff;
    this.headerSeen = true;
    this.consumed += GLOBAL_HEADER_LENGTH;
  }

  /** The captured length of the record whose header is at `at`, checked against the limit. */
  private recordLength(b: Uint8Array, at: number): number {
    const caplen = this.u32(b, at + 8);
    if (caplen > this.limits.maxRecordLength) {
      throw new DecodeError(
        'limit_exceeded',
        this.consumed + 8,
        `pcap record ${this.number + 1} claims ${caplen} captured bytes (limit ${this.limits.maxRecordLength}): the file is corrupt`,
      );
    }
    return caplen;
  }

  private record(b: Uint8Array, at: number, caplen: number): void {
    const headerOffset = this.consumed;
    const seconds = this.u32(b, at);
    const fraction = this.u32(b, at + 4);
    const origlen = this.u32(b, at + 12);
    const time = seconds + fraction * this.unit;
    const fileOffset = headerOffset + RECORD_HEADER_LENGTH;
    this.consumed = fileOffset + caplen;
    this.number++;
    if (caplen > origlen) {
      this.note('caplen_exceeds_len', `record ${this.number}: captured length ${caplen} > length on the wire ${origlen}`, headerOffset + 8, headerOffset + 16);
    }
    if (time < this.lastTime && this.backwards++ === 0) {
      this.note('time_backwards', `record ${this.number}: timestamp goes back ${(this.lastTime - time).toFixed(6)} s`, headerOffset, headerOffset + 8);
    }
    if (time > this.lastTime) this.lastTime = time;
    const start = at + RECORD_HEADER_LENGTH;
    this.sink(new PcapRecord(this.number, time, this.linkType, origlen, fileOffset, b, start, start + caplen));
  }

  private u32(b: Uint8Array, at: number): number {
    return this.little
      ? (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0
      : ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  }

  private u16(b: Uint8Array, at: number): number {
    return this.little ? b[at]! | (b[at + 1]! << 8) : (b[at]! << 8) | b[at + 1]!;
  }

  private note(code: string, message: string, start: number, end: number): void {
    if (this.diagnostics.length < this.limits.maxDiagnostics) this.diagnostics.push(diagnostic(code, 'warning', message, { start, end }));
  }
}

/**
 * A classic pcap record as delivered: its bytes are `buffer[start, end)`, and
 * the `data` view is made only when asked (the tracer's dissector reads the
 * headers in place: one typed-array view less per packet).
 */
class PcapRecord implements CapturedPacket {
  readonly interfaceId = 0;
  private view: Uint8Array | undefined;

  constructor(
    readonly number: number,
    readonly time: number,
    readonly linkType: number,
    readonly originalLength: number,
    readonly fileOffset: number,
    readonly buffer: Uint8Array,
    readonly start: number,
    readonly end: number,
  ) {}

  get data(): Uint8Array {
    return (this.view ??= this.buffer.subarray(this.start, this.end));
  }
}
