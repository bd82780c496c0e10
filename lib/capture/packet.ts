import type { Diagnostic } from '../core/diagnostic.js';

/**
 * One captured packet as a capture file holds it: the link-layer bytes (a view
 * into the reader's buffer, never copied), when it was seen and on which
 * interface. `fileOffset` is the absolute offset of `data[0]` in the capture
 * file, so every span below can point back at the file's bytes.
 */
export interface CapturedPacket {
  /** 1-based frame number, as Wireshark counts. */
  readonly number: number;
  /** Seconds since the epoch (microsecond precision or better). */
  readonly time: number;
  /** Link type (LINKTYPE_* from tcpdump.org/linktypes.html). */
  readonly linkType: number;
  readonly data: Uint8Array;
  /** Length on the wire; more than data.length when the snaplen cut it. */
  readonly originalLength: number;
  readonly interfaceId: number;
  readonly fileOffset: number;
  /**
   * Where `data` lies, when the reader can say so without making the view:
   * `data` is `buffer[start, end)`. A dissector reads the headers there, so
   * no view is made per packet unless `data` is asked for. Like `data`, valid
   * only while the packet is being delivered (the reader may reuse its buffer).
   */
  readonly buffer?: Uint8Array;
  readonly start?: number;
  readonly end?: number;
}

export type CaptureFormat = 'pcap' | 'pcap-ns' | 'pcapng';

/** A push reader over a capture file's bytes (any chunking). */
export interface CaptureReader {
  readonly format: CaptureFormat;
  /** Feed the next bytes of the file; packets are delivered synchronously. */
  push(chunk: Uint8Array): void;
  /** The file ended: diagnostics for a truncated last record. */
  end(): Diagnostic[];
  /** Soft findings so far (timestamps going back, unknown blocks...). */
  readonly diagnostics: Diagnostic[];
  /** Bytes consumed so far. */
  readonly offset: number;
}

export type PacketSink = (packet: CapturedPacket) => void;

/** Limits for hostile captures. */
export interface CaptureLimits {
  /** Largest packet record (or pcapng block) accepted; bigger is a hard error. */
  maxRecordLength: number;
  /** Cap on the number of diagnostics kept (the rest are counted). */
  maxDiagnostics: number;
}

export const DEFAULT_CAPTURE_LIMITS: Readonly<CaptureLimits> = {
  maxRecordLength: 16 * 1024 * 1024,
  maxDiagnostics: 1000,
};
