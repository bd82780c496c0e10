import { fillCarry } from './carry.js';
import { DecodeError } from '../core/errors.js';
import { diagnostic, type Diagnostic } from '../core/diagnostic.js';
import { DEFAULT_CAPTURE_LIMITS, type CaptureLimits, type CaptureReader, type PacketSink } from './packet.js';

/** pcapng block types (draft-ietf-opsawg-pcapng, section 4 and appendix). */
export const PCAPNG_BLOCK = {
  SECTION_HEADER: 0x0a0d0d0a,
  INTERFACE_DESCRIPTION: 0x00000001,
  OBSOLETE_PACKET: 0x00000002,
  SIMPLE_PACKET: 0x00000003,
  NAME_RESOLUTION: 0x00000004,
  INTERFACE_STATISTICS: 0x00000005,
  ENHANCED_PACKET: 0x00000006,
} as const;

const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** if_tsresol (option 9) and if_tsoffset (option 14) of an Interface Description Block. */
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

interface Iface {
  linkType: number;
  snapLength: number;
  /** Seconds per timestamp unit. */
  unit: number;
  /** Whole seconds to add (if_tsoffset). */
  offsetSeconds: number;
}

/**
 * Our own streaming pcapng reader (no well-kept npm package reads pcapng as a
 * stream). Blocks are parsed in place when a chunk holds them whole; only a
 * block split across chunks is copied together. Each section has its own byte
 * order and interfaces; packets name their interface, whose link type and
 * timestamp resolution apply.
 */
export class PcapngReader implements CaptureReader {
  readonly format = 'pcapng' as const;
  readonly diagnostics: Diagnostic[] = [];
  private readonly limits: CaptureLimits;
  private little = true;
  private sectionSeen = false;
  private interfaces: Iface[] = [];
  /** Absolute file offset of the next unparsed byte. */
  private consumed = 0;
  private carry: Uint8Array | undefined;
  private carryLength = 0;
  private number = 0;
  private lastTime = -Infinity;
  /** Records whose timestamp went back (the first is a diagnostic, the rest are counted). */
  backwards = 0;
  private interfaceCount = 0;

  constructor(
    private readonly sink: PacketSink,
    limits: Partial<CaptureLimits> = {},
  ) {
    this.limits = { ...DEFAULT_CAPTURE_LIMITS, ...limits };
  }

  get offset(): number {
    return this.consumed;
  }

  /** Interfaces seen across all sections. */
  get interfacesSeen(): number {
    return this.interfaceCount;
  }

