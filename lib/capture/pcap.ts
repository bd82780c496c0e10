import { EventEmitter } from 'node:events';
import { parse as parsePcap, type PcapGlobalHeader, type PcapPacket, type PcapPacketHeader } from 'pcap-parser';
import { DecodeError } from '../core/errors.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import { DEFAULT_CAPTURE_LIMITS, type CaptureLimits, type CaptureReader, type PacketSink } from './packet.js';

const GLOBAL_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;

/** Classic pcap magics (pcap-savefile(5)): microsecond and nanosecond timestamps. */
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;

/**
 * Classic pcap through the pcap-parser package. Its parser reads from a stream
 * object; we hand it a minimal push source so each pushed chunk is parsed
 * synchronously (no buffering beyond one partial record, so memory stays flat).
 * Nanosecond files (magic a1b23c4d) get the microsecond magic in the header we
 * hand over and their fraction is read as nanoseconds. A record longer than the
 * limit is a hard DecodeError at its header's offset, before its body is
 * buffered (pcap-parser would wait for it forever).
 */
export class PcapReader implements CaptureReader {
  readonly format: 'pcap' | 'pcap-ns';
  readonly diagnostics: Diagnostic[] = [];
  private readonly source = Object.assign(new EventEmitter(), { pause() {}, resume() {} });
  private readonly limits: CaptureLimits;
  private linkType = -1;
  private nanos = false;
  private pending: DecodeError | undefined;
  private fed = 0;
  private consumed = 0;
  private number = 0;
  private lastTime = -Infinity;
  /** Records whose timestamp went back (the first is a diagnostic, the rest are counted). */
  backwards = 0;
  private headerSeen = false;
  private headerBytes: Uint8Array[] = [];
  private headerLength = 0;

  constructor(
    private readonly sink: PacketSink,
    limits: Partial<CaptureLimits> = {},
  ) {
    this.limits = { ...DEFAULT_CAPTURE_LIMITS, ...limits };
    this.format = 'pcap';
    const parser = parsePcap(this.source as never);
    parser.on('globalHeader', (h: PcapGlobalHeader) => {
      this.linkType = h.linkLayerType;
      this.consumed = GLOBAL_HEADER_LENGTH;
      if (h.majorVersion !== 2) {
        this.note('pcap_version', `pcap version ${h.majorVersion}.${h.minorVersion}, expected 2.4`, 4, 8);
      }
    });
    parser.on('packetHeader', (h: PcapPacketHeader) => {
      if (h.capturedLength > this.limits.maxRecordLength) {
        throw new DecodeError(
          'limit_exceeded',
          this.consumed + 8,
          `pcap record ${this.number + 1} claims ${h.capturedLength} captured bytes (limit ${this.limits.maxRecordLength}): the file is corrupt`,
        );
      }
      if (h.capturedLength > h.originalLength) {
        this.note('caplen_exceeds_len', `record ${this.number + 1}: captured length ${h.capturedLength} > length on the wire ${h.originalLength}`, this.consumed + 8, this.consumed + 16);
      }
    });
    parser.on('packet', (p: PcapPacket) => {
      const h = p.header;
      const time = h.timestampSeconds + h.timestampMicroseconds / (this.nanos ? 1e9 : 1e6);
      const fileOffset = this.consumed + RECORD_HEADER_LENGTH;
      this.consumed = fileOffset + h.capturedLength;
      this.number++;
      if (time < this.lastTime && this.backwards++ === 0) {
        this.note('time_backwards', `record ${this.number}: timestamp goes back ${(this.lastTime - time).toFixed(6)} s`, fileOffset - 16, fileOffset - 8);
      }
      this.lastTime = Math.max(this.lastTime, time);
      const data = new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.length);
      this.sink({ number: this.number, time, linkType: this.linkType, data, originalLength: h.originalLength, interfaceId: 0, fileOffset });
    });
    parser.on('error', (e: Error) => {
      this.pending = new DecodeError('bad_magic', 0, `not a pcap file: ${e.message}`);
    });
  }

  get offset(): number {
    return this.consumed;
  }

  push(chunk: Uint8Array): void {
    if (this.pending) throw this.pending;
    let buf = chunk;
    if (!this.headerSeen) {
      // Fix the magic up before pcap-parser sees it (it knows only a1b2c3d4).
      this.headerBytes.push(chunk);
      this.headerLength += chunk.length;
      if (this.headerLength < 4) return;
      buf = concat(this.headerBytes, this.headerLength);
      this.headerBytes = [];
      this.headerSeen = true;
      const be = (buf[0]! << 24) | (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!;
      const le = (buf[3]! << 24) | (buf[2]! << 16) | (buf[1]! << 8) | buf[0]!;
      if (be >>> 0 === PCAP_MAGIC_NS || le >>> 0 === PCAP_MAGIC_NS) {
        this.nanos = true;
        (this as { format: 'pcap' | 'pcap-ns' }).format = 'pcap-ns';
        buf = buf.slice();
        if (be >>> 0 === PCAP_MAGIC_NS) buf.set([0xa1, 0xb2, 0xc3, 0xd4], 0);
        else buf.set([0xd4, 0xc3, 0xb2, 0xa1], 0);
      }
    }
    this.fed += buf.length;
    const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    this.source.emit('data', b);
    if (this.pending) throw this.pending;
  }

  end(): Diagnostic[] {
    if (this.backwards > 1) {
      this.diagnostics.push(diagnostic('time_backwards', 'note', `timestamps went back ${this.backwards} times in all (packets are kept in file order)`, { start: 0, end: 0 }));
    }
    if (!this.headerSeen && this.headerLength > 0) {
      throw new DecodeError('unexpected_eof', this.headerLength, 'capture ends inside the pcap file header');
    }
    const out: Diagnostic[] = [];
    if (this.fed > 0 && this.fed < GLOBAL_HEADER_LENGTH) {
      throw new DecodeError('unexpected_eof', this.fed, 'capture ends inside the pcap file header');
    }
    if (this.fed > this.consumed) {
      const d = diagnostic(
        'truncated_record',
        'warning',
        `capture ends inside packet record ${this.number + 1}: ${this.fed - this.consumed} bytes left over (the file was cut short)`,
        { start: this.consumed, end: this.fed },
      );
      out.push(d);
      this.diagnostics.push(d);
    }
    return out;
  }

  private note(code: string, message: string, start: number, end: number): void {
    if (this.diagnostics.length < this.limits.maxDiagnostics) this.diagnostics.push(diagnostic(code, 'warning', message, { start, end }));
  }
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
