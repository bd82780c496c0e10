import type { TransportPacket } from '../capture/transport.js';
import { decodeUtpHeader, UtpDirection, UTP_TYPE, type UtpHeader } from '../capture/utp.js';
import type { StreamSink } from '../capture/tcp-reassembly.js';
import { endPeerStream, newPeerStream, type PeerStream } from './peer-stream.js';
import type { TraceContext } from './context.js';
import type { StreamSummary, TraceDirection } from './types.js';

/** One uTP connection: both directions reassembled by sequence number, decoded as peer wire. */
interface UtpConn {
  summary: StreamSummary;
  out: UtpDirection;
  in: UtpDirection;
  peer: PeerStream;
  synSeen: boolean;
}

interface UtpEntry {
  conn: UtpConn;
  dir: TraceDirection;
}

/**
 * uTP connections (BEP 29) by `src>dst#connection_id`. The two sides use
 * different ids: the initiator sends its SYN with id N and then data with
 * N+1, while the responder's packets carry N; so a SYN maps all three. A connection seen
 * mid-way (no SYN) maps its packets' id one way and both neighbours the other.
 */
export class UtpFlows {
  private readonly byId = new Map<string, UtpEntry>();

  constructor(private readonly ctx: TraceContext) {}

  /** A datagram recognised as uTP; false when its header does not decode after all. */
  packet(t: TransportPacket, src: string, dst: string): boolean {
    let h: UtpHeader;
    try {
      h = decodeUtpHeader(t.payload, t.payloadOffset);
    } catch {
      return false;
    }
    this.ctx.countOther('utp.packets');
    let entry = this.byId.get(`${src}>${dst}#${h.connectionId}`);
    if (!entry || (h.type === UTP_TYPE.ST_SYN && entry.conn.synSeen && entry.dir === 'out' && entry.conn.out.offset > 0)) {
      entry = { conn: this.open(src, dst, h), dir: 'out' };
    }
    const { conn, dir } = entry;
    const packet = this.ctx.currentPacket;
    conn.summary.lastTime = this.ctx.now;
    conn[dir === 'out' ? 'in' : 'out'].acknowledged(h.ackNr, packet);
    conn[dir].packet(h, t.payload.subarray(h.payloadStart), packet);
    return true;
  }

  /** The capture ended: flush every connection, in the order they were opened. */
  end(): void {
    const seen = new Set<UtpConn>();
    const packet = this.ctx.currentPacket;
    for (const { conn } of this.byId.values()) {
      if (seen.has(conn)) continue;
      seen.add(conn);
      conn.out.flush(packet);
      conn.in.flush(packet);
      endPeerStream(conn.peer);
    }
  }

  private open(src: string, dst: string, h: UtpHeader): UtpConn {
    const syn = h.type === UTP_TYPE.ST_SYN;
    const summary = this.ctx.newStream('utp', 'peer', src, dst, 'no payload', syn);
    const conn = { summary, synSeen: syn } as UtpConn;
    conn.peer = newPeerStream(this.ctx, summary);
    const sink = (dir: TraceDirection): StreamSink => ({
      data: (offset, bytes, packet) => conn.peer[dir].data(offset, bytes, packet, conn.synSeen),
      gap: (offset, length) => conn.peer[dir].gap(offset, length),
    });
    conn.out = new UtpDirection(sink('out'));
    conn.in = new UtpDirection(sink('in'));
    const id = h.connectionId;
    const out: UtpEntry = { conn, dir: 'out' };
    const back: UtpEntry = { conn, dir: 'in' };
    if (syn) {
      this.byId.set(`${src}>${dst}#${id}`, out);
      this.byId.set(`${src}>${dst}#${(id + 1) & 0xffff}`, out);
      this.byId.set(`${dst}>${src}#${id}`, back);
    } else {
      this.byId.set(`${src}>${dst}#${id}`, out);
      for (const alt of [(id - 1) & 0xffff, (id + 1) & 0xffff]) if (!this.byId.has(`${dst}>${src}#${alt}`)) this.byId.set(`${dst}>${src}#${alt}`, back);
    }
    return conn;
  }
}
