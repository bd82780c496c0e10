/**
 * Test-only builders for capture files and packets, written from the format
 * specs (pcap-savefile(5), the pcapng draft, RFC 791/8200/9293/768) so the
 * readers are checked against bytes we control.
 */
export interface RecordSpec {
  time: number;
  data: Uint8Array;
  originalLength?: number;
  interfaceId?: number;
}

export function pcapFile(linkType: number, records: RecordSpec[], opts: { bigEndian?: boolean; nanos?: boolean; snaplen?: number } = {}): Uint8Array {
  const le = !opts.bigEndian;
  const parts: Uint8Array[] = [];
  const h = new DataView(new ArrayBuffer(24));
  h.setUint32(0, opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4, le);
  h.setUint16(4, 2, le);
  h.setUint16(6, 4, le);
  h.setUint32(16, opts.snaplen ?? 262144, le);
  h.setUint32(20, linkType, le);
  parts.push(new Uint8Array(h.buffer));
  for (const r of records) {
    const rh = new DataView(new ArrayBuffer(16));
    const sec = Math.floor(r.time);
    rh.setUint32(0, sec, le);
    rh.setUint32(4, Math.round((r.time - sec) * (opts.nanos ? 1e9 : 1e6)), le);
    rh.setUint32(8, r.data.length, le);
    rh.setUint32(12, r.originalLength ?? r.data.length, le);
    parts.push(new Uint8Array(rh.buffer), r.data);
  }
  return concat(parts);
}

export interface IfaceSpec {
  linkType: number;
  /** if_tsresol byte (default 6 = microseconds). */
  tsresol?: number;
  snaplen?: number;
}

export function pcapngFile(ifaces: IfaceSpec[], records: RecordSpec[], opts: { bigEndian?: boolean; simple?: boolean } = {}): Uint8Array {
  const le = !opts.bigEndian;
  const blocks: Uint8Array[] = [];
  const block = (type: number, body: Uint8Array): void => {
    const total = 12 + ((body.length + 3) & ~3);
    const b = new DataView(new ArrayBuffer(total));
    b.setUint32(0, type, le);
    b.setUint32(4, total, le);
    new Uint8Array(b.buffer).set(body, 8);
    b.setUint32(total - 4, total, le);
    blocks.push(new Uint8Array(b.buffer));
  };
  const shb = new DataView(new ArrayBuffer(16));
  shb.setUint32(0, 0x1a2b3c4d, le);
  shb.setUint16(4, 1, le);
  shb.setBigInt64(8, -1n, le);
  block(0x0a0d0d0a, new Uint8Array(shb.buffer));
  for (const i of ifaces) {
    const idb = new DataView(new ArrayBuffer(8 + (i.tsresol !== undefined ? 8 + 4 : 0)));
    idb.setUint16(0, i.linkType, le);
    idb.setUint32(4, i.snaplen ?? 0, le);
    if (i.tsresol !== undefined) {
      idb.setUint16(8, 9, le);
      idb.setUint16(10, 1, le);
      idb.setUint8(12, i.tsresol);
      // option end (code 0, length 0) at 16
    }
    block(1, new Uint8Array(idb.buffer));
  }
  for (const r of records) {
    if (opts.simple) {
      const body = new DataView(new ArrayBuffer(4 + r.data.length));
      body.setUint32(0, r.originalLength ?? r.data.length, le);
      new Uint8Array(body.buffer).set(r.data, 4);
      block(3, new Uint8Array(body.buffer));
      continue;
    }
    const iface = ifaces[r.interfaceId ?? 0]!;
    const res = iface.tsresol ?? 6;
    const unit = res & 0x80 ? Math.pow(2, -(res & 0x7f)) : Math.pow(10, -res);
    const ts = BigInt(Math.round(r.time / unit));
    const body = new DataView(new ArrayBuffer(20 + r.data.length));
    body.setUint32(0, r.interfaceId ?? 0, le);
    body.setUint32(4, Number(ts >> 32n), le);
    body.setUint32(8, Number(ts & 0xffffffffn), le);
    body.setUint32(12, r.data.length, le);
    body.setUint32(16, r.originalLength ?? r.data.length, le);
    new Uint8Array(body.buffer).set(r.data, 20);
    block(6, new Uint8Array(body.buffer));
  }
  return concat(blocks);
}

export interface SegmentSpec {
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  payload?: Uint8Array;
}

export function ipv4(src: string, dst: string, protocol: number, payload: Uint8Array): Uint8Array {
  const h = new Uint8Array(20 + payload.length);
  h[0] = 0x45;
  h[2] = h.length >> 8;
  h[3] = h.length & 0xff;
  h[8] = 64;
  h[9] = protocol;
  h.set(src.split('.').map(Number), 12);
  h.set(dst.split('.').map(Number), 16);
  h.set(payload, 20);
  return h;
}

export function ipv6(src: Uint8Array, dst: Uint8Array, next: number, payload: Uint8Array, ext?: Uint8Array): Uint8Array {
  const extLen = ext?.length ?? 0;
  const h = new Uint8Array(40 + extLen + payload.length);
  h[0] = 0x60;
  const plen = extLen + payload.length;
  h[4] = plen >> 8;
  h[5] = plen & 0xff;
  h[6] = ext ? 0 : next;
  h[7] = 64;
  h.set(src, 8);
  h.set(dst, 24);
  if (ext) {
    ext[0] = next;
    h.set(ext, 40);
  }
  h.set(payload, 40 + extLen);
  return h;
}

export function tcp(s: SegmentSpec): Uint8Array {
  const payload = s.payload ?? new Uint8Array(0);
  const h = new DataView(new ArrayBuffer(20 + payload.length));
  h.setUint16(0, s.srcPort ?? 40000);
  h.setUint16(2, s.dstPort ?? 6881);
  h.setUint32(4, (s.seq ?? 0) >>> 0);
  h.setUint32(8, (s.ack ?? 0) >>> 0);
  h.setUint8(12, 5 << 4);
  h.setUint8(13, s.flags ?? 0x18);
  h.setUint16(14, 65535);
  new Uint8Array(h.buffer).set(payload, 20);
  return new Uint8Array(h.buffer);
}

export function udp(srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const h = new DataView(new ArrayBuffer(8 + payload.length));
  h.setUint16(0, srcPort);
  h.setUint16(2, dstPort);
  h.setUint16(4, 8 + payload.length);
  new Uint8Array(h.buffer).set(payload, 8);
  return new Uint8Array(h.buffer);
}

export function ethernet(payload: Uint8Array, ethertype = 0x0800, vlan?: number): Uint8Array {
  const tag = vlan !== undefined ? 4 : 0;
  const h = new Uint8Array(14 + tag + payload.length);
  h.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2], 0);
  if (vlan !== undefined) {
    h.set([0x81, 0x00, (vlan >> 8) & 0x0f, vlan & 0xff], 12);
  }
  h[12 + tag] = ethertype >> 8;
  h[13 + tag] = ethertype & 0xff;
  h.set(payload, 14 + tag);
  return h;
}

/** A TCP segment over IPv4 over Ethernet. */
export function tcpPacket(s: SegmentSpec): Uint8Array {
  return ethernet(ipv4(s.src ?? '10.0.0.1', s.dst ?? '10.0.0.2', 6, tcp(s)));
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