  push(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.carry) {
      // Complete the block split across chunks (copy only what it needs).
      if (this.carryLength < 12) {
        ({ carry: this.carry, carryLength: this.carryLength, rest: buf } = fillCarry(this.carry, this.carryLength, buf, 12));
        if (this.carryLength < 12) return;
      }
      const total = this.blockLength(this.carry, 0, this.consumed);
      ({ carry: this.carry, carryLength: this.carryLength, rest: buf } = fillCarry(this.carry, this.carryLength, buf, total));
      if (this.carryLength < total) return;
      const block = this.carry.subarray(0, total);
      this.carry = undefined;
      this.carryLength = 0;
      this.block(block, this.consumed);
      this.consumed += total;
    }
    let at = 0;
    while (at < buf.length) {
      const left = buf.length - at;
      if (left < 12) {
        this.carry = new Uint8Array(12);
        this.carry.set(buf.subarray(at));
        this.carryLength = left;
        return;
      }
      const total = this.blockLength(buf, at, this.consumed);
      if (total > left) {
        this.carry = new Uint8Array(total);
        this.carry.set(buf.subarray(at));
        this.carryLength = left;
        return;
      }
      this.block(buf.subarray(at, at + total), this.consumed);
      this.consumed += total;
      at += total;
    }
  }

  end(): Diagnostic[] {
    if (this.backwards > 1) {
      this.diagnostics.push(diagnostic('time_backwards', 'note', `timestamps went back ${this.backwards} times in all (packets are kept in file order)`, { start: 0, end: 0 }));
    }
    const out: Diagnostic[] = [];
    if (this.carry && this.carryLength > 0) {
      if (!this.sectionSeen) throw new DecodeError('unexpected_eof', this.consumed + this.carryLength, 'capture ends inside the pcapng section header');
      const d = diagnostic(
        'truncated_block',
        'warning',
        `capture ends inside a pcapng block: ${this.carryLength} bytes left over (the file was cut short)`,
        { start: this.consumed, end: this.consumed + this.carryLength },
      );
      out.push(d);
      this.diagnostics.push(d);
    }
    return out;
  }

  /** Reads a block's total length, learning the byte order from a Section Header Block. */
  private blockLength(buf: Uint8Array, at: number, fileOffset: number): number {
    const dv = new DataView(buf.buffer, buf.byteOffset + at, 12);
    const typeBE = dv.getUint32(0, false);
    if (typeBE === PCAPNG_BLOCK.SECTION_HEADER) {
      const magicLE = dv.getUint32(8, true);
      if (magicLE === BYTE_ORDER_MAGIC) this.little = true;
      else if (dv.getUint32(8, false) === BYTE_ORDER_MAGIC) this.little = false;
      else throw new DecodeError('bad_magic', fileOffset + 8, `pcapng section header has byte-order magic 0x${dv.getUint32(8, false).toString(16)}, expected 0x1a2b3c4d`);
      this.sectionSeen = true;
    } else if (!this.sectionSeen) {
      throw new DecodeError('bad_magic', fileOffset, 'pcapng file does not start with a Section Header Block');
    }
    const total = dv.getUint32(4, this.little);
    if (total < 12 || total % 4 !== 0) {
      throw new DecodeError('bad_length', fileOffset + 4, `pcapng block total length ${total} is not a multiple of 4 of at least 12`);
    }
    if (total > this.limits.maxRecordLength) {
      throw new DecodeError('limit_exceeded', fileOffset + 4, `pcapng block of ${total} bytes exceeds the limit of ${this.limits.maxRecordLength}`);
    }
    return total;
  }

  private block(b: Uint8Array, fileOffset: number): void {
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    const le = this.little;
    const type = dv.getUint32(0, le);
    const total = b.length;
    if (dv.getUint32(total - 4, le) !== total) {
      this.note('block_length_mismatch', `block at ${fileOffset}: trailing total length ${dv.getUint32(total - 4, le)} differs from ${total}`, fileOffset + total - 4, fileOffset + total);
    }
    switch (type) {
      case PCAPNG_BLOCK.SECTION_HEADER:
        this.interfaces = [];
        return;
      case PCAPNG_BLOCK.INTERFACE_DESCRIPTION: {
        if (total < 20) return this.note('short_block', 'Interface Description Block too short', fileOffset, fileOffset + total);
        const iface: Iface = { linkType: dv.getUint16(8, le), snapLength: dv.getUint32(12, le), unit: 1e-6, offsetSeconds: 0 };
        this.readOptions(dv, 16, total - 4, (code, at, len) => {
          if (code === OPT_IF_TSRESOL && len >= 1) {
            const v = dv.getUint8(at);
            iface.unit = v & 0x80 ? Math.pow(2, -(v & 0x7f)) : Math.pow(10, -v);
          } else if (code === OPT_IF_TSOFFSET && len >= 8) {
            iface.offsetSeconds = Number(dv.getBigInt64(at, le));
          }
        });
        this.interfaces.push(iface);
        this.interfaceCount++;
        return;
      }
      case PCAPNG_BLOCK.ENHANCED_PACKET:
      case PCAPNG_BLOCK.OBSOLETE_PACKET: {
        if (total < 32) return this.note('short_block', 'packet block too short', fileOffset, fileOffset + total);
        const epb = type === PCAPNG_BLOCK.ENHANCED_PACKET;
        const ifId = epb ? dv.getUint32(8, le) : dv.getUint16(8, le);
        const high = dv.getUint32(12, le);
        const low = dv.getUint32(16, le);
        let caplen = dv.getUint32(20, le);
        const origlen = dv.getUint32(24, le);
        if (caplen > total - 32) {
          this.note('caplen_exceeds_block', `packet claims ${caplen} captured bytes but its block holds ${total - 32}`, fileOffset + 20, fileOffset + 24);
          caplen = total - 32;
        }
        const iface = this.interfaces[ifId];
        if (!iface) return this.note('unknown_interface', `packet names interface ${ifId}, which no Interface Description Block defined`, fileOffset + 8, fileOffset + 12);
        const time = iface.offsetSeconds + (high * 4294967296 + low) * iface.unit;
        this.deliver(b.subarray(28, 28 + caplen), time, iface, ifId, origlen, fileOffset + 28, fileOffset);
        return;
      }
      case PCAPNG_BLOCK.SIMPLE_PACKET: {
        if (total < 16) return this.note('short_block', 'Simple Packet Block too short', fileOffset, fileOffset + total);
        const iface = this.interfaces[0];
        if (!iface) return this.note('unknown_interface', 'Simple Packet Block before any Interface Description Block', fileOffset, fileOffset + total);
        const origlen = dv.getUint32(8, le);
        const caplen = Math.min(origlen, total - 16, iface.snapLength || Infinity);
        this.deliver(b.subarray(12, 12 + caplen), NaN, iface, 0, origlen, fileOffset + 12, fileOffset);
        return;
      }
      default:
        return; // Name resolution, statistics, custom blocks: nothing to trace.
    }
  }

  private deliver(data: Uint8Array, time: number, iface: Iface, ifId: number, origlen: number, dataOffset: number, blockOffset: number): void {
    this.number++;
    if (time < this.lastTime && this.backwards++ === 0) {
      this.note('time_backwards', `packet ${this.number}: timestamp goes back ${(this.lastTime - time).toFixed(6)} s`, blockOffset + 12, blockOffset + 20);
    }
    if (time > this.lastTime) this.lastTime = time;
    this.sink({ number: this.number, time: Number.isNaN(time) ? this.lastTime : time, linkType: iface.linkType, data, originalLength: origlen, interfaceId: ifId, fileOffset: dataOffset });
  }

  private readOptions(dv: DataView, from: number, to: number, each: (code: number, at: number, len: number) => void): void {
    let at = from;
    while (at + 4 <= to) {
      const code = dv.getUint16(at, this.little);
      const len = dv.getUint16(at + 2, this.little);
      if (code === 0) return;
      if (at + 4 + len > to) return;
      each(code, at + 4, len);
      at += 4 + ((len + 3) & ~3);
    }
  }

  private note(code: string, message: string, start: number, end: number): void {
    if (this.diagnostics.length < this.limits.maxDiagnostics) this.diagnostics.push(diagnostic(code, 'warning', message, { start, end }));
  }
}
