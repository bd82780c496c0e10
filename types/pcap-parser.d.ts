declare module 'pcap-parser' {
  import { EventEmitter } from 'node:events';
  import { Readable } from 'node:stream';
  export interface PcapGlobalHeader {
    magicNumber: number;
    majorVersion: number;
    minorVersion: number;
    gmtOffset: number;
    timestampAccuracy: number;
    snapshotLength: number;
    linkLayerType: number;
  }
  export interface PcapPacketHeader {
    timestampSeconds: number;
    timestampMicroseconds: number;
    capturedLength: number;
    originalLength: number;
  }
  export interface PcapPacket {
    header: PcapPacketHeader;
    data: Buffer;
  }
  export function parse(input: string | Readable): EventEmitter;
}
