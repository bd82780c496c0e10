import { ethernet, ipv4, tcp, udp, pcapFile, type RecordSpec } from '../capture/build.js';

/** A scripted TCP conversation (and UDP datagrams) turned into a pcap, for engine tests. */
export class Conversation {
  readonly records: RecordSpec[] = [];
  time = 1700000000;
  private seq = { a: 1000, b: 5000 };
  constructor(
    readonly a = { ip: '10.0.0.1', port: 40000 },
    readonly b = { ip: '10.0.0.2', port: 6881 },
  ) {}

  private push(from: 'a' | 'b', seq: number, flags: number, payload: Uint8Array, ack?: number): void {
    const s = from === 'a' ? this.a : this.b;
    const d = from === 'a' ? this.b : this.a;
    this.time += 0.001;
    this.records.push({ time: this.time, data: ethernet(ipv4(s.ip, d.ip, 6, tcp({ srcPort: s.port, dstPort: d.port, seq, ack: ack ?? this.seq[from === 'a' ? 'b' : 'a'], flags, payload }))) });
  }

  handshake(): this {
    this.push('a', this.seq.a - 1, 0x02, new Uint8Array(0), 0);
    this.push('b', this.seq.b - 1, 0x12, new Uint8Array(0), this.seq.a);
    this.push('a', this.seq.a, 0x10, new Uint8Array(0));
    return this;
  }

  /** Send bytes from a side, cut into segments of the given sizes (the rest in one). */
  send(from: 'a' | 'b', bytes: Uint8Array, cuts: number[] = [], opts: { order?: number[]; drop?: number[]; duplicate?: number[] } = {}): this {
    const segs: Array<{ seq: number; payload: Uint8Array }> = [];
    let at = 0;
    for (const n of cuts) {
      if (at >= bytes.length) break;
      segs.push({ seq: this.seq[from] + at, payload: bytes.subarray(at, Math.min(bytes.length, at + n)) });
      at += n;
    }
    if (at < bytes.length) segs.push({ seq: this.seq[from] + at, payload: bytes.subarray(at) });
    const order = opts.order ?? segs.map((_, i) => i);
    for (const i of order) {
      if (opts.drop?.includes(i)) continue;
      this.push(from, segs[i]!.seq >>> 0, 0x18, segs[i]!.payload);
      if (opts.duplicate?.includes(i)) this.push(from, segs[i]!.seq >>> 0, 0x18, segs[i]!.payload);
    }
    this.seq[from] += bytes.length;
    return this;
  }

  /** A pure ACK from a side for everything the other side sent. */
  ack(from: 'a' | 'b'): this {
    this.push(from, this.seq[from], 0x10, new Uint8Array(0));
    return this;
  }

  datagram(from: { ip: string; port: number }, to: { ip: string; port: number }, payload: Uint8Array, dt = 0.001): this {
    this.time += dt;
    this.records.push({ time: this.time, data: ethernet(ipv4(from.ip, to.ip, 17, udp(from.port, to.port, payload))) });
    return this;
  }

  pcap(): Uint8Array {
    return pcapFile(1, this.records);
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
