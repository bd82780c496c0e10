import { DecodeError } from '../core/errors.js';
import { toHex } from '../core/bytes.js';
import type { CaptureFormat, CaptureLimits, CaptureReader, PacketSink } from './packet.js';
import { PcapReader, PCAP_MAGIC_NS, PCAP_MAGIC_US } from './pcap.js';
import { PcapngReader, PCAPNG_BLOCK } from './pcapng.js';

/**
 * The capture format from its first four bytes, never from the file name
 * (Wireshark saves pcapng under any name).
 */
export function detectCaptureFormat(head: Uint8Array): CaptureFormat {
  if (head.length < 4) throw new DecodeError('unexpected_eof', head.length, 'capture shorter than its 4-byte magic number');
  const be = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
  const le = ((head[3]! << 24) | (head[2]! << 16) | (head[1]! << 8) | head[0]!) >>> 0;
  if (be === PCAPNG_BLOCK.SECTION_HEADER) return 'pcapng';
  if (be === PCAP_MAGIC_US || le === PCAP_MAGIC_US) return 'pcap';
  if (be === PCAP_MAGIC_NS || le === PCAP_MAGIC_NS) return 'pcap-ns';
  throw new DecodeError('bad_magic', 0, `not a pcap or pcapng capture: magic ${toHex(head.subarray(0, 4))}`);
}

/** A push reader for the format the first bytes name. */
export function createCaptureReader(head: Uint8Array, sink: PacketSink, limits: Partial<CaptureLimits> = {}): CaptureReader {
  const format = detectCaptureFormat(head);
  return format === 'pcapng' ? new PcapngReader(sink, limits) : new PcapReader(sink, limits);
}

/**
 * Read a whole capture from any async source of chunks (a file stream, stdin),
 * delivering packets synchronously as they are parsed: memory holds one chunk
 * and at most one partial record. The source is the caller's (no I/O here).
 */
export async function readCapture(
  source: AsyncIterable<Uint8Array>,
  sink: PacketSink,
  limits: Partial<CaptureLimits> = {},
): Promise<CaptureReader> {
  let reader: CaptureReader | undefined;
  let head: Uint8Array = new Uint8Array(0);
  for await (const chunk of source) {
    if (!reader) {
      head = head.length ? concat2(head, chunk) : chunk;
      if (head.length < 4) continue;
      reader = createCaptureReader(head, sink, limits);
      reader.push(head);
      continue;
    }
    reader.push(chunk);
  }
  if (!reader) {
    if (head.length === 0) throw new DecodeError('unexpected_eof', 0, 'capture is empty');
    detectCaptureFormat(head);
    throw new DecodeError('unexpected_eof', head.length, 'capture ends inside its header');
  }
  reader.end();
  return reader;
}

/** Read a capture held in memory (tests, fuzzing). */
export function readCaptureBytes(bytes: Uint8Array, sink: PacketSink, limits: Partial<CaptureLimits> = {}): CaptureReader {
  const reader = createCaptureReader(bytes, sink, limits);
  reader.push(bytes);
  reader.end();
  return reader;
}

function concat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
